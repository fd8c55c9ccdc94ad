//! Accounts: people with passwords, programs with API tokens, and the first admin.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use rand::Rng as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::access::{Caller, CallerKind, ListAccess, Lists};
use super::audit::{self, Change};
use super::{OpsError, OpsResult};
use crate::db::users::KeptAdmin;
use crate::db::{Db, users};

pub use super::access::Role;

/// A password that must not be printed by accident.
#[derive(Clone)]
pub(crate) struct Password(String);

impl Password {
    /// # Errors
    /// When the password is shorter than 8 characters.
    pub(crate) fn parse(raw: String) -> OpsResult<Self> {
        if raw.chars().count() < 8 {
            return Err(OpsError::Invalid(
                "the password must have at least 8 characters".into(),
            ));
        }
        Ok(Self(raw))
    }

    /// A random password of 20 characters, for the first admin.
    pub(crate) fn generate() -> Self {
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut rng = rand::rng();
        Self(
            (0..20)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(****)")
    }
}

fn validate_name(name: &str, what: &str) -> OpsResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(OpsError::Invalid(format!(
            "the {what} must be 1 to 64 letters, digits or . _ - @"
        )))
    }
}

pub(crate) fn hash_password(password: &Password) -> OpsResult<String> {
    let salt = SaltString::encode_b64(&rand::rng().random::<[u8; 16]>())
        .map_err(|e| OpsError::Internal(anyhow::anyhow!("salt encoding failed: {e}")))?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| OpsError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

pub(crate) fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

pub(crate) async fn add_user(
    db: &Db,
    username: &str,
    password: &Password,
    role: Role,
) -> OpsResult<i64> {
    validate_name(username, "user name")?;
    let hash = hash_password(password)?;
    users::insert_user(db, username, &hash, role.as_str())
        .await
        .map_err(|e| match e {
            crate::db::DbError::Conflict(_) => {
                OpsError::Conflict(format!("the user {username} exists"))
            }
            other => other.into(),
        })
}

/// Creates an API user and returns its token, which is stored only as a hash.
pub async fn add_api_user(db: &Db, name: &str, role: Role) -> OpsResult<String> {
    Ok(insert_api_user(db, name, role).await?.1)
}

async fn insert_api_user(db: &Db, name: &str, role: Role) -> OpsResult<(i64, String)> {
    validate_name(name, "API user name")?;
    let token = hex::encode(rand::rng().random::<[u8; 32]>());
    let id = users::insert_api_user(db, name, &token_hash(&token), role.as_str())
        .await
        .map_err(|e| match e {
            crate::db::DbError::Conflict(_) => {
                OpsError::Conflict(format!("the API user {name} exists"))
            }
            other => other.into(),
        })?;
    Ok((id, token))
}

/// Creates an API user for `by` and returns its token, shown once.
///
/// # Errors
/// As [`add_api_user`].
pub(crate) async fn create_api_user(
    db: &Db,
    by: &Caller,
    name: &str,
    role: Role,
    lists: Lists,
) -> OpsResult<(i64, String)> {
    check_limits(db, role.as_str(), &lists).await?;
    let (id, token) = insert_api_user(db, name, role).await?;
    limit_new_account(db, by, Account::Api(id), lists).await?;
    let state = serde_json::json!({"name": name, "role": role.as_str()});
    audit::record(
        db,
        by,
        Change::new("api_user.create", "api_user", Some(id)).after(&state),
    )
    .await;
    Ok((id, token))
}

/// Creates a person who signs in with `password`, for `by` (the CLI).
///
/// # Errors
/// As [`add_user`].
pub(crate) async fn create_user(
    db: &Db,
    by: &Caller,
    username: &str,
    password: &Password,
    role: Role,
) -> OpsResult<i64> {
    let id = add_user(db, username, password, role).await?;
    let state = serde_json::json!({"username": username, "role": role.as_str()});
    audit::record(
        db,
        by,
        Change::new("user.create", "user", Some(id)).after(&state),
    )
    .await;
    Ok(id)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) use super::access::Caller as ApiCaller;

/// Checks an API user's token in constant time; `None` for any mismatch.
pub(crate) async fn authenticate_api_user(
    db: &Db,
    name: &str,
    token: &str,
) -> OpsResult<Option<ApiCaller>> {
    let Some(user) = users::api_user_by_name(db, name).await? else {
        return Ok(None);
    };
    let given = token_hash(token);
    if bool::from(given.as_bytes().ct_eq(user.token_hash.as_bytes())) {
        let role = user.role.parse().map_err(|e: crate::domain::Invalid| {
            OpsError::Internal(anyhow::anyhow!("API user {}: {}", user.name, e.0))
        })?;
        let lists = lists_of(db, users::Account::Api(user.id), role, user.lists_limited).await?;
        Ok(Some(ApiCaller {
            kind: super::access::CallerKind::Api,
            id: user.id,
            name: user.name,
            role,
            lists,
            ip: None,
        }))
    } else {
        Ok(None)
    }
}

/// The first admin, created when no user exists yet.
#[derive(Debug)]
pub(crate) struct FirstAdmin {
    pub username: String,
    /// Set when bulten chose the password and must show it once.
    pub generated_password: Option<Password>,
}

/// Creates the first admin from the given credentials, or `admin` with a random password.
/// Does nothing when a user exists.
pub(crate) async fn ensure_first_admin(
    db: &Db,
    username: Option<&str>,
    password: Option<Password>,
) -> OpsResult<Option<FirstAdmin>> {
    if users::count_users(db).await? > 0 {
        return Ok(None);
    }
    let username = username.unwrap_or("admin").to_owned();
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => {
            let p = Password::generate();
            (p, true)
        }
    };
    add_user(db, &username, &password, Role::Admin).await?;
    Ok(Some(FirstAdmin {
        username,
        generated_password: generated.then_some(password),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let password = Password::parse("correct horse battery".into()).unwrap();
        let phc = hash_password(&password).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("wrong", &phc));
    }

    #[test]
    fn passwords_never_print() {
        let password = Password::generate();
        assert_eq!(format!("{password:?}"), "Password(****)");
        assert_eq!(password.expose().len(), 20);
    }
}

pub(crate) use crate::db::users::{ApiUserSummary, UserRow};

/// Every user, with how many sign-ins failed on each in the lockout window and whether that
/// locks them out now.
///
/// # Errors
/// When the database fails.
pub(crate) async fn list(
    db: &Db,
    policy: &super::sessions::SignInPolicy,
) -> OpsResult<Vec<(UserRow, bool)>> {
    let window = i64::try_from(policy.window.as_secs()).unwrap_or(i64::MAX / 2);
    let since = crate::domain::Timestamp::now().plus_secs(-window);
    Ok(users::all_users(db, since)
        .await?
        .into_iter()
        .map(|u| {
            let locked = u.recent_failures >= policy.account_lockout;
            (u, locked)
        })
        .collect())
}

/// Adds a user with a password bulten draws, which they must change at their first sign-in;
/// returns it, to be shown once.
///
/// # Errors
/// `Invalid` for a bad name, `Conflict` for a taken one.
pub(crate) async fn invite(
    db: &Db,
    by: &Caller,
    username: &str,
    role: Role,
    lists: Lists,
) -> OpsResult<(i64, Password)> {
    check_limits(db, role.as_str(), &lists).await?;
    let password = Password::generate();
    let id = create_user(db, by, username, &password, role).await?;
    users::require_password_change(db, id).await?;
    limit_new_account(db, by, Account::User(id), lists).await?;
    Ok((id, password))
}

/// Gives a user a new password bulten draws, to be changed at their next sign-in; ends their
/// sessions and lifts any lockout. Returns the user's name and the password, to be shown
/// once.
///
/// # Errors
/// `NotFound` for an unknown user.
pub(crate) async fn reset_password(db: &Db, by: &Caller, id: i64) -> OpsResult<(String, Password)> {
    let account = crate::db::sessions::account_by_id(db, id)
        .await?
        .ok_or(OpsError::NotFound("user"))?;
    let password = Password::generate();
    let hash = hash_password(&password)?;
    crate::db::sessions::set_password(db, id, &hash, true).await?;
    crate::db::sessions::delete_all_of(db, id).await?;
    crate::db::sessions::clear_failures(db, &account.username).await?;
    tracing::info!(username = account.username, "password reset by an admin");
    audit::record(db, by, Change::new("user.reset_password", "user", Some(id))).await;
    Ok((account.username, password))
}

/// Lifts a lockout: forgets the account's failed sign-ins.
///
/// # Errors
/// `NotFound` for an unknown user.
pub(crate) async fn lift_lockout(db: &Db, by: &Caller, id: i64) -> OpsResult<()> {
    let account = crate::db::sessions::account_by_id(db, id)
        .await?
        .ok_or(OpsError::NotFound("user"))?;
    crate::db::sessions::clear_failures(db, &account.username).await?;
    tracing::info!(
        username = account.username,
        "sign-in lockout lifted by an admin"
    );
    audit::record(db, by, Change::new("user.unlock", "user", Some(id))).await;
    Ok(())
}

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserStatus {
    Enabled,
    Disabled,
}

impl UserStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserStatus::Enabled => "enabled",
            UserStatus::Disabled => "disabled",
        }
    }

    /// # Errors
    /// For anything but `enabled` or `disabled`.
    pub(crate) fn parse(text: &str) -> OpsResult<Self> {
        match text {
            "enabled" => Ok(UserStatus::Enabled),
            "disabled" => Ok(UserStatus::Disabled),
            other => Err(OpsError::Invalid(format!(
                "unknown status '{other}': use enabled or disabled"
            ))),
        }
    }
}

