//! The preference centre behind the signed link in every mail (`/m/{token}`): topics on and
//! off, a new address (confirmed at that address), unsubscribing from everything, and the
//! reader's own data, downloaded or erased. Each is a POST of the page's forms; a GET only
//! shows. And the page that mails a reader their link (`/subscription/manage`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::reader::{
    Reader, field, fields_named, form_errors, form_fields, invalid_link, message, page,
    unavailable, with_page_headers,
};
use crate::domain::{Lang, PreferenceAction, SignupSource, Subscriber};
use crate::i18n;
use crate::ops::reader::{Preferences, Proofs, Refusal, Request};
use crate::web::extract::Path;
use crate::web::state::AppState;

/// The reader behind a link, and the language of their page; or the page to answer with.
async fn target(
    state: &AppState,
    reader: &Reader,
    token: &str,
) -> Result<(Preferences, Lang), Response> {
    let fallback = state.readers.language(reader.lang, &[]);
    let subscriber = match state.readers.manage_target(token).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(invalid_link(state, reader, fallback)),
        Err(err) => return Err(unavailable(state, reader, fallback, &err)),
    };
    let prefs = state
        .readers
        .preferences(subscriber)
        .await
        .map_err(|err| unavailable(state, reader, fallback, &err))?;
    let lang = reader
        .lang
        .explicit
        .or(prefs.lang)
        .or(reader.lang.browser)
        .unwrap_or(state.readers.publisher().default_lang);
    Ok((prefs, lang))
}

#[allow(clippy::too_many_arguments)]
fn manage_page(
    state: &AppState,
    reader: &Reader,
    token: &str,
    prefs: &Preferences,
    lang: Lang,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<(&str, &str)>,
) -> Response {
    let mut ctx = json!({
        "email": prefs.subscriber.email.as_str(),
        "lists": prefs.topics,
        "action": format!("{}/m/{token}?lang={}", state.kit.links.root(), lang.as_str()),
        "notice": notice,
        "captcha": super::signup::captcha_widget(state),
    });
    if let Some(ctx) = ctx.as_object_mut() {
        ctx.extend(form_errors(error));
    }
    page(
        state,
        reader,
        status,
        "manage.html",
        lang,
        "manage.title",
        ctx,
    )
}

/// `GET /m/{token}`
pub(crate) async fn show(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
) -> Response {
    match target(&state, &reader, &token).await {
        Ok((prefs, lang)) => manage_page(
            &state,
            &reader,
            &token,
            &prefs,
            lang,
            StatusCode::OK,
            None,
            None,
        ),
        Err(response) => response,
    }
}

