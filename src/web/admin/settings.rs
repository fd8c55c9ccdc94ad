//! The settings pages (admins only): the publisher's settings, changed here and applied on
//! every node without a restart unless the configuration fixes them (then shown locked,
//! saying by what); the SMTP relays with a "test connection" button; the effective
//! configuration with each value's origin, secrets masked; and the DNS records to publish.
//! They call the same `ops::publisher` and `ops::setup` functions as `/api/settings`.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::login::internal;
use super::{Desk, page};
use crate::domain::Lang;
use crate::i18n;
use crate::ops::publisher::{self as ops, Described, Kind, Origin};
use crate::ops::setup::{self, RelayTest};
use crate::render::views::fill;
use crate::web::api::settings::sending;
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// The page's sections, in order.
const SECTIONS: &[&str] = &["brand", "consent", "captcha", "limits"];

/// Where a value comes from, in words.
fn origin_text(lang: Lang, origin: &Origin) -> String {
    match origin {
        Origin::Default => i18n::text(lang, "desk.settings.origin_default").to_owned(),
        Origin::Database => i18n::text(lang, "desk.settings.origin_desk").to_owned(),
        Origin::File(path) => fill(lang, "desk.settings.origin_file", &[("what", path)]),
        Origin::Environment(var) => fill(lang, "desk.settings.origin_env", &[("what", var)]),
        Origin::Flag(flag) => fill(lang, "desk.settings.origin_flag", &[("what", flag)]),
    }
}

fn input_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Url => "url",
        Kind::Count | Kind::Score => "number",
        Kind::Secret => "password",
        Kind::Language | Kind::Captcha => "select",
        Kind::Text | Kind::Optional | Kind::Color => "text",
    }
}

/// The form's fields by section; `typed` holds values a refused form keeps.
fn sections(
    lang: Lang,
    described: &[Described],
    typed: Option<&BTreeMap<String, String>>,
) -> Value {
    SECTIONS
        .iter()
        .map(|section| {
            let fields: Vec<Value> = described
                .iter()
                .filter(|d| d.section == *section)
                .map(|d| {
                    let value = match typed.and_then(|t| t.get(d.name)) {
                        Some(typed) if d.kind != Kind::Secret => typed.clone(),
                        _ if d.kind == Kind::Secret => String::new(),
                        _ => d.value.clone(),
                    };
                    json!({
                        "name": d.name,
                        "label": i18n::text(lang, &format!("desk.settings.f_{}", d.name)),
                        "input": input_type(d.kind),
                        "kind": d.kind,
                        "value": value,
                        // What the page showed, so a save writes only what the user changed
                        // and leaves what another admin changed meanwhile.
                        "shown": if d.kind == Kind::Secret { "" } else { d.value.as_str() },
                        "is_set": !d.value.is_empty(),
                        "fixed": d.fixed,
                        "changed": d.origin == Origin::Database,
                        "origin": origin_text(lang, &d.origin),
                        "step": if d.kind == Kind::Score { "0.05" } else { "1" },
                    })
                })
                .collect();
            json!({
                "title": i18n::text(lang, &format!("desk.settings.s_{section}")),
                "fields": fields,
            })
        })
        .collect()
}

pub(crate) async fn show(
    State(state): State<AppState>,
    desk: Desk,
    Query(done): Query<Done>,
) -> Response {
    let notice = super::done_notice(
        desk.lang,
        done.done.as_deref(),
        "desk.settings.",
        &["saved"],
    );
    settings_page(&state, &desk, StatusCode::OK, notice, None, None, None).await
}

