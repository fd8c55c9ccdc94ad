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
pub(crate) struct Difficulty {
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
pub(crate) fn challenge(
    signer: &Signer,
    difficulty: Difficulty,
) -> anyhow::Result<altcha::Challenge> {
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
    if !db::spent::spend(db, signature, expires_at).await? {
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

/// A third-party captcha whose tokens bulten's server verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Recaptcha,
    Hcaptcha,
    Turnstile,
}

impl Provider {
    /// The provider's own verify endpoint.
    pub(crate) fn verify_url(self) -> &'static str {
        match self {
            Provider::Recaptcha => "https://www.google.com/recaptcha/api/siteverify",
            Provider::Hcaptcha => "https://api.hcaptcha.com/siteverify",
            Provider::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        }
    }

    /// The form field the provider's widget fills with its token.
    pub(crate) fn response_field(self) -> &'static str {
        match self {
            Provider::Recaptcha => "g-recaptcha-response",
            Provider::Hcaptcha => "h-captcha-response",
            Provider::Turnstile => "cf-turnstile-response",
        }
    }
}

/// A configured third-party check.
#[derive(Debug, Clone)]
pub(crate) struct External {
    pub provider: Provider,
    pub secret: crate::domain::Secret,
    pub verify_url: String,
    pub min_score: f64,
}

/// Why a third-party token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExternalRefused {
    /// The provider said no, or there was no token.
    Rejected,
    /// The provider could not be asked or gave no usable answer: refused all the same.
    Unavailable,
}

#[derive(Debug, serde::Deserialize)]
struct SiteVerify {
    success: bool,
    score: Option<f64>,
}

/// Asks the provider whether `token` is good, failing closed.
pub(crate) async fn verify_external(
    http: &reqwest::Client,
    external: &External,
    token: Option<&str>,
    remote_ip: Option<std::net::IpAddr>,
) -> Result<(), ExternalRefused> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(ExternalRefused::Rejected);
    };
    let ip = remote_ip.map(|ip| ip.to_string());
    let mut form = vec![("secret", external.secret.expose()), ("response", token)];
    if let Some(ip) = &ip {
        form.push(("remoteip", ip.as_str()));
    }
    let response = http
        .post(&external.verify_url)
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %crate::telemetry::chain(&e), "the captcha provider could not be reached");
            ExternalRefused::Unavailable
        })?;
    if !response.status().is_success() {
        tracing::warn!(status = %response.status(), "the captcha provider answered with an error");
        return Err(ExternalRefused::Unavailable);
    }
    let answer: SiteVerify = response.json().await.map_err(|e| {
        tracing::warn!(error = %crate::telemetry::chain(&e), "the captcha provider's answer is not understood");
        ExternalRefused::Unavailable
    })?;
    let score_ok = answer.score.is_none_or(|s| s >= external.min_score);
    if answer.success && score_ok {
        Ok(())
    } else {
        Err(ExternalRefused::Rejected)
    }
}
