//! Signing up and everything a reader does after: the one set of checks every way in goes
//! through (hosted form, embedded form, JSON), consent records, double opt-in, the
//! preference centre, the reader's data, and the expiry of signups nobody confirmed.
//!
//! Answers never tell whether an address was known: a signup for a known, a new or a
//! blocklisted address looks the same from outside, and so does a request for a link.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;

use crate::config::Settings;
use crate::db::signup::{self as store, Consent, Event};
use crate::db::subscribers::ListAction;
use crate::db::{self, Db};
use crate::domain::{
    EmailAddress, EmailError, Lang, List, Subscriber, SubscriberName, SubscriberStatus,
    SubscriptionStatus, Timestamp,
};
use crate::i18n;
use crate::mail::tokens::ExpiringToken;
use crate::ops::captcha::{self, Difficulty, External, ExternalRefused, Refused};
use crate::ops::compose::MailKit;
use crate::ops::tx::{self, SystemMail};
use crate::ops::{OpsError, OpsResult};
use crate::render::views::{Views, fill};

/// What a consent record keeps of the reader's IP address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpRecord {
    Store,
    #[default]
    Hash,
    Drop,
}

/// Where a signup came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Form,
    Embed,
    Api,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Form => "form",
            Source::Embed => "embed",
            Source::Api => "api",
        }
    }
}

/// A signup as it arrives, unchecked.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub email: String,
    pub name: String,
    /// List UUIDs as given.
    pub lists: Vec<String>,
    /// The ALTCHA widget's payload.
    pub altcha: Option<String>,
    /// A third-party captcha's token, when one is configured.
    pub captcha: Option<String>,
    /// The honeypot field: people leave it empty.
    pub honeypot: Option<String>,
    pub source: Option<Source>,
    /// The page or embed the signup came from.
    pub page: String,
    pub ip: Option<IpAddr>,
    pub user_agent: String,
    pub lang: LangChoice,
}

/// What the request says about language; the lists may add theirs.
#[derive(Debug, Clone, Copy, Default)]
pub struct LangChoice {
    /// The reader picked it (the switch, or a form field).
    pub explicit: Option<Lang>,
    /// From `Accept-Language`.
    pub browser: Option<Lang>,
}

/// Why a signup (or a request for a link) was refused. Each has a localized message; the
/// web layer maps them to statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
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
    pub fn key(self) -> &'static str {
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
    pub fn field(self) -> &'static str {
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
    pub fn is_rate_limit(self) -> bool {
        matches!(
            self,
            Refusal::TooManyFromIp | Refusal::TooManyOverall | Refusal::TooManyForAddress
        )
    }
}

/// A refused signup: every problem found, the language to tell it in.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub refusals: Vec<Refusal>,
    pub lang: Lang,
}

/// An accepted signup. The same whatever the address's past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// Some chosen list needs a confirmation by mail (listmonk's `has_optin`).
    pub has_optin: bool,
    pub lang: Lang,
}

/// The policy settings, read once.
#[derive(Debug, Clone)]
struct Policy {
    altcha: Difficulty,
    external: Option<External>,
    terms: (String, String),
    privacy: (String, String),
    ip: IpRecord,
    default_lang: Lang,
    attempts_per_hour: i64,
    confirmations_per_day: i64,
    resend_secs: i64,
    confirm_valid_secs: i64,
    expiry_secs: i64,
    from: String,
}

/// What a stranger's form brings to show it is a person: the proof of work, the
/// third-party captcha's token, the honeypot field, and where it came from.
#[derive(Debug, Clone, Default)]
pub struct Proofs {
    pub altcha: Option<String>,
    pub captcha: Option<String>,
    pub honeypot: Option<String>,
    pub ip: Option<IpAddr>,
}

/// The reader-facing use cases, with their limits. One per process.
#[derive(Debug)]
pub struct Signups {
    db: Db,
    kit: Arc<MailKit>,
    views: Arc<Views>,
    policy: Policy,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    overall: DefaultDirectRateLimiter,
    http: reqwest::Client,
}

