//! The HTTP side: the router (the single list of every route), shared state, extractors and
//! the error type. `api/` holds the listmonk-compatible JSON API; `public/` the pages readers
//! reach from mail.
//!
//! A request flows: tower-http layers (trace, panic catcher, body limit) → the authentication
//! middleware for protected `/api` routes → a handler in `api/` that parses its input into
//! domain types → one `ops` function → `db`. Errors come back as [`error::ApiError`].

pub mod api;
pub mod error;
pub mod extract;
pub mod public;
pub mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use self::state::AppState;

/// One route: method, path (axum syntax) and handler.
type Route = (Method, &'static str, MethodRouter<AppState>);

/// Every route that needs credentials: the `/api` routes, and listmonk's admin opt-in
/// confirmation. Tests walk this table to prove none is open.
/// CSV uploads get `upload_limit`; every other body the router-wide JSON limit.
fn protected_api_routes(upload_limit: usize) -> Vec<Route> {
    use api::{campaigns, imports, lists, outbox, subscribers, templates, tx};
    let upload = post(imports::start).layer(DefaultBodyLimit::max(upload_limit));
    vec![
        (Method::GET, "/api/subscribers", get(subscribers::search)),
        (Method::POST, "/api/subscribers", post(subscribers::create)),
        (
            Method::DELETE,
            "/api/subscribers",
            delete(subscribers::delete_many),
        ),
        (
            Method::PUT,
            "/api/subscribers/lists",
            put(subscribers::change_lists),
        ),
        (
            Method::PUT,
            "/api/subscribers/blocklist",
            put(subscribers::blocklist_many),
        ),
        (
            Method::GET,
            "/api/subscribers/{id}",
            get(subscribers::get_one),
        ),
        (
            Method::PUT,
            "/api/subscribers/{id}",
            put(subscribers::replace),
        ),
        (
            Method::PATCH,
            "/api/subscribers/{id}",
            patch(subscribers::patch),
        ),
        (
            Method::DELETE,
            "/api/subscribers/{id}",
            delete(subscribers::delete_one),
        ),
        (
            Method::PUT,
            "/api/subscribers/{id}/blocklist",
            put(subscribers::blocklist_one),
        ),
        (
            Method::GET,
            "/api/subscribers/{id}/export",
            get(subscribers::export_data),
        ),
        (Method::GET, "/api/lists", get(lists::search)),
        (Method::POST, "/api/lists", post(lists::create)),
        (Method::GET, "/api/lists/{id}", get(lists::get_one)),
        (Method::PUT, "/api/lists/{id}", put(lists::update)),
        (Method::DELETE, "/api/lists/{id}", delete(lists::delete_one)),
        (Method::GET, "/api/import/subscribers", get(imports::status)),
        (Method::POST, "/api/import/subscribers", upload),
        (
            Method::DELETE,
            "/api/import/subscribers",
            delete(imports::stop_or_clear),
        ),
        (
            Method::GET,
            "/api/import/subscribers/logs",
            get(imports::logs),
        ),
        (Method::GET, "/api/templates", get(templates::all)),
        (Method::POST, "/api/templates", post(templates::create)),
        (
            Method::POST,
            "/api/templates/preview",
            post(templates::preview_unsaved),
        ),
        (Method::GET, "/api/templates/{id}", get(templates::get_one)),
        (Method::PUT, "/api/templates/{id}", put(templates::update)),
        (
            Method::DELETE,
            "/api/templates/{id}",
            delete(templates::delete_one),
        ),
        (
            Method::GET,
            "/api/templates/{id}/preview",
            get(templates::preview_one),
        ),
        (
            Method::PUT,
            "/api/templates/{id}/default",
            put(templates::set_default),
        ),
        (Method::GET, "/api/campaigns", get(campaigns::search)),
        (Method::POST, "/api/campaigns", post(campaigns::create)),
        (
            Method::GET,
            "/api/campaigns/running/stats",
            get(campaigns::running_stats),
        ),
        (Method::GET, "/api/campaigns/{id}", get(campaigns::get_one)),
        (Method::PUT, "/api/campaigns/{id}", put(campaigns::update)),
        (
            Method::DELETE,
            "/api/campaigns/{id}",
            delete(campaigns::delete_one),
        ),
        (
            Method::PUT,
            "/api/campaigns/{id}/status",
            put(campaigns::change_status),
        ),
        (
            Method::GET,
            "/api/campaigns/{id}/preview",
            get(campaigns::preview),
        ),
        (
            Method::POST,
            "/api/campaigns/{id}/preview",
            post(campaigns::preview_unsaved),
        ),
        (
            Method::POST,
            "/api/campaigns/{id}/test",
            post(campaigns::send_test),
        ),
        (
            Method::POST,
            "/api/subscribers/{id}/optin",
            post(subscribers::send_optin),
        ),
        (Method::GET, "/api/consents", get(subscribers::consents)),
        (
            Method::POST,
            "/subscription/optin/{uuid}",
            post(subscribers::confirm_optin),
        ),
        (Method::POST, "/api/tx", post(tx::send)),
        (Method::GET, "/api/outbox", get(outbox::search)),
        (Method::GET, "/api/outbox/{id}", get(outbox::get_one)),
    ]
}

/// Routes anyone may call.
fn public_routes() -> Vec<Route> {
    use public::{confirm, manage, signup, unsubscribe};
    vec![
        (Method::GET, "/api/health", get(api::health::health)),
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
            "/subscription/form",
            get(signup::form).post(signup::submit_form),
        ),
        (Method::GET, "/subscription/embed", get(signup::embed)),
        (
            Method::GET,
            "/public/altcha.min.js",
            get(signup::altcha_script),
        ),
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

/// Largest body a public route accepts: a signup form is a few hundred bytes.
const PUBLIC_BODY_LIMIT: usize = 64 * 1024;

/// Method and path of every protected API route.
pub fn protected_route_table() -> Vec<(Method, &'static str)> {
    protected_api_routes(0)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect()
}

fn add(router: Router<AppState>, routes: Vec<Route>) -> Router<AppState> {
    routes
        .into_iter()
        .fold(router, |router, (_, path, handler)| {
            router.route(path, handler)
        })
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let protected = add(
        Router::new(),
        protected_api_routes(state.settings.max_upload_bytes),
    )
    .route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        extract::require_api_user,
    ))
    .layer(DefaultBodyLimit::max(state.settings.max_body_bytes));
    add(Router::new(), public_routes())
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT))
        .merge(protected)
        .fallback(api::not_found)
        .layer(CatchPanicLayer::custom(api::panic_response))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
        ]))
        .with_state(state)
}
