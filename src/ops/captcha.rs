//! Self-hosted bot protection: ALTCHA proof-of-work challenges (protocol v2, the `altcha`
//! crate), so no third party sees the reader. A challenge is signed with a secret derived
//! from the shared key, expires, and its solution is accepted once.

use altcha::{CreateChallengeOptions, Payload, VerifySolutionOptions};
use base64::Engine as _;

use crate::db::{self, Db};
use crate::domain::Timestamp;
use crate::mail::tokens::Signer;
use crate::ops::OpsResult;

const SECRET_LABEL: &str = "altcha";

/// How hard and how long-lived challenges are.
#[derive(Debug, Clone, Copy)]
pub struct Difficulty {
    /// PBKDF2 iterations per attempt; a reader's browser makes about 256 attempts.
    pub cost: u32,
    pub valid_secs: i64,
}

/// Why a proof of work was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the proof of work is missing")]
    Missing,
    #[error("the proof of work is not valid")]
    Invalid,
    #[error("the proof of work has expired")]
    Expired,
    #[error("the proof of work was already used")]
    Replayed,
}

/// A new challenge, as the widget fetches it.
///
/// # Errors
/// When the challenge cannot be made (an invalid cost).
pub fn challenge(signer: &Signer, difficulty: Difficulty) -> anyhow::Result<altcha::Challenge> {
    let expires_at = Timestamp::now().as_datetime().unix_timestamp() + difficulty.valid_secs;
    altcha::create_challenge(CreateChallengeOptions {
        cost: difficulty.cost,
        expires_at: Some(expires_at),
        hmac_signature_secret: Some(signer.derived_secret(SECRET_LABEL)),
        ..CreateChallengeOptions::default()
    })
    .map_err(|e| anyhow::anyhow!("cannot create a challenge: {e}"))
}

/// Checks a widget's payload (base64 JSON of the challenge and its solution) at `now`, and
/// spends it.
///
/// # Errors
/// `Ok(Err(_))` says why the proof is refused; `Err` is a database failure.
pub async fn verify(
    db: &Db,
    signer: &Signer,
    payload: Option<&str>,
    now: Timestamp,
) -> OpsResult<Result<(), Refused>> {
    let Some(payload) = payload.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(Err(Refused::Missing));
    };
    let Some(payload) = decode(payload) else {
        return Ok(Err(Refused::Invalid));
    };
    let Some(expires) = payload.challenge.parameters.expires_at.filter(|e| *e > 0) else {
        return Ok(Err(Refused::Invalid));
    };
    let secret = signer.derived_secret(SECRET_LABEL);
    let checked = altcha::verify_solution(VerifySolutionOptions::new(
        &payload.challenge,
        &payload.solution,
        &secret,
    ));
    match checked {
        Ok(result) if result.verified => {}
        Ok(result) if result.expired => return Ok(Err(Refused::Expired)),
        _ => return Ok(Err(Refused::Invalid)),
    }
    // Checked against our clock, not only the crate's: a test or a replay may bring its own.
    if expires <= now.as_datetime().unix_timestamp() {
        return Ok(Err(Refused::Expired));
    }
    let Some(signature) = payload.challenge.signature.as_deref() else {
        return Ok(Err(Refused::Invalid));
    };
    let expires_at = time::OffsetDateTime::from_unix_timestamp(expires)
        .map(Timestamp::from_datetime)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !db::captcha::spend(db, signature, expires_at).await? {
        return Ok(Err(Refused::Replayed));
    }
    Ok(Ok(()))
}

fn decode(text: &str) -> Option<Payload> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .or_else(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .ok()
        })?;
    serde_json::from_slice(&bytes).ok()
}