/// Changes a user's role and status. The last enabled admin keeps both, so the desk always
/// has someone who can manage it; disabling a user ends their sessions.
///
/// # Errors
/// `NotFound`, or `Conflict` for the last admin.
pub(crate) async fn update(
    db: &Db,
    by: &Caller,
    id: i64,
    role: Role,
    status: UserStatus,
) -> OpsResult<()> {
    let account = crate::db::sessions::account_by_id(db, id)
        .await?
        .ok_or(OpsError::NotFound("user"))?;
    match users::change_keeping_an_admin(db, id, Some((role.as_str(), status.as_str()))).await? {
        KeptAdmin::Done => {}
        KeptAdmin::NoSuchUser => return Err(OpsError::NotFound("user")),
        KeptAdmin::LastAdmin => {
            return Err(OpsError::Conflict(
                "the last enabled admin must stay an enabled admin".into(),
            ));
        }
    }
    if status == UserStatus::Disabled {
        crate::db::sessions::delete_all_of(db, id).await?;
    }
    let before = serde_json::json!({"role": account.role, "status": account.status});
    let after = serde_json::json!({"role": role.as_str(), "status": status.as_str()});
    let change = Change::new("user.update", "user", Some(id))
        .before(&before)
        .after(&after);
    audit::record(db, by, change).await;
    Ok(())
}

