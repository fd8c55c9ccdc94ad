//! `/api/subscribers`: listmonk's subscriber endpoints.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Data, PageParams, PageResults, data, descending};
use crate::domain::filter;
use crate::domain::{
    Attribs, EmailAddress, ListAction, SubscriberName, SubscriberOrder, SubscriberQuery,
    SubscriberStatus, Subscription, SubscriptionStatus, Timestamp,
};
use crate::ops::access::Caller;
use crate::ops::reader::Resent;
use crate::ops::subscribers::{
    self as ops, ConsentQuery, ConsentRecord, NewSubscriber, SubscriberChanges, SubscriberFields,
    SubscriberWithLists,
};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Json as Body, Path, Query};
use crate::web::state::AppState;

/// A subscriber as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct SubscriberView {
    id: i64,
    uuid: uuid::Uuid,
    email: String,
    name: String,
    attribs: Map<String, Value>,
    status: SubscriberStatus,
    lists: Vec<SubscriptionView>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Debug, Serialize)]
struct SubscriptionView {
    id: i64,
    uuid: uuid::Uuid,
    name: String,
    #[serde(rename = "type")]
    list_type: crate::domain::ListType,
    optin: crate::domain::OptinKind,
    tags: Vec<String>,
    description: String,
    subscription_status: SubscriptionStatus,
    subscription_meta: Map<String, Value>,
    subscription_created_at: Timestamp,
    subscription_updated_at: Timestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        Self {
            id: s.list.id,
            uuid: s.list.uuid,
            name: s.list.name,
            list_type: s.list.list_type,
            optin: s.list.optin,
            tags: s.list.tags,
            description: s.list.description,
            subscription_status: s.status,
            subscription_meta: s.meta,
            subscription_created_at: s.created_at,
            subscription_updated_at: s.updated_at,
            created_at: s.list.created_at,
            updated_at: s.list.updated_at,
        }
    }
}

impl From<SubscriberWithLists> for SubscriberView {
    fn from(s: SubscriberWithLists) -> Self {
        let sub = s.subscriber;
        Self {
            id: sub.id,
            uuid: sub.uuid,
            email: sub.email.as_str().to_owned(),
            name: sub.name.as_str().to_owned(),
            attribs: sub.attribs.into_map(),
            status: sub.status,
            lists: s
                .subscriptions
                .into_iter()
                .map(SubscriptionView::from)
                .collect(),
            created_at: sub.created_at,
            updated_at: sub.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct SearchParams {
    pub(crate) query: Option<String>,
    /// listmonk's free-text search over name and address.
    pub(crate) search: Option<String>,
    pub(crate) list_id: Option<String>,
    pub(crate) subscription_status: Option<String>,
    pub(crate) order_by: Option<String>,
    pub(crate) order: Option<String>,
    #[serde(flatten, skip_serializing)]
    pub(crate) page: PageParams,
}

fn parse_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid {what} '{text}'")))
}

impl SearchParams {
    /// The filter in words, for the audit log of an action on every reader it matches.
    pub(crate) fn describe(&self) -> String {
        [
            ("query", &self.query),
            ("search", &self.search),
            ("list_id", &self.list_id),
            ("subscription_status", &self.subscription_status),
        ]
        .iter()
        .filter_map(|(name, value)| {
            value
                .as_deref()
                .filter(|v| !v.trim().is_empty())
                .map(|v| format!("{name}={v}"))
        })
        .collect::<Vec<_>>()
        .join("; ")
    }

    /// The query these parameters describe, for `page`; the API and the desk's readers page
    /// read the same parameters the same way.
    pub(crate) fn to_query(
        &self,
        limit: Option<i64>,
        offset: i64,
    ) -> Result<SubscriberQuery, ApiError> {
        let query_text = self.query.clone().unwrap_or_default();
        let parsed = match query_text.trim() {
            "" => None,
            text => Some(filter::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))?),
        };
        let search_text = self.search.clone().unwrap_or_default();
        // PostgreSQL cannot store or compare a NUL; a form can send one where a query
        // string is refused before it gets here.
        if search_text.contains('\0') {
            return Err(ApiError::bad_request("the search contains a NUL character"));
        }
        let filter = match (parsed, filter::Filter::search(&search_text)) {
            (Some(q), Some(s)) => Some(filter::Filter::And(Box::new(q), Box::new(s))),
            (q, s) => q.or(s),
        };
        let list_id = match self.list_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_id(text, "list_id")?),
        };
        let subscription_status = match self.subscription_status.as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse::<SubscriptionStatus>()?),
        };
        let order_by = match self.order_by.as_deref() {
            None | Some("") => SubscriberOrder::default(),
            Some(text) => SubscriberOrder::parse(text)
                .ok_or_else(|| ApiError::bad_request(format!("invalid order_by '{text}'")))?,
        };
        Ok(SubscriberQuery {
            filter,
            within_lists: None,
            list_id,
            subscription_status,
            order_by,
            descending: descending(self.order.as_deref())?,
            limit,
            offset,
            count_up_to: None,
            past_id: None,
        })
    }
}

