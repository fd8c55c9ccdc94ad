//! `/api/settings`: the publisher's settings (read and changed, as the desk's settings page
//! does), the effective configuration with where each value comes from, the DNS records
//! to publish, and a test connection to each SMTP relay. Admins only (`settings:manage`).
//! listmonk's own settings keys name listmonk's features, so this shape is bulten's.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;

use super::{Data, data};
use crate::ops::publisher::{self as ops, SettingsView};
use crate::ops::setup::{self, Record, RelayTest, Sending};
use crate::web::error::ApiError;
use crate::web::extract::{Acting, Json as Body, Path};
use crate::web::state::{AppState, WebSettings};

pub(crate) async fn get_all(
    State(state): State<AppState>,
    Acting(by): Acting,
) -> Result<Json<Data<SettingsView>>, ApiError> {
    let live = state.readers.live();
    Ok(data(
        ops::read(&state.db, live, &by, &state.settings.configuration).await?,
    ))
}

/// `{"brand_name": "Haber", "terms_url": null, …}`: each named setting to its value, or
/// back to the configuration's with `null`. Numbers may be given as numbers. A secret sent
/// as `****` or empty keeps its value; `null` removes the desk's.
pub(crate) async fn update(
    State(state): State<AppState>,
    Acting(by): Acting,
    Body(body): Body<BTreeMap<String, serde_json::Value>>,
) -> Result<Json<Data<SettingsView>>, ApiError> {
    let mut changes = BTreeMap::new();
    for (name, value) in body {
        let value = match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(text) => Some(text),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "{name} must be a string, a number or null"
                )));
            }
        };
        changes.insert(name, value);
    }
    let live = state.readers.live();
    ops::save(&state.db, live, &by, &changes).await?;
    Ok(data(
        ops::read(&state.db, live, &by, &state.settings.configuration).await?,
    ))
}

/// What sending is set up with.
pub(crate) fn sending(settings: &WebSettings) -> Sending<'_> {
    Sending {
        dkim: &settings.dkim,
        relays: &settings.relays,
        from_domain: &settings.from_email_domain,
        bounce_address: settings.bounce_address.as_deref(),
    }
}

pub(crate) async fn dns(
    State(state): State<AppState>,
    Acting(by): Acting,
) -> Result<Json<Data<Vec<Record>>>, ApiError> {
    Ok(data(setup::dns_records(&by, sending(&state.settings))?))
}

/// `POST /api/settings/smtp/{index}/test`: connects to the relay (its place among the
/// configured ones, from 0) as sending would, and says QUIT.
pub(crate) async fn test_relay(
    State(state): State<AppState>,
    Acting(by): Acting,
    Path(index): Path<usize>,
) -> Result<Json<Data<RelayTest>>, ApiError> {
    let settings = &state.settings;
    Ok(data(
        setup::test_relay(&by, &settings.relays, index, &settings.hello).await?,
    ))
}
