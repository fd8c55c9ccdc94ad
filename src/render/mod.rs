//! Turning a campaign (or a transactional template) into the subject, HTML and plain text of
//! one recipient's message.
//!
//! [`Compiled::new`] does everything that is the same for every recipient once: Markdown to
//! HTML, placing the body into its template, CSS inlining and the plain-text conversion (see
//! `protect` for how template tags survive those), and compiling the result with MiniJinja.
//! [`Compiled::render`] then only evaluates the compiled templates with one recipient's values.
//!
//! Templates are sandboxed: no loader (so no file access and no includes), undefined values
//! are errors, a fuel limit stops runaway loops, and the only functions are the curated ones
//! registered here.

mod nesting;
mod protect;
pub(crate) mod views;

use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, State, UndefinedBehavior};
use serde::Serialize;

use crate::domain::Invalid;

/// How a body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    Html,
    Markdown,
    Plain,
}

impl From<crate::domain::ContentType> for BodyFormat {
    /// `richtext` is HTML from a rich-text editor.
    fn from(content_type: crate::domain::ContentType) -> Self {
        use crate::domain::ContentType;
        match content_type {
            ContentType::Richtext | ContentType::Html => BodyFormat::Html,
            ContentType::Markdown => BodyFormat::Markdown,
            ContentType::Plain => BodyFormat::Plain,
        }
    }
}

/// The instructions one render may run; ample for any real mail, fatal to an endless loop.
const FUEL_PER_RENDER: u64 = 200_000;
const RECURSION_LIMIT: usize = 32;
/// Where the campaign body goes in a campaign template.
const CONTENT_TAG: &str = "{{ content }}";
/// Plain-text line width, the customary one for mail.
const TEXT_WIDTH: usize = 78;

/// What a message is made of before it is personalised.
#[derive(Debug, Clone)]
pub(crate) struct Source<'a> {
    pub(crate) subject: &'a str,
    pub(crate) body: &'a str,
    pub(crate) format: BodyFormat,
    /// The campaign template (with `{{ content }}`), or `None` for the body alone.
    pub(crate) layout: Option<&'a str>,
    /// A hand-written plain-text part, used instead of the converted HTML.
    pub(crate) altbody: Option<&'a str>,
}

/// The per-recipient values a template sees.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Recipient<'a> {
    pub(crate) subscriber: SubscriberVars<'a>,
    pub(crate) campaign: CampaignVars<'a>,
    /// Arbitrary data (a transactional message's `data`).
    pub(crate) data: &'a serde_json::Value,
    #[serde(rename = "__links")]
    pub(crate) links: Links<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SubscriberVars<'a> {
    pub(crate) uuid: String,
    pub(crate) email: &'a str,
    pub(crate) name: &'a str,
    pub(crate) attribs: &'a serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CampaignVars<'a> {
    pub(crate) uuid: String,
    pub(crate) name: &'a str,
    pub(crate) subject: &'a str,
}

/// The recipient's own links, reached in templates through functions.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Links<'a> {
    pub(crate) unsubscribe: &'a str,
    pub(crate) manage: &'a str,
}

/// One recipient's message texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub(crate) subject: String,
    pub(crate) html: String,
    pub(crate) text: String,
}

/// A template compiled once, rendered once per recipient.
#[derive(Clone)]
pub(crate) struct Compiled {
    env: Arc<Environment<'static>>,
    /// CSS could not be inlined into the template itself: inline each rendered message.
    inline_per_message: bool,
    /// No text template: convert each rendered HTML message.
    text_per_message: bool,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("inline_per_message", &self.inline_per_message)
            .field("text_per_message", &self.text_per_message)
            .finish_non_exhaustive()
    }
}

