//! One async function per use case, shared by the API, the public pages, the CLI and the
//! delivery workers: a handler parses its input into domain types, calls one function here
//! and shapes the answer, so nothing works one way in the browser and another through the
//! API. Errors are [`OpsError`], which says what went wrong in the product's terms (a
//! database constraint becomes words for the caller) and leaves HTTP status codes to the web
//! layer. Row types of `db` that callers see are re-exported by the module of their noun
//! (`ops::campaigns::Campaign`), so the layers above name nothing of `db` but its handle.

pub(crate) mod access;
pub(crate) mod audit;
pub(crate) mod bulk;
pub(crate) mod campaigns;
pub mod captcha;
pub(crate) mod compose;
pub(crate) mod dashboard;
pub(crate) mod health;
pub(crate) mod imports;
pub(crate) mod lists;
pub(crate) mod outbox;
pub(crate) mod publisher;
pub mod reader;
pub(crate) mod second_factor;
pub(crate) mod sessions;
pub(crate) mod setup;
pub(crate) mod subscribers;
pub(crate) mod templates;
pub(crate) mod tx;
pub mod users;

use crate::db::DbError;

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The input breaks a rule; the message is for the caller.
    #[error("{0}")]
    Invalid(String),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change clashes with existing data.
    #[error("{0}")]
    Conflict(String),
    /// The caller's role does not grant this permission.
    #[error("permission denied: {} is required", .0.as_str())]
    Forbidden(access::Permission),
    /// The caller is limited to some lists, and this one is not among them with this access.
    #[error("permission denied: {} is required on list {list}", .access.as_str())]
    ForbiddenList {
        access: access::ListAccess,
        list: i64,
    },
    /// The caller is limited to some lists, and this concerns every list.
    #[error("permission denied: {} is required on every list", .0.as_str())]
    ForbiddenAllLists(access::Permission),
    /// Something outside the caller's control failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbError> for OpsError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Conflict(name) => OpsError::Conflict(conflict_message(&name).into()),
            DbError::MissingReference => {
                OpsError::Invalid("a referenced item does not exist".into())
            }
            DbError::Other(e) => {
                OpsError::Internal(anyhow::Error::new(e).context("database error"))
            }
        }
    }
}

/// What a unique constraint's refusal means, in the caller's terms. The constraint's own
/// name (PostgreSQL's index name, SQLite's `table_column`) is a detail of the schema and is
/// never shown to a client; it goes to the debug log.
fn conflict_message(constraint: &str) -> &'static str {
    const KNOWN: [(&str, &str); 4] = [
        (
            "subscribers_email",
            "a subscriber with this e-mail address already exists",
        ),
        (
            "api_users_name",
            "an API user with this name already exists",
        ),
        ("users_username", "a user with this name already exists"),
        (
            "templates_one_default",
            "another template of this type is already the default",
        ),
    ];
    KNOWN
        .iter()
        .find(|(key, _)| constraint.contains(key))
        .map(|(_, message)| *message)
        .unwrap_or_else(|| {
            tracing::debug!(constraint, "unique constraint without a known meaning");
            "this conflicts with an item that already exists"
        })
}

impl From<crate::domain::Invalid> for OpsError {
    fn from(err: crate::domain::Invalid) -> Self {
        OpsError::Invalid(err.0)
    }
}

pub type OpsResult<T> = Result<T, OpsError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_is_told_in_the_caller_s_words_never_by_the_schema_s_name() {
        for (constraint, words) in [
            ("subscribers_email_key", "e-mail address already exists"),
            ("subscribers_email", "e-mail address already exists"),
            ("users_username_key", "a user with this name"),
            ("api_users_name", "an API user with this name"),
        ] {
            let said = OpsError::from(DbError::Conflict(constraint.into())).to_string();
            assert!(said.contains(words), "{constraint}: {said}");
        }
        let unknown = OpsError::from(DbError::Conflict("campaigns_uuid_key".into())).to_string();
        assert!(!unknown.contains("campaigns_uuid"), "{unknown}");
    }
}
