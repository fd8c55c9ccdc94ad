//! Subscriber use cases: create, change, search (a page, or every match streamed),
//! blocklist, delete, change list memberships, unsubscribe links, consent records, and the
//! one export of everything stored about a reader.

use tokio::sync::mpsc;

use serde_json::json;

use super::access::{Caller, ListAccess};
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
    by.require_lists(&new.list_ids, ListAccess::Manage)?;
    if new.list_ids.is_empty() && !by.reaches_all_lists() {
        return Err(OpsError::Invalid(
            "put the reader on one of the lists you manage".into(),
        ));
    }
    let subs = subscriptions_for(db, &new.list_ids, new.fields.status, new.preconfirm).await?;
    let id = subscribers::insert(db, &new.fields, &subs).await?;
    let created = get(db, by, id).await?;
    let after = json!({"subscriber": created.subscriber, "lists": new.list_ids});
    audit::record(
        db,
        by,
        Change::new("subscriber.create", "subscriber", Some(id)).after(&after),
    )
    .await;
    Ok(created)
}

/// A reader, with the subscriptions the caller may see. A caller limited to some lists
/// finds no reader who is on none of them.
///
/// # Errors
/// `NotFound`.
pub(crate) async fn get(db: &Db, by: &Caller, id: i64) -> OpsResult<SubscriberWithLists> {
    let subscriber = subscribers::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("subscriber"))?;
    let subscriptions = subscribers::subscriptions_of(db, &[id]).await?;
    if !by.reaches_all_lists()
        && !subscriptions
            .iter()
            .any(|s| by.lists.allows(s.list.id, ListAccess::Get))
    {
        return Err(OpsError::NotFound("subscriber"));
    }
    Ok(SubscriberWithLists {
        subscriber,
        subscriptions: visible(by, subscriptions),
    })
}

/// The subscriptions on lists the caller may see.
fn visible(by: &Caller, mut subscriptions: Vec<Subscription>) -> Vec<Subscription> {
    subscriptions.retain(|s| by.lists.allows(s.list.id, ListAccess::Get));
    subscriptions
}

/// How much of a reader a change touches, for a caller limited to some lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touches {
    /// The reader's own fields or subscriptions to lists the caller manages: one list the
    /// caller manages is enough.
    Shared,
    /// The whole reader, on every list (deleting, blocklisting): the caller must manage
    /// every list the reader is on, so one desk cannot take a reader from another.
    Everything,
}

/// Checks that a caller limited to some lists may make a change that `touches` these
/// readers. A reader on none of the caller's lists is not found, as in a search.
///
/// # Errors
/// `NotFound` or `ForbiddenList`.
pub(crate) async fn require_readers(
    db: &Db,
    by: &Caller,
    ids: &[i64],
    touches: Touches,
) -> OpsResult<()> {
    if by.reaches_all_lists() {
        return Ok(());
    }
    let mut lists_of: std::collections::HashMap<i64, Vec<i64>> =
        ids.iter().map(|id| (*id, Vec::new())).collect();
    for sub in subscribers::subscriptions_of(db, ids).await? {
        lists_of
            .entry(sub.subscriber_id)
            .or_default()
            .push(sub.list.id);
    }
    for lists in lists_of.values() {
        if !lists.iter().any(|l| by.lists.allows(*l, ListAccess::Get)) {
            return Err(OpsError::NotFound("subscriber"));
        }
        let manages = |l: &i64| by.lists.allows(*l, ListAccess::Manage);
        let enough = match touches {
            Touches::Shared => lists.iter().any(manages),
            Touches::Everything => lists.iter().all(manages),
        };
        if !enough {
            let permission = super::access::Permission::SubscribersManage;
            return Err(refusal_naming_only_seen(by, lists, permission));
        }
    }
    Ok(())
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
    // A reader's status holds on every list (only enabled readers get campaigns), so changing
    // it is every desk's business: disabling silences the reader for all, enabling lifts an
    // admin's blocklisting.
    let touches = match changes.status {
        Some(status) if status != current.status => Touches::Everything,
        _ => Touches::Shared,
    };
    require_readers(db, by, &[id], touches).await?;
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
        Some(ids) => {
            let ids = within_reach(db, by, id, ids).await?;
            Some(subscriptions_for(db, &ids, fields.status, changes.preconfirm).await?)
        }
        None => None,
    };
    if !subscribers::update(db, id, &fields, subs.as_deref()).await? {
        return Err(OpsError::NotFound("subscriber"));
    }
    // Read back without the visibility check: a change may take the reader off the last of
    // the caller's lists, and the caller still gets the answer to their change.
    let subscriber = subscribers::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("subscriber"))?;
    let subscriptions = visible(by, subscribers::subscriptions_of(db, &[id]).await?);
    let updated = SubscriberWithLists {
        subscriber,
        subscriptions,
    };
    let after = json!({"subscriber": updated.subscriber, "lists": changes.list_ids});
    let change = Change::new("subscriber.update", "subscriber", Some(id))
        .before(&before)
        .after(&after);
    audit::record(db, by, change).await;
    Ok(updated)
}

/// The refusal for a change that needs `list:manage` on `lists`: it names the first list the
/// caller sees without managing it, never a list hidden from them (which would tell them
/// where else the reader is).
pub(crate) fn refusal_naming_only_seen(
    by: &Caller,
    lists: &[i64],
    permission: super::access::Permission,
) -> OpsError {
    match lists.iter().find(|l| {
        by.lists.allows(**l, ListAccess::Get) && !by.lists.allows(**l, ListAccess::Manage)
    }) {
        Some(list) => OpsError::ForbiddenList {
            access: ListAccess::Manage,
            list: *list,
        },
        None => OpsError::ForbiddenAllLists(permission),
    }
}

