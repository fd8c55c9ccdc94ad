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

/// A user as the accounts page lists them.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct UserRow {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) role: String,
    pub(crate) status: String,
    pub(crate) must_change_password: bool,
    pub(crate) second_factor: bool,
    /// Failed sign-ins on the account in the window the caller asked about.
    pub(crate) recent_failures: i64,
    /// The latest use of any of the user's sessions.
    pub(crate) last_seen_at: Option<Timestamp>,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
}

/// Every user, by name, with failed sign-ins since `since`.
pub(crate) async fn all_users(db: &Db, since: Timestamp) -> DbResult<Vec<UserRow>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, UserRow>(
        "SELECT u.id, u.username, u.role, u.status, u.must_change_password, \
         u.totp_secret IS NOT NULL AS second_factor, \
         (SELECT COUNT(*) FROM login_failures f WHERE f.username = u.username AND f.at >= $1) \
           AS recent_failures, \
         (SELECT MAX(s.last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen_at, \
         u.created_at, u.updated_at FROM users u ORDER BY u.username",
    )
    .bind(since)
    .fetch_all(pool)
    .await?))
}

/// Changes a user's role and status; false when there is no such user.
pub(crate) async fn update_user(db: &Db, id: i64, role: &str, status: &str) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE users SET role = $1, status = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(role)
    .bind(status)
    .bind(Timestamp::now())
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(n > 0)
}

pub(crate) async fn delete_user(db: &Db, id: i64) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// Enabled admins other than `except`.
pub(crate) async fn other_enabled_admins(db: &Db, except: i64) -> DbResult<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND status = 'enabled' AND id <> $1",
    )
    .bind(except)
    .fetch_one(pool)
    .await?))
}

/// An API user as the accounts page lists them; never the token's hash.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct ApiUserSummary {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) created_at: Timestamp,
}

pub(crate) async fn all_api_users(db: &Db) -> DbResult<Vec<ApiUserSummary>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, ApiUserSummary>(
        "SELECT id, name, role, created_at FROM api_users ORDER BY name",
    )
    .fetch_all(pool)
    .await?))
}

pub(crate) async fn delete_api_user(db: &Db, id: i64) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query("DELETE FROM api_users WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// The user must choose a new password at their next sign-in.
pub(crate) async fn require_password_change(db: &Db, id: i64) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query("UPDATE users SET must_change_password = $1 WHERE id = $2")
        .bind(true)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(())
}
