//! `/api/import/subscribers`: listmonk's CSV import endpoints, on the same importer as the CLI.
//!
//! The upload is streamed to a file in the data directory, then imported in the background;
//! clients poll the status and read the log of refused rows.

use std::path::PathBuf;

use axum::Json;
use axum::extract::{Multipart, State};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use super::{Data, data};
use crate::db::imports::{self, ImportMode, ImportRun};
use crate::domain::SubscriptionStatus;
use crate::ops::imports::{ImportOptions, NoProgress, import_into_run, plan};
use crate::web::error::ApiError;
use crate::web::state::AppState;

/// The import status, in listmonk's shape plus bulten's counters.
#[derive(Debug, Serialize)]
pub struct ImportStatus {
    id: Option<i64>,
    name: String,
    status: String,
    total: i64,
    imported: i64,
    failed: i64,
    error: Option<String>,
}

impl From<Option<ImportRun>> for ImportStatus {
    fn from(run: Option<ImportRun>) -> Self {
        match run {
            Some(r) => Self {
                id: Some(r.id),
                name: r.name,
                status: r.status,
                total: r.total,
                imported: r.imported,
                failed: r.failed,
                error: r.error,
            },
            None => Self {
                id: None,
                name: String::new(),
                status: "none".into(),
                total: 0,
                imported: 0,
                failed: 0,
                error: None,
            },
        }
    }
}

/// The `params` field of the upload.
#[derive(Debug, Deserialize)]
struct ImportParams {
    #[serde(default = "default_mode")]
    mode: ImportMode,
    #[serde(default)]
    lists: Vec<i64>,
    #[serde(default)]
    overwrite: bool,
    #[serde(default)]
    delim: Option<String>,
    #[serde(default)]
    subscription_status: Option<SubscriptionStatus>,
}

fn default_mode() -> ImportMode {
    ImportMode::Subscribe
}

/// `GET /api/import/subscribers`
pub async fn status(State(state): State<AppState>) -> Result<Json<Data<ImportStatus>>, ApiError> {
    Ok(data(imports::latest_run(&state.db).await?.into()))
}

/// `GET /api/import/subscribers/logs`: one line per refused row.
pub async fn logs(State(state): State<AppState>) -> Result<Json<Data<String>>, ApiError> {
    let Some(run) = imports::latest_run(&state.db).await? else {
        return Ok(data(String::new()));
    };
    let lines: Vec<String> = imports::logs(&state.db, run.id)
        .await?
        .into_iter()
        .map(|e| format!("line {}: {}", e.line, e.reason))
        .collect();
    Ok(data(lines.join("\n")))
}

/// `DELETE /api/import/subscribers`: stops a running import, or clears finished ones.
pub async fn stop_or_clear(
    State(state): State<AppState>,
) -> Result<Json<Data<ImportStatus>>, ApiError> {
    match imports::latest_run(&state.db).await? {
        Some(run) if run.status == "importing" => {
            imports::request_stop(&state.db, run.id).await?;
        }
        Some(run) if run.status == "stopping" => {}
        _ => imports::clear_finished_runs(&state.db).await?,
    }
    Ok(data(imports::latest_run(&state.db).await?.into()))
}

/// `POST /api/import/subscribers`: multipart `params` (JSON) and `file` (CSV).
pub async fn start(
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> Result<Json<Data<ImportStatus>>, ApiError> {
    let mut params: Option<ImportParams> = None;
    let mut upload: Option<(Upload, String)> = None;
    while let Some(mut field) = multipart.next_field().await? {
        match field.name() {
            Some("params") => {
                let text = field.text().await?;
                params =
                    Some(serde_json::from_str(&text).map_err(|e| {
                        ApiError::bad_request(format!("invalid import params: {e}"))
                    })?);
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("upload.csv").to_owned();
                let dir = state.settings.data_dir.join(UPLOAD_DIR);
                crate::app::private_dir(&state.settings.data_dir)
                    .and_then(|()| crate::app::private_dir(&dir))
                    .map_err(|e| e.context("cannot create the upload folder"))?;
                // Owned by the guard from here: whatever goes wrong below removes the file.
                let file = Upload(dir.join(format!("import-{}.csv", uuid::Uuid::new_v4())));
                let mut out = private_file(&file.0)
                    .await
                    .map_err(|e| anyhow::Error::new(e).context("cannot store the upload"))?;
                while let Some(chunk) = field.chunk().await? {
                    out.write_all(&chunk)
                        .await
                        .map_err(|e| anyhow::Error::new(e).context("cannot store the upload"))?;
                }
                out.flush().await.map_err(anyhow::Error::new)?;
                upload = Some((file, name));
            }
            _ => {}
        }
    }
    let params = params.ok_or_else(|| ApiError::bad_request("the params field is missing"))?;
    let (file, name) = upload.ok_or_else(|| ApiError::bad_request("the file field is missing"))?;
    begin(&state, params, file, name).await
}

/// Where uploads wait for their import, under the data directory.
pub const UPLOAD_DIR: &str = "uploads";

/// An uploaded file, removed when dropped: by the request that refuses it, or by the import
/// task when the import ends. (A killed server's are swept at the next start.)
#[derive(Debug)]
struct Upload(PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Creates `path` readable and writable by this user only.
async fn private_file(path: &std::path::Path) -> std::io::Result<tokio::fs::File> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path).await
}

async fn begin(
    state: &AppState,
    params: ImportParams,
    file: Upload,
    name: String,
) -> Result<Json<Data<ImportStatus>>, ApiError> {
    let delimiter = crate::ops::imports::parse_delimiter(params.delim.as_deref().unwrap_or(""))?;
    let options = ImportOptions {
        mode: params.mode,
        list_ids: params.lists,
        overwrite: params.overwrite,
        delimiter,
        subscription_status: params.subscription_status,
        batch_size: state.settings.import_batch_size,
    };
    // Refuse bad lists now, while the client is still listening.
    let plan = plan(&state.db, &options).await?;

    let mut task = state.import_task.lock().await;
    let busy = imports::latest_run(&state.db)
        .await?
        .is_some_and(|r| r.status == "importing" || r.status == "stopping");
    if busy {
        return Err(ApiError::Conflict("an import is already running".into()));
    }
    // A run the database shows as ended may still be removing its upload; a client that
    // saw it end must be able to start the next one, so that wait is this request's.
    if let Some(previous) = task.take() {
        let _ = previous.await;
    }
    let run = imports::start_run(
        &state.db,
        &name,
        options.mode,
        options.overwrite,
        &options.list_ids,
    )
    .await?;
    let db = state.db.clone();
    let run_id = run.id;
    *task = Some(tokio::spawn(async move {
        match import_into_run(&db, run_id, &file.0, &options, plan, &NoProgress).await {
            Ok(summary) => tracing::info!(
                run_id,
                imported = summary.imported,
                failed = summary.failed,
                status = summary.status,
                "import ended"
            ),
            Err(err) => tracing::warn!(run_id, error = format!("{err:#}"), "import failed"),
        }
        drop(file);
    }));
    Ok(data(Some(run).into()))
}
