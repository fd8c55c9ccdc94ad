//! The audit log of staff's changes.

use serde_json::Value;
use sqlx::types::Json;

use super::{Db, DbResult, on_pool};
use crate::domain::Timestamp;

/// One recorded change.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct Entry {
    pub(crate) id: i64,
    pub(crate) at: Timestamp,
    pub(crate) actor_kind: String,
    pub(crate) actor_id: Option<i64>,
    pub(crate) actor_name: String,
    pub(crate) ip: Option<String>,
    pub(crate) action: String,
    pub(crate) object_kind: String,
    pub(crate) object_id: Option<i64>,
    pub(crate) before: Option<Json<Value>>,
    pub(crate) after: Option<Json<Value>>,
}

/// A change to record.
#[derive(Debug)]
pub(crate) struct NewEntry<'a> {
    pub(crate) actor_kind: &'a str,
    pub(crate) actor_id: Option<i64>,
    pub(crate) actor_name: &'a str,
    pub(crate) ip: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) object_kind: &'a str,
    pub(crate) object_id: Option<i64>,
    pub(crate) before: Option<&'a Value>,
    pub(crate) after: Option<&'a Value>,
}

pub(crate) async fn insert(db: &Db, entry: &NewEntry<'_>, at: Timestamp) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO audit_log (at, actor_kind, actor_id, actor_name, ip, action, object_kind, \
         object_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(at)
    .bind(entry.actor_kind)
    .bind(entry.actor_id)
    .bind(entry.actor_name)
    .bind(entry.ip)
    .bind(entry.action)
    .bind(entry.object_kind)
    .bind(entry.object_id)
    .bind(entry.before.map(Json))
    .bind(entry.after.map(Json))
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditQuery {
    pub(crate) actor: Option<String>,
    pub(crate) object_kind: Option<String>,
    pub(crate) object_id: Option<i64>,
    pub(crate) from: Option<Timestamp>,
    pub(crate) to: Option<Timestamp>,
    pub(crate) limit: i64,
    pub(crate) offset: i64,
}

/// The entries matching `query`, and how many match in all.
pub(crate) async fn search(db: &Db, query: &AuditQuery) -> DbResult<(Vec<Entry>, i64)> {
    // Every condition is always present and switched off by a NULL parameter, so the text
    // is static and the same on both databases.
    macro_rules! matching {
        () => {
            " WHERE ($1 IS NULL OR actor_name = $1) AND ($2 IS NULL OR object_kind = $2) \
             AND ($3 IS NULL OR object_id = $3) AND ($4 IS NULL OR at >= $4) \
             AND ($5 IS NULL OR at < $5)"
        };
    }
    let list: &str = concat!(
        "SELECT id, at, actor_kind, actor_id, actor_name, ip, action, object_kind, object_id, \
         before, after FROM audit_log",
        matching!(),
        " ORDER BY id DESC LIMIT $6 OFFSET $7"
    );
    let count: &str = concat!("SELECT COUNT(*) FROM audit_log", matching!());
    on_pool!(db, pool => {
        let entries = sqlx::query_as::<_, Entry>(list)
            .bind(&query.actor)
            .bind(&query.object_kind)
            .bind(query.object_id)
            .bind(query.from)
            .bind(query.to)
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(count)
            .bind(&query.actor)
            .bind(&query.object_kind)
            .bind(query.object_id)
            .bind(query.from)
            .bind(query.to)
            .fetch_one(pool)
            .await?;
        Ok((entries, total))
    })
}
