//! Unsubscribing: RFC 8058 one-click (`POST` with `List-Unsubscribe=One-Click`, answered 200
//! with no redirect and no cookie), and the page behind the footer link (`GET` shows what
//! would happen and a button; the button's `POST` does it). Mail scanners that follow links
//! therefore unsubscribe nobody.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::ops::subscribers::{self as ops, UnsubscribeTarget};
use crate::render::escape_html;
use crate::web::extract::Path;
use crate::web::state::AppState;

/// `GET /u/{token}` and `GET /m/{token}`
pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match target(&state, &token).await {
        Ok(target) => {
            let lists: Vec<String> = target
                .lists
                .iter()
                .filter(|(_, _, subscribed)| *subscribed)
                .map(|(_, name, _)| format!("<li>{}</li>", escape_html(name)))
                .collect();
            let body = if lists.is_empty() {
                "<p>You are not subscribed to any of these newsletters any more.</p>".to_owned()
            } else {
                format!(
                    "<p>Unsubscribe <strong>{}</strong> from:</p><ul>{}</ul>\
                     <form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>",
                    escape_html(target.subscriber.email.as_str()),
                    lists.join("")
                )
            };
            page(StatusCode::OK, "Unsubscribe", &body)
        }
        Err(response) => response,
    }
}

/// `POST /u/{token}` and `POST /m/{token}`: one-click or the page's button.
pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let target = match target(&state, &token).await {
        Ok(target) => target,
        Err(response) => return response,
    };
    if let Err(err) = ops::unsubscribe(&state.db, &target).await {
        tracing::error!(error = format!("{err:#}"), "unsubscribe failed");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again",
            "<p>We could not record your request just now. Please try again in a moment.</p>",
        );
    }
    state.kick.kick();
    page(
        StatusCode::OK,
        "Unsubscribed",
        "<p>You are unsubscribed. You will get no more of these newsletters.</p>",
    )
}

async fn target(state: &AppState, token: &str) -> Result<UnsubscribeTarget, Response> {
    let invalid = || {
        page(
            StatusCode::BAD_REQUEST,
            "Invalid link",
            "<p>This link is not valid. Please use the link from the most recent newsletter.</p>",
        )
    };
    let parsed = state
        .mailer
        .signer
        .parse_unsubscribe(token)
        .ok_or_else(invalid)?;
    match ops::unsubscribe_target(&state.db, parsed).await {
        Ok(Some(target)) => Ok(target),
        Ok(None) => Err(page(
            StatusCode::OK,
            "Unsubscribed",
            "<p>This address receives nothing from us.</p>",
        )),
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "unsubscribe lookup failed");
            Err(page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again",
                "<p>Please try again in a moment.</p>",
            ))
        }
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"
    );
    (status, Html(html)).into_response()
}
