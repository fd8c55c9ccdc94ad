//! `/api/users` and `/api/api-users`: the desk's people and the API's programs, managed by
//! admins. listmonk keeps both in one table with a `type`; bulten keeps them apart (an API
//! user has no password, a person no token), so each has its own path. A new person's
//! password and a new API user's token are in the answer once and never again.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{Data, data};
use crate::domain::Timestamp;
use crate::ops::access::{ListAccess, Lists};
use crate::ops::users::{self as ops, Account, Role, UserStatus};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Json as Body, Path};
use crate::web::state::AppState;

#[derive(Debug, Serialize)]
pub(crate) struct UserView {
    id: i64,
    username: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: String,
    status: String,
    /// A TOTP second factor is enrolled.
    second_factor: bool,
    /// Too many failed sign-ins lock the account now.
    locked: bool,
    must_change_password: bool,
    /// The lists the user is limited to; `null`: every list.
    lists: Option<Vec<ListGrant>>,
    last_seen_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// One list an account is limited to, in the shape of listmonk's list permissions.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ListGrant {
    id: i64,
    /// `list:get`, and `list:manage` to change it too.
    permissions: Vec<String>,
}

/// The grants as the API shows them: `None` for every list.
fn grants(lists: Option<&Lists>) -> Option<Vec<ListGrant>> {
    match lists {
        None | Some(Lists::All) => None,
        Some(Lists::Only(map)) => Some(
            map.iter()
                .map(|(id, access)| ListGrant {
                    id: *id,
                    permissions: match access {
                        ListAccess::Get => vec![ListAccess::Get.as_str().to_owned()],
                        ListAccess::Manage => vec![
                            ListAccess::Get.as_str().to_owned(),
                            ListAccess::Manage.as_str().to_owned(),
                        ],
                    },
                })
                .collect(),
        ),
    }
}

/// The lists a request body names: `null` or absent for every list.
fn limits(grants: Option<Vec<ListGrant>>) -> Result<Lists, ApiError> {
    let Some(grants) = grants else {
        return Ok(Lists::All);
    };
    let mut map = std::collections::BTreeMap::new();
    for grant in grants {
        let mut access = None;
        for permission in &grant.permissions {
            access = access.max(Some(permission.parse::<ListAccess>()?));
        }
        let access = access.ok_or_else(|| {
            ApiError::bad_request(format!("list {}: name list:get or list:manage", grant.id))
        })?;
        map.insert(grant.id, access);
    }
    Ok(Lists::Only(map))
}

/// The lists an account may reach: `{"lists": null}` for every list, or a list of grants.
#[derive(Debug, Deserialize)]
pub(crate) struct ListLimits {
    lists: Option<Vec<ListGrant>>,
}

pub(crate) async fn all(
    State(state): State<AppState>,
) -> Result<Json<Data<Vec<UserView>>>, ApiError> {
    let users = ops::list(&state.db, &state.settings.sign_in).await?;
    let limits = ops::all_list_limits(&state.db, false).await?;
    Ok(data(
        users
            .into_iter()
            .map(|(u, locked)| UserView {
                lists: grants(limits.get(&u.id)),
                id: u.id,
                username: u.username,
                kind: "user",
                role: u.role,
                status: u.status,
                second_factor: u.second_factor,
                locked,
                must_change_password: u.must_change_password,
                last_seen_at: u.last_seen_at,
                created_at: u.created_at,
                updated_at: u.updated_at,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewUser {
    username: String,
    role: String,
    /// Absent or `null`: every list.
    #[serde(default)]
    lists: Option<Vec<ListGrant>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Invited {
    id: i64,
    username: String,
    /// To be changed at the first sign-in; shown only in this answer.
    password: String,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<NewUser>,
) -> Result<Json<Data<Invited>>, ApiError> {
    let role: Role = body.role.parse()?;
    let lists = limits(body.lists)?;
    let (id, password) = ops::invite(&state.db, &by, body.username.trim(), role, lists).await?;
    Ok(data(Invited {
        id,
        username: body.username.trim().to_owned(),
        password: password.expose().to_owned(),
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Changes {
    role: String,
    status: String,
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<Changes>,
) -> Result<Json<Data<bool>>, ApiError> {
    let role: Role = body.role.parse()?;
    let status = UserStatus::parse(&body.status)?;
    ops::update(&state.db, &by, id, role, status).await?;
    Ok(data(true))
}

pub(crate) async fn delete_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::delete(&state.db, &by, id).await?;
    Ok(data(true))
}

#[derive(Debug, Serialize)]
pub(crate) struct NewPassword {
    password: String,
}

pub(crate) async fn reset_password(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<NewPassword>>, ApiError> {
    let (_, password) = ops::reset_password(&state.db, &by, id).await?;
    Ok(data(NewPassword {
        password: password.expose().to_owned(),
    }))
}

pub(crate) async fn lift_lockout(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::lift_lockout(&state.db, &by, id).await?;
    Ok(data(true))
}

/// `PUT /api/users/{id}/lists`: limits a user to some lists, or (`null`) lets them reach
/// every list.
pub(crate) async fn set_lists(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<ListLimits>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::set_lists(&state.db, &by, Account::User(id), limits(body.lists)?).await?;
    Ok(data(true))
}

#[derive(Debug, Serialize)]
pub(crate) struct ApiUserView {
    id: i64,
    name: String,
    role: String,
    /// The lists the API user is limited to; `null`: every list.
    lists: Option<Vec<ListGrant>>,
    created_at: Timestamp,
}

pub(crate) async fn api_users(
    State(state): State<AppState>,
) -> Result<Json<Data<Vec<ApiUserView>>>, ApiError> {
    let limits = ops::all_list_limits(&state.db, true).await?;
    Ok(data(
        ops::api_users(&state.db)
            .await?
            .into_iter()
            .map(|a| ApiUserView {
                lists: grants(limits.get(&a.id)),
                id: a.id,
                name: a.name,
                role: a.role,
                created_at: a.created_at,
            })
            .collect(),
    ))
}

/// `PUT /api/api-users/{id}/lists`, as for a user.
pub(crate) async fn set_api_user_lists(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<ListLimits>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::set_lists(&state.db, &by, Account::Api(id), limits(body.lists)?).await?;
    Ok(data(true))
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewApiUser {
    name: String,
    role: String,
    /// Absent or `null`: every list.
    #[serde(default)]
    lists: Option<Vec<ListGrant>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Token {
    id: i64,
    name: String,
    /// `Authorization: token NAME:TOKEN`; shown only in this answer.
    token: String,
}

pub(crate) async fn create_api_user(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<NewApiUser>,
) -> Result<Json<Data<Token>>, ApiError> {
    let role: Role = body.role.parse()?;
    let lists = limits(body.lists)?;
    let name = body.name.trim().to_owned();
    let (id, token) = ops::create_api_user(&state.db, &by, &name, role, lists).await?;
    Ok(data(Token { id, name, token }))
}

pub(crate) async fn delete_api_user(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::delete_api_user(&state.db, &by, id).await?;
    Ok(data(true))
}
