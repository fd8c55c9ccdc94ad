//! The desk's optional second factor: a TOTP authenticator (RFC 6238: six digits, 30-second
//! steps, SHA-1, one step of clock skew either way, which every authenticator app speaks),
//! enrolled by scanning a QR code and confirming a first code, with ten single-use recovery
//! codes for a lost phone. Each code signs in once: the last accepted time step is kept.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::audit::{self, Change};
use super::sessions::{Origin, SignInPolicy, Staff};
use super::{OpsError, OpsResult};
use crate::db::{Db, sessions};

/// How many recovery codes an enrolment gives.
pub(crate) const RECOVERY_CODES: usize = 10;

/// A secret being enrolled, as the enrolment page shows it.
#[derive(Debug, Clone)]
pub(crate) struct Enrolment {
    /// Base32, for typing into an app that cannot scan.
    pub(crate) secret: String,
    /// The `otpauth://` address the QR code holds.
    pub(crate) url: String,
    /// The QR code, drawn as SVG.
    pub(crate) qr_svg: String,
}

/// Where the second factor stands for a user.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Standing {
    pub(crate) enrolled: bool,
    pub(crate) recovery_codes_left: i64,
}

/// # Errors
/// When the database fails.
pub(crate) async fn standing(db: &Db, staff: &Staff) -> OpsResult<Standing> {
    let account = sessions::account_by_id(db, staff.id)
        .await?
        .ok_or(OpsError::NotFound("user"))?;
    Ok(Standing {
        enrolled: account.totp_secret.is_some(),
        recovery_codes_left: sessions::recovery_codes_left(db, staff.id).await?,
    })
}

/// Draws a new secret for `staff` to scan, kept until a code from it confirms it.
///
/// # Errors
/// `Conflict` when a second factor is already on; database failures.
pub(crate) async fn begin(db: &Db, staff: &Staff, issuer: &str) -> OpsResult<Enrolment> {
    if standing(db, staff).await?.enrolled {
        return Err(OpsError::Conflict(
            "a second factor is already on; turn it off first".into(),
        ));
    }
    let secret = Secret::from(rand::random::<[u8; 20]>()).to_base32();
    sessions::set_totp_pending(db, staff.id, &secret).await?;
    enrolment_of(secret, issuer, &staff.username)
}

/// The enrolment under way, to show again after a wrong first code.
///
/// # Errors
/// When the database fails.
pub(crate) async fn pending(db: &Db, staff: &Staff, issuer: &str) -> OpsResult<Option<Enrolment>> {
    match sessions::totp_pending(db, staff.id).await? {
        Some(secret) => Ok(Some(enrolment_of(secret, issuer, &staff.username)?)),
        None => Ok(None),
    }
}

fn enrolment_of(secret: String, issuer: &str, account: &str) -> OpsResult<Enrolment> {
    let totp = totp(&secret, issuer, account)?;
    let url = totp
        .to_url()
        .map_err(|e| OpsError::Internal(anyhow::anyhow!("the otpauth address: {e}")))?;
    let qr_svg = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| OpsError::Internal(anyhow::anyhow!("the QR code: {e}")))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The XML declaration is for a file; the page embeds the element.
    let qr_svg = qr_svg
        .find("<svg")
        .map_or(qr_svg.clone(), |at| qr_svg[at..].to_owned());
    Ok(Enrolment {
        secret,
        url,
        qr_svg,
    })
}

