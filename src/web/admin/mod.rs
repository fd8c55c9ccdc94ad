//! The desk: the pages the newsroom works at, under `/admin`.
//!
//! Every page but the sign-in and its assets goes through two checks here, in one layer:
//! a valid session ([`ops::sessions::staff_of`]), and for anything but a read, the
//! session's CSRF token (a form's `_csrf` field or an `X-CSRF-Token` header). tower-http's
//! `CsrfLayer` adds the browser's own word (`Sec-Fetch-Site`, `Origin`) on every route,
//! the sign-in included. Each page then asks `ops` for the permission its route names, as
//! the API's routes do, and calls the same `ops` function the API calls.
//!
//! The pages are MiniJinja templates compiled into the binary (`templates/admin`), with their
//! own style sheet and script served from the binary under a policy that allows nothing
//! else: no inline script or style, nothing from another origin.

pub(crate) mod audit;
pub(crate) mod dashboard;
pub(crate) mod import;
pub(crate) mod lists;
pub(crate) mod login;
pub(crate) mod reader;
pub(crate) mod second_factor;
pub(crate) mod settings;
pub(crate) mod subscribers;
pub(crate) mod users;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts as _;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};

use crate::domain::Lang;
use crate::i18n;
use crate::ops::access::Permission;
use crate::ops::sessions::{self, Staff};
use crate::web::public::reader::Reader;
use crate::web::state::AppState;

/// One desk route: method, path, the permission it needs (none: any signed-in user), handler.
type DeskRoute = (
    Method,
    &'static str,
    Option<Permission>,
    MethodRouter<AppState>,
);

