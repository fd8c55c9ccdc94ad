//! Creating, changing and finding lists.

use super::{OpsError, OpsResult};
use crate::db::Db;
use crate::db::lists;
pub use crate::db::lists::{ListFields, ListOrder, ListQuery, ListWithCounts};
use crate::domain::List;

pub async fn search(db: &Db, query: &ListQuery) -> OpsResult<(Vec<ListWithCounts>, i64)> {
    let (found, total) = lists::query(db, query).await?;
    Ok((lists::with_counts(db, found).await?, total))
}

pub async fn get(db: &Db, id: i64) -> OpsResult<ListWithCounts> {
    let list = lists::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("list"))?;
    Ok(lists::with_counts(db, vec![list]).await?.remove(0))
}

pub async fn create(db: &Db, fields: &ListFields) -> OpsResult<ListWithCounts> {
    let list = lists::insert(db, fields).await?;
    Ok(lists::with_counts(db, vec![list]).await?.remove(0))
}

pub async fn update(db: &Db, id: i64, fields: &ListFields) -> OpsResult<ListWithCounts> {
    let list = lists::update(db, id, fields)
        .await?
        .ok_or(OpsError::NotFound("list"))?;
    Ok(lists::with_counts(db, vec![list]).await?.remove(0))
}

pub async fn delete(db: &Db, id: i64) -> OpsResult<()> {
    match lists::delete(db, &[id]).await? {
        0 => Err(OpsError::NotFound("list")),
        _ => Ok(()),
    }
}

/// The lists with these IDs, or an error naming the IDs that match no list.
pub async fn require_all(db: &Db, ids: &[i64]) -> OpsResult<Vec<List>> {
    let mut wanted: Vec<i64> = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let found = lists::get_many(db, &wanted).await?;
    let missing: Vec<String> = wanted
        .iter()
        .filter(|id| !found.iter().any(|l| l.id == **id))
        .map(i64::to_string)
        .collect();
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(OpsError::Invalid(format!(
            "unknown list ID(s): {}",
            missing.join(", ")
        )))
    }
}
