//! `GET /api/subscribers/export`, as listmonk's: every reader a query finds (the parameters
//! of `GET /api/subscribers`), as a CSV download written batch by batch while the database
//! gives the rows, so a million readers take no more memory than a thousand. The desk's
//! readers page downloads its matches through the same function.
//!
//! The file is `bulten subscribers export`'s (listmonk's columns
//! `uuid,email,name,attributes,status,created_at,updated_at`, cells a spreadsheet would run
//! as formulas quoted), so it goes back in through the import unchanged.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::subscribers::SearchParams;
use crate::domain::SubscriberQuery;
use crate::ops::access::Caller;
use crate::ops::imports::export_lines;
use crate::ops::subscribers::{self as ops, SubscriberWithLists};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Query};
use crate::web::state::AppState;

/// How long the download waits for its client to take the next part.
const STALLED_CLIENT: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) async fn subscribers(
    State(state): State<AppState>,
    Acting(by): Acting,
    Query(params): Query<SearchParams>,
) -> Result<Response, ApiError> {
    let query = params.to_query(None, 0)?;
    csv_download(&state, &by, &query).await
}

/// Every reader `query` finds, as a CSV file streamed to the client. A few run at once (they
/// share the whole-list answers' slots); more are asked to come back shortly.
pub(crate) async fn csv_download(
    state: &AppState,
    by: &Caller,
    query: &SubscriberQuery,
) -> Result<Response, ApiError> {
    let Ok(slot) = state.whole_lists.clone().try_acquire_owned() else {
        return Err(ApiError::Status(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "other whole-list downloads are running; try again shortly".into(),
        ));
    };
    let (_, mut batches) = ops::search_all(&state.db, by, query).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        let _slot = slot;
        let send = |chunk| tokio::time::timeout(STALLED_CLIENT, tx.send(chunk));
        if !matches!(send(rows(&[], true)).await, Ok(Ok(()))) {
            return;
        }
        while let Some(batch) = batches.recv().await {
            let chunk = batch
                .map_err(std::io::Error::other)
                .and_then(|batch| rows(&batch, false));
            let failed = chunk.is_err();
            if let Err(err) = &chunk {
                tracing::error!(error = %crate::telemetry::chain(err), "exporting subscribers failed");
            }
            // An error after the first byte can only cut the file short.
            if !matches!(send(chunk).await, Ok(Ok(()))) || failed {
                return;
            }
        }
    });
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"subscribers.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// A batch of readers as CSV lines; the header line alone with `header`.
fn rows(batch: &[SubscriberWithLists], header: bool) -> Result<Bytes, std::io::Error> {
    export_lines(batch.iter().map(|found| &found.subscriber), header)
        .map(Bytes::from)
        .map_err(std::io::Error::other)
}