/// `POST /m/{token}`: one of the page's forms, named by its `action` field.
pub(crate) async fn act(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let (prefs, lang) = match target(&state, &reader, &token).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let fields = form_fields(&body);
    let subscriber: Subscriber = prefs.subscriber.clone();
    let reload =
        |notice: Option<&'static str>, error: Option<(&'static str, &'static str)>, status| {
            let (state, reader, token) = (state.clone(), reader.clone(), token.clone());
            async move {
                match target(&state, &reader, &token).await {
                    Ok((prefs, _)) => manage_page(
                        &state,
                        &reader,
                        &token,
                        &prefs,
                        lang,
                        status,
                        notice.map(|n| i18n::text(lang, n)),
                        error,
                    ),
                    Err(response) => response,
                }
            }
        };
    let action = field(&fields, "action").and_then(|a| a.parse::<PreferenceAction>().ok());
    let outcome = match action {
        Some(PreferenceAction::Save) => {
            let request = Request {
                source: Some(SignupSource::Form),
                page: format!("{}/m", state.kit.links.root()),
                ip: reader.ip,
                user_agent: reader.user_agent.clone(),
                ..Request::default()
            };
            match state
                .readers
                .save_topics(&subscriber, &fields_named(&fields, "l"), &request, lang)
                .await
            {
                Ok(()) => {
                    state.kick.kick();
                    Ok(reload(Some("manage.saved"), None, StatusCode::OK).await)
                }
                Err(err) => Err(err),
            }
        }
        Some(PreferenceAction::UnsubscribeAll) => {
            match state.readers.unsubscribe_all(&subscriber).await {
                Ok(()) => {
                    state.kick.kick();
                    Ok(message(
                        &state,
                        &reader,
                        StatusCode::OK,
                        lang,
                        "unsub.done_title",
                        &[i18n::text(lang, "manage.unsubscribed_all")],
                        json!({}),
                    ))
                }
                Err(err) => Err(err),
            }
        }
        Some(PreferenceAction::ChangeEmail) => {
            let new = field(&fields, "new_email").unwrap_or_default();
            let proofs = Proofs {
                altcha: field(&fields, "altcha"),
                captcha: state
                    .readers
                    .external_captcha()
                    .and_then(|p| field(&fields, p.response_field())),
                honeypot: field(&fields, "nonce"),
                ip: reader.ip,
            };
            match state
                .readers
                .request_change(&subscriber, &new, &proofs, lang)
                .await
            {
                Ok(Ok(())) => {
                    state.kick.kick();
                    Ok(reload(Some("manage.change_sent"), None, StatusCode::OK).await)
                }
                Ok(Err(refusal)) => Ok(reload(
                    None,
                    Some((
                        match refusal.field() {
                            field @ ("altcha" | "captcha") => field,
                            _ => "new_email",
                        },
                        i18n::text(lang, refusal.key()),
                    )),
                    if refusal.is_rate_limit() {
                        StatusCode::TOO_MANY_REQUESTS
                    } else {
                        StatusCode::BAD_REQUEST
                    },
                )
                .await),
                Err(err) => Err(err),
            }
        }
        Some(PreferenceAction::Export) => match state.readers.reader_data(&subscriber).await {
            Ok(data) => Ok(with_page_headers(
                (
                    [
                        (header::CONTENT_TYPE, "application/json".to_owned()),
                        (
                            header::CONTENT_DISPOSITION,
                            "attachment; filename=\"my-newsletter-data.json\"".to_owned(),
                        ),
                    ],
                    axum::Json(data),
                )
                    .into_response(),
            )),
            Err(err) => Err(err),
        },
        Some(PreferenceAction::Erase) => {
            if field(&fields, "confirm").as_deref() != Some("yes") {
                Ok(reload(
                    None,
                    Some(("confirm", i18n::text(lang, "data.erase_needs_confirm"))),
                    StatusCode::BAD_REQUEST,
                )
                .await)
            } else {
                match state.readers.erase(&subscriber).await {
                    Ok(()) => Ok(message(
                        &state,
                        &reader,
                        StatusCode::OK,
                        lang,
                        "data.erased_title",
                        &[i18n::text(lang, "data.erased")],
                        json!({}),
                    )),
                    Err(err) => Err(err),
                }
            }
        }
        _ => Ok(message(
            &state,
            &reader,
            StatusCode::BAD_REQUEST,
            lang,
            "link.invalid_title",
            &[i18n::text(lang, "error.honeypot")],
            json!({}),
        )),
    };
    outcome.unwrap_or_else(|err| unavailable(&state, &reader, lang, &err))
}

fn sendlink_page(
    state: &AppState,
    reader: &Reader,
    lang: Lang,
    status: StatusCode,
    email: &str,
    refusals: &[Refusal],
) -> Response {
    // The page has two fields: the address, and the widget.
    let errors = form_errors(refusals.iter().map(|r| {
        let field = if r.field() == "altcha" {
            "altcha"
        } else {
            "email"
        };
        (field, i18n::text(lang, r.key()))
    }));
    let mut ctx = json!({
        "action": format!("{}/subscription/manage", state.kit.links.root()),
        "values": {"email": email},
    });
    if let Some(ctx) = ctx.as_object_mut() {
        ctx.extend(errors);
    }
    page(
        state,
        reader,
        status,
        "sendlink.html",
        lang,
        "sendlink.title",
        ctx,
    )
}

/// `GET /subscription/manage`: "send me my link".
pub(crate) async fn link_form(State(state): State<AppState>, reader: Reader) -> Response {
    let lang = state.readers.language(reader.lang, &[]);
    sendlink_page(&state, &reader, lang, StatusCode::OK, "", &[])
}

/// `POST /subscription/manage`: the same answer whether or not the address is known.
pub(crate) async fn send_link(
    State(state): State<AppState>,
    reader: Reader,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let mut choice = reader.lang;
    if let Some(lang) = field(&fields, "lang").and_then(|l| l.parse().ok()) {
        choice.explicit = Some(lang);
    }
    let lang = state.readers.language(choice, &[]);
    let email = field(&fields, "email").unwrap_or_default();
    let sent = state
        .readers
        .send_link(
            &email,
            &Proofs {
                altcha: field(&fields, "altcha"),
                captcha: None,
                honeypot: field(&fields, "nonce"),
                ip: reader.ip,
            },
            lang,
        )
        .await;
    match sent {
        Ok(Ok(())) => {
            state.kick.kick();
            message(
                &state,
                &reader,
                StatusCode::OK,
                lang,
                "sendlink.title",
                &[i18n::text(lang, "sendlink.sent")],
                json!({}),
            )
        }
        Ok(Err(refusals)) => {
            let status = if refusals[0].is_rate_limit() {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::BAD_REQUEST
            };
            sendlink_page(&state, &reader, lang, status, &email, &refusals)
        }
        Err(err) => unavailable(&state, &reader, lang, &err),
    }
}
