//! Signed tokens in links and return paths, and the keyed hash of suppressed addresses.
//!
//! One key (stored in the database, shared by every node) signs everything; each use mixes in
//! its own label so a token made for one purpose is worthless for another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of MAC kept in a token: 96 bits, beyond guessing, short enough for a local part.
const MAC_BYTES: usize = 12;

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(****)")
    }
}

/// Whom an unsubscribe link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubscribeToken {
    pub subscriber: uuid::Uuid,
    /// The campaign the mail belonged to: unsubscribing leaves that campaign's lists.
    pub campaign: Option<i64>,
}

/// The payload of a link that expires and works once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiringToken {
    pub subscriber: uuid::Uuid,
    /// Unix seconds.
    pub expires: i64,
    pub nonce: [u8; 8],
}

impl ExpiringToken {
    const LEN: usize = 16 + 8 + 8;

    /// A new token for `subscriber` valid until `expires`, with a random nonce.
    pub fn new(subscriber: uuid::Uuid, expires: i64) -> Self {
        Self {
            subscriber,
            expires,
            nonce: rand::random(),
        }
    }

    /// The key under which its use is recorded.
    pub fn use_key(&self, purpose: &str) -> String {
        format!("{purpose}:{}", hex::encode(self.nonce))
    }

    fn to_bytes(self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(Self::LEN);
        bytes.extend_from_slice(self.subscriber.as_bytes());
        bytes.extend_from_slice(&self.expires.to_be_bytes());
        bytes.extend_from_slice(&self.nonce);
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        Some(Self {
            subscriber: uuid::Uuid::from_slice(&bytes[..16]).ok()?,
            expires: i64::from_be_bytes(bytes[16..24].try_into().ok()?),
            nonce: bytes[24..32].try_into().ok()?,
        })
    }
}

impl Signer {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    /// A fresh random key, hex-encoded, for the secrets table.
    pub fn generate_key() -> String {
        hex::encode(rand::random::<[u8; 32]>())
    }

    fn mac(&self, label: &str, payload: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }

