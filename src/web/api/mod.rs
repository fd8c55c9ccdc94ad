//! The JSON API, shaped like listmonk's: `{"data": …}` on success, `{"message": …}` on error,
//! paginated results as `{"results", "query", "search", "total", "per_page", "page"}`.

pub(crate) mod audit;
pub(crate) mod bulk;
pub(crate) mod campaigns;
pub(crate) mod export;
pub(crate) mod health;
pub(crate) mod imports;
pub(crate) mod lists;
pub(crate) mod outbox;
pub(crate) mod settings;
pub(crate) mod subscribers;
pub(crate) mod templates;
pub(crate) mod tx;
pub(crate) mod users;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// The success envelope.
#[derive(Debug, Serialize)]
pub(crate) struct Data<T> {
    pub(crate) data: T,
}

pub(crate) fn data<T: Serialize>(value: T) -> Json<Data<T>> {
    Json(Data { data: value })
}

/// `page` and `per_page` as clients send them; `per_page` may be `all`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PageParams {
    pub(crate) page: Option<String>,
    pub(crate) per_page: Option<String>,
}

/// A resolved page: `limit` is `None` for all rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) page: i64,
    pub(crate) limit: Option<i64>,
}

/// listmonk's default page size.
const DEFAULT_PER_PAGE: i64 = 20;

impl PageParams {
    /// # Errors
    /// When `page` or `per_page` is not a positive number (or `all`).
    pub(crate) fn resolve(&self) -> Result<Page, ApiError> {
        let page = match self.page.as_deref().map(str::trim) {
            None | Some("") => 1,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| ApiError::bad_request(format!("invalid page '{text}'")))?,
        };
        let limit = match self.per_page.as_deref().map(str::trim) {
            None | Some("") => Some(DEFAULT_PER_PAGE),
            Some("all") => None,
            Some(text) => match text.parse::<u64>() {
                Ok(0) => Some(DEFAULT_PER_PAGE),
                // Clients ask for 1,000,000 to mean "everything"; any size is honoured.
                Ok(n) => Some(i64::try_from(n).unwrap_or(i64::MAX)),
                Err(_) => return Err(ApiError::bad_request(format!("invalid per_page '{text}'"))),
            },
        };
        Ok(Page { page, limit })
    }
}

impl Page {
    pub(crate) fn offset(&self) -> i64 {
        self.limit.map_or(0, |l| l.saturating_mul(self.page - 1))
    }
}

/// A page of results, as listmonk shapes it.
#[derive(Debug, Serialize)]
pub(crate) struct PageResults<T> {
    pub(crate) results: Vec<T>,
    pub(crate) query: String,
    pub(crate) search: String,
    pub(crate) total: i64,
    pub(crate) per_page: i64,
    pub(crate) page: i64,
}

impl<T> PageResults<T> {
    pub(crate) fn new(results: Vec<T>, total: i64, page: Page, query: String) -> Self {
        Self {
            results,
            query,
            search: String::new(),
            total,
            per_page: page.limit.unwrap_or(total),
            page: page.page,
        }
    }
}

/// `asc`/`desc` (any case); defaults to ascending.
pub(crate) fn descending(order: Option<&str>) -> Result<bool, ApiError> {
    match order.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("asc") => Ok(false),
        Some("desc") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid order '{other}': use asc or desc"
        ))),
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// A handler panicked: answer like any internal error and keep serving.
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({"message": "internal server error"})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(page: Option<&str>, per_page: Option<&str>) -> PageParams {
        PageParams {
            page: page.map(Into::into),
            per_page: per_page.map(Into::into),
        }
    }

    #[test]
    fn pages_follow_listmonk_defaults_and_accept_all() {
        assert_eq!(
            params(None, None).resolve().unwrap(),
            Page {
                page: 1,
                limit: Some(20)
            }
        );
        assert_eq!(
            params(Some("3"), Some("all")).resolve().unwrap(),
            Page {
                page: 3,
                limit: None
            }
        );
        let huge = params(Some("2"), Some("1000000")).resolve().unwrap();
        assert_eq!(huge.offset(), 1_000_000);
        let absurd = params(Some("9223372036854775807"), Some("99999999999999999999")).resolve();
        assert!(absurd.is_err() || absurd.unwrap().offset() == i64::MAX);
        assert!(params(Some("0"), None).resolve().is_err());
        assert!(params(None, Some("many")).resolve().is_err());
    }
}
