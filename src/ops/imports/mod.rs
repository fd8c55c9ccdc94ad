//! CSV import and export of subscribers.
//!
//! An import streams the file: a reader thread parses and checks rows and hands batches
//! through a small bounded channel to the loader, which commits each batch in one
//! transaction (`db::imports::load_batch`). Memory holds two batches and one 8-byte hash per
//! address seen (to report duplicates within the file), whatever the file's size.
//!
//! Accepted files: listmonk's `email,name,attributes` (attributes as a JSON object), with or
//! without a header row; Mailchimp's export (`Email Address`, `First Name`, `Last Name`, other
//! columns become attributes); bulten's own export. A UTF-8 byte-order mark is skipped, and
//! the delimiter (`,`, `;` or tab) is detected unless given.

mod files;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use super::access::{Caller, Permission};
use super::audit::{self, Change};
use super::{OpsError, OpsResult, lists::require_all};
use crate::db::imports::{self, BatchPlan, ImportRow};
pub(crate) use crate::db::imports::{ImportRun, RowError};
use crate::db::{Backend, Db};
use crate::domain::{Attribs, EmailAddress, SubscriberName, SubscriptionStatus};
pub(crate) use crate::domain::{ImportMode, ImportRunStatus};
use files::{Batch, read_batches};
pub(crate) use files::{export_csv, export_lines, parse_delimiter};

/// Rows per transaction. Large enough to amortise a commit, small enough that a stop request
/// or a kill loses little work.
pub(crate) const DEFAULT_BATCH_SIZE: usize = 10_000;

/// How to import.
#[derive(Debug, Clone)]
pub(crate) struct ImportOptions {
    pub mode: ImportMode,
    pub list_ids: Vec<i64>,
    pub overwrite: bool,
    /// The field delimiter; detected from the first line when `None`.
    pub delimiter: Option<u8>,
    /// The status of new subscriptions; by default each list's own (confirmed on single
    /// opt-in lists, unconfirmed on double opt-in ones).
    pub subscription_status: Option<SubscriptionStatus>,
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            mode: ImportMode::Subscribe,
            list_ids: Vec::new(),
            overwrite: false,
            delimiter: None,
            subscription_status: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// Told after each committed batch; the CLI draws a progress bar from it.
pub(crate) trait Progress: Send + Sync {
    /// `bytes` of `total_bytes` read, `rows` imported and `failed` refused so far.
    fn advance(&self, bytes: u64, total_bytes: u64, rows: u64, failed: u64);
}

/// A progress sink that ignores everything.
#[derive(Debug, Default)]
pub(crate) struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _: u64, _: u64, _: u64, _: u64) {}
}

