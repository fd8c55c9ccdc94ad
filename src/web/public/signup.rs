//! The public side of signing up that exists so far: the topics a reader may pick
//! (`GET /api/public/lists`, listmonk's shape: a bare array) and the proof-of-work challenge
//! the signup widget solves (`GET /api/public/captcha/altcha`).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ops::captcha::{self, Difficulty};
use crate::web::error::ApiError;
use crate::web::state::AppState;

#[derive(Debug, Serialize)]
pub struct PublicList {
    uuid: uuid::Uuid,
    name: String,
}

/// `GET /api/public/lists`
pub async fn lists(State(state): State<AppState>) -> Result<Json<Vec<PublicList>>, ApiError> {
    let lists = crate::db::lists::public(&state.db).await?;
    Ok(Json(
        lists
            .into_iter()
            .map(|l| PublicList {
                uuid: l.uuid,
                name: l.name,
            })
            .collect(),
    ))
}

/// `GET /api/public/captcha/altcha`: a fresh challenge, never cached.
pub async fn altcha_challenge(State(state): State<AppState>) -> Result<Response, ApiError> {
    let difficulty = Difficulty {
        cost: state.settings.altcha_cost,
        valid_secs: i64::try_from(state.settings.altcha_valid_secs).unwrap_or(600),
    };
    let challenge = captcha::challenge(&state.mailer.signer, difficulty)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(challenge)).into_response())
}
