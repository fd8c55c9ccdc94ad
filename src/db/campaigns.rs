//! Campaigns, their target lists, and starting one (writing its part of the ledger).

use serde_json::Value;
use sqlx::types::Json;

use super::{BeginWrite as _, Db, DbError, DbResult, on_pool, placeholders};
use crate::domain::{CampaignStatus, CampaignType, ContentType, Messenger, Timestamp};

/// The columns of a row, as a literal so static queries can be built with `concat!`.
macro_rules! campaign_columns {
    () => {
        "id, uuid, name, subject, from_email, body, altbody, content_type, type, \
     status, tags, template_id, headers, attribs, messenger, send_at, started_at, finished_at, \
     to_send, sent, failed, bounced, skipped, status_reason, created_at, updated_at"
    };
}
const COLUMNS: &str = campaign_columns!();

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Campaign {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub name: String,
    pub subject: String,
    pub from_email: String,
    pub body: String,
    pub altbody: Option<String>,
    #[sqlx(try_from = "String")]
    pub content_type: ContentType,
    #[sqlx(rename = "type", try_from = "String")]
    pub campaign_type: CampaignType,
    #[sqlx(try_from = "String")]
    pub status: CampaignStatus,
    pub tags: Json<Vec<String>>,
    pub template_id: Option<i64>,
    pub headers: Json<Value>,
    pub attribs: Json<Value>,
    #[sqlx(try_from = "String")]
    pub messenger: Messenger,
    pub send_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub to_send: i64,
    pub sent: i64,
    pub failed: i64,
    pub bounced: i64,
    pub skipped: i64,
    /// Why bulten moved the campaign to its status, when it did (see [`pause_for`]).
    pub status_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A target list; `id` is `None` once the list is deleted.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CampaignList {
    pub campaign_id: i64,
    #[sqlx(rename = "list_id")]
    pub id: Option<i64>,
    #[sqlx(rename = "list_name")]
    pub name: String,
}

/// What an editor sets on a campaign.
#[derive(Debug, Clone)]
pub(crate) struct CampaignFields {
    pub name: String,
    pub subject: String,
    pub from_email: String,
    pub body: String,
    pub altbody: Option<String>,
    pub content_type: ContentType,
    pub campaign_type: CampaignType,
    pub tags: Vec<String>,
    pub template_id: Option<i64>,
    pub headers: Value,
    pub attribs: Value,
    pub messenger: Messenger,
    pub send_at: Option<Timestamp>,
    /// Target lists: ID and name (the name is kept for when the list is gone).
    pub lists: Vec<(i64, String)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct CampaignQuery {
    /// Case-insensitive substring of the name or subject.
    pub text: Option<String>,
    pub statuses: Vec<CampaignStatus>,
    /// Only campaigns to one of these lists (those a caller limited to some lists may see);
    /// `None`: every campaign.
    pub list_ids: Option<Vec<i64>>,
    pub limit: Option<i64>,
    pub offset: i64,
}

pub(crate) async fn query(db: &Db, query: &CampaignQuery) -> DbResult<(Vec<Campaign>, i64)> {
    let mut conditions = vec!["1 = 1".to_owned()];
    let mut texts: Vec<String> = Vec::new();
    if let Some(text) = &query.text {
        texts.push(format!("%{}%", text.to_lowercase()));
        let n = texts.len();
        conditions.push(format!(
            "(lower(name) LIKE ${n} OR lower(subject) LIKE ${n})"
        ));
    }
    if !query.statuses.is_empty() {
        let first = texts.len() + 1;
        texts.extend(query.statuses.iter().map(|s| s.as_str().to_owned()));
        conditions.push(format!(
            "status IN ({})",
            placeholders(first, query.statuses.len())
        ));
    }
    if let Some(ids) = &query.list_ids {
        // IDs are numbers: written into the SQL, they need no placeholders of their own.
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        conditions.push(if ids.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!(
                "id IN (SELECT campaign_id FROM campaign_lists WHERE list_id IN ({}))",
                ids.join(", ")
            )
        });
    }
    let where_sql = conditions.join(" AND ");
    let count_sql = format!("SELECT COUNT(*) FROM campaigns WHERE {where_sql}");
    let select_sql = format!(
        "SELECT {COLUMNS} FROM campaigns WHERE {where_sql} ORDER BY created_at DESC, id DESC \
         LIMIT ${} OFFSET ${}",
        texts.len() + 1,
        texts.len() + 2
    );
    on_pool!(db, pool => {
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
        let mut select = sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(select_sql));
        for text in &texts {
            count = count.bind(text.clone());
            select = select.bind(text.clone());
        }
        let total = count.fetch_one(pool).await?;
        let rows = select
            .bind(query.limit.unwrap_or(i64::MAX))
            .bind(query.offset)
            .fetch_all(pool)
            .await?;
        Ok((rows, total))
    })
}