/// Deletes a user, never oneself nor the last enabled admin.
///
/// # Errors
/// `NotFound`, or `Conflict`.
pub(crate) async fn delete(db: &Db, by: &Caller, id: i64) -> OpsResult<()> {
    if by.kind == CallerKind::User && by.id == id {
        return Err(OpsError::Conflict("you cannot delete yourself".into()));
    }
    let account = crate::db::sessions::account_by_id(db, id)
        .await?
        .ok_or(OpsError::NotFound("user"))?;
    match users::change_keeping_an_admin(db, id, None).await? {
        KeptAdmin::Done => {}
        KeptAdmin::NoSuchUser => return Err(OpsError::NotFound("user")),
        KeptAdmin::LastAdmin => {
            return Err(OpsError::Conflict(
                "the last enabled admin cannot be deleted".into(),
            ));
        }
    }
    let before = serde_json::json!({"username": account.username, "role": account.role});
    audit::record(
        db,
        by,
        Change::new("user.delete", "user", Some(id)).before(&before),
    )
    .await;
    Ok(())
}

/// # Errors
/// When the database fails.
pub(crate) async fn api_users(db: &Db) -> OpsResult<Vec<ApiUserSummary>> {
    Ok(users::all_api_users(db).await?)
}

/// Deletes an API user: its token stops working at once.
///
/// # Errors
/// `NotFound` for an unknown API user.
pub(crate) async fn delete_api_user(db: &Db, by: &Caller, id: i64) -> OpsResult<()> {
    let before = users::all_api_users(db)
        .await?
        .into_iter()
        .find(|a| a.id == id);
    if users::delete_api_user(db, id).await? {
        let change = Change::new("api_user.delete", "api_user", Some(id)).before(&before);
        audit::record(db, by, change).await;
        Ok(())
    } else {
        Err(OpsError::NotFound("API user"))
    }
}

pub(crate) use crate::db::users::Account;