async fn settings_page(
    state: &AppState,
    desk: &Desk,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    typed: Option<&BTreeMap<String, String>>,
    tested: Option<(usize, RelayTest)>,
) -> Response {
    let by = desk.staff.caller();
    let view = match ops::read(
        &state.db,
        state.readers.live(),
        &by,
        &state.settings.configuration,
    )
    .await
    {
        Ok(view) => view,
        Err(err) => return super::refused_or_internal(state, desk, &err),
    };
    let lang = desk.lang;
    let relays: Vec<Value> = state
        .settings
        .relays
        .iter()
        .enumerate()
        .map(|(index, relay)| {
            let test = tested
                .as_ref()
                .filter(|(i, _)| *i == index)
                .map(|(_, t)| serde_json::to_value(t).unwrap_or_default());
            json!({
                "index": index,
                "host": relay.host,
                "port": relay.port,
                "tls": serde_json::to_value(relay.tls).unwrap_or_default(),
                "user": relay.username,
                "test": test,
            })
        })
        .collect();
    let configuration: Vec<Value> = view
        .configuration
        .iter()
        .map(|c| {
            json!({
                "key": c.key,
                "value": c.value,
                "origin": origin_text(lang, &c.origin),
                "given": c.origin != Origin::Default,
            })
        })
        .collect();
    page(
        state,
        Some(desk),
        lang,
        status,
        "admin/settings.html",
        "desk.settings.title",
        json!({
            "notice": notice,
            "error": error,
            "sections": sections(lang, &view.publisher, typed),
            "relays": relays,
            "configuration": configuration,
        }),
    )
}

/// Saves the form: each field not fixed whose value differs from what the page showed; a
/// secret left empty keeps its value; a field ticked "back to the configuration's value"
/// loses the desk's.
pub(crate) async fn save(
    State(state): State<AppState>,
    desk: Desk,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let resets: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "reset")
        .map(|(_, v)| v.as_str())
        .collect();
    let typed: BTreeMap<String, String> = form
        .iter()
        .filter(|(k, _)| ops::FIELDS.iter().any(|f| f.name == k))
        .cloned()
        .collect();
    let mut changes = BTreeMap::new();
    for field in ops::FIELDS {
        if resets.contains(&field.name) {
            changes.insert(field.name.to_owned(), None);
            continue;
        }
        let Some(value) = typed.get(field.name) else {
            continue;
        };
        let shown = form
            .iter()
            .find(|(k, _)| k.strip_prefix("was.") == Some(field.name))
            .map(|(_, v)| v);
        if shown == Some(value) {
            continue;
        }
        if field.kind == Kind::Secret && value.is_empty() {
            continue;
        }
        changes.insert(field.name.to_owned(), Some(value.clone()));
    }
    let by = desk.staff.caller();
    match ops::save(&state.db, state.readers.live(), &by, &changes).await {
        Ok(_) => Redirect::to("/admin/settings?done=saved").into_response(),
        Err(err) => match super::refused_status(&err) {
            Some(status) => {
                settings_page(
                    &state,
                    &desk,
                    status,
                    None,
                    Some(super::refusal_text(desk.lang, &err)),
                    Some(&typed),
                    None,
                )
                .await
            }
            None => internal(&err),
        },
    }
}

/// Tests relay `index` and shows the page with what it answered.
pub(crate) async fn test_relay(
    State(state): State<AppState>,
    desk: Desk,
    Path(index): Path<usize>,
) -> Response {
    let by = desk.staff.caller();
    let settings = &state.settings;
    match setup::test_relay(&by, &settings.relays, index, &settings.hello).await {
        Ok(test) => {
            settings_page(
                &state,
                &desk,
                StatusCode::OK,
                None,
                None,
                None,
                Some((index, test)),
            )
            .await
        }
        Err(err) => super::refused_or_internal(&state, &desk, &err),
    }
}

/// The DNS records to publish for the configured DKIM keys and sending domains.
pub(crate) async fn dns(State(state): State<AppState>, desk: Desk) -> Response {
    let by = desk.staff.caller();
    let records = match setup::dns_records(&by, sending(&state.settings)) {
        Ok(records) => records,
        Err(err) => return super::refused_or_internal(&state, &desk, &err),
    };
    let records: Vec<Value> = records
        .into_iter()
        .map(|r| {
            let advice = r.advice.as_ref().map(|a| {
                let values: Vec<(&str, &str)> =
                    a.values.iter().map(|(k, v)| (*k, v.as_str())).collect();
                fill(desk.lang, a.key, &values)
            });
            let title = i18n::text(desk.lang, &format!("desk.settings.dns_{}", r.kind)).to_owned();
            let mut record = serde_json::to_value(&r).unwrap_or_default();
            record["advice"] = json!(advice);
            record["title"] = json!(title);
            record
        })
        .collect();
    page(
        &state,
        Some(&desk),
        desk.lang,
        StatusCode::OK,
        "admin/settings-dns.html",
        "desk.settings.dns_title",
        json!({
            "records": records,
            "no_dkim": state.settings.dkim.is_empty(),
        }),
    )
}
