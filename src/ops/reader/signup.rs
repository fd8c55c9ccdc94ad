//! Signing up: the checks every way in goes through, cheapest first, and the consent
//! record of what the reader was shown.

use std::net::IpAddr;

use super::{
    IpRecord, LangChoice, Proof, Proofs, Readers, Refusal, Rejection, parse_email, truncate,
};
use crate::db;
use crate::db::signup::{self as store, Consent, Event};
use crate::domain::{Lang, List, SignupSource, SubscriberName, Timestamp};
use crate::ops::{OpsError, OpsResult};

/// A signup as it arrives, unchecked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
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
    pub source: Option<SignupSource>,
    /// The page or embed the signup came from.
    pub page: String,
    pub ip: Option<IpAddr>,
    pub user_agent: String,
    pub lang: LangChoice,
}

/// An accepted signup. The same whatever the address's past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// Some chosen list needs a confirmation by mail (listmonk's `has_optin`).
    pub has_optin: bool,
    pub lang: Lang,
}

impl Readers {
    /// The public lists offered on forms.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn public_lists(&self) -> OpsResult<Vec<List>> {
        Ok(db::lists::public(&self.db).await?)
    }

    /// Runs the checks every signup goes through, then stores it and mails the confirmation.
    ///
    /// Cheap checks come first and the proof of work is spent only when the fields are valid,
    /// so a reader who mistyped an address can send the form again as it is.
    ///
    /// # Errors
    /// `Ok(Err(_))` lists what the reader must fix or wait for; `Err` is an internal failure.
    pub(crate) async fn sign_up(&self, request: Request) -> OpsResult<Result<Accepted, Rejection>> {
        let now = Timestamp::now();
        let early_lang = self.language(request.lang, &[]);
        let refuse = |refusals: Vec<Refusal>, lang| Ok(Err(Rejection { refusals, lang }));
        if let Err(refusal) = self.enter(request.honeypot.as_deref(), request.ip) {
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

        let proofs = Proofs {
            altcha: request.altcha.clone(),
            captcha: request.captcha.clone(),
            honeypot: None,
            ip: request.ip,
        };
        let human = self
            .prove_human(&proofs, Proof::WorkAndCaptcha, now)
            .await?;
        if let Err(refusal) = human {
            return refuse(vec![refusal], lang);
        }
        let hash = self.kit.signer.address_hash(email.as_str());
        let hour_ago = now.plus_secs(-3600);
        let (attempts, _) = store::events(&self.db, &hash, Event::Attempt, hour_ago).await?;
        if attempts >= self.publisher().attempts_per_hour {
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
    pub(super) fn consent(&self, request: &Request, lang: Lang) -> Consent {
        let publisher = self.publisher();
        Consent {
            source: request.source.unwrap_or(SignupSource::Api).as_str(),
            page: truncate(&request.page, 2000),
            consent_text: self.consent_text(lang),
            terms_version: publisher.terms.version.clone(),
            terms_url: publisher.terms.url.clone(),
            privacy_version: publisher.privacy.version.clone(),
            privacy_url: publisher.privacy.url.clone(),
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
}
