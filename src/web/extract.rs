//! Extractors whose rejections answer in the API's error shape, and the API authentication.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;

use super::error::ApiError;
use super::state::AppState;
use crate::ops::access::Permission;
use crate::ops::users;

/// `axum::Json`, rejecting with [`ApiError`], and refusing text with a NUL character, which
/// PostgreSQL cannot store (it would fail the query with a 500) and SQLite would cut short.
#[derive(Debug)]
pub(crate) struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|rejection| match rejection.status() {
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::Status(
                        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                        "the request body is too large".into(),
                    ),
                    status => ApiError::Status(status, rejection.body_text()),
                })?;
        if has_nul_escape(&bytes) {
            return Err(no_nul());
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Json(value))
    }
}

/// Whether JSON text holds a `\u0000` escape (a raw NUL is invalid JSON anyway). An escaped
/// backslash before `u0000` is text, not an escape, so escapes are stepped over in pairs.
fn has_nul_escape(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

fn no_nul() -> ApiError {
    ApiError::bad_request("text may not contain NUL characters (\\u0000)")
}

/// `axum::extract::Query`, rejecting with [`ApiError`], and refusing NUL characters as
/// [`Json`] does.
#[derive(Debug)]
pub(crate) struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(no_nul());
        }
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// `axum::extract::Path`, rejecting with [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub T);

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
pub(crate) async fn require_api_user(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some((user, token)) = header.and_then(credentials) else {
        return Err(ApiError::Unauthorized);
    };
    if cross_site_change(&request, &state.settings.root_url) {
        return Err(ApiError::Status(
            axum::http::StatusCode::FORBIDDEN,
            "cross-site requests may not change anything through the API".into(),
        ));
    }
    let mut caller = users::authenticate_api_user(&state.db, &user, &token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let (mut parts, body) = request.into_parts();
    let Ok(reader) =
        crate::web::public::reader::Reader::from_request_parts(&mut parts, &state).await;
    caller.ip = reader.ip.map(|ip| ip.to_string());
    let mut request = Request::from_parts(parts, body);
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// Whether a browser sends this state-changing request from another site's page. A browser
/// that holds credentials for the API (Basic auth it was given once) would send them along
/// with a form another site makes it post; `Sec-Fetch-Site` and `Origin` say where the
/// request comes from. Clients that are not browsers send neither and pass.
fn cross_site_change(request: &Request, root_url: &str) -> bool {
    use axum::http::Method;
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default())
    };
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match header("origin") {
        Some(origin) => {
            let own = url::Url::parse(root_url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            !origin.eq_ignore_ascii_case(&own)
        }
        None => false,
    }
}

/// Route layer: the authenticated caller's role must grant `permission`, or 403 naming it.
pub(crate) async fn require_permission(
    permission: Permission,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = request
        .extensions()
        .get::<users::ApiCaller>()
        .ok_or(ApiError::Unauthorized)?;
    caller.require(permission)?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(has_nul_escape(br#"{"name": "a\u0000b"}"#));
        assert!(has_nul_escape(br#"{"a\u0000": 1}"#));
        assert!(!has_nul_escape(br#"{"name": "a\\u0000b"}"#));
        assert!(has_nul_escape(br#"{"name": "a\\\u0000b"}"#));
        assert!(!has_nul_escape(br#"{"name": "\u00e7"}"#));
    }

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

/// Who calls: the API user the middleware identified, for the use case's audit record.
#[derive(Debug, Clone)]
pub(crate) struct Acting(pub(crate) crate::ops::access::Caller);

impl<S: Send + Sync> FromRequestParts<S> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<crate::ops::access::Caller>()
            .cloned()
            .map(Acting)
            .ok_or(ApiError::Unauthorized)
    }
}
