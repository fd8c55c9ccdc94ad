//! The delivery workers: they move the ledger from `queued` to an outcome.
//!
//! One [`Engine`] per node, made of:
//! - the *dispatcher*, which claims batches of due rows under a lease (transactional rows
//!   first, then each running campaign in turn), composes their messages on the blocking pool
//!   and queues them for the senders;
//! - *senders*, one per connection (the sum of the relays' pool sizes, or a few for the
//!   outbox), which wait for the rate limiters, send, and report an outcome;
//! - the *recorder*, which writes outcomes in batches, each batch in one transaction;
//! - the *supervisor*, which starts scheduled campaigns, returns expired leases to the queue,
//!   finishes campaigns with nothing left, and keeps the set of running campaigns that
//!   senders check before each message (so pause and cancel act within a second).
//!
//! A row is leased when claimed and written `sent` only after the relay accepted it. A crash
//! therefore loses nothing: the lease expires and the row is sent again. The price is that
//! messages accepted but not yet recorded at the crash go out twice, each with the same
//! Message-ID; the recorder flushes every few milliseconds to keep that window small.

mod senders;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};

use crate::db::deliveries::{self, Claimed, Outcome, Recorded};
use crate::db::{self, Backend, Db};
use crate::domain::Timestamp;
use crate::mail::Outgoing;
use crate::ops::compose::{CampaignComposer, ComposeError, MailKit};

pub(crate) use senders::Transport;

/// How often the supervisor looks at the campaigns when nothing wakes it.
const SUPERVISE_EVERY: Duration = Duration::from_millis(500);
/// Outcomes written in one transaction at most.
const RECORD_BATCH: usize = 1000;

/// Wakes the delivery engine: a campaign changed state, or transactional mail was queued.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kick(Arc<Notify>);

impl Kick {
    pub(crate) fn kick(&self) {
        self.0.notify_waiters();
        self.0.notify_one();
    }
}

/// Shared between the engine's tasks.
#[derive(Debug)]
struct Shared {
    db: Db,
    kit: Arc<MailKit>,
    node: String,
    batch_size: i64,
    lease: Duration,
    retry_base: Duration,
    retry_max_age: Duration,
    /// Campaigns senders may send for; refreshed by the supervisor.
    running: RwLock<Arc<HashSet<i64>>>,
    kick: Kick,
    stopping: watch::Receiver<bool>,
}

impl Shared {
    fn stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    fn is_running(&self, campaign: i64) -> bool {
        self.running
            .read()
            .map(|set| set.contains(&campaign))
            .unwrap_or(false)
    }

    /// The outcome of a failed attempt: a later retry, or giving up.
    fn after_failure(&self, message: &Outgoing, error: crate::mail::smtp::SendError) -> Outcome {
        use crate::mail::smtp::SendError;
        match error {
            SendError::Permanent(text) => Outcome::Bounced(text),
            SendError::Temporary(text) => {
                let age = Timestamp::now().as_datetime() - message.queued_at.as_datetime();
                let delay = retry_delay(self.retry_base, message.attempts);
                if age + delay > self.retry_max_age {
                    Outcome::Failed(format!(
                        "gave up after {} attempts: {text}",
                        message.attempts
                    ))
                } else {
                    Outcome::Retry {
                        at: Timestamp::from_datetime(Timestamp::now().as_datetime() + delay),
                        error: text,
                    }
                }
            }
        }
    }
}

/// Exponential backoff with jitter: base × 2^(attempts−1), ± a quarter, capped at a day.
fn retry_delay(base: Duration, attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let delay = base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(Duration::from_secs(86_400));
    let jitter = rand::random_range(0.75..1.25);
    delay.mul_f64(jitter)
}

/// A running delivery engine; [`Engine::stop`] ends it gracefully.
#[derive(Debug)]
pub(crate) struct Engine {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// On SQLite, the lock that makes this the one sending node; released on drop (and by
    /// the operating system if the process dies).
    _sender_lock: Option<std::fs::File>,
}

