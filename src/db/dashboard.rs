//! The dashboard's counts: readers by status, and what happened each day. They are read
//! from the counts the database keeps as rows change (`subscriber_counts`, `daily_counts`,
//! kept by triggers and the ledger's recorder), so they cost a few rows at any size.

use super::{Db, DbResult, on_pool};
use crate::domain::Timestamp;

/// A count per status.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct StatusCount {
    pub(crate) status: String,
    pub(crate) n: i64,
}

pub(crate) async fn subscriber_statuses(db: &Db) -> DbResult<Vec<StatusCount>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, StatusCount>(
        "SELECT status, n FROM subscriber_counts WHERE n <> 0 ORDER BY status",
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

impl Series {
    /// Its name in `daily_counts`.
    fn as_str(self) -> &'static str {
        match self {
            Series::Signups => "signups",
            Series::Confirmations => "confirmations",
            Series::Unsubscriptions => "unsubscriptions",
            Series::Sent => "sent",
        }
    }
}

/// Counts per day since `since`, days without any left out.
pub(crate) async fn daily(db: &Db, series: Series, since: Timestamp) -> DbResult<Vec<DayCount>> {
    let since = since.as_datetime().date().to_string();
    Ok(on_pool!(db, pool => sqlx::query_as::<_, DayCount>(
        "SELECT day, n FROM daily_counts WHERE series = $1 AND day >= $2 AND n <> 0 ORDER BY day",
    )
    .bind(series.as_str())
    .bind(&since)
    .fetch_all(pool)
    .await?))
}
