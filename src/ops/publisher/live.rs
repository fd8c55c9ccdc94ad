//! The publisher's settings in force on this node ([`Live`]), read and changed by admins,
//! and followed from the database so a change on any node applies here within seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use super::{Base, CAPTCHA, FIELDS, Kind, Origin, Publisher, REFRESH, check, find, value};
use crate::db::{Db, publisher as store};
use crate::ops::access::{Caller, Permission};
use crate::ops::audit::{self, Change};
use crate::ops::{OpsError, OpsResult};
use crate::render::views::Views;

/// One setting as the settings page and `GET /api/settings` show it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Described {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) section: &'static str,
    /// The value in force; for a secret, `****` when set.
    pub(crate) value: String,
    pub(crate) origin: Origin,
    /// Fixed by the file, the environment or a flag.
    pub(crate) fixed: bool,
}

/// One setting of the whole configuration, as in force.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Configured {
    pub(crate) key: String,
    /// As text; secrets as `****`; empty when unset.
    pub(crate) value: String,
    pub(crate) origin: Origin,
}

/// What the settings page and `GET /api/settings` show.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SettingsView {
    /// What the desk and the API may change, unless `fixed`.
    pub(crate) publisher: Vec<Described>,
    /// Every setting bulten reads, as this node runs with it.
    pub(crate) configuration: Vec<Configured>,
}

/// What is in force, from the stored rows: the values, and which rows they took.
struct State {
    stored: BTreeMap<String, String>,
    values: BTreeMap<&'static str, Option<String>>,
    used: BTreeSet<&'static str>,
    publisher: Arc<Publisher>,
}

/// The publisher's settings of this node: the configuration's, the database's over them,
/// and the pages' brand kept in step.
pub(crate) struct Live {
    base: Base,
    views: Arc<Views>,
    state: RwLock<State>,
    /// Held from reading the rows to applying them, so an older read never replaces a newer
    /// save on this node.
    writing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Live {
    // The values hold the captcha's secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").finish_non_exhaustive()
    }
}

impl Live {
    /// # Errors
    /// When the configuration's own values cannot make the settings (a colour that is not
    /// one, a captcha without its secret).
    pub(crate) fn new(base: Base, views: Arc<Views>) -> anyhow::Result<Self> {
        let publisher = Publisher::from_values(&base.values, base.captcha_verify_url.as_deref())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        views.set_brand(publisher.brand.clone());
        Ok(Self {
            state: RwLock::new(State {
                stored: BTreeMap::new(),
                values: base.values.clone(),
                used: BTreeSet::new(),
                publisher: Arc::new(publisher),
            }),
            base,
            views,
            writing: tokio::sync::Mutex::new(()),
        })
    }

    /// The settings in force.
    pub(crate) fn current(&self) -> Arc<Publisher> {
        self.state.read().expect("never poisoned").publisher.clone()
    }

    pub(crate) fn views(&self) -> &Arc<Views> {
        &self.views
    }

    fn is_fixed(&self, name: &str) -> bool {
        self.base.fixed.get(name).is_some_and(Origin::fixes)
    }

    /// The configuration's values with the stored rows over those not fixed, each row
    /// checked by its field's rule; and the rows taken.
    fn merged(
        &self,
        stored: &BTreeMap<String, String>,
    ) -> (
        BTreeMap<&'static str, Option<String>>,
        BTreeSet<&'static str>,
    ) {
        let mut values = self.base.values.clone();
        let mut used = BTreeSet::new();
        for field in FIELDS {
            if let Some(value) = stored.get(field.name)
                && !self.is_fixed(field.name)
                && check(field, Some(value.as_str()).filter(|v| !v.is_empty())).is_ok()
            {
                values.insert(field.name, Some(value.clone()));
                used.insert(field.name);
            }
        }
        (values, used)
    }

