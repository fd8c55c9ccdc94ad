//! The dashboard's counts: readers by status, and what happened each day. They are read
//! from the counts the database keeps as rows change, so they cost a few rows at any size:
//! `subscriber_counts`, `subscription_counts` and `daily_counts`, plus the changes appended
//! to their `*_changes` tables and not yet folded in ([`fold`]). On PostgreSQL every change
//! is appended (by statement-level triggers and the ledger's recorder), so writers never
//! wait on a shared count row; on SQLite, with one writer at a time, the triggers write the
//! counts directly and only the recorder appends.

use super::{BeginWrite as _, Db, DbResult, on_pool};
use crate::domain::Timestamp;

/// A count per status.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub(crate) struct StatusCount {
    pub(crate) status: String,
    pub(crate) n: i64,
}

pub(crate) async fn subscriber_statuses(db: &Db) -> DbResult<Vec<StatusCount>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, StatusCount>(
        "SELECT status, CAST(SUM(n) AS BIGINT) AS n FROM ( \
             SELECT status, n FROM subscriber_counts \
             UNION ALL SELECT status, n FROM subscriber_count_changes \
         ) c GROUP BY status HAVING SUM(n) <> 0 ORDER BY status",
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
    /// Subscriptions that came to `confirmed` that day.
    Confirmations,
    /// Subscriptions that came to `unsubscribed` that day (left, or made for a blocklisted
    /// or opted-out address).
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
        "SELECT day, CAST(SUM(n) AS BIGINT) AS n FROM ( \
             SELECT day, n FROM daily_counts WHERE series = $1 AND day >= $2 \
             UNION ALL SELECT day, n FROM daily_count_changes WHERE series = $1 AND day >= $2 \
         ) c GROUP BY day HAVING SUM(n) <> 0 ORDER BY day",
    )
    .bind(series.as_str())
    .bind(&since)
    .fetch_all(pool)
    .await?))
}

/// Folds the appended changes into the counts, on every node every few seconds. On
/// PostgreSQL each change is deleted and added in one statement, so a change appended
/// meanwhile waits for the next fold and none is counted twice; folds of several nodes take
/// turns (an advisory lock), and a deleted list's changes are dropped.
pub(crate) async fn fold(db: &Db) -> DbResult<()> {
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let ours: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(727001)")
                .fetch_one(&mut *tx)
                .await?;
            if !ours {
                return Ok(());
            }
            for sql in [
                "WITH moved AS (DELETE FROM subscriber_count_changes RETURNING status, n) \
                 INSERT INTO subscriber_counts (status, n) \
                 SELECT status, SUM(n) FROM moved GROUP BY status ORDER BY status \
                 ON CONFLICT (status) DO UPDATE SET n = subscriber_counts.n + EXCLUDED.n",
                "WITH moved AS (DELETE FROM subscription_count_changes RETURNING list_id, status, n) \
                 INSERT INTO subscription_counts (list_id, status, n) \
                 SELECT m.list_id, m.status, SUM(m.n) FROM moved m \
                 WHERE EXISTS (SELECT 1 FROM lists l WHERE l.id = m.list_id) \
                 GROUP BY m.list_id, m.status ORDER BY m.list_id, m.status \
                 ON CONFLICT (list_id, status) DO UPDATE SET n = subscription_counts.n + EXCLUDED.n",
                "WITH moved AS (DELETE FROM daily_count_changes RETURNING day, series, n) \
                 INSERT INTO daily_counts (day, series, n) \
                 SELECT day, series, SUM(n) FROM moved GROUP BY day, series ORDER BY day, series \
                 ON CONFLICT (day, series) DO UPDATE SET n = daily_counts.n + EXCLUDED.n",
            ] {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        Db::Sqlite(pool) => {
            // One writer at a time: adding, then deleting, in one write transaction.
            let mut tx = pool.begin_write().await?;
            for sql in [
                "INSERT INTO subscriber_counts (status, n) \
                 SELECT status, SUM(n) FROM subscriber_count_changes WHERE true GROUP BY status \
                 ON CONFLICT (status) DO UPDATE SET n = n + excluded.n",
                "INSERT INTO subscription_counts (list_id, status, n) \
                 SELECT c.list_id, c.status, SUM(c.n) FROM subscription_count_changes c \
                 WHERE EXISTS (SELECT 1 FROM lists l WHERE l.id = c.list_id) \
                 GROUP BY c.list_id, c.status \
                 ON CONFLICT (list_id, status) DO UPDATE SET n = n + excluded.n",
                "INSERT INTO daily_counts (day, series, n) \
                 SELECT day, series, SUM(n) FROM daily_count_changes WHERE true GROUP BY day, series \
                 ON CONFLICT (day, series) DO UPDATE SET n = n + excluded.n",
                "DELETE FROM subscriber_count_changes",
                "DELETE FROM subscription_count_changes",
                "DELETE FROM daily_count_changes",
            ] {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}
