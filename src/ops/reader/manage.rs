//! The preference centre (`/m/TOKEN`, from the link in every mail) and the form that mails
//! that link to a reader who lost it: topics, a change of address, leaving every list,
//! downloading one's data and erasing it.

use serde::Serialize;

use super::signup::Request;
use super::{Proof, Proofs, Readers, Refusal, StrangerMail, parse_email};
use crate::db;
use crate::db::signup::{self as store, Event};
use crate::domain::{
    Lang, List, ListAction, Subscriber, SubscriberStatus, SubscriptionStatus, Timestamp,
};
use crate::mail::tokens::ExpiringToken;
use crate::ops::OpsResult;
use crate::ops::subscribers::{self, ReaderData};

/// A topic on the preference page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Topic {
    pub uuid: uuid::Uuid,
    pub name: String,
    pub subscribed: bool,
    pub pending: bool,
}

/// What the preference page shows.
#[derive(Debug, Clone)]
pub(crate) struct Preferences {
    pub subscriber: Subscriber,
    pub topics: Vec<Topic>,
    pub lang: Option<Lang>,
}

impl Readers {
    /// A reader asks for their preference link by address. The answer is the same whether
    /// or not the address is known; an address with only unconfirmed readers gets a new
    /// confirmation link instead, within the per-address limits.
    ///
    /// # Errors
    /// `Ok(Err(_))` for a refused request (bad address, proof of work, limits).
    pub(crate) async fn send_link(
        &self,
        email: &str,
        proofs: &Proofs,
        lang: Lang,
    ) -> OpsResult<Result<(), Vec<Refusal>>> {
        let now = Timestamp::now();
        if let Err(refusal) = self.enter(proofs.honeypot.as_deref(), proofs.ip) {
            return Ok(Err(vec![refusal]));
        }
        let email = match parse_email(email) {
            Ok(e) => e,
            Err(refusal) => return Ok(Err(vec![refusal])),
        };
        // The page asks for the proof of work only: it mails someone who is already a
        // reader, to the address they gave.
        if let Err(refusal) = self.prove_human(proofs, Proof::Work, now).await? {
            return Ok(Err(vec![refusal]));
        }
        let Some(subscriber) = db::subscribers::get_by_email(&self.db, &email).await? else {
            return Ok(Ok(()));
        };
        if subscriber.status == SubscriberStatus::Blocklisted {
            return Ok(Ok(()));
        }
        let subscriptions = db::subscribers::subscriptions_of(&self.db, &[subscriber.id]).await?;
        let confirmed = subscriptions
            .iter()
            .any(|s| s.status != SubscriptionStatus::Unconfirmed);
        if !confirmed {
            self.send_confirmation(
                subscriber.id,
                subscriber.uuid,
                &subscriber.email,
                subscriber.name.as_str(),
                lang,
                now,
            )
            .await?;
            return Ok(Ok(()));
        }
        let url = format!(
            "{}?lang={}",
            self.kit.links.manage(subscriber.uuid),
            lang.as_str()
        );
        let mail = StrangerMail {
            template: "link",
            subject_key: "mail.link.subject",
            to: &subscriber.email,
            to_name: subscriber.name.as_str(),
            subscriber_id: subscriber.id,
            lang,
            context: serde_json::json!({
                "url": url,
                "button": "mail.link.button",
                "footer": "mail.link.ignore",
            }),
        };
        self.mail_stranger(mail, now).await?;
        Ok(Ok(()))
    }

