//! Signing in and out, changing one's password, choosing the desk's language.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Desk, page, session_cookie, session_set_cookie};
use crate::domain::Lang;
use crate::i18n;
use crate::ops::OpsError;
use crate::ops::sessions::{self, Origin, Refusal, SignedIn};
use crate::web::public::reader::Reader;
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// Where to go after signing in: a desk page of ours, never another site (`//evil`), and
/// nothing a `Location` header cannot carry.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with("/admin")
                && !path.contains("//")
                && !path.contains('\\')
                && path.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            path
        }
        _ => "/admin/",
    }
}

/// Where a sign-in or a password change comes from, as `ops::sessions` records it.
pub(crate) struct Asking {
    ip: String,
    user_agent: String,
}

impl Asking {
    pub(crate) fn of(reader: &Reader) -> Self {
        Self {
            ip: reader.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            user_agent: reader.user_agent.clone(),
        }
    }

    pub(crate) fn origin(&self) -> Origin<'_> {
        Origin {
            ip: &self.ip,
            user_agent: Some(self.user_agent.as_str()).filter(|a| !a.is_empty()),
        }
    }
}

/// The link to this page in the other language.
fn switch(reader: &Reader, lang: Lang) -> serde_json::Value {
    let other = i18n::other(lang);
    json!({"url": reader.switch_url(other), "label": i18n::text(other, "lang.name")})
}

fn reader_lang(state: &AppState, reader: &Reader) -> Lang {
    reader
        .lang
        .explicit
        .or(reader.lang.browser)
        .unwrap_or(state.readers.publisher().default_lang)
}

pub(crate) async fn form(
    State(state): State<AppState>,
    reader: Reader,
    Query(query): Query<Next>,
) -> Response {
    let lang = reader_lang(&state, &reader);
    login_page(
        &state,
        &reader,
        lang,
        StatusCode::OK,
        "",
        safe_next(query.next.as_deref()),
        None,
    )
}

