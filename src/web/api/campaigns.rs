//! `/api/campaigns`: listmonk's campaign endpoints, with the delivery progress in each
//! campaign (`to_send`, `sent`, and bulten's `failed`, `bounced`, `skipped`, `rate`).

use axum::Json;
use axum::extract::State;
use axum::response::Html;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Data, PageParams, PageResults, data};
use crate::domain::{CampaignStatus, CampaignType, ContentType, Timestamp};
use crate::ops::access::Caller;
use crate::ops::campaigns::{self as ops, Campaign, CampaignDraft, CampaignList, CampaignQuery};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Json as Body, Path, Query};
use crate::web::state::AppState;

#[derive(Debug, Serialize)]
pub(crate) struct ListRef {
    id: Option<i64>,
    name: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct CampaignView {
    id: i64,
    uuid: uuid::Uuid,
    name: String,
    subject: String,
    from_email: String,
    body: String,
    body_source: Option<String>,
    altbody: Option<String>,
    content_type: ContentType,
    #[serde(rename = "type")]
    campaign_type: CampaignType,
    status: CampaignStatus,
    tags: Vec<String>,
    /// Always a number (listmonk clients require it): the default template's when unset.
    template_id: i64,
    messenger: crate::domain::Messenger,
    headers: Value,
    attribs: Value,
    lists: Vec<ListRef>,
    media: Vec<Value>,
    send_at: Option<Timestamp>,
    started_at: Option<Timestamp>,
    to_send: i64,
    sent: i64,
    failed: i64,
    bounced: i64,
    skipped: i64,
    /// Why bulten paused the campaign (a message it could not compose), until resumed.
    status_reason: Option<String>,
    /// Messages per second since the start.
    rate: f64,
    views: i64,
    clicks: i64,
    archive: bool,
    archive_slug: Option<String>,
    archive_template_id: Option<i64>,
    archive_meta: Value,
    created_at: Timestamp,
    updated_at: Timestamp,
}

fn rate(c: &Campaign) -> f64 {
    let Some(started) = c.started_at else {
        return 0.0;
    };
    let end = c.finished_at.unwrap_or_else(Timestamp::now);
    let secs = (end.as_datetime() - started.as_datetime()).as_seconds_f64();
    if secs <= 0.0 {
        0.0
    } else {
        (c.sent as f64 / secs * 10.0).round() / 10.0
    }
}

impl CampaignView {
    fn new(c: Campaign, lists: &[CampaignList], default_template: i64) -> Self {
        let rate = rate(&c);
        Self {
            lists: lists
                .iter()
                .filter(|l| l.campaign_id == c.id)
                .map(|l| ListRef {
                    id: l.id,
                    name: l.name.clone(),
                })
                .collect(),
            id: c.id,
            uuid: c.uuid,
            name: c.name,
            subject: c.subject,
            from_email: c.from_email,
            body: c.body,
            body_source: None,
            altbody: c.altbody,
            content_type: c.content_type,
            campaign_type: c.campaign_type,
            status: c.status,
            tags: c.tags.0,
            template_id: c.template_id.unwrap_or(default_template),
            messenger: c.messenger,
            headers: c.headers.0,
            attribs: c.attribs.0,
            media: Vec::new(),
            send_at: c.send_at,
            started_at: c.started_at,
            to_send: c.to_send,
            sent: c.sent,
            failed: c.failed,
            bounced: c.bounced,
            skipped: c.skipped,
            status_reason: c.status_reason,
            rate,
            views: 0,
            clicks: 0,
            archive: false,
            archive_slug: None,
            archive_template_id: None,
            archive_meta: Value::Object(Default::default()),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// One campaign as the API shows it, described by `ops`.
async fn view(state: &AppState, by: &Caller, campaign: Campaign) -> Result<CampaignView, ApiError> {
    let described = ops::describe(&state.db, by, vec![campaign]).await?;
    let lists = described.lists;
    let default_template = described.default_template;
    let campaign = described
        .campaigns
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("describing a campaign lost it")))?;
    Ok(CampaignView::new(campaign, &lists, default_template))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    query: Option<String>,
    /// One status, or several separated by commas.
    status: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

/// `GET /api/campaigns`
pub(crate) async fn search(
    State(state): State<AppState>,
    Acting(by): Acting,
    Query(params): Query<SearchParams>,
) -> Result<Json<Data<PageResults<CampaignView>>>, ApiError> {
    let page = params.page.resolve()?;
    let statuses = params
        .status
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<CampaignStatus>)
        .collect::<Result<Vec<_>, _>>()?;
    let query = CampaignQuery {
        text: params.query.clone().filter(|q| !q.trim().is_empty()),
        statuses,
        list_ids: None,
        limit: page.limit,
        offset: page.offset(),
    };
    let found = ops::search(&state.db, &by, &query).await?;
    let results = found
        .campaigns
        .into_iter()
        .map(|c| CampaignView::new(c, &found.lists, found.default_template))
        .collect();
    Ok(data(PageResults::new(
        results,
        found.total,
        page,
        params.query.unwrap_or_default(),
    )))
}

/// `GET /api/campaigns/{id}`
pub(crate) async fn get_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<CampaignView>>, ApiError> {
    let campaign = ops::get(&state.db, &by, id).await?;
    Ok(data(view(&state, &by, campaign).await?))
}

/// A campaign as clients send it; on update, absent fields keep their values.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CampaignBody {
    name: Option<String>,
    subject: Option<String>,
    lists: Option<Vec<i64>>,
    from_email: Option<String>,
    #[serde(rename = "type")]
    campaign_type: Option<CampaignType>,
    content_type: Option<ContentType>,
    body: Option<String>,
    altbody: Option<String>,
    send_at: Option<String>,
    messenger: Option<String>,
    template_id: Option<i64>,
    tags: Option<Vec<String>>,
    headers: Option<Value>,
    attribs: Option<Value>,
    /// Test sends only: the addresses.
    #[serde(default)]
    subscribers: Vec<String>,
}

impl CampaignBody {
    /// The body as a draft; only `send_at` needs parsing here.
    fn draft(&self) -> Result<CampaignDraft, ApiError> {
        let send_at = match self.send_at.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(text) => Some(Some(Timestamp::parse(text)?)),
        };
        Ok(CampaignDraft {
            name: self.name.clone(),
            subject: self.subject.clone(),
            lists: self.lists.clone(),
            from_email: self.from_email.clone(),
            campaign_type: self.campaign_type,
            content_type: self.content_type,
            body: self.body.clone(),
            altbody: self.altbody.clone(),
            send_at,
            messenger: self.messenger.clone(),
            // listmonk sends 0 for "the default template".
            template_id: self.template_id.map(|id| (id != 0).then_some(id)),
            tags: self.tags.clone(),
            headers: self.headers.clone(),
            attribs: self.attribs.clone(),
        })
    }
}

