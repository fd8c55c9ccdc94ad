//! Import runs, their per-row log, and the batch upserts that do the loading.
//!
//! A batch is one transaction: its subscribers, their subscriptions, the log lines of the
//! rows refused since the last batch and the run's counters commit together, so a killed
//! import leaves whole batches and counters that match them. Every write is an upsert keyed
//! by address, so running the same file again converges on the same rows.

use sqlx::types::Json;

use super::{BeginWrite as _, Db, DbResult, db_err, on_pool, placeholders};
use crate::domain::{Attribs, EmailAddress, SubscriberName, SubscriptionStatus, Timestamp};

/// Rows per `INSERT … VALUES` statement on SQLite; 7 parameters a row stays far below its
/// 32,766-parameter limit while amortising the statement overhead.
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    Subscribe,
    Blocklist,
}

impl ImportMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Subscribe => "subscribe",
            ImportMode::Blocklist => "blocklist",
        }
    }
}

/// An import run as recorded.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ImportRun {
    pub id: i64,
    pub name: String,
    pub mode: String,
    pub status: String,
    pub overwrite: bool,
    #[serde(skip)]
    pub list_ids: Json<Vec<i64>>,
    pub total: i64,
    pub imported: i64,
    pub failed: i64,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const RUN_COLUMNS: &str = "id, name, mode, status, overwrite, list_ids, total, imported, failed, \
                           error, created_at, updated_at";

/// A valid row, ready to load.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub email: EmailAddress,
    pub name: SubscriberName,
    pub attribs: Attribs,
}

/// A refused row: where it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

/// What a batch does besides inserting subscribers.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    pub mode: ImportMode,
    pub overwrite: bool,
    /// The lists to subscribe to, each with the status new subscriptions take.
    pub subscriptions: Vec<(i64, SubscriptionStatus)>,
}

pub async fn start_run(
    db: &Db,
    name: &str,
    mode: ImportMode,
    overwrite: bool,
    list_ids: &[i64],
) -> DbResult<ImportRun> {
    let now = Timestamp::now();
    let sql = format!(
        "INSERT INTO imports (name, mode, status, overwrite, list_ids, created_at, updated_at) \
         VALUES ($1, $2, 'importing', $3, $4, $5, $5) RETURNING {RUN_COLUMNS}"
    );
    Ok(
        on_pool!(db, pool => sqlx::query_as::<_, ImportRun>(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(mode.as_str())
        .bind(overwrite)
        .bind(Json(list_ids))
        .bind(now)
        .fetch_one(pool)
        .await
        .map_err(db_err)?),
    )
}

/// The most recent run, if any.
pub async fn latest_run(db: &Db) -> DbResult<Option<ImportRun>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM imports ORDER BY id DESC LIMIT 1");
    Ok(
        on_pool!(db, pool => sqlx::query_as::<_, ImportRun>(sqlx::AssertSqlSafe(sql))
        .fetch_optional(pool)
        .await
        .map_err(db_err)?),
    )
}

pub async fn get_run(db: &Db, id: i64) -> DbResult<Option<ImportRun>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM imports WHERE id = $1");
    Ok(
        on_pool!(db, pool => sqlx::query_as::<_, ImportRun>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?),
    )
}

/// Asks a running import to stop after its current batch.
pub async fn request_stop(db: &Db, id: i64) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = 'stopping', updated_at = $2 WHERE id = $1 AND status = 'importing'",
    )
    .bind(id)
    .bind(Timestamp::now())
    .execute(pool)
    .await
    .map_err(db_err)?
    .rows_affected());
    Ok(n == 1)
}

/// Records the end of a run: `finished`, `stopped` or `failed` with `error`.
pub async fn finish_run(
    db: &Db,
    id: i64,
    status: &str,
    total: i64,
    error: Option<&str>,
) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = $2, total = $3, error = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(total)
    .bind(error)
    .bind(Timestamp::now())
    .execute(pool)
    .await
    .map_err(db_err)?
    .rows_affected());
    Ok(())
}

/// Marks runs left `importing` or `stopping` by a process that died as failed.
pub async fn fail_abandoned_runs(db: &Db) -> DbResult<u64> {
    Ok(on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = 'failed', error = 'interrupted: the process running it stopped', \
         updated_at = $1 WHERE status IN ('importing', 'stopping')",
    )
    .bind(Timestamp::now())
    .execute(pool)
    .await
    .map_err(db_err)?
    .rows_affected()))
}

