//! `/api/lists`: listmonk's list endpoints.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Data, PageParams, PageResults, data, descending};
use crate::domain::{Lang, ListName, ListStatus, ListType, OptinKind, Tags, Timestamp};
use crate::ops::lists::{self as ops, ListChanges, ListOrder, ListQuery, ListWithCounts};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Json as Body, Path, Query};
use crate::web::state::AppState;

#[derive(Debug, Serialize)]
pub(crate) struct ListView {
    id: i64,
    uuid: uuid::Uuid,
    name: String,
    #[serde(rename = "type")]
    list_type: ListType,
    optin: OptinKind,
    status: ListStatus,
    tags: Vec<String>,
    description: String,
    /// bulten's own: the language the list's pages and mail are in (`null`: the reader's).
    language: Option<Lang>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriber_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriber_statuses: Option<Map<String, Value>>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl ListView {
    fn new(l: ListWithCounts, minimal: bool) -> Self {
        let list = l.list;
        Self {
            id: list.id,
            uuid: list.uuid,
            name: list.name,
            list_type: list.list_type,
            optin: list.optin,
            status: list.status,
            tags: list.tags,
            description: list.description,
            language: list.language,
            subscriber_count: (!minimal).then_some(l.subscriber_count),
            subscriber_statuses: (!minimal).then_some(l.statuses),
            created_at: list.created_at,
            updated_at: list.updated_at,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    query: Option<String>,
    tag: Option<String>,
    status: Option<String>,
    minimal: Option<String>,
    order_by: Option<String>,
    order: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

/// `GET /api/lists`
pub(crate) async fn search(
    State(state): State<AppState>,
    Acting(by): Acting,
    Query(params): Query<SearchParams>,
) -> Result<Json<Data<PageResults<ListView>>>, ApiError> {
    let minimal = matches!(params.minimal.as_deref(), Some("true" | "1"));
    let mut page_params = params.page.clone();
    if minimal && page_params.per_page.is_none() {
        // The minimal form feeds list pickers, which want every list.
        page_params.per_page = Some("all".into());
    }
    let page = page_params.resolve()?;
    let order_by = match params.order_by.as_deref() {
        None | Some("") => ListOrder::default(),
        Some(text) => ListOrder::parse(text)
            .ok_or_else(|| ApiError::bad_request(format!("invalid order_by '{text}'")))?,
    };
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse::<ListStatus>()?),
    };
    let query = ListQuery {
        ids: None,
        name: params.query.clone().filter(|q| !q.trim().is_empty()),
        tag: params.tag.clone().filter(|t| !t.trim().is_empty()),
        status,
        order_by,
        descending: descending(params.order.as_deref())?,
        limit: page.limit,
        offset: page.offset(),
    };
    let (found, total) = ops::search(&state.db, &by, &query).await?;
    let results = found
        .into_iter()
        .map(|l| ListView::new(l, minimal))
        .collect();
    Ok(data(PageResults::new(
        results,
        total,
        page,
        params.query.unwrap_or_default(),
    )))
}

/// `GET /api/lists/{id}`
pub(crate) async fn get_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<ListView>>, ApiError> {
    Ok(data(ListView::new(
        ops::get(&state.db, &by, id).await?,
        false,
    )))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListBody {
    name: Option<String>,
    #[serde(rename = "type")]
    list_type: Option<ListType>,
    optin: Option<OptinKind>,
    status: Option<ListStatus>,
    tags: Option<Vec<String>>,
    description: Option<String>,
    /// Absent: unchanged; `null` or `""`: the reader's language; `"en"` or `"tr"`.
    #[serde(default, deserialize_with = "present")]
    language: Option<Value>,
}

/// Tells a field sent as `null` (`Some(Value::Null)`) from one not sent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl ListBody {
    /// The fields the body gives, parsed; `ops` fills the rest.
    fn changes(self) -> Result<ListChanges, ApiError> {
        Ok(ListChanges {
            name: self.name.as_deref().map(ListName::parse).transpose()?,
            list_type: self.list_type,
            optin: self.optin,
            status: self.status,
            tags: self.tags.as_deref().map(Tags::parse).transpose()?,
            description: self.description,
            language: match self.language {
                None => None,
                Some(Value::Null) => Some(None),
                Some(Value::String(text)) if text.is_empty() => Some(None),
                Some(Value::String(text)) => Some(Some(text.parse::<Lang>()?)),
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "language must be \"en\", \"tr\" or null, not {other}"
                    )));
                }
            },
        })
    }
}

/// `POST /api/lists`
pub(crate) async fn create(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<ListBody>,
) -> Result<Json<Data<ListView>>, ApiError> {
    Ok(data(ListView::new(
        ops::create_from(&state.db, &by, body.changes()?).await?,
        false,
    )))
}

/// `PUT /api/lists/{id}`: changes the fields given, keeps the rest.
pub(crate) async fn update(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<ListBody>,
) -> Result<Json<Data<ListView>>, ApiError> {
    Ok(data(ListView::new(
        ops::update(&state.db, &by, id, body.changes()?).await?,
        false,
    )))
}

/// `DELETE /api/lists/{id}`
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::delete(&state.db, &by, id).await?;
    Ok(data(true))
}
