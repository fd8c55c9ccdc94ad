//! `/api/templates`: listmonk's template endpoints. `GET /api/templates` answers a plain
//! array, as listmonk does.

use axum::Json;
use axum::extract::State;
use axum::response::Html;
use serde::{Deserialize, Serialize};

use super::{Data, data};
use crate::domain::{TemplateType, Timestamp};
use crate::ops::templates::{self as ops, Template, TemplateDraft};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Json as Body, Path};
use crate::web::state::AppState;

#[derive(Debug, Serialize)]
pub(crate) struct TemplateView {
    id: i64,
    name: String,
    #[serde(rename = "type")]
    template_type: TemplateType,
    subject: String,
    body: String,
    body_source: Option<String>,
    is_default: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Template> for TemplateView {
    fn from(t: Template) -> Self {
        Self {
            id: t.id,
            name: t.name,
            template_type: t.template_type,
            subject: t.subject,
            body: t.body,
            body_source: None,
            is_default: t.is_default,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// `GET /api/templates`
pub(crate) async fn all(
    State(state): State<AppState>,
) -> Result<Json<Data<Vec<TemplateView>>>, ApiError> {
    let templates = ops::all(&state.db).await?;
    Ok(data(
        templates.into_iter().map(TemplateView::from).collect(),
    ))
}

/// `GET /api/templates/{id}`
pub(crate) async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Data<TemplateView>>, ApiError> {
    Ok(data(ops::get(&state.db, id).await?.into()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct TemplateBody {
    name: Option<String>,
    #[serde(rename = "type", alias = "template_type")]
    template_type: Option<TemplateType>,
    subject: Option<String>,
    body: Option<String>,
}

impl TemplateBody {
    fn draft(self) -> TemplateDraft {
        TemplateDraft {
            name: self.name,
            template_type: self.template_type,
            subject: self.subject,
            body: self.body,
        }
    }
}

/// `POST /api/templates`
pub(crate) async fn create(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<TemplateBody>,
) -> Result<Json<Data<TemplateView>>, ApiError> {
    Ok(data(
        ops::create(&state.db, &by, body.draft()).await?.into(),
    ))
}

/// `PUT /api/templates/{id}`
pub(crate) async fn update(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
    Body(body): Body<TemplateBody>,
) -> Result<Json<Data<TemplateView>>, ApiError> {
    Ok(data(
        ops::update(&state.db, &by, id, body.draft()).await?.into(),
    ))
}

/// `DELETE /api/templates/{id}`
pub(crate) async fn delete_one(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::delete(&state.db, &by, id).await?;
    Ok(data(true))
}

/// `PUT /api/templates/{id}/default`
pub(crate) async fn set_default(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(id): Path<i64>,
) -> Result<Json<Data<bool>>, ApiError> {
    ops::set_default(&state.db, &by, id).await?;
    Ok(data(true))
}

/// `GET /api/templates/{id}/preview`: the template around sample content, as HTML.
pub(crate) async fn preview_one(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Html<String>, ApiError> {
    let template = ops::get(&state.db, id).await?;
    preview(
        &state,
        template.template_type,
        &template.subject,
        &template.body,
    )
}

/// `POST /api/templates/preview`: an unsaved template, as HTML.
pub(crate) async fn preview_unsaved(
    State(state): State<AppState>,
    Body(body): Body<TemplateBody>,
) -> Result<Html<String>, ApiError> {
    let template_body = body
        .body
        .ok_or_else(|| ApiError::bad_request("send the template body to preview"))?;
    let kind = body.template_type.unwrap_or(TemplateType::Campaign);
    preview(
        &state,
        kind,
        body.subject.as_deref().unwrap_or_default(),
        &template_body,
    )
}

fn preview(
    state: &AppState,
    kind: TemplateType,
    subject: &str,
    body: &str,
) -> Result<Html<String>, ApiError> {
    Ok(Html(ops::preview(&state.kit, kind, subject, body)?))
}
