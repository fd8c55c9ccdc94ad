//! The outbox: where messages land when no relay is configured, for an editor to read.

use crate::db::Db;
use crate::db::outbox;
pub(crate) use crate::db::outbox::{OutboxMessage, OutboxSummary};
use crate::ops::access::{Caller, Permission};
use crate::ops::{OpsError, OpsResult};

/// A page of stored messages, newest first, optionally to one recipient; and how many.
/// The outbox holds every reader's mail, so a caller limited to some lists has none of it.
///
/// # Errors
/// `ForbiddenAllLists` for a caller limited to some lists.
pub(crate) async fn search(
    db: &Db,
    by: &Caller,
    rcpt: Option<&str>,
    limit: Option<i64>,
    offset: i64,
) -> OpsResult<(Vec<OutboxSummary>, i64)> {
    by.require_every_list(Permission::OutboxGet)?;
    Ok(outbox::page(db, rcpt, limit, offset).await?)
}

/// One stored message, with its bytes.
///
/// # Errors
/// `NotFound`; `ForbiddenAllLists` for a caller limited to some lists.
pub(crate) async fn get(db: &Db, by: &Caller, id: i64) -> OpsResult<OutboxMessage> {
    by.require_every_list(Permission::MessagesRead)?;
    outbox::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("message"))
}