/// What the engine is told: the relays, the pace, the retry schedule. Built from the
/// settings by `app`.
#[derive(Debug, Clone)]
pub(crate) struct EngineSettings {
    /// SQLite's database file, locked so that one process sends; `None` on PostgreSQL.
    pub(crate) sqlite_path: Option<std::path::PathBuf>,
    /// Rows claimed at once.
    pub(crate) batch_size: usize,
    /// How long a claim is this node's before another may take it.
    pub(crate) lease: Duration,
    pub(crate) retry_base: Duration,
    pub(crate) retry_max_age: Duration,
    /// The relays; none: messages go to the outbox table.
    pub(crate) relays: Vec<crate::mail::smtp::SmtpServerConfig>,
    /// The name said in EHLO.
    pub(crate) hello: String,
    /// Messages per second over all relays.
    pub(crate) send_rate: Option<u32>,
    /// Messages per second to one recipient domain over all relays.
    pub(crate) domain_limits: Vec<crate::mail::smtp::DomainLimit>,
    /// Tests: deliver into this process's memory instead of relays or the outbox.
    pub(crate) memory: Option<Arc<senders::MemoryMailbox>>,
}

impl Engine {
    /// Starts the engine's tasks.
    ///
    /// # Errors
    /// When the leases of a previous run cannot be returned.
    pub(crate) async fn start(
        db: Db,
        settings: &EngineSettings,
        kit: Arc<MailKit>,
        kick: Kick,
    ) -> anyhow::Result<Engine> {
        // SQLite has one sending node: any lease left is this node's own, from before a crash.
        let sender_lock = match &settings.sqlite_path {
            Some(path) if db.backend() == Backend::Sqlite => Some(take_sender_lock(path)?),
            _ => None,
        };
        if db.backend() == Backend::Sqlite {
            let returned = deliveries::requeue_leased(&db, None).await?;
            if returned > 0 {
                tracing::info!(
                    returned,
                    "messages claimed before a crash went back to the queue"
                );
            }
        }
        let transport = match &settings.memory {
            Some(mailbox) => Transport::Memory(mailbox.clone()),
            None => Transport::new(&settings.relays, &settings.hello, &db),
        };
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            db,
            kit,
            node: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
            batch_size: i64::try_from(settings.batch_size.max(1)).unwrap_or(200),
            lease: settings.lease.max(Duration::from_secs(1)),
            retry_base: settings.retry_base,
            retry_max_age: settings.retry_max_age,
            running: RwLock::new(Arc::new(HashSet::new())),
            kick,
            stopping: stopped.clone(),
        });
        let connections = transport.connections();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Outgoing>(settings.batch_size.max(1) * 2);
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel::<Recorded>();
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(supervise(shared.clone(), stopped.clone())));
        tasks.push(tokio::spawn(record(shared.clone(), outcomes_rx)));
        let senders = senders::spawn(
            shared.clone(),
            transport,
            settings,
            jobs_rx,
            outcomes_tx.clone(),
            connections,
        );
        tasks.push(tokio::spawn(dispatch(
            shared,
            stopped,
            jobs_tx,
            outcomes_tx,
        )));
        tasks.extend(senders);
        Ok(Engine {
            stop,
            tasks,
            _sender_lock: sender_lock,
        })
    }

    /// Stops claiming, lets the senders finish the messages they hold, puts unsent claimed
    /// messages back in the queue and writes every outcome.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Locks `DATABASE.sending.lock`, so a second node on the same SQLite file refuses to send
/// instead of taking back the first one's leased messages and sending them again.
fn take_sender_lock(database: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut name = database.as_os_str().to_owned();
    name.push(".sending.lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another bulten process is already sending from {}: on SQLite only one node may \
             send (set sending = false on the others, or use PostgreSQL for several nodes)",
            database.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock {}: {e}", path.display())
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "node".into())
}

async fn supervise(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    loop {
        if let Err(err) = supervise_once(&shared).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "delivery supervision failed; retrying"
            );
        }
        tokio::select! {
            _ = stopped.changed() => return,
            () = shared.kick.0.notified() => {},
            () = tokio::time::sleep(SUPERVISE_EVERY) => {},
        }
    }
}

