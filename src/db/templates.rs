//! Templates for campaigns and transactional mail.

use super::{BeginWrite as _, Db, DbError, DbResult, on_pool};
use crate::domain::{TemplateType, Timestamp};

/// The columns of a row, as a literal so static queries can be built with `concat!`.
macro_rules! template_columns {
    () => {
        "id, name, type, subject, body, is_default, created_at, updated_at"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Template {
    pub id: i64,
    pub name: String,
    #[sqlx(rename = "type", try_from = "String")]
    pub template_type: TemplateType,
    pub subject: String,
    pub body: String,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What an editor sets on a template.
#[derive(Debug, Clone)]
pub(crate) struct TemplateFields {
    pub name: String,
    pub template_type: TemplateType,
    pub subject: String,
    pub body: String,
}

pub(crate) async fn all(db: &Db) -> DbResult<Vec<Template>> {
    let sql: &str = concat!(
        "SELECT ",
        template_columns!(),
        " FROM templates ORDER BY id"
    );
    on_pool!(db, pool => sqlx::query_as::<_, Template>(sql)
        .fetch_all(pool).await.map_err(DbError::from))
}

pub(crate) async fn get(db: &Db, id: i64) -> DbResult<Option<Template>> {
    let sql: &str = concat!(
        "SELECT ",
        template_columns!(),
        " FROM templates WHERE id = $1"
    );
    on_pool!(db, pool => sqlx::query_as::<_, Template>(sql)
        .bind(id).fetch_optional(pool).await.map_err(DbError::from))
}

/// The default template of a type, if there is one.
pub(crate) async fn default_of(db: &Db, kind: TemplateType) -> DbResult<Option<Template>> {
    let sql: &str = concat!(
        "SELECT ",
        template_columns!(),
        " FROM templates WHERE type = $1 ORDER BY is_default DESC, id LIMIT 1"
    );
    on_pool!(db, pool => sqlx::query_as::<_, Template>(sql)
        .bind(kind.as_str()).fetch_optional(pool).await.map_err(DbError::from))
}

pub(crate) async fn insert(
    db: &Db,
    fields: &TemplateFields,
    is_default: bool,
) -> DbResult<Template> {
    let now = Timestamp::now();
    let sql: &str = concat!(
        "INSERT INTO templates (name, type, subject, body, is_default, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
        template_columns!()
    );
    on_pool!(db, pool => sqlx::query_as::<_, Template>(sql)
        .bind(&fields.name)
        .bind(fields.template_type.as_str())
        .bind(&fields.subject)
        .bind(&fields.body)
        .bind(is_default)
        .bind(now)
        .fetch_one(pool).await.map_err(DbError::from))
}

pub(crate) async fn update(
    db: &Db,
    id: i64,
    fields: &TemplateFields,
) -> DbResult<Option<Template>> {
    let sql: &str = concat!(
        "UPDATE templates SET name = $1, type = $2, subject = $3, body = $4, updated_at = $5 \
         WHERE id = $6 RETURNING ",
        template_columns!()
    );
    on_pool!(db, pool => sqlx::query_as::<_, Template>(sql)
        .bind(&fields.name)
        .bind(fields.template_type.as_str())
        .bind(&fields.subject)
        .bind(&fields.body)
        .bind(Timestamp::now())
        .bind(id)
        .fetch_optional(pool).await.map_err(DbError::from))
}

/// Makes `id` the one default campaign template. False when there is no such template.
pub(crate) async fn set_default(db: &Db, id: i64) -> DbResult<bool> {
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query("UPDATE templates SET is_default = $1 WHERE type = 'campaign' AND is_default = $2")
            .bind(false)
            .bind(true)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "UPDATE templates SET is_default = $1, updated_at = $2 WHERE id = $3 AND type = 'campaign'",
        )
        .bind(true)
        .bind(Timestamp::now())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    })
}

pub(crate) async fn delete(db: &Db, id: i64) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query("DELETE FROM templates WHERE id = $1")
        .bind(id).execute(pool).await?.rows_affected());
    Ok(n > 0)
}

pub(crate) async fn count(db: &Db) -> DbResult<i64> {
    on_pool!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM templates")
        .fetch_one(pool).await.map_err(DbError::from))
}
