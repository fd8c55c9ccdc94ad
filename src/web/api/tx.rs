//! `POST /api/tx`: listmonk's transactional endpoint, on the durable ledger.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

use super::{Data, data};
use crate::domain::ContentType;
use crate::ops::tx::{self as ops, SubscriberMode, TxRecipient, TxRequest};
use crate::web::error::ApiError;
use crate::web::extract::Json as Body;
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
pub struct TxBody {
    subscriber_email: Option<String>,
    subscriber_id: Option<i64>,
    #[serde(default)]
    subscriber_emails: Vec<String>,
    #[serde(default)]
    subscriber_ids: Vec<i64>,
    subscriber_mode: Option<String>,
    template_id: Option<i64>,
    from_email: Option<String>,
    subject: Option<String>,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    headers: Value,
    messenger: Option<String>,
    content_type: Option<ContentType>,
    altbody: Option<String>,
}

/// `POST /api/tx`
pub async fn send(
    State(state): State<AppState>,
    Body(body): Body<TxBody>,
) -> Result<Json<Data<bool>>, ApiError> {
    if body.messenger.as_deref().is_some_and(|m| m != "email") {
        return Err(ApiError::bad_request(
            "only the email messenger is available",
        ));
    }
    let mode = match body.subscriber_mode.as_deref() {
        None | Some("" | "default") => SubscriberMode::Default,
        Some("fallback") => SubscriberMode::Fallback,
        Some("external") => SubscriberMode::External,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown subscriber_mode '{other}' (expected default, fallback or external)"
            )));
        }
    };
    let mut recipients: Vec<TxRecipient> = Vec::new();
    recipients.extend(body.subscriber_email.into_iter().map(TxRecipient::Email));
    recipients.extend(body.subscriber_emails.into_iter().map(TxRecipient::Email));
    recipients.extend(body.subscriber_id.into_iter().map(TxRecipient::Id));
    recipients.extend(body.subscriber_ids.into_iter().map(TxRecipient::Id));
    let template_id = body
        .template_id
        .ok_or_else(|| ApiError::bad_request("template_id is required"))?;
    let request = TxRequest {
        recipients,
        mode,
        template_id,
        from_email: body.from_email.filter(|f| !f.trim().is_empty()),
        subject: body.subject.filter(|s| !s.trim().is_empty()),
        data: if body.data.is_null() {
            serde_json::json!({})
        } else {
            body.data
        },
        headers: body.headers,
        content_type: body.content_type.unwrap_or(ContentType::Html),
        altbody: body.altbody,
    };
    ops::send(
        &state.db,
        &state.mailer,
        &state.settings.from_email(),
        &request,
    )
    .await?;
    state.kick.kick();
    Ok(data(true))
}
