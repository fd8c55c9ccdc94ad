//! The accounts page (admins only): people who sign in to the desk and the API's programs.
//! It calls the same `ops::users` functions as `/api/users` and `/api/api-users`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::login::internal;
use super::{Desk, page};
use crate::i18n;
use crate::ops::OpsError;
use crate::ops::access::{ListAccess, Lists};
use crate::ops::users::{self as ops, Account, Role, UserStatus};
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// Notices a redirect back to the page may name.
const NOTICES: &[&str] = &["updated", "unlocked", "deleted", "token_deleted", "lists"];

pub(crate) async fn show(
    State(state): State<AppState>,
    desk: Desk,
    Query(done): Query<Done>,
) -> Response {
    let notice = super::done_notice(desk.lang, done.done.as_deref(), "desk.users.", NOTICES);
    accounts_page(&state, &desk, StatusCode::OK, notice, None).await
}

async fn accounts_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let users = match ops::list(&state.db, &state.settings.sign_in).await {
        Ok(users) => users,
        Err(err) => return internal(&err),
    };
    let api_users = match ops::api_users(&state.db).await {
        Ok(api_users) => api_users,
        Err(err) => return internal(&err),
    };
    let (user_limits, api_limits, all_lists) = match limits_and_lists(state).await {
        Ok(found) => found,
        Err(err) => return internal(&err),
    };
    let lang = desk.lang;
    let role_label = |role: &str| i18n::text(lang, &format!("desk.role.{role}")).to_owned();
    // Each account's list limits: a summary and the editor's rows.
    let limits_of = |limits: Option<&Lists>| {
        let access_of = |id: i64| match limits {
            None | Some(Lists::All) => None,
            Some(Lists::Only(map)) => map.get(&id).copied(),
        };
        let label = |access: ListAccess| match access {
            ListAccess::Get => i18n::text(lang, "desk.users.lists_get"),
            ListAccess::Manage => i18n::text(lang, "desk.users.lists_manage"),
        };
        let rows: Vec<_> = all_lists
            .iter()
            .map(|l| {
                let access = access_of(l.id);
                json!({
                    "id": l.id,
                    "name": l.name,
                    "access": access.map_or("none", |a| a.as_str().trim_start_matches("list:")),
                })
            })
            .collect();
        let summary: Vec<String> = all_lists
            .iter()
            .filter_map(|l| access_of(l.id).map(|a| format!("{} ({})", l.name, label(a))))
            .collect();
        json!({
            "limited": matches!(limits, Some(Lists::Only(_))),
            "summary": summary.join(", "),
            "rows": rows,
        })
    };
    let users: Vec<_> = users
        .into_iter()
        .map(|(u, locked)| {
            json!({
                "lists": limits_of(user_limits.get(&u.id)),
                "id": u.id,
                "username": u.username,
                "role": u.role,
                "role_label": role_label(&u.role),
                "enabled": u.status == "enabled",
                "second_factor": u.second_factor,
                "locked": locked,
                "must_change_password": u.must_change_password,
                "last_seen": u.last_seen_at.map(|t| t.as_datetime().date().to_string()),
                "is_me": u.id == desk.staff.id,
            })
        })
        .collect();
    let api_users: Vec<_> = api_users
        .into_iter()
        .map(|a| {
            json!({
                "id": a.id,
                "name": a.name,
                "role": a.role,
                "role_label": role_label(&a.role),
                "created": a.created_at.as_datetime().date().to_string(),
                "lists": limits_of(api_limits.get(&a.id)),
            })
        })
        .collect();
    let roles: Vec<_> = ["admin", "editor", "viewer"]
        .iter()
        .map(|r| json!({"value": r, "label": role_label(r)}))
        .collect();
    page(
        state,
        Some(desk),
        lang,
        status,
        "admin/users.html",
        "desk.users.title",
        json!({
            "users": users,
            "api_users": api_users,
            "roles": roles,
            "notice": notice,
            "error": error,
        }),
    )
}

/// Every account's list limits, and every list, for the limits editor.
async fn limits_and_lists(
    state: &AppState,
) -> Result<
    (
        std::collections::HashMap<i64, Lists>,
        std::collections::HashMap<i64, Lists>,
        Vec<crate::domain::List>,
    ),
    OpsError,
> {
    let users = ops::all_list_limits(&state.db, false).await?;
    let api_users = ops::all_list_limits(&state.db, true).await?;
    let lists = crate::ops::lists::all(
        &state.db,
        &crate::ops::access::Caller::cli(),
        ListAccess::Get,
    )
    .await?;
    Ok((users, api_users, lists))
}

/// A secret shown once: a new person's password or a new program's token.
fn shown_once(state: &AppState, desk: &Desk, intro_key: &str, who: &str, secret: &str) -> Response {
    page(
        state,
        Some(desk),
        desk.lang,
        StatusCode::OK,
        "admin/shown-once.html",
        "desk.users.title",
        json!({
            "intro": i18n::text(desk.lang, intro_key).replace("{name}", who),
            "secret": secret,
        }),
    )
}

