//! Transactional mail (listmonk's `POST /api/tx`): one template, one message per recipient,
//! queued on the ledger ahead of campaign mail, so it survives a crash like campaign mail.

use super::access::Caller;
use super::audit::Change;
use super::subscribers::{Touches, require_readers};
use crate::db::deliveries::{self, NewTx};
use crate::db::{self, Db};
use crate::domain::{ContentType, EmailAddress, Invalid, TemplateType};
use crate::mail::message::Mailbox;
use crate::mail::seal::{Letter, ReturnPath, Sealed};
use crate::ops::compose::{self, MailKit, Reader};
use crate::ops::{OpsError, OpsResult};
use crate::render::{CampaignVars, Compiled, Source};

/// How recipients are looked up (listmonk's `subscriber_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum SubscriberMode {
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
pub(crate) enum TxRecipient {
    Id(i64),
    Email(String),
}

#[derive(Debug, Clone)]
pub(crate) struct TxRequest {
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
///
/// A caller limited to some lists reaches only the readers on lists it manages (and
/// addresses that are no reader's).
pub(crate) async fn send(
    db: &Db,
    kit: &MailKit,
    by: &Caller,
    default_from: &str,
    request: &TxRequest,
) -> OpsResult<usize> {
    if request.recipients.is_empty() {
        return Err(OpsError::Invalid(
            "name a recipient: subscriber_email(s) or subscriber_id(s)".into(),
        ));
    }
    // Addresses mailed without a lookup could be any desk's readers, blocklisted ones too.
    if request.mode != SubscriberMode::Default {
        by.require_every_list(super::access::Permission::TxSend)?;
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
        format: request.content_type.into(),
        layout: None,
        altbody: request.altbody.as_deref(),
    })?;
    let from = Mailbox::parse(request.from_email.as_deref().unwrap_or(default_from))?;
    let extra = compose::campaign_headers(&request.headers)?;

    let mut messages = Vec::with_capacity(request.recipients.len());
    for recipient in &request.recipients {
        let found = resolve(db, by, recipient, request.mode).await?;
        let (rendered, _) = compose::render_for(
            &compiled,
            &kit.links,
            Reader {
                uuid: found.uuid,
                email: found.email.as_str(),
                name: &found.name,
                attribs: &found.attribs,
            },
            CampaignVars {
                uuid: String::new(),
                name: "",
                subject: &subject,
            },
            None,
            &request.data,
        )?;
        let sealed = seal(
            kit,
            &Letter {
                from: &from,
                to: &found.email,
                to_name: &found.name,
                subject: &rendered.subject,
                html: Some(&rendered.html),
                text: &rendered.text,
                list: None,
                extra: &extra,
                attachments: &request.attachments,
                message_id: None,
            },
        )?;
        messages.push(NewTx {
            subscriber_id: found.subscriber_id,
            rcpt: sealed.rcpt,
            mail_from: sealed.mail_from,
            message: sealed.bytes,
        });
    }
    deliveries::insert_tx(db, &messages).await?;
    let readers: Vec<i64> = messages.iter().filter_map(|m| m.subscriber_id).collect();
    let change = Change::new("tx.send", "template", Some(template.id)).after(&serde_json::json!({
        "messages": messages.len(),
        "subscriber_ids": readers,
        "subject": subject,
    }));
    super::audit::record(db, by, change).await;
    Ok(messages.len())
}

/// A recipient as found: a subscriber's own values, or an address alone.
struct Resolved {
    subscriber_id: Option<i64>,
    uuid: uuid::Uuid,
    email: EmailAddress,
    name: String,
    attribs: serde_json::Value,
}

/// Transactional mail is sealed before its ledger row exists, so its return path is the
/// plain bounce address; a signing failure is the keys' fault, never the caller's input.
fn seal(kit: &MailKit, letter: &Letter<'_>) -> OpsResult<Sealed> {
    kit.sealer
        .seal(letter, ReturnPath::Plain, &kit.signer)
        .map_err(|e| OpsError::Internal(e.into()))
}

async fn resolve(
    db: &Db,
    by: &Caller,
    recipient: &TxRecipient,
    mode: SubscriberMode,
) -> OpsResult<Resolved> {
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
    // A reader the caller cannot change is no reader to them: the answer is the same as for
    // an address no reader has, so it tells nothing of other desks' readers.
    let found = match found {
        Some(s) if !by.reaches_all_lists() => {
            let reach = require_readers(db, by, &[s.id], Touches::Shared).await;
            reach.is_ok().then_some(s)
        }
        other => other,
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
            Ok(Resolved {
                subscriber_id: Some(s.id),
                uuid: s.uuid,
                email: s.email,
                name: s.name.as_str().to_owned(),
                attribs,
            })
        }
        (
            None,
            TxRecipient::Email(address),
            SubscriberMode::Fallback | SubscriberMode::External,
        ) => Ok(Resolved {
            subscriber_id: None,
            uuid: uuid::Uuid::nil(),
            email: parse(address)?,
            name: String::new(),
            attribs: serde_json::json!({}),
        }),
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
pub(crate) struct SystemMail<'a> {
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
/// `Invalid` when the sender does not parse; `Internal` when signing fails.
pub(crate) async fn queue_system(
    db: &Db,
    kit: &MailKit,
    from: &str,
    mail: &SystemMail<'_>,
) -> OpsResult<()> {
    let from = Mailbox::parse(from)?;
    let sealed = seal(
        kit,
        &Letter {
            from: &from,
            to: mail.to,
            to_name: mail.to_name,
            subject: mail.subject,
            html: Some(mail.html),
            text: mail.text,
            list: None,
            extra: &[],
            attachments: &[],
            message_id: None,
        },
    )?;
    deliveries::insert_tx(
        db,
        &[NewTx {
            subscriber_id: mail.subscriber_id,
            rcpt: sealed.rcpt,
            mail_from: sealed.mail_from,
            message: sealed.bytes,
        }],
    )
    .await?;
    Ok(())
}
