//! The import page: a CSV of readers uploaded from the browser into chosen lists, its
//! progress while it runs (the page's script swaps the progress section in every few
//! seconds) and the rows it refused, each with its line. It calls the same
//! `ops::imports` functions as `/api/import/subscribers`.
//!
//! The upload is the one multipart form of the desk: the session layer does not read its
//! body (a file can be far larger than any form), so this handler checks the session's
//! CSRF token, which the form sends as its first field, before it stores a byte of the file.

use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use super::login::internal;
use super::{Desk, page};
use crate::domain::SubscriptionStatus;
use crate::i18n;
use crate::ops::OpsError;
use crate::ops::access::ListAccess;
use crate::ops::imports::{self as ops, ImportMode, ImportOptions, ImportRunStatus, Upload};
use crate::ops::lists as lists_ops;
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    desk: Desk,
    Query(done): Query<Done>,
) -> Response {
    let notice = super::done_notice(
        desk.lang,
        done.done.as_deref(),
        "desk.import.",
        &["started", "stopped"],
    );
    import_page(&state, &desk, StatusCode::OK, notice, None).await
}

/// The latest run as the progress section shows it.
async fn progress(state: &AppState, desk: &Desk) -> Result<serde_json::Value, OpsError> {
    let caller = desk.staff.caller();
    let run = ops::latest(&state.db, &caller).await?;
    let refused = ops::latest_refusals(&state.db, &caller).await?;
    Ok(match run {
        None => json!({"run": null, "refused": []}),
        Some(run) => {
            let done = run.imported + run.failed;
            let percent = if run.total > 0 {
                (done * 100 / run.total).clamp(0, 100)
            } else {
                0
            };
            json!({
                "run": {
                    "name": run.name,
                    "status": i18n::text(desk.lang, &format!("desk.import.status_{}", run.status.as_str())),
                    "running": run.status.is_running(),
                    "importing": run.status == ImportRunStatus::Importing,
                    "total": run.total,
                    "imported": run.imported,
                    "failed": run.failed,
                    "percent": percent,
                    "error": run.error,
                },
                "refused": refused.iter().take(200).map(|r| json!({"line": r.line, "reason": r.reason})).collect::<Vec<_>>(),
                "more_refused": refused.len().saturating_sub(200),
            })
        }
    })
}

async fn import_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let caller = desk.staff.caller();
    let found = async {
        let lists = lists_ops::all(&state.db, &caller, ListAccess::Manage).await?;
        Ok::<_, OpsError>((lists, progress(state, desk).await?))
    };
    let (lists, progress) = match found.await {
        Ok(found) => found,
        Err(err) => {
            return match super::refused_status(&err) {
                Some(status) => (status, err.to_string()).into_response(),
                None => internal(&err),
            };
        }
    };
    let statuses: Vec<_> = ["confirmed", "unconfirmed"]
        .iter()
        .map(|s| json!({"value": s, "label": i18n::text(desk.lang, &format!("desk.status.{s}"))}))
        .collect();
    page(
        state,
        Some(desk),
        desk.lang,
        status,
        "admin/import.html",
        "desk.import.title",
        json!({
            "notice": notice,
            "error": error,
            "lists": lists.iter().map(|l| json!({"id": l.id, "name": l.name})).collect::<Vec<_>>(),
            "statuses": statuses,
            "progress": progress,
        }),
    )
}

/// The progress section alone, which the page's script swaps in while a run goes on.
pub(crate) async fn progress_section(State(state): State<AppState>, desk: Desk) -> Response {
    match progress(&state, &desk).await {
        Ok(progress) => page(
            &state,
            Some(&desk),
            desk.lang,
            StatusCode::OK,
            "admin/import-progress.html",
            "desk.import.title",
            json!({ "progress": progress }),
        ),
        Err(err) => match super::refused_status(&err) {
            Some(status) => (status, err.to_string()).into_response(),
            None => internal(&err),
        },
    }
}

/// The form's fields other than the file.
#[derive(Debug, Default)]
struct Fields {
    csrf_checked: bool,
    mode: Option<String>,
    lists: Vec<i64>,
    overwrite: bool,
    delimiter: Option<String>,
    subscription_status: Option<String>,
}

impl Fields {
    fn options(&self, batch_size: usize) -> Result<ImportOptions, OpsError> {
        let mode = match self.mode.as_deref() {
            None | Some("" | "subscribe") => ImportMode::Subscribe,
            Some("blocklist") => ImportMode::Blocklist,
            Some(other) => return Err(OpsError::Invalid(format!("unknown mode '{other}'"))),
        };
        let subscription_status = match self.subscription_status.as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse::<SubscriptionStatus>()?),
        };
        Ok(ImportOptions {
            mode,
            list_ids: self.lists.clone(),
            overwrite: self.overwrite,
            delimiter: ops::parse_delimiter(self.delimiter.as_deref().unwrap_or(""))?,
            subscription_status,
            batch_size,
        })
    }
}