/// What asking for a confirmation mail did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    Sent,
    /// No subscription waits for confirmation.
    NothingWaiting,
    /// The address had a confirmation moments ago, or its share for the day.
    Limited,
}

/// A confirmation link's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmState {
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
pub enum ChangeState {
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

/// A topic on the preference page.
#[derive(Debug, Clone, Serialize)]
pub struct Topic {
    pub uuid: uuid::Uuid,
    pub name: String,
    pub subscribed: bool,
    pub pending: bool,
}

/// What the preference page shows.
#[derive(Debug, Clone)]
pub struct Preferences {
    pub subscriber: Subscriber,
    pub topics: Vec<Topic>,
    pub lang: Option<Lang>,
}

/// Everything stored about a reader, as they download it.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderData {
    pub email: String,
    pub name: String,
    pub attributes: serde_json::Value,
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub subscriptions: Vec<SubscriptionData>,
    pub consents: Vec<store::ConsentRecord>,
    pub messages: Vec<store::MailRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionData {
    pub list: String,
    pub status: SubscriptionStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n.max(1)).expect("at least one"))
}

fn secs(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX / 2)
}

impl Signups {
    /// # Errors
    /// When the captcha settings are incomplete.
    pub fn new(
        db: Db,
        kit: Arc<MailKit>,
        views: Arc<Views>,
        settings: &Settings,
    ) -> anyhow::Result<Self> {
        let external = match settings.captcha_provider {
            None => None,
            Some(provider) => Some(External {
                provider,
                secret: settings
                    .captcha_secret
                    .as_ref()
                    .map(|s| s.expose().to_owned())
                    .ok_or_else(|| anyhow::anyhow!("captcha_provider needs captcha_secret"))?,
                verify_url: settings
                    .captcha_verify_url
                    .clone()
                    .unwrap_or_else(|| provider.verify_url().to_owned()),
                min_score: settings.captcha_min_score,
            }),
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("bulten/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            db,
            kit,
            views,
            policy: Policy {
                altcha: Difficulty {
                    cost: settings.altcha_cost,
                    valid_secs: secs(settings.altcha_valid_secs),
                },
                external,
                terms: (
                    settings.terms_version.clone(),
                    settings.terms_url.clone().unwrap_or_default(),
                ),
                privacy: (
                    settings.privacy_version.clone(),
                    settings.privacy_url.clone().unwrap_or_default(),
                ),
                ip: settings.consent_ip,
                default_lang: settings.default_language,
                attempts_per_hour: i64::from(settings.signup_attempts_per_address_per_hour),
                confirmations_per_day: i64::from(settings.confirmations_per_address_per_day),
                resend_secs: secs(settings.confirmation_resend_secs),
                confirm_valid_secs: secs(settings.confirmation_valid_secs),
                expiry_secs: secs(settings.unconfirmed_expiry_secs),
                from: settings.from_email(),
            },
            per_ip: RateLimiter::keyed(per_hour(settings.signup_per_ip_per_hour)),
            overall: RateLimiter::direct(Quota::per_second(
                NonZeroU32::new(settings.signup_per_second.max(1)).expect("at least one"),
            )),
            http,
        })
    }

    pub fn views(&self) -> &Views {
        &self.views
    }

    /// The third-party captcha, if one is configured.
    pub fn external_captcha(&self) -> Option<captcha::Provider> {
        self.policy.external.as_ref().map(|e| e.provider)
    }

    pub fn difficulty(&self) -> Difficulty {
        self.policy.altcha
    }

    /// The language for a request and the lists it is about: the reader's explicit choice,
    /// else the lists' own language when they agree on one, else the browser's, else the
    /// default.
    pub fn language(&self, choice: LangChoice, lists: &[List]) -> Lang {
        let mut list_langs = lists.iter().filter_map(|l| l.language);
        let first = list_langs.next();
        let agreed = first.filter(|f| list_langs.all(|l| l == *f));
        choice
            .explicit
            .or(agreed)
            .or(choice.browser)
            .unwrap_or(self.policy.default_lang)
    }

