//! The publisher's settings changed on the desk, one row per setting. Every node reads all
//! of them every few seconds, so there are never more than a few dozen rows.

use std::collections::BTreeMap;

use super::{BeginWrite as _, Db, DbResult, on_pool};
use crate::domain::Timestamp;

/// Every stored setting, by name.
pub(crate) async fn all(db: &Db) -> DbResult<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT name, value FROM publisher_settings")
            .fetch_all(pool)
            .await?
    });
    Ok(rows.into_iter().collect())
}

/// Stores each `Some` value and removes each `None` (back to the file's value or the
/// default), all or none.
pub(crate) async fn save(db: &Db, changes: &[(&str, Option<&str>)]) -> DbResult<()> {
    let now = Timestamp::now();
    on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        for (name, value) in changes {
            match value {
                Some(value) => {
                    sqlx::query(
                        "INSERT INTO publisher_settings (name, value, updated_at) \
                         VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE SET value = $2, updated_at = $3",
                    )
                    .bind(*name)
                    .bind(*value)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM publisher_settings WHERE name = $1")
                        .bind(*name)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
    });
    Ok(())
}
