//! Whether this node can serve: its database answers.

use crate::db::Db;
use crate::ops::OpsResult;

/// Asks the database for a trivial answer.
///
/// # Errors
/// When the database does not answer.
pub(crate) async fn check(db: &Db) -> OpsResult<()> {
    Ok(db.ping().await?)
}
