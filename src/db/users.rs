//! People who log in (users) and programs that call the API (API users).

use super::{Db, DbResult, on_pool};
use crate::domain::Timestamp;

/// How many users exist; zero means a first start.
pub(crate) async fn count_users(db: &Db) -> DbResult<i64> {
    Ok(
        on_pool!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?),
    )
}

pub(crate) async fn insert_user(
    db: &Db,
    username: &str,
    password_hash: &str,
    role: &str,
) -> DbResult<i64> {
    let now = Timestamp::now();
    Ok(on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, password_hash, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role)
    .bind(now)
    .fetch_one(pool)
    .await?))
}

/// An API user's stored credentials.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ApiUserRow {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    pub role: String,
}

pub(crate) async fn insert_api_user(
    db: &Db,
    name: &str,
    token_hash: &str,
    role: &str,
) -> DbResult<i64> {
    let now = Timestamp::now();
    Ok(on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "INSERT INTO api_users (name, token_hash, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(name)
    .bind(token_hash)
    .bind(role)
    .bind(now)
    .fetch_one(pool)
    .await?))
}

pub(crate) async fn api_user_by_name(db: &Db, name: &str) -> DbResult<Option<ApiUserRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, ApiUserRow>(
        "SELECT id, name, token_hash, role FROM api_users WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?))
}
