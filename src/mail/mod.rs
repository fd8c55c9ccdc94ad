//! Mail on the wire: building a message's bytes (`message`), signing them (`dkim`), the
//! tokens in its links and return path (`tokens`), and the SMTP transport (`smtp`). No
//! database access here: `delivery` decides what to send and records what happened.

pub mod dkim;
pub mod links;
pub(crate) mod message;
pub(crate) mod seal;
pub mod smtp;
pub mod tokens;

/// A finished message and its envelope.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The ledger row it comes from.
    pub delivery_id: i64,
    pub campaign_id: Option<i64>,
    /// The envelope sender (a VERP address for campaign mail).
    pub mail_from: String,
    /// The envelope recipient, domain as an A-label.
    pub rcpt: String,
    pub subject: String,
    pub bytes: Vec<u8>,
    /// Attempts including this one, for the retry schedule.
    pub attempts: i64,
    /// When the row was queued, for the retry window.
    pub queued_at: crate::domain::Timestamp,
}
