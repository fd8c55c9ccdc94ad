//! Templates: checked on save (they must compile), the shipped defaults, previews.

use crate::db::Db;
use crate::db::templates;
pub(crate) use crate::db::templates::{Template, TemplateFields};
use crate::domain::{Invalid, TemplateType};
use crate::ops::access::Caller;
use crate::ops::audit::{self, Change};
use crate::ops::compose::{self, MailKit};
use crate::ops::{OpsError, OpsResult};
use crate::render::{self, BodyFormat, CampaignVars, Compiled, Source};

/// Creates the shipped templates when there are none (the first start).
///
/// # Errors
/// When the database fails.
pub(crate) async fn ensure_defaults(db: &Db) -> OpsResult<()> {
    if templates::count(db).await? > 0 {
        return Ok(());
    }
    let campaign = TemplateFields {
        name: "Default campaign template".into(),
        template_type: TemplateType::Campaign,
        subject: String::new(),
        body: render::DEFAULT_CAMPAIGN_TEMPLATE.into(),
    };
    let tx = TemplateFields {
        name: "Default transactional template".into(),
        template_type: TemplateType::Tx,
        subject: "{{ data.subject | default(\"Message\") }}".into(),
        body: render::DEFAULT_TX_TEMPLATE.into(),
    };
    templates::insert(db, &campaign, true).await?;
    templates::insert(db, &tx, false).await?;
    Ok(())
}

/// Checks that a template compiles as its type requires.
///
/// # Errors
/// The compiler's message, with the line.
pub(crate) fn check(fields: &TemplateFields) -> Result<(), Invalid> {
    if fields.name.trim().is_empty() {
        return Err(Invalid("the template name is empty".into()));
    }
    let sample_body = "<p>Campaign body</p>";
    match fields.template_type {
        TemplateType::Campaign => Compiled::new(&Source {
            subject: &fields.subject,
            body: sample_body,
            format: BodyFormat::Html,
            layout: Some(&fields.body),
            altbody: None,
        })?,
        TemplateType::Tx => Compiled::new(&Source {
            subject: &fields.subject,
            body: &fields.body,
            format: BodyFormat::Html,
            layout: None,
            altbody: None,
        })?,
    };
    Ok(())
}

/// A template as a caller describes it; on update, absent fields keep their values.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateDraft {
    pub name: Option<String>,
    pub template_type: Option<TemplateType>,
    pub subject: Option<String>,
    pub body: Option<String>,
}

impl TemplateDraft {
    /// The draft over `current` (or the defaults: a campaign template, no subject).
    fn fields(self, current: Option<&Template>) -> OpsResult<TemplateFields> {
        let name = self
            .name
            .or_else(|| current.map(|c| c.name.clone()))
            .ok_or_else(|| OpsError::Invalid("the template name is empty".into()))?;
        let body = self
            .body
            .or_else(|| current.map(|c| c.body.clone()))
            .ok_or_else(|| OpsError::Invalid("the template body is empty".into()))?;
        Ok(TemplateFields {
            name: name.trim().to_owned(),
            template_type: self
                .template_type
                .or_else(|| current.map(|c| c.template_type))
                .unwrap_or(TemplateType::Campaign),
            subject: self
                .subject
                .or_else(|| current.map(|c| c.subject.clone()))
                .unwrap_or_default(),
            body,
        })
    }
}

/// Creates a template that compiles as its type requires.
///
/// # Errors
/// `Invalid` for a missing name or body, or a template that does not compile.
pub(crate) async fn create(db: &Db, by: &Caller, draft: TemplateDraft) -> OpsResult<Template> {
    // Templates dress every desk's mail: a caller limited to some lists changes none.
    by.require_every_list(crate::ops::access::Permission::TemplatesManage)?;
    let fields = draft.fields(None)?;
    check(&fields)?;
    let template = templates::insert(db, &fields, false).await?;
    let change =
        Change::new("template.create", "template", Some(template.id)).after(&state(&template));
    audit::record(db, by, change).await;
    Ok(template)
}