pub(crate) async fn get(db: &Db, id: i64) -> DbResult<Option<Campaign>> {
    let sql: &str = concat!(
        "SELECT ",
        campaign_columns!(),
        " FROM campaigns WHERE id = $1"
    );
    on_pool!(db, pool => sqlx::query_as::<_, Campaign>(sql)
        .bind(id).fetch_optional(pool).await.map_err(DbError::from))
}

/// The target lists of these campaigns.
pub(crate) async fn lists_of(db: &Db, campaign_ids: &[i64]) -> DbResult<Vec<CampaignList>> {
    if campaign_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT campaign_id, list_id, list_name FROM campaign_lists WHERE campaign_id IN ({}) \
         ORDER BY campaign_id, list_id",
        placeholders(1, campaign_ids.len())
    );
    on_pool!(db, pool => {
        let mut q = sqlx::query_as::<_, CampaignList>(sqlx::AssertSqlSafe(sql));
        for id in campaign_ids {
            q = q.bind(*id);
        }
        q.fetch_all(pool).await.map_err(DbError::from)
    })
}

/// Binds an editor's fields, `$1` to `$13` in the order of `FIELD_COLUMNS`.
macro_rules! bind_fields {
    ($query:expr, $fields:expr) => {
        $query
            .bind(&$fields.name)
            .bind(&$fields.subject)
            .bind(&$fields.from_email)
            .bind(&$fields.body)
            .bind(&$fields.altbody)
            .bind($fields.content_type.as_str())
            .bind($fields.campaign_type.as_str())
            .bind(Json(&$fields.tags))
            .bind($fields.template_id)
            .bind(Json(&$fields.headers))
            .bind(Json(&$fields.attribs))
            .bind($fields.messenger.as_str())
            .bind($fields.send_at)
    };
}

/// The columns `bind_fields!` fills, in its order.
const FIELD_COLUMNS: [&str; 13] = [
    "name",
    "subject",
    "from_email",
    "body",
    "altbody",
    "content_type",
    "type",
    "tags",
    "template_id",
    "headers",
    "attribs",
    "messenger",
    "send_at",
];

/// Writes the campaign's target lists (after removing the old ones).
macro_rules! replace_lists {
    ($tx:expr, $id:expr, $lists:expr) => {{
        sqlx::query("DELETE FROM campaign_lists WHERE campaign_id = $1")
            .bind($id)
            .execute(&mut *$tx)
            .await?;
        for (list_id, name) in $lists {
            sqlx::query(
                "INSERT INTO campaign_lists (campaign_id, list_id, list_name) VALUES ($1, $2, $3)",
            )
            .bind($id)
            .bind(*list_id)
            .bind(name)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

pub(crate) async fn insert(db: &Db, fields: &CampaignFields) -> DbResult<Campaign> {
    let sql = format!(
        "INSERT INTO campaigns ({}, uuid, status, created_at, updated_at) \
         VALUES ({}, $14, 'draft', $15, $15) RETURNING {COLUMNS}",
        FIELD_COLUMNS.join(", "),
        placeholders(1, FIELD_COLUMNS.len())
    );
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let query = sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql));
        let campaign = bind_fields!(query, fields)
            .bind(uuid::Uuid::now_v7())
            .bind(Timestamp::now())
            .fetch_one(&mut *tx)
            .await?;
        replace_lists!(tx, campaign.id, &fields.lists);
        tx.commit().await?;
        Ok(campaign)
    })
}

/// Replaces an editable campaign's content. `None` when it does not exist or is no longer
/// editable (the caller tells which).
pub(crate) async fn update(
    db: &Db,
    id: i64,
    fields: &CampaignFields,
) -> DbResult<Option<Campaign>> {
    let assignments: Vec<String> = FIELD_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = ${}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE campaigns SET {}, updated_at = $14 \
         WHERE id = $15 AND status IN ('draft', 'scheduled', 'paused') RETURNING {COLUMNS}",
        assignments.join(", ")
    );
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let query = sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql));
        let campaign = bind_fields!(query, fields)
            .bind(Timestamp::now())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(campaign) = campaign else {
            return Ok(None);
        };
        // A started campaign keeps the audience it started with.
        if campaign.started_at.is_none() {
            replace_lists!(tx, id, &fields.lists);
        }
        tx.commit().await?;
        Ok(Some(campaign))
    })
}

pub(crate) async fn delete(db: &Db, id: i64) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query("DELETE FROM campaigns WHERE id = $1")
        .bind(id).execute(pool).await?.rows_affected());
    Ok(n > 0)
}

