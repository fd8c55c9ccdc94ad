//! The readers pages: searching readers (by address or name, or with the filter language),
//! sortable and paged, and one reader's page with everything stored about them. They read
//! the parameters `/api/subscribers` reads and call the same `ops::subscribers` functions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
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

/// What the page may say it has done, after a redirect.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

pub(crate) async fn search(
    State(state): State<AppState>,
    desk: Desk,
    Query(params): Query<SearchParams>,
    Query(done): Query<Done>,
) -> Response {
    let lang = desk.lang;
    let notice = done
        .done
        .as_deref()
        .filter(|d| ["deleted", "bulk"].contains(d))
        .map(|d| i18n::text(lang, &format!("desk.readers.done_{d}")).to_owned());
    let may_add = desk
        .staff
        .caller()
        .require(crate::ops::access::Permission::SubscribersManage)
        .is_ok();
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
    let manageable = match lists_ops::all(&state.db, &desk.staff.caller(), ListAccess::Manage).await
    {
        Ok(lists) => lists,
        Err(err) => return internal(&err),
    };
    let bulk_actions: Vec<_> = ["add", "remove", "unsubscribe", "blocklist", "delete"]
        .iter()
        .map(|a| json!({"value": a, "label": i18n::text(lang, &format!("desk.bulk.action_{a}"))}))
        .collect();
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
        "notice": notice,
        "may_add": may_add,
        "manageable": manageable.iter().map(|l| json!({"id": l.id, "name": l.name})).collect::<Vec<_>>(),
        "bulk_actions": bulk_actions,
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
