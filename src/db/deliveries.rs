//! The delivery ledger: claiming rows under a lease, recording outcomes, returning expired
//! leases, and transactional rows. See the migration for the row's life.
//!
//! Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so nodes claiming at the same moment
//! take different rows; SQLite has one writer and one sending node.
//!
//! The statuses the queue is found by (`queued`, `sending`) are written into the SQL as
//! literals, not bound: the queue's partial indexes (`WHERE status = 'queued'`) serve only
//! a query whose predicate is the same literal, on both backends. Each literal is a
//! [`DeliveryStatus`]'s text, which a test below checks; statuses written as outcomes are
//! bound.

use serde_json::Value;
use sqlx::types::Json;

use super::{Backend, BeginWrite as _, Db, DbError, DbResult, on_pool, placeholders};
use crate::domain::{DeliveryStatus, Timestamp};

/// A claimed ledger row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub campaign_id: Option<i64>,
    pub subscriber_id: Option<i64>,
    /// Attempts including this one.
    pub attempts: i64,
    pub created_at: Timestamp,
    /// Transactional rows: the envelope and the finished message.
    pub rcpt: Option<String>,
    pub mail_from: Option<String>,
    pub message: Option<Vec<u8>>,
}

/// A campaign recipient as a message needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Recipient {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub email: String,
    pub name: String,
    pub attribs: Json<Value>,
    /// The first of the campaign's lists this reader is on: the list its `List-Id` names.
    #[sqlx(default)]
    pub list_id: Option<i64>,
}

/// What happened to one claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Not sent, and never will be (unsubscribed, suppressed, gone meanwhile).
    Skipped(String),
    /// A permanent refusal (5xx), kept as a bounce.
    Bounced(String),
    /// Gave up: a temporary failure that outlived the retry window, or a render error.
    Failed(String),
    /// A temporary failure: try again at `at`.
    Retry {
        at: Timestamp,
        error: String,
    },
    /// Not attempted (pause, shutdown): back to the queue as it was.
    Released,
}

/// An outcome on its way to the ledger: which row, what happened. (The campaign whose
/// counters it moves comes back from the row's update, so only a change that happened
/// counts.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub delivery_id: i64,
    pub outcome: Outcome,
}

impl Recorded {
    pub fn new(delivery_id: i64, outcome: Outcome) -> Self {
        Self {
            delivery_id,
            outcome,
        }
    }
}

/// What one flush of outcomes changed on one campaign's counters.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    sent: i64,
    failed: i64,
    bounced: i64,
    skipped: i64,
}

/// Claims up to `limit` due rows of one campaign (or of transactional mail, `campaign_id`
/// `None`) with IDs above `after`, for `owner` until `lease_until`.
///
/// `after` is the caller's position in the queue. On PostgreSQL every claimed row leaves a
/// dead entry at the front of the queue index until vacuum; starting each claim from the
/// front would step over all of them, ever more as the campaign goes on. The caller claims
/// from its position and returns to the front (`after` 0) only when that finds nothing, to
/// pick up retries and rows other nodes gave back.
pub async fn claim(
    db: &Db,
    campaign_id: Option<i64>,
    owner: &str,
    lease_until: Timestamp,
    limit: i64,
    after: i64,
) -> DbResult<Vec<Claimed>> {
    let now = Timestamp::now();
    let campaign_filter = if campaign_id.is_some() {
        "campaign_id = $4"
    } else {
        "campaign_id IS NULL AND $4 IS NULL"
    };
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE deliveries SET status = 'sending', lease_owner = $1, lease_until = $2, \
         attempts = attempts + 1, updated_at = $3 \
         WHERE id IN (SELECT id FROM deliveries \
                      WHERE status = 'queued' AND {campaign_filter} AND id > $6 \
                        AND (next_attempt_at IS NULL OR next_attempt_at <= $3) \
                      ORDER BY id LIMIT $5 {lock}) \
         RETURNING id, campaign_id, subscriber_id, attempts, created_at, rcpt, mail_from, message"
    );
    let mut rows = on_pool!(db, pool => sqlx::query_as::<_, Claimed>(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(campaign_id)
        .bind(limit)
        .bind(after)
        .fetch_all(pool)
        .await?);
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Of these subscribers, the ones campaign `campaign_id` may still mail now, with what the
/// message needs: enabled, and still in a target list under the campaign's opt-in rule. A
/// subscriber who unsubscribed or was blocklisted after the start is not returned.
pub(crate) async fn eligible_recipients(
    db: &Db,
    campaign_id: i64,
    optin_campaign: bool,
    subscriber_ids: &[i64],
) -> DbResult<Vec<Recipient>> {
    if subscriber_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rule = eligible(optin_campaign);
    // Grouped by the primary key, so both databases accept the other subscriber columns.
    let sql = format!(
        "SELECT s.id, s.uuid, s.email, s.name, s.attribs, MIN(sl.list_id) AS list_id \
         FROM subscribers s JOIN subscriber_lists sl ON sl.subscriber_id = s.id \
         JOIN lists l ON l.id = sl.list_id \
         WHERE s.id IN ({}) AND s.status = 'enabled' AND {rule} \
           AND sl.list_id IN (SELECT list_id FROM campaign_lists WHERE campaign_id = $1) \
         GROUP BY s.id",
        placeholders(2, subscriber_ids.len())
    );
    on_pool!(db, pool => {
        let mut q = sqlx::query_as::<_, Recipient>(sqlx::AssertSqlSafe(sql)).bind(campaign_id);
        for id in subscriber_ids {
            q = q.bind(*id);
        }
        q.fetch_all(pool).await.map_err(DbError::from)
    })
}

/// Which subscriptions (`sl`, of list `l`) a campaign goes to: an opt-in campaign to those
/// waiting for confirmation on double opt-in lists; any other to confirmed ones, and to
/// unconfirmed ones on single opt-in lists. Starting a campaign, choosing each batch's
/// recipients and previewing as its first reader all ask this.
pub(super) fn eligible(optin_campaign: bool) -> &'static str {
    if optin_campaign {
        "sl.status = 'unconfirmed' AND l.optin = 'double'"
    } else {
        "(sl.status = 'confirmed' OR (sl.status = 'unconfirmed' AND l.optin = 'single'))"
    }
}

