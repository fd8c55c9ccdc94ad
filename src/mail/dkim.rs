//! DKIM signing (RFC 6376, and RFC 8463 for Ed25519) with mail-auth, keys from the
//! configuration. Every configured key adds one signature; RSA-2048 plus Ed25519 is the
//! usual pair, since not every verifier knows Ed25519.

use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{DkimSigner, Done};
use rustls::pki_types::PrivateKeyDer;
use serde::Deserialize;

use crate::domain::Secret;

/// The headers signed. From and the List-* headers appear once more than they occur, so a
/// copy added on the way invalidates the signature (oversigning).
pub(crate) const SIGNED_HEADERS: &[&str] = &[
    "From",
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "List-Id",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Unsubscribe-Post",
    "Feedback-ID",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Rsa,
    Ed25519,
}

/// One `[[dkim]]` table of the configuration.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct DkimKeyConfig {
    pub domain: String,
    pub selector: String,
    pub algorithm: Algorithm,
    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); or
    pub private_key: Option<Secret>,
    /// a file holding it.
    pub private_key_file: Option<std::path::PathBuf>,
}

enum Key {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
    /// Stands in for a key the crypto library refuses at signing time: mail-auth signs any
    /// message bulten builds, so no configuration can make it fail in a test.
    #[cfg(test)]
    Refusing,
}

/// The signers of every configured key.
#[derive(Clone, Default)]
pub(crate) struct Dkim {
    keys: Arc<Vec<Key>>,
}

impl std::fmt::Debug for Dkim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dkim({} keys)", self.keys.len())
    }
}

