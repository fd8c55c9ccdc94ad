//! The dashboard: how many readers there are and in what standing, what happened each day,
//! and how the running campaigns are getting on.

use super::OpsResult;
use super::access::{Caller, ListAccess};
use crate::db::dashboard::{self, Series, StatusCount};
use crate::db::{Db, lists};
use crate::domain::Timestamp;

/// The dashboard's numbers.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Overview {
    /// When they were counted.
    pub(crate) counted_at: Timestamp,
    pub(crate) subscribers: Vec<StatusCount>,
    pub(crate) subscriber_total: i64,
    pub(crate) lists: Vec<ListCounts>,
    pub(crate) queue_depth: i64,
    /// Every day of the period, oldest first, zeros included.
    pub(crate) days: Vec<Day>,
}

/// A list and its subscriptions by status.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ListCounts {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) total: i64,
    pub(crate) statuses: serde_json::Map<String, serde_json::Value>,
}

/// One day's activity.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Day {
    pub(crate) day: String,
    pub(crate) signups: i64,
    pub(crate) confirmations: i64,
    pub(crate) unsubscriptions: i64,
    pub(crate) sent: i64,
}

/// The dashboard over the last `days` days (today included).
///
/// # Errors
/// When the database fails.
pub(crate) async fn overview(db: &Db, days: u16) -> OpsResult<Overview> {
    let subscribers = dashboard::subscriber_statuses(db).await?;
    let subscriber_total = subscribers.iter().map(|s| s.n).sum();
    let (all, _) = lists::query(db, &lists::ListQuery::default()).await?;
    let lists = lists::with_counts(db, all)
        .await?
        .into_iter()
        .map(|l| ListCounts {
            id: l.list.id,
            name: l.list.name.to_string(),
            total: l.subscriber_count,
            statuses: l.statuses,
        })
        .collect();
    let queue_depth = dashboard::queue_depth(db).await?;

    let today = Timestamp::now().as_datetime().date();
    let first = today - time::Duration::days(i64::from(days.max(1)) - 1);
    let since = Timestamp::from_datetime(first.midnight().assume_utc());
    let mut period: Vec<Day> = (0..days.max(1))
        .map(|i| Day {
            day: (first + time::Duration::days(i64::from(i))).to_string(),
            ..Day::default()
        })
        .collect();
    for series in [
        Series::Signups,
        Series::Confirmations,
        Series::Unsubscriptions,
        Series::Sent,
    ] {
        for count in dashboard::daily(db, series, since).await? {
            let Some(day) = period.iter_mut().find(|d| d.day == count.day) else {
                continue;
            };
            let slot = match series {
                Series::Signups => &mut day.signups,
                Series::Confirmations => &mut day.confirmations,
                Series::Unsubscriptions => &mut day.unsubscriptions,
                Series::Sent => &mut day.sent,
            };
            *slot = count.n;
        }
    }
    Ok(Overview {
        counted_at: Timestamp::now(),
        subscribers,
        subscriber_total,
        lists,
        queue_depth,
        days: period,
    })
}

/// Folds the counts' appended changes into them every few seconds (`db::dashboard::fold`),
/// so what a read adds up stays a few rows. Every node does it; they take turns.
pub(crate) async fn fold_counts(db: Db) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(err) = dashboard::fold(&db).await {
            tracing::warn!(
                error = %crate::telemetry::chain(&err),
                "folding the kept counts failed; they are folded at the next turn"
            );
        }
    }
}

/// How long read numbers are shown before they are read again.
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// The dashboard's numbers as last read, per period. The database keeps the counts as rows
/// change (`db::dashboard`), so reading them costs a few rows at any size; what is left to
/// count is the queue's depth, a scan of the ledger's partial indexes that grows with a
/// running campaign. A room full of editors reloading the dashboard therefore shares one
/// read every few seconds: a younger one is shown as it is, an older one while a single new
/// read runs behind it. The page says when its numbers were read. Each node keeps its own.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    by_days: tokio::sync::Mutex<std::collections::HashMap<u16, (std::time::Instant, Overview)>>,
    counting: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Counts {
    /// The overview of the last `days` days, counted now or shortly before.
    ///
    /// # Errors
    /// When counting fails and no earlier count exists.
    /// A caller limited to some lists sees only those lists' counts; the totals of readers
    /// and of each day's activity are numbers, not readers, and stay whole.
    pub(crate) async fn overview(
        self: &std::sync::Arc<Self>,
        db: &Db,
        by: &Caller,
        days: u16,
    ) -> OpsResult<Overview> {
        let mut overview = self.counted(db, days).await?;
        overview
            .lists
            .retain(|l| by.lists.allows(l.id, ListAccess::Get));
        Ok(overview)
    }

    async fn counted(self: &std::sync::Arc<Self>, db: &Db, days: u16) -> OpsResult<Overview> {
        let kept = self.by_days.lock().await.get(&days).cloned();
        match kept {
            Some((at, overview)) if at.elapsed() < FRESH_FOR => Ok(overview),
            Some((_, stale)) => {
                // One count at a time; a request that finds one running keeps the old one.
                if let Ok(guard) = self.counting.clone().try_lock_owned() {
                    let (counts, db) = (self.clone(), db.clone());
                    tokio::spawn(async move {
                        let _guard = guard;
                        match overview(&db, days).await {
                            Ok(fresh) => {
                                counts
                                    .by_days
                                    .lock()
                                    .await
                                    .insert(days, (std::time::Instant::now(), fresh));
                            }
                            Err(err) => tracing::warn!(
                                error = %crate::telemetry::chain(&err),
                                "counting the dashboard failed; the last count stays"
                            ),
                        }
                    });
                }
                Ok(stale)
            }
            None => {
                let _guard = self.counting.lock().await;
                let fresh = overview(db, days).await?;
                self.by_days
                    .lock()
                    .await
                    .insert(days, (std::time::Instant::now(), fresh.clone()));
                Ok(fresh)
            }
        }
    }
}

/// A running campaign's progress.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Progress {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) to_send: i64,
    pub(crate) sent: i64,
    pub(crate) failed: i64,
    /// Messages a minute since the start.
    pub(crate) per_minute: i64,
    pub(crate) percent: i64,
    /// Minutes until the end at the rate so far, once there is a rate.
    pub(crate) minutes_left: Option<i64>,
}

/// The running campaigns and how far each has got.
///
/// # Errors
/// When the database fails.
pub(crate) async fn running(db: &Db, by: &Caller) -> OpsResult<Vec<Progress>> {
    let now = Timestamp::now().unix();
    Ok(super::campaigns::running(db, by)
        .await?
        .into_iter()
        .map(|c| {
            let done = c.sent + c.failed + c.bounced + c.skipped;
            let elapsed = c.started_at.map_or(0, |s| (now - s.unix()).max(1));
            let per_second = if elapsed > 0 {
                done as f64 / elapsed as f64
            } else {
                0.0
            };
            let left = (c.to_send - done).max(0);
            Progress {
                id: c.id,
                name: c.name,
                to_send: c.to_send,
                sent: c.sent,
                failed: c.failed + c.bounced,
                per_minute: (per_second * 60.0).round() as i64,
                percent: if c.to_send > 0 {
                    (done * 100 / c.to_send).min(100)
                } else {
                    0
                },
                minutes_left: (per_second > 0.0)
                    .then(|| (left as f64 / per_second / 60.0).ceil() as i64),
            }
        })
        .collect())
}
