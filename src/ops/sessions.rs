//! Signing in to the desk, and the sessions that follow: the password check with its growing
//! delay and lockouts, a session per browser kept in the database (so every node knows it),
//! its idle and absolute lifetimes, signing out here or everywhere, changing a password.
//!
//! A browser holds a random session id in a cookie; the database keeps only its SHA-256, so
//! neither a copy of the table nor a log line can sign anyone in. Each session has its own
//! CSRF token, which every state-changing request of the desk must carry.

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use super::access::{Caller, Lists, Role};
use super::users::{Password, hash_password, verify_password};
use super::{OpsError, OpsResult};
use crate::db::{Db, sessions};
use crate::domain::{Lang, Timestamp};
use crate::mail::tokens::Signer;

/// The sign-in's rules, from the settings.
#[derive(Debug, Clone)]
pub(crate) struct SignInPolicy {
    /// A session unused this long ends.
    pub(crate) idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub(crate) absolute: Duration,
    /// Failed sign-ins counted together: an account or address with `*_lockout` failures in
    /// the last `window` is locked until the oldest of them leaves it.
    pub(crate) window: Duration,
    pub(crate) account_lockout: i64,
    pub(crate) address_lockout: i64,
    /// Admins must enrol a second factor before anything else.
    pub(crate) admins_need_second_factor: bool,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(2 * 3600),
            absolute: Duration::from_secs(12 * 3600),
            window: Duration::from_secs(15 * 60),
            account_lockout: 10,
            address_lockout: 50,
            admins_need_second_factor: false,
        }
    }
}

/// Failures before the delay starts; each further one doubles it.
const FREE_FAILURES: i64 = 3;
/// The longest delay between two attempts on one account.
const MAX_DELAY_SECS: i64 = 60;
/// Seconds between the password and the second factor's code.
const SECOND_FACTOR_SECS: i64 = 300;
/// How often a session's last use is written: a page view is a read, not a write.
const TOUCH_EVERY_SECS: i64 = 60;

/// Someone signed in to the desk.
#[derive(Debug, Clone)]
pub(crate) struct Staff {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) role: Role,
    /// The desk's language the user chose, if any.
    pub(crate) language: Option<Lang>,
    /// An admin reset the password: nothing but choosing a new one until then.
    pub(crate) must_change_password: bool,
    /// Admins must have a second factor and this one has none: nothing but enrolling.
    pub(crate) must_enrol_second_factor: bool,
    pub(crate) csrf_token: String,
    /// The lists the user reaches.
    pub(crate) lists: Lists,
    /// The address of the request at hand, set by the web layer for the audit log.
    pub(crate) ip: Option<String>,
}

impl Staff {
    /// The same caller the API's access checks take.
    pub(crate) fn caller(&self) -> Caller {
        Caller {
            kind: super::access::CallerKind::User,
            id: self.id,
            name: self.username.clone(),
            role: self.role,
            lists: self.lists.clone(),
            ip: self.ip.clone(),
        }
    }

    /// Whether `token` is this session's CSRF token (in constant time).
    pub(crate) fn csrf_matches(&self, token: &str) -> bool {
        bool::from(token.as_bytes().ct_eq(self.csrf_token.as_bytes()))
    }
}

/// A new session: the cookie's value, and who it signs in.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) cookie: String,
    pub(crate) staff: Staff,
}

/// A password accepted: a session, or for a user with a second factor, the token that
/// carries the sign-in to the code.
#[derive(Debug)]
pub(crate) enum SignedIn {
    Started(Started),
    SecondFactor { token: String },
}

/// Why a sign-in was refused. An unknown user and a wrong password get the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    WrongCredentials,
    /// The second factor's code is wrong or was used already.
    WrongCode,
    /// Too long between the password and the code: start again.
    Expired,
    /// Too many recent failures on this account: try again in this many seconds.
    Wait(i64),
    /// Too many failures on this account or from this address.
    Locked,
}

/// Where a sign-in comes from, for the failure counts and the session's record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub(crate) ip: &'a str,
    pub(crate) user_agent: Option<&'a str>,
}

