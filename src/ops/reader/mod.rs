//! The reader's side: everything a stranger or a reader can do without an account, in
//! the files the same nouns name in `web/public/` and `tests/api/` (the store behind all
//! three is `db/signup.rs`; the unsubscribe link is `ops::subscribers`):
//!
//! - `signup`: the one set of checks every way in goes through (hosted form, embedded form,
//!   JSON) and the consent record;
//! - `confirm`: confirmation mails and links, and the links that confirm a new address;
//! - `manage`: the preference centre and the "send me my link" form: topics, a change of
//!   address, leaving everything, the reader's data and its erasure.
//!
//! Two paths are shared by all of them, so a rule holds everywhere: the gate every public
//! form passes ([`Readers::enter`], then [`Readers::prove_human`]) and the one way a mail a
//! stranger's action causes is sent ([`Readers::mail_stranger`]), within the per-address
//! allowance. Answers never tell whether an address was known.

mod confirm;
mod manage;
mod signup;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

pub(crate) use confirm::{ChangeState, ConfirmState, Resent};
pub(crate) use manage::Preferences;
pub(crate) use signup::{Accepted, Request};

use crate::db::Db;
use crate::db::signup::{self as store, Event};
use crate::domain::{EmailAddress, EmailError, Lang, List, Timestamp};
use crate::i18n;
use crate::ops::OpsResult;
use crate::ops::captcha::{self, Difficulty, ExternalRefused, Refused};
use crate::ops::compose::MailKit;
use crate::ops::publisher::{Live, Publisher};
use crate::ops::tx::{self, SystemMail};
use crate::render::views::{Views, fill};

/// What a consent record keeps of the reader's IP address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpRecord {
    Store,
    #[default]
    Hash,
    Drop,
}

/// What the request says about language; the lists may add theirs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LangChoice {
    /// The reader picked it (the switch, or a form field).
    pub explicit: Option<Lang>,
    /// From `Accept-Language`.
    pub browser: Option<Lang>,
}

/// Why a signup (or a request for a link) was refused. Each has a localized message; the
/// web layer maps them to statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Honeypot,
    TooManyFromIp,
    TooManyOverall,
    TooManyForAddress,
    EmailMissing,
    EmailInvalid,
    NameInvalid,
    NoTopic,
    UnknownTopic,
    ProofOfWork(Refused),
    Captcha,
    CaptchaUnavailable,
}

impl Refusal {
    /// The catalog key of its message.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Refusal::Honeypot => "error.honeypot",
            Refusal::TooManyFromIp => "error.too_many_ip",
            Refusal::TooManyOverall => "error.too_many_overall",
            Refusal::TooManyForAddress => "error.too_many_address",
            Refusal::EmailMissing => "error.email_missing",
            Refusal::EmailInvalid => "error.email_invalid",
            Refusal::NameInvalid => "error.name_invalid",
            Refusal::NoTopic => "error.no_topic",
            Refusal::UnknownTopic => "error.unknown_topic",
            Refusal::ProofOfWork(Refused::Missing) => "error.pow_missing",
            Refusal::ProofOfWork(Refused::Invalid) => "error.pow_invalid",
            Refusal::ProofOfWork(Refused::Expired) => "error.pow_expired",
            Refusal::ProofOfWork(Refused::Replayed) => "error.pow_replayed",
            Refusal::Captcha => "error.captcha",
            Refusal::CaptchaUnavailable => "error.captcha_unavailable",
        }
    }

    /// The form field it is about, for pages that tie errors to fields.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Refusal::EmailMissing | Refusal::EmailInvalid | Refusal::TooManyForAddress => "email",
            Refusal::NameInvalid => "name",
            Refusal::NoTopic | Refusal::UnknownTopic => "lists",
            Refusal::ProofOfWork(_) => "altcha",
            Refusal::Captcha | Refusal::CaptchaUnavailable => "captcha",
            Refusal::Honeypot | Refusal::TooManyFromIp | Refusal::TooManyOverall => "email",
        }
    }

    /// Refusals that say "later", not "fix this".
    pub(crate) fn is_rate_limit(self) -> bool {
        matches!(
            self,
            Refusal::TooManyFromIp | Refusal::TooManyOverall | Refusal::TooManyForAddress
        )
    }
}

/// A refused signup: every problem found, the language to tell it in.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub refusals: Vec<Refusal>,
    pub lang: Lang,
}

/// A published document a consent refers to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    pub version: String,
    pub url: String,
}

/// The rules of the reader's side that only the configuration sets, built by `app`. Those
/// an admin may change on the desk (the documents, the captcha, the limits) are the
/// publisher's settings, read from [`Readers::publisher`].
#[derive(Debug, Clone)]
pub(crate) struct ReaderPolicy {
    pub altcha: Difficulty,
    pub ip: IpRecord,
    /// The pause between two such mails to one address.
    pub resend_secs: i64,
    pub confirm_valid_secs: i64,
    /// Unconfirmed readers are removed after this.
    pub expiry_secs: i64,
    /// The sender of the reader's mails.
    pub from: String,
}

