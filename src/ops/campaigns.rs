//! Campaigns: checking what an editor writes, moving through the statuses, previews and
//! test sends.

use std::sync::Arc;

use crate::db::campaigns;
pub(crate) use crate::db::campaigns::{Campaign, CampaignFields, CampaignList, CampaignQuery};
use crate::db::deliveries::{self, NewTx, Recipient};
use crate::db::{self as store, Db};
use crate::domain::{
    CampaignStatus, CampaignType, ContentType, EmailAddress, Invalid, Messenger, Tags,
    TemplateType, Timestamp,
};
use crate::ops::access::{Caller, ListAccess};
use crate::ops::audit::{self, Change};
use crate::ops::compose::{self, CampaignComposer, MailKit};
use crate::ops::{OpsError, OpsResult};

/// Checks the fields that need the database (lists, template) and that the campaign
/// compiles, so a broken template is refused when saved, not when sent. (Rendering needs a
/// recipient's values and is checked by previews and test sends.)
async fn check(db: &Db, kit: &Arc<MailKit>, fields: &CampaignFields) -> OpsResult<()> {
    if fields.name.trim().is_empty() {
        return Err(OpsError::Invalid("the campaign name is empty".into()));
    }
    if fields.subject.trim().is_empty() {
        return Err(OpsError::Invalid("the subject is empty".into()));
    }
    let layout = compose::layout_for(db, fields.template_id, TemplateType::Campaign).await?;
    let probe = Campaign {
        id: 0,
        uuid: uuid::Uuid::nil(),
        name: fields.name.clone(),
        subject: fields.subject.clone(),
        from_email: fields.from_email.clone(),
        body: fields.body.clone(),
        altbody: fields.altbody.clone(),
        content_type: fields.content_type,
        campaign_type: fields.campaign_type,
        status: CampaignStatus::Draft,
        tags: sqlx::types::Json(fields.tags.clone()),
        template_id: fields.template_id,
        headers: sqlx::types::Json(fields.headers.clone()),
        attribs: sqlx::types::Json(fields.attribs.clone()),
        messenger: fields.messenger,
        send_at: fields.send_at,
        started_at: None,
        finished_at: None,
        to_send: 0,
        sent: 0,
        failed: 0,
        bounced: 0,
        skipped: 0,
        status_reason: None,
        created_at: crate::domain::Timestamp::now(),
        updated_at: crate::domain::Timestamp::now(),
    };
    CampaignComposer::new(&probe, &[], layout.as_deref(), kit.clone())?;
    Ok(())
}

/// The IDs of the lists a campaign goes to.
fn list_ids(fields: &CampaignFields) -> Vec<i64> {
    fields.lists.iter().map(|(id, _)| *id).collect()
}

/// The named lists, with their names; unknown IDs are an error naming them.
pub(crate) async fn resolve_lists(db: &Db, ids: &[i64]) -> OpsResult<Vec<(i64, String)>> {
    let lists = crate::ops::lists::require_all(db, ids).await?;
    Ok(lists.into_iter().map(|l| (l.id, l.name)).collect())
}

/// A campaign as a caller describes it. On create, absent fields take their defaults; on
/// update they keep the saved values. Previews and test sends apply a draft to the saved
/// campaign without saving it.
#[derive(Debug, Clone, Default)]
pub(crate) struct CampaignDraft {
    pub name: Option<String>,
    pub subject: Option<String>,
    pub lists: Option<Vec<i64>>,
    pub from_email: Option<String>,
    pub campaign_type: Option<CampaignType>,
    pub content_type: Option<ContentType>,
    pub body: Option<String>,
    /// `Some("")` removes the alternative plain text.
    pub altbody: Option<String>,
    /// `Some(None)` clears the schedule.
    pub send_at: Option<Option<Timestamp>>,
    pub messenger: Option<String>,
    /// `Some(None)`: the default template.
    pub template_id: Option<Option<i64>>,
    pub tags: Option<Vec<String>>,
    pub headers: Option<serde_json::Value>,
    pub attribs: Option<serde_json::Value>,
}

