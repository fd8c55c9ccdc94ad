//! Subscriber use cases: create, change, search (a page, or every match streamed),
//! blocklist, delete, change list memberships, unsubscribe links, consent records, and the
//! one export of everything stored about a reader.

use tokio::sync::mpsc;

use serde_json::json;

use super::access::Caller;
use super::audit::{self, Change};
use super::{OpsError, OpsResult, lists::require_all};
use crate::db::Db;
use crate::db::signup;
pub(crate) use crate::db::signup::{ConsentQuery, ConsentRecord, MailRecord};
pub(crate) use crate::db::subscribers::SubscriberFields;
use crate::db::subscribers::{self, NewSubscription};
use crate::domain::{
    Attribs, EmailAddress, ListAction, ListType, Subscriber, SubscriberName, SubscriberQuery,
    SubscriberStatus, Subscription, SubscriptionStatus, Timestamp,
};

/// A subscriber with its subscriptions, as the API shows it.
#[derive(Debug, Clone)]
pub(crate) struct SubscriberWithLists {
    pub subscriber: Subscriber,
    pub subscriptions: Vec<Subscription>,
}

/// A new subscriber, parsed.
#[derive(Debug, Clone)]
pub(crate) struct NewSubscriber {
    pub fields: SubscriberFields,
    pub list_ids: Vec<i64>,
    /// Confirm double opt-in subscriptions at once (the caller vouches for consent).
    pub preconfirm: bool,
}

/// Changes to a subscriber. `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubscriberChanges {
    pub email: Option<EmailAddress>,
    pub name: Option<SubscriberName>,
    pub attribs: Option<Attribs>,
    /// Merge `attribs` into the current ones instead of replacing them.
    pub merge_attribs: bool,
    pub status: Option<SubscriberStatus>,
    /// The lists the subscriber should be on, exactly; `None` leaves subscriptions alone.
    pub list_ids: Option<Vec<i64>>,
    pub preconfirm: bool,
}

async fn subscriptions_for(
    db: &Db,
    list_ids: &[i64],
    status: SubscriberStatus,
    preconfirm: bool,
) -> OpsResult<Vec<NewSubscription>> {
    let lists = require_all(db, list_ids).await?;
    Ok(lists
        .iter()
        .map(|list| NewSubscription {
            list_id: list.id,
            status: if status == SubscriberStatus::Blocklisted {
                crate::domain::SubscriptionStatus::Unsubscribed
            } else {
                list.initial_subscription_status(preconfirm)
            },
        })
        .collect())
}

pub(crate) async fn create(
    db: &Db,
    by: &Caller,
    new: NewSubscriber,
) -> OpsResult<SubscriberWithLists> {
    let subs = subscriptions_for(db, &new.list_ids, new.fields.status, new.preconfirm).await?;
    let id = subscribers::insert(db, &new.fields, &subs).await?;
    let created = get(db, id).await?;
    let after = json!({"subscriber": created.subscriber, "lists": new.list_ids});
    audit::record(
        db,
        by,
        Change::new("subscriber.create", "subscriber", Some(id)).after(&after),
    )
    .await;
    Ok(created)
}

pub(crate) async fn get(db: &Db, id: i64) -> OpsResult<SubscriberWithLists> {
    let subscriber = subscribers::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("subscriber"))?;
    let subscriptions = subscribers::subscriptions_of(db, &[id]).await?;
    Ok(SubscriberWithLists {
        subscriber,
        subscriptions,
    })
}

pub(crate) async fn update(
    db: &Db,
    by: &Caller,
    id: i64,
    changes: SubscriberChanges,
) -> OpsResult<SubscriberWithLists> {
    let current = subscribers::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("subscriber"))?;
    let before = current.clone();
    let attribs = match (changes.attribs, changes.merge_attribs) {
        (Some(new), true) => current.attribs.merged(new)?,
        (Some(new), false) => new,
        (None, _) => current.attribs,
    };
    let fields = SubscriberFields {
        email: changes.email.unwrap_or(current.email),
        name: changes.name.unwrap_or(current.name),
        attribs,
        status: changes.status.unwrap_or(current.status),
    };
    let subs = match &changes.list_ids {
        Some(ids) => Some(subscriptions_for(db, ids, fields.status, changes.preconfirm).await?),
        None => None,
    };
    if !subscribers::update(db, id, &fields, subs.as_deref()).await? {
        return Err(OpsError::NotFound("subscriber"));
    }
    let updated = get(db, id).await?;
    let after = json!({"subscriber": updated.subscriber, "lists": changes.list_ids});
    let change = Change::new("subscriber.update", "subscriber", Some(id))
        .before(&before)
        .after(&after);
    audit::record(db, by, change).await;
    Ok(updated)
}

