//! listmonk's actions on every subscriber a query matches: `POST /api/subscribers/query/delete`,
//! `PUT /api/subscribers/query/blocklist` and `PUT /api/subscribers/query/lists`. The query
//! is the filter language of `GET /api/subscribers` (not SQL), read by the same
//! `SearchParams`; an empty one acts on every reader only with `"all": true`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::subscribers::SearchParams;
use super::{Data, data};
use crate::domain::{ListAction, SubscriptionStatus};
use crate::ops::bulk::{self as ops, BulkAction, Matching};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Json as Body};
use crate::web::state::AppState;

/// The body listmonk's admin sends: the filter of the subscribers page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct QueryBody {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    search: Option<String>,
    /// listmonk takes several; bulten's filter takes one list, so more are refused.
    #[serde(default)]
    list_ids: Option<Vec<i64>>,
    #[serde(default)]
    subscription_status: Option<String>,
    /// Required to act on every reader when nothing else narrows the query.
    #[serde(default)]
    all: bool,
    /// `PUT /query/lists` only.
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    target_list_ids: Vec<i64>,
    #[serde(default)]
    status: Option<SubscriptionStatus>,
}

impl QueryBody {
    fn params(&self) -> Result<SearchParams, ApiError> {
        let list_id = match self.list_ids.as_deref().unwrap_or_default() {
            [] => None,
            [one] => Some(one.to_string()),
            _ => {
                return Err(ApiError::bad_request(
                    "list_ids: name one list at most; bulten's filter takes one",
                ));
            }
        };
        let params = SearchParams {
            query: self.query.clone(),
            search: self.search.clone(),
            list_id,
            subscription_status: self.subscription_status.clone(),
            ..SearchParams::default()
        };
        if params.describe().is_empty() && !self.all {
            return Err(ApiError::bad_request(
                "name a query, a search or a list, or send \"all\": true to act on every reader",
            ));
        }
        Ok(params)
    }

    async fn act(
        &self,
        state: &AppState,
        by: &crate::ops::access::Caller,
        action: BulkAction,
    ) -> Result<Json<Data<bool>>, ApiError> {
        let params = self.params()?;
        let query = params.to_query(None, 0)?;
        let described = match params.describe() {
            text if text.is_empty() => "every reader".to_owned(),
            text => text,
        };
        let matching = Matching {
            query: &query,
            described: &described,
        };
        ops::act_on_matching(&state.db, by, matching, action, &self.target_list_ids, None).await?;
        Ok(data(true))
    }
}

/// `POST /api/subscribers/query/delete`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<QueryBody>,
) -> Result<Json<Data<bool>>, ApiError> {
    body.act(&state, &by, BulkAction::Delete).await
}

/// `PUT /api/subscribers/query/blocklist`
pub(crate) async fn blocklist(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<QueryBody>,
) -> Result<Json<Data<bool>>, ApiError> {
    body.act(&state, &by, BulkAction::Blocklist).await
}

/// `PUT /api/subscribers/query/lists` with `action` (`add`, `remove`, `unsubscribe`),
/// `target_list_ids` and, for `add`, `status`.
pub(crate) async fn lists(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<QueryBody>,
) -> Result<Json<Data<bool>>, ApiError> {
    let action = ListAction::parse(body.action.as_deref().unwrap_or_default(), body.status)?;
    body.act(&state, &by, BulkAction::Lists(action)).await
}
