//! Composing finished messages: a campaign for one recipient, a transactional message from
//! a template. Used by the delivery workers, previews and test sends alike, so what an editor
//! previews is what recipients get.

use std::sync::Arc;

use crate::db::campaigns::{Campaign, CampaignList};
use crate::db::deliveries::Recipient;
use crate::db::{self, Db};
use crate::domain::{CampaignType, Invalid, TemplateType, Timestamp};
use crate::mail::Outgoing;
use crate::mail::dkim::Dkim;
use crate::mail::message::{self, ListHeaders, Mailbox, Parts};
use crate::mail::tokens::{Signer, UnsubscribeToken};
use crate::ops::{OpsError, OpsResult};
use crate::render::{
    self, CampaignVars, Compiled, Links, Recipient as RenderRecipient, Source, SubscriberVars,
};

/// What composing needs besides the campaign: keys and addresses. One per process.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub signer: Signer,
    pub dkim: Dkim,
    /// Public base of every link, no trailing slash.
    pub root_url: String,
    /// `bounces@domain` form; `None`: `bounces@` the From domain.
    pub bounce_address: Option<String>,
    pub feedback_sender_id: String,
}

impl Mailer {
    /// The one-click unsubscribe URL (RFC 8058) for a subscriber, from a campaign.
    pub fn unsubscribe_url(&self, subscriber: uuid::Uuid, campaign: Option<i64>) -> String {
        let token = self.signer.unsubscribe_token(UnsubscribeToken {
            subscriber,
            campaign,
        });
        format!("{}/u/{token}", self.root_url)
    }

    /// The preference page URL for a subscriber.
    pub fn manage_url(&self, subscriber: uuid::Uuid) -> String {
        format!(
            "{}/m/{}",
            self.root_url,
            self.signer.manage_token(subscriber)
        )
    }

    /// The VERP envelope sender for a ledger row.
    pub fn return_path(&self, from: &Mailbox, delivery_id: i64) -> String {
        let base = self.bounce_address.clone().unwrap_or_else(|| {
            format!(
                "bounces@{}",
                message::ascii_address(&from.address)
                    .rsplit_once('@')
                    .map_or("", |(_, d)| d)
            )
        });
        let (local, domain) = base.rsplit_once('@').unwrap_or((base.as_str(), ""));
        format!("{local}+{}@{domain}", self.signer.verp_token(delivery_id))
    }
}

/// One recipient's finished message and envelope.
#[derive(Debug, Clone)]
pub struct Composed {
    pub mail_from: String,
    pub rcpt: String,
    pub subject: String,
    pub bytes: Vec<u8>,
}

/// A campaign made ready to send: compiled once, then [`CampaignComposer::compose`] per
/// recipient.
#[derive(Debug, Clone)]
pub struct CampaignComposer {
    pub campaign_id: i64,
    pub updated_at: Timestamp,
    pub optin: bool,
    campaign_uuid: String,
    campaign_name: String,
    campaign_subject: String,
    compiled: Compiled,
    from: Mailbox,
    /// `List-Id` and `Feedback-ID` per target list, the first being the fallback.
    identities: Vec<ListIdentity>,
    extra: Vec<(String, String)>,
    message_domain: String,
    mailer: Arc<Mailer>,
}

/// The headers that name a campaign's list to mailbox providers.
#[derive(Debug, Clone)]
struct ListIdentity {
    list: Option<i64>,
    list_id: String,
    feedback_id: String,
}

impl CampaignComposer {
    /// Loads what the campaign needs (its template, lists) and compiles it.
    ///
    /// # Errors
    /// `NotFound` for a missing campaign; `Invalid` when its template does not compile or
    /// its sender is malformed.
    pub async fn load(db: &Db, mailer: Arc<Mailer>, campaign_id: i64) -> OpsResult<Self> {
        let campaign = db::campaigns::get(db, campaign_id)
            .await?
            .ok_or(OpsError::NotFound("campaign"))?;
        let lists = db::campaigns::lists_of(db, &[campaign_id]).await?;
        let layout = layout_for(db, campaign.template_id, TemplateType::Campaign).await?;
        Ok(Self::new(&campaign, &lists, layout.as_deref(), mailer)?)
    }

