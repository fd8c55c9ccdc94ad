//! Subscribers and their subscriptions to lists.

use futures_util::StreamExt as _;
use serde_json::{Map, Value};
use sqlx::types::Json;
use tokio::sync::mpsc;

use super::filter::{bind_params, compile};
use super::lists::ListRow;
use super::{Backend, BeginWrite as _, Db, DbError, DbResult, on_pool, placeholders};
use crate::domain::{
    Attribs, EmailAddress, ListAction, Subscriber, SubscriberName, SubscriberOrder,
    SubscriberQuery, SubscriberStatus, Subscription, SubscriptionStatus, Timestamp,
};

/// The columns of a row, as a literal so static queries can be built with `concat!`.
macro_rules! subscriber_columns {
    () => {
        "subscribers.id, subscribers.uuid, subscribers.email, subscribers.name, subscribers.attribs, \
     subscribers.status, subscribers.created_at, subscribers.updated_at"
    };
}
pub(crate) const SUBSCRIBER_COLUMNS: &str = subscriber_columns!();

/// Bounds the placeholders in one `IN (…)` list; both databases cap a statement's parameters.
const ID_CHUNK: usize = 1000;

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriberRow {
    id: i64,
    uuid: uuid::Uuid,
    email: String,
    name: String,
    attribs: Json<Map<String, Value>>,
    status: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl SubscriberRow {
    pub(crate) fn into_subscriber(self) -> DbResult<Subscriber> {
        let status = self
            .status
            .parse()
            .map_err(|e: crate::domain::Invalid| DbError::Other(sqlx::Error::Decode(e.into())))?;
        Ok(Subscriber {
            id: self.id,
            uuid: self.uuid,
            email: EmailAddress::from_trusted(self.email),
            name: SubscriberName::from_trusted(self.name),
            attribs: Attribs::from_trusted(self.attribs.0),
            status,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    subscriber_id: i64,
    subscription_status: String,
    subscription_meta: Json<Map<String, Value>>,
    subscription_created_at: Timestamp,
    subscription_updated_at: Timestamp,
    #[sqlx(flatten)]
    list: ListRow,
}

/// The columns a subscriber is created or replaced with.
#[derive(Debug, Clone)]
pub(crate) struct SubscriberFields {
    pub email: EmailAddress,
    pub name: SubscriberName,
    pub attribs: Attribs,
    pub status: SubscriberStatus,
}

/// The column a search is ordered by.
fn order_sql(order: SubscriberOrder) -> &'static str {
    match order {
        SubscriberOrder::Id => "subscribers.id",
        SubscriberOrder::Email => "subscribers.email",
        SubscriberOrder::Name => "subscribers.name",
        SubscriberOrder::Status => "subscribers.status",
        SubscriberOrder::CreatedAt => "subscribers.created_at",
        SubscriberOrder::UpdatedAt => "subscribers.updated_at",
    }
}

/// The `WHERE` clause of `query` and its parameters.
fn conditions(backend: Backend, query: &SubscriberQuery) -> (String, Vec<super::filter::Param>) {
    // The filter's placeholders come first, numbered from $1; the list conditions follow.
    let (filter_sql, mut params) = match &query.filter {
        Some(filter) => {
            let compiled = compile(filter, backend, 1);
            (compiled.sql, compiled.params)
        }
        None => ("1 = 1".to_owned(), Vec::new()),
    };
    let mut conditions = vec![filter_sql];
    if let Some(lists) = &query.within_lists {
        let first = params.len() + 1;
        params.extend(lists.iter().map(|id| super::filter::Param::Int(*id)));
        conditions.push(if lists.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!(
                "subscribers.id IN (SELECT subscriber_id FROM subscriber_lists WHERE list_id IN ({}))",
                super::placeholders(first, lists.len())
            )
        });
    }
    if let Some(list_id) = query.list_id {
        params.push(super::filter::Param::Int(list_id));
        let mut membership = format!(
            "SELECT subscriber_id FROM subscriber_lists WHERE list_id = ${}",
            params.len()
        );
        if let Some(status) = query.subscription_status {
            params.push(super::filter::Param::Text(status.as_str().to_owned()));
            membership.push_str(&format!(" AND status = ${}", params.len()));
        }
        conditions.push(format!("subscribers.id IN ({membership})"));
    } else if let Some(status) = query.subscription_status {
        params.push(super::filter::Param::Text(status.as_str().to_owned()));
        let mut membership = format!(
            "SELECT subscriber_id FROM subscriber_lists WHERE status = ${}",
            params.len()
        );
        // A subscription in this status on a list the caller cannot see does not count.
        if let Some(lists) = query.within_lists.as_ref().filter(|l| !l.is_empty()) {
            let first = params.len() + 1;
            params.extend(lists.iter().map(|id| super::filter::Param::Int(*id)));
            membership.push_str(&format!(
                " AND list_id IN ({})",
                super::placeholders(first, lists.len())
            ));
        }
        conditions.push(format!("subscribers.id IN ({membership})"));
    }
    (conditions.join(" AND "), params)
}

/// Every subscriber matching `query` (its page ignored), in its order, in batches of up to
/// `batch`, read from one running query so that memory stays flat however many match.
/// The receiver ends after the last batch, or after an error.
pub(crate) fn stream(
    db: &Db,
    query: &SubscriberQuery,
    batch: usize,
) -> mpsc::Receiver<DbResult<Vec<Subscriber>>> {
    let (where_sql, params) = conditions(db.backend(), query);
    let order = if query.descending { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE {where_sql} \
         ORDER BY {} {order}, subscribers.id {order}",
        order_sql(query.order_by),
    );
    // Two batches in flight: the next is read while the last is written out.
    let (tx, rx) = mpsc::channel(2);
    let db = db.clone();
    tokio::spawn(async move {
        on_pool!(&db, pool => {
            let mut rows = bind_params!(sqlx::query_as::<_, SubscriberRow>(sqlx::AssertSqlSafe(sql)), &params)
                .fetch(pool);
            let mut buffer = Vec::with_capacity(batch);
            while let Some(row) = rows.next().await {
                match row.map_err(DbError::from).and_then(SubscriberRow::into_subscriber) {
                    Ok(subscriber) => buffer.push(subscriber),
                    Err(err) => {
                        let _ = tx.send(Err(err)).await;
                        return;
                    }
                }
                if buffer.len() >= batch
                    && tx.send(Ok(std::mem::replace(&mut buffer, Vec::with_capacity(batch)))).await.is_err()
                {
                    return; // The client went away.
                }
            }
            if !buffer.is_empty() {
                let _ = tx.send(Ok(buffer)).await;
            }
        })
    });
    rx
}

/// How many subscribers match `query`.
pub(crate) async fn count(db: &Db, query: &SubscriberQuery) -> DbResult<i64> {
    let (where_sql, params) = conditions(db.backend(), query);
    let sql = format!("SELECT COUNT(*) FROM subscribers WHERE {where_sql}");
    on_pool!(db, pool => bind_params!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), &params)
        .fetch_one(pool)
        .await
        .map_err(DbError::from))
}