/// The lists a reader should be on when a caller sets them to `wanted`: for a caller limited
/// to some lists, the lists it cannot see stay as they are, and every list it adds or
/// takes away must be one it manages.
///
/// # Errors
/// `ForbiddenList`.
async fn within_reach(db: &Db, by: &Caller, id: i64, wanted: &[i64]) -> OpsResult<Vec<i64>> {
    if by.reaches_all_lists() {
        return Ok(wanted.to_vec());
    }
    let current: Vec<i64> = subscribers::subscriptions_of(db, &[id])
        .await?
        .into_iter()
        .map(|s| s.list.id)
        .collect();
    let (seen, hidden): (Vec<i64>, Vec<i64>) = current
        .into_iter()
        .partition(|l| by.lists.allows(*l, ListAccess::Get));
    let changed: Vec<i64> = wanted
        .iter()
        .filter(|l| !seen.contains(l))
        .chain(seen.iter().filter(|l| !wanted.contains(l)))
        .copied()
        .collect();
    by.require_lists(&changed, ListAccess::Manage)?;
    Ok(wanted.iter().chain(&hidden).copied().collect())
}

/// The query as the caller may run it: a caller limited to some lists searches only their
/// readers.
///
/// # Errors
/// `ForbiddenList` for a filter on a list the caller cannot see.
pub(crate) fn scoped(by: &Caller, query: &SubscriberQuery) -> OpsResult<SubscriberQuery> {
    if let Some(list) = query.list_id {
        by.require_lists(&[list], ListAccess::Get)?;
    }
    Ok(SubscriberQuery {
        within_lists: by.lists_with(ListAccess::Get),
        ..query.clone()
    })
}

/// Subscribers matching `query`, each with its subscriptions, and the number matching.
pub(crate) async fn search(
    db: &Db,
    by: &Caller,
    query: &SubscriberQuery,
) -> OpsResult<(Vec<SubscriberWithLists>, i64)> {
    let (found, total) = subscribers::query(db, &scoped(by, query)?).await?;
    Ok((with_lists(db, by, found).await?, total))
}

/// Every subscriber matching `query`, with their lists, in batches read from one running
/// query, so that answering for a million readers takes no more memory than for a thousand;
/// and how many there are.
pub(crate) async fn search_all(
    db: &Db,
    by: &Caller,
    query: &SubscriberQuery,
) -> OpsResult<(i64, mpsc::Receiver<OpsResult<Vec<SubscriberWithLists>>>)> {
    const BATCH: usize = 1_000;
    let query = scoped(by, query)?;
    let total = subscribers::count(db, &query).await?;
    let mut found = subscribers::stream(db, &query, BATCH);
    let (tx, rx) = mpsc::channel(1);
    let db = db.clone();
    let by = by.clone();
    tokio::spawn(async move {
        while let Some(batch) = found.recv().await {
            let batch = match batch {
                Ok(batch) => with_lists(&db, &by, batch).await,
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

/// The subscribers with the subscriptions the caller may see, loaded in one more query.
async fn with_lists(
    db: &Db,
    by: &Caller,
    found: Vec<Subscriber>,
) -> OpsResult<Vec<SubscriberWithLists>> {
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
            let subscriptions = visible(by, by_id.remove(&subscriber.id).unwrap_or_default());
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
    require_readers(db, by, ids, Touches::Everything).await?;
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
    require_readers(db, by, ids, Touches::Everything).await?;
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
    by.require_lists(list_ids, ListAccess::Manage)?;
    require_all(db, list_ids).await?;
    require_readers(db, by, subscriber_ids, Touches::Shared).await?;
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
pub(crate) async fn export(db: &Db, by: &Caller, id: i64) -> OpsResult<ReaderData> {
    let found = get(db, by, id).await?;
    let (mut consents, _) = signup::consents(
        db,
        &ConsentQuery {
            subscriber_id: Some(id),
            ..ConsentQuery::default()
        },
    )
    .await?;
    let mut messages = signup::mail_of(db, id).await?;
    if !by.reaches_all_lists() {
        // Other desks' records of the reader stay theirs: only consents on the caller's
        // lists, and mail of campaigns to them.
        consents.retain(|c| by.lists.allows(c.list_id, ListAccess::Get));
        let campaigns: Vec<i64> = messages.iter().filter_map(|m| m.campaign_id).collect();
        let seen: std::collections::HashSet<i64> = crate::db::campaigns::lists_of(db, &campaigns)
            .await?
            .into_iter()
            .filter(|l| l.id.is_some_and(|id| by.lists.allows(id, ListAccess::Get)))
            .map(|l| l.campaign_id)
            .collect();
        // Mail of no campaign (transactional, confirmations) may be any desk's.
        messages.retain(|m| m.campaign_id.is_some_and(|c| seen.contains(&c)));
    }
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
///
/// # Errors
/// `ForbiddenList` for a caller limited to some lists who does not name one of them: a
/// reader's consents on other lists are other desks' records.
pub(crate) async fn consents(
    db: &Db,
    by: &Caller,
    query: &ConsentQuery,
) -> OpsResult<(Vec<ConsentRecord>, i64)> {
    if !by.reaches_all_lists() {
        match query.list_id {
            Some(list) => by.require_lists(&[list], ListAccess::Get)?,
            None => {
                return Err(OpsError::ForbiddenAllLists(
                    super::access::Permission::SubscribersGet,
                ));
            }
        }
    }
    Ok(signup::consents(db, query).await?)
}