/// Every route of the desk that needs a session. Tests walk this table to prove each one
/// refuses a stranger, and each change refuses a request without the CSRF token.
/// The CSV upload gets `upload_limit`; every other body the router-wide limit.
#[rustfmt::skip]
fn desk_routes(upload_limit: usize) -> Vec<DeskRoute> {
    let upload = post(import::upload).layer(axum::extract::DefaultBodyLimit::max(upload_limit));
    vec![
        (Method::GET, "/admin", None, get(dashboard::show)),
        (Method::GET, "/admin/", None, get(dashboard::show)),
        (Method::GET, "/admin/dashboard/running", Some(Permission::CampaignsGet), get(dashboard::running)),
        (Method::POST, "/admin/logout", None, post(login::sign_out)),
        (Method::POST, "/admin/logout/everywhere", None, post(login::sign_out_everywhere)),
        (Method::GET, "/admin/password", None, get(login::password_form)),
        (Method::POST, "/admin/password", None, post(login::change_password)),
        (Method::POST, "/admin/language", None, post(login::choose_language)),
        (Method::GET, "/admin/second-factor", None, get(second_factor::show)),
        (Method::POST, "/admin/second-factor/begin", None, post(second_factor::begin)),
        (Method::POST, "/admin/second-factor/confirm", None, post(second_factor::confirm)),
        (Method::POST, "/admin/second-factor/off", None, post(second_factor::turn_off)),
        (Method::GET, "/admin/subscribers", Some(Permission::SubscribersGet), get(subscribers::search)),
        (Method::POST, "/admin/subscribers", Some(Permission::SubscribersManage), post(reader::add)),
        (Method::GET, "/admin/subscribers/new", Some(Permission::SubscribersManage), get(reader::new_form)),
        (Method::GET, "/admin/import", Some(Permission::SubscribersImport), get(import::show)),
        (Method::POST, "/admin/import", Some(Permission::SubscribersImport), upload),
        (Method::GET, "/admin/import/progress", Some(Permission::SubscribersImport), get(import::progress_section)),
        (Method::POST, "/admin/import/stop", Some(Permission::SubscribersImport), post(import::stop)),
        (Method::GET, "/admin/subscribers/export", Some(Permission::SubscribersGet), get(subscribers::export)),
        (Method::GET, "/admin/subscribers/bulk", Some(Permission::SubscribersManage), get(reader::bulk_confirm)),
        (Method::POST, "/admin/subscribers/bulk", Some(Permission::SubscribersManage), post(reader::bulk_apply)),
        (Method::GET, "/admin/subscribers/{id}", Some(Permission::SubscribersGet), get(reader::one)),
        (Method::POST, "/admin/subscribers/{id}", Some(Permission::SubscribersManage), post(reader::edit)),
        (Method::GET, "/admin/subscribers/{id}/export", Some(Permission::SubscribersGet), get(reader::export)),
        (Method::POST, "/admin/subscribers/{id}/blocklist", Some(Permission::SubscribersManage), post(reader::blocklist)),
        (Method::POST, "/admin/subscribers/{id}/optin", Some(Permission::SubscribersManage), post(reader::resend_optin)),
        (Method::POST, "/admin/subscribers/{id}/delete", Some(Permission::SubscribersManage), post(reader::delete)),
        (Method::GET, "/admin/lists", Some(Permission::ListsGet), get(lists::all)),
        (Method::POST, "/admin/lists", Some(Permission::ListsManage), post(lists::create)),
        (Method::GET, "/admin/lists/{id}", Some(Permission::ListsGet), get(lists::one)),
        (Method::POST, "/admin/lists/{id}", Some(Permission::ListsManage), post(lists::update)),
        (Method::POST, "/admin/lists/{id}/delete", Some(Permission::ListsManage), post(lists::delete)),
        (Method::GET, "/admin/audit", Some(Permission::AuditGet), get(audit::show)),
        (Method::GET, "/admin/users", Some(Permission::UsersManage), get(users::show)),
        (Method::POST, "/admin/users", Some(Permission::UsersManage), post(users::invite)),
        (Method::POST, "/admin/users/{id}", Some(Permission::UsersManage), post(users::update)),
        (Method::POST, "/admin/users/{id}/password", Some(Permission::UsersManage), post(users::reset_password)),
        (Method::POST, "/admin/users/{id}/unlock", Some(Permission::UsersManage), post(users::unlock)),
        (Method::POST, "/admin/users/{id}/delete", Some(Permission::UsersManage), post(users::delete)),
        (Method::POST, "/admin/users/{id}/lists", Some(Permission::UsersManage), post(users::set_lists)),
        (Method::POST, "/admin/api-users", Some(Permission::UsersManage), post(users::add_api_user)),
        (Method::POST, "/admin/api-users/{id}/delete", Some(Permission::UsersManage), post(users::delete_api_user)),
        (Method::POST, "/admin/api-users/{id}/lists", Some(Permission::UsersManage), post(users::set_api_user_lists)),
        (Method::GET, "/admin/settings", Some(Permission::SettingsManage), get(settings::show)),
        (Method::POST, "/admin/settings", Some(Permission::SettingsManage), post(settings::save)),
        (Method::GET, "/admin/settings/dns", Some(Permission::SettingsManage), get(settings::dns)),
        (Method::POST, "/admin/settings/smtp/{index}/test", Some(Permission::SettingsManage), post(settings::test_relay)),
    ]
}

/// The desk's routes that need a session, by method and path.
pub fn desk_route_table() -> Vec<(Method, &'static str)> {
    desk_routes(0)
        .into_iter()
        .map(|(method, path, _, _)| (method, path))
        .collect()
}

/// The desk's routes, guarded.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let guarded = desk_routes(state.settings.max_upload_bytes)
        .into_iter()
        .fold(Router::new(), |router, (_, path, permission, handler)| {
            let handler = match permission {
                Some(permission) => {
                    handler.route_layer(axum::middleware::from_fn(move |request, next| {
                        require(permission, request, next)
                    }))
                }
                None => handler,
            };
            router.route(path, handler)
        })
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_staff,
        ));
    // The sign-in page is reachable from a link in a mail or a bookmark; posting to it from
    // another site (login CSRF) is refused like any other change.
    let csrf = tower_http::csrf::CsrfLayer::new();
    let csrf = match url::Url::parse(&state.settings.root_url) {
        Ok(root) => csrf
            .add_trusted_origin(root.origin().ascii_serialization())
            .unwrap_or_else(|_| tower_http::csrf::CsrfLayer::new()),
        Err(_) => csrf,
    };
    Router::new()
        .route("/admin/login", get(login::form).post(login::sign_in))
        .route("/admin/login/code", post(login::sign_in_code))
        .route("/admin/assets/{file}", get(asset))
        .merge(guarded)
        .layer(csrf)
        .layer(axum::middleware::map_response(desk_headers))
}