/// Subscribers matching `query`, each with its subscriptions, and the number matching.
pub(crate) async fn search(
    db: &Db,
    query: &SubscriberQuery,
) -> OpsResult<(Vec<SubscriberWithLists>, i64)> {
    let (found, total) = subscribers::query(db, query).await?;
    Ok((with_lists(db, found).await?, total))
}

/// Every subscriber matching `query`, with their lists, in batches read from one running
/// query, so that answering for a million readers takes no more memory than for a thousand;
/// and how many there are.
pub(crate) async fn search_all(
    db: &Db,
    query: &SubscriberQuery,
) -> OpsResult<(i64, mpsc::Receiver<OpsResult<Vec<SubscriberWithLists>>>)> {
    const BATCH: usize = 1_000;
    let total = subscribers::count(db, query).await?;
    let mut found = subscribers::stream(db, query, BATCH);
    let (tx, rx) = mpsc::channel(1);
    let db = db.clone();
    tokio::spawn(async move {
        while let Some(batch) = found.recv().await {
            let batch = match batch {
                Ok(batch) => with_lists(&db, batch).await,
                Err(err) => Err(err.into()),
            };
            let failed = batch.is_err();
            if tx.send(batch).await.is_err() || failed {
                return;
            }
        }
    });
    Ok((total, rx))
}

/// The subscribers with their subscriptions, loaded in one more query.
async fn with_lists(db: &Db, found: Vec<Subscriber>) -> OpsResult<Vec<SubscriberWithLists>> {
    let ids: Vec<i64> = found.iter().map(|s| s.id).collect();
    // Both are ordered by subscriber ID only when the search is; group by ID instead.
    let mut by_id: std::collections::HashMap<i64, Vec<Subscription>> =
        std::collections::HashMap::new();
    for sub in subscribers::subscriptions_of(db, &ids).await? {
        by_id.entry(sub.subscriber_id).or_default().push(sub);
    }
    Ok(found
        .into_iter()
        .map(|subscriber| {
            let subscriptions = by_id.remove(&subscriber.id).unwrap_or_default();
            SubscriberWithLists {
                subscriber,
                subscriptions,
            }
        })
        .collect())
}

pub(crate) async fn delete(db: &Db, by: &Caller, ids: &[i64]) -> OpsResult<u64> {
    if ids.is_empty() {
        return Err(OpsError::Invalid("no subscriber IDs given".into()));
    }
    let before = match ids {
        [one] => subscribers::get(db, *one).await?.map(|s| json!(s)),
        _ => None,
    };
    let deleted = subscribers::delete(db, ids).await?;
    let change = Change::new("subscriber.delete", "subscriber", single(ids))
        .before(&before)
        .after(&json!({"ids": ids, "deleted": deleted}));
    audit::record(db, by, change).await;
    Ok(deleted)
}

pub(crate) async fn blocklist(db: &Db, by: &Caller, ids: &[i64]) -> OpsResult<u64> {
    if ids.is_empty() {
        return Err(OpsError::Invalid("no subscriber IDs given".into()));
    }
    let blocked = subscribers::blocklist(db, ids).await?;
    let change = Change::new("subscriber.blocklist", "subscriber", single(ids))
        .after(&json!({"ids": ids, "blocklisted": blocked}));
    audit::record(db, by, change).await;
    Ok(blocked)
}

/// The one subscriber a change is about, when it is about one.
fn single(ids: &[i64]) -> Option<i64> {
    match ids {
        [one] => Some(*one),
        _ => None,
    }
}

pub(crate) async fn change_lists(
    db: &Db,
    by: &Caller,
    subscriber_ids: &[i64],
    list_ids: &[i64],
    action: ListAction,
) -> OpsResult<()> {
    if subscriber_ids.is_empty() {
        return Err(OpsError::Invalid("no subscriber IDs given".into()));
    }
    if list_ids.is_empty() {
        return Err(OpsError::Invalid("no target list IDs given".into()));
    }
    require_all(db, list_ids).await?;
    subscribers::change_lists(db, subscriber_ids, list_ids, action).await?;
    let change = Change::new("subscriber.lists", "subscriber", single(subscriber_ids)).after(
        &json!({"ids": subscriber_ids, "lists": list_ids, "action": format!("{action:?}").to_lowercase()}),
    );
    audit::record(db, by, change).await;
    Ok(())
}

/// What an unsubscribe link acts on: whose, and which lists.
#[derive(Debug, Clone)]
pub(crate) struct UnsubscribeTarget {
    pub subscriber: crate::domain::Subscriber,
    /// The lists left by unsubscribing: the campaign's, or every list when the link came
    /// from no campaign.
    pub lists: Vec<ListLeft>,
}

/// A list an unsubscribe link leaves.
#[derive(Debug, Clone)]
pub(crate) struct ListLeft {
    pub id: i64,
    pub name: String,
    /// Whether the reader is on it now (not already unsubscribed).
    pub subscribed: bool,
}

