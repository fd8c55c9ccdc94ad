//! The dashboard's counts: readers by status, and what happened each day.

use super::{Backend, Db, DbResult, on_pool};
use crate::domain::Timestamp;

/// A count per status.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct StatusCount {
    pub(crate) status: String,
    pub(crate) n: i64,
}

pub(crate) async fn subscriber_statuses(db: &Db) -> DbResult<Vec<StatusCount>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, StatusCount>(
        "SELECT status, COUNT(*) AS n FROM subscribers GROUP BY status ORDER BY status",
    )
    .fetch_all(pool)
    .await?))
}

/// Ledger rows waiting to be sent or being sent now.
pub(crate) async fn queue_depth(db: &Db) -> DbResult<i64> {
    Ok(on_pool!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM deliveries WHERE status IN ('queued', 'sending')",
    )
    .fetch_one(pool)
    .await?))
}

/// What a day's bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Series {
    /// New readers.
    Signups,
    /// Subscriptions confirmed (by the day of their last change).
    Confirmations,
    /// Subscriptions left (by the day of their last change).
    Unsubscriptions,
    /// Messages the relay accepted.
    Sent,
}

/// One day (`YYYY-MM-DD`, UTC) and its count.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct DayCount {
    pub(crate) day: String,
    pub(crate) n: i64,
}

/// Counts per day since `since`, days without any left out.
pub(crate) async fn daily(db: &Db, series: Series, since: Timestamp) -> DbResult<Vec<DayCount>> {
    let (table, column, condition) = match series {
        Series::Signups => ("subscribers", "created_at", "1 = 1"),
        Series::Confirmations => ("subscriber_lists", "updated_at", "status = 'confirmed'"),
        Series::Unsubscriptions => ("subscriber_lists", "updated_at", "status = 'unsubscribed'"),
        Series::Sent => ("deliveries", "updated_at", "status = 'sent'"),
    };
    // The day of a timestamp: SQLite stores fixed-width UTC text, PostgreSQL TIMESTAMPTZ.
    let day = match db.backend() {
        Backend::Sqlite => format!("substr({column}, 1, 10)"),
        Backend::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
    };
    let sql = format!(
        "SELECT {day} AS day, COUNT(*) AS n FROM {table} \
         WHERE {condition} AND {column} >= $1 GROUP BY 1 ORDER BY 1"
    );
    Ok(
        on_pool!(db, pool => sqlx::query_as::<_, DayCount>(sqlx::AssertSqlSafe(sql))
        .bind(since)
        .fetch_all(pool)
        .await?),
    )
}
