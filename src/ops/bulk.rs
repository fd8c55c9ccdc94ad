//! Bulk actions on every reader a query matches: listmonk's `/api/subscribers/query/…`
//! and the desk's readers page. They take the same checks as the actions on readers by
//! ID (`ops::subscribers`), on the readers the caller may see.

use serde_json::json;

use super::access::{Caller, ListAccess};
use super::audit::{self, Change};
use super::lists::require_all;
use super::subscribers::{Touches, require_readers, scoped};
use super::{OpsError, OpsResult};
use crate::db::Db;
use crate::db::subscribers;
use crate::domain::{ListAction, SubscriberQuery};

/// A bulk action on every reader a query matches (listmonk's `/api/subscribers/query/…`
/// and the desk's readers page): the query, and its words for the audit log.
#[derive(Debug, Clone)]
pub(crate) struct Matching<'a> {
    pub query: &'a SubscriberQuery,
    /// The filter as the caller wrote it.
    pub described: &'a str,
}

/// What a bulk action does to the readers it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BulkAction {
    Delete,
    Blocklist,
    Lists(ListAction),
}

/// How many readers a bulk action would take: what the desk asks the user to confirm.
///
/// # Errors
/// When the query does not compile or the database fails.
pub(crate) async fn count_matching(
    db: &Db,
    by: &Caller,
    query: &SubscriberQuery,
) -> OpsResult<i64> {
    Ok(subscribers::count(db, &scoped(by, query)?).await?)
}

/// Acts on every reader `matching` finds among those the caller may see, with the checks
/// the same action on their IDs has; returns how many it took. One audit entry names the
/// query and the count, not every ID.
///
/// With `expected`, the action runs only on exactly that many readers.
///
/// # Errors
/// `Invalid` for no target list; `ForbiddenList` as for the action on one reader;
/// `Conflict` when the readers found are not as many as `expected`.
pub(crate) async fn act_on_matching(
    db: &Db,
    by: &Caller,
    matching: Matching<'_>,
    action: BulkAction,
    list_ids: &[i64],
    expected: Option<u64>,
) -> OpsResult<u64> {
    if let BulkAction::Lists(_) = action {
        if list_ids.is_empty() {
            return Err(OpsError::Invalid("no target list IDs given".into()));
        }
        by.require_lists(list_ids, ListAccess::Manage)?;
        require_all(db, list_ids).await?;
    }
    let ids = subscribers::ids_matching(db, &scoped(by, matching.query)?).await?;
    // The number the user confirmed must be the number acted on.
    if expected.is_some_and(|n| n != ids.len() as u64) {
        return Err(OpsError::Conflict(format!(
            "{} readers match now, not the number confirmed",
            ids.len()
        )));
    }
    let touches = match action {
        BulkAction::Lists(_) => Touches::Shared,
        BulkAction::Delete | BulkAction::Blocklist => Touches::Everything,
    };
    require_readers(db, by, &ids, touches).await?;
    let (name, taken) = match action {
        BulkAction::Delete => ("subscriber.delete", subscribers::delete(db, &ids).await?),
        BulkAction::Blocklist => (
            "subscriber.blocklist",
            subscribers::blocklist(db, &ids).await?,
        ),
        BulkAction::Lists(list_action) => {
            subscribers::change_lists(db, &ids, list_ids, list_action).await?;
            ("subscriber.lists", ids.len() as u64)
        }
    };
    let change = Change::new(name, "subscriber", None).after(&json!({
        "query": matching.described,
        "readers": taken,
        "lists": list_ids,
        "action": format!("{action:?}").to_lowercase(),
    }));
    audit::record(db, by, change).await;
    Ok(taken)
}
