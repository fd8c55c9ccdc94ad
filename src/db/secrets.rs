//! Secrets shared by every node, created once.

use super::{Db, DbError, DbResult, on_pool};
use crate::domain::Timestamp;

/// The value stored under `name`, storing `generate()` first if there is none. Every node
/// that races here reads the one value that won.
pub async fn get_or_create(
    db: &Db,
    name: &str,
    generate: impl FnOnce() -> String,
) -> DbResult<String> {
    let candidate = generate();
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&candidate)
        .bind(Timestamp::now())
        .execute(pool)
        .await?;
        sqlx::query_scalar::<_, String>("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await
            .map_err(DbError::from)
    })
}
