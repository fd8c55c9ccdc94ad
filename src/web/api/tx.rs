//! `POST /api/tx`: listmonk's transactional endpoint, on the durable ledger. The body is JSON,
//! or, to attach files, multipart with the JSON in a `data` field and each file in a `file`
//! field, as listmonk takes it.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use serde::Deserialize;
use serde_json::Value;

use super::{Data, data};
use crate::domain::ContentType;
use crate::ops::tx::{self as ops, SubscriberMode, TxRecipient, TxRequest};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Json as Body};
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct TxBody {
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

/// At most this many files per message.
const MAX_ATTACHMENTS: usize = 20;

/// `POST /api/tx`
pub(crate) async fn send(
    State(state): State<AppState>,
    Acting(by): Acting,
    request: Request,
) -> Result<Json<Data<bool>>, ApiError> {
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (body, attachments) = if multipart {
        read_multipart(Multipart::from_request(request, &state).await?).await?
    } else {
        let Body(body) = Body::<TxBody>::from_request(request, &state).await?;
        (body, Vec::new())
    };
    send_body(&state, &by, body, attachments).await
}

async fn read_multipart(
    mut form: Multipart,
) -> Result<(TxBody, Vec<crate::mail::message::Attachment>), ApiError> {
    let mut body: Option<TxBody> = None;
    let mut attachments = Vec::new();
    while let Some(field) = form.next_field().await? {
        match field.name() {
            Some("data") => {
                let text = field.text().await?;
                body = Some(serde_json::from_str(&text).map_err(|e| {
                    ApiError::bad_request(format!("invalid JSON in the data field: {e}"))
                })?);
            }
            Some("file") => {
                if attachments.len() == MAX_ATTACHMENTS {
                    return Err(ApiError::bad_request(format!(
                        "at most {MAX_ATTACHMENTS} files per message"
                    )));
                }
                let filename: String = field
                    .file_name()
                    .unwrap_or("attachment")
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect();
                let content_type = field
                    .content_type()
                    .filter(|t| is_media_type(t))
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let bytes = field.bytes().await?.to_vec();
                attachments.push(crate::mail::message::Attachment {
                    filename,
                    content_type,
                    bytes,
                });
            }
            _ => {}
        }
    }
    let body = body
        .ok_or_else(|| ApiError::bad_request("the data field with the message JSON is missing"))?;
    Ok((body, attachments))
}

/// `type/subtype` in token characters: what a Content-Type header may carry from a client.
fn is_media_type(text: &str) -> bool {
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    text.split_once('/')
        .is_some_and(|(a, b)| token(a) && token(b))
}

async fn send_body(
    state: &AppState,
    by: &crate::ops::access::Caller,
    body: TxBody,
    attachments: Vec<crate::mail::message::Attachment>,
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
        attachments,
    };
    ops::send(
        &state.db,
        &state.kit,
        by,
        &state.settings.from_email,
        &request,
    )
    .await?;
    state.kick.kick();
    Ok(data(true))
}