/// `POST /api/campaigns`
pub(crate) async fn create(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<CampaignBody>,
) -> Result<Json<Data<CampaignView>>, ApiError> {
    let from = &state.settings.from_email;
    let campaign = ops::create(&state.db, &state.kit, &by, from, body.draft()?).await?;
    Ok(data(view(&state, &by, campaign).await?))
}

/// `PUT /api/campaigns/{id}`
pub(crate) async fn update(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<CampaignBody>,
) -> Result<Json<Data<CampaignView>>, ApiError> {
    let campaign = ops::update(&state.db, &state.kit, &by, id, body.draft()?).await?;
    state.kick.kick();
    Ok(data(view(&state, &by, campaign).await?))
}

/// `DELETE /api/campaigns/{id}`
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::delete(&state.db, &by, id).await?;
    Ok(data(true))
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatusBody {
    status: CampaignStatus,
}

/// `PUT /api/campaigns/{id}/status`
pub(crate) async fn change_status(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<StatusBody>,
) -> Result<Json<Data<CampaignView>>, ApiError> {
    let campaign = ops::change_status(&state.db, &by, id, body.status).await?;
    state.kick.kick();
    Ok(data(view(&state, &by, campaign).await?))
}

/// `GET /api/campaigns/{id}/preview`
pub(crate) async fn preview(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Html<String>, ApiError> {
    let draft = CampaignDraft::default();
    Ok(Html(
        ops::preview(&state.db, &state.kit, &by, id, &draft).await?,
    ))
}

/// `POST /api/campaigns/{id}/preview`: unsaved content, as it would look.
pub(crate) async fn preview_unsaved(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<CampaignBody>,
) -> Result<Html<String>, ApiError> {
    let draft = body.draft()?;
    Ok(Html(
        ops::preview(&state.db, &state.kit, &by, id, &draft).await?,
    ))
}

/// `POST /api/campaigns/{id}/test`: the campaign (with unsaved changes) to a few addresses.
pub(crate) async fn send_test(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<CampaignBody>,
) -> Result<Json<Data<bool>>, ApiError> {
    let draft = body.draft()?;
    ops::send_test(&state.db, &state.kit, &by, id, &draft, &body.subscribers).await?;
    state.kick.kick();
    Ok(data(true))
}

#[derive(Debug, Serialize)]
pub(crate) struct RunningStats {
    id: i64,
    status: CampaignStatus,
    to_send: i64,
    sent: i64,
    failed: i64,
    bounced: i64,
    skipped: i64,
    started_at: Option<Timestamp>,
    updated_at: Timestamp,
    rate: f64,
    net_rate: f64,
}

/// `GET /api/campaigns/running/stats`
pub(crate) async fn running_stats(
    State(state): State<AppState>,
    Acting(by): Acting,
) -> Result<Json<Data<Vec<RunningStats>>>, ApiError> {
    let found = ops::running(&state.db, &by).await?;
    Ok(data(
        found
            .into_iter()
            .map(|c| {
                let rate = rate(&c);
                RunningStats {
                    id: c.id,
                    status: c.status,
                    to_send: c.to_send,
                    sent: c.sent,
                    failed: c.failed,
                    bounced: c.bounced,
                    skipped: c.skipped,
                    started_at: c.started_at,
                    updated_at: c.updated_at,
                    rate,
                    net_rate: rate,
                }
            })
            .collect(),
    ))
}
