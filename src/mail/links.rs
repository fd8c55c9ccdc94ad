//! Every link bulten puts in mail, built in one place: the unsubscribe link (`/u/`), the
//! preference centre (`/m/`), the confirmation of a signup and of a new address. A test in
//! `tests/api` follows each one on the router, so a link and its route cannot drift apart.

use crate::domain::Lang;
use crate::mail::tokens::{ExpiringToken, Signer, UnsubscribeToken};

/// The public base URL and the key that signs the links' tokens.
#[derive(Debug, Clone)]
pub struct Links {
    /// No trailing slash.
    root: String,
    signer: Signer,
}

impl Links {
    pub fn new(root_url: &str, signer: Signer) -> Self {
        Self {
            root: root_url.trim_end_matches('/').to_owned(),
            signer,
        }
    }

    /// The public base of every link, without a trailing slash.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// A page of bulten's own, from a path starting with `/`.
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    /// The one-click unsubscribe URL (RFC 8058): leaves the campaign's lists, or all.
    pub fn unsubscribe(&self, subscriber: uuid::Uuid, campaign: Option<i64>) -> String {
        let token = self.signer.unsubscribe_token(UnsubscribeToken {
            subscriber,
            campaign,
        });
        format!("{}/u/{token}", self.root)
    }

    /// The reader's preference centre.
    pub fn manage(&self, subscriber: uuid::Uuid) -> String {
        format!("{}/m/{}", self.root, self.signer.manage_token(subscriber))
    }

    /// The link that confirms a signup, opening in the reader's language.
    pub fn confirm(&self, token: &ExpiringToken, lang: Lang) -> String {
        format!(
            "{}/subscription/confirm/{}?lang={}",
            self.root,
            self.signer.confirm_token(token),
            lang.as_str()
        )
    }

    /// The link that confirms a change to `new_email`, sent to that address.
    pub fn change(&self, token: &ExpiringToken, new_email: &str, lang: Lang) -> String {
        format!(
            "{}/subscription/change/{}?lang={}",
            self.root,
            self.signer.change_address_token(token, new_email),
            lang.as_str()
        )
    }
}
