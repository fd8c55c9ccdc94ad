//! The desk's sessions and failed sign-ins. Both live in the database so that every node
//! knows who is signed in and who is locked out.

use super::{BeginWrite as _, Db, DbResult, on_pool};
use crate::domain::Timestamp;

/// A user as the sign-in sees them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Account {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) password_hash: String,
    pub(crate) role: String,
    pub(crate) status: String,
    pub(crate) must_change_password: bool,
    pub(crate) language: Option<String>,
    /// The enrolled TOTP secret, base32.
    pub(crate) totp_secret: Option<String>,
    /// Limited to the lists of its `user_lists` rows.
    pub(crate) lists_limited: bool,
}

/// An account's columns, as a literal so static queries can be built with `concat!`.
macro_rules! account_columns {
    () => {
        "u.id, u.username, u.password_hash, u.role, u.status, u.must_change_password, \
         u.language, u.totp_secret, u.lists_limited"
    };
}

pub(crate) async fn account_by_id(db: &Db, id: i64) -> DbResult<Option<Account>> {
    let sql: &str = concat!(
        "SELECT ",
        account_columns!(),
        " FROM users u WHERE u.id = $1"
    );
    Ok(on_pool!(db, pool => sqlx::query_as::<_, Account>(sql)
        .bind(id)
        .fetch_optional(pool)
        .await?))
}

pub(crate) async fn account_by_name(db: &Db, username: &str) -> DbResult<Option<Account>> {
    let sql: &str = concat!(
        "SELECT ",
        account_columns!(),
        " FROM users u WHERE u.username = $1"
    );
    Ok(on_pool!(db, pool => sqlx::query_as::<_, Account>(sql)
        .bind(username)
        .fetch_optional(pool)
        .await?))
}

/// A signed-in browser, with its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Found {
    #[sqlx(flatten)]
    pub(crate) account: Account,
    pub(crate) csrf_token: String,
    pub(crate) created_at: Timestamp,
    pub(crate) last_seen_at: Timestamp,
}

/// A new session's row.
#[derive(Debug)]
pub(crate) struct NewSession<'a> {
    pub(crate) id_hash: &'a str,
    pub(crate) user_id: i64,
    pub(crate) csrf_token: &'a str,
    pub(crate) ip: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
}

pub(crate) async fn insert(db: &Db, session: &NewSession<'_>, now: Timestamp) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, ip, user_agent, created_at, \
         last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(session.id_hash)
    .bind(session.user_id)
    .bind(session.csrf_token)
    .bind(session.ip)
    .bind(session.user_agent)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// The session and its user, whatever the user's status (the caller checks it).
pub(crate) async fn find(db: &Db, id_hash: &str) -> DbResult<Option<Found>> {
    let sql: &str = concat!(
        "SELECT ",
        account_columns!(),
        ", s.csrf_token, s.created_at, s.last_seen_at \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1"
    );
    Ok(on_pool!(db, pool => sqlx::query_as::<_, Found>(sql)
        .bind(id_hash)
        .fetch_optional(pool)
        .await?))
}

/// Marks the session used at `now`. Written at most once a minute per session (the caller
/// checks), so reading pages does not turn into a write per request.
pub(crate) async fn touch(db: &Db, id_hash: &str, now: Timestamp) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now)
        .bind(id_hash)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(())
}

pub(crate) async fn delete(db: &Db, id_hash: &str) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(())
}

/// Ends every session of a user; returns how many there were.
pub(crate) async fn delete_all_of(db: &Db, user_id: i64) -> DbResult<u64> {
    Ok(
        on_pool!(db, pool => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await?
        .rows_affected()),
    )
}

/// Drops sessions idle since `idle_before` or started before `started_before`.
pub(crate) async fn expire(
    db: &Db,
    idle_before: Timestamp,
    started_before: Timestamp,
) -> DbResult<u64> {
    Ok(on_pool!(db, pool => sqlx::query(
        "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2",
    )
    .bind(idle_before)
    .bind(started_before)
    .execute(pool)
    .await?
    .rows_affected()))
}

