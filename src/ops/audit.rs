//! The audit log: every change a person makes on the desk or a program makes through the
//! API, with who, when, from where, what, on which object, and the state before and after
//! where it matters. The use cases in `ops` record their own changes here after they
//! succeed, so the desk, the API and the CLI leave the same trail.

use serde::Serialize;
use serde_json::Value;

use super::OpsResult;
use super::access::Caller;
use crate::db::{Db, audit};
use crate::domain::Timestamp;

pub(crate) use crate::db::audit::{AuditQuery, Entry};

/// A change to record: an action (`list.update`), its object, and its state around it.
#[derive(Debug)]
pub(crate) struct Change {
    action: &'static str,
    object_kind: &'static str,
    object_id: Option<i64>,
    before: Option<Value>,
    after: Option<Value>,
}

impl Change {
    pub(crate) fn new(
        action: &'static str,
        object_kind: &'static str,
        object_id: Option<i64>,
    ) -> Self {
        Self {
            action,
            object_kind,
            object_id,
            before: None,
            after: None,
        }
    }

    pub(crate) fn before(mut self, state: &impl Serialize) -> Self {
        self.before = serde_json::to_value(state).ok();
        self
    }

    pub(crate) fn after(mut self, state: &impl Serialize) -> Self {
        self.after = serde_json::to_value(state).ok();
        self
    }
}

/// Records `change` by `by`. The change has happened already: a failure to record it is
/// logged with everything it would have said, and the use case still succeeds.
pub(crate) async fn record(db: &Db, by: &Caller, change: Change) {
    let entry = audit::NewEntry {
        actor_kind: by.kind.as_str(),
        actor_id: (by.id != 0).then_some(by.id),
        actor_name: &by.name,
        ip: by.ip.as_deref(),
        action: change.action,
        object_kind: change.object_kind,
        object_id: change.object_id,
        before: change.before.as_ref(),
        after: change.after.as_ref(),
    };
    if let Err(err) = audit::insert(db, &entry, Timestamp::now()).await {
        tracing::error!(
            error = %crate::telemetry::chain(&err),
            actor = by.name,
            action = change.action,
            object_kind = change.object_kind,
            object_id = change.object_id,
            "a change could not be written to the audit log"
        );
    }
}

/// Entries matching `query`, newest first, and how many match in all.
///
/// # Errors
/// When the database fails.
pub(crate) async fn search(db: &Db, query: &AuditQuery) -> OpsResult<(Vec<Entry>, i64)> {
    Ok(audit::search(db, query).await?)
}

/// A day (`2026-11-30`) or a moment (RFC 3339) as a filter's bound; a day means its start
/// in UTC, and as an upper bound the start of the next day, so `to=2026-11-30` includes
/// that day.
///
/// # Errors
/// `Invalid` for anything else.
pub(crate) fn bound(text: &str, upper: bool) -> OpsResult<Timestamp> {
    let text = text.trim();
    if let Ok(at) = Timestamp::parse(text) {
        return Ok(at);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(text, format).map_err(|_| {
        super::OpsError::Invalid(format!(
            "'{text}' is no date: use 2026-11-30 or 2026-11-30T07:00:00Z"
        ))
    })?;
    let day = if upper {
        day.next_day().unwrap_or(day)
    } else {
        day
    };
    Ok(Timestamp::from_datetime(day.midnight().assume_utc()))
}