/// The first reader the campaign would go to (lowest ID), for previews: a real reader's
/// attributes show what sending will render, where a sample reader has none.
pub(crate) async fn first_recipient(
    db: &Db,
    campaign_id: i64,
    optin_campaign: bool,
) -> DbResult<Option<Recipient>> {
    let rule = eligible(optin_campaign);
    let sql = format!(
        "SELECT s.id, s.uuid, s.email, s.name, s.attribs, sl.list_id FROM subscribers s \
         JOIN subscriber_lists sl ON sl.subscriber_id = s.id JOIN lists l ON l.id = sl.list_id \
         WHERE sl.list_id IN (SELECT list_id FROM campaign_lists WHERE campaign_id = $1) \
           AND s.status = 'enabled' AND {rule} \
         ORDER BY s.id, sl.list_id LIMIT 1"
    );
    on_pool!(db, pool => sqlx::query_as::<_, Recipient>(sqlx::AssertSqlSafe(sql))
        .bind(campaign_id)
        .fetch_optional(pool)
        .await
        .map_err(DbError::from))
}

/// Which of these keyed address hashes are suppressed.
pub async fn suppressed(db: &Db, hashes: &[String]) -> DbResult<Vec<String>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT email_hash FROM suppressions WHERE email_hash IN ({})",
        placeholders(1, hashes.len())
    );
    on_pool!(db, pool => {
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for hash in hashes {
            q = q.bind(hash.clone());
        }
        q.fetch_all(pool).await.map_err(DbError::from)
    })
}