/// Checks a user name and password and starts a session.
///
/// # Errors
/// Only when the database fails; a refusal is `Ok(Err(_))`.
pub(crate) async fn sign_in(
    db: &Db,
    policy: &SignInPolicy,
    signer: &Signer,
    username: &str,
    password: &str,
    from: Origin<'_>,
) -> OpsResult<Result<SignedIn, Refusal>> {
    let username = username.trim();
    let now = Timestamp::now();
    let account = sessions::account_by_name(db, username).await?;
    let user_id = account.as_ref().map(|a| a.id);
    let attempt = match attempt(db, policy, username, user_id, from, now).await? {
        Ok(attempt) => attempt,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let checked = account.clone();
    let given = password.to_owned();
    let valid = tokio::task::spawn_blocking(move || match &checked {
        Some(account) if account.status == "enabled" => {
            verify_password(&given, &account.password_hash)
        }
        // Hashing anyway makes an unknown user take as long as a known one.
        _ => {
            let _ = verify_password(&given, decoy_hash());
            false
        }
    })
    .await
    .map_err(|e| OpsError::Internal(anyhow::anyhow!("the password check failed: {e}")))?;
    let Some(account) = account.filter(|_| valid) else {
        // The name typed is not logged: people type passwords into it by mistake.
        tracing::warn!(user_id, ip = from.ip, "sign-in failed");
        return Ok(Err(Refusal::WrongCredentials));
    };

    if account.totp_secret.is_some() {
        // The password step is done; the code's step counts its own attempts.
        sessions::forget_failure(db, attempt).await?;
        let token = signer.second_factor_token(
            account.id,
            &account.password_hash,
            now.unix() + SECOND_FACTOR_SECS,
        );
        tracing::info!(
            user_id,
            ip = from.ip,
            "password accepted; the second factor is due"
        );
        return Ok(Ok(SignedIn::SecondFactor { token }));
    }
    sessions::clear_failures(db, username).await?;
    let started = start(db, policy, account, from).await?;
    tracing::info!(user_id, ip = from.ip, "signed in");
    Ok(Ok(SignedIn::Started(started)))
}

/// One try at a secret (a password, a code) by `username` from `from`, counted as a failure
/// until it succeeds: the row is written before the secret is checked, so a burst of
/// parallel tries sees each other's rows and cannot try more secrets than the lockout
/// allows. Returns the row, for the caller to forget on success.
///
/// # Errors
/// When the database fails; a refusal is `Ok(Err(_))`.
pub(crate) async fn attempt(
    db: &Db,
    policy: &SignInPolicy,
    username: &str,
    user_id: Option<i64>,
    from: Origin<'_>,
    now: Timestamp,
) -> OpsResult<Result<i64, Refusal>> {
    let since = now.plus_secs(-secs(policy.window));
    let failures = sessions::failures(db, username, from.ip, since).await?;
    if let Some(refusal) = held_back(policy, failures, now, user_id, from) {
        return Ok(Err(refusal));
    }
    let row = sessions::record_failure(db, username, from.ip, now).await?;
    let counted = sessions::failures(db, username, from.ip, since).await?;
    // Tries made at the same moment all read the same count before recording theirs; once
    // the others recorded meanwhile are past the free ones, this try waits, as it would have
    // one after the other. (The k-th try recorded counts at least k, so no more than the
    // free tries are ever checked at once.)
    let others = counted.account - 1;
    if others > failures.account
        && let Some(wait) = delay_left(
            sessions::Failures {
                account: others,
                address: counted.address,
                last_for_account: Some(now),
            },
            now,
        )
    {
        tracing::warn!(
            user_id,
            ip = from.ip,
            wait,
            "sign-in refused: tries at the same moment"
        );
        return Ok(Err(Refusal::Wait(wait)));
    }
    if counted.account > policy.account_lockout || counted.address > policy.address_lockout {
        tracing::warn!(
            user_id,
            ip = from.ip,
            account_failures = counted.account,
            address_failures = counted.address,
            "sign-in refused: tries at the same moment reached the lockout"
        );
        return Ok(Err(Refusal::Locked));
    }
    Ok(Ok(row))
}

/// Completes a sign-in with the second factor's code (or a recovery code).
///
/// # Errors
/// Only when the database fails; a refusal is `Ok(Err(_))`.
pub(crate) async fn complete_second_factor(
    db: &Db,
    policy: &SignInPolicy,
    signer: &Signer,
    token: &str,
    code: &str,
    from: Origin<'_>,
) -> OpsResult<Result<Started, Refusal>> {
    let now = Timestamp::now();
    let Some(parsed) = signer.parse_second_factor(token) else {
        return Ok(Err(Refusal::Expired));
    };
    if parsed.expires < now.unix() {
        return Ok(Err(Refusal::Expired));
    }
    let Some(account) = sessions::account_by_id(db, parsed.user_id).await? else {
        return Ok(Err(Refusal::Expired));
    };
    if !parsed.made_after(&account.password_hash) {
        // The password changed since this sign-in's first step.
        return Ok(Err(Refusal::Expired));
    }
    let Some(secret) = account.totp_secret.clone() else {
        return Ok(Err(Refusal::Expired));
    };
    let username = account.username.clone();
    let user_id = Some(account.id);
    let attempt = match attempt(db, policy, &username, user_id, from, now).await? {
        Ok(attempt) => attempt,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if account.status != "enabled"
        || !super::second_factor::accept(db, account.id, &secret, code).await?
    {
        tracing::warn!(user_id, ip = from.ip, "a second factor's code was refused");
        return Ok(Err(Refusal::WrongCode));
    }
    sessions::forget_failure(db, attempt).await?;
    sessions::clear_failures(db, &username).await?;
    let started = start(db, policy, account, from).await?;
    tracing::info!(user_id, ip = from.ip, "signed in with the second factor");
    Ok(Ok(started))
}

/// A lockout or a delay that holds a sign-in back before any secret is checked.
fn held_back(
    policy: &SignInPolicy,
    failures: sessions::Failures,
    now: Timestamp,
    user_id: Option<i64>,
    from: Origin<'_>,
) -> Option<Refusal> {
    if failures.account >= policy.account_lockout || failures.address >= policy.address_lockout {
        tracing::warn!(
            user_id,
            ip = from.ip,
            account_failures = failures.account,
            address_failures = failures.address,
            "sign-in refused: locked out"
        );
        return Some(Refusal::Locked);
    }
    let wait = delay_left(failures, now)?;
    tracing::warn!(user_id, ip = from.ip, wait, "sign-in refused: too soon");
    Some(Refusal::Wait(wait))
}

/// A new session for `account`, with a new id and CSRF token.
async fn start(
    db: &Db,
    policy: &SignInPolicy,
    account: sessions::Account,
    from: Origin<'_>,
) -> OpsResult<Started> {
    let cookie = random_token();
    let csrf_token = random_token();
    sessions::insert(
        db,
        &sessions::NewSession {
            id_hash: &id_hash(&cookie),
            user_id: account.id,
            csrf_token: &csrf_token,
            ip: Some(from.ip),
            user_agent: from.user_agent,
        },
        Timestamp::now(),
    )
    .await?;
    let staff = staff_from(db, policy, account, csrf_token).await?;
    Ok(Started { cookie, staff })
}

/// Who a session cookie signs in, if it is still valid; ends it when it is not. `used`:
/// a person is using the desk (not a page refreshing itself), which keeps the session from
/// its idle limit.
///
/// # Errors
/// When the database fails.
pub(crate) async fn staff_of(
    db: &Db,
    policy: &SignInPolicy,
    cookie: &str,
    used: bool,
) -> OpsResult<Option<Staff>> {
    let hash = id_hash(cookie);
    let Some(found) = sessions::find(db, &hash).await? else {
        return Ok(None);
    };
    let now = Timestamp::now();
    let idle = now.unix() - found.last_seen_at.unix();
    let age = now.unix() - found.created_at.unix();
    if idle > secs(policy.idle) || age > secs(policy.absolute) || found.account.status != "enabled"
    {
        sessions::delete(db, &hash).await?;
        return Ok(None);
    }
    if used && idle > TOUCH_EVERY_SECS {
        sessions::touch(db, &hash, now).await?;
    }
    Ok(Some(
        staff_from(db, policy, found.account, found.csrf_token).await?,
    ))
}

/// Ends this browser's session.
///
/// # Errors
/// When the database fails.
pub(crate) async fn sign_out(db: &Db, cookie: &str) -> OpsResult<()> {
    Ok(sessions::delete(db, &id_hash(cookie)).await?)
}

/// Ends every session of `user_id`, on every browser and node.
///
/// # Errors
/// When the database fails.
pub(crate) async fn sign_out_everywhere(db: &Db, user_id: i64) -> OpsResult<u64> {
    Ok(sessions::delete_all_of(db, user_id).await?)
}

/// Changes the signed-in user's own password after checking the current one, and ends
/// their sessions elsewhere; returns the cookie of a fresh session for this browser.
///
/// # Errors
/// `Invalid` for a wrong current password or a new one that breaks the rules.
pub(crate) async fn change_password(
    db: &Db,
    policy: &SignInPolicy,
    staff: &Staff,
    current: &str,
    new: String,
    from: Origin<'_>,
) -> OpsResult<Started> {
    recheck_password(db, policy, staff, current, from).await?;
    if new == current {
        return Err(OpsError::Invalid(
            "the new password must differ from the current one".into(),
        ));
    }
    let new = Password::parse(new)?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(|e| OpsError::Internal(anyhow::anyhow!("password hashing failed: {e}")))??;
    sessions::set_password(db, staff.id, &hash, false).await?;
    sessions::delete_all_of(db, staff.id).await?;
    let account = sessions::account_by_id(db, staff.id)
        .await?
        .ok_or(OpsError::NotFound("user"))?;
    tracing::info!(username = staff.username, "password changed");
    let change = super::audit::Change::new("user.change_password", "user", Some(staff.id));
    super::audit::record(db, &staff.caller(), change).await;
    start(db, policy, account, from).await
}

/// Asks a signed-in user's password again before a change that needs it (a new password,
/// turning the second factor off). Each try counts as a sign-in's would, so a session left
/// open cannot be used to guess the password.
///
/// # Errors
/// `Invalid` for a wrong password, or while the account is held back or locked.
pub(crate) async fn recheck_password(
    db: &Db,
    policy: &SignInPolicy,
    staff: &Staff,
    password: &str,
    from: Origin<'_>,
) -> OpsResult<()> {
    let account = sessions::account_by_id(db, staff.id)
        .await?
        .ok_or(OpsError::NotFound("user"))?;
    let now = Timestamp::now();
    let attempt = match attempt(db, policy, &account.username, Some(account.id), from, now).await? {
        Ok(attempt) => attempt,
        Err(Refusal::Wait(seconds)) => {
            return Err(OpsError::Invalid(format!(
                "too many wrong passwords: try again in {seconds} seconds"
            )));
        }
        Err(_) => {
            return Err(OpsError::Invalid(
                "too many wrong passwords: the account is locked for a while".into(),
            ));
        }
    };
    let given = password.to_owned();
    let hash = account.password_hash.clone();
    let valid = tokio::task::spawn_blocking(move || verify_password(&given, &hash))
        .await
        .map_err(|e| OpsError::Internal(anyhow::anyhow!("the password check failed: {e}")))?;
    if !valid {
        tracing::warn!(
            user_id = staff.id,
            ip = from.ip,
            "a password asked again was wrong"
        );
        return Err(OpsError::Invalid("the current password is wrong".into()));
    }
    sessions::forget_failure(db, attempt).await?;
    Ok(())
}

/// Remembers the desk's language a user chose.
///
/// # Errors
/// When the database fails.
pub(crate) async fn choose_language(db: &Db, staff: &Staff, lang: Lang) -> OpsResult<()> {
    Ok(sessions::set_language(db, staff.id, lang.as_str()).await?)
}

/// Drops ended sessions and failures no window counts any more.
///
/// # Errors
/// When the database fails.
pub(crate) async fn sweep(db: &Db, policy: &SignInPolicy) -> OpsResult<()> {
    let now = Timestamp::now();
    sessions::expire(
        db,
        now.plus_secs(-secs(policy.idle)),
        now.plus_secs(-secs(policy.absolute)),
    )
    .await?;
    sessions::forget_failures(db, now.plus_secs(-secs(policy.window))).await?;
    Ok(())
}

/// Seconds to wait before the next attempt on an account, while its recent failures
/// exceed the free ones: 1, 2, 4 … up to a minute.
fn delay_left(failures: sessions::Failures, now: Timestamp) -> Option<i64> {
    let over = failures.account - FREE_FAILURES;
    let last = failures.last_for_account?;
    if over < 0 {
        return None;
    }
    let delay = 1_i64
        .checked_shl(u32::try_from(over).unwrap_or(u32::MAX))
        .unwrap_or(MAX_DELAY_SECS)
        .min(MAX_DELAY_SECS);
    let left = last.unix() + delay - now.unix();
    (left > 0).then_some(left)
}

async fn staff_from(
    db: &Db,
    policy: &SignInPolicy,
    account: sessions::Account,
    csrf_token: String,
) -> OpsResult<Staff> {
    let role: Role = account.role.parse().map_err(|e: crate::domain::Invalid| {
        OpsError::Internal(anyhow::anyhow!("user {}: {}", account.username, e.0))
    })?;
    let second_factor = account.totp_secret.is_some();
    let holder = crate::db::users::Account::User(account.id);
    let lists = super::users::lists_of(db, holder, role, account.lists_limited).await?;
    Ok(Staff {
        must_enrol_second_factor: policy.admins_need_second_factor
            && role == Role::Admin
            && !second_factor,
        id: account.id,
        username: account.username,
        role,
        language: account.language.and_then(|l| l.parse().ok()),
        must_change_password: account.must_change_password,
        csrf_token,
        lists,
        ip: None,
    })
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// 256 random bits, URL-safe.
fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn id_hash(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

/// A hash of no one's password, checked for unknown users.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&Password::generate()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(account: i64, last: i64) -> sessions::Failures {
        sessions::Failures {
            account,
            address: account,
            last_for_account: Timestamp::from_unix(last).ok(),
        }
    }

    #[test]
    fn the_delay_doubles_after_the_free_failures_up_to_a_minute() {
        let now = Timestamp::from_unix(1_000_000).unwrap();
        assert_eq!(delay_left(failures(2, 1_000_000), now), None);
        assert_eq!(delay_left(failures(3, 1_000_000), now), Some(1));
        assert_eq!(delay_left(failures(5, 1_000_000), now), Some(4));
        assert_eq!(delay_left(failures(9, 1_000_000), now), Some(60));
        assert_eq!(delay_left(failures(40, 1_000_000), now), Some(60));
        assert_eq!(
            delay_left(failures(5, 999_990), now),
            None,
            "waited long enough"
        );
    }
}
