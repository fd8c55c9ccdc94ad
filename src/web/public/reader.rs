//! Who is asking, as far as a public page may know: the address (the connection's, or the
//! proxy header's when one is configured), the user agent, the languages asked for, and the
//! page the request came from. And the rendering every reader page shares.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::Lang;
use crate::i18n;
use crate::ops::reader::LangChoice;
use crate::web::state::AppState;

/// What the request tells about the reader.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: String,
    pub(crate) referer: String,
    pub(crate) lang: LangChoice,
    pub(crate) uri: Uri,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header_text = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        // A proxy may add its own header line rather than append to the client's: all the
        // lines, in order, make one list.
        let forwarded = state.settings.client_ip_header.as_deref().and_then(|name| {
            let lines: Vec<&str> = parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            forwarded_ip(&lines.join(","), state.settings.client_ip_trusted_hops)
        });
        let connected = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let explicit = query_value(&parts.uri, "lang").and_then(|l| l.parse().ok());
        Ok(Self {
            ip: forwarded.or(connected),
            user_agent: header_text(header::USER_AGENT.as_str()),
            referer: header_text(header::REFERER.as_str()),
            lang: LangChoice {
                explicit,
                browser: Lang::from_accept_language(&header_text(header::ACCEPT_LANGUAGE.as_str())),
            },
            uri: parts.uri.clone(),
        })
    }
}

/// The address the outermost trusted proxy saw: the entry `hops` from the right of a
/// comma-separated forwarding header. The client writes whatever it likes to the left of
/// what the proxies append, so the left-most entry proves nothing.
fn forwarded_ip(header: &str, hops: usize) -> Option<IpAddr> {
    let entries: Vec<&str> = header
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let at = entries.len().checked_sub(hops.max(1))?;
    entries[at].parse().ok()
}

fn query_value(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Reader {
    /// This page in the other language: the same path and query, `lang` switched.
    pub(crate) fn switch_url(&self, to: Lang) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(self.uri.query().unwrap_or_default().as_bytes()) {
            if k != "lang" {
                query.append_pair(&k, &v);
            }
        }
        query.append_pair("lang", to.as_str());
        format!("{}?{}", self.uri.path(), query.finish())
    }
}

/// A form body's fields, repeated names kept (topics come as several `l`).
pub(crate) fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub(crate) fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

pub(crate) fn fields_named(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// A form's errors as its templates show them: `errors`, the summary at the top (each
/// linking its field), and `field_errors`, the first message of each field, shown beside it
/// and tied to it with `aria-describedby`.
pub(crate) fn form_errors<'a>(
    errors: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> serde_json::Map<String, Value> {
    let mut summary = Vec::new();
    let mut by_field = serde_json::Map::new();
    for (field, message) in errors {
        by_field
            .entry(field)
            .or_insert_with(|| Value::from(message));
        summary.push(json!({"field": field, "message": message}));
    }
    let mut out = serde_json::Map::new();
    out.insert("errors".into(), Value::from(summary));
    out.insert("field_errors".into(), Value::from(by_field));
    out
}

/// Renders a reader page: `template` with `ctx`, its title, the language switch and the
/// public root. Pages are never cached and send no referrer (their URLs hold tokens).
pub(crate) fn page(
    state: &AppState,
    reader: &Reader,
    status: StatusCode,
    template: &str,
    lang: Lang,
    title_key: &str,
    ctx: Value,
) -> Response {
    let other = i18n::other(lang);
    let mut full = json!({
        "title_key": title_key,
        "root": state.kit.links.root(),
        "switch": {"url": reader.switch_url(other), "label": i18n::text(other, "lang.name")},
    });
    if let (Some(full), Value::Object(extra)) = (full.as_object_mut(), ctx) {
        full.extend(extra);
    }
    match state.readers.views().render(template, lang, &full) {
        Ok(html) => with_page_headers((status, Html(html)).into_response()),
        Err(err) => {
            tracing::error!(error = %crate::telemetry::chain(&err), template, "a reader page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        }
    }
}

/// A page of paragraphs (already in the reader's language), with an optional button
/// (`form`: action and label key) or link (`link`: url and label key).
pub(crate) fn message(
    state: &AppState,
    reader: &Reader,
    status: StatusCode,
    lang: Lang,
    title_key: &str,
    paragraphs: &[&str],
    extra: Value,
) -> Response {
    let mut ctx = json!({
        "paragraphs": paragraphs,
        "status": status.is_success(),
        "items": [],
        "form": null,
        "link": null,
    });
    if let (Some(ctx), Value::Object(extra)) = (ctx.as_object_mut(), extra) {
        ctx.extend(extra);
    }
    page(state, reader, status, "message.html", lang, title_key, ctx)
}

/// The page for a link that is not one of ours (tampered, or for another purpose).
pub(crate) fn invalid_link(state: &AppState, reader: &Reader, lang: Lang) -> Response {
    message(
        state,
        reader,
        StatusCode::BAD_REQUEST,
        lang,
        "link.invalid_title",
        &[i18n::text(lang, "link.invalid")],
        json!({}),
    )
}

/// The page for an internal failure: logged, and the reader asked to try again.
pub(crate) fn unavailable(
    state: &AppState,
    reader: &Reader,
    lang: Lang,
    err: &(dyn std::error::Error + 'static),
) -> Response {
    tracing::error!(error = %crate::telemetry::chain(err), "a reader request failed");
    message(
        state,
        reader,
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        "retry.title",
        &[i18n::text(lang, "error.unavailable")],
        json!({}),
    )
}

pub(crate) fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::forwarded_ip;

    #[test]
    fn the_forwarded_address_is_the_one_the_trusted_proxy_added() {
        let ip = |text: &str| text.parse::<std::net::IpAddr>().ok();
        // The client wrote 6.6.6.6 itself; the proxy appended what it saw.
        assert_eq!(forwarded_ip("6.6.6.6, 203.0.113.7", 1), ip("203.0.113.7"));
        assert_eq!(forwarded_ip("203.0.113.7", 1), ip("203.0.113.7"));
        // Two proxies: a CDN, then the operator's own.
        assert_eq!(
            forwarded_ip("6.6.6.6, 203.0.113.7, 198.51.100.1", 2),
            ip("203.0.113.7")
        );
        assert_eq!(
            forwarded_ip("203.0.113.7", 2),
            None,
            "fewer entries than proxies"
        );
        assert_eq!(forwarded_ip("", 1), None);
        assert_eq!(forwarded_ip("6.6.6.6, garbage", 1), None);
    }
}