/// Deletes every finished run and its log (listmonk's "clear import").
pub async fn clear_finished_runs(db: &Db) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "DELETE FROM imports WHERE status NOT IN ('importing', 'stopping')",
    )
    .execute(pool)
    .await
    .map_err(db_err)?
    .rows_affected());
    Ok(())
}

/// The run's refused rows, in line order.
pub async fn logs(db: &Db, import_id: i64) -> DbResult<Vec<RowError>> {
    let rows: Vec<(i64, String)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT line, reason FROM import_logs WHERE import_id = $1 ORDER BY line, id",
    )
    .bind(import_id)
    .fetch_all(pool)
    .await
    .map_err(db_err)?);
    Ok(rows
        .into_iter()
        .map(|(line, reason)| RowError {
            line: line as u64,
            reason,
        })
        .collect())
}

/// Writes the refused rows and moves the run's counters inside `$tx`; evaluates to the run's
/// status.
macro_rules! finish_batch {
    ($tx:expr, $run_id:expr, $rows:expr, $errors:expr, $now:expr) => {{
        for error in $errors {
            sqlx::query(
                "INSERT INTO import_logs (import_id, line, reason, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind($run_id)
            .bind(error.line as i64)
            .bind(&error.reason)
            .bind($now)
            .execute(&mut **$tx)
            .await
            .map_err(db_err)?;
        }
        let status: String = sqlx::query_scalar(
            "UPDATE imports SET imported = imported + $2, failed = failed + $3, total = total + $4, \
             updated_at = $5 WHERE id = $1 RETURNING status",
        )
        .bind($run_id)
        .bind($rows.len() as i64)
        .bind($errors.len() as i64)
        .bind(($rows.len() + $errors.len()) as i64)
        .bind($now)
        .fetch_one(&mut **$tx)
        .await
        .map_err(db_err)?;
        Ok::<String, crate::db::DbError>(status)
    }};
}

/// The status column for a batch's new subscribers.
fn subscriber_status(plan: &BatchPlan) -> &'static str {
    match plan.mode {
        ImportMode::Subscribe => "enabled",
        ImportMode::Blocklist => "blocklisted",
    }
}

/// Upserts a batch on PostgreSQL: the whole batch as arrays through `UNNEST`, one statement
/// per table.
macro_rules! load_rows_postgres {
    ($tx:expr, $rows:expr, $plan:expr, $now:expr) => {{
        let sql = format!(
            "INSERT INTO subscribers (uuid, email, name, attribs, status, created_at, updated_at) \
             SELECT u, e, n, a::jsonb, $5, $6, $6 \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[]) AS t(u, e, n, a) {}",
            conflict_clause($plan)
        );
        let uuids: Vec<uuid::Uuid> = $rows.iter().map(|_| uuid::Uuid::new_v4()).collect();
        let emails: Vec<&str> = $rows.iter().map(|r| r.email.as_str()).collect();
        let names: Vec<&str> = $rows.iter().map(|r| r.name.as_str()).collect();
        let attribs: Vec<String> = $rows.iter().map(|r| r.attribs.to_json_text()).collect();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(uuids)
            .bind(&emails)
            .bind(names)
            .bind(attribs)
            .bind(subscriber_status($plan))
            .bind($now)
            .execute(&mut **$tx)
            .await
            .map_err(db_err)?;
        subscriptions_postgres!($tx, &emails, $plan, $now);
    }};
}

/// Upserts a batch on SQLite, which has no arrays: multi-row `VALUES` lists.
macro_rules! load_rows_sqlite {
    ($tx:expr, $rows:expr, $plan:expr, $now:expr) => {{
        for chunk in $rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = 3 + i * 4;
                    format!("(${b}, ${}, ${}, ${}, $1, $2, $2)", b + 1, b + 2, b + 3)
                })
                .collect();
            let sql = format!(
                "INSERT INTO subscribers (uuid, email, name, attribs, status, created_at, updated_at) \
                 VALUES {} {}",
                values.join(", "),
                conflict_clause($plan)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(subscriber_status($plan)).bind($now);
            for row in chunk {
                q = q
                    .bind(uuid::Uuid::new_v4())
                    .bind(row.email.as_str())
                    .bind(row.name.as_str())
                    .bind(row.attribs.to_json_text());
            }
            q.execute(&mut **$tx).await.map_err(db_err)?;
            let emails: Vec<&str> = chunk.iter().map(|r| r.email.as_str()).collect();
            subscriptions_sqlite!($tx, &emails, $plan, $now);
        }
    }};
}