    /// What the stored rows make: rows breaking their rule are left out, and a captcha they
    /// leave unusable (a provider whose secret the configuration now fixes empty) falls back
    /// to the configuration's, whole; the rest of what the desk changed stays in force.
    fn effective(&self, stored: BTreeMap<String, String>) -> State {
        let verify_url = self.base.captcha_verify_url.as_deref();
        let (mut values, mut used) = self.merged(&stored);
        if Publisher::from_values(&values, verify_url).is_err() {
            for name in CAPTCHA {
                values.insert(name, self.base.values.get(name).cloned().flatten());
                used.remove(name);
            }
        }
        let publisher = Publisher::from_values(&values, verify_url).unwrap_or_else(|_| {
            values = self.base.values.clone();
            used.clear();
            Publisher::from_values(&values, verify_url).expect("checked when the node started")
        });
        let ignored: Vec<&String> = stored
            .keys()
            .filter(|name| !used.contains(name.as_str()) && !self.is_fixed(name))
            .collect();
        if !ignored.is_empty() {
            tracing::warn!(
                ?ignored,
                "stored publisher settings that no longer apply are ignored"
            );
        }
        State {
            stored,
            values,
            used,
            publisher: Arc::new(publisher),
        }
    }

    fn apply(&self, stored: BTreeMap<String, String>) {
        let state = self.effective(stored);
        self.views.set_brand(state.publisher.brand.clone());
        *self.state.write().expect("never poisoned") = state;
    }

    /// Reads the stored settings again and applies them if they changed.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub(crate) async fn refresh(&self, db: &Db) -> OpsResult<()> {
        let _writing = self.writing.lock().await;
        self.refresh_holding_the_lock(db).await
    }

    async fn refresh_holding_the_lock(&self, db: &Db) -> OpsResult<()> {
        let stored = store::all(db).await?;
        if self.state.read().expect("never poisoned").stored != stored {
            self.apply(stored);
        }
        Ok(())
    }

    /// Every setting with its value in force and where that comes from.
    pub(crate) fn describe(&self) -> Vec<Described> {
        let state = self.state.read().expect("never poisoned");
        FIELDS
            .iter()
            .map(|field| {
                let fixed = self.is_fixed(field.name);
                let origin = if state.used.contains(field.name) {
                    Origin::Database
                } else {
                    self.base
                        .fixed
                        .get(field.name)
                        .cloned()
                        .unwrap_or(Origin::Default)
                };
                let value = value(&state.values, field.name).unwrap_or_default();
                let value = if field.kind == Kind::Secret && !value.is_empty() {
                    "****".to_owned()
                } else {
                    value.to_owned()
                };
                Described {
                    name: field.name,
                    kind: field.kind,
                    section: field.section,
                    value,
                    origin,
                    fixed,
                }
            })
            .collect()
    }
}

/// The publisher's settings, and the whole configuration this node runs with (`configured`,
/// as `app` read it) with the publisher's values in force over it, for admins.
///
/// # Errors
/// `Forbidden` without `settings:manage`.
pub(crate) async fn read(
    db: &Db,
    live: &Live,
    by: &Caller,
    configured: &[(String, String, Origin)],
) -> OpsResult<SettingsView> {
    by.require(Permission::SettingsManage)?;
    // Fresh, not up to three seconds old: an admin who just saved on another node sees it.
    live.refresh(db).await?;
    let publisher = live.describe();
    let configuration = configured
        .iter()
        .map(|(key, value, origin)| {
            match publisher
                .iter()
                .find(|d| d.name == key && d.origin == Origin::Database)
            {
                Some(changed) => Configured {
                    key: key.clone(),
                    value: changed.value.clone(),
                    origin: Origin::Database,
                },
                None => Configured {
                    key: key.clone(),
                    value: value.clone(),
                    origin: origin.clone(),
                },
            }
        })
        .collect();
    Ok(SettingsView {
        publisher,
        configuration,
    })
}