/// Records a failed (or not yet checked) sign-in; returns its row, to forget it if it
/// succeeds.
pub(crate) async fn record_failure(
    db: &Db,
    username: &str,
    ip: &str,
    now: Timestamp,
) -> DbResult<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "INSERT INTO login_failures (username, ip, at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(username)
    .bind(ip)
    .bind(now)
    .fetch_one(pool)
    .await?))
}

/// Forgets one recorded attempt: it succeeded.
pub(crate) async fn forget_failure(db: &Db, id: i64) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query("DELETE FROM login_failures WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(())
}

/// Failed sign-ins since `since`: for the account, for the address, and the latest of the
/// account's.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Failures {
    pub(crate) account: i64,
    pub(crate) address: i64,
    pub(crate) last_for_account: Option<Timestamp>,
}

pub(crate) async fn failures(
    db: &Db,
    username: &str,
    ip: &str,
    since: Timestamp,
) -> DbResult<Failures> {
    on_pool!(db, pool => {
        let (account, last_for_account): (i64, Option<Timestamp>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(at) FROM login_failures WHERE username = $1 AND at >= $2",
        )
        .bind(username)
        .bind(since)
        .fetch_one(pool)
        .await?;
        let address: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM login_failures WHERE ip = $1 AND at >= $2",
        )
        .bind(ip)
        .bind(since)
        .fetch_one(pool)
        .await?;
        Ok(Failures { account, address, last_for_account })
    })
}

/// Forgets an account's failed sign-ins: after a success, or an admin lifting a lockout.
pub(crate) async fn clear_failures(db: &Db, username: &str) -> DbResult<u64> {
    Ok(
        on_pool!(db, pool => sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(pool)
        .await?
        .rows_affected()),
    )
}

/// Drops failures older than any window that counts them.
pub(crate) async fn forget_failures(db: &Db, before: Timestamp) -> DbResult<u64> {
    Ok(
        on_pool!(db, pool => sqlx::query("DELETE FROM login_failures WHERE at < $1")
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected()),
    )
}

pub(crate) async fn set_password(
    db: &Db,
    user_id: i64,
    password_hash: &str,
    must_change: bool,
) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(password_hash)
    .bind(must_change)
    .bind(Timestamp::now())
    .bind(user_id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(n > 0)
}

pub(crate) async fn set_language(db: &Db, user_id: i64, language: &str) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
        .bind(language)
        .bind(user_id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(())
}

/// Keeps a secret being enrolled until its first code confirms it.
pub(crate) async fn set_totp_pending(db: &Db, user_id: i64, secret: &str) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
        .bind(secret)
        .bind(user_id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(())
}

pub(crate) async fn totp_pending(db: &Db, user_id: i64) -> DbResult<Option<String>> {
    Ok(
        on_pool!(db, pool => sqlx::query_scalar::<_, Option<String>>(
        "SELECT totp_pending FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?)
        .flatten(),
    )
}

/// Makes the pending secret the user's second factor, the step its first code was accepted
/// for the last one used, and `code_hashes` their recovery codes, replacing any earlier.
pub(crate) async fn enable_totp(
    db: &Db,
    user_id: i64,
    step: i64,
    code_hashes: &[String],
) -> DbResult<bool> {
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let n = sqlx::query(
            "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, \
             totp_last_step = $1, updated_at = $2 WHERE id = $3 AND totp_pending IS NOT NULL",
        )
        .bind(step)
        .bind(Timestamp::now())
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for hash in code_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// Removes the second factor and its recovery codes.
pub(crate) async fn disable_totp(db: &Db, user_id: i64) -> DbResult<()> {
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = 0, \
             updated_at = $1 WHERE id = $2",
        )
        .bind(Timestamp::now())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    })
}

/// Accepts a code's time step once: false when this step or a later one was used already
/// (a replayed code, or one from another node a moment before).
pub(crate) async fn use_totp_step(db: &Db, user_id: i64, step: i64) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
    )
    .bind(step)
    .bind(user_id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(n == 1)
}

/// Spends a recovery code; false when it is not one of the user's unused codes.
pub(crate) async fn use_recovery_code(db: &Db, user_id: i64, code_hash: &str) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 \
         WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(Timestamp::now())
    .bind(user_id)
    .bind(code_hash)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(n == 1)
}

/// Recovery codes not used yet.
pub(crate) async fn recovery_codes_left(db: &Db, user_id: i64) -> DbResult<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?))
}
