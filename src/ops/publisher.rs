//! The publisher's settings: the brand, the documents readers agree to, the default
//! language, the third-party captcha and the signup limits. Admins change them on the desk
//! or through `PUT /api/settings`; they are stored in the database (`publisher_settings`)
//! and every node reads them again every few seconds ([`Live::refresh`]), so a change
//! applies everywhere without a restart. A setting the configuration file, the
//! environment or a flag gives is fixed: it is shown with what fixes it and cannot be
//! changed here, so an operator's deployment stays the truth.

mod live;

use std::collections::BTreeMap;

use serde::Serialize;

pub(crate) use live::{Described, Live, SettingsView, follow, read, save};

use super::captcha::{External, Provider};
use super::reader::Document;
use crate::domain::{Invalid, Lang, Secret};
use crate::render::views::Brand;

/// What a setting's value is, for checking it and for the form's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// A short text that must not be empty.
    Text,
    /// A short text that may be empty.
    Optional,
    /// Empty, or an `http`/`https` address.
    Url,
    /// `#rgb` or `#rrggbb`.
    Color,
    Language,
    /// Empty (none), or a provider's name.
    Captcha,
    /// Shown only as set or not.
    Secret,
    /// A whole number of at least one.
    Count,
    /// A number from 0 to 1.
    Score,
}

/// One setting the desk may change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// The part of the page it is shown in.
    pub(crate) section: &'static str,
}

const fn field(name: &'static str, kind: Kind, section: &'static str) -> Field {
    Field {
        name,
        kind,
        section,
    }
}

/// Every setting the desk may change, in the page's order. The names are those of the
/// configuration file.
pub(crate) const FIELDS: &[Field] = &[
    field("brand_name", Kind::Text, "brand"),
    field("brand_logo_url", Kind::Url, "brand"),
    field("brand_color", Kind::Color, "brand"),
    field("default_language", Kind::Language, "brand"),
    field("terms_url", Kind::Url, "consent"),
    field("terms_version", Kind::Text, "consent"),
    field("privacy_url", Kind::Url, "consent"),
    field("privacy_version", Kind::Text, "consent"),
    field("captcha_provider", Kind::Captcha, "captcha"),
    field("captcha_site_key", Kind::Optional, "captcha"),
    field("captcha_secret", Kind::Secret, "captcha"),
    field("captcha_min_score", Kind::Score, "captcha"),
    field("signup_per_ip_per_hour", Kind::Count, "limits"),
    field("signup_per_second", Kind::Count, "limits"),
    field(
        "signup_attempts_per_address_per_hour",
        Kind::Count,
        "limits",
    ),
    field("confirmations_per_address_per_day", Kind::Count, "limits"),
];

fn find(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name == name)
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Origin {
    Default,
    /// The configuration file, by its path.
    File(String),
    /// An environment variable, by its name.
    Environment(String),
    /// A command-line flag, by its name.
    Flag(String),
    /// Changed on the desk or through the API, kept in the database.
    Database,
}

impl Origin {
    /// Whether it fixes the value against changes from the desk.
    pub(crate) fn fixes(&self) -> bool {
        matches!(
            self,
            Origin::File(_) | Origin::Environment(_) | Origin::Flag(_)
        )
    }
}

/// What the configuration says of the publisher's settings, before the database: each
/// value as text (`None`: unset), and what fixed those the operator gave. No `Debug`: the
/// values hold the captcha's secret.
#[derive(Clone, Default)]
pub(crate) struct Base {
    pub(crate) values: BTreeMap<&'static str, Option<String>>,
    /// The settings the file, the environment or a flag gives; the others are defaults.
    pub(crate) fixed: BTreeMap<&'static str, Origin>,
    /// The captcha provider's verify endpoint (a proxy or a test double); configuration only.
    pub(crate) captcha_verify_url: Option<String>,
}

/// The publisher's settings in force.
#[derive(Debug, Clone)]
pub(crate) struct Publisher {
    pub(crate) brand: Brand,
    pub(crate) default_lang: Lang,
    pub(crate) terms: Document,
    pub(crate) privacy: Document,
    /// A third-party captcha checked after the proof of work, failing closed.
    pub(crate) captcha: Option<External>,
    pub(crate) captcha_site_key: Option<String>,
    pub(crate) per_ip_per_hour: u32,
    pub(crate) per_second: u32,
    /// Signup attempts per address per hour.
    pub(crate) attempts_per_hour: i64,
    /// Mails a stranger's action may cause per address per day.
    pub(crate) confirmations_per_day: i64,
}

impl Publisher {
    /// The settings from their text values, each checked already (`check`) or given by the
    /// configuration.
    ///
    /// # Errors
    /// A value they cannot be made of (a colour, a language), or a captcha without its
    /// secret or site key.
    fn from_values(
        values: &BTreeMap<&'static str, Option<String>>,
        verify_url: Option<&str>,
    ) -> Result<Self, Invalid> {
        let text = |name| value(values, name).unwrap_or_default().to_owned();
        let optional = |name| value(values, name).map(str::to_owned);
        let count = |name| {
            value(values, name)
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(1)
                .max(1)
        };
        let captcha = match value(values, "captcha_provider") {
            None => None,
            Some(name) => {
                let provider = provider(name)?;
                let secret = value(values, "captcha_secret")
                    .ok_or_else(|| Invalid("captcha_provider needs captcha_secret".to_owned()))?;
                // Without it the widget cannot show, and a check failing closed would refuse
                // every signup.
                if value(values, "captcha_site_key").is_none() {
                    return Err(Invalid(
                        "captcha_provider needs captcha_site_key".to_owned(),
                    ));
                }
                Some(External {
                    provider,
                    secret: Secret::new(secret),
                    verify_url: verify_url.unwrap_or(provider.verify_url()).to_owned(),
                    min_score: value(values, "captcha_min_score")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0.5),
                })
            }
        };
        Ok(Self {
            brand: Brand::new(
                &text("brand_name"),
                value(values, "brand_logo_url"),
                &text("brand_color"),
            )?,
            default_lang: text("default_language").parse()?,
            terms: Document {
                version: text("terms_version"),
                url: text("terms_url"),
            },
            privacy: Document {
                version: text("privacy_version"),
                url: text("privacy_url"),
            },
            captcha,
            captcha_site_key: optional("captcha_site_key"),
            per_ip_per_hour: count("signup_per_ip_per_hour"),
            per_second: count("signup_per_second"),
            attempts_per_hour: i64::from(count("signup_attempts_per_address_per_hour")),
            confirmations_per_day: i64::from(count("confirmations_per_address_per_day")),
        })
    }
}