/// The IDs of every subscriber matching `query` (its page ignored), for an action on all of
/// them: eight bytes a reader, so a million fit in a few megabytes.
pub(crate) async fn ids_matching(db: &Db, query: &SubscriberQuery) -> DbResult<Vec<i64>> {
    let (where_sql, params) = conditions(db.backend(), query);
    let sql =
        format!("SELECT subscribers.id FROM subscribers WHERE {where_sql} ORDER BY subscribers.id");
    on_pool!(db, pool => bind_params!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), &params)
        .fetch_all(pool)
        .await
        .map_err(DbError::from))
}

/// Subscribers matching `query`, and how many match in all (or up to its `count_up_to`).
pub(crate) async fn query(db: &Db, query: &SubscriberQuery) -> DbResult<(Vec<Subscriber>, i64)> {
    let (where_sql, mut params) = conditions(db.backend(), query);
    let count_sql = match query.count_up_to {
        Some(cap) => format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM subscribers WHERE {where_sql} LIMIT {cap}) AS capped"
        ),
        None => format!("SELECT COUNT(*) FROM subscribers WHERE {where_sql}"),
    };
    let count_params = params.clone();
    // A keyset page reads from its cursor on; going back it reads the other way and turns
    // the rows round.
    let cursor = query
        .past_id
        .filter(|_| query.order_by == SubscriberOrder::Id);
    let (select_where, descending, offset) = match cursor {
        Some(cursor) => {
            params.push(super::filter::Param::Int(cursor.id));
            let descending = query.descending != cursor.back;
            let side = if descending { "<" } else { ">" };
            (
                format!("{where_sql} AND subscribers.id {side} ${}", params.len()),
                descending,
                0,
            )
        }
        None => (where_sql, query.descending, query.offset),
    };
    let order = if descending { "DESC" } else { "ASC" };
    let select_sql = format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE {select_where} \
         ORDER BY {} {order}, subscribers.id {order} LIMIT ${} OFFSET ${}",
        order_sql(query.order_by),
        params.len() + 1,
        params.len() + 2,
    );
    let limit = query.limit.unwrap_or(i64::MAX);
    let (mut rows, total) = on_pool!(db, pool => {
        let total = bind_params!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql)), &count_params)
            .fetch_one(pool)
            .await?;
        let rows = bind_params!(sqlx::query_as::<_, SubscriberRow>(sqlx::AssertSqlSafe(select_sql)), &params)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        (rows, total)
    });
    if cursor.is_some_and(|c| c.back) {
        rows.reverse();
    }
    let subscribers = rows
        .into_iter()
        .map(SubscriberRow::into_subscriber)
        .collect::<DbResult<_>>()?;
    Ok((subscribers, total))
}