/// How an import ended.
#[derive(Debug, Clone)]
pub(crate) struct ImportSummary {
    pub run_id: i64,
    pub status: ImportRunStatus,
    pub imported: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

/// Starts a run record and imports `path` into it. See the module docs for the formats.
///
/// # Errors
/// When a list does not exist, the file cannot be read or has no email column, or the
/// database fails. Bad rows are not errors: they are logged with their line and skipped.
pub(crate) async fn import_file(
    db: &Db,
    path: &Path,
    name: &str,
    options: &ImportOptions,
    progress: &dyn Progress,
) -> OpsResult<ImportSummary> {
    let plan = plan(db, options).await?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let run =
        imports::start_run(db, name, options.mode, options.overwrite, &options.list_ids).await?;
    run_import(db, run.id, file, options, plan, progress).await
}

/// Imports into an already started run with a plan made when it started (the API starts
/// the run and checks the lists before the upload is imported).
pub(crate) async fn import_into_run(
    db: &Db,
    run_id: i64,
    path: &Path,
    options: &ImportOptions,
    plan: BatchPlan,
    progress: &dyn Progress,
) -> OpsResult<ImportSummary> {
    match File::open(path).with_context(|| format!("cannot open {}", path.display())) {
        Ok(file) => run_import(db, run_id, file, options, plan, progress).await,
        Err(err) => {
            imports::finish_run(
                db,
                run_id,
                ImportRunStatus::Failed,
                0,
                Some(&format!("{err:#}")),
            )
            .await?;
            Err(err.into())
        }
    }
}

/// Checks the lists and decides the status of new subscriptions on each.
pub(crate) async fn plan(db: &Db, options: &ImportOptions) -> OpsResult<BatchPlan> {
    if options.mode == ImportMode::Subscribe && options.list_ids.is_empty() {
        return Err(OpsError::Invalid(
            "choose at least one list to import into".into(),
        ));
    }
    let lists = require_all(db, &options.list_ids).await?;
    let subscriptions = lists
        .iter()
        .map(|l| {
            (
                l.id,
                options
                    .subscription_status
                    .unwrap_or(l.initial_subscription_status(false)),
            )
        })
        .collect();
    Ok(BatchPlan::new(
        options.mode,
        options.overwrite,
        subscriptions,
    ))
}

async fn run_import(
    db: &Db,
    run_id: i64,
    file: File,
    options: &ImportOptions,
    plan: BatchPlan,
    progress: &dyn Progress,
) -> OpsResult<ImportSummary> {
    let started = Instant::now();
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (tx, mut rx) = mpsc::channel::<Batch>(2);
    let delimiter = options.delimiter;
    let batch_size = options.batch_size.max(1);
    let reader =
        tokio::task::spawn_blocking(move || read_batches(file, delimiter, batch_size, &tx));

    // PostgreSQL loads two batches at once, one server process each; SQLite has one writer.
    let concurrency = match db.backend() {
        Backend::Postgres => 2,
        Backend::Sqlite => 1,
    };
    let load = |batch: Batch| {
        let plan = &plan;
        async move {
            let result = imports::load_batch(db, run_id, &batch.rows, &batch.errors, plan).await;
            (
                batch.rows.len() as u64,
                batch.errors.len() as u64,
                batch.bytes_read,
                result,
            )
        }
    };
    let mut in_flight = FuturesUnordered::new();
    let (mut imported, mut failed, mut bytes) = (0u64, 0u64, 0u64);
    let (mut stopping, mut done_reading) = (false, false);
    let mut load_error = None;
    loop {
        let can_take =
            !done_reading && !stopping && load_error.is_none() && in_flight.len() < concurrency;
        tokio::select! {
            batch = rx.recv(), if can_take => match batch {
                Some(batch) => in_flight.push(load(batch)),
                None => done_reading = true,
            },
            Some((rows, refused, read, result)) = in_flight.next(), if !in_flight.is_empty() => {
                match result {
                    Ok(status) => {
                        stopping |= status == ImportRunStatus::Stopping;
                        imported += rows;
                        failed += refused;
                        bytes = bytes.max(read);
                        progress.advance(bytes, total_bytes, imported, failed);
                    }
                    Err(err) => load_error = load_error.or(Some(OpsError::from(err))),
                }
            },
            else => break,
        }
    }
    // Dropping the receiver ends the reader at its next send.
    drop(rx);
    let read = reader.await.map_err(|e| OpsError::Internal(e.into()))?;
    let total = (imported + failed) as i64;
    let (final_status, error) = match (&load_error, read, stopping) {
        (Some(err), _, _) => (ImportRunStatus::Failed, Some(err.to_string())),
        (None, _, true) => (ImportRunStatus::Stopped, None),
        (None, Err(err), false) => (ImportRunStatus::Failed, Some(format!("{err:#}"))),
        (None, Ok(()), false) => (ImportRunStatus::Finished, None),
    };
    imports::finish_loading(db).await?;
    // Statistics before the run shows as ended: a client that sees it ended may query the
    // new rows, or start the next import, at once.
    let statistics = if imported > 0 {
        crate::db::refresh_statistics(db, &["subscribers", "subscriber_lists"]).await
    } else {
        Ok(())
    };
    imports::finish_run(db, run_id, final_status, total, error.as_deref()).await?;
    statistics?;
    if let Some(err) = load_error {
        return Err(err);
    }
    if let Some(message) = error {
        return Err(OpsError::Invalid(message));
    }
    Ok(ImportSummary {
        run_id,
        status: final_status,
        imported,
        failed,
        elapsed: started.elapsed(),
    })
}

/// The latest import run, if there was one. Imports concern every list (see
/// [`start_in_background`]), so their runs are for callers limited to none.
///
/// # Errors
/// `ForbiddenAllLists`.
pub(crate) async fn latest(db: &Db, by: &Caller) -> OpsResult<Option<ImportRun>> {
    by.require_every_list(Permission::SubscribersImport)?;
    Ok(imports::latest_run(db).await?)
}

/// The rows the latest run refused, with their line and reason (their addresses among
/// them).
///
/// # Errors
/// `ForbiddenAllLists`.
pub(crate) async fn latest_refusals(db: &Db, by: &Caller) -> OpsResult<Vec<RowError>> {
    by.require_every_list(Permission::SubscribersImport)?;
    match imports::latest_run(db).await? {
        Some(run) => Ok(imports::logs(db, run.id).await?),
        None => Ok(Vec::new()),
    }
}

/// The rows a run refused, with their line and reason.
pub(crate) async fn refusals(db: &Db, run_id: i64) -> OpsResult<Vec<RowError>> {
    Ok(imports::logs(db, run_id).await?)
}

/// Asks a running import to stop after its current batch, or, when none runs, forgets the
/// finished ones. Returns the latest run as it now stands.
pub(crate) async fn stop_or_clear(db: &Db, by: &Caller) -> OpsResult<Option<ImportRun>> {
    by.require_every_list(Permission::SubscribersImport)?;
    match imports::latest_run(db).await? {
        Some(run) if run.status == ImportRunStatus::Importing => {
            imports::request_stop(db, run.id).await?;
            audit::record(db, by, Change::new("import.stop", "import", Some(run.id))).await;
        }
        Some(run) if run.status == ImportRunStatus::Stopping => {}
        _ => imports::clear_finished_runs(db).await?,
    }
    Ok(imports::latest_run(db).await?)
}

/// Whether `by` may start an import now: checked before an upload is stored, so a refused
/// caller costs no disk, and again when the import starts.
///
/// # Errors
/// `ForbiddenAllLists` for a caller limited to some lists; `Conflict` while an import runs.
pub(crate) async fn may_start(db: &Db, by: &Caller) -> OpsResult<()> {
    // An import matches its addresses against every reader, whichever lists they are on,
    // and subscribes, overwrites or blocklists those it finds: a caller limited to some
    // lists would reach other desks' readers through it, so imports need no limits.
    by.require_every_list(Permission::SubscribersImport)?;
    if imports::latest_run(db)
        .await?
        .is_some_and(|r| r.status.is_running())
    {
        return Err(OpsError::Conflict("an import is already running".into()));
    }
    Ok(())
}

/// Where uploads wait for their import, under the data directory.
pub(crate) const UPLOAD_DIR: &str = "uploads";

/// An uploaded file waiting for its import, removed when dropped: by the request that
/// refuses it, or by the import when it ends. (A killed server's are swept at the next
/// start.)
#[derive(Debug)]
pub(crate) struct Upload(PathBuf);

impl Upload {
    /// A new, empty upload file in `dir` (made if missing), readable and writable by
    /// this user only.
    ///
    /// # Errors
    /// When the folder or the file cannot be created.
    pub(crate) async fn create(dir: &Path) -> std::io::Result<(Upload, tokio::fs::File)> {
        if !dir.is_dir() {
            let mut folder = std::fs::DirBuilder::new();
            folder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
            folder.create(dir)?;
        }
        let upload = Upload(dir.join(format!("import-{}.csv", uuid::Uuid::new_v4())));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&upload.0).await?;
        Ok((upload, file))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The import this node runs in the background for uploads: one at a time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Background(Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>);

/// Starts importing an uploaded file in the background and returns its run, for clients
/// to poll. Bad lists are refused now, while the client is still listening.
///
/// # Errors
/// `Invalid` for bad options or lists, `Conflict` while another import runs.
pub(crate) async fn start_in_background(
    db: &Db,
    by: &Caller,
    background: &Background,
    name: &str,
    upload: Upload,
    options: ImportOptions,
) -> OpsResult<ImportRun> {
    may_start(db, by).await?;
    let plan = plan(db, &options).await?;
    let mut task = background.0.lock().await;
    if imports::latest_run(db)
        .await?
        .is_some_and(|r| r.status.is_running())
    {
        return Err(OpsError::Conflict("an import is already running".into()));
    }
    // A run the database shows as ended may still be removing its upload; a client that
    // saw it end must be able to start the next one, so that wait is this request's.
    if let Some(previous) = task.take() {
        let _ = previous.await;
    }
    let run =
        imports::start_run(db, name, options.mode, options.overwrite, &options.list_ids).await?;
    let change = Change::new("import.start", "import", Some(run.id)).after(&serde_json::json!({
        "file": name,
        "mode": options.mode.as_str(),
        "overwrite": options.overwrite,
        "lists": options.list_ids,
    }));
    audit::record(db, by, change).await;
    let db = db.clone();
    let run_id = run.id;
    *task = Some(tokio::spawn(async move {
        match import_into_run(&db, run_id, &upload.0, &options, plan, &NoProgress).await {
            Ok(summary) => tracing::info!(
                run_id,
                imported = summary.imported,
                failed = summary.failed,
                status = %summary.status,
                "import ended"
            ),
            Err(err) => tracing::warn!(
                run_id,
                error = %crate::telemetry::chain(&err),
                "import failed"
            ),
        }
        drop(upload);
    }));
    Ok(run)
}