/// `GET /api/subscribers`
pub(crate) async fn search(
    State(state): State<AppState>,
    Acting(by): Acting,
    Query(params): Query<SearchParams>,
) -> Result<Response, ApiError> {
    let page = params.page.resolve()?;
    let query_text = params.query.clone().unwrap_or_default();
    let search_text = params.search.clone().unwrap_or_default();
    let query = params.to_query(page.limit, page.offset())?;
    if page.limit.is_none() {
        return stream_all(&state, &by, &query, query_text, search_text).await;
    }
    let (found, total) = ops::search(&state.db, &by, &query).await?;
    let results = found.into_iter().map(SubscriberView::from).collect();
    let mut answer = PageResults::new(results, total, page, query_text);
    answer.search = search_text;
    Ok(data(answer).into_response())
}

/// How long a whole-list answer waits for its client to take the next part.
const STALLED_CLIENT: std::time::Duration = std::time::Duration::from_secs(60);

/// `per_page=all`: the same JSON as a page, written out batch by batch as the database
/// gives the rows, so the server's memory stays flat however many readers match. The
/// fields come in another order than a page's (the results before the total), which JSON
/// readers do not mind. An error after the first byte can only cut the answer short.
async fn stream_all(
    state: &AppState,
    by: &Caller,
    query: &SubscriberQuery,
    query_text: String,
    search_text: String,
) -> Result<Response, ApiError> {
    let Ok(slot) = state.whole_lists.clone().try_acquire_owned() else {
        return Err(ApiError::Status(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "other whole-list downloads are running; try again shortly".into(),
        ));
    };
    let (total, mut batches) = ops::search_all(&state.db, by, query).await?;
    let head = serde_json::json!({
        "query": query_text,
        "search": search_text,
        "total": total,
        "per_page": total,
        "page": 1,
    });
    let head = serde_json::to_string(&head).map_err(anyhow::Error::new)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        let _slot = slot;
        // A client that stops reading gives its slot and its connection back after this.
        let send = |chunk| tokio::time::timeout(STALLED_CLIENT, tx.send(chunk));
        // `{"data":{…head fields…,"results":[` then the rows, then `]}}`.
        let opening = format!("{{\"data\":{},\"results\":[", &head[..head.len() - 1]);
        if !matches!(send(Ok(Bytes::from(opening))).await, Ok(Ok(()))) {
            return;
        }
        let mut first = true;
        while let Some(batch) = batches.recv().await {
            let chunk = batch.map_err(std::io::Error::other).and_then(|batch| {
                let mut out = Vec::with_capacity(batch.len() * 512);
                for subscriber in batch {
                    if !std::mem::take(&mut first) {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut out, &SubscriberView::from(subscriber))?;
                }
                Ok(Bytes::from(out))
            });
            let failed = chunk.is_err();
            if let Err(err) = &chunk {
                tracing::error!(error = %crate::telemetry::chain(err), "streaming subscribers failed");
            }
            if !matches!(send(chunk).await, Ok(Ok(()))) || failed {
                return;
            }
        }
        let _ = send(Ok(Bytes::from_static(b"]}}"))).await;
    });
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// `GET /api/subscribers/{id}`
pub(crate) async fn get_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<SubscriberView>>, ApiError> {
    Ok(data(ops::get(&state.db, &by, id).await?.into()))
}

