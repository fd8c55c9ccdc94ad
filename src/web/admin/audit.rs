//! The audit log's page (admins only): staff's changes, filtered by who, what and when, as
//! `GET /api/audit` gives them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::login::internal;
use super::{Desk, page};
use crate::ops::audit as ops;
use crate::web::api::audit::AuditParams;
use crate::web::extract::Query;
use crate::web::state::AppState;

const PER_PAGE: i64 = 50;

pub(crate) async fn show(
    State(state): State<AppState>,
    desk: Desk,
    Query(params): Query<AuditParams>,
) -> Response {
    let page_number = params
        .page
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=1_000_000_000).contains(p))
        .unwrap_or(1);
    let query = match params.query(PER_PAGE, (page_number - 1).saturating_mul(PER_PAGE)) {
        Ok(query) => query,
        Err(err) => {
            return page(
                &state,
                Some(&desk),
                desk.lang,
                StatusCode::BAD_REQUEST,
                "admin/audit.html",
                "desk.audit.title",
                json!({ "filter": params, "entries": [], "error": err.to_string() }),
            );
        }
    };
    let (entries, total) = match ops::search(&state.db, &query).await {
        Ok(found) => found,
        Err(err) => return internal(&err),
    };
    let entries: Vec<_> = entries
        .into_iter()
        .map(|e| {
            let pretty = |v: &Option<sqlx::types::Json<serde_json::Value>>| {
                v.as_ref().and_then(|j| serde_json::to_string_pretty(&j.0).ok())
            };
            json!({
                "at": e.at.as_datetime().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "at_text": e.at.as_datetime().format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC")).unwrap_or_default(),
                "actor": e.actor_name,
                "actor_kind": e.actor_kind,
                "ip": e.ip,
                "action": e.action,
                "object": format!("{} {}", e.object_kind, e.object_id.map(|i| i.to_string()).unwrap_or_default()).trim().to_owned(),
                "before": pretty(&e.before),
                "after": pretty(&e.after),
            })
        })
        .collect();
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    let mut next = params.page_query();
    next.push(("page".into(), (page_number + 1).to_string()));
    let mut previous = params.page_query();
    previous.push(("page".into(), (page_number - 1).to_string()));
    let encode = |pairs: Vec<(String, String)>| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    page(
        &state,
        Some(&desk),
        desk.lang,
        StatusCode::OK,
        "admin/audit.html",
        "desk.audit.title",
        json!({
            "filter": params,
            "entries": entries,
            "total": total,
            "page": page_number,
            "pages": pages,
            "next": (page_number < pages).then(|| format!("/admin/audit?{}", encode(next))),
            "previous": (page_number > 1).then(|| format!("/admin/audit?{}", encode(previous))),
        }),
    )
}