pub(crate) async fn get(db: &Db, id: i64) -> DbResult<Option<Subscriber>> {
    let sql: &str = concat!(
        "SELECT ",
        subscriber_columns!(),
        " FROM subscribers WHERE id = $1"
    );
    let row = on_pool!(db, pool => sqlx::query_as::<_, SubscriberRow>(sql)
        .bind(id)
        .fetch_optional(pool)
        .await?);
    row.map(SubscriberRow::into_subscriber).transpose()
}

pub(crate) async fn get_by_email(db: &Db, email: &EmailAddress) -> DbResult<Option<Subscriber>> {
    let sql: &str = concat!(
        "SELECT ",
        subscriber_columns!(),
        " FROM subscribers WHERE email = $1"
    );
    let row = on_pool!(db, pool => sqlx::query_as::<_, SubscriberRow>(sql)
        .bind(email.as_str())
        .fetch_optional(pool)
        .await?);
    row.map(SubscriberRow::into_subscriber).transpose()
}

pub(crate) async fn get_by_uuid(db: &Db, uuid: uuid::Uuid) -> DbResult<Option<Subscriber>> {
    let sql: &str = concat!(
        "SELECT ",
        subscriber_columns!(),
        " FROM subscribers WHERE uuid = $1"
    );
    let row = on_pool!(db, pool => sqlx::query_as::<_, SubscriberRow>(sql)
        .bind(uuid)
        .fetch_optional(pool)
        .await?);
    row.map(SubscriberRow::into_subscriber).transpose()
}