/// The desk's own policy: its style sheet, its script and images of its own, nothing else.
const DESK_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

async fn desk_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DESK_POLICY),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The session cookie's name: `__Host-` prefixed over HTTPS, where browsers then refuse it
/// from another subdomain or without `Secure`.
pub(crate) fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-bulten_session"
    } else {
        "bulten_session"
    }
}

/// The session cookie's value, if the request has one.
fn session_cookie(state: &AppState, request: &axum::http::request::Parts) -> Option<String> {
    let name = cookie_name(state);
    request
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value for the session: `HttpOnly`, `SameSite=Lax`, path `/`, `Secure`
/// over HTTPS; `None` clears it.
pub(crate) fn session_set_cookie(state: &AppState, value: Option<&str>) -> HeaderValue {
    let mut cookie = cookie::Cookie::build((cookie_name(state), value.unwrap_or_default()))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .path("/")
        .secure(state.settings.is_https());
    if value.is_none() {
        cookie = cookie.max_age(cookie::time::Duration::ZERO);
    }
    HeaderValue::from_str(&cookie.build().to_string()).expect("a cookie is ASCII")
}

/// Addresses the desk's script polls.
const POLLED: &[&str] = &["/admin/dashboard/running", "/admin/import/progress"];

/// The one route that takes a multipart body (a file): the session layer leaves its body
/// alone, and its handler checks the CSRF token, the form's first field, before the file.
const UPLOADS: &[&str] = &["/admin/import"];

/// Pages a user who must choose a new password may still reach.
const WHILE_CHANGING_PASSWORD: &[&str] = &[
    "/admin/password",
    "/admin/logout",
    "/admin/logout/everywhere",
    "/admin/language",
];
/// Pages an admin who must enrol a second factor may still reach.
const WHILE_ENROLLING: &[&str] = &[
    "/admin/second-factor",
    "/admin/second-factor/begin",
    "/admin/second-factor/confirm",
    "/admin/logout",
    "/admin/logout/everywhere",
    "/admin/language",
];

/// The session check, and the CSRF token for anything but a read. A stranger reading a page
/// is sent to sign in; a stranger's or a forged change is refused.
async fn require_staff(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(reader) = Reader::from_request_parts(&mut parts, &state).await;
    // A page refreshing itself is not someone using the desk: it must not keep an
    // unattended session alive past its idle limit.
    let used = !POLLED.contains(&parts.uri.path());
    let staff = match session_cookie(&state, &parts) {
        Some(cookie) => sessions::staff_of(&state.db, &state.settings.sign_in, &cookie, used).await,
        None => Ok(None),
    };
    let staff = match staff {
        Ok(Some(staff)) => staff,
        Ok(None) if parts.method == Method::GET || parts.method == Method::HEAD => {
            let next = parts.uri.path_and_query().map_or("/admin/", |p| p.as_str());
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            return Redirect::to(&format!("/admin/login?{query}")).into_response();
        }
        // Signing out of a session that has ended already: there is nothing to protect, and
        // the browser should forget its cookie and be back at the sign-in.
        Ok(None) if parts.uri.path().starts_with("/admin/logout") => {
            let mut response = Redirect::to("/admin/login").into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session_set_cookie(&state, None));
            return response;
        }
        Ok(None) => {
            let lang = reader
                .lang
                .browser
                .unwrap_or(state.readers.publisher().default_lang);
            return refusal(&state, lang, StatusCode::FORBIDDEN, "desk.refused.session");
        }
        Err(err) => {
            tracing::error!(error = %crate::telemetry::chain(&err), "the session check failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response();
        }
    };
    let lang = language(&state, &staff, &reader);
    let is_read = matches!(parts.method, Method::GET | Method::HEAD);
    let is_multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    let body = if is_read {
        body
    } else if is_multipart {
        if !UPLOADS.contains(&parts.uri.path()) {
            return refusal(&state, lang, StatusCode::FORBIDDEN, "desk.refused.csrf");
        }
        body
    } else {
        let bytes = match axum::body::to_bytes(body, state.settings.max_body_bytes).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return refusal(
                    &state,
                    lang,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "desk.refused.size",
                );
            }
        };
        let from_header = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        let from_form = is_form
            .then(|| {
                form_urlencoded::parse(&bytes)
                    .find(|(k, _)| k == "_csrf")
                    .map(|(_, v)| v.into_owned())
            })
            .flatten();
        let given = from_header.or(from_form).unwrap_or_default();
        if !staff.csrf_matches(&given) {
            tracing::warn!(
                username = staff.username,
                path = parts.uri.path(),
                "a desk change without its CSRF token was refused"
            );
            return refusal(&state, lang, StatusCode::FORBIDDEN, "desk.refused.csrf");
        }
        Body::from(bytes)
    };
    if staff.must_change_password && !WHILE_CHANGING_PASSWORD.contains(&parts.uri.path()) {
        if is_read {
            return Redirect::to("/admin/password").into_response();
        }
        return refusal(
            &state,
            lang,
            StatusCode::FORBIDDEN,
            "desk.password.must_change",
        );
    }
    // A new password comes first: while it is due, the enrolment waits.
    if staff.must_enrol_second_factor
        && !staff.must_change_password
        && !WHILE_ENROLLING.contains(&parts.uri.path())
    {
        if is_read {
            return Redirect::to("/admin/second-factor").into_response();
        }
        return refusal(&state, lang, StatusCode::FORBIDDEN, "desk.twofa.required");
    }
    let mut staff = staff;
    staff.ip = reader.ip.map(|ip| ip.to_string());
    parts.extensions.insert(Desk { staff, lang });
    next.run(Request::from_parts(parts, body)).await
}

