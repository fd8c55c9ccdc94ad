//! The reader's side of the store: signups with their consent records, confirmations,
//! changes of address, the per-address events that limit signups, and the expiry of
//! signups nobody confirmed.

use super::{BeginWrite as _, Db, DbError, DbResult, on_pool};
use crate::domain::{
    DeliveryStatus, EmailAddress, List, SubscriberName, SubscriptionStatus, Timestamp,
};

/// What a reader was shown and where, recorded with each subscription a signup makes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Consent {
    /// `form`, `embed` or `api`.
    pub source: &'static str,
    pub page: String,
    pub consent_text: String,
    pub terms_version: String,
    pub terms_url: String,
    pub privacy_version: String,
    pub privacy_url: String,
    pub language: String,
    /// The address, its keyed hash, or nothing, by setting.
    pub ip: Option<String>,
    pub user_agent: String,
}

/// A signup to store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signup<'a> {
    pub email: &'a EmailAddress,
    pub name: &'a SubscriberName,
    pub lists: &'a [List],
    pub consent: &'a Consent,
    /// The reader has shown to own the address (the request came from a link mailed to it).
    pub verified: bool,
    /// The address's keyed hash, whose suppression a confirmed subscription lifts.
    pub address_hash: &'a str,
}

/// What a signup did.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub subscriber_id: i64,
    pub uuid: uuid::Uuid,
    pub name: String,
    /// The address is blocklisted: nothing was stored.
    pub blocklisted: bool,
    /// Double opt-in lists now waiting for this reader's confirmation.
    pub pending: Vec<i64>,
}

