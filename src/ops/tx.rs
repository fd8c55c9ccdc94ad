//! Transactional mail (listmonk's `POST /api/tx`): one template, one message per recipient,
//! queued on the ledger ahead of campaign mail, so it survives a crash like campaign mail.

use std::sync::Arc;

use crate::db::deliveries::{self, NewTx};
use crate::db::{self, Db};
use crate::domain::{ContentType, EmailAddress, Invalid, TemplateType, Timestamp};
use crate::mail::message::{self, Mailbox, Parts};
use crate::ops::compose::{self, Mailer};
use crate::ops::{OpsError, OpsResult};
use crate::render::{
    CampaignVars, Compiled, Links, Recipient as RenderRecipient, Source, SubscriberVars,
};

/// How recipients are looked up (listmonk's `subscriber_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubscriberMode {
    /// Every recipient must be a subscriber.
    #[default]
    Default,
    /// Subscribers get their own values; other addresses are mailed anyway.
    Fallback,
    /// No lookup: the addresses are mailed as given.
    External,
}

/// Whom to mail: subscriber IDs or addresses.
#[derive(Debug, Clone)]
pub enum TxRecipient {
    Id(i64),
    Email(String),
}

#[derive(Debug, Clone)]
pub struct TxRequest {
    pub recipients: Vec<TxRecipient>,
    pub mode: SubscriberMode,
    pub template_id: i64,
    pub from_email: Option<String>,
    pub subject: Option<String>,
    pub data: serde_json::Value,
    pub headers: serde_json::Value,
    pub content_type: ContentType,
    pub altbody: Option<String>,
    pub attachments: Vec<crate::mail::message::Attachment>,
}

/// At most this many recipients per request.
const MAX_RECIPIENTS: usize = 1000;

/// Composes and queues one message per recipient; all or nothing.
///
/// # Errors
/// `Invalid` for an unknown template or recipient, a broken template, a bad address.
pub async fn send(
    db: &Db,
    mailer: &Arc<Mailer>,
    default_from: &str,
    request: &TxRequest,
) -> OpsResult<usize> {
    if request.recipients.is_empty() {
        return Err(OpsError::Invalid(
            "name a recipient: subscriber_email(s) or subscriber_id(s)".into(),
        ));
    }
    if request.recipients.len() > MAX_RECIPIENTS {
        return Err(OpsError::Invalid(format!(
            "at most {MAX_RECIPIENTS} recipients per request"
        )));
    }
    let template = db::templates::get(db, request.template_id)
        .await?
        .ok_or_else(|| {
            OpsError::Invalid(format!("template {} does not exist", request.template_id))
        })?;
    if template.template_type != TemplateType::Tx {
        return Err(OpsError::Invalid(format!(
            "template {} is not a tx template",
            template.id
        )));
    }
    let subject = request
        .subject
        .clone()
        .unwrap_or_else(|| template.subject.clone());
    let compiled = Compiled::new(&Source {
        subject: &subject,
        body: &template.body,
        format: request.content_type.body_format(),
        layout: None,
        altbody: request.altbody.as_deref(),
    })?;
    let from = Mailbox::parse(request.from_email.as_deref().unwrap_or(default_from))?;
    let extra = compose::campaign_headers(&request.headers)?;
    let domain = from
        .ascii_address()
        .rsplit_once('@')
        .map_or(String::new(), |(_, d)| d.to_owned());
    let envelope_from = mailer
        .bounce_address
        .clone()
        .unwrap_or_else(|| from.ascii_address());

    let mut messages = Vec::with_capacity(request.recipients.len());
    for recipient in &request.recipients {
        let (subscriber_id, uuid, email, name, attribs) =
            resolve(db, recipient, request.mode).await?;
        let unsubscribe = mailer.unsubscribe_url(uuid, None);
        let manage = mailer.manage_url(uuid);
        let rendered = compiled.render(&RenderRecipient {
            subscriber: SubscriberVars {
                uuid: uuid.to_string(),
                email: email.as_str(),
                name: &name,
                attribs: &attribs,
            },
            campaign: CampaignVars {
                uuid: String::new(),
                name: "",
                subject: &subject,
            },
            data: &request.data,
            links: Links {
                unsubscribe: &unsubscribe,
                manage: &manage,
            },
        })?;
        let rcpt = message::ascii_address(&email);
        let message_id = format!("{}@{domain}", uuid::Uuid::now_v7().simple());
        let bytes = message::build(&Parts {
            from: &from,
            to_name: &name,
            to: &rcpt,
            reply_to: None,
            subject: &rendered.subject,
            message_id: &message_id,
            date: Timestamp::now().as_datetime().unix_timestamp(),
            html: Some(&rendered.html),
            text: &rendered.text,
            list: None,
            extra: &extra,
            attachments: &request.attachments,
        });
        let bytes = mailer
            .dkim
            .sign(bytes)
            .map_err(|e| Invalid(format!("{e:#}")))?;
        messages.push(NewTx {
            subscriber_id,
            rcpt,
            mail_from: envelope_from.clone(),
            message: bytes,
        });
    }
    deliveries::insert_tx(db, &messages).await?;
    Ok(messages.len())
}