/// The captcha's settings, which only work together.
const CAPTCHA: &[&str] = &[
    "captcha_provider",
    "captcha_site_key",
    "captcha_secret",
    "captcha_min_score",
];

/// A value, `None` when unset or empty.
fn value<'a>(values: &'a BTreeMap<&'static str, Option<String>>, name: &str) -> Option<&'a str> {
    values
        .get(name)
        .and_then(Option::as_deref)
        .filter(|v| !v.is_empty())
}

fn provider(name: &str) -> Result<Provider, Invalid> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| {
        Invalid(format!(
            "captcha_provider must be recaptcha, hcaptcha or turnstile, not '{name}'"
        ))
    })
}

/// The longest text a setting takes.
const MAX_TEXT: usize = 500;

/// Checks one value against its field's rule.
fn check(field: &Field, value: Option<&str>) -> Result<(), Invalid> {
    let name = field.name;
    let bad = |rule: &str| Err(Invalid(format!("{name} {rule}")));
    let Some(value) = value else {
        return match field.kind {
            Kind::Text | Kind::Color | Kind::Language | Kind::Count | Kind::Score => {
                bad("must not be empty")
            }
            Kind::Optional | Kind::Url | Kind::Captcha | Kind::Secret => Ok(()),
        };
    };
    if value.chars().count() > MAX_TEXT {
        return bad(&format!("is longer than {MAX_TEXT} characters"));
    }
    if value.chars().any(char::is_control) {
        return bad("must be one line without control characters");
    }
    match field.kind {
        Kind::Text | Kind::Optional | Kind::Secret => Ok(()),
        Kind::Url => match url::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
            _ => bad("must be an http or https address"),
        },
        Kind::Color => Brand::new("", None, value).map(|_| ()),
        Kind::Language => value.parse::<Lang>().map(|_| ()),
        Kind::Captcha => provider(value).map(|_| ()),
        Kind::Count => match value.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(()),
            _ => bad("must be a whole number of at least 1"),
        },
        Kind::Score => match value.parse::<f64>() {
            Ok(n) if (0.0..=1.0).contains(&n) => Ok(()),
            _ => bad("must be a number from 0 to 1"),
        },
    }
}

/// How often every node reads the stored settings.
pub(crate) const REFRESH: std::time::Duration = std::time::Duration::from_secs(3);

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> BTreeMap<&'static str, Option<String>> {
        [
            ("brand_name", "bulten"),
            ("brand_color", "#0b5394"),
            ("default_language", "en"),
            ("terms_version", "1"),
            ("privacy_version", "1"),
            ("captcha_min_score", "0.5"),
            ("signup_per_ip_per_hour", "20"),
            ("signup_per_second", "200"),
            ("signup_attempts_per_address_per_hour", "5"),
            ("confirmations_per_address_per_day", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k, Some(v.to_owned())))
        .collect()
    }

    #[test]
    fn the_defaults_make_valid_settings() {
        let publisher = Publisher::from_values(&defaults(), None).unwrap();
        assert_eq!(publisher.per_second, 200);
        assert!(publisher.captcha.is_none());
    }

    #[test]
    fn each_kind_of_value_is_checked() {
        let refused = |name: &str, value: &str| {
            check(find(name).unwrap(), Some(value)).expect_err(&format!("{name} = {value}"))
        };
        assert!(refused("brand_color", "red").0.contains("#rgb"));
        assert!(
            refused("terms_url", "javascript:alert(1)")
                .0
                .contains("http")
        );
        assert!(refused("signup_per_second", "0").0.contains("at least 1"));
        assert!(refused("captcha_min_score", "1.5").0.contains("0 to 1"));
        assert!(
            refused("captcha_provider", "recaptcha2")
                .0
                .contains("turnstile")
        );
        assert!(refused("brand_name", "a\nb").0.contains("one line"));
        assert!(check(find("brand_name").unwrap(), None).is_err());
        assert!(check(find("terms_url").unwrap(), None).is_ok());
    }

    #[test]
    fn a_captcha_needs_its_secret() {
        let mut values = defaults();
        values.insert("captcha_provider", Some("hcaptcha".into()));
        let err = Publisher::from_values(&values, None).unwrap_err();
        assert!(err.0.contains("captcha_secret"));
        values.insert("captcha_secret", Some("s".into()));
        let err = Publisher::from_values(&values, None).unwrap_err();
        assert!(
            err.0.contains("captcha_site_key"),
            "the widget needs its key"
        );
        values.insert("captcha_site_key", Some("k".into()));
        let publisher = Publisher::from_values(&values, None).unwrap();
        assert_eq!(
            publisher.captcha.unwrap().verify_url,
            Provider::Hcaptcha.verify_url()
        );
    }
}