    /// # Errors
    /// When the template does not compile or the sender is malformed.
    pub fn new(
        campaign: &Campaign,
        lists: &[CampaignList],
        layout: Option<&str>,
        mailer: Arc<Mailer>,
    ) -> Result<Self, Invalid> {
        let compiled = Compiled::new(&Source {
            subject: &campaign.subject,
            body: &campaign.body,
            format: campaign.content_type.body_format(),
            layout,
            altbody: campaign.altbody.as_deref(),
        })?;
        let from = Mailbox::parse(&campaign.from_email)?;
        let from_ascii = from.ascii_address();
        let domain = from_ascii
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d)
            .to_owned();
        let list_headers = |list: Option<&CampaignList>| ListIdentity {
            list: list.and_then(|l| l.id),
            list_id: match list {
                Some(list) => message::list_id(
                    &list.name,
                    &format!("list-{}.{domain}", list.id.unwrap_or(0)),
                ),
                None => format!("<campaign-{}.{domain}>", campaign.id),
            },
            feedback_id: format!(
                "{}:{}:campaign:{}",
                campaign.id,
                list.and_then(|l| l.id).unwrap_or(0),
                mailer.feedback_sender_id
            ),
        };
        let mut identities: Vec<ListIdentity> =
            lists.iter().map(|l| list_headers(Some(l))).collect();
        if identities.is_empty() {
            identities.push(list_headers(None));
        }
        let extra = campaign_headers(&campaign.headers.0)?;
        Ok(Self {
            campaign_id: campaign.id,
            updated_at: campaign.updated_at,
            optin: campaign.campaign_type == CampaignType::Optin,
            campaign_uuid: campaign.uuid.to_string(),
            campaign_name: campaign.name.clone(),
            campaign_subject: campaign.subject.clone(),
            compiled,
            from,
            identities,
            extra,
            message_domain: domain,
            mailer,
        })
    }

    /// The finished, signed message for one recipient of ledger row `delivery_id`.
    ///
    /// # Errors
    /// When the template fails for this recipient, or signing fails.
    pub fn compose(&self, delivery_id: i64, recipient: &Recipient) -> Result<Composed, Invalid> {
        let (rendered, unsubscribe) = self.render(recipient)?;
        let to = crate::domain::EmailAddress::from_trusted(recipient.email.clone());
        let rcpt = message::ascii_address(&to);
        let message_id = format!(
            "{}.{}@{}",
            self.campaign_uuid.replace('-', ""),
            recipient.uuid.simple(),
            self.message_domain
        );
        let unsubscribe_urls = [unsubscribe];
        // The list the reader is on: a reader of the second list only is not told the first.
        let identity = self
            .identities
            .iter()
            .find(|i| i.list.is_some() && i.list == recipient.list_id)
            .unwrap_or(&self.identities[0]);
        let bytes = message::build(&Parts {
            from: &self.from,
            to_name: &recipient.name,
            to: &rcpt,
            reply_to: None,
            subject: &rendered.subject,
            message_id: &message_id,
            date: Timestamp::now().as_datetime().unix_timestamp(),
            html: Some(&rendered.html),
            text: &rendered.text,
            list: Some(ListHeaders {
                unsubscribe: &unsubscribe_urls,
                list_id: &identity.list_id,
                feedback_id: &identity.feedback_id,
            }),
            extra: &self.extra,
            attachments: &[],
        });
        let bytes = self
            .mailer
            .dkim
            .sign(bytes)
            .map_err(|e| Invalid(format!("{e:#}")))?;
        Ok(Composed {
            mail_from: self.mailer.return_path(&self.from, delivery_id),
            rcpt,
            subject: rendered.subject,
            bytes,
        })
    }

    /// The finished message for a claimed ledger row.
    ///
    /// # Errors
    /// As [`CampaignComposer::compose`].
    pub fn outgoing(
        &self,
        row: &db::deliveries::Claimed,
        recipient: &Recipient,
    ) -> Result<Outgoing, Invalid> {
        let composed = self.compose(row.id, recipient)?;
        Ok(Outgoing {
            delivery_id: row.id,
            campaign_id: Some(self.campaign_id),
            mail_from: composed.mail_from,
            rcpt: composed.rcpt,
            subject: composed.subject,
            bytes: composed.bytes,
            attempts: row.attempts,
            queued_at: row.created_at,
        })
    }

    /// Renders the HTML an editor previews, for a sample or real recipient.
    ///
    /// # Errors
    /// When the template fails.
    pub fn preview_html(&self, recipient: &Recipient) -> Result<String, Invalid> {
        Ok(self.render(recipient)?.0.html)
    }

    /// The recipient's texts, and their one-click unsubscribe URL.
    fn render(&self, recipient: &Recipient) -> Result<(render::Rendered, String), Invalid> {
        let unsubscribe = self
            .mailer
            .unsubscribe_url(recipient.uuid, Some(self.campaign_id));
        let manage = self.mailer.manage_url(recipient.uuid);
        let data = serde_json::Value::Null;
        let rendered = self.compiled.render(&RenderRecipient {
            subscriber: SubscriberVars {
                uuid: recipient.uuid.to_string(),
                email: &recipient.email,
                name: &recipient.name,
                attribs: &recipient.attribs.0,
            },
            campaign: CampaignVars {
                uuid: self.campaign_uuid.clone(),
                name: &self.campaign_name,
                subject: &self.campaign_subject,
            },
            data: &data,
            links: Links {
                unsubscribe: &unsubscribe,
                manage: &manage,
            },
        })?;
        Ok((rendered, unsubscribe))
    }
}

