//! Links mailed to readers that need a click to act: confirming a signup
//! (`/subscription/confirm/{token}`) and a new address (`/subscription/change/{token}`).
//! A GET shows what would happen and a button; the button's POST does it, once. Mail
//! scanners that follow links therefore confirm nothing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::reader::{Reader, invalid_link, message, unavailable};
use crate::domain::Lang;
use crate::i18n;
use crate::ops::reader::{ChangeState, ConfirmState};
use crate::render::views::fill;
use crate::web::extract::Path;
use crate::web::state::AppState;

fn lang(state: &AppState, reader: &Reader) -> Lang {
    state.readers.language(reader.lang, &[])
}

fn confirm_page(
    state: &AppState,
    reader: &Reader,
    token: &str,
    found: ConfirmState,
    lang: Lang,
) -> Response {
    let here = format!(
        "{}/subscription/confirm/{token}?lang={}",
        state.kit.links.root(),
        lang.as_str()
    );
    let say = |status, title, text: &str, extra| {
        message(state, reader, status, lang, title, &[text], extra)
    };
    match found {
        ConfirmState::Invalid => invalid_link(state, reader, lang),
        ConfirmState::Expired => say(
            StatusCode::GONE,
            "confirm.expired_title",
            i18n::text(lang, "confirm.expired"),
            json!({"form": {
                "action": format!("{}/subscription/confirm/{token}/resend?lang={}", state.kit.links.root(), lang.as_str()),
                "label": "confirm.resend",
            }}),
        ),
        ConfirmState::Used => say(
            StatusCode::GONE,
            "confirm.title",
            i18n::text(lang, "confirm.used"),
            json!({}),
        ),
        ConfirmState::Nothing => say(
            StatusCode::OK,
            "confirm.title",
            i18n::text(lang, "confirm.nothing"),
            json!({}),
        ),
        ConfirmState::Ready { email, lists } => say(
            StatusCode::OK,
            "confirm.title",
            &fill(lang, "confirm.lead", &[("email", &email)]),
            json!({"items": lists, "form": {"action": here, "label": "confirm.button"}}),
        ),
        ConfirmState::Confirmed { lists, manage_url } => say(
            StatusCode::OK,
            "confirm.done_title",
            i18n::text(lang, "confirm.done"),
            json!({"items": lists, "link": {
                "url": format!("{manage_url}?lang={}", lang.as_str()),
                "label": "unsub.manage",
            }}),
        ),
    }
}

/// `GET /subscription/confirm/{token}`
pub(crate) async fn show(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
) -> Response {
    let lang = lang(&state, &reader);
    match state.readers.confirm(&token, false).await {
        Ok(found) => confirm_page(&state, &reader, &token, found, lang),
        Err(err) => unavailable(&state, &reader, lang, &err),
    }
}

/// `POST /subscription/confirm/{token}`
pub(crate) async fn confirm(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
) -> Response {
    let lang = lang(&state, &reader);
    match state.readers.confirm(&token, true).await {
        Ok(done) => confirm_page(&state, &reader, &token, done, lang),
        Err(err) => unavailable(&state, &reader, lang, &err),
    }
}

/// `POST /subscription/confirm/{token}/resend`: the same answer whatever happened.
pub(crate) async fn resend(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
) -> Response {
    let lang = lang(&state, &reader);
    match state.readers.resend_from_link(&token, reader.ip).await {
        Ok(()) => {
            state.kick.kick();
            message(
                &state,
                &reader,
                StatusCode::OK,
                lang,
                "confirm.title",
                &[i18n::text(lang, "confirm.resent")],
                json!({}),
            )
        }
        Err(err) => unavailable(&state, &reader, lang, &err),
    }
}

fn change_page(
    state: &AppState,
    reader: &Reader,
    token: &str,
    found: ChangeState,
    lang: Lang,
) -> Response {
    let say = |status, title, text: &str, extra| {
        message(state, reader, status, lang, title, &[text], extra)
    };
    match found {
        ChangeState::Invalid => invalid_link(state, reader, lang),
        ChangeState::Expired => say(
            StatusCode::GONE,
            "confirm.expired_title",
            i18n::text(lang, "link.invalid"),
            json!({}),
        ),
        ChangeState::Used => say(
            StatusCode::GONE,
            "change.title",
            i18n::text(lang, "confirm.used"),
            json!({}),
        ),
        ChangeState::Ready { new_email } => say(
            StatusCode::OK,
            "change.title",
            &fill(lang, "change.lead", &[("email", &new_email)]),
            json!({"form": {
                "action": format!("{}/subscription/change/{token}?lang={}", state.kit.links.root(), lang.as_str()),
                "label": "change.button",
            }}),
        ),
        ChangeState::Changed => say(
            StatusCode::OK,
            "change.title",
            i18n::text(lang, "change.done"),
            json!({}),
        ),
        ChangeState::Taken => say(
            StatusCode::CONFLICT,
            "change.title",
            i18n::text(lang, "change.taken"),
            json!({}),
        ),
    }
}

/// `GET /subscription/change/{token}`
pub(crate) async fn show_change(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
) -> Response {
    let lang = lang(&state, &reader);
    match state.readers.change_address(&token, false).await {
        Ok(found) => change_page(&state, &reader, &token, found, lang),
        Err(err) => unavailable(&state, &reader, lang, &err),
    }
}

/// `POST /subscription/change/{token}`
pub(crate) async fn change(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
) -> Response {
    let lang = lang(&state, &reader);
    match state.readers.change_address(&token, true).await {
        Ok(done) => change_page(&state, &reader, &token, done, lang),
        Err(err) => unavailable(&state, &reader, lang, &err),
    }
}
