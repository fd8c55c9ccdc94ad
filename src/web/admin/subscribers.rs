//! The readers pages: searching readers (by address or name, or with the filter language),
//! sortable and paged, and one reader's page with everything stored about them. They read
//! the parameters `/api/subscribers` reads and call the same `ops::subscribers` functions.

use axum::extract::State;
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
use crate::web::api::export::csv_download;
use crate::web::api::subscribers::SearchParams;
use crate::web::extract::Query;
use crate::web::state::AppState;

const PER_PAGE: i64 = 50;

fn date(at: crate::domain::Timestamp) -> String {
    at.as_datetime().date().to_string()
}

/// What the page may say it has done, after a redirect; and where a keyset page starts.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
    /// The next page: readers past this ID in the page's order.
    after_id: Option<String>,
    /// The previous page: readers before this ID.
    before_id: Option<String>,
}

/// A filter that reads every reader's attributes or name is counted up to this many; past
/// it the page says "more than". Counting the exact number of a million rows is what made
/// a filtered page slow, and nobody pages through ten thousand readers.
const COUNT_UP_TO: i64 = 10_000;

pub(crate) async fn search(
    State(state): State<AppState>,
    desk: Desk,
    Query(params): Query<SearchParams>,
    Query(done): Query<Done>,
) -> Response {
    let lang = desk.lang;
    let notice = super::done_notice(
        lang,
        done.done.as_deref(),
        "desk.readers.",
        &["deleted", "bulk"],
    );
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
    let link =
        |page: i64, order_by: Option<&str>, order: Option<&str>, cursor: Option<(&str, i64)>| {
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
            if let Some((name, id)) = cursor {
                pairs.append_pair(name, &id.to_string());
            }
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
                json!({"href": link(1, Some(column), Some(next), None), "aria": aria}),
            )
        })
        .collect();
    ctx["sort"] = json!(sort);
    ctx["export"] = json!(link(1, None, None, None).replacen(
        "/admin/subscribers?",
        "/admin/subscribers/export?",
        1
    ));
    // A filter that does not parse or compile: the page again, saying why.
    let refused_with = |status: StatusCode, mut ctx: serde_json::Value, reason: String| {
        ctx["error"] = json!(reason);
        page(
            &state,
            Some(&desk),
            lang,
            status,
            "admin/subscribers.html",
            "desk.readers.title",
            ctx,
        )
    };
    let refused = |ctx, reason| refused_with(StatusCode::BAD_REQUEST, ctx, reason);
    let mut query =
        // One more than a page: whether it comes says whether there is a page beyond.
        match params.to_query(Some(PER_PAGE + 1), (page_number - 1).saturating_mul(PER_PAGE)) {
            Ok(query) => query,
            Err(err) => return refused(ctx, err.to_string()),
        };
    if query.filter.is_some() {
        query.count_up_to = Some(COUNT_UP_TO + 1);
    }
    let by_id = query.order_by == crate::domain::SubscriberOrder::Id;
    let cursor_id =
        |text: &Option<String>| text.as_deref().and_then(|t| t.trim().parse::<i64>().ok());
    query.past_id = match (cursor_id(&done.after_id), cursor_id(&done.before_id)) {
        (Some(id), _) if by_id => Some(crate::domain::IdCursor { id, back: false }),
        (None, Some(id)) if by_id => Some(crate::domain::IdCursor { id, back: true }),
        _ => None,
    };
    let going_back = query.past_id.is_some_and(|c| c.back);
    let (mut found, total) = match ops::search(&state.db, &desk.staff.caller(), &query).await {
        Ok(found) => found,
        Err(OpsError::Invalid(message)) => return refused(ctx, message),
        // A filter on a list the user cannot see: the page again, saying so.
        Err(err) if super::refused_status(&err).is_some() => {
            let status = super::refused_status(&err).unwrap_or(StatusCode::BAD_REQUEST);
            return refused_with(status, ctx, super::refusal_text(lang, &err));
        }
        Err(err) => return internal(&err),
    };
    // The extra reader is the farthest from where the page was read from: the last one
    // going forward, the first going back (the rows come turned round).
    let beyond = found.len() as i64 > PER_PAGE;
    if beyond {
        if going_back {
            found.remove(0);
        } else {
            found.truncate(PER_PAGE as usize);
        }
    }
    let found_ids: Vec<i64> = found.iter().map(|r| r.subscriber.id).collect();
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
    let capped = query.count_up_to.is_some_and(|cap| total >= cap);
    let total = if capped { COUNT_UP_TO } else { total };
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    // In the ID order the neighbours are keyset pages, which cost the same at any depth.
    let first_id = found_ids.first().copied();
    let last_id = found_ids.last().copied();
    let neighbour =
        |page: i64, cursor: Option<(&str, i64)>| link(page, None, None, cursor.filter(|_| by_id));
    ctx["results"] = json!(results);
    ctx["total"] = json!(total);
    ctx["capped"] = json!(capped);
    ctx["page"] = json!(page_number);
    ctx["pages"] = json!((!capped).then_some(pages));
    // Page 1 is read afresh rather than back from a cursor, so readers added meanwhile
    // show at its top.
    let previous = match page_number {
        ..=1 => None,
        2 => Some(link(1, None, None, None)),
        _ => Some(neighbour(
            page_number - 1,
            first_id.map(|id| ("before_id", id)),
        )),
    };
    ctx["previous"] = json!(previous);
    // Going back, the page read from is beyond this one.
    let more = going_back || beyond;
    ctx["next"] =
        json!(more.then(|| neighbour(page_number + 1, last_id.map(|id| ("after_id", id)))));
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

/// Downloads every reader the page's filter finds, as CSV: the API's export, streamed.
pub(crate) async fn export(
    State(state): State<AppState>,
    desk: Desk,
    Query(params): Query<SearchParams>,
) -> Response {
    let download = match params.to_query(None, 0) {
        Ok(query) => csv_download(&state, &desk.staff.caller(), &query).await,
        Err(err) => Err(err),
    };
    download.unwrap_or_else(IntoResponse::into_response)
}
