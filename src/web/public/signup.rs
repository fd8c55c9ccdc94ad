//! The three ways in, one set of checks ([`crate::ops::reader::Readers::sign_up`]): the
//! JSON endpoint (`POST /api/public/subscription`, listmonk's shape, JSON or form), the
//! hosted page (`GET/POST /subscription/form`, works without JavaScript apart from the
//! proof-of-work widget), and the snippet a publisher embeds (`GET /subscription/embed`
//! shows it, live). Also the public topics, the challenge, and the widget's script.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::reader::{
    Reader, field, fields_named, form_errors, form_fields, message, page, unavailable,
};
use crate::domain::{Lang, List, SignupSource};
use crate::i18n;
use crate::ops::captcha::{self, Provider};
use crate::ops::reader::{Accepted, Refusal, Rejection, Request};
use crate::web::error::ApiError;
use crate::web::state::AppState;

/// The widget, vendored (see `assets/vendor/altcha`).
const ALTCHA_JS: &[u8] = include_bytes!("../../../assets/vendor/altcha/altcha.i18n.min.js");

#[derive(Debug, Serialize)]
pub(crate) struct PublicList {
    uuid: uuid::Uuid,
    name: String,
}

/// `GET /api/public/lists`
pub(crate) async fn lists(
    State(state): State<AppState>,
) -> Result<Json<Vec<PublicList>>, ApiError> {
    let lists = state.readers.public_lists().await?;
    Ok(Json(
        lists
            .into_iter()
            .map(|l| PublicList {
                uuid: l.uuid,
                name: l.name,
            })
            .collect(),
    ))
}

/// `GET /api/public/captcha/altcha`: a fresh challenge, never cached.
pub(crate) async fn altcha_challenge(State(state): State<AppState>) -> Result<Response, ApiError> {
    let challenge = captcha::challenge(&state.kit.signer, state.readers.difficulty())?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(challenge)).into_response())
}

/// `GET /public/altcha.min.js`
pub(crate) async fn altcha_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ALTCHA_JS,
    )
        .into_response()
}

/// The JSON body listmonk's clients send, plus the checks' fields.
#[derive(Debug, Default, Deserialize)]
struct JsonSignup {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    list_uuids: Vec<String>,
    altcha: Option<String>,
    nonce: Option<String>,
    lang: Option<String>,
    #[serde(rename = "g-recaptcha-response")]
    recaptcha: Option<String>,
    #[serde(rename = "h-captcha-response")]
    hcaptcha: Option<String>,
    #[serde(rename = "cf-turnstile-response")]
    turnstile: Option<String>,
    captcha: Option<String>,
}

/// `POST /api/public/subscription`: JSON or a form body.
pub(crate) async fn subscribe_json(
    State(state): State<AppState>,
    reader: Reader,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    let mut request = if is_json {
        match serde_json::from_slice::<JsonSignup>(&body) {
            Ok(body) => {
                let mut request = base_request(&reader, SignupSource::Api);
                request.email = body.email;
                request.name = body.name;
                request.lists = body.list_uuids;
                request.altcha = body.altcha;
                request.honeypot = body.nonce;
                request.captcha = body
                    .captcha
                    .or(body.recaptcha)
                    .or(body.hcaptcha)
                    .or(body.turnstile);
                if let Some(lang) = body.lang.and_then(|l| l.parse().ok()) {
                    request.lang.explicit = Some(lang);
                }
                request
            }
            Err(err) => {
                return ApiError::bad_request(format!("the JSON body is not valid: {err}"))
                    .into_response();
            }
        }
    } else {
        let fields = form_fields(&body);
        let mut request = request_from_form(&state, &reader, &fields, SignupSource::Api);
        if let Some(list_uuids) = field(&fields, "list_uuids") {
            request.lists.push(list_uuids);
        }
        request
    };
    request.source = Some(SignupSource::Api);
    match state.readers.sign_up(request).await {
        Ok(Ok(accepted)) => {
            state.kick.kick();
            Json(json!({"data": {"has_optin": accepted.has_optin}})).into_response()
        }
        Ok(Err(rejection)) => {
            let first = rejection.refusals[0];
            let message = rejection
                .refusals
                .iter()
                .map(|r| i18n::text(rejection.lang, r.key()))
                .collect::<Vec<_>>()
                .join(" ");
            ApiError::Status(status_of(first), message).into_response()
        }
        Err(err) => ApiError::Internal(anyhow::Error::new(err)).into_response(),
    }
}

