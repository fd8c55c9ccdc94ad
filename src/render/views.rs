//! The pages readers see and the system mails bulten sends them (confirmations, preference
//! links), in the reader's language and the publisher's colours.
//!
//! Unlike campaign templates these are bulten's own, compiled into the binary from
//! `templates/pages` and `templates/mail`. HTML templates escape every value; `t("key")`
//! gives the text of [`crate::i18n`] in the page's language, filling `{name}` placeholders
//! with its keyword arguments, escaped unless they are already safe HTML.

use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{AutoEscape, Environment, State};
use serde::Serialize;

use crate::domain::{Invalid, Lang};
use crate::i18n;

/// The publisher, as pages and system mail show it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Brand {
    pub(crate) name: String,
    pub(crate) logo_url: Option<String>,
    /// A checked `#rgb` / `#rrggbb` colour: it goes into a style sheet.
    pub(crate) color: String,
}

impl Brand {
    /// # Errors
    /// When the colour is not `#rgb` or `#rrggbb`.
    pub(crate) fn new(name: &str, logo_url: Option<&str>, color: &str) -> Result<Self, Invalid> {
        let hex = color.strip_prefix('#').unwrap_or_default();
        if !matches!(hex.len(), 3 | 6) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Invalid(format!(
                "brand_color must be #rgb or #rrggbb, not '{color}'"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            logo_url: logo_url.filter(|u| !u.is_empty()).map(str::to_owned),
            color: color.to_owned(),
        })
    }
}

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "admin/layout.html",
        include_str!("../../templates/admin/layout.html"),
    ),
    (
        "admin/login.html",
        include_str!("../../templates/admin/login.html"),
    ),
    (
        "admin/password.html",
        include_str!("../../templates/admin/password.html"),
    ),
    (
        "admin/login-code.html",
        include_str!("../../templates/admin/login-code.html"),
    ),
    (
        "admin/second-factor.html",
        include_str!("../../templates/admin/second-factor.html"),
    ),
    (
        "admin/second-factor-enrol.html",
        include_str!("../../templates/admin/second-factor-enrol.html"),
    ),
    (
        "admin/second-factor-codes.html",
        include_str!("../../templates/admin/second-factor-codes.html"),
    ),
    (
        "admin/users.html",
        include_str!("../../templates/admin/users.html"),
    ),
    (
        "admin/settings.html",
        include_str!("../../templates/admin/settings.html"),
    ),
    (
        "admin/settings-dns.html",
        include_str!("../../templates/admin/settings-dns.html"),
    ),
    (
        "admin/shown-once.html",
        include_str!("../../templates/admin/shown-once.html"),
    ),
    (
        "admin/lists.html",
        include_str!("../../templates/admin/lists.html"),
    ),
    (
        "admin/list.html",
        include_str!("../../templates/admin/list.html"),
    ),
    (
        "admin/list-fields.html",
        include_str!("../../templates/admin/list-fields.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../../templates/admin/audit.html"),
    ),
    (
        "admin/subscribers.html",
        include_str!("../../templates/admin/subscribers.html"),
    ),
    (
        "admin/subscriber.html",
        include_str!("../../templates/admin/subscriber.html"),
    ),
    (
        "admin/import.html",
        include_str!("../../templates/admin/import.html"),
    ),
    (
        "admin/import-progress.html",
        include_str!("../../templates/admin/import-progress.html"),
    ),
    (
        "admin/bulk.html",
        include_str!("../../templates/admin/bulk.html"),
    ),
    (
        "admin/reader-fields.html",
        include_str!("../../templates/admin/reader-fields.html"),
    ),
    (
        "admin/subscriber-new.html",
        include_str!("../../templates/admin/subscriber-new.html"),
    ),
    (
        "admin/refused.html",
        include_str!("../../templates/admin/refused.html"),
    ),
    (
        "admin/dashboard.html",
        include_str!("../../templates/admin/dashboard.html"),
    ),
    (
        "admin/running.html",
        include_str!("../../templates/admin/running.html"),
    ),
    (
        "layout.html",
        include_str!("../../templates/pages/layout.html"),
    ),
    ("form.html", include_str!("../../templates/pages/form.html")),
    (
        "form-fields.html",
        include_str!("../../templates/pages/form-fields.html"),
    ),
    (
        "message.html",
        include_str!("../../templates/pages/message.html"),
    ),
    (
        "manage.html",
        include_str!("../../templates/pages/manage.html"),
    ),
    (
        "sendlink.html",
        include_str!("../../templates/pages/sendlink.html"),
    ),
    (
        "embed.html",
        include_str!("../../templates/pages/embed.html"),
    ),
    (
        "mail-layout.html",
        include_str!("../../templates/mail/layout.html"),
    ),
    (
        "mail-confirm.html",
        include_str!("../../templates/mail/confirm.html"),
    ),
    (
        "mail-confirm.txt",
        include_str!("../../templates/mail/confirm.txt"),
    ),
    (
        "mail-link.html",
        include_str!("../../templates/mail/link.html"),
    ),
    (
        "mail-link.txt",
        include_str!("../../templates/mail/link.txt"),
    ),
    (
        "mail-change.html",
        include_str!("../../templates/mail/change.html"),
    ),
    (
        "mail-change.txt",
        include_str!("../../templates/mail/change.txt"),
    ),
];

