//! Enrolling and removing one's second factor.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::login::{Asking, internal};
use super::{Desk, page};
use crate::i18n;
use crate::ops::OpsError;
use crate::ops::second_factor::{self, Enrolment};
use crate::web::public::reader::Reader;
use crate::web::state::AppState;

fn issuer(state: &AppState) -> String {
    state.readers.views().brand().name.clone()
}

/// Where the second factor stands, with the way to set it up or turn it off.
pub(crate) async fn show(State(state): State<AppState>, desk: Desk) -> Response {
    standing_page(&state, &desk, StatusCode::OK, None, None).await
}

async fn standing_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let standing = match second_factor::standing(&state.db, &desk.staff).await {
        Ok(standing) => standing,
        Err(err) => return internal(&err),
    };
    page(
        state,
        Some(desk),
        desk.lang,
        status,
        "admin/second-factor.html",
        "desk.twofa.title",
        json!({
            "enrolled": standing.enrolled,
            "codes_left": standing.recovery_codes_left,
            "required": desk.staff.must_enrol_second_factor,
            "error": error,
            "notice": notice.map(|key| i18n::text(desk.lang, key)),
        }),
    )
}

fn enrol_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    enrolment: &Enrolment,
    error: Option<String>,
) -> Response {
    page(
        state,
        Some(desk),
        desk.lang,
        status,
        "admin/second-factor-enrol.html",
        "desk.twofa.title",
        json!({
            "qr_svg": enrolment.qr_svg,
            // In fours, as authenticator apps show keys, for typing it in by hand.
            "secret": enrolment
                .secret
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            "url": enrolment.url,
            "error": error,
        }),
    )
}

/// Draws a new secret and shows its QR code.
pub(crate) async fn begin(State(state): State<AppState>, desk: Desk) -> Response {
    match second_factor::begin(&state.db, &desk.staff, &issuer(&state)).await {
        Ok(enrolment) => enrol_page(&state, &desk, StatusCode::OK, &enrolment, None),
        Err(OpsError::Conflict(message)) => {
            standing_page(&state, &desk, StatusCode::CONFLICT, Some(message), None).await
        }
        Err(err) => internal(&err),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Confirms the enrolment with a first code and shows the recovery codes, once.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    desk: Desk,
    Form(form): Form<CodeForm>,
) -> Response {
    match second_factor::confirm(&state.db, &desk.staff, &form.code).await {
        Ok(codes) => page(
            &state,
            Some(&desk),
            desk.lang,
            StatusCode::OK,
            "admin/second-factor-codes.html",
            "desk.twofa.title",
            json!({ "codes": codes }),
        ),
        Err(OpsError::Invalid(_)) => {
            let text = i18n::text(desk.lang, "desk.twofa.wrong_code").to_owned();
            match second_factor::pending(&state.db, &desk.staff, &issuer(&state)).await {
                Ok(Some(enrolment)) => enrol_page(
                    &state,
                    &desk,
                    StatusCode::BAD_REQUEST,
                    &enrolment,
                    Some(text),
                ),
                Ok(None) => {
                    standing_page(&state, &desk, StatusCode::BAD_REQUEST, Some(text), None).await
                }
                Err(err) => internal(&err),
            }
        }
        Err(err) => internal(&err),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TurnOffForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// Turns the second factor off, after the password and a code.
pub(crate) async fn turn_off(
    State(state): State<AppState>,
    desk: Desk,
    reader: Reader,
    Form(form): Form<TurnOffForm>,
) -> Response {
    let asking = Asking::of(&reader);
    let turned_off = second_factor::turn_off(
        &state.db,
        &state.settings.sign_in,
        &desk.staff,
        &form.password,
        &form.code,
        asking.origin(),
    );
    match turned_off.await {
        Ok(()) => {
            standing_page(
                &state,
                &desk,
                StatusCode::OK,
                None,
                Some("desk.twofa.turned_off"),
            )
            .await
        }
        Err(OpsError::Invalid(_)) => {
            let text = i18n::text(desk.lang, "desk.twofa.off_refused").to_owned();
            standing_page(&state, &desk, StatusCode::BAD_REQUEST, Some(text), None).await
        }
        Err(err) => internal(&err),
    }
}
