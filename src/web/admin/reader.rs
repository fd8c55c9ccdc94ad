//! One reader on the desk: everything stored about them, and what staff may do to them
//! (edit the address, name, attributes and lists, blocklist, mail the confirmation again,
//! delete), and adding a reader by hand. Each action calls the `ops::subscribers` function
//! `/api/subscribers` calls, so a list limit or a rule holds the same on both.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::login::internal;
use super::{Desk, page};
use crate::domain::{
    Attribs, EmailAddress, ListAction, SubscriberName, SubscriberStatus, SubscriptionStatus,
};
use crate::i18n;
use crate::ops::OpsError;
use crate::ops::access::{ListAccess, Permission};
use crate::ops::bulk::{self as bulk, BulkAction, Matching};
use crate::ops::lists as lists_ops;
use crate::ops::reader::Resent;
use crate::ops::subscribers::{self as ops, NewSubscriber, SubscriberChanges, SubscriberFields};
use crate::web::state::AppState;

fn date(at: crate::domain::Timestamp) -> String {
    at.as_datetime().date().to_string()
}

#[derive(Debug, Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// Notices a redirect back to the reader's page may name.
const NOTICES: &[&str] = &["added", "saved", "blocklisted", "optin_sent"];

/// What the edit form holds, given back as typed when it is refused.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct Edit {
    email: String,
    name: String,
    status: String,
    attribs: String,
    lists: Vec<i64>,
}

impl Edit {
    fn from_form(form: &[(String, String)]) -> Self {
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        Self {
            email: field("email"),
            name: field("name"),
            status: field("status"),
            attribs: field("attribs"),
            lists: form
                .iter()
                .filter(|(k, _)| k == "list")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
        }
    }

    fn email(&self) -> Result<EmailAddress, OpsError> {
        EmailAddress::parse(&self.email).map_err(|e| OpsError::Invalid(e.to_string()))
    }

    fn attribs(&self) -> Result<Attribs, OpsError> {
        Ok(Attribs::parse_json_text(&self.attribs)?)
    }
}