fn status_of(refusal: Refusal) -> StatusCode {
    match refusal {
        r if r.is_rate_limit() => StatusCode::TOO_MANY_REQUESTS,
        Refusal::CaptchaUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn base_request(reader: &Reader, source: SignupSource) -> Request {
    Request {
        source: Some(source),
        page: reader.referer.clone(),
        ip: reader.ip,
        user_agent: reader.user_agent.clone(),
        lang: reader.lang,
        ..Request::default()
    }
}

/// A signup from form fields (`email`, `name`, `l` per topic, `altcha`, `nonce`, the
/// provider's token field, `lang`, `source`, `page`).
fn request_from_form(
    state: &AppState,
    reader: &Reader,
    fields: &[(String, String)],
    source: SignupSource,
) -> Request {
    let mut request = base_request(reader, source);
    request.email = field(fields, "email").unwrap_or_default();
    request.name = field(fields, "name").unwrap_or_default();
    request.lists = fields_named(fields, "l");
    request.altcha = field(fields, "altcha");
    request.honeypot = field(fields, "nonce");
    request.captcha = state
        .readers
        .external_captcha()
        .and_then(|p| field(fields, p.response_field()));
    if let Some(lang) = field(fields, "lang").and_then(|l| l.parse().ok()) {
        request.lang.explicit = Some(lang);
    }
    if let Some(page) = field(fields, "page").filter(|p| !p.is_empty()) {
        request.page = page;
    }
    request
}

/// The configured third-party captcha's widget for a page: its class, script and site key.
pub(super) fn captcha_widget(state: &AppState) -> Option<Value> {
    state.readers.external_captcha().map(|p| {
        let (class, script) = match p {
            Provider::Recaptcha => ("g-recaptcha", "https://www.google.com/recaptcha/api.js"),
            Provider::Hcaptcha => ("h-captcha", "https://js.hcaptcha.com/1/api.js"),
            Provider::Turnstile => (
                "cf-turnstile",
                "https://challenges.cloudflare.com/turnstile/v0/api.js",
            ),
        };
        json!({
            "class": class,
            "script": script,
            "site_key": state.readers.publisher().captcha_site_key.clone().unwrap_or_default(),
        })
    })
}

/// The snippet a publisher pastes into a page to offer `lists` (the embed page shows the
/// same, with the topics the reader picks; this one fixes them). The desk shows it for a list.
///
/// # Errors
/// When the form's template fails to render.
pub(crate) fn snippet(
    state: &AppState,
    lists: &[List],
    lang: Lang,
) -> Result<String, crate::domain::Invalid> {
    let view = FormView {
        lists,
        fixed: true,
        chosen: &[],
        email: "",
        name: "",
        source: SignupSource::Embed,
        page: "",
    };
    let ctx = form_context(state, &view, &[], lang);
    Ok(state
        .readers
        .views()
        .render("form-fields.html", lang, &ctx)?
        .trim()
        .to_owned())
}

/// What the form template needs besides errors.
struct FormView<'a> {
    lists: &'a [List],
    /// The publisher fixed the topics (`?l=`): hidden fields, no checkboxes.
    fixed: bool,
    chosen: &'a [String],
    email: &'a str,
    name: &'a str,
    source: SignupSource,
    page: &'a str,
}

fn form_context(state: &AppState, view: &FormView<'_>, refusals: &[Refusal], lang: Lang) -> Value {
    let lists: Vec<Value> = view
        .lists
        .iter()
        .map(|l| {
            json!({
                "uuid": l.uuid,
                "name": l.name,
                "description": l.description,
                "checked": view.chosen.iter().any(|c| c.trim() == l.uuid.to_string()),
            })
        })
        .collect();
    // With the topics fixed there is no topic field to point at.
    let errors = form_errors(refusals.iter().map(|r| {
        let field = if view.fixed && r.field() == "lists" {
            "email"
        } else {
            r.field()
        };
        (field, i18n::text(lang, r.key()))
    }));
    let captcha = captcha_widget(state);
    let mut ctx = json!({
        // Absolute: the snippet works on the publisher's pages, on another origin.
        "root": state.kit.links.root(),
        "action": format!("{}/subscription/form", state.kit.links.root()),
        "source": match view.source { SignupSource::Embed => "embed", _ => "form" },
        "page": view.page,
        "values": {"email": view.email, "name": view.name},
        "name_max": crate::domain::SubscriberName::MAX_CHARS,
        "lists": lists,
        "fixed_lists": view.fixed,
        "captcha": captcha,
        "terms_url": state.readers.publisher().terms.url.clone(),
        "privacy_url": state.readers.publisher().privacy.url.clone(),
    });
    if let Some(ctx) = ctx.as_object_mut() {
        ctx.extend(errors);
    }
    ctx
}

/// The topics a form offers: the `l` of its URL when they name public lists, else all.
async fn offered(state: &AppState, reader: &Reader) -> Result<(Vec<List>, bool), Response> {
    let all = state.readers.public_lists().await.map_err(|e| {
        let lang = state.readers.language(reader.lang, &[]);
        unavailable(state, reader, lang, &e)
    })?;
    let wanted: Vec<uuid::Uuid> =
        form_urlencoded::parse(reader.uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "l")
            .filter_map(|(_, v)| uuid::Uuid::parse_str(v.trim()).ok())
            .collect();
    let fixed: Vec<List> = all
        .iter()
        .filter(|l| wanted.contains(&l.uuid))
        .cloned()
        .collect();
    Ok(if fixed.is_empty() {
        (all, false)
    } else {
        (fixed, true)
    })
}

/// `GET /subscription/form`
pub(crate) async fn form(State(state): State<AppState>, reader: Reader) -> Response {
    let (lists, fixed) = match offered(&state, &reader).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = state
        .readers
        .language(reader.lang, if fixed { &lists } else { &[] });
    let view = FormView {
        lists: &lists,
        fixed,
        chosen: &[],
        email: "",
        name: "",
        source: SignupSource::Form,
        page: "",
    };
    let ctx = form_context(&state, &view, &[], lang);
    page(
        &state,
        &reader,
        StatusCode::OK,
        "form.html",
        lang,
        "form.title",
        ctx,
    )
}

/// `POST /subscription/form`: the hosted page's and the embedded snippet's target.
pub(crate) async fn submit_form(
    State(state): State<AppState>,
    reader: Reader,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let source = match field(&fields, "source").as_deref() {
        Some("embed") => SignupSource::Embed,
        _ => SignupSource::Form,
    };
    let request = request_from_form(&state, &reader, &fields, source);
    let chosen = request.lists.clone();
    let (email, name, page_url) = (
        request.email.clone(),
        request.name.clone(),
        request.page.clone(),
    );
    let fallback_lang = state.readers.language(request.lang, &[]);
    match state.readers.sign_up(request).await {
        Ok(Ok(Accepted { has_optin, lang })) => {
            state.kick.kick();
            let (title, text) = if has_optin {
                ("done.title", "done.double")
            } else {
                ("done.single_title", "done.single")
            };
            message(
                &state,
                &reader,
                StatusCode::OK,
                lang,
                title,
                &[i18n::text(lang, text)],
                json!({}),
            )
        }
        Ok(Err(Rejection { refusals, lang })) => {
            let all = match state.readers.public_lists().await {
                Ok(all) => all,
                Err(err) => return unavailable(&state, &reader, lang, &err),
            };
            // Topics fixed by the publisher stay fixed when the form comes back.
            let fixed_lists: Vec<List> = all
                .iter()
                .filter(|l| chosen.iter().any(|c| c.trim() == l.uuid.to_string()))
                .cloned()
                .collect();
            let fixed = field(&fields, "fixed").is_some() && !fixed_lists.is_empty();
            let lists = if fixed { fixed_lists } else { all };
            let view = FormView {
                lists: &lists,
                fixed,
                chosen: &chosen,
                email: &email,
                name: &name,
                source,
                page: &page_url,
            };
            let ctx = form_context(&state, &view, &refusals, lang);
            page(
                &state,
                &reader,
                status_of(refusals[0]),
                "form.html",
                lang,
                "form.title",
                ctx,
            )
        }
        Err(err) => unavailable(&state, &reader, fallback_lang, &err),
    }
}

/// `GET /subscription/embed`: the snippet to paste, and the same snippet working.
pub(crate) async fn embed(State(state): State<AppState>, reader: Reader) -> Response {
    let (lists, fixed) = match offered(&state, &reader).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let lang = state.readers.language(reader.lang, &lists);
    let view = FormView {
        lists: &lists,
        fixed,
        chosen: &[],
        email: "",
        name: "",
        source: SignupSource::Embed,
        page: "",
    };
    let mut ctx = form_context(&state, &view, &[], lang);
    let snippet = match state.readers.views().render("form-fields.html", lang, &ctx) {
        Ok(html) => html,
        Err(err) => return unavailable(&state, &reader, lang, &err),
    };
    ctx["snippet"] = Value::from(snippet.trim());
    page(
        &state,
        &reader,
        StatusCode::OK,
        "embed.html",
        lang,
        "form.title",
        ctx,
    )
}