type Resolved = (
    Option<i64>,
    uuid::Uuid,
    EmailAddress,
    String,
    serde_json::Value,
);

async fn resolve(db: &Db, recipient: &TxRecipient, mode: SubscriberMode) -> OpsResult<Resolved> {
    let found = match (recipient, mode) {
        (TxRecipient::Id(id), SubscriberMode::External) => {
            return Err(OpsError::Invalid(format!(
                "subscriber_mode external takes addresses, not subscriber ID {id}"
            )));
        }
        (TxRecipient::Id(id), _) => db::subscribers::get(db, *id).await?,
        (TxRecipient::Email(_), SubscriberMode::External) => None,
        (TxRecipient::Email(address), _) => {
            let email = parse(address)?;
            db::subscribers::get_by_email(db, &email).await?
        }
    };
    match (found, recipient, mode) {
        (Some(s), _, _) => {
            if s.status == crate::domain::SubscriberStatus::Blocklisted {
                return Err(OpsError::Invalid(format!(
                    "subscriber {} is blocklisted",
                    s.id
                )));
            }
            let attribs = serde_json::Value::Object(s.attribs.as_map().clone());
            Ok((
                Some(s.id),
                s.uuid,
                s.email,
                s.name.as_str().to_owned(),
                attribs,
            ))
        }
        (
            None,
            TxRecipient::Email(address),
            SubscriberMode::Fallback | SubscriberMode::External,
        ) => Ok((
            None,
            uuid::Uuid::nil(),
            parse(address)?,
            String::new(),
            serde_json::json!({}),
        )),
        (None, TxRecipient::Email(address), SubscriberMode::Default) => Err(OpsError::Invalid(
            format!("no subscriber has the address {address}"),
        )),
        (None, TxRecipient::Id(id), _) => {
            Err(OpsError::Invalid(format!("subscriber {id} does not exist")))
        }
    }
}

fn parse(address: &str) -> Result<EmailAddress, Invalid> {
    EmailAddress::parse(address).map_err(|e| Invalid(format!("invalid address '{address}': {e}")))
}

/// A system mail (a confirmation, a preference link): bulten's own words, queued on the
/// ledger ahead of campaign mail like any transactional message.
#[derive(Debug, Clone)]
pub struct SystemMail<'a> {
    pub to: &'a EmailAddress,
    pub to_name: &'a str,
    pub subscriber_id: Option<i64>,
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
}

/// Builds, signs and queues a system mail from `from`.
///
/// # Errors
/// `Invalid` when the sender does not parse or signing fails.
pub async fn queue_system(
    db: &Db,
    mailer: &Mailer,
    from: &str,
    mail: &SystemMail<'_>,
) -> OpsResult<()> {
    let from = Mailbox::parse(from)?;
    let domain = from
        .ascii_address()
        .rsplit_once('@')
        .map_or(String::new(), |(_, d)| d.to_owned());
    let rcpt = message::ascii_address(mail.to);
    let message_id = format!("{}@{domain}", uuid::Uuid::now_v7().simple());
    let bytes = message::build(&Parts {
        from: &from,
        to_name: mail.to_name,
        to: &rcpt,
        reply_to: None,
        subject: mail.subject,
        message_id: &message_id,
        date: Timestamp::now().as_datetime().unix_timestamp(),
        html: Some(mail.html),
        text: mail.text,
        list: None,
        extra: &[],
        attachments: &[],
    });
    let bytes = mailer
        .dkim
        .sign(bytes)
        .map_err(|e| Invalid(format!("{e:#}")))?;
    let envelope_from = mailer
        .bounce_address
        .clone()
        .unwrap_or_else(|| from.ascii_address());
    deliveries::insert_tx(
        db,
        &[NewTx {
            subscriber_id: mail.subscriber_id,
            rcpt,
            mail_from: envelope_from,
            message: bytes,
        }],
    )
    .await?;
    Ok(())
}
