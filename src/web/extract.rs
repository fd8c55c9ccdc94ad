//! Extractors whose rejections answer in the API's error shape, and the API authentication.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;

use super::error::ApiError;
use super::state::AppState;
use crate::ops::users;

/// `axum::Json`, rejecting with [`ApiError`].
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

/// `axum::extract::Query`, rejecting with [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path`, rejecting with [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The credentials in an `Authorization` header: `token USER:TOKEN` or Basic `USER:TOKEN`.
fn credentials(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    let pair = if scheme.eq_ignore_ascii_case("token") {
        value.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        String::from_utf8(bytes).ok()?
    } else {
        return None;
    };
    let (user, token) = pair.split_once(':')?;
    Some((user.to_owned(), token.to_owned()))
}

/// Middleware for every protected `/api` route: a valid API user or 401.
pub async fn require_api_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some((user, token)) = header.and_then(credentials) else {
        return Err(ApiError::Unauthorized);
    };
    let caller = users::authenticate_api_user(&state.db, &user, &token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_listmonk_header_forms_are_read() {
        assert_eq!(
            credentials("token api:s3cret"),
            Some(("api".into(), "s3cret".into()))
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("api:s3cret");
        assert_eq!(
            credentials(&format!("Basic {basic}")),
            Some(("api".into(), "s3cret".into()))
        );
        assert_eq!(credentials("Bearer xyz"), None);
        assert_eq!(credentials("token no-colon"), None);
    }
}