/// Changes the publisher's settings: each named setting to its value, or back to the
/// configuration's with `None`. A secret given as `****` (what the page and the API show)
/// or empty keeps its value; `None` removes the desk's. Every node applies the change
/// within seconds; this one at once. Only what differs from what is stored is written and
/// audited.
///
/// # Errors
/// `Forbidden` without `settings:manage`; `Invalid` for an unknown setting or a value that
/// breaks its rule, or settings that do not work together (a captcha without its keys);
/// `Conflict` for a change to a setting the configuration fixes.
pub(crate) async fn save(
    db: &Db,
    live: &Live,
    by: &Caller,
    changes: &BTreeMap<String, Option<String>>,
) -> OpsResult<Vec<Described>> {
    by.require(Permission::SettingsManage)?;
    let _writing = live.writing.lock().await;
    live.refresh_holding_the_lock(db).await?;
    let before = live.describe();
    let mut stored = live.state.read().expect("never poisoned").stored.clone();
    let mut writes: Vec<(&'static str, Option<String>)> = Vec::new();
    for (name, value) in changes {
        let field =
            find(name).ok_or_else(|| OpsError::Invalid(format!("unknown setting '{name}'")))?;
        let value = value.as_deref().map(str::trim);
        if field.kind == Kind::Secret && matches!(value, Some("****" | "")) {
            continue;
        }
        let shown = before.iter().find(|d| d.name == field.name);
        if live.is_fixed(field.name) {
            // An unchanged fixed value is fine: clients send back what they read.
            if shown.is_some_and(|d| Some(d.value.as_str()) == value.or(Some(""))) {
                continue;
            }
            let by_what = match &live.base.fixed[field.name] {
                Origin::File(path) => format!("the configuration file {path}"),
                Origin::Environment(var) => format!("the environment variable {var}"),
                Origin::Flag(flag) => format!("the flag {flag}"),
                Origin::Default | Origin::Database => String::new(),
            };
            return Err(OpsError::Conflict(format!(
                "{name} is fixed by {by_what} and cannot be changed here"
            )));
        }
        // `None` goes back to the configuration's value, checked when the node started.
        if let Some(value) = value {
            check(field, Some(value).filter(|v| !v.is_empty()))
                .map_err(|e| OpsError::Invalid(e.0))?;
        }
        // The configuration's own value needs no row: the file may change it later.
        let base = value_of(&live.base.values, field.name);
        let row = value.filter(|v| *v != base).map(str::to_owned);
        if row.as_ref() == stored.get(field.name) {
            continue;
        }
        match &row {
            Some(v) => stored.insert(field.name.to_owned(), v.clone()),
            None => stored.remove(field.name),
        };
        writes.push((field.name, row));
    }
    if writes.is_empty() {
        return Ok(before);
    }
    let (values, _) = live.merged(&stored);
    Publisher::from_values(&values, live.base.captcha_verify_url.as_deref())
        .map_err(|e| OpsError::Invalid(e.0))?;
    let rows: Vec<(&str, Option<&str>)> = writes.iter().map(|(n, v)| (*n, v.as_deref())).collect();
    store::save(db, &rows).await?;
    live.apply(stored);
    let after = live.describe();
    audit::record(
        db,
        by,
        Change::new("settings.update", "settings", None)
            .before(&shown_values(&before, &writes))
            .after(&shown_values(&after, &writes)),
    )
    .await;
    Ok(after)
}

fn value_of<'a>(values: &'a BTreeMap<&'static str, Option<String>>, name: &str) -> &'a str {
    values.get(name).and_then(Option::as_deref).unwrap_or("")
}

/// The changed settings' values as shown (secrets masked), for the audit log.
fn shown_values(
    described: &[Described],
    writes: &[(&'static str, Option<String>)],
) -> BTreeMap<&'static str, String> {
    writes
        .iter()
        .filter_map(|(name, _)| {
            described
                .iter()
                .find(|d| d.name == *name)
                .map(|d| (d.name, d.value.clone()))
        })
        .collect()
}

/// Reads the stored settings again every few seconds, so a change made on another node
/// applies here.
pub(crate) async fn follow(live: Arc<Live>, db: Db) {
    let mut every = tokio::time::interval(REFRESH);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(err) = live.refresh(&db).await {
            tracing::warn!(
                error = %crate::telemetry::chain(&err),
                "reading the publisher settings failed"
            );
        }
    }
}