async fn refused(state: &AppState, desk: &Desk, err: OpsError) -> Response {
    match err {
        OpsError::Invalid(message) | OpsError::Conflict(message) => {
            accounts_page(state, desk, StatusCode::BAD_REQUEST, None, Some(message)).await
        }
        OpsError::NotFound(what) => {
            accounts_page(
                state,
                desk,
                StatusCode::NOT_FOUND,
                None,
                Some(format!("{what} not found")),
            )
            .await
        }
        other => internal(&other),
    }
}

fn parse_role(text: &str) -> Result<Role, OpsError> {
    text.parse().map_err(OpsError::from)
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

pub(crate) async fn invite(
    State(state): State<AppState>,
    desk: Desk,
    Form(form): Form<NewUser>,
) -> Response {
    let role = match parse_role(&form.role) {
        Ok(role) => role,
        Err(err) => return refused(&state, &desk, err).await,
    };
    let username = form.username.trim();
    match ops::invite(&state.db, &desk.staff.caller(), username, role, Lists::All).await {
        Ok((_, password)) => shown_once(
            &state,
            &desk,
            "desk.users.invited",
            username,
            password.expose(),
        ),
        Err(err) => refused(&state, &desk, err).await,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Changes {
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
}

pub(crate) async fn update(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
    Form(form): Form<Changes>,
) -> Response {
    let changed = async {
        let role = parse_role(&form.role)?;
        let status = UserStatus::parse(&form.status)?;
        ops::update(&state.db, &desk.staff.caller(), id, role, status).await
    };
    match changed.await {
        Ok(()) => Redirect::to("/admin/users?done=updated").into_response(),
        Err(err) => refused(&state, &desk, err).await,
    }
}

pub(crate) async fn reset_password(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match ops::reset_password(&state.db, &desk.staff.caller(), id).await {
        Ok((name, password)) => shown_once(
            &state,
            &desk,
            "desk.users.reset_done",
            &name,
            password.expose(),
        ),
        Err(err) => refused(&state, &desk, err).await,
    }
}

pub(crate) async fn unlock(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match ops::lift_lockout(&state.db, &desk.staff.caller(), id).await {
        Ok(()) => Redirect::to("/admin/users?done=unlocked").into_response(),
        Err(err) => refused(&state, &desk, err).await,
    }
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match ops::delete(&state.db, &desk.staff.caller(), id).await {
        Ok(()) => Redirect::to("/admin/users?done=deleted").into_response(),
        Err(err) => refused(&state, &desk, err).await,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewApiUser {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

pub(crate) async fn add_api_user(
    State(state): State<AppState>,
    desk: Desk,
    Form(form): Form<NewApiUser>,
) -> Response {
    let role = match parse_role(&form.role) {
        Ok(role) => role,
        Err(err) => return refused(&state, &desk, err).await,
    };
    let name = form.name.trim();
    match ops::create_api_user(&state.db, &desk.staff.caller(), name, role, Lists::All).await {
        Ok((_, token)) => shown_once(
            &state,
            &desk,
            "desk.users.token_made",
            name,
            &format!("{name}:{token}"),
        ),
        Err(err) => refused(&state, &desk, err).await,
    }
}

pub(crate) async fn delete_api_user(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
) -> Response {
    match ops::delete_api_user(&state.db, &desk.staff.caller(), id).await {
        Ok(()) => Redirect::to("/admin/users?done=token_deleted").into_response(),
        Err(err) => refused(&state, &desk, err).await,
    }
}

/// The limits editor's form: `scope` is `all` or `some`; with `some`, each `list-ID` field
/// is `none`, `get` or `manage`.
fn limits_from(form: &[(String, String)]) -> Result<Lists, OpsError> {
    let scope = form
        .iter()
        .find(|(k, _)| k == "scope")
        .map_or("all", |(_, v)| v.as_str());
    if scope != "some" {
        return Ok(Lists::All);
    }
    let mut map = std::collections::BTreeMap::new();
    for (key, value) in form {
        let Some(id) = key.strip_prefix("list-") else {
            continue;
        };
        let id: i64 = id
            .parse()
            .map_err(|_| OpsError::Invalid(format!("'{key}' names no list")))?;
        if value != "none" {
            map.insert(id, value.parse::<ListAccess>()?);
        }
    }
    Ok(Lists::Only(map))
}

/// Limits a person to some lists, or lets them reach every list.
pub(crate) async fn set_lists(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    set_limits(&state, &desk, Account::User(id), &form).await
}

/// Limits a program to some lists, or lets it reach every list.
pub(crate) async fn set_api_user_lists(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    set_limits(&state, &desk, Account::Api(id), &form).await
}

async fn set_limits(
    state: &AppState,
    desk: &Desk,
    account: Account,
    form: &[(String, String)],
) -> Response {
    let set = async {
        let lists = limits_from(form)?;
        ops::set_lists(&state.db, &desk.staff.caller(), account, lists).await
    };
    match set.await {
        Ok(()) => Redirect::to("/admin/users?done=lists").into_response(),
        Err(err) => refused(state, desk, err).await,
    }
}
