//! Campaigns: checking what an editor writes, moving through the statuses, previews and
//! test sends.

use std::sync::Arc;

use crate::db::campaigns::{self, Campaign, CampaignFields, CampaignList};
use crate::db::deliveries::{self, NewTx, Recipient};
use crate::db::{self as store, Db};
use crate::domain::{CampaignStatus, EmailAddress, Invalid, TemplateType};
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
        messenger: fields.messenger.clone(),
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

/// The named lists, with their names; unknown IDs are an error naming them.
pub async fn resolve_lists(db: &Db, ids: &[i64]) -> OpsResult<Vec<(i64, String)>> {
    let lists = crate::ops::lists::require_all(db, ids).await?;
    Ok(lists.into_iter().map(|l| (l.id, l.name)).collect())
}

pub async fn create(db: &Db, kit: &Arc<MailKit>, fields: &CampaignFields) -> OpsResult<Campaign> {
    check(db, kit, fields).await?;
    Ok(campaigns::insert(db, fields).await?)
}

pub async fn update(
    db: &Db,
    kit: &Arc<MailKit>,
    id: i64,
    fields: &CampaignFields,
) -> OpsResult<Campaign> {
    let current = get(db, id).await?;
    if !current.status.is_editable() {
        return Err(OpsError::Invalid(format!(
            "a {} campaign cannot be edited",
            current.status
        )));
    }
    check(db, kit, fields).await?;
    campaigns::update(db, id, fields)
        .await?
        .ok_or_else(|| OpsError::Conflict("the campaign changed status meanwhile".into()))
}

pub async fn get(db: &Db, id: i64) -> OpsResult<Campaign> {
    campaigns::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("campaign"))
}

pub async fn lists_of(db: &Db, ids: &[i64]) -> OpsResult<Vec<CampaignList>> {
    Ok(campaigns::lists_of(db, ids).await?)
}

/// Deletes a campaign that is not sending (pause or cancel it first).
pub async fn delete(db: &Db, id: i64) -> OpsResult<()> {
    let campaign = get(db, id).await?;
    if campaign.status == CampaignStatus::Running {
        return Err(OpsError::Invalid(
            "a running campaign cannot be deleted; pause or cancel it first".into(),
        ));
    }
    campaigns::delete(db, id).await?;
    Ok(())
}

/// Moves a campaign to `to`, if the move is legal. Starting writes the ledger.
pub async fn change_status(db: &Db, id: i64, to: CampaignStatus) -> OpsResult<Campaign> {
    let campaign = get(db, id).await?;
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
    get(db, id).await
}

/// The campaign as its first reader would see it (as listmonk previews), or as a sample
/// reader when its lists have none yet.
pub async fn preview(db: &Db, kit: &Arc<MailKit>, campaign: &Campaign) -> OpsResult<String> {
    let lists = campaigns::lists_of(db, &[campaign.id]).await?;
    let layout = compose::layout_for(db, campaign.template_id, TemplateType::Campaign).await?;
    let composer = CampaignComposer::new(campaign, &lists, layout.as_deref(), kit.clone())?;
    let optin = campaign.campaign_type == crate::domain::CampaignType::Optin;
    let reader = deliveries::first_recipient(db, campaign.id, optin)
        .await?
        .unwrap_or_else(compose::sample_recipient);
    Ok(composer.preview_html(&reader)?)
}

/// Sends the campaign, as it stands, to these addresses through the transactional queue.
/// Known subscribers see their own values; others a sample reader's.
pub async fn send_test(
    db: &Db,
    kit: &Arc<MailKit>,
    campaign: &Campaign,
    addresses: &[String],
) -> OpsResult<usize> {
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
        let recipient = match store::subscribers::get_by_email(db, &email).await? {
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
    Ok(messages.len())
}