    /// The consent sentence as a reader sees it, in plain text: what the record keeps.
    pub fn consent_text(&self, lang: Lang) -> String {
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

    /// The public lists offered on forms.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn public_lists(&self) -> OpsResult<Vec<List>> {
        Ok(db::lists::public(&self.db).await?)
    }

    /// Whether `ip` may make another request now; spends one unit of its and the overall
    /// allowance.
    fn admit(&self, ip: Option<IpAddr>) -> Result<(), Refusal> {
        if self.overall.check().is_err() {
            return Err(Refusal::TooManyOverall);
        }
        if let Some(ip) = ip
            && self.per_ip.check_key(&ip).is_err()
        {
            return Err(Refusal::TooManyFromIp);
        }
        Ok(())
    }

    /// The proof of work (spent here, once), then the third-party captcha when one is
    /// configured (failing closed).
    async fn prove_human(
        &self,
        altcha: Option<&str>,
        captcha: Option<&str>,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> OpsResult<Result<(), Refusal>> {
        if let Err(refused) = captcha::verify(&self.db, &self.kit.signer, altcha, now).await? {
            return Ok(Err(Refusal::ProofOfWork(refused)));
        }
        if let Some(external) = &self.policy.external {
            match captcha::verify_external(&self.http, external, captcha, ip).await {
                Ok(()) => {}
                Err(ExternalRefused::Rejected) => return Ok(Err(Refusal::Captcha)),
                Err(ExternalRefused::Unavailable) => {
                    return Ok(Err(Refusal::CaptchaUnavailable));
                }
            }
        }
        Ok(Ok(()))
    }

    /// Runs the checks every signup goes through, then stores it and mails the confirmation.
    ///
    /// Cheap checks come first and the proof of work is spent only when the fields are valid,
    /// so a reader who mistyped an address can send the form again as it is.
    ///
    /// # Errors
    /// `Ok(Err(_))` lists what the reader must fix or wait for; `Err` is an internal failure.
    pub async fn sign_up(&self, request: Request) -> OpsResult<Result<Accepted, Rejection>> {
        let now = Timestamp::now();
        let early_lang = self.language(request.lang, &[]);
        let refuse = |refusals: Vec<Refusal>, lang| Ok(Err(Rejection { refusals, lang }));
        if request.honeypot.as_deref().is_some_and(|h| !h.is_empty()) {
            return refuse(vec![Refusal::Honeypot], early_lang);
        }
        if let Err(refusal) = self.admit(request.ip) {
            return refuse(vec![refusal], early_lang);
        }

        let mut refusals = Vec::new();
        let email = match parse_email(&request.email) {
            Ok(email) => Some(email),
            Err(refusal) => {
                refusals.push(refusal);
                None
            }
        };
        let name = request.name.trim();
        // One rule for names, the same as the API's (an empty one becomes the address's).
        if !name.is_empty() && SubscriberName::parse(name).is_err() {
            refusals.push(Refusal::NameInvalid);
        }
        let uuids: Vec<Option<uuid::Uuid>> = request
            .lists
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| uuid::Uuid::parse_str(l.trim()).ok())
            .collect();
        let wanted: Vec<uuid::Uuid> = uuids.iter().flatten().copied().collect();
        let lists = db::lists::public_by_uuids(&self.db, &wanted).await?;
        if uuids.is_empty() {
            refusals.push(Refusal::NoTopic);
        } else if uuids.iter().any(Option::is_none)
            || wanted.iter().any(|u| !lists.iter().any(|l| l.uuid == *u))
        {
            refusals.push(Refusal::UnknownTopic);
        }
        let lang = self.language(request.lang, &lists);
        let Some(email) = email.filter(|_| refusals.is_empty()) else {
            return refuse(refusals, lang);
        };

        let human = self
            .prove_human(
                request.altcha.as_deref(),
                request.captcha.as_deref(),
                request.ip,
                now,
            )
            .await?;
        if let Err(refusal) = human {
            return refuse(vec![refusal], lang);
        }
        let hash = self.kit.signer.address_hash(email.as_str());
        let hour_ago = now.plus_secs(-3600);
        let (attempts, _) = store::events(&self.db, &hash, Event::Attempt, hour_ago).await?;
        if attempts >= self.policy.attempts_per_hour {
            return refuse(vec![Refusal::TooManyForAddress], lang);
        }
        store::record_event(&self.db, &hash, Event::Attempt, now).await?;

        let name = SubscriberName::parse_or_default(Some(name), &email)
            .map_err(|e| OpsError::Invalid(e.0))?;
        let consent = self.consent(&request, lang);
        let stored = store::store(
            &self.db,
            &store::Signup {
                email: &email,
                name: &name,
                lists: &lists,
                consent: &consent,
                verified: false,
                address_hash: &hash,
            },
            now,
        )
        .await?;
        if !stored.blocklisted && !stored.pending.is_empty() {
            self.send_confirmation(
                stored.subscriber_id,
                stored.uuid,
                &email,
                &stored.name,
                lang,
                now,
            )
            .await?;
        }
        Ok(Ok(Accepted {
            // A reader rejoining a single opt-in list they had left confirms by mail too.
            has_optin: !stored.pending.is_empty()
                || lists
                    .iter()
                    .any(|l| l.optin == crate::domain::OptinKind::Double),
            lang,
        }))
    }