async fn supervise_once(shared: &Shared) -> anyhow::Result<()> {
    for id in db::campaigns::due(&shared.db, Timestamp::now()).await? {
        if let Some(n) =
            db::campaigns::start(&shared.db, id, crate::domain::CampaignStatus::Scheduled).await?
        {
            tracing::info!(campaign = id, recipients = n, "scheduled campaign started");
        }
    }
    let returned = deliveries::requeue_leased(&shared.db, Some(Timestamp::now())).await?;
    if returned > 0 {
        tracing::info!(returned, "expired leases went back to the queue");
    }
    for id in db::campaigns::finish_completed(&shared.db).await? {
        tracing::info!(campaign = id, "campaign finished");
    }
    let running: HashSet<i64> = db::campaigns::running(&shared.db)
        .await?
        .into_iter()
        .collect();
    if let Ok(mut slot) = shared.running.write() {
        *slot = Arc::new(running);
    }
    Ok(())
}

/// Claims and composes work until stopped.
async fn dispatch(
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    jobs: mpsc::Sender<Outgoing>,
    outcomes: mpsc::UnboundedSender<Recorded>,
) {
    let mut composers: HashMap<i64, Arc<CampaignComposer>> = HashMap::new();
    let mut positions = Positions::default();
    let mut turn = 0usize;
    loop {
        if *stopped.borrow() {
            return;
        }
        let worked = match dispatch_once(
            &shared,
            &mut composers,
            &mut positions,
            &mut turn,
            &jobs,
            &outcomes,
        )
        .await
        {
            Ok(worked) => worked,
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "claiming messages failed; retrying"
                );
                false
            }
        };
        if !worked {
            tokio::select! {
                _ = stopped.changed() => return,
                () = shared.kick.0.notified() => {},
                () = tokio::time::sleep(SUPERVISE_EVERY) => {},
            }
        }
    }
}

