//! People who log in (users) and programs that call the API (API users).

use super::{BeginWrite as _, Db, DbResult, on_pool};
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
    /// Limited to the lists of its `api_user_lists` rows.
    pub lists_limited: bool,
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
        "SELECT id, name, token_hash, role, lists_limited FROM api_users WHERE name = $1",
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

/// What a change to a user did, when the desk must keep an enabled admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeptAdmin {
    Done,
    NoSuchUser,
    /// It would have left no enabled admin; nothing changed.
    LastAdmin,
}

/// Changes a user's role and status (`Some`), or deletes them (`None`), unless that leaves
/// no enabled admin. One transaction that first locks the enabled admins' rows, in order
/// (SQLite has one writer), so two admins demoting each other at the same moment cannot
/// both succeed.
pub(crate) async fn change_keeping_an_admin(
    db: &Db,
    id: i64,
    change: Option<(&str, &str)>,
) -> DbResult<KeptAdmin> {
    let lock = match db.backend() {
        super::Backend::Postgres => " FOR UPDATE",
        super::Backend::Sqlite => "",
    };
    let admins_sql = format!(
        "SELECT id FROM users WHERE role = 'admin' AND status = 'enabled' ORDER BY id{lock}"
    );
    let user_sql = format!("SELECT role, status FROM users WHERE id = $1{lock}");
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let admins: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(admins_sql))
            .fetch_all(&mut *tx)
            .await?;
        let Some((role, status)): Option<(String, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(user_sql))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(KeptAdmin::NoSuchUser);
        };
        let is_admin = role == "admin" && status == "enabled";
        let stays_admin = change.is_some_and(|(role, status)| role == "admin" && status == "enabled");
        if is_admin && !stays_admin && !admins.iter().any(|a| *a != id) {
            return Ok(KeptAdmin::LastAdmin);
        }
        match change {
            Some((role, status)) => {
                sqlx::query("UPDATE users SET role = $1, status = $2, updated_at = $3 WHERE id = $4")
                    .bind(role)
                    .bind(status)
                    .bind(Timestamp::now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(KeptAdmin::Done)
    })
}

/// An API user as the accounts page lists them; never the token's hash.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct ApiUserSummary {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) created_at: Timestamp,
    #[serde(skip)]
    pub(crate) lists_limited: bool,
}

pub(crate) async fn all_api_users(db: &Db) -> DbResult<Vec<ApiUserSummary>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, ApiUserSummary>(
        "SELECT id, name, role, created_at, lists_limited FROM api_users ORDER BY name",
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

/// Whose list limits: a user's or an API user's. Both kinds keep them the same way, in
/// tables of their own so that deleting the account deletes its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Account {
    User(i64),
    Api(i64),
}

impl Account {
    /// The account table, its limits table and that table's account column.
    fn tables(self) -> (&'static str, &'static str, &'static str, i64) {
        match self {
            Account::User(id) => ("users", "user_lists", "user_id", id),
            Account::Api(id) => ("api_users", "api_user_lists", "api_user_id", id),
        }
    }
}

/// One list an account is limited to, and `get` or `manage` on it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub(crate) struct ListLimit {
    pub(crate) list_id: i64,
    pub(crate) access: String,
}

/// The lists a limited `account` reaches, with its access to each.
pub(crate) async fn list_limits(db: &Db, account: Account) -> DbResult<Vec<ListLimit>> {
    let (_, limits, column, id) = account.tables();
    let sql = format!("SELECT list_id, access FROM {limits} WHERE {column} = $1 ORDER BY list_id");
    Ok(
        on_pool!(db, pool => sqlx::query_as::<_, ListLimit>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(pool)
        .await?),
    )
}

/// Every limited account's limits of one kind, by account ID: what the accounts page shows.
pub(crate) async fn all_list_limits(
    db: &Db,
    api: bool,
) -> DbResult<std::collections::HashMap<i64, Vec<ListLimit>>> {
    let (accounts, limits, column, _) = if api {
        Account::Api(0)
    } else {
        Account::User(0)
    }
    .tables();
    let sql = format!(
        "SELECT a.id, l.list_id, l.access FROM {accounts} a \
         LEFT JOIN {limits} l ON l.{column} = a.id WHERE a.lists_limited = $1 \
         ORDER BY a.id, l.list_id"
    );
    let rows: Vec<(i64, Option<i64>, Option<String>)> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(true).fetch_all(pool).await?
    });
    let mut by_account: std::collections::HashMap<i64, Vec<ListLimit>> =
        std::collections::HashMap::new();
    for (id, list_id, access) in rows {
        let entry = by_account.entry(id).or_default();
        if let (Some(list_id), Some(access)) = (list_id, access) {
            entry.push(ListLimit { list_id, access });
        }
    }
    Ok(by_account)
}

/// Limits `account` to `limits`, or with `None` lets it reach every list; in one
/// transaction, so no request sees half of the change.
pub(crate) async fn set_list_limits(
    db: &Db,
    account: Account,
    limits: Option<&[ListLimit]>,
) -> DbResult<()> {
    let (accounts, table, column, id) = account.tables();
    let flag_sql =
        format!("UPDATE {accounts} SET lists_limited = $1, updated_at = $2 WHERE id = $3");
    let clear_sql = format!("DELETE FROM {table} WHERE {column} = $1");
    let insert_sql = format!("INSERT INTO {table} ({column}, list_id, access) VALUES ($1, $2, $3)");
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query(sqlx::AssertSqlSafe(flag_sql))
            .bind(limits.is_some())
            .bind(Timestamp::now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(clear_sql.clone()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for limit in limits.unwrap_or_default() {
            sqlx::query(sqlx::AssertSqlSafe(insert_sql.clone()))
                .bind(id)
                .bind(limit.list_id)
                .bind(&limit.access)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}