/// Takes the upload: the CSRF token first, then the options, then the file, which is
/// streamed to the upload directory and imported in the background.
pub(crate) async fn upload(
    State(state): State<AppState>,
    desk: Desk,
    mut form: Multipart,
) -> Response {
    let mut fields = Fields::default();
    let mut upload: Option<(Upload, String)> = None;
    let read = async {
        while let Some(mut field) = form.next_field().await.map_err(refused_upload)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "_csrf" {
                let token = small_text(&mut field).await?;
                fields.csrf_checked = desk.staff.csrf_matches(&token);
                continue;
            }
            if !fields.csrf_checked {
                return Err(Refused::Csrf);
            }
            match name.as_str() {
                "file" => {
                    // A caller who will be refused costs no disk.
                    ops::may_start(&state.db, &desk.staff.caller())
                        .await
                        .map_err(Refused::Ops)?;
                    let file_name = field.file_name().unwrap_or("upload.csv").to_owned();
                    let (file, mut out) = Upload::create(&state.settings.upload_dir)
                        .await
                        .map_err(|e| Refused::Ops(OpsError::Internal(e.into())))?;
                    while let Some(chunk) = field.chunk().await.map_err(refused_upload)? {
                        out.write_all(&chunk)
                            .await
                            .map_err(|e| Refused::Ops(OpsError::Internal(e.into())))?;
                    }
                    out.flush()
                        .await
                        .map_err(|e| Refused::Ops(OpsError::Internal(e.into())))?;
                    upload = Some((file, file_name));
                }
                "list" => {
                    let text = small_text(&mut field).await?;
                    let id = text.trim().parse().map_err(|_| {
                        Refused::Ops(OpsError::Invalid(format!("'{text}' names no list")))
                    })?;
                    fields.lists.push(id);
                }
                "mode" => fields.mode = Some(small_text(&mut field).await?),
                "overwrite" => fields.overwrite = true,
                "delimiter" => fields.delimiter = Some(small_text(&mut field).await?),
                "subscription_status" => {
                    fields.subscription_status = Some(small_text(&mut field).await?);
                }
                _ => {}
            }
        }
        if !fields.csrf_checked {
            return Err(Refused::Csrf);
        }
        let (file, name) = upload.take().ok_or_else(|| {
            Refused::Ops(OpsError::Invalid(
                i18n::text(desk.lang, "desk.import.no_file").to_owned(),
            ))
        })?;
        let options = fields
            .options(state.settings.import_batch_size)
            .map_err(Refused::Ops)?;
        let caller = desk.staff.caller();
        ops::start_in_background(&state.db, &caller, &state.imports, &name, file, options)
            .await
            .map_err(Refused::Ops)
    };
    match read.await {
        Ok(_) => Redirect::to("/admin/import?done=started").into_response(),
        Err(Refused::Csrf) => {
            tracing::warn!(
                user_id = desk.staff.id,
                "an upload without its CSRF token was refused"
            );
            super::refusal(
                &state,
                desk.lang,
                StatusCode::FORBIDDEN,
                "desk.refused.csrf",
            )
        }
        Err(Refused::Ops(err)) => match super::refused_status(&err) {
            Some(status) => {
                let text = super::refusal_text(desk.lang, &err);
                import_page(&state, &desk, status, None, Some(text)).await
            }
            None => internal(&err),
        },
    }
}

/// Why an upload was not taken.
enum Refused {
    Csrf,
    Ops(OpsError),
}

/// A form field other than the file, read up to a size no honest field reaches: the token
/// is read before anything is known of the sender.
async fn small_text(field: &mut axum::extract::multipart::Field<'_>) -> Result<String, Refused> {
    const MOST: usize = 1024;
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(refused_upload)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MOST {
            return Err(Refused::Ops(OpsError::Invalid(
                "a field of the form is too long".into(),
            )));
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| Refused::Ops(OpsError::Invalid("a field of the form is not text".into())))
}

fn refused_upload(err: axum::extract::multipart::MultipartError) -> Refused {
    Refused::Ops(OpsError::Invalid(format!(
        "the upload is unreadable: {err}"
    )))
}

/// Stops the running import after its current batch, or forgets finished runs.
pub(crate) async fn stop(State(state): State<AppState>, desk: Desk) -> Response {
    match ops::stop_or_clear(&state.db, &desk.staff.caller()).await {
        Ok(_) => Redirect::to("/admin/import?done=stopped").into_response(),
        Err(err) => match super::refused_status(&err) {
            Some(status) => {
                let text = super::refusal_text(desk.lang, &err);
                import_page(&state, &desk, status, None, Some(text)).await
            }
            None => internal(&err),
        },
    }
}