/// What the audit log keeps of a template: its identity and the size of its body, which
/// can be large.
fn state(template: &Template) -> serde_json::Value {
    serde_json::json!({
        "name": template.name,
        "type": template.template_type.as_str(),
        "subject": template.subject,
        "is_default": template.is_default,
        "body_chars": template.body.chars().count(),
    })
}

/// Changes a template; absent fields keep their values.
///
/// # Errors
/// As [`create`], and `NotFound`.
pub(crate) async fn update(
    db: &Db,
    by: &Caller,
    id: i64,
    draft: TemplateDraft,
) -> OpsResult<Template> {
    // Templates dress every desk's mail: a caller limited to some lists changes none.
    by.require_every_list(crate::ops::access::Permission::TemplatesManage)?;
    let current = get(db, id).await?;
    let fields = draft.fields(Some(&current))?;
    check(&fields)?;
    let template = templates::update(db, id, &fields)
        .await?
        .ok_or(OpsError::NotFound("template"))?;
    let change = Change::new("template.update", "template", Some(id))
        .before(&state(&current))
        .after(&state(&template));
    audit::record(db, by, change).await;
    Ok(template)
}

pub(crate) async fn get(db: &Db, id: i64) -> OpsResult<Template> {
    templates::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("template"))
}

/// Deletes a template; the default one stays (campaigns without a template use it).
pub(crate) async fn delete(db: &Db, by: &Caller, id: i64) -> OpsResult<()> {
    // Templates dress every desk's mail: a caller limited to some lists changes none.
    by.require_every_list(crate::ops::access::Permission::TemplatesManage)?;
    let template = get(db, id).await?;
    if template.is_default {
        return Err(OpsError::Invalid(
            "the default template cannot be deleted".into(),
        ));
    }
    templates::delete(db, id).await?;
    let change = Change::new("template.delete", "template", Some(id)).before(&state(&template));
    audit::record(db, by, change).await;
    Ok(())
}

pub(crate) async fn set_default(db: &Db, by: &Caller, id: i64) -> OpsResult<Template> {
    // Templates dress every desk's mail: a caller limited to some lists changes none.
    by.require_every_list(crate::ops::access::Permission::TemplatesManage)?;
    let template = get(db, id).await?;
    if template.template_type != TemplateType::Campaign {
        return Err(OpsError::Invalid(
            "only a campaign template can be the default".into(),
        ));
    }
    templates::set_default(db, id).await?;
    audit::record(
        db,
        by,
        Change::new("template.set_default", "template", Some(id)),
    )
    .await;
    get(db, id).await
}

/// Every template, default ones included.
pub(crate) async fn all(db: &Db) -> OpsResult<Vec<Template>> {
    Ok(templates::all(db).await?)
}

/// What a campaign looks like in a campaign template, for its preview.
const SAMPLE_CONTENT: &str = "<h1>A sample headline</h1>\
<p>This is how a campaign looks in this template. A <a href=\"https://example.com\">link</a>, \
a list:</p><ul><li>first</li><li>second</li></ul>";

/// A template, saved or not, rendered as HTML for a sample reader: a campaign template
/// around sample content, a transactional one as it is.
///
/// # Errors
/// `Invalid` with the line and reason when the template does not compile or fails.
pub(crate) fn preview(
    kit: &MailKit,
    kind: TemplateType,
    subject: &str,
    body: &str,
) -> OpsResult<String> {
    let (body, layout) = match kind {
        TemplateType::Campaign => (SAMPLE_CONTENT, Some(body)),
        TemplateType::Tx => (body, None),
    };
    let compiled = Compiled::new(&Source {
        subject,
        body,
        format: BodyFormat::Html,
        layout,
        altbody: None,
    })?;
    let sample = compose::sample_recipient();
    let (rendered, _) = compose::render_for(
        &compiled,
        &kit.links,
        (&sample).into(),
        CampaignVars {
            uuid: uuid::Uuid::nil().to_string(),
            name: "Sample campaign",
            subject: "Sample subject",
        },
        None,
        &serde_json::json!({}),
    )?;
    Ok(rendered.html)
}