/// The subscriptions of these subscribers, with their lists, ordered by list.
pub(crate) async fn subscriptions_of(
    db: &Db,
    subscriber_ids: &[i64],
) -> DbResult<Vec<Subscription>> {
    let mut all = Vec::new();
    for chunk in subscriber_ids.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT subscriber_lists.subscriber_id, \
                    subscriber_lists.status AS subscription_status, \
                    subscriber_lists.meta AS subscription_meta, \
                    subscriber_lists.created_at AS subscription_created_at, \
                    subscriber_lists.updated_at AS subscription_updated_at, \
                    lists.id, lists.uuid, lists.name, lists.type, lists.optin, lists.status, \
                    lists.tags, lists.description, lists.language, lists.created_at, lists.updated_at \
             FROM subscriber_lists JOIN lists ON lists.id = subscriber_lists.list_id \
             WHERE subscriber_lists.subscriber_id IN ({}) \
             ORDER BY subscriber_lists.subscriber_id, lists.id",
            placeholders(1, chunk.len())
        );
        let rows = on_pool!(db, pool => {
            let mut q = sqlx::query_as::<_, SubscriptionRow>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        for row in rows {
            let status = row
                .subscription_status
                .parse()
                .map_err(|e: crate::domain::Invalid| {
                    DbError::Other(sqlx::Error::Decode(e.into()))
                })?;
            all.push(Subscription {
                subscriber_id: row.subscriber_id,
                list: row.list.into_list()?,
                status,
                meta: row.subscription_meta.0,
                created_at: row.subscription_created_at,
                updated_at: row.subscription_updated_at,
            });
        }
    }
    Ok(all)
}

/// A subscription to write: which list, in which status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewSubscription {
    pub list_id: i64,
    pub status: SubscriptionStatus,
}