impl CampaignDraft {
    /// The saved campaign with this draft's changes to what it looks like, for previews
    /// and test sends.
    fn applied_to(&self, mut campaign: Campaign) -> Campaign {
        if let Some(text) = &self.body {
            campaign.body = text.clone();
        }
        if let Some(content_type) = self.content_type {
            campaign.content_type = content_type;
        }
        if let Some(subject) = self.subject.as_ref().filter(|s| !s.trim().is_empty()) {
            campaign.subject = subject.clone();
        }
        if let Some(from) = self.from_email.as_ref().filter(|s| !s.trim().is_empty()) {
            campaign.from_email = from.clone();
        }
        if let Some(template) = self.template_id {
            campaign.template_id = template;
        }
        if let Some(alt) = &self.altbody {
            campaign.altbody = (!alt.trim().is_empty()).then(|| alt.clone());
        }
        campaign
    }

    /// The columns to store: the draft over `current` (or the defaults), checked.
    async fn fields(
        self,
        db: &Db,
        default_from: &str,
        current: Option<&Campaign>,
    ) -> OpsResult<CampaignFields> {
        let list_ids = match (&self.lists, current) {
            (Some(ids), _) => ids.clone(),
            (None, Some(c)) => lists_of(db, &[c.id])
                .await?
                .iter()
                .filter_map(|l| l.id)
                .collect(),
            (None, None) => Vec::new(),
        };
        if list_ids.is_empty() {
            return Err(OpsError::Invalid(
                "choose at least one list in lists".into(),
            ));
        }
        let lists = resolve_lists(db, &list_ids).await?;
        let messenger = match self.messenger {
            Some(text) => text.parse::<Messenger>()?,
            None => current.map_or(Messenger::Email, |c| c.messenger),
        };
        let tags = self
            .tags
            .or_else(|| current.map(|c| c.tags.0.clone()))
            .unwrap_or_default();
        let tags = Tags::parse(&tags)?.as_slice().to_vec();
        Ok(CampaignFields {
            name: self
                .name
                .or_else(|| current.map(|c| c.name.clone()))
                .unwrap_or_default()
                .trim()
                .to_owned(),
            subject: self
                .subject
                .or_else(|| current.map(|c| c.subject.clone()))
                .unwrap_or_default()
                .trim()
                .to_owned(),
            from_email: self
                .from_email
                .filter(|f| !f.trim().is_empty())
                .or_else(|| current.map(|c| c.from_email.clone()))
                .unwrap_or_else(|| default_from.to_owned()),
            body: self
                .body
                .or_else(|| current.map(|c| c.body.clone()))
                .unwrap_or_default(),
            altbody: match self.altbody {
                Some(text) if text.trim().is_empty() => None,
                Some(text) => Some(text),
                None => current.and_then(|c| c.altbody.clone()),
            },
            content_type: self
                .content_type
                .or_else(|| current.map(|c| c.content_type))
                .unwrap_or(ContentType::Richtext),
            campaign_type: self
                .campaign_type
                .or_else(|| current.map(|c| c.campaign_type))
                .unwrap_or(CampaignType::Regular),
            tags,
            template_id: self
                .template_id
                .unwrap_or_else(|| current.and_then(|c| c.template_id)),
            headers: self
                .headers
                .or_else(|| current.map(|c| c.headers.0.clone()))
                .unwrap_or(serde_json::Value::Array(Vec::new())),
            attribs: self
                .attribs
                .or_else(|| current.map(|c| c.attribs.0.clone()))
                .unwrap_or(serde_json::Value::Object(Default::default())),
            messenger,
            send_at: self
                .send_at
                .unwrap_or_else(|| current.and_then(|c| c.send_at)),
            lists,
        })
    }
}

/// Creates a draft campaign; `default_from` is the sender when the draft names none.
///
/// # Errors
/// `Invalid` for missing fields, unknown lists, a template that does not compile.
pub(crate) async fn create(
    db: &Db,
    kit: &Arc<MailKit>,
    by: &Caller,
    default_from: &str,
    draft: CampaignDraft,
) -> OpsResult<Campaign> {
    let fields = draft.fields(db, default_from, None).await?;
    by.require_lists(&list_ids(&fields), ListAccess::Manage)?;
    check(db, kit, &fields).await?;
    let campaign = campaigns::insert(db, &fields).await?;
    let change =
        Change::new("campaign.create", "campaign", Some(campaign.id)).after(&state(&campaign));
    audit::record(db, by, change).await;
    Ok(campaign)
}

