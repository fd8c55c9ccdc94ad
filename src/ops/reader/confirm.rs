//! Confirmations: the mail that asks a reader to confirm a signup, the link in it, and the
//! link that confirms a new address. Each link works once and expires; its GET shows what
//! it would do and changes nothing, its POST does it.

use std::net::IpAddr;

use super::{Readers, StrangerMail};
use crate::db;
use crate::db::signup as store;
use crate::domain::{EmailAddress, Lang, Subscriber, SubscriberStatus, Timestamp, TokenPurpose};
use crate::mail::tokens::ExpiringToken;
use crate::ops::access::Caller;
use crate::ops::audit::{self, Change};
use crate::ops::subscribers::{Touches, require_readers};
use crate::ops::{OpsError, OpsResult};

/// What asking for a confirmation mail did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resent {
    Sent,
    /// No subscription waits for confirmation.
    NothingWaiting,
    /// The address had a confirmation moments ago, or its share for the day.
    Limited,
}

/// A confirmation link's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfirmState {
    /// Not a link of ours, or its subscriber is gone.
    Invalid,
    /// Expired: a new one may be asked for.
    Expired,
    Used,
    /// Nothing waits for confirmation.
    Nothing,
    /// These lists wait for `email`'s confirmation.
    Ready {
        email: String,
        lists: Vec<String>,
    },
    /// Just confirmed these; the reader's preference page is at `manage_url`.
    Confirmed {
        lists: Vec<String>,
        manage_url: String,
    },
}

/// A change-of-address link's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChangeState {
    Invalid,
    Expired,
    Used,
    Ready {
        new_email: String,
    },
    Changed,
    /// Another subscriber has the address.
    Taken,
}

impl Readers {
    /// Mails a confirmation link for the subscriber's waiting lists, unless the address got
    /// one moments ago or has had its share today.
    ///
    /// # Errors
    /// When the database fails or the mail cannot be built.
    pub(crate) async fn send_confirmation(
        &self,
        subscriber_id: i64,
        uuid: uuid::Uuid,
        email: &EmailAddress,
        name: &str,
        lang: Lang,
        now: Timestamp,
    ) -> OpsResult<Resent> {
        let lists = self.pending_names(subscriber_id).await?;
        if lists.is_empty() {
            return Ok(Resent::NothingWaiting);
        }
        let token = ExpiringToken::new(uuid, now.unix() + self.policy.confirm_valid_secs);
        let url = self.kit.links.confirm(&token, lang);
        let context = serde_json::json!({
            "email": email.as_str(),
            "lists": lists,
            "url": url,
            "button": "confirm.button",
            "footer": "mail.confirm.ignore",
        });
        let mail = StrangerMail {
            template: "confirm",
            subject_key: "mail.confirm.subject",
            to: email,
            to_name: name,
            subscriber_id,
            lang,
            context,
        };
        Ok(if self.mail_stranger(mail, now).await? {
            Resent::Sent
        } else {
            Resent::Limited
        })
    }

    /// The names of the lists waiting for the subscriber's confirmation.
    async fn pending_names(&self, subscriber_id: i64) -> OpsResult<Vec<String>> {
        Ok(store::pending_lists(&self.db, subscriber_id)
            .await?
            .into_iter()
            .map(|(_, name)| name)
            .collect())
    }

    /// Resends the confirmation mail for a member of staff (listmonk's
    /// `POST /api/subscribers/:id/optin`), within the same per-address limits.
    ///
    /// # Errors
    /// `NotFound` for an unknown subscriber or one beyond the caller's lists.
    pub(crate) async fn resend_confirmation(
        &self,
        by: &Caller,
        subscriber_id: i64,
    ) -> OpsResult<Resent> {
        // The mail speaks for every list the reader waits on: a caller limited to some lists
        // must manage them all, or it would mail (and learn of) another desk's lists.
        require_readers(&self.db, by, &[subscriber_id], Touches::Everything).await?;
        let resent = self.resend(subscriber_id).await?;
        if resent == Resent::Sent {
            let change = Change::new("subscriber.optin", "subscriber", Some(subscriber_id));
            audit::record(&self.db, by, change).await;
        }
        Ok(resent)
    }

    async fn resend(&self, subscriber_id: i64) -> OpsResult<Resent> {
        let subscriber = db::subscribers::get(&self.db, subscriber_id)
            .await?
            .ok_or(OpsError::NotFound("subscriber"))?;
        if subscriber.status == SubscriberStatus::Blocklisted {
            return Ok(Resent::NothingWaiting);
        }
        let lang = self.subscriber_lang(subscriber_id).await?;
        self.send_confirmation(
            subscriber.id,
            subscriber.uuid,
            &subscriber.email,
            subscriber.name.as_str(),
            lang,
            Timestamp::now(),
        )
        .await
    }

