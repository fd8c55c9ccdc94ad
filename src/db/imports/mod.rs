//! Importing: the batch upserts that do the loading, and (in `runs`) the record of each
//! import run with its per-row log.
//!
//! A batch is one transaction: its subscribers, their subscriptions, the log lines of the
//! rows refused since the last batch and the run's counters commit together, so a killed
//! import leaves whole batches and counters that match them. Every write is an upsert keyed
//! by address, so running the same file again converges on the same rows.

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::Arguments as _;
use sqlx::sqlite::SqliteArguments;

use super::copy::BinaryRows;
use super::{BeginWrite as _, Db, DbError, DbResult};
use crate::domain::{
    Attribs, EmailAddress, ImportMode, ImportRunStatus, SubscriberName, SubscriberStatus,
    SubscriptionStatus, Timestamp,
};

/// Rows per `INSERT … VALUES` statement on SQLite; 7 parameters a row stays far below its
/// 32,766-parameter limit while amortising the statement overhead.
mod runs;

pub(crate) use runs::{
    ImportRun, clear_finished_runs, fail_abandoned_runs, finish_run, latest_run, logs,
    request_stop, start_run,
};

const SQLITE_ROWS_PER_STATEMENT: usize = 2000;

/// A valid row, ready to load.
#[derive(Debug, Clone)]
pub(crate) struct ImportRow {
    pub email: EmailAddress,
    pub name: SubscriberName,
    /// The attributes as JSON text, serialized by the reader thread so the loader only binds.
    attribs_json: String,
    /// The UUID the subscriber gets if it is new, drawn by the reader thread for the same
    /// reason; time-ordered (v7) so the UUID index grows at its end.
    uuid: uuid::Uuid,
}

impl ImportRow {
    /// The attributes as the loader will bind them.
    #[cfg(test)]
    pub(crate) fn attribs_json(&self) -> &str {
        &self.attribs_json
    }

    pub(crate) fn new(email: EmailAddress, name: SubscriberName, attribs: &Attribs) -> Self {
        Self {
            email,
            name,
            attribs_json: attribs.to_json_text(),
            uuid: uuid::Uuid::now_v7(),
        }
    }
}

/// A refused row: where it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowError {
    pub line: u64,
    pub reason: String,
}

/// What a batch does besides inserting subscribers.
#[derive(Debug)]
pub(crate) struct BatchPlan {
    pub mode: ImportMode,
    pub overwrite: bool,
    /// The lists to subscribe to, each with the status new subscriptions take.
    pub subscriptions: Vec<(i64, SubscriptionStatus)>,
    /// Whether the next batch likely holds only new addresses, as the last one did; on
    /// PostgreSQL such a batch is inserted without looking its addresses up first.
    expect_new: AtomicBool,
}

impl BatchPlan {
    pub(crate) fn new(
        mode: ImportMode,
        overwrite: bool,
        subscriptions: Vec<(i64, SubscriptionStatus)>,
    ) -> Self {
        Self {
            mode,
            overwrite,
            subscriptions,
            expect_new: AtomicBool::new(true),
        }
    }
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
            .await?;
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
        .await?;
        Ok::<ImportRunStatus, crate::db::DbError>(status.parse()?)
    }};
}

/// The status column for a batch's new subscribers.
fn subscriber_status(plan: &BatchPlan) -> &'static str {
    match plan.mode {
        ImportMode::Subscribe => SubscriberStatus::Enabled.as_str(),
        ImportMode::Blocklist => SubscriberStatus::Blocklisted.as_str(),
    }
}

/// How a PostgreSQL batch treats addresses that may already be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guess {
    /// Every address is new: the batch is inserted without looking anything up, and an
    /// address already stored fails the statement with a unique violation.
    AllNew,
    /// Some addresses may be stored: they are looked up first (`existing`) and the rest
    /// inserted.
    Probe,
    /// As `Probe`, and an address that another writer adds in between is skipped.
    Careful,
}

