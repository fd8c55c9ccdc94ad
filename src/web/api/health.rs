//! `GET /api/health`: is the process up and its database reachable.

use axum::Json;
use axum::extract::State;

use super::{Data, data};
use crate::web::error::ApiError;
use crate::web::state::AppState;

pub(crate) async fn health(State(state): State<AppState>) -> Result<Json<Data<bool>>, ApiError> {
    crate::ops::health::check(&state.db).await?;
    Ok(data(true))
}
