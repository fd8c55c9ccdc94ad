//! Lists and their subscriber counts.

use serde_json::{Map, Value};
use sqlx::types::Json;

use super::{Backend, Db, DbError, DbResult, on_pool, placeholders};
use crate::domain::{Lang, List, ListName, ListStatus, ListType, OptinKind, Tags, Timestamp};

/// The columns of a row, as a literal so static queries can be built with `concat!`.
macro_rules! list_columns {
    () => {
        "lists.id, lists.uuid, lists.name, lists.type, lists.optin, lists.status, lists.tags, \
     lists.description, lists.language, lists.created_at, lists.updated_at"
    };
}
const LIST_COLUMNS: &str = list_columns!();

#[derive(sqlx::FromRow)]
pub(crate) struct ListRow {
    id: i64,
    uuid: uuid::Uuid,
    name: String,
    #[sqlx(rename = "type")]
    list_type: String,
    optin: String,
    status: String,
    tags: Json<Vec<String>>,
    description: String,
    language: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl ListRow {
    pub(crate) fn into_list(self) -> DbResult<List> {
        let decode = |e: crate::domain::Invalid| DbError::Other(sqlx::Error::Decode(e.into()));
        Ok(List {
            id: self.id,
            uuid: self.uuid,
            name: self.name,
            list_type: self.list_type.parse().map_err(decode)?,
            optin: self.optin.parse().map_err(decode)?,
            status: self.status.parse().map_err(decode)?,
            tags: self.tags.0,
            description: self.description,
            language: self
                .language
                .map(|l| l.parse())
                .transpose()
                .map_err(decode)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A list with its subscription counts, as the list endpoints show it.
#[derive(Debug, Clone)]
pub(crate) struct ListWithCounts {
    pub list: List,
    pub subscriber_count: i64,
    pub statuses: Map<String, Value>,
}

#[derive(sqlx::FromRow)]
struct CountRow {
    list_id: i64,
    status: String,
    n: i64,
}

/// The fields of a list an editor sets.
#[derive(Debug, Clone)]
pub(crate) struct ListFields {
    pub name: ListName,
    pub list_type: ListType,
    pub optin: OptinKind,
    pub status: ListStatus,
    pub tags: Tags,
    pub description: String,
    pub language: Option<Lang>,
}

/// How to search lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    /// Only these lists (those a caller limited to some lists may see); `None`: every list.
    pub ids: Option<Vec<i64>>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    pub tag: Option<String>,
    pub status: Option<ListStatus>,
    pub order_by: ListOrder,
    pub descending: bool,
    pub limit: Option<i64>,
    pub offset: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum ListOrder {
    #[default]
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

impl ListOrder {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim_start_matches("lists.") {
            "id" => Some(Self::Id),
            "name" => Some(Self::Name),
            "created_at" => Some(Self::CreatedAt),
            "updated_at" => Some(Self::UpdatedAt),
            _ => None,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Self::Id => "lists.id",
            Self::Name => "lists.name",
            Self::CreatedAt => "lists.created_at",
            Self::UpdatedAt => "lists.updated_at",
        }
    }
}

/// Lists matching `query`, and how many match in all.
pub(crate) async fn query(db: &Db, query: &ListQuery) -> DbResult<(Vec<List>, i64)> {
    let mut conditions = vec!["1 = 1".to_owned()];
    let mut texts: Vec<String> = Vec::new();
    if let Some(name) = &query.name {
        texts.push(format!("%{}%", name.to_lowercase()));
        conditions.push(format!("lower(lists.name) LIKE ${}", texts.len()));
    }
    if let Some(status) = query.status {
        texts.push(status.as_str().to_owned());
        conditions.push(format!("lists.status = ${}", texts.len()));
    }
    if let Some(tag) = &query.tag {
        texts.push(tag.clone());
        // Tags are a JSON array on both backends; each has its own way to look inside one.
        conditions.push(match db.backend() {
            Backend::Sqlite => {
                format!(
                    "EXISTS (SELECT 1 FROM json_each(lists.tags) WHERE value = ${})",
                    texts.len()
                )
            }
            Backend::Postgres => format!("lists.tags ? ${}", texts.len()),
        });
    }
    if let Some(ids) = &query.ids {
        // IDs are numbers: written into the SQL, they need no placeholders of their own.
        conditions.push(if ids.is_empty() {
            "1 = 0".to_owned()
        } else {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!("lists.id IN ({})", ids.join(", "))
        });
    }
    let where_sql = conditions.join(" AND ");
    let count_sql = format!("SELECT COUNT(*) FROM lists WHERE {where_sql}");
    let order = if query.descending { "DESC" } else { "ASC" };
    let limit = query.limit.unwrap_or(i64::MAX);
    let select_sql = format!(
        "SELECT {LIST_COLUMNS} FROM lists WHERE {where_sql} ORDER BY {} {order}, lists.id {order} \
         LIMIT ${} OFFSET ${}",
        query.order_by.sql(),
        texts.len() + 1,
        texts.len() + 2
    );
    let (rows, total) = on_pool!(db, pool => {
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
        let mut select = sqlx::query_as::<_, ListRow>(sqlx::AssertSqlSafe(select_sql));
        for text in &texts {
            count = count.bind(text.clone());
            select = select.bind(text.clone());
        }
        let total = count.fetch_one(pool).await?;
        let rows = select.bind(limit).bind(query.offset).fetch_all(pool).await?;
        (rows, total)
    });
    let lists = rows
        .into_iter()
        .map(ListRow::into_list)
        .collect::<DbResult<Vec<_>>>()?;
    Ok((lists, total))
}

/// Subscription counts per list and status, for the given lists.
pub(crate) async fn with_counts(db: &Db, lists: Vec<List>) -> DbResult<Vec<ListWithCounts>> {
    if lists.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = lists.iter().map(|l| l.id).collect();
    let sql = format!(
        "SELECT list_id, status, CAST(SUM(n) AS BIGINT) AS n FROM ( \
             SELECT list_id, status, n FROM subscription_counts \
             UNION ALL SELECT list_id, status, n FROM subscription_count_changes \
         ) c WHERE list_id IN ({}) GROUP BY list_id, status HAVING SUM(n) <> 0",
        placeholders(1, ids.len())
    );
    let counts: Vec<CountRow> = on_pool!(db, pool => {
        let mut q = sqlx::query_as::<_, CountRow>(sqlx::AssertSqlSafe(sql));
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_all(pool).await?
    });
    Ok(lists
        .into_iter()
        .map(|list| {
            let mut statuses = Map::new();
            let mut subscriber_count = 0;
            for c in counts.iter().filter(|c| c.list_id == list.id) {
                subscriber_count += c.n;
                statuses.insert(c.status.clone(), Value::from(c.n));
            }
            ListWithCounts {
                list,
                subscriber_count,
                statuses,
            }
        })
        .collect())
}

/// The lists a reader may pick on a signup form: public and active, by name.
pub(crate) async fn public(db: &Db) -> DbResult<Vec<List>> {
    let sql: &str = concat!(
        "SELECT ",
        list_columns!(),
        " FROM lists WHERE type = 'public' AND status = 'active' \
         ORDER BY name, id"
    );
    let rows = on_pool!(db, pool => sqlx::query_as::<_, ListRow>(sql)
        .fetch_all(pool)
        .await?);
    rows.into_iter().map(ListRow::into_list).collect()
}

/// The public, active lists with these UUIDs; others are absent from the result.
pub(crate) async fn public_by_uuids(db: &Db, uuids: &[uuid::Uuid]) -> DbResult<Vec<List>> {
    Ok(public(db)
        .await?
        .into_iter()
        .filter(|l| uuids.contains(&l.uuid))
        .collect())
}

pub(crate) async fn get(db: &Db, id: i64) -> DbResult<Option<List>> {
    let sql: &str = concat!("SELECT ", list_columns!(), " FROM lists WHERE id = $1");
    let row = on_pool!(db, pool => sqlx::query_as::<_, ListRow>(sql)
        .bind(id)
        .fetch_optional(pool)
        .await?);
    row.map(ListRow::into_list).transpose()
}

/// The lists with these IDs; IDs that name no list are simply absent from the result.
pub(crate) async fn get_many(db: &Db, ids: &[i64]) -> DbResult<Vec<List>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM lists WHERE id IN ({}) ORDER BY id",
        placeholders(1, ids.len())
    );
    let rows = on_pool!(db, pool => {
        let mut q = sqlx::query_as::<_, ListRow>(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(pool).await?
    });
    rows.into_iter().map(ListRow::into_list).collect()
}

pub(crate) async fn insert(db: &Db, fields: &ListFields) -> DbResult<List> {
    let now = Timestamp::now();
    let sql: &str = concat!(
        "INSERT INTO lists (uuid, name, type, optin, status, tags, description, language, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $8, $8) RETURNING ",
        list_columns!()
    );
    let row = on_pool!(db, pool => sqlx::query_as::<_, ListRow>(sql)
        .bind(uuid::Uuid::new_v4())
        .bind(fields.name.as_str())
        .bind(fields.list_type.as_str())
        .bind(fields.optin.as_str())
        .bind(fields.status.as_str())
        .bind(Json(fields.tags.as_slice()))
        .bind(&fields.description)
        .bind(now)
        .bind(fields.language.map(Lang::as_str))
        .fetch_one(pool)
        .await?);
    row.into_list()
}

pub(crate) async fn update(db: &Db, id: i64, fields: &ListFields) -> DbResult<Option<List>> {
    let sql: &str = concat!(
        "UPDATE lists SET name = $2, type = $3, optin = $4, status = $5, tags = $6, \
         description = $7, updated_at = $8, language = $9 WHERE id = $1 RETURNING ",
        list_columns!()
    );
    let row = on_pool!(db, pool => sqlx::query_as::<_, ListRow>(sql)
        .bind(id)
        .bind(fields.name.as_str())
        .bind(fields.list_type.as_str())
        .bind(fields.optin.as_str())
        .bind(fields.status.as_str())
        .bind(Json(fields.tags.as_slice()))
        .bind(&fields.description)
        .bind(Timestamp::now())
        .bind(fields.language.map(Lang::as_str))
        .fetch_optional(pool)
        .await?);
    row.map(ListRow::into_list).transpose()
}

/// Deletes lists and, by cascade, their subscriptions; returns how many lists went.
pub(crate) async fn delete(db: &Db, ids: &[i64]) -> DbResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "DELETE FROM lists WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    let done = on_pool!(db, pool => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        q.execute(pool).await?.rows_affected()
    });
    Ok(done)
}