macro_rules! subscriptions_postgres {
    ($tx:expr, $emails:expr, $plan:expr, $now:expr) => {{
        match $plan.mode {
            ImportMode::Subscribe => {
                for (list_id, sub_status) in &$plan.subscriptions {
                    let sql = format!(
                        "INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
                         SELECT id, $1, CASE WHEN status = 'blocklisted' THEN 'unsubscribed' ELSE $2 END, $3, $3 \
                         FROM subscribers WHERE email = ANY($4::text[]) {}",
                        subscription_conflict_clause($plan)
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(*list_id)
                        .bind(sub_status.as_str())
                        .bind($now)
                        .bind($emails)
                        .execute(&mut **$tx)
                        .await
                        .map_err(db_err)?;
                }
            }
            ImportMode::Blocklist => {
                sqlx::query(
                    "UPDATE subscriber_lists SET status = 'unsubscribed', updated_at = $1 \
                     WHERE subscriber_id IN (SELECT id FROM subscribers WHERE email = ANY($2::text[]))",
                )
                .bind($now)
                .bind($emails)
                .execute(&mut **$tx)
                .await
                .map_err(db_err)?;
            }
        }
    }};
}

macro_rules! subscriptions_sqlite {
    ($tx:expr, $emails:expr, $plan:expr, $now:expr) => {{
        let marks = placeholders(4, $emails.len());
        match $plan.mode {
            ImportMode::Subscribe => {
                for (list_id, sub_status) in &$plan.subscriptions {
                    let sql = format!(
                        "INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
                         SELECT id, $1, CASE WHEN status = 'blocklisted' THEN 'unsubscribed' ELSE $2 END, $3, $3 \
                         FROM subscribers WHERE email IN ({marks}) {}",
                        subscription_conflict_clause($plan)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(*list_id)
                        .bind(sub_status.as_str())
                        .bind($now);
                    for email in $emails {
                        q = q.bind(*email);
                    }
                    q.execute(&mut **$tx).await.map_err(db_err)?;
                }
            }
            ImportMode::Blocklist => {
                let sql = format!(
                    "UPDATE subscriber_lists SET status = 'unsubscribed', updated_at = $1 \
                     WHERE subscriber_id IN (SELECT id FROM subscribers WHERE email IN ({}))",
                    placeholders(2, $emails.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind($now);
                for email in $emails {
                    q = q.bind(*email);
                }
                q.execute(&mut **$tx).await.map_err(db_err)?;
            }
        }
    }};
}

/// Loads one batch and its refused rows, and moves the run's counters, in one transaction.
///
/// Returns the run's status after the batch, so the caller sees a stop request.
pub async fn load_batch(
    db: &Db,
    run_id: i64,
    rows: &[ImportRow],
    errors: &[RowError],
    plan: &BatchPlan,
) -> DbResult<String> {
    let now = Timestamp::now();
    match db {
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_write().await.map_err(db_err)?;
            load_rows_sqlite!(&mut tx, rows, plan, now);
            let status = finish_batch!(&mut tx, run_id, rows, errors, now)?;
            tx.commit().await.map_err(db_err)?;
            Ok(status)
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin_write().await.map_err(db_err)?;
            load_rows_postgres!(&mut tx, rows, plan, now);
            let status = finish_batch!(&mut tx, run_id, rows, errors, now)?;
            tx.commit().await.map_err(db_err)?;
            Ok(status)
        }
    }
}

/// What happens when an imported address already exists.
fn conflict_clause(plan: &BatchPlan) -> &'static str {
    match (plan.mode, plan.overwrite) {
        (ImportMode::Subscribe, false) => "ON CONFLICT (email) DO NOTHING",
        (ImportMode::Subscribe, true) => {
            "ON CONFLICT (email) DO UPDATE SET name = excluded.name, attribs = excluded.attribs, \
             updated_at = excluded.updated_at"
        }
        (ImportMode::Blocklist, false) => {
            "ON CONFLICT (email) DO UPDATE SET status = 'blocklisted', updated_at = excluded.updated_at"
        }
        (ImportMode::Blocklist, true) => {
            "ON CONFLICT (email) DO UPDATE SET status = 'blocklisted', name = excluded.name, \
             attribs = excluded.attribs, updated_at = excluded.updated_at"
        }
    }
}

/// Existing subscriptions keep their status unless the import overwrites.
fn subscription_conflict_clause(plan: &BatchPlan) -> &'static str {
    if plan.overwrite {
        "ON CONFLICT (subscriber_id, list_id) DO UPDATE SET status = excluded.status, \
         updated_at = excluded.updated_at"
    } else {
        "ON CONFLICT (subscriber_id, list_id) DO NOTHING"
    }
}