fn login_page(
    state: &AppState,
    reader: &Reader,
    lang: Lang,
    status: StatusCode,
    username: &str,
    next: &str,
    error: Option<String>,
) -> Response {
    page(
        state,
        None,
        lang,
        status,
        "admin/login.html",
        "desk.login.title",
        json!({
            "username": username,
            "next": next,
            "error": error,
            "switch": switch(reader, lang),
        }),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub(crate) async fn sign_in(
    State(state): State<AppState>,
    reader: Reader,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = reader_lang(&state, &reader);
    let next = safe_next(form.next.as_deref()).to_owned();
    let asking = Asking::of(&reader);
    let signed_in = sessions::sign_in(
        &state.db,
        &state.settings.sign_in,
        &state.kit.signer,
        &form.username,
        &form.password,
        asking.origin(),
    )
    .await;
    let refusal = match signed_in {
        Ok(Ok(SignedIn::Started(started))) => return welcome(&state, &started, &next),
        Ok(Ok(SignedIn::SecondFactor { token })) => {
            return code_page(&state, &reader, lang, StatusCode::OK, &token, &next, None);
        }
        Ok(Err(refusal)) => refusal,
        Err(err) => return internal(&err),
    };
    let (status, text) = refusal_text(lang, refusal);
    login_page(
        &state,
        &reader,
        lang,
        status,
        form.username.trim(),
        &next,
        Some(text),
    )
}

/// A new session's cookie, and the way on: the page asked for, unless something must be
/// done first.
fn welcome(state: &AppState, started: &sessions::Started, next: &str) -> Response {
    let to = if started.staff.must_change_password {
        "/admin/password"
    } else if started.staff.must_enrol_second_factor {
        "/admin/second-factor"
    } else {
        next
    };
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_set_cookie(state, Some(&started.cookie)),
    );
    response
}

fn refusal_text(lang: Lang, refusal: Refusal) -> (StatusCode, String) {
    let text = |key: &str| i18n::text(lang, key).to_owned();
    match refusal {
        Refusal::WrongCredentials => (StatusCode::UNAUTHORIZED, text("desk.login.wrong")),
        Refusal::WrongCode => (StatusCode::UNAUTHORIZED, text("desk.login.wrong_code")),
        Refusal::Expired => (StatusCode::UNAUTHORIZED, text("desk.login.expired")),
        Refusal::Wait(seconds) => (
            StatusCode::TOO_MANY_REQUESTS,
            text("desk.login.wait").replace("{seconds}", &seconds.to_string()),
        ),
        Refusal::Locked => (StatusCode::TOO_MANY_REQUESTS, text("desk.login.locked")),
    }
}

fn code_page(
    state: &AppState,
    reader: &Reader,
    lang: Lang,
    status: StatusCode,
    token: &str,
    next: &str,
    error: Option<String>,
) -> Response {
    page(
        state,
        None,
        lang,
        status,
        "admin/login-code.html",
        "desk.login.code_title",
        json!({
            "token": token,
            "next": next,
            "error": error,
            "switch": switch(reader, lang),
        }),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// The second step of a sign-in: the authenticator's code, or a recovery code.
pub(crate) async fn sign_in_code(
    State(state): State<AppState>,
    reader: Reader,
    Form(form): Form<CodeForm>,
) -> Response {
    let lang = reader_lang(&state, &reader);
    let next = safe_next(form.next.as_deref()).to_owned();
    let asking = Asking::of(&reader);
    let completed = sessions::complete_second_factor(
        &state.db,
        &state.settings.sign_in,
        &state.kit.signer,
        &form.token,
        &form.code,
        asking.origin(),
    )
    .await;
    match completed {
        Ok(Ok(started)) => welcome(&state, &started, &next),
        Ok(Err(Refusal::Expired)) => {
            let (status, text) = refusal_text(lang, Refusal::Expired);
            login_page(&state, &reader, lang, status, "", &next, Some(text))
        }
        Ok(Err(refusal)) => {
            let (status, text) = refusal_text(lang, refusal);
            code_page(
                &state,
                &reader,
                lang,
                status,
                &form.token,
                &next,
                Some(text),
            )
        }
        Err(err) => internal(&err),
    }
}

pub(crate) fn internal(err: &OpsError) -> Response {
    tracing::error!(error = %crate::telemetry::chain(err), "a desk request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
}

fn signed_out(state: &AppState) -> Response {
    let mut response = Redirect::to("/admin/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_set_cookie(state, None));
    response
}

pub(crate) async fn sign_out(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Response {
    let (parts, _) = request.into_parts();
    if let Some(cookie) = session_cookie(&state, &parts)
        && let Err(err) = sessions::sign_out(&state.db, &cookie).await
    {
        return internal(&err);
    }
    signed_out(&state)
}

pub(crate) async fn sign_out_everywhere(State(state): State<AppState>, desk: Desk) -> Response {
    match sessions::sign_out_everywhere(&state.db, desk.staff.id).await {
        Ok(ended) => {
            tracing::info!(
                username = desk.staff.username,
                ended,
                "signed out everywhere"
            );
            signed_out(&state)
        }
        Err(err) => internal(&err),
    }
}

pub(crate) async fn password_form(State(state): State<AppState>, desk: Desk) -> Response {
    password_page(&state, &desk, StatusCode::OK, None, None)
}

fn password_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    page(
        state,
        Some(desk),
        desk.lang,
        status,
        "admin/password.html",
        "desk.password.title",
        json!({
            "must_change": desk.staff.must_change_password,
            "error": error,
            "notice": notice.map(|key| i18n::text(desk.lang, key)),
        }),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    desk: Desk,
    reader: Reader,
    Form(form): Form<PasswordForm>,
) -> Response {
    if form.new != form.repeat {
        let text = i18n::text(desk.lang, "desk.password.mismatch").to_owned();
        return password_page(&state, &desk, StatusCode::BAD_REQUEST, Some(text), None);
    }
    let asking = Asking::of(&reader);
    let changed = sessions::change_password(
        &state.db,
        &state.settings.sign_in,
        &desk.staff,
        &form.current,
        form.new,
        asking.origin(),
    )
    .await;
    match changed {
        Ok(started) => {
            let desk = Desk {
                staff: started.staff,
                lang: desk.lang,
            };
            let mut response = password_page(
                &state,
                &desk,
                StatusCode::OK,
                None,
                Some("desk.password.changed"),
            );
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_set_cookie(&state, Some(&started.cookie)),
            );
            response
        }
        Err(OpsError::Invalid(message)) => {
            password_page(&state, &desk, StatusCode::BAD_REQUEST, Some(message), None)
        }
        Err(err) => internal(&err),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LanguageForm {
    lang: String,
    back: Option<String>,
}

pub(crate) async fn choose_language(
    State(state): State<AppState>,
    desk: Desk,
    Form(form): Form<LanguageForm>,
) -> Response {
    let Ok(lang) = form.lang.parse::<Lang>() else {
        return (StatusCode::BAD_REQUEST, "unknown language").into_response();
    };
    if let Err(err) = sessions::choose_language(&state.db, &desk.staff, lang).await {
        return internal(&err);
    }
    Redirect::to(safe_next(form.back.as_deref())).into_response()
}