/// Stores a signup in one transaction: the subscriber (an existing one keeps its name and
/// attributes: a stranger may type anyone's address), a subscription per list (confirmed at
/// once on single opt-in lists; a confirmed one stays confirmed) and a consent record for
/// each subscription the signup asked for anew. `verified` says the reader has shown to own
/// the address (it came from a link mailed to it): every subscription is confirmed at once.
/// A confirmed subscription also lifts the address's suppression (`address_hash`): signing
/// up anew is the way back.
///
/// # Errors
/// When the database fails.
pub(crate) async fn store(db: &Db, signup: &Signup<'_>, now: Timestamp) -> DbResult<Stored> {
    let Signup {
        email,
        name,
        lists,
        consent,
        verified,
        address_hash,
    } = *signup;
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let uuid = uuid::Uuid::now_v7();
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO subscribers (uuid, email, name, attribs, status, created_at, updated_at) \
             VALUES ($1, $2, $3, '{}', 'enabled', $4, $4) ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(uuid)
        .bind(email.as_str())
        .bind(name.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let created = inserted.is_some();
        let (subscriber_id, uuid, stored_name, status): (i64, uuid::Uuid, String, String) =
            sqlx::query_as("SELECT id, uuid, name, status FROM subscribers WHERE email = $1")
                .bind(email.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if status == "blocklisted" {
            return Ok(Stored { subscriber_id, uuid, name: stored_name, blocklisted: true, pending: Vec::new() });
        }
        let suppressed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM suppressions WHERE email_hash = $1")
                .bind(address_hash)
                .fetch_one(&mut *tx)
                .await?;
        let mut pending = Vec::new();
        let mut confirmed_any = false;
        for list in lists {
            let previous: Option<String> = sqlx::query_scalar(
                "SELECT status FROM subscriber_lists WHERE subscriber_id = $1 AND list_id = $2",
            )
            .bind(subscriber_id)
            .bind(list.id)
            .fetch_optional(&mut *tx)
            .await?;
            let previous = previous.map(|p| p.parse::<SubscriptionStatus>()).transpose()?;
            if previous == Some(SubscriptionStatus::Confirmed) {
                continue;
            }
            // A reader's own opt-out (or erasure) outranks a stranger's form: the subscription
            // stays unsubscribed, mailing nothing, until the reader confirms from the mailbox,
            // whatever the list's opt-in. `pending_lists` finds it by its newer consent.
            let opted_out = !verified
                && (previous == Some(SubscriptionStatus::Unsubscribed) || suppressed > 0);
            // Otherwise the list's own rule, with the mailbox's proof (`verified`, the
            // preference centre's link) standing in for a confirmation.
            let wanted = if opted_out {
                SubscriptionStatus::Unsubscribed
            } else {
                list.initial_subscription_status(verified)
            };
            let needs_confirmation = wanted != SubscriptionStatus::Confirmed;
            sqlx::query(
                "INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (subscriber_id, list_id) \
                 DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
            )
            .bind(subscriber_id)
            .bind(list.id)
            .bind(wanted.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let confirmed_at = (!needs_confirmation).then_some(now);
            sqlx::query(
                "INSERT INTO consents (subscriber_id, list_id, source, page, consent_text, \
                 terms_version, terms_url, privacy_version, privacy_url, language, ip, user_agent, \
                 created_at, created_subscriber, confirmed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(subscriber_id)
            .bind(list.id)
            .bind(consent.source)
            .bind(&consent.page)
            .bind(&consent.consent_text)
            .bind(&consent.terms_version)
            .bind(&consent.terms_url)
            .bind(&consent.privacy_version)
            .bind(&consent.privacy_url)
            .bind(&consent.language)
            .bind(consent.ip.as_deref())
            .bind(&consent.user_agent)
            .bind(now)
            .bind(created)
            .bind(confirmed_at)
            .execute(&mut *tx)
            .await?;
            if needs_confirmation {
                pending.push(list.id);
            } else {
                confirmed_any = true;
            }
        }
        if confirmed_any {
            sqlx::query("DELETE FROM suppressions WHERE email_hash = $1")
                .bind(address_hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Stored { subscriber_id, uuid, name: stored_name, blocklisted: false, pending })
    })
}

/// The lists a subscriber has yet to confirm, by name: double opt-in lists waiting for
/// confirmation, and lists the reader had left that a signup since asks to rejoin (an
/// unconfirmed consent no older than the opt-out).
pub(crate) async fn pending_lists(db: &Db, subscriber_id: i64) -> DbResult<Vec<(i64, String)>> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT l.id, l.name FROM subscriber_lists sl JOIN lists l ON l.id = sl.list_id \
         WHERE sl.subscriber_id = $1 AND ( \
             (sl.status = 'unconfirmed' AND l.optin = 'double') \
             OR (sl.status = 'unsubscribed' AND EXISTS ( \
                 SELECT 1 FROM consents c WHERE c.subscriber_id = sl.subscriber_id \
                 AND c.list_id = sl.list_id AND c.confirmed_at IS NULL \
                 AND c.created_at >= sl.updated_at))) \
         ORDER BY l.name, l.id",
    )
    .bind(subscriber_id)
    .fetch_all(pool)
    .await?))
}