/// What the audit log keeps of a campaign: what identifies and schedules it, and the size
/// of its body, which can be large.
fn state(campaign: &Campaign) -> serde_json::Value {
    serde_json::json!({
        "name": campaign.name,
        "subject": campaign.subject,
        "from_email": campaign.from_email,
        "status": campaign.status.as_str(),
        "template_id": campaign.template_id,
        "send_at": campaign.send_at,
        "body_chars": campaign.body.chars().count(),
    })
}

/// Changes a campaign that is still editable; absent fields keep their values.
///
/// # Errors
/// As [`create`], and `Invalid` once the campaign is sending or sent.
pub(crate) async fn update(
    db: &Db,
    kit: &Arc<MailKit>,
    by: &Caller,
    id: i64,
    draft: CampaignDraft,
) -> OpsResult<Campaign> {
    let current = reach(db, by, id, ListAccess::Manage).await?;
    if !current.status.is_editable() {
        return Err(OpsError::Invalid(format!(
            "a {} campaign cannot be edited",
            current.status
        )));
    }
    let fields = draft
        .fields(db, &current.from_email, Some(&current))
        .await?;
    by.require_lists(&list_ids(&fields), ListAccess::Manage)?;
    check(db, kit, &fields).await?;
    let updated = campaigns::update(db, id, &fields)
        .await?
        .ok_or_else(|| OpsError::Conflict("the campaign changed status meanwhile".into()))?;
    let change = Change::new("campaign.update", "campaign", Some(id))
        .before(&state(&current))
        .after(&state(&updated));
    audit::record(db, by, change).await;
    Ok(updated)
}

/// Campaigns as the API describes them: with their lists, and the template those without
/// one use.
#[derive(Debug, Clone)]
pub(crate) struct Described {
    pub campaigns: Vec<Campaign>,
    pub lists: Vec<CampaignList>,
    /// The default campaign template's ID (listmonk shows it), 0 if none.
    pub default_template: i64,
    /// How many match in all, when this is a page.
    pub total: i64,
}

/// `campaigns` with their lists (those `by` may see) and the default template.
///
/// # Errors
/// When the database fails.
pub(crate) async fn describe(
    db: &Db,
    by: &Caller,
    campaigns: Vec<Campaign>,
) -> OpsResult<Described> {
    let ids: Vec<i64> = campaigns.iter().map(|c| c.id).collect();
    let mut lists = lists_of(db, &ids).await?;
    // A campaign a limited caller sees may go to other desks' lists too: those are not
    // named to them (nor deleted lists, whose names stay on the campaign).
    if !by.reaches_all_lists() {
        lists.retain(|l| l.id.is_some_and(|id| by.lists.allows(id, ListAccess::Get)));
    }
    Ok(Described {
        lists,
        default_template: default_template_id(db).await?,
        total: i64::try_from(campaigns.len()).unwrap_or(i64::MAX),
        campaigns,
    })
}

/// A page of campaigns matching `query`, described, with how many match in all.
///
/// # Errors
/// When the database fails.
pub(crate) async fn search(db: &Db, by: &Caller, query: &CampaignQuery) -> OpsResult<Described> {
    let query = CampaignQuery {
        list_ids: by.lists_with(ListAccess::Get),
        ..query.clone()
    };
    let (found, total) = campaigns::query(db, &query).await?;
    Ok(Described {
        total,
        ..describe(db, by, found).await?
    })
}

/// The running campaigns the caller may see.
pub(crate) async fn running(db: &Db, by: &Caller) -> OpsResult<Vec<Campaign>> {
    let query = CampaignQuery {
        statuses: vec![CampaignStatus::Running],
        list_ids: by.lists_with(ListAccess::Get),
        ..CampaignQuery::default()
    };
    Ok(campaigns::query(db, &query).await?.0)
}

/// The template a campaign without one uses (listmonk shows its ID), 0 if none.
pub(crate) async fn default_template_id(db: &Db) -> OpsResult<i64> {
    Ok(store::templates::default_of(db, TemplateType::Campaign)
        .await?
        .map_or(0, |t| t.id))
}