/// Resolves a signed unsubscribe token. `None` for a token naming no subscriber (erased).
///
/// # Errors
/// When the database fails.
pub(crate) async fn unsubscribe_target(
    db: &Db,
    token: crate::mail::tokens::UnsubscribeToken,
) -> OpsResult<Option<UnsubscribeTarget>> {
    let Some(subscriber) = crate::db::subscribers::get_by_uuid(db, token.subscriber).await? else {
        return Ok(None);
    };
    let subscriptions = crate::db::subscribers::subscriptions_of(db, &[subscriber.id]).await?;
    let campaign_lists: Option<Vec<i64>> = match token.campaign {
        Some(id) => Some(
            crate::db::campaigns::lists_of(db, &[id])
                .await?
                .into_iter()
                .filter_map(|l| l.id)
                .collect(),
        ),
        None => None,
    };
    let lists = subscriptions
        .into_iter()
        .filter(|s| {
            campaign_lists
                .as_ref()
                .is_none_or(|ids| ids.contains(&s.list.id))
        })
        .map(|s| ListLeft {
            subscribed: s.status != SubscriptionStatus::Unsubscribed,
            id: s.list.id,
            name: s.list.name,
        })
        .collect();
    Ok(Some(UnsubscribeTarget { subscriber, lists }))
}

/// Unsubscribes the token's subscriber from the lists it names. Idempotent; a campaign
/// already running skips the subscriber from its next message on.
///
/// # Errors
/// When the database fails.
pub(crate) async fn unsubscribe(db: &Db, target: &UnsubscribeTarget) -> OpsResult<()> {
    let list_ids: Vec<i64> = target.lists.iter().map(|l| l.id).collect();
    crate::db::subscribers::change_lists(
        db,
        &[target.subscriber.id],
        &list_ids,
        ListAction::Unsubscribe,
    )
    .await?;
    Ok(())
}

/// Everything stored about a reader, as one file: the profile, the subscriptions, the
/// consent records and the mail the ledger sent them. The same export serves the reader's
/// own download from the preference centre and `GET /api/subscribers/{id}/export`, in
/// listmonk's shape (`profile`, `subscriptions`, `campaign_views`, `link_clicks`) with
/// bulten's `consents` and `messages` added.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ReaderData {
    /// One entry, as listmonk exports it.
    pub profile: Vec<Profile>,
    pub subscriptions: Vec<SubscriptionData>,
    /// bulten does not record views; empty, for listmonk's clients.
    pub campaign_views: Vec<serde_json::Value>,
    /// Clicks are not recorded per reader; empty, for listmonk's clients.
    pub link_clicks: Vec<serde_json::Value>,
    pub consents: Vec<ConsentRecord>,
    pub messages: Vec<MailRecord>,
}

/// A reader's own fields, in an export.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Profile {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub email: String,
    pub name: String,
    pub attribs: serde_json::Map<String, serde_json::Value>,
    pub status: SubscriberStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One subscription, in an export.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct SubscriptionData {
    pub list_id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub list_type: ListType,
    pub subscription_status: SubscriptionStatus,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Everything stored about subscriber `id`; see [`ReaderData`].
///
/// # Errors
/// `NotFound` for an unknown subscriber.
pub(crate) async fn export(db: &Db, id: i64) -> OpsResult<ReaderData> {
    let found = get(db, id).await?;
    let (consents, _) = signup::consents(
        db,
        &ConsentQuery {
            subscriber_id: Some(id),
            ..ConsentQuery::default()
        },
    )
    .await?;
    let messages = signup::mail_of(db, id).await?;
    let sub = found.subscriber;
    Ok(ReaderData {
        profile: vec![Profile {
            id: sub.id,
            uuid: sub.uuid,
            email: sub.email.as_str().to_owned(),
            name: sub.name.as_str().to_owned(),
            attribs: sub.attribs.into_map(),
            status: sub.status,
            created_at: sub.created_at,
            updated_at: sub.updated_at,
        }],
        subscriptions: found
            .subscriptions
            .into_iter()
            .map(|s| SubscriptionData {
                list_id: s.list.id,
                name: s.list.name,
                list_type: s.list.list_type,
                subscription_status: s.status,
                meta: s.meta,
                created_at: s.created_at,
                updated_at: s.updated_at,
            })
            .collect(),
        campaign_views: Vec::new(),
        link_clicks: Vec::new(),
        consents,
        messages,
    })
}

/// Consent records as proof (GDPR, KVKK), oldest first, and how many match.
pub(crate) async fn consents(
    db: &Db,
    query: &ConsentQuery,
) -> OpsResult<(Vec<ConsentRecord>, i64)> {
    Ok(signup::consents(db, query).await?)
}
