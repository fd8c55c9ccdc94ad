//! `/api/import/subscribers`: listmonk's CSV import endpoints, on the same importer as the CLI.
//!
//! The upload is streamed to a file in the data directory, then imported in the background;
//! clients poll the status and read the log of refused rows.

use axum::Json;
use axum::extract::{Multipart, State};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use super::{Data, data};
use crate::domain::SubscriptionStatus;
use crate::ops::imports::{self as ops, ImportMode, ImportOptions, ImportRun, Upload};
use crate::web::error::ApiError;
use crate::web::extract::Acting;
use crate::web::state::AppState;

/// The import status, in listmonk's shape plus bulten's counters.
#[derive(Debug, Serialize)]
pub(crate) struct ImportStatus {
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
                status: r.status.as_str().to_owned(),
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
pub(crate) async fn status(
    State(state): State<AppState>,
    Acting(by): Acting,
) -> Result<Json<Data<ImportStatus>>, ApiError> {
    Ok(data(ops::latest(&state.db, &by).await?.into()))
}

/// `GET /api/import/subscribers/logs`: one line per refused row.
pub(crate) async fn logs(
    State(state): State<AppState>,
    Acting(by): Acting,
) -> Result<Json<Data<String>>, ApiError> {
    let lines: Vec<String> = ops::latest_refusals(&state.db, &by)
        .await?
        .into_iter()
        .map(|e| format!("line {}: {}", e.line, e.reason))
        .collect();
    Ok(data(lines.join("\n")))
}

/// `DELETE /api/import/subscribers`: stops a running import, or clears finished ones.
pub(crate) async fn stop_or_clear(
    State(state): State<AppState>,
    Acting(by): Acting,
) -> Result<Json<Data<ImportStatus>>, ApiError> {
    Ok(data(ops::stop_or_clear(&state.db, &by).await?.into()))
}

/// `POST /api/import/subscribers`: multipart `params` (JSON) and `file` (CSV).
pub(crate) async fn start(
    State(state): State<AppState>,
    Acting(by): Acting,
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
                // A caller who will be refused costs no disk.
                ops::may_start(&state.db, &by).await?;
                let name = field.file_name().unwrap_or("upload.csv").to_owned();
                // Owned by the guard from here: whatever goes wrong below removes the file.
                let (file, mut out) = Upload::create(&state.settings.upload_dir)
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
    begin(&state, &by, params, file, name).await
}

async fn begin(
    state: &AppState,
    by: &crate::ops::access::Caller,
    params: ImportParams,
    file: Upload,
    name: String,
) -> Result<Json<Data<ImportStatus>>, ApiError> {
    let delimiter = ops::parse_delimiter(params.delim.as_deref().unwrap_or(""))?;
    let options = ImportOptions {
        mode: params.mode,
        list_ids: params.lists,
        overwrite: params.overwrite,
        delimiter,
        subscription_status: params.subscription_status,
        batch_size: state.settings.import_batch_size,
    };
    let run = ops::start_in_background(&state.db, by, &state.imports, &name, file, options).await?;
    Ok(data(Some(run).into()))
}