type PgTx<'c> = sqlx::Transaction<'c, sqlx::Postgres>;

/// Loads a batch on PostgreSQL and returns how many of its addresses were already stored.
///
/// Under [`Guess::AllNew`] the batch is copied in (see [`copy_new_rows_postgres`]).
/// Otherwise it is upserted in one statement, the batch arriving as arrays through `UNNEST`.
/// The sibling CTEs of a data-modifying statement all see the table as it was before it, so
/// `inserted` (new addresses) and `existing` (addresses already stored, updated when the
/// import overwrites or blocklists) never overlap, and the subscriptions are written for
/// both without looking anything up again.
///
/// New rows are inserted with `NOT IN (existing)` rather than `ON CONFLICT`: PostgreSQL's
/// speculative insertion roughly doubles the cost of each row. A concurrent writer that adds
/// one of the addresses in between makes the statement fail with a unique violation; the
/// caller then runs the batch again as [`Guess::Careful`], which uses `ON CONFLICT DO
/// NOTHING`.
async fn load_rows_postgres(
    tx: &mut PgTx<'_>,
    rows: &[ImportRow],
    plan: &BatchPlan,
    now: Timestamp,
    guess: Guess,
) -> Result<i64, sqlx::Error> {
    // Every subscription this transaction writes names a subscriber it has inserted or
    // locked itself, which no other transaction can delete before it commits, so the
    // reference trigger can skip its per-row subscriber probe.
    sqlx::query("SET LOCAL bulten.subscribers_held = 'on'")
        .execute(&mut **tx)
        .await?;
    if guess == Guess::AllNew {
        copy_new_rows_postgres(tx, rows, plan, now).await?;
        return Ok(0);
    }

    let uuids: Vec<uuid::Uuid> = rows.iter().map(|r| r.uuid).collect();
    let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let attribs: Vec<&str> = rows.iter().map(|r| r.attribs_json.as_str()).collect();
    let list_ids: Vec<i64> = plan.subscriptions.iter().map(|(id, _)| *id).collect();
    let statuses: Vec<&str> = plan.subscriptions.iter().map(|(_, s)| s.as_str()).collect();
    let existing = match (plan.mode, plan.overwrite) {
        // Locked as a foreign key would, so none is deleted before its subscription lands.
        (ImportMode::Subscribe, false) => {
            "SELECT s.id, s.status, s.email FROM input JOIN subscribers s ON s.email = input.e \
             FOR KEY SHARE OF s"
        }
        (ImportMode::Subscribe, true) => {
            "UPDATE subscribers s SET name = input.n, attribs = input.a::jsonb, updated_at = $6 \
             FROM input WHERE s.email = input.e RETURNING s.id, s.status, s.email"
        }
        (ImportMode::Blocklist, false) => {
            "UPDATE subscribers s SET status = 'blocklisted', updated_at = $6 \
             FROM input WHERE s.email = input.e RETURNING s.id, s.status, s.email"
        }
        (ImportMode::Blocklist, true) => {
            "UPDATE subscribers s SET status = 'blocklisted', name = input.n, \
             attribs = input.a::jsonb, updated_at = $6 \
             FROM input WHERE s.email = input.e RETURNING s.id, s.status, s.email"
        }
    };
    // `existing` is read first; new rows are the rest of the batch, found by hashing the few
    // existing addresses rather than probing the email index a second time.
    let insert_new = match guess {
        Guess::Careful => "ON CONFLICT (email) DO NOTHING",
        _ => "WHERE input.e NOT IN (SELECT email FROM existing)",
    };
    let subscribe = |name: &str, source: &str, conflict: &str| {
        format!(
            ", {name} AS (INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
             SELECT t.id, l.list_id, \
                    CASE WHEN t.status = 'blocklisted' THEN 'unsubscribed' ELSE l.status END, $6, $6 \
             FROM {source} t CROSS JOIN UNNEST($7::bigint[], $8::text[]) AS l(list_id, status) {conflict})"
        )
    };
    let then = match plan.mode {
        // New subscribers cannot have subscriptions yet: no conflict clause needed there.
        ImportMode::Subscribe => {
            subscribe("fresh", "inserted", "")
                + &subscribe("known", "existing", subscription_conflict_clause(plan))
        }
        ImportMode::Blocklist => ", unsubscribed AS (UPDATE subscriber_lists \
             SET status = 'unsubscribed', updated_at = $6 WHERE subscriber_id IN (SELECT id FROM existing))"
            .to_owned(),
    };
    // Data-modifying CTEs run to completion whether or not the final query reads them.
    let sql = format!(
        "WITH input AS ( \
             SELECT u, e, n, a FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[]) AS t(u, e, n, a) \
         ), existing AS ({existing}), inserted AS ( \
             INSERT INTO subscribers (uuid, email, name, attribs, status, created_at, updated_at) \
             SELECT u, e, n, a::jsonb, $5, $6, $6 FROM input {insert_new} RETURNING id, status \
         ){then} SELECT count(*) FROM existing"
    );
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(uuids)
        .bind(emails)
        .bind(names)
        .bind(attribs)
        .bind(subscriber_status(plan))
        .bind(now);
    // Only the subscribe form names the lists ($7, $8).
    let query = match plan.mode {
        ImportMode::Subscribe => query.bind(list_ids).bind(statuses),
        ImportMode::Blocklist => query,
    };
    query.fetch_one(&mut **tx).await
}

