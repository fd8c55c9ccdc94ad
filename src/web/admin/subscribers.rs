//! The readers pages: searching readers (by address or name, or with the filter language),
//! sortable and paged, and one reader's page with everything stored about them. They read
//! the parameters `/api/subscribers` reads and call the same `ops::subscribers` functions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::login::internal;
use super::{Desk, page};
use crate::i18n;
use crate::ops::OpsError;
use crate::ops::access::ListAccess;
use crate::ops::lists as lists_ops;
use crate::ops::subscribers as ops;
use crate::web::api::subscribers::SearchParams;
use crate::web::extract::Query;
use crate::web::state::AppState;

const PER_PAGE: i64 = 50;

fn date(at: crate::domain::Timestamp) -> String {
    at.as_datetime().date().to_string()
}

pub(crate) async fn search(
    State(state): State<AppState>,
    desk: Desk,
    Query(params): Query<SearchParams>,
) -> Response {
    let lang = desk.lang;
    let page_number = params
        .page
        .page
        .as_deref()
        .and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| (1..=1_000_000_000).contains(p))
        .unwrap_or(1);
    let lists = match lists_ops::all(&state.db, &desk.staff.caller(), ListAccess::Get).await {
        Ok(lists) => lists,
        Err(err) => return internal(&err),
    };
    let list_options: Vec<_> = lists
        .iter()
        .map(|l| json!({"id": l.id.to_string(), "name": l.name}))
        .collect();
    let statuses: Vec<_> = ["confirmed", "unconfirmed", "unsubscribed"]
        .iter()
        .map(|s| json!({"value": s, "label": i18n::text(lang, &format!("desk.status.{s}"))}))
        .collect();
    let mut ctx = json!({
        "filter": params,
        "statuses": statuses,
        "lists": list_options,
        "results": [],
        "total": 0,
    });
    let link = |page: i64, order_by: Option<&str>, order: Option<&str>| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("search", params.search.as_deref()),
            ("query", params.query.as_deref()),
            ("list_id", params.list_id.as_deref()),
            ("subscription_status", params.subscription_status.as_deref()),
            ("order_by", order_by.or(params.order_by.as_deref())),
            ("order", order.or(params.order.as_deref())),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                pairs.append_pair(key, value);
            }
        }
        pairs.append_pair("page", &page.to_string());
        format!("/admin/subscribers?{}", pairs.finish())
    };
    let current_order = params.order.as_deref().unwrap_or("desc");
    let sort: serde_json::Map<String, serde_json::Value> = ["email", "name", "created_at", "id"]
        .iter()
        .map(|column| {
            let active = params.order_by.as_deref().unwrap_or("id") == *column;
            let next = if active && current_order.eq_ignore_ascii_case("asc") {
                "desc"
            } else {
                "asc"
            };
            let aria = match (active, current_order.eq_ignore_ascii_case("asc")) {
                (false, _) => "none",
                (true, true) => "ascending",
                (true, false) => "descending",
            };
            (
                (*column).to_owned(),
                json!({"href": link(1, Some(column), Some(next)), "aria": aria}),
            )
        })
        .collect();
    ctx["sort"] = json!(sort);
    // A filter that does not parse or compile: the page again, saying why.
    let refused = |mut ctx: serde_json::Value, reason: String| {
        ctx["error"] = json!(reason);
        page(
            &state,
            Some(&desk),
            lang,
            StatusCode::BAD_REQUEST,
            "admin/subscribers.html",
            "desk.readers.title",
            ctx,
        )
    };
    let query = match params.to_query(Some(PER_PAGE), (page_number - 1).saturating_mul(PER_PAGE)) {
        Ok(query) => query,
        Err(err) => return refused(ctx, err.to_string()),
    };
    let (found, total) = match ops::search(&state.db, &desk.staff.caller(), &query).await {
        Ok(found) => found,
        Err(OpsError::Invalid(message)) => return refused(ctx, message),
        Err(err) => return internal(&err),
    };
    let results: Vec<_> = found
        .into_iter()
        .map(|r| {
            json!({
                "id": r.subscriber.id,
                "email": r.subscriber.email.as_str(),
                "name": r.subscriber.name.as_str(),
                "status": i18n::text(lang, &format!("desk.status.{}", r.subscriber.status.as_str())),
                "lists": r.subscriptions.iter().map(|s| json!({
                    "name": s.list.name,
                    "status": i18n::text(lang, &format!("desk.status.{}", s.status.as_str())),
                })).collect::<Vec<_>>(),
                "created": date(r.subscriber.created_at),
            })
        })
        .collect();
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    ctx["results"] = json!(results);
    ctx["total"] = json!(total);
    ctx["page"] = json!(page_number);
    ctx["pages"] = json!(pages);
    ctx["previous"] = json!((page_number > 1).then(|| link(page_number - 1, None, None)));
    ctx["next"] = json!((page_number < pages).then(|| link(page_number + 1, None, None)));
    page(
        &state,
        Some(&desk),
        lang,
        StatusCode::OK,
        "admin/subscribers.html",
        "desk.readers.title",
        ctx,
    )
}

pub(crate) async fn one(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    let lang = desk.lang;
    let data = match ops::export(&state.db, &desk.staff.caller(), id).await {
        Ok(data) => data,
        Err(OpsError::NotFound(_)) => {
            return (StatusCode::NOT_FOUND, "no such reader").into_response();
        }
        Err(err) => return internal(&err),
    };
    let Some(profile) = data.profile.first() else {
        return (StatusCode::NOT_FOUND, "no such reader").into_response();
    };
    let status = |s: &str| i18n::text(lang, &format!("desk.status.{s}")).to_owned();
    page(
        &state,
        Some(&desk),
        lang,
        StatusCode::OK,
        "admin/subscriber.html",
        "desk.readers.title",
        json!({
            "reader": {
                "id": profile.id,
                "uuid": profile.uuid,
                "email": profile.email,
                "name": profile.name,
                "status": status(profile.status.as_str()),
                "attribs": serde_json::to_string_pretty(&profile.attribs).unwrap_or_default(),
                "created": date(profile.created_at),
                "updated": date(profile.updated_at),
            },
            "subscriptions": data.subscriptions.iter().map(|s| json!({
                "id": s.list_id,
                "name": s.name,
                "status": status(s.subscription_status.as_str()),
                "since": date(s.created_at),
            })).collect::<Vec<_>>(),
            "consents": data.consents.iter().map(|c| json!({
                "list": c.list_name,
                "source": c.source,
                "page": c.page,
                "language": c.language,
                "terms": c.terms_version,
                "privacy": c.privacy_version,
                "text": c.consent_text,
            })).collect::<Vec<_>>(),
            "messages": data.messages.iter().map(|m| json!({
                "campaign": m.campaign_name.clone().unwrap_or_else(|| i18n::text(lang, "desk.readers.transactional").to_owned()),
                "status": m.status.as_str(),
                "at": date(m.updated_at.unwrap_or(m.created_at)),
            })).collect::<Vec<_>>(),
        }),
    )
}

/// Everything stored about a reader, as the reader's own download and
/// `GET /api/subscribers/{id}/export` give it.
pub(crate) async fn export(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match ops::export(&state.db, &desk.staff.caller(), id).await {
        Ok(data) => (
            [(
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"reader-{id}.json\""),
            )],
            axum::Json(data),
        )
            .into_response(),
        Err(OpsError::NotFound(_)) => (StatusCode::NOT_FOUND, "no such reader").into_response(),
        Err(err) => internal(&err),
    }
}
