//! Sealing a message: the one path from a finished text to the bytes and envelope a relay
//! takes. It names the message (Message-ID), builds it (mail-builder, through
//! [`message::build`]), signs it (DKIM) and addresses the envelope (a VERP return path for
//! ledger rows of campaigns, the bounce address otherwise). Campaign mail, transactional
//! mail and bulten's own mails all pass here.

use crate::domain::{EmailAddress, Timestamp};
use crate::mail::dkim::Dkim;
use crate::mail::message::{self, Attachment, ListHeaders, Mailbox, Parts};
use crate::mail::tokens::Signer;

/// What sealing needs: the signing keys and where bounces go.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sealer {
    pub dkim: Dkim,
    /// `bounces@domain` form; `None`: `bounces@` the From domain for VERP, the From address
    /// otherwise.
    pub bounce_address: Option<String>,
}

/// A message's content and headers, before it is sealed.
#[derive(Debug, Clone)]
pub(crate) struct Letter<'a> {
    pub from: &'a Mailbox,
    pub to: &'a EmailAddress,
    pub to_name: &'a str,
    pub subject: &'a str,
    pub html: Option<&'a str>,
    pub text: &'a str,
    /// Campaign mail: the List-* and bulk headers.
    pub list: Option<ListHeaders<'a>>,
    /// Extra headers, already checked.
    pub extra: &'a [(String, String)],
    pub attachments: &'a [Attachment],
    /// The Message-ID's local part; `None` draws a new unique one. Campaign mail names
    /// campaign and reader, so a message sent twice is recognisably the same message.
    pub message_id: Option<String>,
}

/// Where the relay reports a bounce.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReturnPath {
    /// A VERP address naming the ledger row, signed, so a bounce finds its delivery.
    Verp { delivery_id: i64 },
    /// The bounce address, for mail queued before its ledger row exists.
    Plain,
}

/// A sealed message and its envelope.
#[derive(Debug, Clone)]
pub(crate) struct Sealed {
    pub mail_from: String,
    /// The envelope recipient, domain as an A-label.
    pub rcpt: String,
    pub bytes: Vec<u8>,
}

/// Signing failed: a fault of the keys, never of the reader or the content.
#[derive(Debug, thiserror::Error)]
#[error("the message cannot be signed: {0:#}")]
pub struct SealError(anyhow::Error);

impl Sealer {
    /// Builds, signs and addresses `letter`.
    ///
    /// # Errors
    /// When DKIM signing fails.
    pub(crate) fn seal(
        &self,
        letter: &Letter<'_>,
        return_path: ReturnPath,
        signer: &Signer,
    ) -> Result<Sealed, SealError> {
        let from_ascii = letter.from.ascii_address();
        let domain = from_ascii.rsplit_once('@').map_or("", |(_, d)| d);
        let rcpt = message::ascii_address(letter.to);
        let local = letter
            .message_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
        let message_id = format!("{local}@{domain}");
        let bytes = message::build(&Parts {
            from: letter.from,
            to_name: letter.to_name,
            to: &rcpt,
            reply_to: None,
            subject: letter.subject,
            message_id: &message_id,
            date: Timestamp::now().as_datetime().unix_timestamp(),
            html: letter.html,
            text: letter.text,
            list: letter.list.clone(),
            extra: letter.extra,
            attachments: letter.attachments,
        });
        let bytes = self.dkim.sign(bytes).map_err(SealError)?;
        let mail_from = match return_path {
            ReturnPath::Verp { delivery_id } => {
                let base = self
                    .bounce_address
                    .clone()
                    .unwrap_or_else(|| format!("bounces@{domain}"));
                let (local, domain) = base.rsplit_once('@').unwrap_or((base.as_str(), ""));
                format!("{local}+{}@{domain}", signer.verp_token(delivery_id))
            }
            ReturnPath::Plain => self.bounce_address.clone().unwrap_or(from_ascii),
        };
        Ok(Sealed {
            mail_from,
            rcpt,
            bytes,
        })
    }
}
