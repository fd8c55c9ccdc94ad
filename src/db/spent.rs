//! Single-use keys: spent proofs of work and spent confirmation links, each kept until it
//! would have expired anyway.

use super::{Db, DbResult, on_pool};
use crate::domain::Timestamp;

/// Records a key (a challenge's signature, a link's nonce) as spent until `expires_at`;
/// false when it already was.
pub(crate) async fn spend(db: &Db, key: &str, expires_at: Timestamp) -> DbResult<bool> {
    on_pool!(db, pool => {
        let n = sqlx::query(
            "INSERT INTO spent_tokens (signature, expires_at) VALUES ($1, $2) \
             ON CONFLICT (signature) DO NOTHING",
        )
        .bind(key)
        .bind(expires_at)
        .execute(pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    })
}

/// Whether `key` was spent and has not expired yet.
pub(crate) async fn is_spent(db: &Db, key: &str) -> DbResult<bool> {
    let found: i64 = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM spent_tokens WHERE signature = $1 AND expires_at >= $2",
    )
    .bind(key)
    .bind(Timestamp::now())
    .fetch_one(pool)
    .await?);
    Ok(found > 0)
}

/// Drops keys past their expiry: what they unlocked is refused as expired anyway.
pub async fn forget_expired(db: &Db, now: Timestamp) -> DbResult<u64> {
    Ok(
        on_pool!(db, pool => sqlx::query("DELETE FROM spent_tokens WHERE expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()),
    )
}