/// What a stranger's form brings to show it is a person: the proof of work, the
/// third-party captcha's token, the honeypot field, and where it came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proofs {
    pub altcha: Option<String>,
    pub captcha: Option<String>,
    pub honeypot: Option<String>,
    pub ip: Option<IpAddr>,
}

/// How much a form must prove: every form that mails an address the requester chose
/// needs the proof of work; the signup and change-of-address forms, which show it, also
/// the third-party captcha when one is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    Work,
    WorkAndCaptcha,
}

/// A mail a stranger's action causes (a confirmation, a preference link, a change of
/// address): one of bulten's own templates in the reader's language.
#[derive(Debug, Clone)]
pub(crate) struct StrangerMail<'a> {
    /// `templates/mail/{template}.html` and `.txt`.
    pub(crate) template: &'static str,
    pub(crate) subject_key: &'static str,
    pub(crate) to: &'a EmailAddress,
    pub(crate) to_name: &'a str,
    pub(crate) subscriber_id: i64,
    pub(crate) lang: Lang,
    pub(crate) context: serde_json::Value,
}

/// The reader-facing use cases, with their limits. One per process.
#[derive(Debug)]
pub(crate) struct Readers {
    db: Db,
    kit: Arc<MailKit>,
    policy: ReaderPolicy,
    /// The publisher's settings, with the pages that show its brand.
    live: Arc<Live>,
    limiters: RwLock<Arc<Limiters>>,
    http: reqwest::Client,
}

/// The per-IP and overall signup limits, rebuilt when the publisher's settings change them.
#[derive(Debug)]
pub(super) struct Limiters {
    per_ip_per_hour: u32,
    per_second: u32,
    pub(super) per_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    overall: Arc<DefaultDirectRateLimiter>,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least one")
}

impl Limiters {
    fn new(per_ip_per_hour: u32, per_second: u32) -> Self {
        Self {
            per_ip_per_hour,
            per_second,
            per_ip: Arc::new(RateLimiter::keyed(Quota::per_hour(at_least_one(
                per_ip_per_hour,
            )))),
            overall: Arc::new(RateLimiter::direct(Quota::per_second(at_least_one(
                per_second,
            )))),
        }
    }

    /// Limiters for new numbers, keeping the one whose number stays (and what it counted).
    fn changed(&self, per_ip_per_hour: u32, per_second: u32) -> Self {
        let fresh = Self::new(per_ip_per_hour, per_second);
        Self {
            per_ip: if per_ip_per_hour == self.per_ip_per_hour {
                self.per_ip.clone()
            } else {
                fresh.per_ip
            },
            overall: if per_second == self.per_second {
                self.overall.clone()
            } else {
                fresh.overall
            },
            per_ip_per_hour,
            per_second,
        }
    }
}