/// The permission a route names, checked by `ops` for the signed-in user.
async fn require(permission: Permission, request: Request, next: Next) -> Response {
    let Some(desk) = request.extensions().get::<Desk>().cloned() else {
        return StatusCode::FORBIDDEN.into_response();
    };
    if let Err(refused) = desk.staff.caller().require(permission) {
        return (StatusCode::FORBIDDEN, refusal_text(desk.lang, &refused)).into_response();
    }
    next.run(request).await
}

/// The signed-in user and the desk's language, for a page's handler.
#[derive(Debug, Clone)]
pub(crate) struct Desk {
    pub(crate) staff: Staff,
    pub(crate) lang: Lang,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Desk {
    type Rejection = StatusCode;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Desk>()
            .cloned()
            .ok_or(StatusCode::FORBIDDEN)
    }
}

/// The user's chosen language, else the page's `?lang=`, else the browser's.
fn language(state: &AppState, staff: &Staff, reader: &Reader) -> Lang {
    staff
        .language
        .or(reader.lang.explicit)
        .or(reader.lang.browser)
        .unwrap_or(state.readers.publisher().default_lang)
}

/// The notice a redirect back to a page names (`?done=NAME`), when NAME is one of
/// `allowed`: the text of `PREFIX` + `done_NAME` (`PREFIX` ends with its dot). Anything else
/// in the address says nothing.
pub(crate) fn done_notice(
    lang: Lang,
    done: Option<&str>,
    prefix: &str,
    allowed: &[&str],
) -> Option<String> {
    done.filter(|d| allowed.contains(d))
        .map(|d| crate::i18n::text(lang, &format!("{prefix}done_{d}")).to_owned())
}