/// Moves a campaign from `from` to `to`; false when it was no longer in `from` (another
/// request or node got there first).
pub(crate) async fn set_status(
    db: &Db,
    id: i64,
    from: CampaignStatus,
    to: CampaignStatus,
) -> DbResult<bool> {
    let now = Timestamp::now();
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE campaigns SET status = $1, updated_at = $2, status_reason = NULL, \
         finished_at = CASE WHEN $1 IN ('finished', 'cancelled') THEN $2 ELSE finished_at END \
         WHERE id = $3 AND status = $4",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(id)
    .bind(from.as_str())
    .execute(pool)
    .await?
    .rows_affected());
    Ok(n > 0)
}

/// Pauses a running campaign that cannot go on without a person, keeping `reason` on it for
/// the editor, if it is still the version `seen` (its `updated_at`); false when it was no
/// longer running or has changed since.
pub(crate) async fn pause_for(db: &Db, id: i64, reason: &str, seen: Timestamp) -> DbResult<bool> {
    let n = on_pool!(db, pool => sqlx::query(
        "UPDATE campaigns SET status = 'paused', status_reason = $1, updated_at = $2 \
         WHERE id = $3 AND status = 'running' AND updated_at = $4",
    )
    .bind(reason)
    .bind(Timestamp::now())
    .bind(id)
    .bind(seen)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(n > 0)
}

/// Starts a draft or scheduled campaign: in one transaction, marks it running and writes one
/// ledger row per eligible recipient in one statement. A subscriber in several target lists
/// gets one row; double opt-in lists give only confirmed subscribers, single opt-in lists all
/// but the unsubscribed; blocklisted and disabled subscribers none. Returns the number of
/// recipients, or `None` when the campaign was not startable (already started elsewhere).
pub(crate) async fn start(db: &Db, id: i64, from: CampaignStatus) -> DbResult<Option<i64>> {
    let now = Timestamp::now();
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let kind = sqlx::query_scalar::<_, String>(
            "UPDATE campaigns SET status = 'running', started_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = $3 AND started_at IS NULL RETURNING type",
        )
        .bind(now)
        .bind(id)
        .bind(from.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(kind) = kind else {
            return Ok(None);
        };
        let rule = super::deliveries::eligible(kind == CampaignType::Optin.as_str());
        let insert = format!(
            "INSERT INTO deliveries (campaign_id, subscriber_id, status, attempts, created_at) \
             SELECT $1, sl.subscriber_id, 'queued', 0, $2 \
             FROM subscriber_lists sl \
             JOIN lists l ON l.id = sl.list_id \
             JOIN subscribers s ON s.id = sl.subscriber_id \
             WHERE sl.list_id IN (SELECT list_id FROM campaign_lists WHERE campaign_id = $1) \
               AND s.status = 'enabled' AND {rule} \
             GROUP BY sl.subscriber_id \
             ORDER BY sl.subscriber_id"
        );
        let to_send = sqlx::query(sqlx::AssertSqlSafe(insert))
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let to_send = i64::try_from(to_send).unwrap_or(i64::MAX);
        sqlx::query("UPDATE campaigns SET to_send = $1 WHERE id = $2")
            .bind(to_send)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(to_send))
    })
}

/// Scheduled campaigns whose time has come.
pub(crate) async fn due(db: &Db, now: Timestamp) -> DbResult<Vec<i64>> {
    on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT id FROM campaigns WHERE status = 'scheduled' AND send_at <= $1 ORDER BY send_at",
    )
    .bind(now)
    .fetch_all(pool)
    .await
    .map_err(DbError::from))
}

/// IDs of running campaigns, oldest start first.
pub(crate) async fn running(db: &Db) -> DbResult<Vec<i64>> {
    on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT id FROM campaigns WHERE status = 'running' ORDER BY started_at, id",
    )
    .fetch_all(pool)
    .await
    .map_err(DbError::from))
}

/// Marks running campaigns with nothing left to send as finished; returns their IDs.
pub(crate) async fn finish_completed(db: &Db) -> DbResult<Vec<i64>> {
    let now = Timestamp::now();
    on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "UPDATE campaigns SET status = 'finished', finished_at = $1, updated_at = $1 \
         WHERE status = 'running' \
           AND NOT EXISTS (SELECT 1 FROM deliveries d \
                           WHERE d.campaign_id = campaigns.id AND d.status = 'queued') \
           AND NOT EXISTS (SELECT 1 FROM deliveries d \
                           WHERE d.campaign_id = campaigns.id AND d.status = 'sending') \
         RETURNING id",
    )
    .bind(now)
    .fetch_all(pool)
    .await
    .map_err(DbError::from))
}
