//! `/api/users` and `/api/api-users`: the desk's people and the API's programs, managed by
//! admins. listmonk keeps both in one table with a `type`; bulten keeps them apart (an API
//! user has no password, a person no token), so each has its own path. A new person's
//! password and a new API user's token are in the answer once and never again.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{Data, data};
use crate::domain::Timestamp;
use crate::ops::users::{self as ops, ApiUserSummary, Role, UserStatus};
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
    last_seen_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

pub(crate) async fn all(
    State(state): State<AppState>,
) -> Result<Json<Data<Vec<UserView>>>, ApiError> {
    let users = ops::list(&state.db, &state.settings.sign_in).await?;
    Ok(data(
        users
            .into_iter()
            .map(|(u, locked)| UserView {
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
    let (id, password) = ops::invite(&state.db, &by, body.username.trim(), role).await?;
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

pub(crate) async fn api_users(
    State(state): State<AppState>,
) -> Result<Json<Data<Vec<ApiUserSummary>>>, ApiError> {
    Ok(data(ops::api_users(&state.db).await?))
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewApiUser {
    name: String,
    role: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Token {
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
    let name = body.name.trim().to_owned();
    let token = ops::create_api_user(&state.db, &by, &name, role).await?;
    Ok(data(Token { name, token }))
}

pub(crate) async fn delete_api_user(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::delete_api_user(&state.db, &by, id).await?;
    Ok(data(true))
}