    fn sign(&self, label: &str, payload: &[u8]) -> String {
        let mac = self.mac(label, payload);
        let mut bytes = payload.to_vec();
        bytes.extend_from_slice(&mac[..MAC_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn verify<'a>(&self, label: &str, token: &str, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
        *buf = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
        let split = buf.len().checked_sub(MAC_BYTES)?;
        let (payload, mac) = buf.split_at(split);
        let expected = self.mac(label, payload);
        bool::from(subtle::ConstantTimeEq::ct_eq(mac, &expected[..MAC_BYTES])).then_some(payload)
    }

    pub fn unsubscribe_token(&self, token: UnsubscribeToken) -> String {
        let mut payload = token.subscriber.as_bytes().to_vec();
        if let Some(campaign) = token.campaign {
            payload.extend_from_slice(&campaign.to_be_bytes());
        }
        self.sign("unsubscribe", &payload)
    }

    /// `None` for anything not made by [`Signer::unsubscribe_token`] with this key.
    pub fn parse_unsubscribe(&self, token: &str) -> Option<UnsubscribeToken> {
        let mut buf = Vec::new();
        let payload = self.verify("unsubscribe", token, &mut buf)?;
        let subscriber = uuid::Uuid::from_slice(payload.get(..16)?).ok()?;
        let campaign = match payload.get(16..)? {
            [] => None,
            rest => Some(i64::from_be_bytes(rest.try_into().ok()?)),
        };
        Some(UnsubscribeToken {
            subscriber,
            campaign,
        })
    }

    /// A preference-centre link's token: the subscriber, without expiry (old mail keeps
    /// working). Its own label, so the unsubscribe token, which mailbox providers receive in
    /// `List-Unsubscribe`, cannot open the preference centre (export, erase, change address).
    pub fn manage_token(&self, subscriber: uuid::Uuid) -> String {
        self.sign("manage", subscriber.as_bytes())
    }

    /// `None` for anything not made by [`Signer::manage_token`] with this key.
    pub fn parse_manage(&self, token: &str) -> Option<uuid::Uuid> {
        let mut buf = Vec::new();
        let payload = self.verify("manage", token, &mut buf)?;
        uuid::Uuid::from_slice(payload).ok()
    }

    /// A confirmation link's token: whose signup, until when, and a nonce that makes the
    /// link single-use.
    pub fn confirm_token(&self, token: &ExpiringToken) -> String {
        self.sign("confirm", &token.to_bytes())
    }

    /// `None` for a token this key did not make for confirmations; an expired token still
    /// parses (the page offers a new link), the caller checks `expires`.
    pub fn parse_confirm(&self, token: &str) -> Option<ExpiringToken> {
        let mut buf = Vec::new();
        ExpiringToken::from_bytes(self.verify("confirm", token, &mut buf)?)
    }

    /// A change-of-address link's token: the subscriber, the new address it confirms, the
    /// expiry and a nonce.
    pub fn change_address_token(&self, token: &ExpiringToken, new_email: &str) -> String {
        let mut payload = token.to_bytes();
        payload.extend_from_slice(new_email.as_bytes());
        self.sign("change address", &payload)
    }

    pub fn parse_change_address(&self, token: &str) -> Option<(ExpiringToken, String)> {
        let mut buf = Vec::new();
        let payload = self.verify("change address", token, &mut buf)?;
        let fixed = payload.get(..ExpiringToken::LEN)?;
        let email = std::str::from_utf8(payload.get(ExpiringToken::LEN..)?).ok()?;
        Some((ExpiringToken::from_bytes(fixed)?, email.to_owned()))
    }

    /// The desk's sign-in between the password and the second factor: who passed the
    /// password, until when (Unix seconds). Only a code completes it.
    pub fn second_factor_token(&self, user_id: i64, password_hash: &str, expires: i64) -> String {
        let mut payload = user_id.to_be_bytes().to_vec();
        payload.extend_from_slice(&expires.to_be_bytes());
        payload.extend_from_slice(&password_stamp(password_hash));
        self.sign("second factor", &payload)
    }

    /// A [`Signer::second_factor_token`]'s content, once its signature holds. The caller
    /// checks expiry and [`SecondFactorToken::made_after`].
    pub fn parse_second_factor(&self, token: &str) -> Option<SecondFactorToken> {
        let mut buf = Vec::new();
        let payload = self.verify("second factor", token, &mut buf)?;
        if payload.len() != 24 {
            return None;
        }
        Some(SecondFactorToken {
            user_id: i64::from_be_bytes(payload.get(..8)?.try_into().ok()?),
            expires: i64::from_be_bytes(payload.get(8..16)?.try_into().ok()?),
            stamp: payload.get(16..24)?.try_into().ok()?,
        })
    }

    /// The VERP token of a ledger row: its ID, signed, in characters a local part allows.
    pub fn verp_token(&self, delivery_id: i64) -> String {
        self.sign("verp", &delivery_id.to_be_bytes())
    }

    pub fn parse_verp(&self, token: &str) -> Option<i64> {
        let mut buf = Vec::new();
        let payload = self.verify("verp", token, &mut buf)?;
        Some(i64::from_be_bytes(payload.try_into().ok()?))
    }

    /// A secret for another scheme (the proof-of-work challenges), derived from the key under
    /// its own label so it shares nothing usable with the tokens.
    pub fn derived_secret(&self, label: &str) -> String {
        hex::encode(self.mac("derived secret", label.as_bytes()))
    }

    /// The keyed hash a consent record keeps of a reader's IP address when it may not keep
    /// the address: the same IP always gives the same hash, which nobody without the key can
    /// reverse by trying addresses.
    pub fn ip_hash(&self, ip: &str) -> String {
        hex::encode(&self.mac("consent ip", ip.as_bytes())[..16])
    }

    /// The keyed hash under which an address is suppressed: the address is not kept, and
    /// without the key the hash cannot be tested against guesses.
    pub fn address_hash(&self, canonical_email: &str) -> String {
        hex::encode(self.mac("suppression", canonical_email.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsubscribe_token_never_opens_the_preference_centre() {
        let signer = Signer::new(b"k".to_vec());
        let subscriber = uuid::Uuid::now_v7();
        let manage = signer.manage_token(subscriber);
        assert_eq!(signer.parse_manage(&manage), Some(subscriber));
        let unsubscribe = signer.unsubscribe_token(UnsubscribeToken {
            subscriber,
            campaign: None,
        });
        assert_eq!(signer.parse_manage(&unsubscribe), None);
        assert_eq!(signer.parse_unsubscribe(&manage), None);
    }

    #[test]
    fn unsubscribe_tokens_round_trip_and_reject_tampering() {
        let signer = Signer::new(b"k".to_vec());
        let token = UnsubscribeToken {
            subscriber: uuid::Uuid::now_v7(),
            campaign: Some(42),
        };
        let text = signer.unsubscribe_token(token);
        assert_eq!(signer.parse_unsubscribe(&text), Some(token));
        let mut tampered = text.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            signer.parse_unsubscribe(&String::from_utf8(tampered).unwrap()),
            None
        );
        assert_eq!(
            Signer::new(b"other".to_vec()).parse_unsubscribe(&text),
            None
        );
        assert_eq!(signer.parse_unsubscribe("not a token"), None);
        assert_eq!(
            signer.parse_verp(&text),
            None,
            "a token is only good for its purpose"
        );
    }

    #[test]
    fn confirmation_and_change_tokens_round_trip_and_stay_in_their_purpose() {
        let signer = Signer::new(b"k".to_vec());
        let token = ExpiringToken::new(uuid::Uuid::now_v7(), 1_900_000_000);
        let text = signer.confirm_token(&token);
        assert_eq!(signer.parse_confirm(&text), Some(token));
        assert_eq!(signer.parse_unsubscribe(&text), None);
        assert_eq!(signer.parse_change_address(&text), None);
        let change = signer.change_address_token(&token, "yeni@örnek.com.tr");
        assert_eq!(
            signer.parse_change_address(&change),
            Some((token, "yeni@örnek.com.tr".to_owned()))
        );
        assert_eq!(signer.parse_confirm(&change), None);
        assert_ne!(
            ExpiringToken::new(token.subscriber, 1).nonce,
            ExpiringToken::new(token.subscriber, 1).nonce
        );
    }

    #[test]
    fn verp_tokens_fit_a_local_part() {
        let signer = Signer::new(b"k".to_vec());
        let token = signer.verp_token(123_456_789);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(signer.parse_verp(&token), Some(123_456_789));
    }

    proptest::proptest! {
        /// Every token reads back as what was signed, under its own purpose only; any
        /// change to any character, or another key, makes it worthless.
        #[test]
        fn tokens_round_trip_and_any_tampering_is_refused(
            subscriber in proptest::array::uniform16(proptest::prelude::any::<u8>()),
            campaign in proptest::option::of(proptest::prelude::any::<i64>()),
            expires in proptest::prelude::any::<i64>(),
            delivery in proptest::prelude::any::<i64>(),
            position in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let signer = Signer::new(b"the shared key".to_vec());
            let other = Signer::new(b"another key".to_vec());
            let subscriber = uuid::Uuid::from_bytes(subscriber);
            let unsubscribe = UnsubscribeToken { subscriber, campaign };
            let expiring = ExpiringToken { subscriber, expires, nonce: [7; 8] };
            let tokens = [
                signer.unsubscribe_token(unsubscribe),
                signer.manage_token(subscriber),
                signer.confirm_token(&expiring),
                signer.verp_token(delivery),
            ];
            proptest::prop_assert_eq!(signer.parse_unsubscribe(&tokens[0]), Some(unsubscribe));
            proptest::prop_assert_eq!(signer.parse_manage(&tokens[1]), Some(subscriber));
            proptest::prop_assert_eq!(signer.parse_confirm(&tokens[2]), Some(expiring));
            proptest::prop_assert_eq!(signer.parse_verp(&tokens[3]), Some(delivery));
            // Another purpose's parser, or another key, refuses each.
            proptest::prop_assert_eq!(signer.parse_manage(&tokens[0]), None);
            proptest::prop_assert_eq!(signer.parse_unsubscribe(&tokens[1]), None);
            proptest::prop_assert_eq!(other.parse_unsubscribe(&tokens[0]), None);
            proptest::prop_assert_eq!(other.parse_verp(&tokens[3]), None);
            for token in &tokens {
                let mut tampered: Vec<u8> = token.bytes().collect();
                let at = position.index(tampered.len());
                tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
                let tampered = String::from_utf8(tampered).unwrap();
                proptest::prop_assert_eq!(signer.parse_unsubscribe(&tampered), None);
                proptest::prop_assert_eq!(signer.parse_manage(&tampered), None);
                proptest::prop_assert_eq!(signer.parse_confirm(&tampered), None);
                proptest::prop_assert_eq!(signer.parse_verp(&tampered), None);
            }
        }
    }
}

/// A sign-in between its password and its second factor.
#[derive(Debug, Clone, Copy)]
pub struct SecondFactorToken {
    pub user_id: i64,
    /// Unix seconds.
    pub expires: i64,
    stamp: [u8; 8],
}

impl SecondFactorToken {
    /// Whether the token was made while the user's password hash was `password_hash`: a
    /// token from before a change of password signs no one in.
    pub fn made_after(&self, password_hash: &str) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            &self.stamp[..],
            &password_stamp(password_hash)[..],
        ))
    }
}

/// Eight bytes that change with a password's hash, binding a token to the password it was
/// made after (the hash is salted, so they say nothing of the password).
fn password_stamp(password_hash: &str) -> [u8; 8] {
    use sha2::Digest as _;
    let digest = Sha256::digest(password_hash.as_bytes());
    let mut stamp = [0u8; 8];
    stamp.copy_from_slice(&digest[..8]);
    stamp
}
