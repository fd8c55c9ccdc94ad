//! Unsubscribing: RFC 8058 one-click (`POST` with `List-Unsubscribe=One-Click`, answered 200
//! with no redirect and no cookie), and the page behind the footer link (`GET` shows what
//! would happen and a button; the button's `POST` does it). Mail scanners that follow links
//! therefore unsubscribe nobody. No login, no password: the signed link is the proof.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::reader::{Reader, invalid_link, message, unavailable};
use crate::domain::Lang;
use crate::i18n;
use crate::ops::subscribers::{self as ops, UnsubscribeTarget};
use crate::render::views::fill;
use crate::web::extract::Path;
use crate::web::state::AppState;

/// `GET /u/{token}`
pub(crate) async fn show(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
) -> Response {
    let lang = state.readers.language(reader.lang, &[]);
    let target = match target(&state, &reader, &token, lang).await {
        Ok(target) => target,
        Err(response) => return response,
    };
    let lists: Vec<&str> = target
        .lists
        .iter()
        .filter(|l| l.subscribed)
        .map(|l| l.name.as_str())
        .collect();
    // Not the reader's preference link: this token travels in `List-Unsubscribe`, which
    // mailbox providers see and forwards keep, so it may only unsubscribe. The page that
    // mails the preference link to the reader's own address is offered instead.
    let manage = json!({
        "url": format!("{}/subscription/manage?lang={}", state.kit.links.root(), lang.as_str()),
        "label": "unsub.mail_link",
    });
    if lists.is_empty() {
        return message(
            &state,
            &reader,
            StatusCode::OK,
            lang,
            "unsub.title",
            &[i18n::text(lang, "unsub.none")],
            json!({"link": manage}),
        );
    }
    let lead = fill(
        lang,
        "unsub.lead",
        &[("email", target.subscriber.email.as_str())],
    );
    message(
        &state,
        &reader,
        StatusCode::OK,
        lang,
        "unsub.title",
        &[&lead],
        json!({
            "items": lists,
            "form": {"action": format!("{}/u/{token}?lang={}", state.kit.links.root(), lang.as_str()), "label": "unsub.button"},
            "link": manage,
        }),
    )
}

/// `POST /u/{token}`: one-click or the page's button.
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    reader: Reader,
    Path(token): Path<String>,
) -> Response {
    let lang = state.readers.language(reader.lang, &[]);
    let target = match target(&state, &reader, &token, lang).await {
        Ok(target) => target,
        Err(response) => return response,
    };
    if let Err(err) = ops::unsubscribe(&state.db, &target).await {
        return unavailable(&state, &reader, lang, &err);
    }
    state.kick.kick();
    message(
        &state,
        &reader,
        StatusCode::OK,
        lang,
        "unsub.done_title",
        &[i18n::text(lang, "unsub.done")],
        json!({}),
    )
}

async fn target(
    state: &AppState,
    reader: &Reader,
    token: &str,
    lang: Lang,
) -> Result<UnsubscribeTarget, Response> {
    let Some(parsed) = state.kit.signer.parse_unsubscribe(token) else {
        return Err(invalid_link(state, reader, lang));
    };
    match ops::unsubscribe_target(&state.db, parsed).await {
        Ok(Some(target)) => Ok(target),
        Ok(None) => Err(message(
            state,
            reader,
            StatusCode::OK,
            lang,
            "unsub.done_title",
            &[i18n::text(lang, "unsub.unknown")],
            json!({}),
        )),
        Err(err) => Err(unavailable(state, reader, lang, &err)),
    }
}