/// Copies a batch of new addresses in with binary `COPY`, the subscribers and then their
/// subscriptions, and fails with a unique violation if an address is already stored.
///
/// `COPY` returns nothing, so the new subscribers' ids are drawn from their sequence first,
/// one per row, as `INSERT` would draw them. It stores a page of rows at a time where
/// `INSERT … SELECT` stores one row at a time, and reads the values in binary: on a million
/// rows it costs the server about a quarter less than the `UNNEST` statement.
async fn copy_new_rows_postgres(
    tx: &mut PgTx<'_>,
    rows: &[ImportRow],
    plan: &BatchPlan,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT ARRAY(SELECT nextval('subscribers_id_seq') FROM generate_series(1, $1))",
    )
    .bind(rows.len() as i64)
    .fetch_one(&mut **tx)
    .await?;

    let status = subscriber_status(plan);
    let mut subscribers = BinaryRows::with_capacity(rows.len() * 160);
    for (row, id) in rows.iter().zip(&ids) {
        subscribers.row(8);
        subscribers.field(id)?;
        subscribers.field(row.uuid)?;
        subscribers.field(row.email.as_str())?;
        subscribers.field(row.name.as_str())?;
        subscribers.jsonb(&row.attribs_json)?;
        subscribers.field(status)?;
        subscribers.field(now)?;
        subscribers.field(now)?;
    }
    copy_in(
        tx,
        "COPY subscribers (id, uuid, email, name, attribs, status, created_at, updated_at) \
         FROM STDIN (FORMAT binary)",
        subscribers,
    )
    .await?;

    // Only the subscribe form names lists; new subscribers are enabled, so each subscription
    // takes its list's status as it is.
    if plan.mode == ImportMode::Subscribe && !plan.subscriptions.is_empty() {
        let mut subscriptions =
            BinaryRows::with_capacity(ids.len() * plan.subscriptions.len() * 60);
        for id in &ids {
            for (list_id, list_status) in &plan.subscriptions {
                subscriptions.row(5);
                subscriptions.field(id)?;
                subscriptions.field(list_id)?;
                subscriptions.field(list_status.as_str())?;
                subscriptions.field(now)?;
                subscriptions.field(now)?;
            }
        }
        copy_in(
            tx,
            "COPY subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
             FROM STDIN (FORMAT binary)",
            subscriptions,
        )
        .await?;
    }
    Ok(())
}

