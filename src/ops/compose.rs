//! Composing finished messages: a campaign for one recipient, a transactional message from
//! a template. Used by the delivery workers, previews and test sends alike, so what an editor
//! previews is what recipients get. [`render_for`] is the one place a reader's template
//! context is filled; sealing (Message-ID, building, DKIM, envelope) is `mail::seal`.

use std::sync::Arc;

use crate::db::campaigns::{Campaign, CampaignList};
use crate::db::deliveries::Recipient;
use crate::db::{self, Db};
use crate::domain::{CampaignType, Invalid, TemplateType, Timestamp};
use crate::mail::Outgoing;
use crate::mail::links::Links;
use crate::mail::message::{self, ListHeaders, Mailbox};
use crate::mail::seal::{Letter, ReturnPath, SealError, Sealer};
use crate::mail::tokens::Signer;
use crate::ops::{OpsError, OpsResult};
use crate::render::{
    self, CampaignVars, Compiled, Recipient as RenderRecipient, Source, SubscriberVars,
};

/// The keys and addresses every composed message needs: the links in it, how it is
/// sealed, who sends it. One per process, shared by the workers, previews, test sends and
/// the reader's side.
#[derive(Debug, Clone)]
pub(crate) struct MailKit {
    pub signer: Signer,
    pub links: Links,
    pub sealer: Sealer,
    pub feedback_sender_id: String,
}

impl MailKit {
    pub(crate) fn new(
        signer: Signer,
        root_url: &str,
        sealer: Sealer,
        feedback_sender_id: impl Into<String>,
    ) -> Self {
        Self {
            links: Links::new(root_url, signer.clone()),
            signer,
            sealer,
            feedback_sender_id: feedback_sender_id.into(),
        }
    }
}

/// Why a message could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The template fails for this reader (an attribute only they lack): their row fails.
    #[error(transparent)]
    Reader(#[from] Invalid),
    /// The message cannot be signed: the keys' fault, so no reader's; the campaign waits.
    #[error(transparent)]
    Sealing(#[from] SealError),
}

impl From<ComposeError> for OpsError {
    fn from(err: ComposeError) -> Self {
        match err {
            ComposeError::Reader(invalid) => invalid.into(),
            ComposeError::Sealing(e) => OpsError::Internal(e.into()),
        }
    }
}

/// Whom a message is for, as templates see them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub uuid: uuid::Uuid,
    pub email: &'a str,
    pub name: &'a str,
    pub attribs: &'a serde_json::Value,
}

impl<'a> From<&'a Recipient> for Reader<'a> {
    fn from(r: &'a Recipient) -> Self {
        Self {
            uuid: r.uuid,
            email: &r.email,
            name: &r.name,
            attribs: &r.attribs.0,
        }
    }
}

/// Fills a compiled template for one reader: the one place a recipient's template context
/// is made, for campaigns, transactional mail and previews. Returns the texts and the
/// reader's one-click unsubscribe URL.
///
/// # Errors
/// When the template fails for this reader.
pub(crate) fn render_for(
    compiled: &Compiled,
    links: &Links,
    reader: Reader<'_>,
    campaign: CampaignVars<'_>,
    campaign_id: Option<i64>,
    data: &serde_json::Value,
) -> Result<(render::Rendered, String), Invalid> {
    let unsubscribe = links.unsubscribe(reader.uuid, campaign_id);
    let manage = links.manage(reader.uuid);
    let rendered = compiled.render(&RenderRecipient {
        subscriber: SubscriberVars {
            uuid: reader.uuid.to_string(),
            email: reader.email,
            name: reader.name,
            attribs: reader.attribs,
        },
        campaign,
        data,
        links: render::Links {
            unsubscribe: &unsubscribe,
            manage: &manage,
        },
    })?;
    Ok((rendered, unsubscribe))
}

/// One recipient's finished message and envelope.
#[derive(Debug, Clone)]
pub(crate) struct Composed {
    pub mail_from: String,
    pub rcpt: String,
    pub subject: String,
    pub bytes: Vec<u8>,
}

/// A campaign made ready to send: compiled once, then [`CampaignComposer::compose`] per
/// recipient.
#[derive(Debug, Clone)]
pub(crate) struct CampaignComposer {
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
    kit: Arc<MailKit>,
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
    pub(crate) async fn load(db: &Db, kit: Arc<MailKit>, campaign_id: i64) -> OpsResult<Self> {
        let campaign = db::campaigns::get(db, campaign_id)
            .await?
            .ok_or(OpsError::NotFound("campaign"))?;
        let lists = db::campaigns::lists_of(db, &[campaign_id]).await?;
        let layout = layout_for(db, campaign.template_id, TemplateType::Campaign).await?;
        Ok(Self::new(&campaign, &lists, layout.as_deref(), kit)?)
    }