/// Turns the second factor on once `code` comes from the secret being enrolled; returns the
/// recovery codes, which are shown this once and kept only as hashes.
///
/// # Errors
/// `Invalid` for a wrong code or no enrolment under way.
pub(crate) async fn confirm(db: &Db, staff: &Staff, code: &str) -> OpsResult<Vec<String>> {
    let Some(secret) = sessions::totp_pending(db, staff.id).await? else {
        return Err(OpsError::Invalid(
            "no enrolment is under way; start again".into(),
        ));
    };
    let Some(step) = check(&secret, code) else {
        return Err(OpsError::Invalid("the code is wrong".into()));
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
    if !sessions::enable_totp(db, staff.id, step, &hashes).await? {
        return Err(OpsError::Invalid(
            "no enrolment is under way; start again".into(),
        ));
    }
    tracing::info!(username = staff.username, "second factor turned on");
    let change = Change::new("user.second_factor_on", "user", Some(staff.id));
    audit::record(db, &staff.caller(), change).await;
    Ok(codes)
}

/// Turns the second factor off after checking the password and a current code (or a
/// recovery code): a session left open alone cannot remove it.
///
/// # Errors
/// `Invalid` for a wrong password or code.
pub(crate) async fn turn_off(
    db: &Db,
    policy: &SignInPolicy,
    staff: &Staff,
    password: &str,
    code: &str,
    from: Origin<'_>,
) -> OpsResult<()> {
    super::sessions::recheck_password(db, policy, staff, password, from).await?;
    let account = sessions::account_by_id(db, staff.id)
        .await?
        .ok_or(OpsError::NotFound("user"))?;
    let Some(secret) = account.totp_secret else {
        return Ok(());
    };
    // The code's try is counted before it is checked, as a sign-in's is.
    let now = crate::domain::Timestamp::now();
    let tried = super::sessions::attempt(db, policy, &account.username, Some(staff.id), from, now)
        .await?
        .map_err(|_| {
            OpsError::Invalid("too many wrong tries: the account is locked for a while".into())
        })?;
    if !accept(db, staff.id, &secret, code).await? {
        return Err(OpsError::Invalid(
            "the code is wrong or was used already".into(),
        ));
    }
    sessions::forget_failure(db, tried).await?;
    sessions::disable_totp(db, staff.id).await?;
    tracing::info!(user_id = staff.id, "second factor turned off");
    let change = Change::new("user.second_factor_off", "user", Some(staff.id));
    audit::record(db, &staff.caller(), change).await;
    Ok(())
}

/// Whether `code` completes a sign-in for the user with `secret`: a TOTP code whose step
/// was not used yet, or an unused recovery code. Spends what it accepts.
///
/// # Errors
/// When the database fails.
pub(crate) async fn accept(db: &Db, user_id: i64, secret: &str, code: &str) -> OpsResult<bool> {
    if let Some(step) = check(secret, code) {
        return Ok(sessions::use_totp_step(db, user_id, step).await?);
    }
    let normalized = normalize_recovery(code);
    if normalized.len() != 10 {
        return Ok(false);
    }
    Ok(sessions::use_recovery_code(db, user_id, &recovery_hash(&normalized)).await?)
}

fn totp(secret: &str, issuer: &str, account: &str) -> OpsResult<Totp> {
    let bytes = Secret::try_from_base32(secret)
        .map_err(|e| OpsError::Internal(anyhow::anyhow!("a stored TOTP secret: {e:?}")))?;
    // A colon separates issuer and account in the otpauth label.
    let clean = |text: &str| text.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(bytes)
        .with_issuer(Some(clean(issuer)))
        .with_account_name(clean(account))
        .build()
        .map_err(|e| OpsError::Internal(anyhow::anyhow!("the TOTP parameters: {e:?}")))
}

/// The time step `code` belongs to, within a step of now.
fn check(secret: &str, code: &str) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "bulten", "user").ok()?;
    let now = u64::try_from(crate::domain::Timestamp::now().unix()).ok()?;
    totp.check(&code, now)
        .and_then(|step| i64::try_from(step).ok())
}

/// Ten characters from an alphabet without look-alikes, shown as `xxxxx-xxxxx`.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes: [u8; 10] = rand::random();
    let code: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &code[..5], &code[5..])
}

fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn recovery_hash(code: &str) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(Sha256::digest(normalize_recovery(code).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_of_the_current_step_is_accepted_and_others_are_not() {
        let secret = Secret::from(rand::random::<[u8; 20]>()).to_base32();
        let totp = totp(&secret, "Haber", "editör").unwrap();
        let now = u64::try_from(crate::domain::Timestamp::now().unix()).unwrap();
        let code = totp.generate(now).to_string();
        assert!(check(&secret, &code).is_some());
        assert!(check(&secret, &format!("{} {}", &code[..3], &code[3..])).is_some());
        let old = totp.generate(now - 300).to_string();
        assert!(old == code || check(&secret, &old).is_none());
        assert!(check(&secret, "12345").is_none());
        assert!(check(&secret, "abcdef").is_none());
    }

    #[test]
    fn recovery_codes_read_back_however_they_are_typed() {
        let code = recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_hash(&code),
            recovery_hash(&code.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_hash(&code), recovery_hash(&recovery_code()));
    }
}