    async fn token_subscriber(
        &self,
        token: &ExpiringToken,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> OpsResult<Result<Subscriber, ConfirmState>> {
        let Some(subscriber) = db::subscribers::get_by_uuid(&self.db, token.subscriber).await?
        else {
            return Ok(Err(ConfirmState::Invalid));
        };
        if token.expires <= now.unix() {
            return Ok(Err(ConfirmState::Expired));
        }
        if db::spent::is_spent(&self.db, &token.use_key(purpose.as_str())).await? {
            return Ok(Err(ConfirmState::Used));
        }
        Ok(Ok(subscriber))
    }

    /// What a confirmation link would do (`apply` false, for a GET: changes nothing) or
    /// does (`apply` true, once).
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn confirm(&self, token: &str, apply: bool) -> OpsResult<ConfirmState> {
        let now = Timestamp::now();
        let Some(parsed) = self.kit.signer.parse_confirm(token) else {
            return Ok(ConfirmState::Invalid);
        };
        let subscriber = match self
            .token_subscriber(&parsed, TokenPurpose::Confirm, now)
            .await?
        {
            Ok(s) => s,
            Err(state) => return Ok(state),
        };
        let lists = self.pending_names(subscriber.id).await?;
        if lists.is_empty() {
            return Ok(ConfirmState::Nothing);
        }
        if !apply {
            return Ok(ConfirmState::Ready {
                email: subscriber.email.as_str().to_owned(),
                lists,
            });
        }
        let expires = Timestamp::from_unix(parsed.expires)?;
        if !db::spent::spend(
            &self.db,
            &parsed.use_key(TokenPurpose::Confirm.as_str()),
            expires,
        )
        .await?
        {
            return Ok(ConfirmState::Used);
        }
        let hash = self.kit.signer.address_hash(subscriber.email.as_str());
        store::confirm(&self.db, subscriber.id, &[], &hash, now).await?;
        Ok(ConfirmState::Confirmed {
            lists,
            manage_url: self.kit.links.manage(subscriber.uuid),
        })
    }

    /// A new confirmation link for the signup behind an expired (or any valid) one.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn resend_from_link(&self, token: &str, ip: Option<IpAddr>) -> OpsResult<()> {
        let Some(parsed) = self.kit.signer.parse_confirm(token) else {
            return Ok(());
        };
        if self.enter(None, ip).is_err() {
            return Ok(());
        }
        let Some(subscriber) = db::subscribers::get_by_uuid(&self.db, parsed.subscriber).await?
        else {
            return Ok(());
        };
        self.resend(subscriber.id).await?;
        Ok(())
    }

    /// What a change-of-address link would do (`apply` false) or does (`apply` true, once).
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn change_address(&self, token: &str, apply: bool) -> OpsResult<ChangeState> {
        let now = Timestamp::now();
        let Some((parsed, new_email)) = self.kit.signer.parse_change_address(token) else {
            return Ok(ChangeState::Invalid);
        };
        let subscriber = match self
            .token_subscriber(&parsed, TokenPurpose::Change, now)
            .await?
        {
            Ok(s) => s,
            Err(ConfirmState::Expired) => return Ok(ChangeState::Expired),
            Err(ConfirmState::Used) => return Ok(ChangeState::Used),
            Err(_) => return Ok(ChangeState::Invalid),
        };
        let Ok(new) = EmailAddress::parse(&new_email) else {
            return Ok(ChangeState::Invalid);
        };
        if !apply {
            return Ok(ChangeState::Ready {
                new_email: new.as_str().to_owned(),
            });
        }
        if db::subscribers::get_by_email(&self.db, &new)
            .await?
            .is_some()
        {
            return Ok(ChangeState::Taken);
        }
        let expires = Timestamp::from_unix(parsed.expires)?;
        if !db::spent::spend(
            &self.db,
            &parsed.use_key(TokenPurpose::Change.as_str()),
            expires,
        )
        .await?
        {
            return Ok(ChangeState::Used);
        }
        if store::change_address(&self.db, subscriber.id, &new, now).await? {
            Ok(ChangeState::Changed)
        } else {
            Ok(ChangeState::Taken)
        }
    }

    /// Confirms a subscriber's lists as an administrator says (listmonk's
    /// `POST /subscription/optin/:uuid` with `l` and `confirm=true`); every waiting list
    /// when `lists` is empty.
    ///
    /// # Errors
    /// `NotFound` for an unknown subscriber.
    pub(crate) async fn confirm_as_admin(
        &self,
        by: &Caller,
        subscriber: uuid::Uuid,
        lists: &[uuid::Uuid],
    ) -> OpsResult<u64> {
        let subscriber = db::subscribers::get_by_uuid(&self.db, subscriber)
            .await?
            .ok_or(OpsError::NotFound("subscriber"))?;
        // Confirming lifts the address's suppression (a hard bounce, a complaint) for every
        // list, so it is for a caller limited to none.
        by.require_every_list(crate::ops::access::Permission::SubscribersManage)?;
        let all = db::subscribers::subscriptions_of(&self.db, &[subscriber.id]).await?;
        let ids: Vec<i64> = all
            .iter()
            .filter(|s| lists.contains(&s.list.uuid))
            .map(|s| s.list.id)
            .collect();
        if !lists.is_empty() && ids.is_empty() {
            return Ok(0);
        }
        let hash = self.kit.signer.address_hash(subscriber.email.as_str());
        let confirmed =
            store::confirm(&self.db, subscriber.id, &ids, &hash, Timestamp::now()).await?;
        let change = Change::new("subscriber.confirm", "subscriber", Some(subscriber.id))
            .after(&serde_json::json!({"lists": ids, "confirmed": confirmed}));
        audit::record(&self.db, by, change).await;
        Ok(confirmed)
    }

    /// Removes readers left unconfirmed past the expiry, and forgets old rate-limit state and
    /// spent keys past their expiry.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn expire(&self, now: Timestamp) -> OpsResult<store::Expired> {
        self.limiters().per_ip.retain_recent();
        db::spent::forget_expired(&self.db, now).await?;
        let expired = store::expire(
            &self.db,
            now.plus_secs(-self.policy.expiry_secs),
            now.plus_secs(-86_400),
        )
        .await?;
        if expired != store::Expired::default() {
            tracing::info!(
                subscriptions = expired.subscriptions,
                subscribers = expired.subscribers,
                "unconfirmed readers expired"
            );
        }
        Ok(expired)
    }
}
