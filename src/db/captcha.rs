//! Spent proofs of work.

use super::{Db, DbResult, db_err, on_pool};
use crate::domain::Timestamp;

/// Records a challenge's signature as spent; false when it already was. Spent signatures
/// past their expiry are dropped on the way: an expired challenge is refused anyway.
pub async fn spend(db: &Db, signature: &str, expires_at: Timestamp) -> DbResult<bool> {
    let now = Timestamp::now();
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM captcha_uses WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await
            .map_err(db_err)?;
        let n = sqlx::query(
            "INSERT INTO captcha_uses (signature, expires_at) VALUES ($1, $2) \
             ON CONFLICT (signature) DO NOTHING",
        )
        .bind(signature)
        .bind(expires_at)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(n == 1)
    })
}