    /// The subscriber a preference link is for.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn manage_target(&self, token: &str) -> OpsResult<Option<Subscriber>> {
        let Some(subscriber) = self.kit.signer.parse_manage(token) else {
            return Ok(None);
        };
        Ok(db::subscribers::get_by_uuid(&self.db, subscriber).await?)
    }

    /// The preference page's topics: every public list, and the private ones the reader
    /// is on.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn preferences(&self, subscriber: Subscriber) -> OpsResult<Preferences> {
        let subscriptions = db::subscribers::subscriptions_of(&self.db, &[subscriber.id]).await?;
        let public = db::lists::public(&self.db).await?;
        let mut topics: Vec<Topic> = Vec::new();
        let mut langs = Vec::new();
        for list in &public {
            let sub = subscriptions.iter().find(|s| s.list.id == list.id);
            topics.push(Topic {
                uuid: list.uuid,
                name: list.name.clone(),
                subscribed: sub.is_some_and(|s| s.status != SubscriptionStatus::Unsubscribed),
                pending: sub.is_some_and(|s| s.status == SubscriptionStatus::Unconfirmed),
            });
        }
        for s in &subscriptions {
            if !public.iter().any(|l| l.id == s.list.id) {
                topics.push(Topic {
                    uuid: s.list.uuid,
                    name: s.list.name.clone(),
                    subscribed: s.status != SubscriptionStatus::Unsubscribed,
                    pending: s.status == SubscriptionStatus::Unconfirmed,
                });
            }
            if s.status != SubscriptionStatus::Unsubscribed {
                langs.push(s.list.language);
            }
        }
        let lang = langs
            .first()
            .copied()
            .flatten()
            .filter(|first| langs.iter().all(|l| *l == Some(*first)));
        Ok(Preferences {
            subscriber,
            topics,
            lang,
        })
    }

    /// Makes the reader's topics exactly `chosen` (UUIDs): public lists join confirmed (the
    /// link came by mail, so the address is the reader's), with a consent record; lists not
    /// chosen are left. Unknown or private UUIDs are ignored: a private list can be left
    /// but not joined from here.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn save_topics(
        &self,
        subscriber: &Subscriber,
        chosen: &[String],
        request: &Request,
        lang: Lang,
    ) -> OpsResult<()> {
        let now = Timestamp::now();
        let chosen: Vec<uuid::Uuid> = chosen
            .iter()
            .filter_map(|c| uuid::Uuid::parse_str(c.trim()).ok())
            .collect();
        let subscriptions = db::subscribers::subscriptions_of(&self.db, &[subscriber.id]).await?;
        let leave: Vec<i64> = subscriptions
            .iter()
            .filter(|s| s.status != SubscriptionStatus::Unsubscribed)
            .filter(|s| !chosen.contains(&s.list.uuid))
            .map(|s| s.list.id)
            .collect();
        let join: Vec<List> = db::lists::public_by_uuids(&self.db, &chosen)
            .await?
            .into_iter()
            .filter(|l| {
                !subscriptions
                    .iter()
                    .any(|s| s.list.id == l.id && s.status == SubscriptionStatus::Confirmed)
            })
            .collect();
        if !leave.is_empty() {
            db::subscribers::change_lists(
                &self.db,
                &[subscriber.id],
                &leave,
                ListAction::Unsubscribe,
            )
            .await?;
        }
        if !join.is_empty() {
            let consent = self.consent(request, lang);
            let hash = self.kit.signer.address_hash(subscriber.email.as_str());
            store::store(
                &self.db,
                &store::Signup {
                    email: &subscriber.email,
                    name: &subscriber.name,
                    lists: &join,
                    consent: &consent,
                    verified: true,
                    address_hash: &hash,
                },
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// Unsubscribes the reader from every list.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn unsubscribe_all(&self, subscriber: &Subscriber) -> OpsResult<()> {
        let lists: Vec<i64> = db::subscribers::subscriptions_of(&self.db, &[subscriber.id])
            .await?
            .into_iter()
            .map(|s| s.list.id)
            .collect();
        db::subscribers::change_lists(&self.db, &[subscriber.id], &lists, ListAction::Unsubscribe)
            .await?;
        Ok(())
    }

    /// Mails a link to the new address that moves the subscription there when followed.
    /// Within the new address's per-address limits, so this cannot flood a stranger either.
    ///
    /// # Errors
    /// `Ok(Err(_))` for an invalid address.
    pub(crate) async fn request_change(
        &self,
        subscriber: &Subscriber,
        new_email: &str,
        proofs: &Proofs,
        lang: Lang,
    ) -> OpsResult<Result<(), Refusal>> {
        let now = Timestamp::now();
        // Each request mails an address the requester chose, so it passes the signup form's
        // checks: the honeypot, the per-IP and overall limits, the proof of work and the
        // captcha, and a limit per link.
        if let Err(refusal) = self.enter(proofs.honeypot.as_deref(), proofs.ip) {
            return Ok(Err(refusal));
        }
        let new = match parse_email(new_email) {
            Ok(e) => e,
            Err(r) => return Ok(Err(r)),
        };
        if new == subscriber.email {
            return Ok(Ok(()));
        }
        let human = self.prove_human(proofs, Proof::WorkAndCaptcha, now).await?;
        if let Err(refusal) = human {
            return Ok(Err(refusal));
        }
        let link = self
            .kit
            .signer
            .address_hash(&format!("change-of-address:{}", subscriber.uuid));
        let (requests, _) =
            store::events(&self.db, &link, Event::Attempt, now.plus_secs(-3600)).await?;
        if requests >= self.publisher().attempts_per_hour {
            return Ok(Err(Refusal::TooManyForAddress));
        }
        store::record_event(&self.db, &link, Event::Attempt, now).await?;
        let token =
            ExpiringToken::new(subscriber.uuid, now.unix() + self.policy.confirm_valid_secs);
        let mail = StrangerMail {
            template: "change",
            subject_key: "mail.change.subject",
            to: &new,
            to_name: subscriber.name.as_str(),
            subscriber_id: subscriber.id,
            lang,
            context: serde_json::json!({
                "url": self.kit.links.change(&token, new.as_str(), lang),
                "button": "mail.change.button",
                "footer": "mail.link.ignore",
            }),
        };
        self.mail_stranger(mail, now).await?;
        Ok(Ok(()))
    }

    /// Everything stored about the reader: the same export an administrator downloads.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn reader_data(&self, subscriber: &Subscriber) -> OpsResult<ReaderData> {
        subscribers::export(&self.db, &crate::ops::access::Caller::cli(), subscriber.id).await
    }

    /// Erases the subscriber, keeping only the keyed hash of its address as a suppression.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn erase(&self, subscriber: &Subscriber) -> OpsResult<()> {
        let hash = self.kit.signer.address_hash(subscriber.email.as_str());
        store::erase(&self.db, subscriber.id, &hash, Timestamp::now()).await?;
        Ok(())
    }
}