    /// The consent record of a request: what the reader was shown, where and from where.
    fn consent(&self, request: &Request, lang: Lang) -> Consent {
        Consent {
            source: request.source.unwrap_or(Source::Api).as_str(),
            page: truncate(&request.page, 2000),
            consent_text: self.consent_text(lang),
            terms_version: self.policy.terms.0.clone(),
            terms_url: self.policy.terms.1.clone(),
            privacy_version: self.policy.privacy.0.clone(),
            privacy_url: self.policy.privacy.1.clone(),
            language: lang.as_str().to_owned(),
            ip: self.ip_record(request.ip),
            user_agent: truncate(&request.user_agent, 500),
        }
    }

    fn ip_record(&self, ip: Option<IpAddr>) -> Option<String> {
        let ip = ip?;
        match self.policy.ip {
            IpRecord::Store => Some(ip.to_string()),
            IpRecord::Hash => Some(format!("hmac:{}", self.kit.signer.ip_hash(&ip.to_string()))),
            IpRecord::Drop => None,
        }
    }

    /// Mails a confirmation link for the subscriber's waiting lists, unless the address got
    /// one moments ago or has had its share today.
    ///
    /// # Errors
    /// When the database fails or the mail cannot be built.
    pub async fn send_confirmation(
        &self,
        subscriber_id: i64,
        uuid: uuid::Uuid,
        email: &EmailAddress,
        name: &str,
        lang: Lang,
        now: Timestamp,
    ) -> OpsResult<Resent> {
        let hash = self.kit.signer.address_hash(email.as_str());
        let lists = self.pending_names(subscriber_id).await?;
        if lists.is_empty() {
            return Ok(Resent::NothingWaiting);
        }
        if !self.may_mail(&hash, now).await? {
            return Ok(Resent::Limited);
        }
        let token = ExpiringToken::new(uuid, now.unix() + self.policy.confirm_valid_secs);
        let url = self.kit.links.confirm(&token, lang);
        let ctx = serde_json::json!({
            "email": email.as_str(),
            "lists": lists,
            "url": url,
            "button": "confirm.button",
            "footer": "mail.confirm.ignore",
        });
        self.mail(
            "confirm",
            "mail.confirm.subject",
            lang,
            &ctx,
            email,
            name,
            Some(subscriber_id),
        )
        .await?;
        store::record_event(&self.db, &hash, Event::Confirmation, now).await?;
        Ok(Resent::Sent)
    }