/// The lists an account reaches: every list for an admin or an account not limited (read
/// with the account, so most requests ask nothing more), else its stored limits.
///
/// # Errors
/// When the database fails, or holds an access it should not.
pub(crate) async fn lists_of(
    db: &Db,
    account: Account,
    role: Role,
    limited: bool,
) -> OpsResult<Lists> {
    if role == Role::Admin || !limited {
        return Ok(Lists::All);
    }
    Ok(Lists::Only(parse_limits(
        &users::list_limits(db, account).await?,
    )?))
}

fn parse_limits(
    rows: &[users::ListLimit],
) -> OpsResult<std::collections::BTreeMap<i64, ListAccess>> {
    rows.iter()
        .map(|row| {
            let access = row
                .access
                .parse::<ListAccess>()
                .map_err(|e| OpsError::Internal(anyhow::anyhow!("list limit: {}", e.0)))?;
            Ok((row.list_id, access))
        })
        .collect()
}

/// The list limits of every limited account of one kind, by account ID.
///
/// # Errors
/// When the database fails.
pub(crate) async fn all_list_limits(
    db: &Db,
    api: bool,
) -> OpsResult<std::collections::HashMap<i64, Lists>> {
    users::all_list_limits(db, api)
        .await?
        .into_iter()
        .map(|(id, rows)| Ok((id, Lists::Only(parse_limits(&rows)?))))
        .collect()
}

/// Gives a new account its limits; if that fails, the account goes again, so that no
/// account meant to be limited is left reaching every list.
async fn limit_new_account(db: &Db, by: &Caller, account: Account, lists: Lists) -> OpsResult<()> {
    if lists == Lists::All {
        return Ok(());
    }
    if let Err(err) = set_lists(db, by, account, lists).await {
        match account {
            Account::User(id) => {
                users::change_keeping_an_admin(db, id, None).await?;
            }
            Account::Api(id) => {
                users::delete_api_user(db, id).await?;
            }
        }
        return Err(err);
    }
    Ok(())
}

/// Checks limits before they are given to an account of `role`: every list exists, and
/// the account is no admin.
///
/// # Errors
/// `Invalid`.
pub(crate) async fn check_limits(db: &Db, role: &str, lists: &Lists) -> OpsResult<()> {
    if let Lists::Only(map) = lists {
        if role == Role::Admin.as_str() {
            return Err(OpsError::Invalid(
                "an admin reaches every list: give the account another role to limit it".into(),
            ));
        }
        let ids: Vec<i64> = map.keys().copied().collect();
        super::lists::require_all(db, &ids).await?;
    }
    Ok(())
}

/// Limits an account to some lists (`Lists::Only`), or lets it reach every list. An admin
/// reaches every list whatever is stored, so limiting one is refused rather than ignored.
///
/// # Errors
/// `NotFound` for an unknown account, `Invalid` for an unknown list or an admin.
pub(crate) async fn set_lists(
    db: &Db,
    by: &Caller,
    account: Account,
    lists: Lists,
) -> OpsResult<()> {
    let (role, limited, kind, action) = match account {
        Account::User(id) => {
            let user = crate::db::sessions::account_by_id(db, id)
                .await?
                .ok_or(OpsError::NotFound("user"))?;
            (user.role, user.lists_limited, "user", "user.lists")
        }
        Account::Api(id) => {
            let api_user = users::all_api_users(db)
                .await?
                .into_iter()
                .find(|a| a.id == id)
                .ok_or(OpsError::NotFound("API user"))?;
            (
                api_user.role,
                api_user.lists_limited,
                "api_user",
                "api_user.lists",
            )
        }
    };
    check_limits(db, &role, &lists).await?;
    let rows: Option<Vec<users::ListLimit>> = match &lists {
        Lists::All => None,
        Lists::Only(map) => Some(
            map.iter()
                .map(|(id, access)| users::ListLimit {
                    list_id: *id,
                    access: access.as_str().trim_start_matches("list:").to_owned(),
                })
                .collect(),
        ),
    };
    let id = match account {
        Account::User(id) | Account::Api(id) => id,
    };
    let before = if limited {
        Some(users::list_limits(db, account).await?)
    } else {
        None
    };
    users::set_list_limits(db, account, rows.as_deref()).await?;
    let change = Change::new(action, kind, Some(id))
        .before(&before)
        .after(&rows);
    audit::record(db, by, change).await;
    Ok(())
}