/// The status a desk page answers a refused use case with, the page again saying why;
/// `None` for a failure of bulten's own, which gets the internal error page.
pub(crate) fn refused_status(err: &crate::ops::OpsError) -> Option<StatusCode> {
    use crate::ops::OpsError;
    match err {
        OpsError::Invalid(_) => Some(StatusCode::BAD_REQUEST),
        OpsError::NotFound(_) => Some(StatusCode::NOT_FOUND),
        OpsError::Conflict(_) => Some(StatusCode::CONFLICT),
        OpsError::Forbidden(_)
        | OpsError::ForbiddenList { .. }
        | OpsError::ForbiddenAllLists(_) => Some(StatusCode::FORBIDDEN),
        OpsError::Internal(_) => None,
    }
}

/// Renders a desk page: `template` with `ctx`, the user, the navigation, the CSRF token.
pub(crate) fn page(
    state: &AppState,
    desk: Option<&Desk>,
    lang: Lang,
    status: StatusCode,
    template: &str,
    title_key: &str,
    ctx: Value,
) -> Response {
    let mut full = json!({
        "title_key": title_key,
        "user": desk.map(|d| json!({
            "name": d.staff.username,
            "role": i18n::text(lang, &format!("desk.role.{}", d.staff.role.as_str())),
        })),
        "csrf": desk.map(|d| d.staff.csrf_token.clone()),
        "may_manage_users": desk.is_some_and(|d| d.staff.caller().require(Permission::UsersManage).is_ok()),
        "may_manage_settings": desk.is_some_and(|d| d.staff.caller().require(Permission::SettingsManage).is_ok()),
        // Imports match addresses against every reader: for users limited to no list.
        "may_import": desk.is_some_and(|d| {
            let caller = d.staff.caller();
            caller.require(Permission::SubscribersImport).is_ok() && caller.reaches_all_lists()
        }),
        "nav": desk.is_some(),
    });
    if let (Some(full), Value::Object(extra)) = (full.as_object_mut(), ctx) {
        full.extend(extra);
    }
    match state.readers.views().render(template, lang, &full) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %crate::telemetry::chain(&err), template, "a desk page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        }
    }
}

/// Why `ops` refused, in the page's language where the refusal is about permissions or a
/// missing object; a rule a value broke is said as `ops` says it, naming the field.
pub(crate) fn refusal_text(lang: Lang, err: &crate::ops::OpsError) -> String {
    use crate::ops::OpsError;
    use crate::render::views::fill;
    match err {
        OpsError::Forbidden(permission) => fill(
            lang,
            "desk.refused.permission",
            &[("permission", permission.as_str())],
        ),
        OpsError::ForbiddenList { access, .. } => fill(
            lang,
            "desk.refused.list_permission",
            &[("permission", access.as_str())],
        ),
        OpsError::ForbiddenAllLists(permission) => fill(
            lang,
            "desk.refused.every_list",
            &[("permission", permission.as_str())],
        ),
        OpsError::NotFound(_) => i18n::text(lang, "desk.refused.not_found").to_owned(),
        OpsError::Invalid(_) | OpsError::Conflict(_) | OpsError::Internal(_) => err.to_string(),
    }
}

/// A page saying why `ops` refused the request (its status and reason), or the internal
/// error page for a failure of bulten's own.
pub(crate) fn refused_or_internal(
    state: &AppState,
    desk: &Desk,
    err: &crate::ops::OpsError,
) -> Response {
    match refused_status(err) {
        Some(status) => page(
            state,
            Some(desk),
            desk.lang,
            status,
            "admin/refused.html",
            "desk.refused.title",
            json!({ "reason": refusal_text(desk.lang, err) }),
        ),
        None => login::internal(err),
    }
}

/// A page saying why a request was refused.
fn refusal(state: &AppState, lang: Lang, status: StatusCode, key: &str) -> Response {
    page(
        state,
        None,
        lang,
        status,
        "admin/refused.html",
        "desk.refused.title",
        json!({ "reason": i18n::text(lang, key) }),
    )
}

/// The desk's style sheet and script, from the binary.
async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (bytes, kind): (&'static [u8], &str) = match file.as_str() {
        "desk.css" => (
            include_bytes!("../../../assets/desk/desk.css"),
            "text/css; charset=utf-8",
        ),
        "desk.js" => (
            include_bytes!("../../../assets/desk/desk.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        bytes,
    )
        .into_response()
}