/// One claim: transactional rows if any, else the next running campaign's. True when it
/// found work.
async fn dispatch_once(
    shared: &Arc<Shared>,
    composers: &mut HashMap<i64, Arc<CampaignComposer>>,
    positions: &mut Positions,
    turn: &mut usize,
    jobs: &mpsc::Sender<Outgoing>,
    outcomes: &mpsc::UnboundedSender<Recorded>,
) -> anyhow::Result<bool> {
    // Wait for room before claiming, so claimed rows do not sit in memory under a lease.
    let permit = jobs.reserve().await?;
    drop(permit);
    let lease_until = Timestamp::from_datetime(Timestamp::now().as_datetime() + shared.lease);
    let tx_rows = positions.claim(shared, None, lease_until).await?;
    if !tx_rows.is_empty() {
        for row in tx_rows {
            match transactional(row) {
                Ok(message) => jobs.send(message).await?,
                Err((id, outcome)) => outcomes.send(Recorded::new(id, outcome))?,
            }
        }
        return Ok(true);
    }
    let running: Vec<i64> = {
        let set = shared.running.read().map(|s| s.clone()).unwrap_or_default();
        let mut ids: Vec<i64> = set.iter().copied().collect();
        ids.sort_unstable();
        ids
    };
    composers.retain(|id, _| running.contains(id));
    positions
        .0
        .retain(|id, _| id.is_none_or(|id| running.contains(&id)));
    for step in 0..running.len() {
        let campaign = running[(*turn + step) % running.len()];
        let rows = positions.claim(shared, Some(campaign), lease_until).await?;
        if rows.is_empty() {
            continue;
        }
        *turn = (*turn + step + 1) % running.len().max(1);
        let composed = match composer_for(shared, composers, campaign).await? {
            Ok(composer) => compose_batch(shared, &composer, &rows)
                .await?
                .map_err(|reason| (reason, composer.updated_at)),
            Err(refused) => Err(refused),
        };
        match composed {
            Ok(composed) => {
                for item in composed {
                    match item {
                        Ok(message) => jobs.send(message).await?,
                        Err((id, outcome)) => outcomes.send(Recorded::new(id, outcome))?,
                    }
                }
            }
            Err((reason, composed_from)) => {
                // The campaign cannot be composed for anyone (its template fails for every
                // reader of a batch): pause it with the reason for its editor, and give the
                // batch back untouched. Only as it was when composed: an editor who has
                // mended and resumed it meanwhile must not see it paused by the old version.
                tracing::error!(campaign, reason, "campaign cannot be composed; pausing it");
                for row in &rows {
                    outcomes.send(Recorded::new(row.id, Outcome::Released))?;
                }
                db::campaigns::pause_for(&shared.db, campaign, &reason, composed_from).await?;
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// Where this node is in each queue (transactional: `None`), see [`deliveries::claim`].
#[derive(Debug, Default)]
struct Positions(HashMap<Option<i64>, i64>);

impl Positions {
    async fn claim(
        &mut self,
        shared: &Shared,
        campaign: Option<i64>,
        lease_until: Timestamp,
    ) -> anyhow::Result<Vec<Claimed>> {
        let after = self.0.get(&campaign).copied().unwrap_or(0);
        let mut rows = deliveries::claim(
            &shared.db,
            campaign,
            &shared.node,
            lease_until,
            shared.batch_size,
            after,
        )
        .await?;
        if rows.is_empty() && after > 0 {
            rows = deliveries::claim(
                &shared.db,
                campaign,
                &shared.node,
                lease_until,
                shared.batch_size,
                0,
            )
            .await?;
        }
        self.0.insert(campaign, rows.last().map_or(0, |r| r.id));
        Ok(rows)
    }
}

/// The campaign's composer, compiled again when the campaign changed. The inner error says
/// why it cannot be composed, with the version of the campaign that said so.
async fn composer_for(
    shared: &Arc<Shared>,
    composers: &mut HashMap<i64, Arc<CampaignComposer>>,
    campaign: i64,
) -> anyhow::Result<Result<Arc<CampaignComposer>, (String, Timestamp)>> {
    let Some(current) = db::campaigns::get(&shared.db, campaign).await? else {
        // Deleted meanwhile: its rows went with it.
        return Ok(Err(("the campaign is gone".into(), Timestamp::now())));
    };
    if let Some(composer) = composers.get(&campaign)
        && composer.updated_at == current.updated_at
    {
        return Ok(Ok(composer.clone()));
    }
    match CampaignComposer::load(&shared.db, shared.kit.clone(), campaign).await {
        Ok(composer) => {
            let composer = Arc::new(composer);
            composers.insert(campaign, composer.clone());
            Ok(Ok(composer))
        }
        // The database failing is no reason to pause: the claim is retried.
        Err(crate::ops::OpsError::Internal(err)) => Err(err),
        Err(refused) => Ok(Err((refused.to_string(), current.updated_at))),
    }
}

type Composed = Result<Outgoing, (i64, Outcome)>;

/// Messages for claimed campaign rows; rows whose recipient may no longer be mailed are
/// skipped with the reason, and a message that cannot be composed fails its row. The inner
/// error says why no message of the batch could be composed: then none of it is sent.
async fn compose_batch(
    shared: &Arc<Shared>,
    composer: &Arc<CampaignComposer>,
    rows: &[Claimed],
) -> anyhow::Result<Result<Vec<Composed>, String>> {
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.subscriber_id).collect();
    let recipients =
        deliveries::eligible_recipients(&shared.db, composer.campaign_id, composer.optin, &ids)
            .await?;
    let hashes: Vec<String> = recipients
        .iter()
        .map(|r| shared.kit.signer.address_hash(&r.email))
        .collect();
    let suppressed: HashSet<String> = deliveries::suppressed(&shared.db, &hashes)
        .await?
        .into_iter()
        .collect();
    let mut by_id: HashMap<i64, crate::db::deliveries::Recipient> =
        HashMap::with_capacity(recipients.len());
    for (recipient, hash) in recipients.into_iter().zip(hashes) {
        if !suppressed.contains(&hash) {
            by_id.insert(recipient.id, recipient);
        }
    }
    // Rendering and signing are CPU work: keep them off the threads that drive sockets, and
    // spread a batch over the cores (an RSA signature alone takes about a millisecond).
    let by_id = Arc::new(by_id);
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = rows.len().div_ceil(threads).max(1);
    let mut tasks = Vec::with_capacity(threads);
    for part in rows.chunks(chunk) {
        let part = part.to_vec();
        let (composer, by_id) = (composer.clone(), by_id.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            part.into_iter()
                .map(|row| {
                    let Some(recipient) = row.subscriber_id.and_then(|id| by_id.get(&id)) else {
                        return Ok(Err((
                            row.id,
                            Outcome::Skipped(
                                "unsubscribed, blocklisted or suppressed since the start".into(),
                            ),
                        )));
                    };
                    match composer.outgoing(&row, recipient) {
                        Ok(message) => Ok(Ok(message)),
                        Err(ComposeError::Reader(e)) => {
                            let subscriber = row.subscriber_id.unwrap_or_default();
                            let reason = format!("the message to subscriber {subscriber}: {e}");
                            Ok(Err((row.id, Outcome::Failed(reason))))
                        }
                        // No reader's fault, and no message of the campaign can be sent.
                        Err(ComposeError::Sealing(e)) => Err(e.to_string()),
                    }
                })
                .collect::<Result<Vec<Composed>, String>>()
        }));
    }
    let mut composed = Vec::with_capacity(rows.len());
    for task in tasks {
        match task.await {
            Ok(Ok(part)) => composed.extend(part),
            Ok(Err(sealing)) => return Ok(Err(sealing)),
            Err(err) if err.is_panic() => {
                return Ok(Err("composing a message failed unexpectedly".into()));
            }
            Err(err) => return Err(err.into()),
        }
    }
    // One reader's message failing (an attribute only they lack) fails that row, with the
    // reason in the ledger and the log. Every message of the batch failing is the campaign's
    // fault (its template, nesting its loops build): then nobody is written off, and the
    // campaign waits for its editor.
    let failures: Vec<&String> = composed
        .iter()
        .filter_map(|item| match item {
            Err((_, Outcome::Failed(reason))) => Some(reason),
            _ => None,
        })
        .collect();
    let attempted = composed
        .iter()
        .filter(|item| !matches!(item, Err((_, Outcome::Skipped(_)))))
        .count();
    if !failures.is_empty() && failures.len() == attempted {
        return Ok(Err(failures[0].clone()));
    }
    for reason in failures {
        tracing::warn!(
            campaign = composer.campaign_id,
            reason,
            "a message could not be composed"
        );
    }
    Ok(Ok(composed))
}

/// A claimed transactional row carries its finished message.
fn transactional(row: Claimed) -> Composed {
    match (row.rcpt, row.mail_from, row.message) {
        (Some(rcpt), Some(mail_from), Some(bytes)) => Ok(Outgoing {
            delivery_id: row.id,
            campaign_id: None,
            mail_from,
            rcpt,
            subject: String::new(),
            bytes,
            attempts: row.attempts,
            queued_at: row.created_at,
        }),
        _ => Err((
            row.id,
            Outcome::Failed("the transactional row has no message".into()),
        )),
    }
}

/// Writes outcomes until every sender and the dispatcher are gone. Each write takes what
/// arrived during the previous one, so batches grow with the load while an outcome waits
/// no longer than one write: what was sent but not yet recorded is what a crash resends.
async fn record(shared: Arc<Shared>, mut outcomes: mpsc::UnboundedReceiver<Recorded>) {
    let mut pending: Vec<Recorded> = Vec::new();
    while outcomes.recv_many(&mut pending, RECORD_BATCH).await > 0 {
        let mut delay = Duration::from_millis(100);
        while let Err(err) = deliveries::record(&shared.db, &shared.node, &pending).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "recording delivery outcomes failed; retrying"
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        pending.clear();
    }
}

#[cfg(test)]
mod tests;