/// A campaign the caller may see: a caller limited to some lists sees the campaigns to
/// one of them.
///
/// # Errors
/// `NotFound`.
pub(crate) async fn get(db: &Db, by: &Caller, id: i64) -> OpsResult<Campaign> {
    reach(db, by, id, ListAccess::Get).await
}

async fn load(db: &Db, id: i64) -> OpsResult<Campaign> {
    campaigns::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("campaign"))
}

/// The campaign, if the caller may see it and, for `ListAccess::Manage`, change or send it:
/// that takes every list it goes to, so one desk cannot mail another's readers.
///
/// # Errors
/// `NotFound` for a campaign the caller cannot see; `ForbiddenList`.
async fn reach(db: &Db, by: &Caller, id: i64, access: ListAccess) -> OpsResult<Campaign> {
    let campaign = load(db, id).await?;
    if by.reaches_all_lists() {
        return Ok(campaign);
    }
    let lists: Vec<i64> = campaigns::lists_of(db, &[id])
        .await?
        .iter()
        .filter_map(|l| l.id)
        .collect();
    if !lists.iter().any(|l| by.lists.allows(*l, ListAccess::Get)) {
        return Err(OpsError::NotFound("campaign"));
    }
    if access == ListAccess::Manage
        && !lists
            .iter()
            .all(|l| by.lists.allows(*l, ListAccess::Manage))
    {
        let permission = crate::ops::access::Permission::CampaignsManage;
        return Err(crate::ops::subscribers::refusal_naming_only_seen(
            by, &lists, permission,
        ));
    }
    Ok(campaign)
}

pub(crate) async fn lists_of(db: &Db, ids: &[i64]) -> OpsResult<Vec<CampaignList>> {
    Ok(campaigns::lists_of(db, ids).await?)
}

/// Deletes a campaign that is not sending (pause or cancel it first).
pub(crate) async fn delete(db: &Db, by: &Caller, id: i64) -> OpsResult<()> {
    let campaign = reach(db, by, id, ListAccess::Manage).await?;
    if campaign.status == CampaignStatus::Running {
        return Err(OpsError::Invalid(
            "a running campaign cannot be deleted; pause or cancel it first".into(),
        ));
    }
    campaigns::delete(db, id).await?;
    let change = Change::new("campaign.delete", "campaign", Some(id)).before(&state(&campaign));
    audit::record(db, by, change).await;
    Ok(())
}

/// Moves a campaign to `to`, if the move is legal. Starting writes the ledger.
pub(crate) async fn change_status(
    db: &Db,
    by: &Caller,
    id: i64,
    to: CampaignStatus,
) -> OpsResult<Campaign> {
    let campaign = reach(db, by, id, ListAccess::Manage).await?;
    let from = campaign.status;
    from.check_transition(to)?;
    let moved = match to {
        CampaignStatus::Running if campaign.started_at.is_none() => {
            if campaigns::lists_of(db, &[id])
                .await?
                .iter()
                .all(|l| l.id.is_none())
            {
                return Err(OpsError::Invalid(
                    "the campaign has no lists to send to".into(),
                ));
            }
            let started = campaigns::start(db, id, from).await?.is_some();
            if started {
                store::refresh_statistics(db, &["deliveries"]).await?;
            }
            started
        }
        CampaignStatus::Scheduled => {
            let Some(send_at) = campaign.send_at else {
                return Err(OpsError::Invalid(
                    "set send_at before scheduling the campaign".into(),
                ));
            };
            if send_at.as_datetime() <= time::OffsetDateTime::now_utc() {
                return Err(OpsError::Invalid("send_at is in the past".into()));
            }
            campaigns::set_status(db, id, from, to).await?
        }
        _ => campaigns::set_status(db, id, from, to).await?,
    };
    if !moved {
        return Err(OpsError::Conflict(
            "the campaign changed status meanwhile; reload it".into(),
        ));
    }
    let change = Change::new("campaign.status", "campaign", Some(id))
        .before(&serde_json::json!({"status": from.as_str()}))
        .after(&serde_json::json!({"status": to.as_str()}));
    audit::record(db, by, change).await;
    load(db, id).await
}

