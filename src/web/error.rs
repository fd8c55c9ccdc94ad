//! The one error type of the HTTP boundary, turned into a response in one place.
//!
//! Handlers return `Result<_, ApiError>` and use `?`; [`OpsError`]s, domain errors and
//! extractor rejections convert into it. Every error answers `{"message": "…"}` as listmonk
//! does. Internal errors are logged with their whole cause chain and answer a bare 500.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::ops::OpsError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{1}")]
    Status(StatusCode, String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Status(status, _) => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed");
                "internal server error".to_owned()
            }
            other => other.to_string(),
        };
        // No `WWW-Authenticate: Basic` on 401: a browser would prompt, then cache the
        // credentials and send them with requests other sites' pages make it send.
        (status, Json(serde_json::json!({ "message": message }))).into_response()
    }
}

impl From<OpsError> for ApiError {
    fn from(err: OpsError) -> Self {
        match err {
            OpsError::Invalid(message) => ApiError::BadRequest(message),
            OpsError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            OpsError::Conflict(message) => ApiError::Conflict(message),
            forbidden @ (OpsError::Forbidden(_)
            | OpsError::ForbiddenList { .. }
            | OpsError::ForbiddenAllLists(_)) => {
                ApiError::Status(StatusCode::FORBIDDEN, forbidden.to_string())
            }
            OpsError::Internal(err) => ApiError::Internal(err),
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(err: crate::db::DbError) -> Self {
        OpsError::from(err).into()
    }
}

impl From<crate::domain::Invalid> for ApiError {
    fn from(err: crate::domain::Invalid) -> Self {
        ApiError::BadRequest(err.0)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let message = match &rejection {
            JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => {
                format!("invalid JSON body: {}", rejection.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => {
                "the request body must be JSON (Content-Type: application/json)".to_owned()
            }
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".into(),
            _ => rejection.body_text(),
        };
        // A body that parses but has the wrong shape is still the client's mistake: 400.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        ApiError::Status(status, message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(format!(
            "invalid query parameters: {}",
            rejection.body_text()
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(format!("invalid path: {}", rejection.body_text()))
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(err: axum::extract::multipart::MultipartError) -> Self {
        ApiError::Status(err.status(), format!("invalid upload: {}", err.body_text()))
    }
}

impl From<axum::extract::multipart::MultipartRejection> for ApiError {
    fn from(rejection: axum::extract::multipart::MultipartRejection) -> Self {
        ApiError::Status(
            rejection.status(),
            format!("invalid upload: {}", rejection.body_text()),
        )
    }
}