pub(crate) async fn one(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Response {
    let notice = super::done_notice(desk.lang, done.done.as_deref(), "desk.readers.", NOTICES);
    reader_page(&state, &desk, id, StatusCode::OK, notice, None, None).await
}

async fn reader_page(
    state: &AppState,
    desk: &Desk,
    id: i64,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    typed: Option<&Edit>,
) -> Response {
    let lang = desk.lang;
    let caller = desk.staff.caller();
    let data = match ops::export(&state.db, &caller, id).await {
        Ok(data) => data,
        Err(OpsError::NotFound(_)) => {
            return (StatusCode::NOT_FOUND, "no such reader").into_response();
        }
        Err(err) => return internal(&err),
    };
    let Some(profile) = data.profile.first() else {
        return (StatusCode::NOT_FOUND, "no such reader").into_response();
    };
    let manageable = match lists_ops::all(&state.db, &caller, ListAccess::Manage).await {
        Ok(lists) => lists,
        Err(err) => return internal(&err),
    };
    let on: Vec<i64> = data.subscriptions.iter().map(|s| s.list_id).collect();
    // A reader on no list is reached by users limited to no list only.
    let may_manage = caller.require(Permission::SubscribersManage).is_ok()
        && (caller.reaches_all_lists()
            || on
                .iter()
                .any(|l| caller.lists.allows(*l, ListAccess::Manage)));
    let label = |s: &str| i18n::text(lang, &format!("desk.status.{s}")).to_owned();
    let edit = typed.cloned().unwrap_or_else(|| Edit {
        email: profile.email.clone(),
        name: profile.name.clone(),
        status: profile.status.as_str().to_owned(),
        attribs: serde_json::to_string_pretty(&profile.attribs).unwrap_or_default(),
        lists: on.clone(),
    });
    let waiting = data
        .subscriptions
        .iter()
        .any(|s| s.subscription_status == SubscriptionStatus::Unconfirmed);
    page(
        state,
        Some(desk),
        lang,
        status,
        "admin/subscriber.html",
        "desk.readers.title",
        json!({
            "notice": notice,
            "error": error,
            "may_manage": may_manage,
            "waiting": waiting,
            "edit": edit,
            "statuses": SubscriberStatus::ALL.iter().map(|s| json!({"value": s.as_str(), "label": label(s.as_str())})).collect::<Vec<_>>(),
            "list_choices": manageable.iter().map(|l| json!({
                "id": l.id,
                "name": l.name,
                "checked": edit.lists.contains(&l.id),
            })).collect::<Vec<_>>(),
            // Lists the user sees but may not change: the form keeps the reader on them.
            "kept_lists": on.iter().filter(|l| !caller.lists.allows(**l, ListAccess::Manage)).collect::<Vec<_>>(),
            "reader": {
                "id": profile.id,
                "uuid": profile.uuid,
                "email": profile.email,
                "name": profile.name,
                "status": label(profile.status.as_str()),
                "attribs": serde_json::to_string_pretty(&profile.attribs).unwrap_or_default(),
                "created": date(profile.created_at),
                "updated": date(profile.updated_at),
            },
            "subscriptions": data.subscriptions.iter().map(|s| json!({
                "id": s.list_id,
                "name": s.name,
                "status": label(s.subscription_status.as_str()),
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
    .into_response()
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

/// Saves the edit form: address, name, status, attributes (replaced) and lists.
pub(crate) async fn edit(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let typed = Edit::from_form(&form);
    let saved = async {
        let email = typed.email()?;
        let changes = SubscriberChanges {
            name: Some(SubscriberName::parse_or_default(Some(&typed.name), &email)?),
            email: Some(email),
            attribs: Some(typed.attribs()?),
            merge_attribs: false,
            status: Some(typed.status.parse::<SubscriberStatus>()?),
            list_ids: Some(typed.lists.clone()),
            preconfirm: false,
        };
        ops::update(&state.db, &desk.staff.caller(), id, changes).await
    };
    match saved.await {
        Ok(_) => Redirect::to(&format!("/admin/subscribers/{id}?done=saved")).into_response(),
        Err(err) => refused(&state, &desk, id, err, Some(&typed)).await,
    }
}

/// An action refused: the reader's page again, saying why; a reader out of sight is 404.
async fn refused(
    state: &AppState,
    desk: &Desk,
    id: i64,
    err: OpsError,
    typed: Option<&Edit>,
) -> Response {
    let status = match super::refused_status(&err) {
        Some(StatusCode::NOT_FOUND) => {
            return (StatusCode::NOT_FOUND, "no such reader").into_response();
        }
        Some(status) => status,
        None => return internal(&err),
    };
    reader_page(
        state,
        desk,
        id,
        status,
        None,
        Some(super::refusal_text(desk.lang, &err)),
        typed,
    )
    .await
}

/// Blocklists the reader: unsubscribed from every list, never mailed again.
pub(crate) async fn blocklist(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match ops::blocklist(&state.db, &desk.staff.caller(), &[id]).await {
        Ok(_) => Redirect::to(&format!("/admin/subscribers/{id}?done=blocklisted")).into_response(),
        Err(err) => refused(&state, &desk, id, err, None).await,
    }
}

/// Mails the confirmation again, within the limits every confirmation mail obeys.
pub(crate) async fn resend_optin(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match state
        .readers
        .resend_confirmation(&desk.staff.caller(), id)
        .await
    {
        Ok(Resent::Sent) => {
            state.kick.kick();
            Redirect::to(&format!("/admin/subscribers/{id}?done=optin_sent")).into_response()
        }
        Ok(not_sent) => {
            let (status, key) = match not_sent {
                Resent::Limited => (StatusCode::TOO_MANY_REQUESTS, "desk.readers.optin_limited"),
                _ => (StatusCode::BAD_REQUEST, "desk.readers.optin_nothing"),
            };
            let text = i18n::text(desk.lang, key).to_owned();
            reader_page(&state, &desk, id, status, None, Some(text), None).await
        }
        Err(err) => refused(&state, &desk, id, err, None).await,
    }
}

/// Deletes the reader and their subscriptions.
pub(crate) async fn delete(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match ops::delete(&state.db, &desk.staff.caller(), &[id]).await {
        Ok(_) => Redirect::to("/admin/subscribers?done=deleted").into_response(),
        Err(err) => refused(&state, &desk, id, err, None).await,
    }
}

/// The form that adds a reader by hand.
pub(crate) async fn new_form(State(state): State<AppState>, desk: Desk) -> Response {
    add_page(&state, &desk, StatusCode::OK, None, &Edit::default(), false).await
}

async fn add_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    error: Option<String>,
    typed: &Edit,
    preconfirm: bool,
) -> Response {
    let caller = desk.staff.caller();
    let manageable = match lists_ops::all(&state.db, &caller, ListAccess::Manage).await {
        Ok(lists) => lists,
        Err(err) => return internal(&err),
    };
    page(
        state,
        Some(desk),
        desk.lang,
        status,
        "admin/subscriber-new.html",
        "desk.readers.add",
        json!({
            "error": error,
            "edit": typed,
            "preconfirm": preconfirm,
            "list_choices": manageable.iter().map(|l| json!({
                "id": l.id,
                "name": l.name,
                "checked": typed.lists.contains(&l.id),
            })).collect::<Vec<_>>(),
        }),
    )
}

/// Adds a reader by hand, on the lists ticked.
pub(crate) async fn add(
    State(state): State<AppState>,
    desk: Desk,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let typed = Edit::from_form(&form);
    let preconfirm = form.iter().any(|(k, v)| k == "preconfirm" && v == "on");
    let added = async {
        let email = typed.email()?;
        let new = NewSubscriber {
            fields: SubscriberFields {
                name: SubscriberName::parse_or_default(Some(&typed.name), &email)?,
                attribs: typed.attribs()?,
                status: SubscriberStatus::Enabled,
                email,
            },
            list_ids: typed.lists.clone(),
            preconfirm,
        };
        ops::create(&state.db, &desk.staff.caller(), new).await
    };
    match added.await {
        Ok(created) => Redirect::to(&format!(
            "/admin/subscribers/{}?done=added",
            created.subscriber.id
        ))
        .into_response(),
        Err(err) => {
            let Some(status) = super::refused_status(&err) else {
                return internal(&err);
            };
            add_page(
                &state,
                &desk,
                status,
                Some(super::refusal_text(desk.lang, &err)),
                &typed,
                preconfirm,
            )
            .await
        }
    }
}

/// The readers page's bulk form: the filter of the page, an action and its list.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct BulkForm {
    #[serde(flatten)]
    filter: crate::web::api::subscribers::SearchParams,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target_list: Option<String>,
    /// The count the user confirmed; the action runs only if it still holds.
    #[serde(default)]
    count: Option<String>,
}

impl BulkForm {
    fn action(&self) -> Result<BulkAction, OpsError> {
        Ok(match self.action.as_str() {
            "delete" => BulkAction::Delete,
            "blocklist" => BulkAction::Blocklist,
            "add" => BulkAction::Lists(ListAction::Add(SubscriptionStatus::Confirmed)),
            "remove" => BulkAction::Lists(ListAction::Remove),
            "unsubscribe" => BulkAction::Lists(ListAction::Unsubscribe),
            other => return Err(OpsError::Invalid(format!("unknown action '{other}'"))),
        })
    }

    fn lists(&self) -> Result<Vec<i64>, OpsError> {
        match self.target_list.as_deref().map(str::trim) {
            None | Some("") => Ok(Vec::new()),
            Some(text) => text
                .parse()
                .map(|id| vec![id])
                .map_err(|_| OpsError::Invalid(format!("'{text}' names no list"))),
        }
    }
}

/// Asks to confirm a bulk action: what it does, to how many readers. Changes nothing.
pub(crate) async fn bulk_confirm(
    State(state): State<AppState>,
    desk: Desk,
    crate::web::extract::Query(form): crate::web::extract::Query<BulkForm>,
) -> Response {
    bulk_page(&state, &desk, StatusCode::OK, &form, None).await
}

async fn bulk_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    form: &BulkForm,
    note: Option<String>,
) -> Response {
    let lang = desk.lang;
    let checked = async {
        let action = form.action()?;
        let lists = form.lists()?;
        if matches!(action, BulkAction::Lists(_)) && lists.is_empty() {
            return Err(OpsError::Invalid(
                i18n::text(lang, "desk.bulk.choose_list").to_owned(),
            ));
        }
        let query = form
            .filter
            .to_query(None, 0)
            .map_err(|e| OpsError::Invalid(e.to_string()))?;
        let count = bulk::count_matching(&state.db, &desk.staff.caller(), &query).await?;
        let list_name = match lists.first() {
            Some(id) => Some(
                lists_ops::get(&state.db, &desk.staff.caller(), *id)
                    .await?
                    .list
                    .name,
            ),
            None => None,
        };
        Ok((count, list_name))
    };
    let (count, list_name) = match checked.await {
        Ok(found) => found,
        Err(err) => {
            let Some(status) = super::refused_status(&err) else {
                return internal(&err);
            };
            let text = super::refusal_text(lang, &err);
            return page(
                state,
                Some(desk),
                lang,
                status,
                "admin/bulk.html",
                "desk.bulk.title",
                json!({"error": text, "count": 0, "back": back_link(form)}),
            );
        }
    };
    let one = if count == 1 { "_one" } else { "" };
    let what = i18n::text(lang, &format!("desk.bulk.do_{}{one}", form.action))
        .replace("{n}", &count.to_string())
        .replace("{list}", list_name.as_deref().unwrap_or_default());
    page(
        state,
        Some(desk),
        lang,
        status,
        "admin/bulk.html",
        "desk.bulk.title",
        json!({
            "note": note,
            "what": what,
            "count": count,
            "described": form.filter.describe(),
            "action": form.action,
            "target_list": form.target_list,
            "filter": form.filter,
            "danger": matches!(form.action.as_str(), "delete" | "blocklist"),
            "back": back_link(form),
        }),
    )
}

/// The readers page with the same filter.
fn back_link(form: &BulkForm) -> String {
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    let f = &form.filter;
    for (key, value) in [
        ("search", &f.search),
        ("query", &f.query),
        ("list_id", &f.list_id),
        ("subscription_status", &f.subscription_status),
    ] {
        pairs.append_pair(key, value.as_deref().unwrap_or_default());
    }
    format!("/admin/subscribers?{}", pairs.finish())
}

/// Runs a confirmed bulk action, if the number of readers is still the one confirmed;
/// otherwise asks again with the new number.
pub(crate) async fn bulk_apply(
    State(state): State<AppState>,
    desk: Desk,
    Form(form): Form<BulkForm>,
) -> Response {
    let caller = desk.staff.caller();
    let applied = async {
        let action = form.action()?;
        let lists = form.lists()?;
        let query = form
            .filter
            .to_query(None, 0)
            .map_err(|e| OpsError::Invalid(e.to_string()))?;
        let Some(expected) = form
            .count
            .as_deref()
            .and_then(|c| c.trim().parse::<u64>().ok())
        else {
            return Ok(None);
        };
        let described = form.filter.describe();
        let matching = Matching {
            query: &query,
            described: if described.is_empty() {
                "every reader"
            } else {
                &described
            },
        };
        match bulk::act_on_matching(&state.db, &caller, matching, action, &lists, Some(expected))
            .await
        {
            Ok(taken) => Ok(Some(taken)),
            // Readers came or went since the user confirmed: ask again.
            Err(OpsError::Conflict(_)) => Ok(None),
            Err(err) => Err(err),
        }
    };
    match applied.await {
        Ok(Some(_)) => Redirect::to(&format!("{}&done=bulk", back_link(&form))).into_response(),
        Ok(None) => {
            let note = i18n::text(desk.lang, "desk.bulk.changed").to_owned();
            bulk_page(&state, &desk, StatusCode::CONFLICT, &form, Some(note)).await
        }
        Err(err) => {
            let Some(status) = super::refused_status(&err) else {
                return internal(&err);
            };
            page(
                &state,
                Some(&desk),
                desk.lang,
                status,
                "admin/bulk.html",
                "desk.bulk.title",
                json!({"error": super::refusal_text(desk.lang, &err), "count": 0, "back": back_link(&form)}),
            )
        }
    }
}