/// The language of the subscriber's latest consent record: the one its mail is written in.
pub(crate) async fn language_of(db: &Db, subscriber_id: i64) -> DbResult<Option<String>> {
    Ok(on_pool!(db, pool => sqlx::query_scalar(
        "SELECT language FROM consents WHERE subscriber_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(subscriber_id)
    .fetch_optional(pool)
    .await?))
}

/// Confirms the subscriber's subscriptions to `list_ids` (every double opt-in list it has
/// yet to confirm when empty) and their consent records, and lifts the address's
/// suppression when anything was confirmed. Returns how many subscriptions it confirmed.
pub(crate) async fn confirm(
    db: &Db,
    subscriber_id: i64,
    list_ids: &[i64],
    address_hash: &str,
    now: Timestamp,
) -> DbResult<u64> {
    let mut ids: Vec<i64> = pending_lists(db, subscriber_id)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    if !list_ids.is_empty() {
        ids.retain(|id| list_ids.contains(id));
    }
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let mut confirmed = 0;
        for id in &ids {
            confirmed += sqlx::query(
                "UPDATE subscriber_lists SET status = 'confirmed', updated_at = $3 \
                 WHERE subscriber_id = $1 AND list_id = $2 \
                 AND status IN ('unconfirmed', 'unsubscribed')",
            )
            .bind(subscriber_id)
            .bind(*id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE consents SET confirmed_at = $3 WHERE subscriber_id = $1 AND list_id = $2 \
                 AND confirmed_at IS NULL",
            )
            .bind(subscriber_id)
            .bind(*id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if confirmed > 0 {
            sqlx::query("DELETE FROM suppressions WHERE email_hash = $1")
                .bind(address_hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(confirmed)
    })
}

/// Moves a subscriber to a new address. `Ok(false)` when another subscriber has it.
pub(crate) async fn change_address(
    db: &Db,
    subscriber_id: i64,
    new: &EmailAddress,
    now: Timestamp,
) -> DbResult<bool> {
    let changed = on_pool!(db, pool => sqlx::query(
        "UPDATE subscribers SET email = $2, updated_at = $3 WHERE id = $1",
    )
    .bind(subscriber_id)
    .bind(new.as_str())
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()));
    match changed.map_err(DbError::from) {
        Ok(n) => Ok(n == 1),
        Err(DbError::Conflict(_)) => Ok(false),
        Err(err) => Err(err),
    }
}

/// The kinds of per-address events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Attempt,
    Confirmation,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Attempt => "attempt",
            Event::Confirmation => "confirmation",
        }
    }
}

/// Counts an address's events since `since`, and says when the latest was.
pub(crate) async fn events(
    db: &Db,
    address_hash: &str,
    event: Event,
    since: Timestamp,
) -> DbResult<(i64, Option<Timestamp>)> {
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT COUNT(*), MAX(created_at) FROM signup_events \
         WHERE address_hash = $1 AND kind = $2 AND created_at >= $3",
    )
    .bind(address_hash)
    .bind(event.as_str())
    .bind(since)
    .fetch_one(pool)
    .await?))
}

pub(crate) async fn record_event(
    db: &Db,
    address_hash: &str,
    event: Event,
    now: Timestamp,
) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO signup_events (address_hash, kind, created_at) VALUES ($1, $2, $3)",
    )
    .bind(address_hash)
    .bind(event.as_str())
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// What an expiry pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    pub subscriptions: u64,
    pub subscribers: u64,
}

/// Removes signups nobody confirmed before `before`: their waiting subscriptions, their
/// consent records, and the subscribers they created that are left with nothing. Drops
/// per-address events older than `events_before`.
pub async fn expire(db: &Db, before: Timestamp, events_before: Timestamp) -> DbResult<Expired> {
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let subscriptions = sqlx::query(
            "DELETE FROM subscriber_lists WHERE status = 'unconfirmed' AND EXISTS ( \
                 SELECT 1 FROM consents c WHERE c.subscriber_id = subscriber_lists.subscriber_id \
                 AND c.list_id = subscriber_lists.list_id AND c.confirmed_at IS NULL \
                 AND c.created_at < $1) \
             AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.subscriber_id = subscriber_lists.subscriber_id \
                 AND c.list_id = subscriber_lists.list_id AND c.created_at >= $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let subscribers = sqlx::query(
            "DELETE FROM subscribers WHERE id IN ( \
                 SELECT subscriber_id FROM consents WHERE confirmed_at IS NULL \
                 AND created_at < $1 AND created_subscriber) \
             AND NOT EXISTS (SELECT 1 FROM subscriber_lists sl WHERE sl.subscriber_id = subscribers.id) \
             AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.subscriber_id = subscribers.id \
                 AND (c.confirmed_at IS NOT NULL OR c.created_at >= $1))",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM consents WHERE confirmed_at IS NULL AND created_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM signup_events WHERE created_at < $1")
            .bind(events_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Expired { subscriptions, subscribers })
    })
}