/// The body of `POST`, `PUT` and `PATCH`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SubscriberBody {
    email: Option<String>,
    name: Option<String>,
    status: Option<SubscriberStatus>,
    lists: Option<Vec<i64>>,
    attribs: Option<Value>,
    #[serde(default)]
    preconfirm_subscriptions: bool,
}

impl SubscriberBody {
    fn email(&self) -> Result<Option<EmailAddress>, ApiError> {
        self.email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    fn attribs(&self) -> Result<Option<Attribs>, ApiError> {
        Ok(self.attribs.clone().map(Attribs::parse).transpose()?)
    }
}

/// `POST /api/subscribers`
pub(crate) async fn create(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<SubscriberBody>,
) -> Result<Json<Data<SubscriberView>>, ApiError> {
    let email = body
        .email()?
        .ok_or_else(|| ApiError::bad_request("the e-mail address is empty"))?;
    let name = SubscriberName::parse_or_default(body.name.as_deref(), &email)?;
    let new = NewSubscriber {
        fields: SubscriberFields {
            name,
            attribs: body.attribs()?.unwrap_or_default(),
            status: body.status.unwrap_or(SubscriberStatus::Enabled),
            email,
        },
        list_ids: body.lists.clone().unwrap_or_default(),
        preconfirm: body.preconfirm_subscriptions,
    };
    Ok(data(ops::create(&state.db, &by, new).await?.into()))
}

/// `PUT /api/subscribers/{id}`: replaces the subscriber; as in listmonk, omitting `lists`
/// removes every subscription.
pub(crate) async fn replace(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<SubscriberBody>,
) -> Result<Json<Data<SubscriberView>>, ApiError> {
    let email = body
        .email()?
        .ok_or_else(|| ApiError::bad_request("the e-mail address is empty"))?;
    let changes = SubscriberChanges {
        name: Some(SubscriberName::parse_or_default(
            body.name.as_deref(),
            &email,
        )?),
        email: Some(email),
        attribs: Some(body.attribs()?.unwrap_or_default()),
        merge_attribs: false,
        status: body.status,
        list_ids: Some(body.lists.clone().unwrap_or_default()),
        preconfirm: body.preconfirm_subscriptions,
    };
    Ok(data(ops::update(&state.db, &by, id, changes).await?.into()))
}

/// `PATCH /api/subscribers/{id}`: changes only what is given; attributes are merged.
pub(crate) async fn patch(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<SubscriberBody>,
) -> Result<Json<Data<SubscriberView>>, ApiError> {
    let name = match body.name.as_deref() {
        Some(name) => Some(SubscriberName::parse(name)?),
        None => None,
    };
    let changes = SubscriberChanges {
        email: body.email()?,
        name,
        attribs: body.attribs()?,
        merge_attribs: true,
        status: body.status,
        list_ids: body.lists.clone(),
        preconfirm: body.preconfirm_subscriptions,
    };
    Ok(data(ops::update(&state.db, &by, id, changes).await?.into()))
}

/// `DELETE /api/subscribers/{id}`
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    match ops::delete(&state.db, &by, &[id]).await? {
        0 => Err(ApiError::NotFound("subscriber not found".into())),
        _ => Ok(data(true)),
    }
}

/// The repeated `id` parameters of a query string (`?id=1&id=2`).
fn ids_from_query(raw: Option<&str>) -> Result<Vec<i64>, ApiError> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "id")
        .map(|(_, value)| parse_id(&value, "subscriber ID"))
        .collect()
}

/// `DELETE /api/subscribers?id=1&id=2`
pub(crate) async fn delete_many(
    State(state): State<AppState>,
    Acting(by): Acting,
    RawQuery(raw): RawQuery,
) -> Result<Json<Data<bool>>, ApiError> {
    let ids = ids_from_query(raw.as_deref())?;
    ops::delete(&state.db, &by, &ids).await?;
    Ok(data(true))
}