/// Inserts a subscriber and its subscriptions in one transaction.
///
/// # Errors
/// [`DbError::Conflict`] when the address is already a subscriber.
pub(crate) async fn insert(
    db: &Db,
    fields: &SubscriberFields,
    subscriptions: &[NewSubscription],
) -> DbResult<i64> {
    let now = Timestamp::now();
    let id = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO subscribers (uuid, email, name, attribs, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(fields.email.as_str())
        .bind(fields.name.as_str())
        .bind(Json(fields.attribs.as_map()))
        .bind(fields.status.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for sub in subscriptions {
            sqlx::query(
                "INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (subscriber_id, list_id) DO UPDATE SET status = excluded.status, \
                 updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(sub.list_id)
            .bind(sub.status.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        id
    });
    Ok(id)
}

/// Replaces a subscriber's fields; with `subscriptions`, also makes those its only lists
/// (keeping the status of subscriptions it already had).
///
/// Returns false when there is no such subscriber.
pub(crate) async fn update(
    db: &Db,
    id: i64,
    fields: &SubscriberFields,
    subscriptions: Option<&[NewSubscription]>,
) -> DbResult<bool> {
    let now = Timestamp::now();
    let found = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE subscribers SET email = $2, name = $3, attribs = $4, status = $5, updated_at = $6 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(fields.email.as_str())
        .bind(fields.name.as_str())
        .bind(Json(fields.attribs.as_map()))
        .bind(fields.status.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 1 {
            if let Some(subs) = subscriptions {
                let keep: Vec<i64> = subs.iter().map(|s| s.list_id).collect();
                let sql = if keep.is_empty() {
                    "DELETE FROM subscriber_lists WHERE subscriber_id = $1".to_owned()
                } else {
                    format!(
                        "DELETE FROM subscriber_lists WHERE subscriber_id = $1 AND list_id NOT IN ({})",
                        placeholders(2, keep.len())
                    )
                };
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
                for list_id in &keep {
                    q = q.bind(*list_id);
                }
                q.execute(&mut *tx).await?;
                for sub in subs {
                    sqlx::query(
                        "INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (subscriber_id, list_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(sub.list_id)
                    .bind(sub.status.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if fields.status == SubscriberStatus::Blocklisted {
                sqlx::query(
                    "UPDATE subscriber_lists SET status = 'unsubscribed', updated_at = $2 \
                     WHERE subscriber_id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        updated == 1
    });
    Ok(found)
}

/// Deletes subscribers (and their subscriptions); returns how many went.
pub(crate) async fn delete(db: &Db, ids: &[i64]) -> DbResult<u64> {
    let mut deleted = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "DELETE FROM subscribers WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        deleted += on_pool!(db, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(pool).await?.rows_affected()
        });
    }
    Ok(deleted)
}

/// Blocklists subscribers and unsubscribes them from every list.
pub(crate) async fn blocklist(db: &Db, ids: &[i64]) -> DbResult<u64> {
    let now = Timestamp::now();
    let mut changed = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        let marks = placeholders(2, chunk.len());
        let block = format!(
            "UPDATE subscribers SET status = 'blocklisted', updated_at = $1 WHERE id IN ({marks})"
        );
        let unsubscribe = format!(
            "UPDATE subscriber_lists SET status = 'unsubscribed', updated_at = $1 \
             WHERE subscriber_id IN ({marks})"
        );
        changed += on_pool!(db, pool => {
            let mut tx = pool.begin_write().await?;
            let mut q1 = sqlx::query(sqlx::AssertSqlSafe(block)).bind(now);
            let mut q2 = sqlx::query(sqlx::AssertSqlSafe(unsubscribe)).bind(now);
            for id in chunk {
                q1 = q1.bind(*id);
                q2 = q2.bind(*id);
            }
            let n = q1.execute(&mut *tx).await?.rows_affected();
            q2.execute(&mut *tx).await?;
            tx.commit().await?;
            n
        });
    }
    Ok(changed)
}

/// Applies `action` for every pair of subscriber and list.
pub(crate) async fn change_lists(
    db: &Db,
    subscriber_ids: &[i64],
    list_ids: &[i64],
    action: ListAction,
) -> DbResult<()> {
    let now = Timestamp::now();
    for chunk in subscriber_ids.chunks(ID_CHUNK) {
        let subs = placeholders(3, chunk.len());
        on_pool!(db, pool => {
            let mut tx = pool.begin_write().await?;
            for list_id in list_ids {
                let sql = match action {
                    ListAction::Add(_) => format!(
                        "INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
                         SELECT id, $1, $2, $3, $3 FROM subscribers WHERE id IN ({}) \
                         ON CONFLICT (subscriber_id, list_id) DO UPDATE SET status = excluded.status, \
                         updated_at = excluded.updated_at",
                        placeholders(4, chunk.len())
                    ),
                    ListAction::Remove => format!(
                        "DELETE FROM subscriber_lists WHERE list_id = $1 AND subscriber_id IN ({})",
                        placeholders(2, chunk.len())
                    ),
                    ListAction::Unsubscribe => format!(
                        "UPDATE subscriber_lists SET status = 'unsubscribed', updated_at = $2 \
                         WHERE list_id = $1 AND subscriber_id IN ({subs})"
                    ),
                };
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*list_id);
                match action {
                    ListAction::Add(status) => q = q.bind(status.as_str()).bind(now),
                    ListAction::Remove => {}
                    ListAction::Unsubscribe => q = q.bind(now),
                }
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
    }
    Ok(())
}

/// Subscribers in id order after `after_id`, at most `limit`: the export's keyset page.
pub(crate) async fn page_after(
    db: &Db,
    after_id: i64,
    limit: i64,
    list_id: Option<i64>,
) -> DbResult<Vec<Subscriber>> {
    let membership = if list_id.is_some() {
        " AND subscribers.id IN (SELECT subscriber_id FROM subscriber_lists WHERE list_id = $3)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE subscribers.id > $1{membership} \
         ORDER BY subscribers.id LIMIT $2"
    );
    let rows = on_pool!(db, pool => {
        let mut q = sqlx::query_as::<_, SubscriberRow>(sqlx::AssertSqlSafe(sql)).bind(after_id).bind(limit);
        if let Some(list_id) = list_id {
            q = q.bind(list_id);
        }
        q.fetch_all(pool).await?
    });
    rows.into_iter()
        .map(SubscriberRow::into_subscriber)
        .collect()
}