impl Compiled {
    /// # Errors
    /// When a template does not compile; the message names the template and the line.
    pub(crate) fn new(source: &Source<'_>) -> Result<Self, Invalid> {
        let body = listmonk_compat(source.body);
        let body_html = match source.format {
            BodyFormat::Html => body,
            BodyFormat::Markdown => {
                let protected = protect::protect(&body);
                let html = markdown_to_html(&protected.text);
                protected
                    .restore(&html)
                    .ok_or_else(|| Invalid("the Markdown body mangles its template tags".into()))?
            }
            BodyFormat::Plain => plain_to_html(&body),
        };
        let document = match source.layout {
            Some(layout) => {
                let layout = listmonk_compat(layout);
                if !layout.contains(CONTENT_TAG) {
                    return Err(Invalid(
                        "the template has no {{ content }} tag for the campaign body".into(),
                    ));
                }
                layout.replacen(CONTENT_TAG, &body_html, 1)
            }
            None => body_html,
        };
        refuse_deep_nesting(&document, "the message")?;

        let protected = protect::protect(&document);
        let inlined = inline_css(&protected.text).and_then(|html| protected.restore(&html));
        let (html_source, inline_per_message) = match inlined {
            Some(html) => (html, false),
            None => (document.clone(), true),
        };

        let mut env = sandbox();
        env.add_template_owned("subject.txt", listmonk_compat(source.subject))
            .map_err(|e| template_error("subject", &e))?;
        env.add_template_owned("message.html", html_source)
            .map_err(|e| template_error("body", &e))?;

        // A hand-written text part must compile; a converted one may not (the conversion can
        // reorder tags), and then each rendered message is converted instead.
        let text_source = match source.altbody.filter(|t| !t.trim().is_empty()) {
            Some(alt) => Some((listmonk_compat(alt), true)),
            None if source.format == BodyFormat::Plain && source.layout.is_none() => {
                Some((listmonk_compat(source.body), true))
            }
            None => html_to_text(&protected.text)
                .and_then(|text| protected.restore_dropping_outputs(&text))
                .map(|text| (text, false)),
        };
        let mut text_per_message = true;
        if let Some((text, required)) = text_source {
            match env.add_template_owned("message.txt", text) {
                Ok(()) => text_per_message = false,
                Err(e) if required => return Err(template_error("plain-text body", &e)),
                Err(_) => {}
            }
        }
        Ok(Self {
            env: Arc::new(env),
            inline_per_message,
            text_per_message,
        })
    }

    /// # Errors
    /// When evaluating a template fails for this recipient (an undefined value, a bad
    /// argument, too much work).
    pub(crate) fn render(&self, recipient: &Recipient<'_>) -> Result<Rendered, Invalid> {
        let render = |name: &str, ctx: &Value| {
            self.env
                .get_template(name)
                .and_then(|t| t.render(ctx))
                .map_err(|e| template_error(name, &e))
        };
        let subject = single_line(&render(
            "subject.txt",
            &Value::from(minijinja::value::Serde(recipient)),
        )?);
        // The body sees the subject as the recipient gets it (a `<title>`, a heading).
        let mut personal = recipient.clone();
        personal.campaign.subject = &subject;
        let ctx = Value::from(minijinja::value::Serde(&personal));
        let get = |name: &str| render(name, &ctx);
        let mut html = get("message.html")?;
        if self.inline_per_message || self.text_per_message {
            // The template itself passed; what its loops built for this recipient must too.
            refuse_deep_nesting(&html, "the rendered message")?;
        }
        if self.inline_per_message {
            html = inline_css(&html).unwrap_or(html);
        }
        let text = if self.text_per_message {
            html_to_text(&html).unwrap_or_default()
        } else {
            get("message.txt")?
        };
        Ok(Rendered {
            subject,
            html,
            text,
        })
    }
}

/// Refuses HTML nested too deeply for the tree-walking tools (see `nesting`).
///
/// # Errors
/// When `html` nests elements deeper than the limit.
pub(crate) fn refuse_deep_nesting(html: &str, what: &str) -> Result<(), Invalid> {
    if nesting::too_deep(html) {
        return Err(Invalid(format!(
            "{what} nests HTML elements more than {} levels deep, or makes more than {} of them",
            nesting::MAX_NESTING,
            nesting::MAX_ELEMENTS
        )));
    }
    Ok(())
}

