//! `/api/outbox`: the messages the outbox transport kept, for looking at real mail without
//! a mail server.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{Data, PageParams, PageResults, data};
use crate::domain::Timestamp;
use crate::ops::outbox::{self, OutboxSummary};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Path, Query};
use crate::web::state::AppState;

#[derive(Debug, Serialize)]
pub(crate) struct OutboxView {
    id: i64,
    delivery_id: Option<i64>,
    campaign_id: Option<i64>,
    from: String,
    to: String,
    subject: String,
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
}

impl OutboxView {
    fn new(s: OutboxSummary, raw: Option<String>) -> Self {
        Self {
            id: s.id,
            delivery_id: s.delivery_id,
            campaign_id: s.campaign_id,
            from: s.mail_from,
            to: s.rcpt,
            subject: s.subject,
            created_at: s.created_at,
            raw,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    /// Only messages to this envelope recipient.
    to: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

/// `GET /api/outbox`
pub(crate) async fn search(
    State(state): State<AppState>,
    Acting(by): Acting,
    Query(params): Query<SearchParams>,
) -> Result<Json<Data<PageResults<OutboxView>>>, ApiError> {
    let page = params.page.resolve()?;
    let to = params.to.filter(|t| !t.trim().is_empty());
    let (rows, total) =
        outbox::search(&state.db, &by, to.as_deref(), page.limit, page.offset()).await?;
    let results = rows.into_iter().map(|r| OutboxView::new(r, None)).collect();
    Ok(data(PageResults::new(
        results,
        total,
        page,
        to.unwrap_or_default(),
    )))
}

/// `GET /api/outbox/{id}`: with `raw`, the whole message as sent.
pub(crate) async fn get_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<OutboxView>>, ApiError> {
    let message = outbox::get(&state.db, &by, id).await?;
    let raw = String::from_utf8_lossy(&message.message).into_owned();
    Ok(data(OutboxView::new(message.summary, Some(raw))))
}