    /// # Errors
    /// When the template does not compile or the sender is malformed.
    pub(crate) fn new(
        campaign: &Campaign,
        lists: &[CampaignList],
        layout: Option<&str>,
        kit: Arc<MailKit>,
    ) -> Result<Self, Invalid> {
        let compiled = Compiled::new(&Source {
            subject: &campaign.subject,
            body: &campaign.body,
            format: campaign.content_type.into(),
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
                kit.feedback_sender_id
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
            kit,
        })
    }

    /// The finished, signed message for one recipient of ledger row `delivery_id`.
    ///
    /// # Errors
    /// When the template fails for this recipient, or signing fails.
    pub(crate) fn compose(
        &self,
        delivery_id: i64,
        recipient: &Recipient,
    ) -> Result<Composed, ComposeError> {
        let (rendered, unsubscribe) = self.render(recipient)?;
        let to = crate::domain::EmailAddress::from_trusted(recipient.email.clone());
        let unsubscribe_urls = [unsubscribe];
        // The list the reader is on: a reader of the second list only is not told the first.
        let identity = self
            .identities
            .iter()
            .find(|i| i.list.is_some() && i.list == recipient.list_id)
            .unwrap_or(&self.identities[0]);
        let letter = Letter {
            from: &self.from,
            to: &to,
            to_name: &recipient.name,
            subject: &rendered.subject,
            html: Some(&rendered.html),
            text: &rendered.text,
            list: Some(ListHeaders {
                unsubscribe: &unsubscribe_urls,
                list_id: &identity.list_id,
                feedback_id: &identity.feedback_id,
            }),
            extra: &self.extra,
            attachments: &[],
            message_id: Some(format!(
                "{}.{}",
                self.campaign_uuid.replace('-', ""),
                recipient.uuid.simple()
            )),
        };
        let sealed =
            self.kit
                .sealer
                .seal(&letter, ReturnPath::Verp { delivery_id }, &self.kit.signer)?;
        Ok(Composed {
            mail_from: sealed.mail_from,
            rcpt: sealed.rcpt,
            subject: rendered.subject,
            bytes: sealed.bytes,
        })
    }

    /// The finished message for a claimed ledger row.
    ///
    /// # Errors
    /// As [`CampaignComposer::compose`].
    pub(crate) fn outgoing(
        &self,
        row: &db::deliveries::Claimed,
        recipient: &Recipient,
    ) -> Result<Outgoing, ComposeError> {
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
    pub(crate) fn preview_html(&self, recipient: &Recipient) -> Result<String, Invalid> {
        Ok(self.render(recipient)?.0.html)
    }

    /// The recipient's texts, and their one-click unsubscribe URL.
    fn render(&self, recipient: &Recipient) -> Result<(render::Rendered, String), Invalid> {
        render_for(
            &self.compiled,
            &self.kit.links,
            recipient.into(),
            CampaignVars {
                uuid: self.campaign_uuid.clone(),
                name: &self.campaign_name,
                subject: &self.campaign_subject,
            },
            Some(self.campaign_id),
            &serde_json::Value::Null,
        )
    }
}

/// The template body a campaign or message uses: the one named, else the default of its type.
///
/// # Errors
/// When a named template does not exist or is of the wrong type.
pub(crate) async fn layout_for(
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
pub(crate) fn campaign_headers(
    value: &serde_json::Value,
) -> Result<Vec<(String, String)>, Invalid> {
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
pub(crate) fn sample_recipient() -> Recipient {
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
            messenger: crate::domain::Messenger::Email,
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
        let kit = Arc::new(MailKit::new(
            Signer::new(b"snapshot key".to_vec()),
            "https://haber.example",
            Sealer {
                dkim: crate::mail::dkim::Dkim::default(),
                bounce_address: Some("bounces@bounce.haber.example".into()),
            },
            "bulten",
        ));
        let lists = [CampaignList {
            campaign_id: 7,
            id: Some(3),
            name: "Türkiye".into(),
        }];
        let composer = CampaignComposer::new(
            &campaign(),
            &lists,
            Some(render::DEFAULT_CAMPAIGN_TEMPLATE),
            kit,
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