    /// The names of the lists waiting for the subscriber's confirmation.
    async fn pending_names(&self, subscriber_id: i64) -> OpsResult<Vec<String>> {
        Ok(store::pending_lists(&self.db, subscriber_id)
            .await?
            .into_iter()
            .map(|(_, name)| name)
            .collect())
    }

    /// The per-address allowance for mail a stranger can cause: a pause between two, and a
    /// daily cap.
    async fn may_mail(&self, hash: &str, now: Timestamp) -> OpsResult<bool> {
        let (sent_today, last) =
            store::events(&self.db, hash, Event::Confirmation, now.plus_secs(-86_400)).await?;
        let too_soon = last.is_some_and(|l| l.unix() + self.policy.resend_secs > now.unix());
        Ok(sent_today < self.policy.confirmations_per_day && !too_soon)
    }

    #[allow(clippy::too_many_arguments)]
    async fn mail(
        &self,
        template: &str,
        subject_key: &str,
        lang: Lang,
        ctx: &serde_json::Value,
        to: &EmailAddress,
        to_name: &str,
        subscriber_id: Option<i64>,
    ) -> OpsResult<()> {
        let html = self
            .views
            .render(&format!("mail-{template}.html"), lang, ctx)?;
        let text = self
            .views
            .render(&format!("mail-{template}.txt"), lang, ctx)?;
        let subject = format!(
            "{} · {}",
            i18n::text(lang, subject_key),
            self.views.brand().name
        );
        tx::queue_system(
            &self.db,
            &self.kit,
            &self.policy.from,
            &SystemMail {
                to,
                to_name,
                subscriber_id,
                subject: &subject,
                html: &html,
                text: &text,
            },
        )
        .await
    }

    /// The language a subscriber's mail is in: that of its latest consent.
    async fn subscriber_lang(&self, subscriber_id: i64) -> OpsResult<Lang> {
        Ok(store::language_of(&self.db, subscriber_id)
            .await?
            .and_then(|l| l.parse().ok())
            .unwrap_or(self.policy.default_lang))
    }

    /// Resends the confirmation mail (listmonk's `POST /api/subscribers/:id/optin`), within
    /// the same per-address limits.
    ///
    /// # Errors
    /// `NotFound` for an unknown subscriber.
    pub async fn resend_confirmation(&self, subscriber_id: i64) -> OpsResult<Resent> {
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
        purpose: &str,
        now: Timestamp,
    ) -> OpsResult<Result<Subscriber, ConfirmState>> {
        let Some(subscriber) = db::subscribers::get_by_uuid(&self.db, token.subscriber).await?
        else {
            return Ok(Err(ConfirmState::Invalid));
        };
        if token.expires <= now.unix() {
            return Ok(Err(ConfirmState::Expired));
        }
        if db::spent::is_spent(&self.db, &token.use_key(purpose)).await? {
            return Ok(Err(ConfirmState::Used));
        }
        Ok(Ok(subscriber))
    }

