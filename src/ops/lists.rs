//! Creating, changing and finding lists.

use super::access::{Caller, ListAccess};
use super::audit::{self, Change};
use super::{OpsError, OpsResult};
use crate::db::Db;
use crate::db::lists;
pub(crate) use crate::db::lists::{ListFields, ListOrder, ListQuery, ListWithCounts};
use crate::domain::{Lang, List, ListName, ListStatus, ListType, OptinKind, Tags};

/// Lists matching `query` among those the caller may see, with their counts, and how many
/// match.
pub(crate) async fn search(
    db: &Db,
    by: &Caller,
    query: &ListQuery,
) -> OpsResult<(Vec<ListWithCounts>, i64)> {
    let query = ListQuery {
        ids: by.lists_with(ListAccess::Get),
        ..query.clone()
    };
    let (found, total) = lists::query(db, &query).await?;
    Ok((lists::with_counts(db, found).await?, total))
}

/// Every list the caller reaches with `access`, without counting its subscriptions (a
/// choice of lists needs no counts, and counting reads every subscription).
pub(crate) async fn all(db: &Db, by: &Caller, access: ListAccess) -> OpsResult<Vec<List>> {
    let query = ListQuery {
        ids: by.lists_with(access),
        ..ListQuery::default()
    };
    Ok(lists::query(db, &query).await?.0)
}

/// A list the caller may see.
///
/// # Errors
/// `NotFound`, also for a list the caller is not limited to.
pub(crate) async fn get(db: &Db, by: &Caller, id: i64) -> OpsResult<ListWithCounts> {
    if !by.lists.allows(id, ListAccess::Get) {
        return Err(OpsError::NotFound("list"));
    }
    let list = lists::get(db, id)
        .await?
        .ok_or(OpsError::NotFound("list"))?;
    Ok(lists::with_counts(db, vec![list]).await?.remove(0))
}

pub(crate) async fn create(db: &Db, by: &Caller, fields: &ListFields) -> OpsResult<ListWithCounts> {
    by.require_every_list(super::access::Permission::ListsManage)?;
    let list = lists::insert(db, fields).await?;
    audit::record(
        db,
        by,
        Change::new("list.create", "list", Some(list.id)).after(&list),
    )
    .await;
    Ok(lists::with_counts(db, vec![list]).await?.remove(0))
}

/// A change to a list: the fields given; the rest keep their values.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListChanges {
    pub name: Option<ListName>,
    pub list_type: Option<ListType>,
    pub optin: Option<OptinKind>,
    pub status: Option<ListStatus>,
    pub tags: Option<Tags>,
    pub description: Option<String>,
    /// `Some(None)` removes the list's language.
    pub language: Option<Option<Lang>>,
}

/// Creates a list from `changes`, with the defaults (private, single opt-in, active) for
/// what they leave out.
///
/// # Errors
/// `Invalid` without a name.
pub(crate) async fn create_from(
    db: &Db,
    by: &Caller,
    changes: ListChanges,
) -> OpsResult<ListWithCounts> {
    let fields = ListFields {
        name: changes
            .name
            .ok_or_else(|| OpsError::Invalid("the list name is empty".into()))?,
        list_type: changes.list_type.unwrap_or(ListType::Private),
        optin: changes.optin.unwrap_or(OptinKind::Single),
        status: changes.status.unwrap_or(ListStatus::Active),
        tags: changes.tags.unwrap_or_default(),
        description: changes.description.unwrap_or_default(),
        language: changes.language.flatten(),
    };
    create(db, by, &fields).await
}

/// Changes the fields `changes` gives; the rest keep their values.
///
/// # Errors
/// `NotFound` for an unknown list.
pub(crate) async fn update(
    db: &Db,
    by: &Caller,
    id: i64,
    changes: ListChanges,
) -> OpsResult<ListWithCounts> {
    let current = get(db, by, id).await?.list;
    by.require_lists(&[id], ListAccess::Manage)?;
    let fields = ListFields {
        name: match changes.name {
            Some(name) => name,
            None => ListName::parse(&current.name)?,
        },
        list_type: changes.list_type.unwrap_or(current.list_type),
        optin: changes.optin.unwrap_or(current.optin),
        status: changes.status.unwrap_or(current.status),
        tags: match changes.tags {
            Some(tags) => tags,
            None => Tags::parse(&current.tags)?,
        },
        description: changes
            .description
            .unwrap_or_else(|| current.description.clone()),
        language: changes.language.unwrap_or(current.language),
    };
    let list = lists::update(db, id, &fields)
        .await?
        .ok_or(OpsError::NotFound("list"))?;
    let change = Change::new("list.update", "list", Some(id))
        .before(&current)
        .after(&list);
    audit::record(db, by, change).await;
    Ok(lists::with_counts(db, vec![list]).await?.remove(0))
}

pub(crate) async fn delete(db: &Db, by: &Caller, id: i64) -> OpsResult<()> {
    let current = get(db, by, id).await?.list;
    by.require_lists(&[id], ListAccess::Manage)?;
    match lists::delete(db, &[id]).await? {
        0 => Err(OpsError::NotFound("list")),
        _ => {
            audit::record(
                db,
                by,
                Change::new("list.delete", "list", Some(id)).before(&current),
            )
            .await;
            Ok(())
        }
    }
}

/// The lists with these IDs, or an error naming the IDs that match no list.
pub(crate) async fn require_all(db: &Db, ids: &[i64]) -> OpsResult<Vec<List>> {
    // More lists than any newsroom has: beyond, a request is hostile or broken.
    const MOST: usize = 1_000;
    let mut wanted: Vec<i64> = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.len() > MOST {
        return Err(OpsError::Invalid(format!("at most {MOST} lists at once")));
    }
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