/// The template body a campaign or message uses: the one named, else the default of its type.
///
/// # Errors
/// When a named template does not exist or is of the wrong type.
pub async fn layout_for(
    db: &Db,
    template_id: Option<i64>,
    kind: TemplateType,
) -> OpsResult<Option<String>> {
    let template = match template_id {
        Some(id) => Some(
            db::templates::get(db, id)
                .await?
                .ok_or_else(|| OpsError::Invalid(format!("template {id} does not exist")))?,
        ),
        None => db::templates::default_of(db, kind).await?,
    };
    match template {
        Some(t) if t.template_type != kind => Err(OpsError::Invalid(format!(
            "template {} is a {} template, not a {kind} one",
            t.id, t.template_type
        ))),
        Some(t) => Ok(Some(t.body)),
        None => Ok(None),
    }
}

/// A campaign's custom headers (listmonk's `[{"Name": "value"}]`), checked.
///
/// # Errors
/// When a header is reserved or malformed.
pub fn campaign_headers(value: &serde_json::Value) -> Result<Vec<(String, String)>, Invalid> {
    let mut out = Vec::new();
    let Some(items) = value.as_array() else {
        return if value.is_null() {
            Ok(out)
        } else {
            Err(Invalid(
                "headers must be a list of {\"name\": \"value\"} objects".into(),
            ))
        };
    };
    for item in items {
        let Some(object) = item.as_object() else {
            return Err(Invalid(
                "headers must be a list of {\"name\": \"value\"} objects".into(),
            ));
        };
        for (name, value) in object {
            let value = value
                .as_str()
                .ok_or_else(|| Invalid(format!("the {name} header value must be text")))?;
            out.push(message::check_header(name, value)?);
        }
    }
    Ok(out)
}