impl Dkim {
    /// # Errors
    /// When a key cannot be read or is not a valid key of its algorithm.
    pub(crate) fn from_config(configs: &[DkimKeyConfig]) -> anyhow::Result<Self> {
        let mut keys = Vec::with_capacity(configs.len());
        for config in configs {
            let what = format!("DKIM key {}._domainkey.{}", config.selector, config.domain);
            let pem = match (&config.private_key, &config.private_key_file) {
                (Some(key), _) => key.expose().to_owned(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {what} from {}", path.display()))?,
                (None, None) => anyhow::bail!("{what}: set private_key or private_key_file"),
            };
            let key = match config.algorithm {
                Algorithm::Rsa => {
                    let der = pem_to_der(&pem).with_context(|| format!("{what} is not PEM"))?;
                    // PKCS#1 (`BEGIN RSA PRIVATE KEY`, what openssl genrsa wrote for years)
                    // and PKCS#8 (`BEGIN PRIVATE KEY`) are both common.
                    let der = if pem.contains("BEGIN RSA PRIVATE KEY") {
                        PrivateKeyDer::Pkcs1(der.into())
                    } else {
                        PrivateKeyDer::Pkcs8(der.into())
                    };
                    let key = RsaKey::<Sha256>::from_key_der(der)
                        .map_err(|e| anyhow::anyhow!("{what} is not an RSA private key: {e}"))?;
                    Key::Rsa(
                        DkimSigner::from_key(key)
                            .domain(config.domain.clone())
                            .selector(config.selector.clone())
                            .headers(SIGNED_HEADERS.iter().copied()),
                    )
                }
                Algorithm::Ed25519 => {
                    let der = pem_to_der(&pem).with_context(|| format!("{what} is not PEM"))?;
                    let key = ed25519_key(&der)
                        .map_err(|e| anyhow::anyhow!("{what} is not an Ed25519 key: {e}"))?;
                    Key::Ed25519(
                        DkimSigner::from_key(key)
                            .domain(config.domain.clone())
                            .selector(config.selector.clone())
                            .headers(SIGNED_HEADERS.iter().copied()),
                    )
                }
            };
            keys.push(key);
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// The message with a `DKIM-Signature` header per key in front.
    ///
    /// # Errors
    /// When signing fails (a malformed message).
    pub(crate) fn sign(&self, message: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        if self.keys.is_empty() {
            return Ok(message);
        }
        let mut headers = Vec::with_capacity(self.keys.len() * 700);
        for key in self.keys.iter() {
            let signature = match key {
                Key::Rsa(signer) => signer.sign(&message),
                Key::Ed25519(signer) => signer.sign(&message),
                #[cfg(test)]
                Key::Refusing => Err(mail_auth::Error::Crypto(
                    mail_auth::common::crypto::CryptoError::Library("refused for the test".into()),
                )),
            }
            .map_err(|e| anyhow::Error::new(e).context("DKIM signing failed"))?;
            signature.write_header(&mut headers);
        }
        headers.extend_from_slice(&message);
        Ok(headers)
    }
}

/// An Ed25519 key from PKCS#8. `openssl genpkey` writes version 1, without the public key,
/// which ring's PKCS#8 reader refuses; the key is then rebuilt from its 32-byte seed.
fn ed25519_key(der: &[u8]) -> anyhow::Result<Ed25519Key> {
    if let Ok(key) = Ed25519Key::from_pkcs8_der(der) {
        return Ok(key);
    }
    // PKCS#8 v1 for Ed25519: a fixed 16-byte prefix, then the seed.
    const V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let seed = der
        .strip_prefix(&V1_PREFIX)
        .filter(|seed| seed.len() == 32)
        .context("not an Ed25519 PKCS#8 key")?;
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
        .map_err(|e| anyhow::anyhow!("invalid Ed25519 seed: {e}"))?;
    use ring::signature::KeyPair as _;
    Ed25519Key::from_seed_and_public_key(seed, pair.public_key().as_ref())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A DKIM key's DNS record, to publish as TXT.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct DnsRecord {
    /// `selector._domainkey.domain`.
    pub(crate) name: String,
    /// `v=DKIM1; k=…; p=…`.
    pub(crate) value: String,
}

/// The TXT record that lets receivers check `config`'s signatures: for RSA the public key
/// as SubjectPublicKeyInfo (what `openssl pkey -pubout` and opendkim publish), for Ed25519
/// the bare 32-byte key (RFC 8463).
///
/// # Errors
/// When the key cannot be read or is not a key of its algorithm.
pub(crate) fn dns_record(config: &DkimKeyConfig) -> anyhow::Result<DnsRecord> {
    use ring::signature::KeyPair as _;
    use spki::der::Encode as _;
    let pem = match (&config.private_key, &config.private_key_file) {
        (Some(key), _) => key.expose().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, None) => anyhow::bail!("set private_key or private_key_file"),
    };
    let der = pem_to_der(&pem).context("not PEM")?;
    let (kind, public) = match config.algorithm {
        Algorithm::Rsa => {
            let pair = if pem.contains("BEGIN RSA PRIVATE KEY") {
                ring::signature::RsaKeyPair::from_der(&der)
            } else {
                ring::signature::RsaKeyPair::from_pkcs8(&der)
            }
            .map_err(|e| anyhow::anyhow!("not an RSA private key: {e}"))?;
            let info = spki::SubjectPublicKeyInfoRef {
                algorithm: spki::AlgorithmIdentifierRef {
                    oid: spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
                    parameters: Some(spki::der::asn1::AnyRef::NULL),
                },
                subject_public_key: spki::der::asn1::BitStringRef::from_bytes(
                    pair.public_key().as_ref(),
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            };
            ("rsa", info.to_der().map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        Algorithm::Ed25519 => {
            let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                .map_err(|e| anyhow::anyhow!("not an Ed25519 key: {e}"))?;
            ("ed25519", pair.public_key().as_ref().to_vec())
        }
    };
    Ok(DnsRecord {
        name: format!("{}._domainkey.{}", config.selector, config.domain),
        value: format!(
            "v=DKIM1; k={kind}; p={}",
            base64::engine::general_purpose::STANDARD.encode(public)
        ),
    })
}

fn pem_to_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .context("invalid base64")
}

#[cfg(test)]
impl Dkim {
    /// Keys whose every signature fails, to see what a signing failure does.
    pub(crate) fn refusing_every_message() -> Self {
        Self {
            keys: Arc::new(vec![Key::Refusing]),
        }
    }
}
