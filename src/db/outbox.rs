//! Messages the outbox transport kept instead of sending.

use super::{Db, DbError, DbResult, on_pool};
use crate::domain::Timestamp;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct OutboxSummary {
    pub id: i64,
    pub delivery_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub mail_from: String,
    pub rcpt: String,
    pub subject: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct OutboxMessage {
    #[sqlx(flatten)]
    pub summary: OutboxSummary,
    pub message: Vec<u8>,
}

/// One message to keep.
#[derive(Debug, Clone)]
pub(crate) struct NewOutboxMessage<'a> {
    pub delivery_id: i64,
    pub campaign_id: Option<i64>,
    pub mail_from: &'a str,
    pub rcpt: &'a str,
    pub subject: &'a str,
    pub message: &'a [u8],
}

pub(crate) async fn insert(db: &Db, m: &NewOutboxMessage<'_>) -> DbResult<()> {
    on_pool!(db, pool => sqlx::query(
        "INSERT INTO outbox (delivery_id, campaign_id, mail_from, rcpt, subject, message, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(m.delivery_id)
    .bind(m.campaign_id)
    .bind(m.mail_from)
    .bind(m.rcpt)
    .bind(m.subject)
    .bind(m.message)
    .bind(Timestamp::now())
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Newest first, optionally only messages to `rcpt`.
pub(crate) async fn page(
    db: &Db,
    rcpt: Option<&str>,
    limit: Option<i64>,
    offset: i64,
) -> DbResult<(Vec<OutboxSummary>, i64)> {
    on_pool!(db, pool => {
        let total = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM outbox WHERE ($1 IS NULL OR rcpt = $1)",
        )
        .bind(rcpt)
        .fetch_one(pool)
        .await?;
        let rows = sqlx::query_as::<_, OutboxSummary>(
            "SELECT id, delivery_id, campaign_id, mail_from, rcpt, subject, created_at FROM outbox \
             WHERE ($1 IS NULL OR rcpt = $1) ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(rcpt)
        .bind(limit.unwrap_or(i64::MAX))
        .bind(offset)
        .fetch_all(pool)
        .await?;
        Ok((rows, total))
    })
}

pub(crate) async fn get(db: &Db, id: i64) -> DbResult<Option<OutboxMessage>> {
    on_pool!(db, pool => sqlx::query_as::<_, OutboxMessage>(
        "SELECT id, delivery_id, campaign_id, mail_from, rcpt, subject, created_at, message \
         FROM outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(DbError::from))
}
