//! The lists page: each list with its subscriptions by status, creating, editing and deleting
//! lists with every field the API takes, and the signup snippet of a public list. It calls
//! the same `ops::lists` functions as `/api/lists`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::login::internal;
use super::{Desk, page};
use crate::domain::{Lang, ListName, ListStatus, ListType, OptinKind, Tags};
use crate::i18n;
use crate::ops::OpsError;
use crate::ops::access::{ListAccess, Permission};
use crate::ops::lists::{self as ops, ListChanges, ListQuery, ListWithCounts};
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

const NOTICES: &[&str] = &["created", "saved", "deleted"];

fn notice(desk: &Desk, done: &Done) -> Option<String> {
    super::done_notice(desk.lang, done.done.as_deref(), "desk.lists.", NOTICES)
}

/// Whether the user may create lists: their role allows it and they reach every list.
fn may_create(desk: &Desk) -> bool {
    let caller = desk.staff.caller();
    caller.require(Permission::ListsManage).is_ok() && caller.reaches_all_lists()
}

/// Whether the user may change list `id`.
fn may_manage(desk: &Desk, id: i64) -> bool {
    desk.staff.caller().require(Permission::ListsManage).is_ok()
        && desk.staff.lists.allows(id, ListAccess::Manage)
}

fn row(l: &ListWithCounts, lang: Lang) -> serde_json::Value {
    let count = |status: &str| {
        l.statuses
            .get(status)
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
    };
    json!({
        "id": l.list.id,
        "uuid": l.list.uuid,
        "name": l.list.name,
        "type": l.list.list_type.as_str(),
        "type_label": i18n::text(lang, &format!("desk.lists.type_{}", l.list.list_type.as_str())),
        "optin": l.list.optin.as_str(),
        "optin_label": i18n::text(lang, &format!("desk.lists.optin_{}", l.list.optin.as_str())),
        "status": l.list.status.as_str(),
        "tags": l.list.tags,
        "tags_text": l.list.tags.join(", "),
        "description": l.list.description,
        "language": l.list.language.map(Lang::as_str),
        "total": l.subscriber_count,
        "confirmed": count("confirmed"),
        "unconfirmed": count("unconfirmed"),
        "unsubscribed": count("unsubscribed"),
    })
}

pub(crate) async fn all(
    State(state): State<AppState>,
    desk: Desk,
    Query(done): Query<Done>,
) -> Response {
    let notice = notice(&desk, &done);
    lists_page(
        &state,
        &desk,
        StatusCode::OK,
        notice,
        None,
        &ListForm::default(),
    )
    .await
}

async fn lists_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    form: &ListForm,
) -> Response {
    let found = match ops::search(&state.db, &desk.staff.caller(), &ListQuery::default()).await {
        Ok((lists, _)) => lists,
        Err(err) => return internal(&err),
    };
    let rows: Vec<_> = found.iter().map(|l| row(l, desk.lang)).collect();
    page(
        state,
        Some(desk),
        desk.lang,
        status,
        "admin/lists.html",
        "desk.lists.title",
        json!({
            "lists": rows,
            "may_manage": may_create(desk),
            "notice": notice,
            "error": error,
            "form": form,
        }),
    )
}

pub(crate) async fn one(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Response {
    let notice = notice(&desk, &done);
    list_page(&state, &desk, id, StatusCode::OK, notice, None, None).await
}

async fn list_page(
    state: &AppState,
    desk: &Desk,
    id: i64,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    form: Option<&ListForm>,
) -> Response {
    let list = match ops::get(&state.db, &desk.staff.caller(), id).await {
        Ok(list) => list,
        Err(OpsError::NotFound(_)) => {
            return (StatusCode::NOT_FOUND, "no such list").into_response();
        }
        Err(err) => return internal(&err),
    };
    let snippet = if list.list.list_type == ListType::Public {
        match crate::web::public::signup::snippet(
            state,
            std::slice::from_ref(&list.list),
            desk.lang,
        ) {
            Ok(snippet) => Some(snippet),
            Err(err) => {
                tracing::error!(error = %err.0, "the signup snippet failed to render");
                None
            }
        }
    } else {
        None
    };
    let current = row(&list, desk.lang);
    let form = form.cloned().unwrap_or_else(|| ListForm {
        name: list.list.name.to_string(),
        list_type: list.list.list_type.as_str().into(),
        optin: list.list.optin.as_str().into(),
        status: list.list.status.as_str().into(),
        tags: list.list.tags.join(", "),
        description: list.list.description.clone(),
        language: list
            .list
            .language
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default(),
    });
    page(
        state,
        Some(desk),
        desk.lang,
        status,
        "admin/list.html",
        "desk.lists.title",
        json!({
            "list": current,
            "form": form,
            "snippet": snippet,
            "form_url": format!("{}/subscription/form?l={}", state.kit.links.root(), list.list.uuid),
            "may_manage": may_manage(desk, id),
            "notice": notice,
            "error": error,
        }),
    )
}

/// The list form's fields as typed, kept to show again with an error.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub(crate) struct ListForm {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    list_type: String,
    #[serde(default)]
    optin: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    language: String,
}

impl ListForm {
    fn changes(&self) -> Result<ListChanges, OpsError> {
        let tags: Vec<String> = self.tags.split(',').map(str::to_owned).collect();
        Ok(ListChanges {
            name: Some(ListName::parse(&self.name)?),
            list_type: Some(self.list_type.parse::<ListType>()?),
            optin: Some(self.optin.parse::<OptinKind>()?),
            status: Some(if self.status.is_empty() {
                ListStatus::Active
            } else {
                self.status.parse::<ListStatus>()?
            }),
            tags: Some(Tags::parse(&tags)?),
            description: Some(self.description.trim().to_owned()),
            language: Some(match self.language.as_str() {
                "" => None,
                other => Some(other.parse::<Lang>()?),
            }),
        })
    }
}

pub(crate) async fn create(
    State(state): State<AppState>,
    desk: Desk,
    Form(form): Form<ListForm>,
) -> Response {
    let created =
        async { ops::create_from(&state.db, &desk.staff.caller(), form.changes()?).await };
    match created.await {
        Ok(list) => {
            Redirect::to(&format!("/admin/lists/{}?done=created", list.list.id)).into_response()
        }
        Err(OpsError::Invalid(message) | OpsError::Conflict(message)) => {
            lists_page(
                &state,
                &desk,
                StatusCode::BAD_REQUEST,
                None,
                Some(message),
                &form,
            )
            .await
        }
        Err(err) => internal(&err),
    }
}

pub(crate) async fn update(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
    Form(form): Form<ListForm>,
) -> Response {
    let updated = async { ops::update(&state.db, &desk.staff.caller(), id, form.changes()?).await };
    match updated.await {
        Ok(_) => Redirect::to(&format!("/admin/lists/{id}?done=saved")).into_response(),
        Err(OpsError::Invalid(message) | OpsError::Conflict(message)) => {
            list_page(
                &state,
                &desk,
                id,
                StatusCode::BAD_REQUEST,
                None,
                Some(message),
                Some(&form),
            )
            .await
        }
        Err(OpsError::NotFound(_)) => (StatusCode::NOT_FOUND, "no such list").into_response(),
        Err(err) => internal(&err),
    }
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match ops::delete(&state.db, &desk.staff.caller(), id).await {
        Ok(()) => Redirect::to("/admin/lists?done=deleted").into_response(),
        Err(OpsError::NotFound(_)) => (StatusCode::NOT_FOUND, "no such list").into_response(),
        Err(err) => internal(&err),
    }
}
