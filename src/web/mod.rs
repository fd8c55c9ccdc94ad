//! The HTTP side: the router (the single list of every route), shared state, extractors and
//! the error type. `api/` holds the listmonk-compatible JSON API; `public/` the pages readers
//! reach from mail; `admin/` the desk, the newsroom's pages under `/admin`.
//!
//! A request flows: tower-http layers (trace, panic catcher, body limit) → the authentication
//! middleware for protected `/api` routes → a handler in `api/` that parses its input into
//! domain types → one `ops` function → `db`. Errors come back as [`error::ApiError`].

pub(crate) mod admin;
pub use admin::desk_route_table;
pub(crate) mod api;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod public;
pub(crate) mod serve;
pub(crate) mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use self::state::AppState;
use crate::ops::access::Permission;

/// One route: method, path (axum syntax) and handler.
type Route = (Method, &'static str, MethodRouter<AppState>);

/// One protected route: method, path, the permission it needs, handler.
type Protected = (Method, &'static str, Permission, MethodRouter<AppState>);

/// Every route that needs credentials, with the permission each needs: the `/api` routes,
/// and listmonk's admin opt-in confirmation. Tests walk this table to prove none is open and
/// each refuses a role that lacks its permission.
/// CSV uploads get `upload_limit`; every other body the router-wide JSON limit.
#[rustfmt::skip]
fn protected_api_routes(upload_limit: usize) -> Vec<Protected> {
    use Permission::*;
    use api::{
        audit, bulk, campaigns, export, imports, lists, outbox, settings, subscribers, templates, tx,
        users,
    };
    let upload = post(imports::start).layer(DefaultBodyLimit::max(upload_limit));
    vec![
        (Method::GET, "/api/subscribers", SubscribersGet, get(subscribers::search)),
        (Method::POST, "/api/subscribers", SubscribersManage, post(subscribers::create)),
        (Method::DELETE, "/api/subscribers", SubscribersManage, delete(subscribers::delete_many)),
        (Method::PUT, "/api/subscribers/lists", SubscribersManage, put(subscribers::change_lists)),
        (Method::PUT, "/api/subscribers/blocklist", SubscribersManage, put(subscribers::blocklist_many)),
        (Method::POST, "/api/subscribers/query/delete", SubscribersManage, post(bulk::delete)),
        (Method::PUT, "/api/subscribers/query/blocklist", SubscribersManage, put(bulk::blocklist)),
        (Method::PUT, "/api/subscribers/query/lists", SubscribersManage, put(bulk::lists)),
        (Method::GET, "/api/subscribers/{id}", SubscribersGet, get(subscribers::get_one)),
        (Method::PUT, "/api/subscribers/{id}", SubscribersManage, put(subscribers::replace)),
        (Method::PATCH, "/api/subscribers/{id}", SubscribersManage, patch(subscribers::patch)),
        (Method::DELETE, "/api/subscribers/{id}", SubscribersManage, delete(subscribers::delete_one)),
        (Method::PUT, "/api/subscribers/{id}/blocklist", SubscribersManage, put(subscribers::blocklist_one)),
        (Method::GET, "/api/subscribers/export", SubscribersGet, get(export::subscribers)),
        (Method::GET, "/api/subscribers/{id}/export", SubscribersGet, get(subscribers::export_data)),
        (Method::GET, "/api/lists", ListsGet, get(lists::search)),
        (Method::POST, "/api/lists", ListsManage, post(lists::create)),
        (Method::GET, "/api/lists/{id}", ListsGet, get(lists::get_one)),
        (Method::PUT, "/api/lists/{id}", ListsManage, put(lists::update)),
        (Method::DELETE, "/api/lists/{id}", ListsManage, delete(lists::delete_one)),
        (Method::GET, "/api/import/subscribers", SubscribersGet, get(imports::status)),
        (Method::POST, "/api/import/subscribers", SubscribersImport, upload),
        (Method::DELETE, "/api/import/subscribers", SubscribersImport, delete(imports::stop_or_clear)),
        (Method::GET, "/api/import/subscribers/logs", SubscribersGet, get(imports::logs)),
        (Method::GET, "/api/templates", TemplatesGet, get(templates::all)),
        (Method::POST, "/api/templates", TemplatesManage, post(templates::create)),
        (Method::POST, "/api/templates/preview", TemplatesManage, post(templates::preview_unsaved)),
        (Method::GET, "/api/templates/{id}", TemplatesGet, get(templates::get_one)),
        (Method::PUT, "/api/templates/{id}", TemplatesManage, put(templates::update)),
        (Method::DELETE, "/api/templates/{id}", TemplatesManage, delete(templates::delete_one)),
        (Method::GET, "/api/templates/{id}/preview", TemplatesGet, get(templates::preview_one)),
        (Method::PUT, "/api/templates/{id}/default", TemplatesManage, put(templates::set_default)),
        (Method::GET, "/api/campaigns", CampaignsGet, get(campaigns::search)),
        (Method::POST, "/api/campaigns", CampaignsManage, post(campaigns::create)),
        (Method::GET, "/api/campaigns/running/stats", CampaignsGet, get(campaigns::running_stats)),
        (Method::GET, "/api/campaigns/{id}", CampaignsGet, get(campaigns::get_one)),
        (Method::PUT, "/api/campaigns/{id}", CampaignsManage, put(campaigns::update)),
        (Method::DELETE, "/api/campaigns/{id}", CampaignsManage, delete(campaigns::delete_one)),
        (Method::PUT, "/api/campaigns/{id}/status", CampaignsSend, put(campaigns::change_status)),
        (Method::GET, "/api/campaigns/{id}/preview", MessagesRead, get(campaigns::preview)),
        (Method::POST, "/api/campaigns/{id}/preview", MessagesRead, post(campaigns::preview_unsaved)),
        (Method::POST, "/api/campaigns/{id}/test", CampaignsSend, post(campaigns::send_test)),
        (Method::POST, "/api/subscribers/{id}/optin", SubscribersManage, post(subscribers::send_optin)),
        (Method::GET, "/api/consents", SubscribersGet, get(subscribers::consents)),
        (Method::POST, "/subscription/optin/{uuid}", SubscribersManage, post(subscribers::confirm_optin)),
        (Method::POST, "/api/tx", TxSend, post(tx::send)),
        (Method::GET, "/api/outbox", OutboxGet, get(outbox::search)),
        (Method::GET, "/api/outbox/{id}", MessagesRead, get(outbox::get_one)),
        (Method::GET, "/api/audit", AuditGet, get(audit::search)),
        (Method::GET, "/api/users", UsersManage, get(users::all)),
        (Method::POST, "/api/users", UsersManage, post(users::create)),
        (Method::PUT, "/api/users/{id}", UsersManage, put(users::update)),
        (Method::DELETE, "/api/users/{id}", UsersManage, delete(users::delete_one)),
        (Method::POST, "/api/users/{id}/password", UsersManage, post(users::reset_password)),
        (Method::DELETE, "/api/users/{id}/lockout", UsersManage, delete(users::lift_lockout)),
        (Method::PUT, "/api/users/{id}/lists", UsersManage, put(users::set_lists)),
        (Method::GET, "/api/api-users", UsersManage, get(users::api_users)),
        (Method::POST, "/api/api-users", UsersManage, post(users::create_api_user)),
        (Method::DELETE, "/api/api-users/{id}", UsersManage, delete(users::delete_api_user)),
        (Method::PUT, "/api/api-users/{id}/lists", UsersManage, put(users::set_api_user_lists)),
        (Method::GET, "/api/settings", SettingsManage, get(settings::get_all)),
        (Method::PUT, "/api/settings", SettingsManage, put(settings::update)),
        (Method::GET, "/api/settings/dns", SettingsManage, get(settings::dns)),
        (Method::POST, "/api/settings/smtp/{index}/test", SettingsManage, post(settings::test_relay)),
    ]
}

/// Routes anyone may call.
fn public_routes() -> Vec<Route> {
    use public::{confirm, manage, signup, unsubscribe};
    vec![
        (Method::GET, "/api/health", get(api::health::health)),
        (
            Method::GET,
            "/subscription/form",
            get(signup::form).post(signup::submit_form),
        ),
        (Method::GET, "/subscription/embed", get(signup::embed)),
        (
            Method::GET,
            "/subscription/confirm/{token}",
            get(confirm::show).post(confirm::confirm),
        ),
        (
            Method::POST,
            "/subscription/confirm/{token}/resend",
            post(confirm::resend),
        ),
        (
            Method::GET,
            "/subscription/change/{token}",
            get(confirm::show_change).post(confirm::change),
        ),
        (
            Method::GET,
            "/subscription/manage",
            get(manage::link_form).post(manage::send_link),
        ),
        (
            Method::GET,
            "/u/{token}",
            get(unsubscribe::show).post(unsubscribe::unsubscribe),
        ),
        (
            Method::GET,
            "/m/{token}",
            get(manage::show).post(manage::act),
        ),
    ]
}

/// The credential-free endpoints the embedded form calls from the publisher's pages: they
/// answer CORS for the publisher's origins (`embed_origins`).
fn embeddable_routes() -> Vec<Route> {
    use public::signup;
    vec![
        (Method::GET, "/api/public/lists", get(signup::lists)),
        (
            Method::GET,
            "/api/public/captcha/altcha",
            get(signup::altcha_challenge),
        ),
        (
            Method::POST,
            "/api/public/subscription",
            post(signup::subscribe_json),
        ),
        (
            Method::GET,
            "/public/altcha.min.js",
            get(signup::altcha_script),
        ),
    ]
}

/// CORS for [`embeddable_routes`]: the configured origins, or any; never with credentials.
fn embed_cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origin = if origins.is_empty() {
        AllowOrigin::any()
    } else {
        // An origin that cannot be a header value (a domain in Unicode rather than its
        // A-label) is left out and said so; it never widens the list to any origin.
        let allowed = origins.iter().filter_map(|o| {
            let origin = o.trim().trim_end_matches('/');
            let value = axum::http::HeaderValue::from_str(origin).ok();
            if value.is_none() {
                tracing::warn!(
                    origin,
                    "embed_origins: not an origin (use the xn-- form of a domain)"
                );
            }
            value
        });
        AllowOrigin::list(allowed)
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            axum::http::header::CONTENT_TYPE,
            axum::http::header::ACCEPT_LANGUAGE,
        ])
        .max_age(std::time::Duration::from_secs(3600))
}