impl Readers {
    /// # Errors
    /// When the HTTP client for the captcha provider cannot be built.
    pub(crate) fn new(
        db: Db,
        kit: Arc<MailKit>,
        live: Arc<Live>,
        policy: ReaderPolicy,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("bulten/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let publisher = live.current();
        Ok(Self {
            db,
            kit,
            limiters: RwLock::new(Arc::new(Limiters::new(
                publisher.per_ip_per_hour,
                publisher.per_second,
            ))),
            live,
            policy,
            http,
        })
    }

    pub(crate) fn views(&self) -> &Views {
        self.live.views()
    }

    /// The publisher's settings in force.
    pub(crate) fn publisher(&self) -> Arc<Publisher> {
        self.live.current()
    }

    /// The publisher's settings of this node, to show, change and follow.
    pub(crate) fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// The third-party captcha, if one is configured.
    pub(crate) fn external_captcha(&self) -> Option<captcha::Provider> {
        self.publisher().captcha.as_ref().map(|e| e.provider)
    }

    /// The signup limiters for the limits in force; one whose number changed starts empty.
    pub(super) fn limiters(&self) -> Arc<Limiters> {
        let publisher = self.publisher();
        let current = self.limiters.read().expect("never poisoned").clone();
        if current.per_ip_per_hour == publisher.per_ip_per_hour
            && current.per_second == publisher.per_second
        {
            return current;
        }
        let mut slot = self.limiters.write().expect("never poisoned");
        if slot.per_ip_per_hour != publisher.per_ip_per_hour
            || slot.per_second != publisher.per_second
        {
            *slot = Arc::new(slot.changed(publisher.per_ip_per_hour, publisher.per_second));
        }
        slot.clone()
    }

    pub(crate) fn difficulty(&self) -> Difficulty {
        self.policy.altcha
    }

    /// The language for a request and the lists it is about: the reader's explicit choice,
    /// else the lists' own language when they agree on one, else the browser's, else the
    /// default.
    pub(crate) fn language(&self, choice: LangChoice, lists: &[List]) -> Lang {
        let mut list_langs = lists.iter().filter_map(|l| l.language);
        let first = list_langs.next();
        let agreed = first.filter(|f| list_langs.all(|l| l == *f));
        choice
            .explicit
            .or(agreed)
            .or(choice.browser)
            .unwrap_or(self.publisher().default_lang)
    }

    /// The consent sentence as a reader sees it, in plain text: what the record keeps.
    pub(crate) fn consent_text(&self, lang: Lang) -> String {
        let sentence = fill(
            lang,
            "consent.sentence",
            &[
                ("terms", i18n::text(lang, "consent.terms")),
                ("privacy", i18n::text(lang, "consent.privacy")),
            ],
        );
        format!("{sentence} {}", i18n::text(lang, "form.unsubscribe_note"))
    }

    /// The first, cheap gate of every public form: the honeypot, then the per-IP and
    /// overall limits (each request spends one unit of both).
    pub(crate) fn enter(&self, honeypot: Option<&str>, ip: Option<IpAddr>) -> Result<(), Refusal> {
        if honeypot.is_some_and(|h| !h.is_empty()) {
            return Err(Refusal::Honeypot);
        }
        let limiters = self.limiters();
        if limiters.overall.check().is_err() {
            return Err(Refusal::TooManyOverall);
        }
        if let Some(ip) = ip
            && limiters.per_ip.check_key(&ip).is_err()
        {
            return Err(Refusal::TooManyFromIp);
        }
        Ok(())
    }

    /// The second gate, once the fields are valid: the proof of work (spent here, once),
    /// then, for [`Proof::WorkAndCaptcha`], the third-party captcha when one is configured
    /// (failing closed).
    pub(crate) async fn prove_human(
        &self,
        proofs: &Proofs,
        proof: Proof,
        now: Timestamp,
    ) -> OpsResult<Result<(), Refusal>> {
        let altcha = proofs.altcha.as_deref();
        if let Err(refused) = captcha::verify(&self.db, &self.kit.signer, altcha, now).await? {
            return Ok(Err(Refusal::ProofOfWork(refused)));
        }
        let publisher = self.publisher();
        if let (Proof::WorkAndCaptcha, Some(external)) = (proof, &publisher.captcha) {
            let token = proofs.captcha.as_deref();
            match captcha::verify_external(&self.http, external, token, proofs.ip).await {
                Ok(()) => {}
                Err(ExternalRefused::Rejected) => return Ok(Err(Refusal::Captcha)),
                Err(ExternalRefused::Unavailable) => {
                    return Ok(Err(Refusal::CaptchaUnavailable));
                }
            }
        }
        Ok(Ok(()))
    }

    /// Sends a mail a stranger's action causes, within the recipient address's allowance
    /// (a pause between two, a daily cap), so nobody can use bulten to flood an inbox.
    /// Returns whether it was sent.
    ///
    /// # Errors
    /// When the database fails or the mail cannot be built.
    pub(crate) async fn mail_stranger(
        &self,
        mail: StrangerMail<'_>,
        now: Timestamp,
    ) -> OpsResult<bool> {
        let hash = self.kit.signer.address_hash(mail.to.as_str());
        let (sent_today, last) =
            store::events(&self.db, &hash, Event::Confirmation, now.plus_secs(-86_400)).await?;
        let too_soon = last.is_some_and(|l| l.unix() + self.policy.resend_secs > now.unix());
        if sent_today >= self.publisher().confirmations_per_day || too_soon {
            return Ok(false);
        }
        let html = self.views().render(
            &format!("mail-{}.html", mail.template),
            mail.lang,
            &mail.context,
        )?;
        let text = self.views().render(
            &format!("mail-{}.txt", mail.template),
            mail.lang,
            &mail.context,
        )?;
        let subject = format!(
            "{} · {}",
            i18n::text(mail.lang, mail.subject_key),
            self.views().brand().name
        );
        tx::queue_system(
            &self.db,
            &self.kit,
            &self.policy.from,
            &SystemMail {
                to: mail.to,
                to_name: mail.to_name,
                subscriber_id: Some(mail.subscriber_id),
                subject: &subject,
                html: &html,
                text: &text,
            },
        )
        .await?;
        store::record_event(&self.db, &hash, Event::Confirmation, now).await?;
        Ok(true)
    }

    /// The language a subscriber's mail is in: that of its latest consent.
    async fn subscriber_lang(&self, subscriber_id: i64) -> OpsResult<Lang> {
        Ok(store::language_of(&self.db, subscriber_id)
            .await?
            .and_then(|l| l.parse().ok())
            .unwrap_or(self.publisher().default_lang))
    }
}

/// The address a reader typed; the domain type already trims it and refuses control
/// characters and overlong addresses, so only an empty field is told apart.
fn parse_email(raw: &str) -> Result<EmailAddress, Refusal> {
    EmailAddress::parse(raw).map_err(|err| match err {
        EmailError::Empty => Refusal::EmailMissing,
        _ => Refusal::EmailInvalid,
    })
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}
