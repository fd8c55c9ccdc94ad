//! The senders: each holds one connection to one relay (or writes to the outbox) and sends
//! the messages the dispatcher composed, within the rate limits.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Mutex, mpsc};

use super::EngineSettings;
use super::Shared;
use crate::db::Db;
use crate::db::deliveries::{Outcome, Recorded};
use crate::db::outbox::{self, NewOutboxMessage};
use crate::mail::Outgoing;
use crate::mail::smtp::{Connection, SendError, SmtpServerConfig};

/// Where messages go.
#[derive(Debug, Clone)]
pub(crate) enum Transport {
    /// The configured relays, with the name said in EHLO.
    Smtp {
        servers: Vec<SmtpServerConfig>,
        hello: String,
    },
    /// No relay: messages are stored in the outbox table.
    Outbox(Db),
    /// In this process's memory, for tests of the engine that need no external program.
    Memory(Arc<MemoryMailbox>),
}

/// What the memory transport was given, and the addresses it refuses as a relay would
/// with a 5xx.
#[derive(Debug, Default)]
pub(crate) struct MemoryMailbox {
    accepted: std::sync::Mutex<Vec<Outgoing>>,
    refused: Vec<String>,
}

impl MemoryMailbox {
    /// A mailbox refusing these envelope recipients permanently.
    #[cfg(test)]
    pub(crate) fn refusing(refused: &[&str]) -> Self {
        Self {
            accepted: Default::default(),
            refused: refused.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    /// The messages accepted so far, in order.
    #[cfg(test)]
    pub(crate) fn accepted(&self) -> Vec<Outgoing> {
        self.accepted.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn take(&self, message: &Outgoing) -> Result<(), SendError> {
        if self.refused.contains(&message.rcpt) {
            return Err(SendError::Permanent(format!(
                "RCPT TO: 550 no mailbox {}",
                message.rcpt
            )));
        }
        if let Ok(mut accepted) = self.accepted.lock() {
            accepted.push(message.clone());
        }
        Ok(())
    }
}

/// Senders writing to the outbox at once; the database is the limit, not the count.
const OUTBOX_SENDERS: usize = 4;

impl Transport {
    pub(crate) fn new(relays: &[SmtpServerConfig], hello: &str, db: &Db) -> Self {
        if relays.is_empty() {
            return Transport::Outbox(db.clone());
        }
        Transport::Smtp {
            servers: relays.to_vec(),
            hello: hello.to_owned(),
        }
    }

    /// Which relay each sender uses (`None`: the outbox).
    pub(super) fn connections(&self) -> Vec<Option<usize>> {
        match self {
            Transport::Smtp { servers, .. } => servers
                .iter()
                .enumerate()
                .flat_map(|(i, s)| std::iter::repeat_n(Some(i), s.pool_size.max(1)))
                .collect(),
            Transport::Outbox(_) | Transport::Memory(_) => vec![None; OUTBOX_SENDERS],
        }
    }
}

/// The rate limits every sender shares: over all relays, per recipient domain over all
/// relays, and per recipient domain for each relay.
struct Limits {
    global: Option<DefaultDirectRateLimiter>,
    per_domain: DomainLimiters,
    per_relay_domain: Vec<DomainLimiters>,
}

type DomainLimiters = HashMap<String, DefaultDirectRateLimiter>;

fn limiter(per_second: u32) -> Option<DefaultDirectRateLimiter> {
    NonZeroU32::new(per_second).map(|n| RateLimiter::direct(Quota::per_second(n)))
}

fn domain_limiters(limits: &[crate::mail::smtp::DomainLimit]) -> DomainLimiters {
    limits
        .iter()
        .filter_map(|l| Some((l.domain.to_ascii_lowercase(), limiter(l.per_second)?)))
        .collect()
}

impl Limits {
    fn new(settings: &EngineSettings, transport: &Transport) -> Self {
        let per_relay_domain = match transport {
            Transport::Smtp { servers, .. } => servers
                .iter()
                .map(|s| domain_limiters(&s.domain_limit))
                .collect(),
            Transport::Outbox(_) | Transport::Memory(_) => Vec::new(),
        };
        Self {
            global: settings.send_rate.and_then(limiter),
            per_domain: domain_limiters(&settings.domain_limits),
            per_relay_domain,
        }
    }

    async fn wait(&self, rcpt: &str, relay: Option<usize>) {
        if let Some(global) = &self.global {
            global.until_ready().await;
        }
        let relay_limits = relay.and_then(|r| self.per_relay_domain.get(r));
        if self.per_domain.is_empty() && relay_limits.is_none_or(HashMap::is_empty) {
            return;
        }
        let domain = rcpt
            .rsplit_once('@')
            .map_or("", |(_, d)| d)
            .to_ascii_lowercase();
        for limits in [Some(&self.per_domain), relay_limits].into_iter().flatten() {
            if let Some(limiter) = limits.get(&domain) {
                limiter.until_ready().await;
            }
        }
    }
}

pub(super) fn spawn(
    shared: Arc<Shared>,
    transport: Transport,
    settings: &EngineSettings,
    jobs: mpsc::Receiver<Outgoing>,
    outcomes: mpsc::UnboundedSender<Recorded>,
    connections: Vec<Option<usize>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let jobs = Arc::new(Mutex::new(jobs));
    let limits = Arc::new(Limits::new(settings, &transport));
    let transport = Arc::new(transport);
    connections
        .into_iter()
        .map(|server| {
            let sender = Sender {
                shared: shared.clone(),
                transport: transport.clone(),
                server,
                limits: limits.clone(),
                connection: None,
            };
            tokio::spawn(sender.run(jobs.clone(), outcomes.clone()))
        })
        .collect()
}

struct Sender {
    shared: Arc<Shared>,
    transport: Arc<Transport>,
    server: Option<usize>,
    limits: Arc<Limits>,
    connection: Option<Connection>,
}

impl Sender {
    async fn run(
        mut self,
        jobs: Arc<Mutex<mpsc::Receiver<Outgoing>>>,
        outcomes: mpsc::UnboundedSender<Recorded>,
    ) {
        loop {
            let job = jobs.lock().await.recv().await;
            let Some(message) = job else { break };
            let outcome = self.deliver(&message).await;
            if outcomes
                .send(Recorded::new(message.delivery_id, outcome))
                .is_err()
            {
                break;
            }
        }
        if let Some(connection) = self.connection.take() {
            connection.close().await;
        }
    }

    async fn deliver(&mut self, message: &Outgoing) -> Outcome {
        if self.shared.stopping() {
            return Outcome::Released;
        }
        if let Some(campaign) = message.campaign_id
            && !self.shared.is_running(campaign)
        {
            return Outcome::Released;
        }
        self.limits.wait(&message.rcpt, self.server).await;
        let transport = self.transport.clone();
        let result = match (&*transport, self.server) {
            (Transport::Outbox(db), _) => store(db, message).await,
            (Transport::Memory(mailbox), _) => mailbox.take(message),
            (Transport::Smtp { servers, hello }, Some(server)) => {
                let config = &servers[server];
                self.send_smtp(config, hello, message).await
            }
            (Transport::Smtp { .. }, None) => Err(SendError::Temporary("no relay".into())),
        };
        match result {
            Ok(()) => Outcome::Sent,
            Err(err) => {
                tracing::debug!(delivery = message.delivery_id, error = ?err, "message not accepted");
                self.shared.after_failure(message, err)
            }
        }
    }

    async fn send_smtp(
        &mut self,
        config: &SmtpServerConfig,
        hello: &str,
        message: &Outgoing,
    ) -> Result<(), SendError> {
        if !self.connection.as_ref().is_some_and(Connection::is_usable) {
            if let Some(old) = self.connection.take() {
                old.close().await;
            }
            let hello = config.hello_name.as_deref().unwrap_or(hello);
            // The relay's trouble, not the reader's: the message waits for a retry.
            let opened = Connection::open(config, hello).await.map_err(|e| {
                tracing::warn!(relay = %config.host, error = %crate::telemetry::chain(&e), "cannot open an SMTP connection");
                SendError::Temporary(e.0)
            })?;
            self.connection = Some(opened);
        }
        let connection = self.connection.as_mut().expect("opened above");
        let result = connection
            .send(&message.mail_from, &message.rcpt, &message.bytes)
            .await;
        if !connection.is_usable() {
            self.connection = None;
        }
        result
    }
}

async fn store(db: &Db, message: &Outgoing) -> Result<(), SendError> {
    outbox::insert(
        db,
        &NewOutboxMessage {
            delivery_id: message.delivery_id,
            campaign_id: message.campaign_id,
            mail_from: &message.mail_from,
            rcpt: &message.rcpt,
            subject: &subject_of(&message.bytes, &message.subject),
            message: &message.bytes,
        },
    )
    .await
    .map_err(|e| SendError::Temporary(format!("cannot store the message: {e}")))
}

/// The decoded Subject of a message, for the outbox listing: a transactional message
/// carries only its bytes, whose Subject is RFC 2047-encoded and may be folded.
fn subject_of(bytes: &[u8], fallback: &str) -> String {
    if !fallback.is_empty() {
        return fallback.to_owned();
    }
    mail_parser::MessageParser::default()
        .parse_headers(bytes)
        .and_then(|message| message.subject().map(str::to_owned))
        .unwrap_or_default()
}