/// The compiled pages and mails.
#[derive(Debug)]
pub(crate) struct Views {
    env: Environment<'static>,
    /// Changed on the desk while the node runs (`ops::publisher`).
    brand: std::sync::RwLock<std::sync::Arc<Brand>>,
}

impl Views {
    /// # Panics
    /// When a built-in template does not compile (a test compiles them all).
    pub(crate) fn new(brand: Brand) -> Self {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        // HTML-escape text as `escape_html` does, leaving `/` alone: minijinja's own escaper
        // writes it as `&#x2f;`, which a publisher then sees in the snippet to paste.
        env.set_formatter(|out, state, value| match value.as_str() {
            Some(text) if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() => {
                out.write_str(&crate::render::escape_html(text))
                    .map_err(|e| {
                        minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                    })
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        // Optional values (errors, notices) are simply absent from most pages.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("built-in template {name}: {e:#}"));
        }
        env.add_function("t", translate);
        env.add_filter("upper", upper);
        Self {
            env,
            brand: std::sync::RwLock::new(std::sync::Arc::new(brand)),
        }
    }

    pub(crate) fn brand(&self) -> std::sync::Arc<Brand> {
        self.brand.read().expect("never poisoned").clone()
    }

    pub(crate) fn set_brand(&self, brand: Brand) {
        *self.brand.write().expect("never poisoned") = std::sync::Arc::new(brand);
    }

    /// Renders `name` in `lang` with `ctx`, plus `lang`, `other_lang` and `brand`.
    ///
    /// # Errors
    /// When a template refers to something `ctx` lacks (a bug, caught by the tests).
    pub(crate) fn render(
        &self,
        name: &str,
        lang: Lang,
        ctx: impl Serialize,
    ) -> Result<String, Invalid> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| Invalid(format!("{e:#}")))?;
        template
            .render(minijinja::context! {
                lang => lang.as_str(),
                other_lang => i18n::other(lang).as_str(),
                brand => Serde(&*self.brand()),
                ..Serde(ctx)
            })
            .map_err(|e| {
                let mut text = format!("{name}: {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                Invalid(text)
            })
    }
}

fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(Lang::En)
}

/// `t("key", name=value, …)`: the text in the page's language with placeholders filled.
fn translate(state: &State, key: &str, kwargs: Kwargs) -> Result<Value, minijinja::Error> {
    let escape = !matches!(state.auto_escape(), AutoEscape::None);
    let text = i18n::text(lang_of(state), key);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        push(&mut out, &rest[..start], escape);
        let name = &rest[start + 1..start + len];
        let value: Value = kwargs.get(name)?;
        if value.is_safe() || !escape {
            out.push_str(&value.to_string());
        } else {
            push(&mut out, &value.to_string(), true);
        }
        rest = &rest[start + len + 1..];
    }
    push(&mut out, rest, escape);
    kwargs.assert_all_used()?;
    Ok(Value::from_safe_string(out))
}

fn push(out: &mut String, text: &str, escape: bool) {
    if escape {
        out.push_str(&crate::render::escape_html(text));
    } else {
        out.push_str(text);
    }
}

/// `upper`: upper case by the page language's rules (Turkish dotted İ).
fn upper(state: &State, text: &str) -> String {
    lang_of(state).to_uppercase(text)
}

/// Fills `{name}` placeholders of a catalog text with plain values, for text that is not
/// in a template (consent records, JSON messages).
pub(crate) fn fill(lang: Lang, key: &str, values: &[(&str, &str)]) -> String {
    let mut text = i18n::text(lang, key).to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_a_template_asks_for_exists() {
        for (name, source) in TEMPLATES {
            for part in source.split("t(\"").skip(1) {
                let key = part.split('"').next().unwrap();
                assert!(
                    i18n::lookup(Lang::En, key).is_some(),
                    "{name} asks for the unknown text '{key}'"
                );
            }
        }
    }

    #[test]
    fn brand_colours_are_checked_because_they_go_into_css() {
        assert!(Brand::new("Haber", None, "#0b5394").is_ok());
        assert!(Brand::new("Haber", None, "#abc").is_ok());
        assert!(Brand::new("Haber", None, "red;}body{display:none").is_err());
        assert!(Brand::new("Haber", None, "#12345g").is_err());
    }
}