/// Runs one `COPY … FROM STDIN (FORMAT binary)` with `rows` as its whole input.
async fn copy_in(tx: &mut PgTx<'_>, statement: &str, rows: BinaryRows) -> Result<(), sqlx::Error> {
    let mut copy = tx.copy_in_raw(statement).await?;
    copy.send(rows.finish().as_slice()).await?;
    copy.finish().await?;
    Ok(())
}

type SqliteTx<'c> = sqlx::Transaction<'c, sqlx::Sqlite>;

/// Stages a batch on SQLite, which has no arrays, in a temporary table by multi-row `VALUES`
/// statements of `SQLITE_ROWS_PER_STATEMENT` rows, in a transaction of its own: a temporary
/// table is the connection's alone, so staging takes no lock on the database and runs while
/// the previous batch is checkpointed (see [`load_batch`]). [`move_staged_sqlite`] then moves
/// the batch with one set-based statement per table, so SQLite runs the per-row work in one
/// loop instead of once per statement (about a fifth faster than inserting from `VALUES`
/// directly).
///
/// The staging statements use anonymous `?` placeholders: SQLite finds a named one (`$1`) by
/// a linear scan, so binding a statement of thousands of named parameters costs their
/// square. The arguments of the next statement are built while SQLite runs the current one
/// on its worker thread.
async fn stage_sqlite(conn: &mut sqlx::SqliteConnection, rows: &[ImportRow]) -> DbResult<()> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS import_batch (uuid BLOB, email TEXT, name TEXT, attribs TEXT)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM temp.import_batch")
        .execute(&mut *tx)
        .await?;
    let chunks: Vec<&[ImportRow]> = rows.chunks(SQLITE_ROWS_PER_STATEMENT).collect();
    let mut next = chunks
        .first()
        .map(|chunk| subscriber_args(chunk))
        .transpose()?;
    for (i, chunk) in chunks.iter().enumerate() {
        let args = next.take().expect("built for every chunk");
        let sql = format!(
            "INSERT INTO temp.import_batch (uuid, email, name, attribs) VALUES {}",
            vec!["(?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let insert = sqlx::query_with(sqlx::AssertSqlSafe(sql), args).execute(&mut *tx);
        let prepare = async { chunks.get(i + 1).map(|c| subscriber_args(c)) };
        let (inserted, prepared) = tokio::join!(insert, prepare);
        inserted?;
        next = prepared.transpose()?;
    }
    tx.commit().await.map_err(DbError::from)
}

/// Moves the staged batch of `staged` rows into the tables, inside the write transaction.
async fn move_staged_sqlite(
    tx: &mut SqliteTx<'_>,
    staged: usize,
    plan: &BatchPlan,
    now: Timestamp,
) -> DbResult<()> {
    let now = now.to_sortable_text();
    let status = subscriber_status(plan);
    let sql = format!(
        "INSERT INTO subscribers (uuid, email, name, attribs, status, created_at, updated_at) \
         SELECT uuid, email, name, attribs, ?, ?, ? FROM temp.import_batch WHERE true {}",
        conflict_clause(plan)
    );
    // The write lock is ours for the transaction, so rows above the highest ID so far are
    // this batch's.
    let max_before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM subscribers")
        .fetch_one(&mut **tx)
        .await?;
    // Subscribing changes no stored reader's status, so the batch's new readers are all the
    // counts change by: added once here rather than by a trigger per row.
    let counted_here = plan.mode == ImportMode::Subscribe;
    if counted_here {
        pause_counting(tx, "subscribers").await?;
    }
    let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status)
        .bind(now.as_str())
        .bind(now.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if counted_here {
        resume_counting(tx, "subscribers").await?;
        // With overwrite the upsert's count holds the rows it updated too; the new rows are
        // those past the highest ID before.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscribers WHERE id > ?")
            .bind(max_before)
            .fetch_one(&mut **tx)
            .await?;
        count_readers(tx, status, n).await?;
        count_day(tx, &now, "signups", n).await?;
    }
    // Without overwrite, the upsert counts only rows it inserted: when that is the whole
    // batch, no address existed, and the batch's subscribers are found by ID range instead
    // of probing the email index once per row.
    let all_new = !plan.overwrite && usize::try_from(inserted).is_ok_and(|n| n == staged);
    let batch_subscribers = if all_new {
        "FROM subscribers s WHERE s.id > ?"
    } else {
        "FROM temp.import_batch b JOIN subscribers s ON s.email = b.email WHERE ? IS NOT NULL"
    };
    match plan.mode {
        ImportMode::Subscribe => {
            // New readers' subscriptions are all new and all of the plan's status.
            if all_new {
                pause_counting(tx, "subscriptions").await?;
            }
            for (list_id, sub_status) in &plan.subscriptions {
                let sql = format!(
                    "INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
                     SELECT s.id, ?, CASE WHEN s.status = 'blocklisted' THEN 'unsubscribed' ELSE ? END, ?, ? \
                     {batch_subscribers} {}",
                    subscription_conflict_clause(plan)
                );
                let added = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(*list_id)
                    .bind(sub_status.as_str())
                    .bind(now.as_str())
                    .bind(now.as_str())
                    .bind(max_before)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                if all_new && added > 0 {
                    let n = i64::try_from(added).unwrap_or(i64::MAX);
                    sqlx::query(
                        "INSERT INTO subscription_counts (list_id, status, n) VALUES (?, ?, ?) \
                         ON CONFLICT (list_id, status) DO UPDATE SET n = n + excluded.n",
                    )
                    .bind(*list_id)
                    .bind(sub_status.as_str())
                    .bind(n)
                    .execute(&mut **tx)
                    .await?;
                    let series = match sub_status {
                        SubscriptionStatus::Confirmed => Some("confirmations"),
                        SubscriptionStatus::Unsubscribed => Some("unsubscriptions"),
                        SubscriptionStatus::Unconfirmed => None,
                    };
                    if let Some(series) = series {
                        count_day(tx, &now, series, n).await?;
                    }
                }
            }
            if all_new {
                resume_counting(tx, "subscriptions").await?;
            }
        }
        ImportMode::Blocklist => {
            sqlx::query(
                "UPDATE subscriber_lists SET status = 'unsubscribed', updated_at = ? WHERE subscriber_id IN \
                 (SELECT s.id FROM temp.import_batch b JOIN subscribers s ON s.email = b.email)",
            )
            .bind(now.as_str())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Sets the insert trigger of `what` aside for the rest of the transaction (see the
/// `counting_paused` table), until [`resume_counting`].
async fn pause_counting(tx: &mut SqliteTx<'_>, what: &str) -> DbResult<()> {
    sqlx::query("INSERT INTO counting_paused (what) VALUES (?)")
        .bind(what)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn resume_counting(tx: &mut SqliteTx<'_>, what: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM counting_paused WHERE what = ?")
        .bind(what)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Adds `n` to the count of readers with `status`.
async fn count_readers(tx: &mut SqliteTx<'_>, status: &str, n: i64) -> DbResult<()> {
    if n > 0 {
        sqlx::query(
            "INSERT INTO subscriber_counts (status, n) VALUES (?, ?) \
             ON CONFLICT (status) DO UPDATE SET n = n + excluded.n",
        )
        .bind(status)
        .bind(n)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Adds `n` to `series` on the day of `now` (sortable UTC text).
async fn count_day(tx: &mut SqliteTx<'_>, now: &str, series: &str, n: i64) -> DbResult<()> {
    if n > 0 {
        sqlx::query(
            "INSERT INTO daily_counts (day, series, n) VALUES (substr(?, 1, 10), ?, ?) \
             ON CONFLICT (day, series) DO UPDATE SET n = n + excluded.n",
        )
        .bind(now)
        .bind(series)
        .bind(n)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn subscriber_args(chunk: &[ImportRow]) -> DbResult<SqliteArguments> {
    let encode = |e: sqlx::error::BoxDynError| DbError::Other(sqlx::Error::Encode(e));
    let mut args = SqliteArguments::default();
    args.reserve(chunk.len() * 4, 0);
    for row in chunk {
        args.add(row.uuid).map_err(encode)?;
        args.add(row.email.as_str()).map_err(encode)?;
        args.add(row.name.as_str()).map_err(encode)?;
        args.add(row.attribs_json.as_str()).map_err(encode)?;
    }
    Ok(args)
}

/// Loads one batch and its refused rows, and moves the run's counters, in one transaction.
///
/// Returns the run's status after the batch, so the caller sees a stop request.
pub(crate) async fn load_batch(
    db: &Db,
    run_id: i64,
    rows: &[ImportRow],
    errors: &[RowError],
    plan: &BatchPlan,
) -> DbResult<ImportRunStatus> {
    let now = Timestamp::now();
    match db {
        Db::Sqlite(pool) => {
            // A batch's dirty pages must fit the page cache, or SQLite spills them to the WAL
            // mid-transaction and slows several-fold: 32 MiB for the batch, then back to the
            // pool's 8 MiB so a server's memory does not grow with its database.
            //
            // The commit does not checkpoint (copy the WAL into the database) on the one
            // writing thread, as it would by default once the WAL passes 1,000 pages: another
            // connection checkpoints while this one stages the next batch, and the write lock
            // is taken once both are done, so SQLite restarts the WAL from its start instead
            // of letting it grow with the import.
            let mut conn = pool.acquire().await?;
            sqlx::query("PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 0")
                .execute(&mut *conn)
                .await?;
            let result = async {
                let (staged, checkpointed) =
                    tokio::join!(stage_sqlite(&mut conn, rows), checkpoint_sqlite(pool));
                staged?;
                checkpointed?;
                let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
                move_staged_sqlite(&mut tx, rows.len(), plan, now).await?;
                let status = finish_batch!(&mut tx, run_id, rows, errors, now)?;
                tx.commit().await?;
                Ok(status)
            }
            .await;
            sqlx::query("PRAGMA cache_size = -8192; PRAGMA wal_autocheckpoint = 1000")
                .execute(&mut *conn)
                .await?;
            result
        }
        Db::Postgres(pool) => {
            let mut guess = if plan.expect_new.load(Ordering::Relaxed) {
                Guess::AllNew
            } else {
                Guess::Probe
            };
            loop {
                let mut tx = pool.begin_write().await?;
                match load_rows_postgres(&mut tx, rows, plan, now, guess)
                    .await
                    .map_err(DbError::from)
                {
                    // The next batch of a file usually looks like this one: new addresses
                    // after new ones, known after known.
                    Ok(existing) => plan.expect_new.store(existing == 0, Ordering::Relaxed),
                    Err(DbError::Conflict(_)) if guess != Guess::Careful => {
                        plan.expect_new.store(false, Ordering::Relaxed);
                        guess = match guess {
                            Guess::AllNew => Guess::Probe,
                            _ => Guess::Careful,
                        };
                        continue;
                    }
                    Err(err) => return Err(err),
                }
                let status = finish_batch!(&mut tx, run_id, rows, errors, now)?;
                tx.commit().await?;
                return Ok(status);
            }
        }
    }
}

/// Copies what the WAL holds into the SQLite database without waiting for readers or
/// blocking the writer.
async fn checkpoint_sqlite(pool: &sqlx::SqlitePool) -> DbResult<()> {
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends an import's loading: on SQLite its last batch, still in the WAL, is checkpointed, as
/// every earlier one was while the next loaded.
pub(crate) async fn finish_loading(db: &Db) -> DbResult<()> {
    match db {
        Db::Sqlite(pool) => checkpoint_sqlite(pool).await,
        Db::Postgres(_) => Ok(()),
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