/// A consent record as exported: with the list's name and the subscriber's address.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct ConsentRecord {
    pub id: i64,
    pub subscriber_id: i64,
    pub subscriber_email: String,
    pub list_id: i64,
    pub list_name: String,
    pub source: String,
    pub page: String,
    pub consent_text: String,
    pub terms_version: String,
    pub terms_url: String,
    pub privacy_version: String,
    pub privacy_url: String,
    pub language: String,
    pub ip: Option<String>,
    pub user_agent: String,
    pub created_at: Timestamp,
    pub confirmed_at: Option<Timestamp>,
}

/// Which consent records to export.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsentQuery {
    pub subscriber_id: Option<i64>,
    pub list_id: Option<i64>,
    pub limit: Option<i64>,
    pub offset: i64,
}

/// Consent records, oldest first, and how many match in all.
pub(crate) async fn consents(db: &Db, query: &ConsentQuery) -> DbResult<(Vec<ConsentRecord>, i64)> {
    let filter = "($1 IS NULL OR c.subscriber_id = $1) AND ($2 IS NULL OR c.list_id = $2)";
    let count_sql = format!("SELECT COUNT(*) FROM consents c WHERE {filter}");
    let select_sql = format!(
        "SELECT c.id, c.subscriber_id, s.email AS subscriber_email, c.list_id, l.name AS list_name, \
         c.source, c.page, c.consent_text, c.terms_version, c.terms_url, c.privacy_version, \
         c.privacy_url, c.language, c.ip, c.user_agent, c.created_at, c.confirmed_at \
         FROM consents c JOIN subscribers s ON s.id = c.subscriber_id JOIN lists l ON l.id = c.list_id \
         WHERE {filter} ORDER BY c.id LIMIT $3 OFFSET $4"
    );
    Ok(on_pool!(db, pool => {
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
            .bind(query.subscriber_id)
            .bind(query.list_id)
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query_as::<_, ConsentRecord>(sqlx::AssertSqlSafe(select_sql))
            .bind(query.subscriber_id)
            .bind(query.list_id)
            .bind(query.limit.unwrap_or(i64::MAX))
            .bind(query.offset)
            .fetch_all(pool)
            .await?;
        (rows, total)
    }))
}

/// What the reader's own export holds besides the subscriber and its consents: the mail
/// sent to it (campaign, status, time).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct MailRecord {
    pub campaign_id: Option<i64>,
    pub campaign_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
}

pub(crate) async fn mail_of(db: &Db, subscriber_id: i64) -> DbResult<Vec<MailRecord>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, MailRecord>(
        "SELECT d.campaign_id, c.name AS campaign_name, d.status, d.created_at, d.updated_at \
         FROM deliveries d LEFT JOIN campaigns c ON c.id = d.campaign_id \
         WHERE d.subscriber_id = $1 ORDER BY d.id",
    )
    .bind(subscriber_id)
    .fetch_all(pool)
    .await?))
}

/// Erases a subscriber and everything about it (subscriptions, consents, its ledger rows)
/// and suppresses its address under `address_hash`, in one transaction.
pub(crate) async fn erase(
    db: &Db,
    subscriber_id: i64,
    address_hash: &str,
    now: Timestamp,
) -> DbResult<()> {
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        // Rows still queued are skipped when claimed (their subscriber is gone); the ones
        // already sent go now, with the address they hold.
        sqlx::query("DELETE FROM deliveries WHERE subscriber_id = $1 AND status NOT IN ('queued', 'sending')")
            .bind(subscriber_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM subscribers WHERE id = $1")
            .bind(subscriber_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, 'erased', $2) \
             ON CONFLICT (email_hash) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at",
        )
        .bind(address_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    })
}