/// A stand-in recipient for previews when no subscriber is given.
pub fn sample_recipient() -> Recipient {
    Recipient {
        id: 0,
        uuid: uuid::Uuid::nil(),
        email: "reader@example.com".into(),
        name: "Reader".into(),
        attribs: sqlx::types::Json(serde_json::json!({})),
        list_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CampaignStatus, ContentType};

    fn campaign() -> Campaign {
        let at = Timestamp::parse("2026-11-28T06:00:00Z").unwrap();
        Campaign {
            id: 7,
            uuid: uuid::Uuid::parse_str("0195f3a2-0000-7000-8000-0000000000aa").unwrap(),
            name: "Sabah bülteni".into(),
            subject: "Günaydın {{ subscriber.name }}: İzmir'de bugün".into(),
            from_email: "Haber Merkezi <bulten@haber.example>".into(),
            body: "# Gündem\n\nMerhaba **{{ subscriber.name }}**, {{ subscriber.attribs.city }} için haberler.\n\n\
                   [Kaynağında oku](https://haber.example/a?x=1&y=2)"
                .into(),
            altbody: None,
            content_type: ContentType::Markdown,
            campaign_type: CampaignType::Regular,
            status: CampaignStatus::Running,
            tags: sqlx::types::Json(vec![]),
            template_id: None,
            headers: sqlx::types::Json(serde_json::json!([{"X-Edition": "sabah"}])),
            attribs: sqlx::types::Json(serde_json::json!({})),
            messenger: "email".into(),
            send_at: None,
            started_at: Some(at),
            finished_at: None,
            to_send: 1,
            sent: 0,
            failed: 0,
            bounced: 0,
            skipped: 0,
            status_reason: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// The parts that change from run to run (date, MIME boundaries), replaced by markers.
    fn redact(message: &str) -> String {
        let mut out = String::new();
        let mut boundaries = Vec::new();
        for line in message.split("\r\n") {
            if let Some(start) = line.find("boundary=\"") {
                let rest = &line[start + 10..];
                boundaries.push(rest[..rest.find('"').unwrap_or(rest.len())].to_owned());
            }
        }
        for line in message.split("\r\n") {
            let mut line = if line.starts_with("Date: ") {
                "Date: [date]".to_owned()
            } else {
                line.to_owned()
            };
            for (i, b) in boundaries.iter().enumerate() {
                line = line.replace(b.as_str(), &format!("[boundary {i}]"));
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    #[test]
    fn a_campaign_message_looks_as_it_did() {
        let mailer = Arc::new(Mailer {
            signer: Signer::new(b"snapshot key".to_vec()),
            dkim: Dkim::default(),
            root_url: "https://haber.example".into(),
            bounce_address: Some("bounces@bounce.haber.example".into()),
            feedback_sender_id: "bulten".into(),
        });
        let lists = [CampaignList {
            campaign_id: 7,
            id: Some(3),
            name: "Türkiye".into(),
        }];
        let composer = CampaignComposer::new(
            &campaign(),
            &lists,
            Some(render::DEFAULT_CAMPAIGN_TEMPLATE),
            mailer,
        )
        .unwrap();
        let recipient = Recipient {
            id: 11,
            uuid: uuid::Uuid::parse_str("0195f3a2-0000-7000-8000-000000000011").unwrap(),
            email: "ayse@türkiye.example".into(),
            name: "Ayşe Yılmaz".into(),
            attribs: sqlx::types::Json(serde_json::json!({"city": "İzmir"})),
            list_id: Some(3),
        };
        let composed = composer.compose(42, &recipient).unwrap();
        assert!(composed.mail_from.starts_with("bounces+"));
        assert!(composed.mail_from.ends_with("@bounce.haber.example"));
        assert_eq!(composed.rcpt, "ayse@xn--trkiye-3ya.example");
        let text = String::from_utf8(composed.bytes).unwrap();
        insta::assert_snapshot!(redact(&text));
    }
}