/// Adds a keyed address hash to the suppression list.
pub async fn suppress(db: &Db, email_hash: &str, reason: &str) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (email_hash) DO NOTHING",
    )
    .bind(email_hash)
    .bind(reason)
    .bind(Timestamp::now())
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Writes the outcomes of rows `owner` claimed, and the campaign counters, in one
/// transaction. A sent message is recorded even if its lease ran out meanwhile (it went out;
/// marking it keeps it from going out again), and counted once. Every other outcome applies
/// only while `owner` still holds the lease: once another node has the row, its outcome
/// counts.
pub async fn record(db: &Db, owner: &str, outcomes: &[Recorded]) -> DbResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let now = Timestamp::now();
    let sent: Vec<i64> = outcomes
        .iter()
        .filter(|r| r.outcome == Outcome::Sent)
        .map(|r| r.delivery_id)
        .collect();
    let released: Vec<i64> = outcomes
        .iter()
        .filter(|r| r.outcome == Outcome::Released)
        .map(|r| r.delivery_id)
        .collect();
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        // What actually changed, per campaign.
        let mut counters: std::collections::BTreeMap<i64, Tally> = Default::default();
        // Campaign mail and transactional mail alike, for the day's count.
        let mut sent_today = 0i64;
        for chunk in sent.chunks(500) {
            let sql = format!(
                "UPDATE deliveries SET status = 'sent', lease_owner = NULL, lease_until = NULL, \
                 last_error = NULL, updated_at = $1 WHERE status IN ('sending', 'queued') \
                 AND id IN ({}) RETURNING campaign_id",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, Option<i64>>(sqlx::AssertSqlSafe(sql)).bind(now);
            for id in chunk {
                q = q.bind(*id);
            }
            let marked = q.fetch_all(&mut *tx).await?;
            sent_today += marked.len() as i64;
            for campaign in marked.into_iter().flatten() {
                counters.entry(campaign).or_default().sent += 1;
            }
        }
        for chunk in released.chunks(500) {
            let sql = format!(
                "UPDATE deliveries SET status = 'queued', lease_owner = NULL, lease_until = NULL, \
                 attempts = attempts - 1, updated_at = $1 \
                 WHERE status = 'sending' AND lease_owner = $2 AND id IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(owner);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        for recorded in outcomes {
            let (status, error, next) = match &recorded.outcome {
                Outcome::Sent | Outcome::Released => continue,
                Outcome::Skipped(e) => (DeliveryStatus::Skipped, e, None),
                Outcome::Bounced(e) => (DeliveryStatus::Bounced, e, None),
                Outcome::Failed(e) => (DeliveryStatus::Failed, e, None),
                Outcome::Retry { at, error } => (DeliveryStatus::Queued, error, Some(*at)),
            };
            let campaign = sqlx::query_scalar::<_, Option<i64>>(
                "UPDATE deliveries SET status = $1, last_error = $2, next_attempt_at = $3, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $4 \
                 WHERE id = $5 AND status = 'sending' AND lease_owner = $6 RETURNING campaign_id",
            )
            .bind(status.as_str())
            .bind(truncate(error))
            .bind(next)
            .bind(now)
            .bind(recorded.delivery_id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(Some(campaign)) = campaign {
                let tally = counters.entry(campaign).or_default();
                match status {
                    DeliveryStatus::Skipped => tally.skipped += 1,
                    DeliveryStatus::Bounced => tally.bounced += 1,
                    DeliveryStatus::Failed => tally.failed += 1,
                    _ => {}
                }
            }
        }
        // This is the one place a message becomes sent: the day's count is kept here, in
        // the same transaction, appended rather than added so concurrent recorders on
        // several nodes never wait for each other (see `db::dashboard`).
        if sent_today > 0 {
            sqlx::query("INSERT INTO daily_count_changes (day, series, n) VALUES ($1, 'sent', $2)")
                .bind(now.as_datetime().date().to_string())
                .bind(sent_today)
                .execute(&mut *tx)
                .await?;
        }
        for (campaign, tally) in counters {
            sqlx::query(
                "UPDATE campaigns SET sent = sent + $1, failed = failed + $2, \
                 bounced = bounced + $3, skipped = skipped + $4, updated_at = $5 WHERE id = $6",
            )
            .bind(tally.sent)
            .bind(tally.failed)
            .bind(tally.bounced)
            .bind(tally.skipped)
            .bind(now)
            .bind(campaign)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    })
}

/// Errors are kept short: an SMTP reply, not a transcript.
fn truncate(text: &str) -> &str {
    match text.char_indices().nth(500) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Puts leased rows back in the queue: those whose lease ended before `expired_before`, or
/// with `None` every leased row (a SQLite node starting up: it is the only sender, so any
/// lease is its own from before a crash).
pub async fn requeue_leased(db: &Db, expired_before: Option<Timestamp>) -> DbResult<u64> {
    on_pool!(db, pool => Ok(sqlx::query(
        "UPDATE deliveries SET status = 'queued', lease_owner = NULL, lease_until = NULL \
         WHERE status = 'sending' AND ($1 IS NULL OR lease_until < $1)",
    )
    .bind(expired_before)
    .execute(pool)
    .await?
    .rows_affected()))
}

/// A transactional message ready to queue.
#[derive(Debug, Clone)]
pub(crate) struct NewTx {
    pub subscriber_id: Option<i64>,
    pub rcpt: String,
    pub mail_from: String,
    pub message: Vec<u8>,
}

/// Queues transactional messages; they are claimed before any campaign row.
pub(crate) async fn insert_tx(db: &Db, messages: &[NewTx]) -> DbResult<()> {
    let now = Timestamp::now();
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        for m in messages {
            sqlx::query(
                "INSERT INTO deliveries (campaign_id, subscriber_id, status, attempts, rcpt, \
                 mail_from, message, created_at) VALUES (NULL, $1, 'queued', 0, $2, $3, $4, $5)",
            )
            .bind(m.subscriber_id)
            .bind(&m.rcpt)
            .bind(&m.mail_from)
            .bind(&m.message)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    })
}
