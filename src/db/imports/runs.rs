//! The record of an import run: started, stopped on request, finished or failed, with the
//! log of the rows it refused. The loading itself is the parent module's.

use sqlx::types::Json;

use super::RowError;
use crate::db::{Db, DbResult, on_pool};
use crate::domain::{ImportMode, ImportRunStatus, Timestamp};

/// An import run as recorded.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct ImportRun {
    pub id: i64,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub mode: ImportMode,
    #[sqlx(try_from = "String")]
    pub status: ImportRunStatus,
    pub overwrite: bool,
    pub total: i64,
    pub imported: i64,
    pub failed: i64,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The columns of a row, as a literal so static queries can be built with `concat!`.
macro_rules! run_columns {
    () => {
        "id, name, mode, status, overwrite, total, imported, failed, error, \
         created_at, updated_at"
    };
}

pub(crate) async fn start_run(
    db: &Db,
    name: &str,
    mode: ImportMode,
    overwrite: bool,
    list_ids: &[i64],
) -> DbResult<ImportRun> {
    let now = Timestamp::now();
    let sql: &str = concat!(
        "INSERT INTO imports (name, mode, status, overwrite, list_ids, created_at, updated_at) \
         VALUES ($1, $2, $6, $3, $4, $5, $5) RETURNING ",
        run_columns!()
    );
    Ok(on_pool!(db, pool => sqlx::query_as::<_, ImportRun>(sql)
        .bind(name)
        .bind(mode.as_str())
        .bind(overwrite)
        .bind(Json(list_ids))
        .bind(now)
        .bind(ImportRunStatus::Importing.as_str())
        .fetch_one(pool)
        .await?))
}

/// The most recent run, if any.
pub(crate) async fn latest_run(db: &Db) -> DbResult<Option<ImportRun>> {
    let sql: &str = concat!(
        "SELECT ",
        run_columns!(),
        " FROM imports ORDER BY id DESC LIMIT 1"
    );
    Ok(on_pool!(db, pool => sqlx::query_as::<_, ImportRun>(sql)
        .fetch_optional(pool)
        .await?))
}

/// Asks a running import to stop after its current batch.
pub(crate) async fn request_stop(db: &Db, id: i64) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = $3, updated_at = $2 WHERE id = $1 AND status = $4",
    )
    .bind(id)
    .bind(Timestamp::now())
    .bind(ImportRunStatus::Stopping.as_str())
    .bind(ImportRunStatus::Importing.as_str())
    .execute(pool)
    .await?
    .rows_affected());
    Ok(n == 1)
}

/// Records the end of a run: `finished`, `stopped` or `failed` with `error`.
pub(crate) async fn finish_run(
    db: &Db,
    id: i64,
    status: ImportRunStatus,
    total: i64,
    error: Option<&str>,
) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = $2, total = $3, error = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(total)
    .bind(error)
    .bind(Timestamp::now())
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Marks runs left `importing` or `stopping` by a process that died as failed.
pub(crate) async fn fail_abandoned_runs(db: &Db) -> DbResult<u64> {
    Ok(on_pool!(db, pool => sqlx::query(
        "UPDATE imports SET status = $2, error = 'interrupted: the process running it stopped', \
         updated_at = $1 WHERE status IN ($3, $4)",
    )
    .bind(Timestamp::now())
    .bind(ImportRunStatus::Failed.as_str())
    .bind(ImportRunStatus::Importing.as_str())
    .bind(ImportRunStatus::Stopping.as_str())
    .execute(pool)
    .await?
    .rows_affected()))
}

/// Deletes every finished run and its log (listmonk's "clear import").
pub(crate) async fn clear_finished_runs(db: &Db) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "DELETE FROM imports WHERE status NOT IN ($1, $2)",
    )
    .bind(ImportRunStatus::Importing.as_str())
    .bind(ImportRunStatus::Stopping.as_str())
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// The run's refused rows, in line order.
pub(crate) async fn logs(db: &Db, import_id: i64) -> DbResult<Vec<RowError>> {
    let rows: Vec<(i64, String)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT line, reason FROM import_logs WHERE import_id = $1 ORDER BY line, id",
    )
    .bind(import_id)
    .fetch_all(pool)
    .await?);
    Ok(rows
        .into_iter()
        .map(|(line, reason)| RowError {
            line: line as u64,
            reason,
        })
        .collect())
}