/// The Content-Security-Policy of every response: bulten's own scripts only (the widget
/// runs its proof of work in workers it starts from a blob), inline styles (the pages'
/// brand colour, the widget's shadow styles), images from anywhere on https (the brand
/// logo), forms posting only to bulten, and no framing, so no other site can lay its page
/// over the unsubscribe or erase buttons. A configured third-party captcha adds its hosts.
fn content_security_policy(
    settings: &state::WebSettings,
    provider: Option<crate::ops::captcha::Provider>,
) -> String {
    use crate::ops::captcha::Provider;
    let captcha = match provider {
        None => "",
        Some(Provider::Recaptcha) => " https://www.google.com https://www.gstatic.com",
        Some(Provider::Hcaptcha) => " https://hcaptcha.com https://*.hcaptcha.com",
        Some(Provider::Turnstile) => " https://challenges.cloudflare.com",
    };
    // Pages name bulten by its public URL, which a proxy may serve from another origin
    // than the one the page is read from.
    let root = url::Url::parse(&settings.root_url)
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .unwrap_or_default();
    let frames = if captcha.is_empty() {
        " 'none'"
    } else {
        captcha
    };
    format!(
        "default-src 'none'; script-src 'self'{root}{captcha}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; connect-src 'self'{root}{captcha}; \
         worker-src 'self' blob:; frame-src{frames}; form-action 'self'{root}; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Largest body a public route accepts: a signup form is a few hundred bytes.
const PUBLIC_BODY_LIMIT: usize = 64 * 1024;

/// Method, path and required permission of every protected API route.
pub fn protected_route_table() -> Vec<(Method, &'static str, Permission)> {
    protected_api_routes(0)
        .into_iter()
        .map(|(m, p, permission, _)| (m, p, permission))
        .collect()
}

/// Each protected route behind the check of its permission, which runs after the caller is
/// known (`require_api_user` wraps the whole protected router).
fn guarded(routes: Vec<Protected>) -> Vec<Route> {
    routes
        .into_iter()
        .map(|(method, path, permission, handler)| {
            let check = axum::middleware::from_fn(move |request, next| {
                extract::require_permission(permission, request, next)
            });
            (method, path, handler.route_layer(check))
        })
        .collect()
}

fn add(router: Router<AppState>, routes: Vec<Route>) -> Router<AppState> {
    routes
        .into_iter()
        .fold(router, |router, (_, path, handler)| {
            router.route(path, handler)
        })
}

/// A body refused as too large is left unread, so the server closes the connection after
/// answering; saying so lets the client not reuse it (a client that did would see its next
/// request fail half-sent).
async fn close_after_unread_body(
    mut response: axum::response::Response,
) -> axum::response::Response {
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// The whole application router.
pub(crate) fn router(state: AppState) -> Router {
    let protected = add(
        Router::new(),
        guarded(protected_api_routes(state.settings.max_upload_bytes)),
    )
    .route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        extract::require_api_user,
    ))
    .layer(DefaultBodyLimit::max(state.settings.max_body_bytes));
    let embeddable =
        add(Router::new(), embeddable_routes()).layer(embed_cors(&state.settings.embed_origins));
    // One policy per captcha provider, made once; the one in force is picked per response,
    // since an admin may change the provider while the node runs.
    let policy = |provider| {
        axum::http::HeaderValue::from_str(&content_security_policy(&state.settings, provider))
            .expect("the policy is ASCII")
    };
    let policies: Vec<(
        Option<crate::ops::captcha::Provider>,
        axum::http::HeaderValue,
    )> = [
        None,
        Some(crate::ops::captcha::Provider::Recaptcha),
        Some(crate::ops::captcha::Provider::Hcaptcha),
        Some(crate::ops::captcha::Provider::Turnstile),
    ]
    .into_iter()
    .map(|p| (p, policy(p)))
    .collect();
    let readers = state.readers.clone();
    let csp = move |_: &axum::response::Response| {
        let provider = readers.external_captcha();
        policies
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, value)| value.clone())
    };
    add(Router::new(), public_routes())
        .merge(embeddable)
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT))
        .merge(protected)
        .merge(admin::router(&state))
        .fallback(api::not_found)
        .layer(axum::middleware::map_response(close_after_unread_body))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_FRAME_OPTIONS,
            axum::http::HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            axum::http::HeaderValue::from_static("nosniff"),
        ))
        .layer(CatchPanicLayer::custom(api::panic_response))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
        ]))
        .with_state(state)
}