    /// What a confirmation link would do (`apply` false, for a GET: changes nothing) or
    /// does (`apply` true, once).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn confirm(&self, token: &str, apply: bool) -> OpsResult<ConfirmState> {
        let now = Timestamp::now();
        let Some(parsed) = self.kit.signer.parse_confirm(token) else {
            return Ok(ConfirmState::Invalid);
        };
        let subscriber = match self.token_subscriber(&parsed, "confirm", now).await? {
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
        if !db::spent::spend(&self.db, &parsed.use_key("confirm"), expires).await? {
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
    pub async fn resend_from_link(&self, token: &str, ip: Option<IpAddr>) -> OpsResult<()> {
        let Some(parsed) = self.kit.signer.parse_confirm(token) else {
            return Ok(());
        };
        if self.admit(ip).is_err() {
            return Ok(());
        }
        let Some(subscriber) = db::subscribers::get_by_uuid(&self.db, parsed.subscriber).await?
        else {
            return Ok(());
        };
        self.resend_confirmation(subscriber.id).await?;
        Ok(())
    }

    /// A reader asks for their preference link by address. The answer is the same whether
    /// or not the address is known; an address with only unconfirmed signups gets a new
    /// confirmation link instead, within the per-address limits.
    ///
    /// # Errors
    /// `Ok(Err(_))` for a refused request (bad address, proof of work, limits).
    pub async fn send_link(
        &self,
        email: &str,
        altcha: Option<&str>,
        honeypot: Option<&str>,
        ip: Option<IpAddr>,
        lang: Lang,
    ) -> OpsResult<Result<(), Vec<Refusal>>> {
        let now = Timestamp::now();
        if honeypot.is_some_and(|h| !h.is_empty()) {
            return Ok(Err(vec![Refusal::Honeypot]));
        }
        if let Err(refusal) = self.admit(ip) {
            return Ok(Err(vec![refusal]));
        }
        let email = match parse_email(email) {
            Ok(e) => e,
            Err(refusal) => return Ok(Err(vec![refusal])),
        };
        if let Err(refused) = captcha::verify(&self.db, &self.kit.signer, altcha, now).await? {
            return Ok(Err(vec![Refusal::ProofOfWork(refused)]));
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
        let hash = self.kit.signer.address_hash(subscriber.email.as_str());
        if !self.may_mail(&hash, now).await? {
            return Ok(Ok(()));
        }
        let url = format!(
            "{}?lang={}",
            self.kit.links.manage(subscriber.uuid),
            lang.as_str()
        );
        let ctx = serde_json::json!({
            "url": url,
            "button": "mail.link.button",
            "footer": "mail.link.ignore",
        });
        self.mail(
            "link",
            "mail.link.subject",
            lang,
            &ctx,
            &subscriber.email,
            subscriber.name.as_str(),
            Some(subscriber.id),
        )
        .await?;
        store::record_event(&self.db, &hash, Event::Confirmation, now).await?;
        Ok(Ok(()))
    }

    /// The subscriber a preference link is for.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn manage_target(&self, token: &str) -> OpsResult<Option<Subscriber>> {
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
    pub async fn preferences(&self, subscriber: Subscriber) -> OpsResult<Preferences> {
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
    pub async fn save_topics(
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
    pub async fn unsubscribe_all(&self, subscriber: &Subscriber) -> OpsResult<()> {
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
    pub async fn request_change(
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
        if proofs.honeypot.as_deref().is_some_and(|h| !h.is_empty()) {
            return Ok(Err(Refusal::Honeypot));
        }
        if let Err(refusal) = self.admit(proofs.ip) {
            return Ok(Err(refusal));
        }
        let new = match parse_email(new_email) {
            Ok(e) => e,
            Err(r) => return Ok(Err(r)),
        };
        if new == subscriber.email {
            return Ok(Ok(()));
        }
        let human = self
            .prove_human(
                proofs.altcha.as_deref(),
                proofs.captcha.as_deref(),
                proofs.ip,
                now,
            )
            .await?;
        if let Err(refusal) = human {
            return Ok(Err(refusal));
        }
        let link = self
            .kit
            .signer
            .address_hash(&format!("change-of-address:{}", subscriber.uuid));
        let (requests, _) =
            store::events(&self.db, &link, Event::Attempt, now.plus_secs(-3600)).await?;
        if requests >= self.policy.attempts_per_hour {
            return Ok(Err(Refusal::TooManyForAddress));
        }
        store::record_event(&self.db, &link, Event::Attempt, now).await?;
        let hash = self.kit.signer.address_hash(new.as_str());
        if !self.may_mail(&hash, now).await? {
            return Ok(Ok(()));
        }
        let token =
            ExpiringToken::new(subscriber.uuid, now.unix() + self.policy.confirm_valid_secs);
        let url = self.kit.links.change(&token, new.as_str(), lang);
        let ctx = serde_json::json!({
            "url": url,
            "button": "mail.change.button",
            "footer": "mail.link.ignore",
        });
        self.mail(
            "change",
            "mail.change.subject",
            lang,
            &ctx,
            &new,
            subscriber.name.as_str(),
            Some(subscriber.id),
        )
        .await?;
        store::record_event(&self.db, &hash, Event::Confirmation, now).await?;
        Ok(Ok(()))
    }

    /// What a change-of-address link would do (`apply` false) or does (`apply` true, once).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn change_address(&self, token: &str, apply: bool) -> OpsResult<ChangeState> {
        let now = Timestamp::now();
        let Some((parsed, new_email)) = self.kit.signer.parse_change_address(token) else {
            return Ok(ChangeState::Invalid);
        };
        let subscriber = match self.token_subscriber(&parsed, "change", now).await? {
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
        if !db::spent::spend(&self.db, &parsed.use_key("change"), expires).await? {
            return Ok(ChangeState::Used);
        }
        if store::change_address(&self.db, subscriber.id, &new, now).await? {
            Ok(ChangeState::Changed)
        } else {
            Ok(ChangeState::Taken)
        }
    }

    /// Everything stored about the subscriber.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn reader_data(&self, subscriber: &Subscriber) -> OpsResult<ReaderData> {
        reader_data(&self.db, subscriber).await
    }

    /// Erases the subscriber, keeping only the keyed hash of its address as a suppression.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn erase(&self, subscriber: &Subscriber) -> OpsResult<()> {
        let hash = self.kit.signer.address_hash(subscriber.email.as_str());
        store::erase(&self.db, subscriber.id, &hash, Timestamp::now()).await?;
        Ok(())
    }

    /// Confirms a subscriber's lists as an administrator says (listmonk's
    /// `POST /subscription/optin/:uuid` with `l` and `confirm=true`); every waiting list
    /// when `lists` is empty.
    ///
    /// # Errors
    /// `NotFound` for an unknown subscriber.
    pub async fn confirm_as_admin(
        &self,
        subscriber: uuid::Uuid,
        lists: &[uuid::Uuid],
    ) -> OpsResult<u64> {
        let subscriber = db::subscribers::get_by_uuid(&self.db, subscriber)
            .await?
            .ok_or(OpsError::NotFound("subscriber"))?;
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
        Ok(store::confirm(&self.db, subscriber.id, &ids, &hash, Timestamp::now()).await?)
    }

    /// Removes signups left unconfirmed past the expiry, and forgets old rate-limit state and
    /// spent keys past their expiry.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn expire(&self, now: Timestamp) -> OpsResult<store::Expired> {
        self.per_ip.retain_recent();
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
                "unconfirmed signups expired"
            );
        }
        Ok(expired)
    }
}

/// Everything stored about a subscriber, for the reader's download and the admin export.
///
/// # Errors
/// When the database fails.
pub async fn reader_data(db: &Db, subscriber: &Subscriber) -> OpsResult<ReaderData> {
    let subscriptions = db::subscribers::subscriptions_of(db, &[subscriber.id]).await?;
    let (consents, _) = store::consents(
        db,
        &store::ConsentQuery {
            subscriber_id: Some(subscriber.id),
            ..store::ConsentQuery::default()
        },
    )
    .await?;
    let messages = store::mail_of(db, subscriber.id).await?;
    Ok(ReaderData {
        email: subscriber.email.as_str().to_owned(),
        name: subscriber.name.as_str().to_owned(),
        attributes: serde_json::Value::Object(subscriber.attribs.as_map().clone()),
        status: subscriber.status.as_str().to_owned(),
        created_at: subscriber.created_at,
        updated_at: subscriber.updated_at,
        subscriptions: subscriptions
            .into_iter()
            .map(|s| SubscriptionData {
                list: s.list.name,
                status: s.status,
                created_at: s.created_at,
                updated_at: s.updated_at,
            })
            .collect(),
        consents,
        messages,
    })
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