/// The environment every user template runs in.
fn sandbox() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL_PER_RENDER));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.add_function("unsubscribe_url", |state: &State| {
        link(state, "unsubscribe")
    });
    env.add_function("manage_url", |state: &State| link(state, "manage"));
    env.add_function("now", || crate::domain::Timestamp::now().to_string());
    env.add_filter("date", format_date);
    env
}

/// A link of the recipient's. Marked safe: bulten made it (base URL and a base64url token),
/// and HTML escaping would turn every `/` into `&#x2f;`.
fn link(state: &State, which: &str) -> Result<Value, minijinja::Error> {
    state
        .lookup("__links")
        .and_then(|links| links.get_attr(which).ok())
        .filter(|v| !v.is_undefined())
        .and_then(|v| v.as_str().map(|s| Value::from_safe_string(s.to_owned())))
        .ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("no {which} link in this context"),
            )
        })
}

/// `{{ value | date("[day].[month].[year]") }}`: an RFC 3339 time in a `time` format.
fn format_date(value: &str, format: &str) -> Result<String, minijinja::Error> {
    let invalid =
        |what: String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, what);
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|e| invalid(format!("'{value}' is not an RFC 3339 time: {e}")))?;
    let description = time::format_description::parse_borrowed::<2>(format)
        .map_err(|e| invalid(format!("invalid date format '{format}': {e}")))?;
    at.format(&description)
        .map_err(|e| invalid(format!("cannot format the date: {e}")))
}

fn template_error(what: &str, err: &minijinja::Error) -> Invalid {
    let what = what.trim_end_matches(".html").trim_end_matches(".txt");
    match err.line() {
        Some(line) => Invalid(format!(
            "template error in the {what}, line {line}: {err:#}"
        )),
        None => Invalid(format!("template error in the {what}: {err:#}")),
    }
}

/// The tags of listmonk templates, in this engine's words, so templates brought over from
/// listmonk work.
fn listmonk_compat(source: &str) -> String {
    const FORMS: &[(&str, &str)] = &[
        ("{{ template \"content\" . }}", CONTENT_TAG),
        ("{{ UnsubscribeURL }}", "{{ unsubscribe_url() }}"),
        ("{{ ManageURL }}", "{{ manage_url() }}"),
        ("{{ .Subscriber.Name }}", "{{ subscriber.name }}"),
        ("{{ .Subscriber.Email }}", "{{ subscriber.email }}"),
        ("{{ .Subscriber.UUID }}", "{{ subscriber.uuid }}"),
        ("{{ .Campaign.Subject }}", "{{ campaign.subject }}"),
        ("{{ .Campaign.Name }}", "{{ campaign.name }}"),
        ("{{ .Campaign.UUID }}", "{{ campaign.uuid }}"),
    ];
    if !source.contains("{{") {
        return source.to_owned();
    }
    let mut out = source.to_owned();
    for (from, to) in FORMS {
        if out.contains(from) {
            out = out.replace(from, to);
        }
    }
    out
}

fn markdown_to_html(markdown: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS;
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    out
}

/// Text made safe inside HTML, in element content and in quoted attributes.
pub(crate) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Plain text shown as HTML: escaped, paragraphs kept.
fn plain_to_html(text: &str) -> String {
    escape_html(text)
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.trim().replace('\n', "<br>\n")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn inline_css(html: &str) -> Option<String> {
    // Never fetch: a stylesheet link in a template must not make the server read a file or
    // call out.
    let inliner = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .keep_at_rules(true)
        .build();
    inliner.inline(html).ok()
}

fn html_to_text(html: &str) -> Option<String> {
    html2text::config::plain()
        .string_from_read(html.as_bytes(), TEXT_WIDTH)
        .ok()
}

/// A subject is one header line: line breaks become spaces.
fn single_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The template shipped with bulten for campaigns.
pub(crate) const DEFAULT_CAMPAIGN_TEMPLATE: &str =
    include_str!("../../templates/campaign-default.html");
/// The template shipped for transactional mail.
pub(crate) const DEFAULT_TX_TEMPLATE: &str = include_str!("../../templates/tx-default.html");

#[cfg(test)]
mod tests;
