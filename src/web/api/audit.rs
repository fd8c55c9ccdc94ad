//! `GET /api/audit`: the audit log of staff's changes, newest first.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::{Data, PageParams, PageResults, data};
use crate::ops::audit::{self as ops, AuditQuery, Entry};
use crate::web::error::ApiError;
use crate::web::extract::Query;
use crate::web::state::AppState;

#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub(crate) struct AuditParams {
    /// A user's or API user's name.
    actor: Option<String>,
    /// `list`, `subscriber`, `user`…
    object: Option<String>,
    /// Text, not a number: the page's fields share a flattened struct, which
    /// serde_urlencoded can only fill with strings.
    object_id: Option<String>,
    /// A day or a moment; `to` includes its whole day.
    from: Option<String>,
    to: Option<String>,
    #[serde(flatten, skip_serializing)]
    pub(crate) page: PageParams,
}

impl AuditParams {
    /// The filter as query pairs, for the page's links to its neighbours.
    pub(crate) fn page_query(&self) -> Vec<(String, String)> {
        [
            ("actor", &self.actor),
            ("object", &self.object),
            ("object_id", &self.object_id),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_owned(), v.clone()))
        })
        .collect()
    }

    /// The query the desk's page and the API share.
    pub(crate) fn query(&self, limit: i64, offset: i64) -> Result<AuditQuery, ApiError> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        Ok(AuditQuery {
            actor: text(&self.actor),
            object_kind: text(&self.object),
            object_id: text(&self.object_id)
                .map(|t| {
                    t.parse::<i64>()
                        .map_err(|_| ApiError::bad_request(format!("invalid object_id '{t}'")))
                })
                .transpose()?,
            from: text(&self.from)
                .map(|t| ops::bound(&t, false))
                .transpose()?,
            to: text(&self.to).map(|t| ops::bound(&t, true)).transpose()?,
            limit,
            offset,
        })
    }
}

pub(crate) async fn search(
    State(state): State<AppState>,
    Query(params): Query<AuditParams>,
) -> Result<Json<Data<PageResults<Entry>>>, ApiError> {
    let page = params.page.resolve()?;
    let query = params.query(page.limit.unwrap_or(i64::MAX), page.offset())?;
    let (entries, total) = ops::search(&state.db, &query).await?;
    Ok(data(PageResults::new(entries, total, page, String::new())))
}
