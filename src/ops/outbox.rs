//! The outbox: where messages land when no relay is configured, for an editor to read.

use crate::db::Db;
use crate::db::outbox;
pub(crate) use crate::db::outbox::{OutboxMessage, OutboxSummary};
use crate::ops::{OpsError, OpsResult};

/// A page of stored messages, newest first, optionally to one recipient; and how many.
pub(crate) async fn search(
    db: &Db,
    rcpt: Option<&str>,
    limit: Option<i64>,
    offset: i64,
) -> OpsResult<(Vec<OutboxSummary>, i64)> {
    Ok(outbox::page(db, rcpt, limit, offset).await?)
}

/// One stored message, with its bytes.
pub(crate) async fn get(db: &Db, id: i64) -> OpsResult<OutboxMessage> {
    outbox::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("message"))
}