/// The campaign as its first reader would see it (as listmonk previews), or as a sample
/// reader when its lists have none yet.
/// The campaign's HTML with `draft`'s unsaved changes, for its first reader (a sample
/// reader when it has none yet).
///
/// # Errors
/// `NotFound`; `Invalid` with the line and reason when the template fails.
pub(crate) async fn preview(
    db: &Db,
    kit: &Arc<MailKit>,
    by: &Caller,
    id: i64,
    draft: &CampaignDraft,
) -> OpsResult<String> {
    let campaign = &draft.applied_to(get(db, by, id).await?);
    let lists = campaigns::lists_of(db, &[campaign.id]).await?;
    let layout = compose::layout_for(db, campaign.template_id, TemplateType::Campaign).await?;
    let composer = CampaignComposer::new(campaign, &lists, layout.as_deref(), kit.clone())?;
    let optin = campaign.campaign_type == crate::domain::CampaignType::Optin;
    // The first reader may be on any of the campaign's lists: a caller who cannot see all of
    // them previews with the sample reader, not with another desk's reader.
    let sees_every_list = lists
        .iter()
        .filter_map(|l| l.id)
        .all(|l| by.lists.allows(l, ListAccess::Get));
    let first = if sees_every_list {
        deliveries::first_recipient(db, campaign.id, optin).await?
    } else {
        None
    };
    let reader = first.unwrap_or_else(compose::sample_recipient);
    Ok(composer.preview_html(&reader)?)
}

/// Sends the campaign, with `draft`'s unsaved changes, to these addresses through the
/// transactional queue. Known subscribers see their own values; others a sample reader's.
pub(crate) async fn send_test(
    db: &Db,
    kit: &Arc<MailKit>,
    by: &Caller,
    id: i64,
    draft: &CampaignDraft,
    addresses: &[String],
) -> OpsResult<usize> {
    let campaign = &draft.applied_to(reach(db, by, id, ListAccess::Manage).await?);
    if addresses.is_empty() {
        return Err(OpsError::Invalid(
            "name at least one address in subscribers".into(),
        ));
    }
    if addresses.len() > 50 {
        return Err(OpsError::Invalid(
            "a test goes to at most 50 addresses".into(),
        ));
    }
    let lists = campaigns::lists_of(db, &[campaign.id]).await?;
    let layout = compose::layout_for(db, campaign.template_id, TemplateType::Campaign).await?;
    let composer = CampaignComposer::new(campaign, &lists, layout.as_deref(), kit.clone())?;
    let mut messages = Vec::with_capacity(addresses.len());
    for address in addresses {
        let email = EmailAddress::parse(address)
            .map_err(|e| Invalid(format!("invalid address '{address}': {e}")))?;
        let known = store::subscribers::get_by_email(db, &email).await?;
        // A reader the caller cannot change is mailed as the sample reader: their own values
        // and links stay with the desks they belong to.
        let known = match known {
            Some(s) if by.reaches_all_lists() => Some(s),
            Some(s) => {
                let reach = crate::ops::subscribers::require_readers(
                    db,
                    by,
                    &[s.id],
                    crate::ops::subscribers::Touches::Shared,
                )
                .await;
                reach.is_ok().then_some(s)
            }
            None => None,
        };
        let recipient = match known {
            Some(s) => Recipient {
                id: s.id,
                uuid: s.uuid,
                email: s.email.as_str().to_owned(),
                name: s.name.as_str().to_owned(),
                attribs: sqlx::types::Json(serde_json::Value::Object(s.attribs.as_map().clone())),
                list_id: None,
            },
            None => Recipient {
                email: email.as_str().to_owned(),
                ..compose::sample_recipient()
            },
        };
        // Test mail is not a ledger row of the campaign; the VERP token names no row.
        let composed = composer.compose(0, &recipient)?;
        messages.push(NewTx {
            subscriber_id: (recipient.id > 0).then_some(recipient.id),
            rcpt: composed.rcpt,
            mail_from: composed.mail_from,
            message: composed.bytes,
        });
    }
    deliveries::insert_tx(db, &messages).await?;
    let change = Change::new("campaign.send_test", "campaign", Some(id))
        .after(&serde_json::json!({"to": addresses}));
    audit::record(db, by, change).await;
    Ok(messages.len())
}