/// `PUT /api/subscribers/{id}/blocklist`
pub(crate) async fn blocklist_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    match ops::blocklist(&state.db, &by, &[id]).await? {
        0 => Err(ApiError::NotFound("subscriber not found".into())),
        _ => Ok(data(true)),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct IdsBody {
    ids: Vec<i64>,
}

/// `PUT /api/subscribers/blocklist` with `{"ids": […]}`
pub(crate) async fn blocklist_many(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<IdsBody>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::blocklist(&state.db, &by, &body.ids).await?;
    Ok(data(true))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListsBody {
    ids: Vec<i64>,
    action: String,
    target_list_ids: Vec<i64>,
    status: Option<SubscriptionStatus>,
}

/// `PUT /api/subscribers/lists`: add to, remove from or unsubscribe from lists.
pub(crate) async fn change_lists(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<ListsBody>,
) -> Result<Json<Data<bool>>, ApiError> {
    let action = ListAction::parse(&body.action, body.status)?;
    ops::change_lists(&state.db, &by, &body.ids, &body.target_list_ids, action).await?;
    Ok(data(true))
}

/// `GET /api/subscribers/{id}/export`: everything stored about one subscriber, as a file.
pub(crate) async fn export_data(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let body = ops::export(&state.db, &by, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"subscriber-{id}.json\""),
            ),
        ],
        Json(body),
    ))
}

/// `POST /api/subscribers/{id}/optin`: mails the confirmation again, within the
/// per-address limits every confirmation mail obeys.
pub(crate) async fn send_optin(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    match state.readers.resend_confirmation(&by, id).await? {
        Resent::Sent => {
            state.kick.kick();
            Ok(data(true))
        }
        Resent::NothingWaiting => Err(ApiError::bad_request(
            "the subscriber has no subscription waiting for confirmation",
        )),
        Resent::Limited => Err(ApiError::Status(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "this address had a confirmation mail moments ago or has had its share for today"
                .into(),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConsentParams {
    subscriber_id: Option<i64>,
    list_id: Option<i64>,
    #[serde(flatten)]
    page: PageParams,
}

/// `GET /api/consents`: consent records as proof (GDPR, KVKK), oldest first, filtered by
/// subscriber or list; `per_page=all` for everything.
pub(crate) async fn consents(
    State(state): State<AppState>,
    Acting(by): Acting,
    Query(params): Query<ConsentParams>,
) -> Result<Json<Data<PageResults<ConsentRecord>>>, ApiError> {
    let page = params.page.resolve()?;
    let query = ConsentQuery {
        subscriber_id: params.subscriber_id,
        list_id: params.list_id,
        limit: page.limit,
        offset: page.offset(),
    };
    let (records, total) = ops::consents(&state.db, &by, &query).await?;
    Ok(data(PageResults::new(records, total, page, String::new())))
}

/// `POST /subscription/optin/{uuid}` with API credentials, as listmonk's clients confirm a
/// subscriber: `l` names lists (all waiting ones when absent), `confirm=true` is required.
pub(crate) async fn confirm_optin(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(uuid): Path<String>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Result<Json<Data<bool>>, ApiError> {
    let uuid = uuid::Uuid::parse_str(uuid.trim())
        .map_err(|_| ApiError::bad_request(format!("'{uuid}' is not a subscriber UUID")))?;
    let mut fields: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    fields.extend(form_urlencoded::parse(&body).into_owned());
    let confirmed = fields.iter().any(|(k, v)| k == "confirm" && v == "true");
    if !confirmed {
        return Err(ApiError::bad_request("confirm=true is required"));
    }
    let mut lists = Vec::new();
    for (_, value) in fields.iter().filter(|(k, _)| k == "l") {
        lists.push(
            uuid::Uuid::parse_str(value.trim())
                .map_err(|_| ApiError::bad_request(format!("'{value}' is not a list UUID")))?,
        );
    }
    state.readers.confirm_as_admin(&by, uuid, &lists).await?;
    Ok(data(true))
}
