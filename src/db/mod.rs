//! The only module with SQL.
//!
//! bulten runs on SQLite (the default, embedded) and on PostgreSQL. Each query is written once
//! in the SQL both understand (`$1` placeholders, `RETURNING`, `ON CONFLICT`) and run on
//! whichever pool [`Db`] holds: [`on_pool!`] expands the same code once per backend, so every
//! query is type-checked against both drivers. Where the dialects truly differ (bulk loading,
//! JSON operators in filters) the code matches on [`Backend`] and says why.
//!
//! One file per aggregate: `subscribers`, `lists`, `users`, `imports`, `templates`,
//! `campaigns`, `deliveries` (the ledger), `outbox`, `secrets`, `signup` (the reader's side:
//! consent records, per-address events, confirmations, erasure) and `spent` (single-use
//! keys). `filter` compiles a filter AST to SQL, `codec` stores timestamps, `copy` frames
//! PostgreSQL's binary `COPY`.
//!
//! Every sqlx error becomes a [`DbError`] through one classification, so a bare `?` names a
//! unique or foreign-key violation for the layers above.

pub(crate) mod audit;
pub(crate) mod campaigns;
mod codec;
mod copy;
pub(crate) mod dashboard;
pub mod deliveries;
pub(crate) mod filter;
pub(crate) mod imports;
pub(crate) mod lists;
pub(crate) mod outbox;
pub(crate) mod publisher;
pub mod secrets;
pub(crate) mod sessions;
pub mod signup;
pub mod spent;
pub(crate) mod subscribers;
pub(crate) mod templates;
pub(crate) mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool on either backend.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, once per backend.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Errors from the database, classified for the layers above.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique constraint refused the write; the name says which.
    #[error("unique constraint {0} was violated")]
    Conflict(String),
    /// A foreign key refused the write: the row it points at does not exist.
    #[error("a referenced row does not exist")]
    MissingReference,
    #[error(transparent)]
    Other(sqlx::Error),
}

/// Every sqlx error passes the classification, so a bare `?` on a query gives the layers
/// above a conflict they can name rather than an opaque database error.
impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        DbError::classify(err)
    }
}

/// A stored value that no longer parses as its domain type is a decoding failure.
impl From<crate::domain::Invalid> for DbError {
    fn from(err: crate::domain::Invalid) -> Self {
        DbError::Other(sqlx::Error::Decode(err.into()))
    }
}

impl DbError {
    fn classify(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db_err) = &err {
            match db_err.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    let name = db_err.constraint().map(str::to_owned).unwrap_or_else(|| {
                        // SQLite names the columns, not the index: "UNIQUE constraint failed:
                        // subscribers.email".
                        db_err
                            .message()
                            .rsplit(": ")
                            .next()
                            .unwrap_or_default()
                            .replace('.', "_")
                    });
                    return DbError::Conflict(name);
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => return DbError::MissingReference,
                _ => {}
            }
        }
        DbError::Other(err)
    }
}

pub type DbResult<T> = Result<T, DbError>;

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file if needed.
    ///
    /// # Errors
    /// When the URL is malformed or the database cannot be reached.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .with_context(|| format!("invalid PostgreSQL URL {}", redact_url(url)))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("invalid SQLite URL {url}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // An 8 MiB page cache per connection (the default is 2 MiB); imports raise
                // their own connection's for the length of a batch (see `imports`).
                .pragma("cache_size", "-8192")
                // LIKE is case-sensitive on PostgreSQL; make SQLite agree (ILIKE is compiled
                // separately).
                .pragma("case_sensitive_like", "ON");
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open {url}"))?;
            Ok(Db::Sqlite(pool))
        } else {
            anyhow::bail!(
                "unsupported database URL {}: use sqlite://FILE or postgres://…",
                redact_url(url)
            )
        }
    }

    /// The SQLite URL for a database file inside `data_dir`.
    pub fn sqlite_url_in(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("bulten.db").display())
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations embedded in the binary; applied ones are skipped.
    ///
    /// # Errors
    /// When a migration fails or the database holds migrations this binary does not know.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
        }
        .context("database migration failed")
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub(crate) async fn ping(&self) -> DbResult<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await?.rows_affected());
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// Refreshes the planner's statistics of `tables` after a bulk change, on PostgreSQL.
///
/// Right after an import or a campaign start the statistics describe the tables as they were
/// (or as empty), and PostgreSQL then plans per-batch lookups as scans of whole lists: sending
/// to freshly imported subscribers ran a hundred times slower until autovacuum caught up.
/// SQLite plans these queries well without statistics. The tables are analysed at once, one
/// connection each: after a million-row import that halves a wait the caller sees.
///
/// # Errors
/// When the database fails.
pub(crate) async fn refresh_statistics(db: &Db, tables: &[&str]) -> DbResult<()> {
    if let Db::Postgres(pool) = db {
        let analyze = |table: &str| {
            let sql = format!("ANALYZE {table}");
            async move { sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await }
        };
        futures_util::future::try_join_all(tables.iter().map(|table| analyze(table))).await?;
    }
    Ok(())
}

/// A URL fit for logs and errors: the password, if any, is replaced.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Starts a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later fails with
/// "database is locked" instead of waiting when another writer got in between.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;

    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>,
    > + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// `$first, $first+1, …` for `count` placeholders, for `IN (…)` lists.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://bulten:s3cret@db.example:5432/news"),
            "postgres://bulten:****@db.example:5432/news"
        );
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }

    /// Each quoted word compared with a `status` column on one line of SQL (`status = 'x'`,
    /// `s.status <> 'x'`, `d.status IN ('x', 'y')`), with the alias before the column.
    fn status_literals(line: &str) -> Vec<(&str, &str)> {
        let mut found = Vec::new();
        for (at, _) in line.match_indices("status") {
            let before = &line[..at];
            let alias = before
                .rsplit(|c: char| !c.is_alphanumeric() && c != '.' && c != '_')
                .next()
                .unwrap_or_default();
            if alias.chars().last().is_some_and(|c| c != '.') {
                continue; // `status_reason`'s tail, `x_status`, …
            }
            let rest = &line[at + "status".len()..];
            let list = ["= ", "<> ", "!= "]
                .iter()
                .find_map(|op| rest.trim_start().strip_prefix(op))
                .map(|r| r.split([' ', ',', ')']).next().unwrap_or_default())
                .or_else(|| {
                    ["IN (", "NOT IN ("]
                        .iter()
                        .find_map(|op| rest.trim_start().strip_prefix(op))
                        .map(|r| r.split(')').next().unwrap_or_default())
                });
            let Some(list) = list else { continue };
            found.extend(
                list.split(',')
                    .map(str::trim)
                    .filter_map(|w| w.strip_prefix('\'')?.strip_suffix('\''))
                    .map(|word| (alias, word)),
            );
        }
        found
    }

    /// Statuses bound as parameters cannot be misspelt; the ones left as literals (partial
    /// indexes need them, and set-based statements read better with them) are checked here
    /// against the types they stand for.
    #[test]
    fn every_status_literal_in_the_sql_is_a_variant_of_its_type() {
        use crate::domain::{
            CampaignStatus, DeliveryStatus, ImportRunStatus, ListStatus, SubscriberStatus,
            SubscriptionStatus,
        };
        let sources = [
            ("campaigns.rs", include_str!("campaigns.rs")),
            ("deliveries.rs", include_str!("deliveries.rs")),
            ("imports/mod.rs", include_str!("imports/mod.rs")),
            ("imports/runs.rs", include_str!("imports/runs.rs")),
            ("lists.rs", include_str!("lists.rs")),
            ("outbox.rs", include_str!("outbox.rs")),
            ("signup.rs", include_str!("signup.rs")),
            ("subscribers.rs", include_str!("subscribers.rs")),
            ("templates.rs", include_str!("templates.rs")),
            ("users.rs", include_str!("users.rs")),
            ("copy.rs", include_str!("copy.rs")),
            ("dashboard.rs", include_str!("dashboard.rs")),
            ("sessions.rs", include_str!("sessions.rs")),
        ];
        let mut seen = 0;
        for (file, source) in sources {
            let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (alias, word) in status_literals(line) {
                    let valid = match (file, alias) {
                        (_, "s.") => word.parse::<SubscriberStatus>().is_ok(),
                        (_, "sl.") => word.parse::<SubscriptionStatus>().is_ok(),
                        (_, "d.") | ("deliveries.rs", "") => word.parse::<DeliveryStatus>().is_ok(),
                        (_, "c.") => word.parse::<CampaignStatus>().is_ok(),
                        (_, "l.") | ("lists.rs", "") => word.parse::<ListStatus>().is_ok(),
                        _ => {
                            word.parse::<SubscriberStatus>().is_ok()
                                || word.parse::<SubscriptionStatus>().is_ok()
                                || word.parse::<DeliveryStatus>().is_ok()
                                || word.parse::<CampaignStatus>().is_ok()
                                || word.parse::<ImportRunStatus>().is_ok()
                                || word.parse::<ListStatus>().is_ok()
                        }
                    };
                    assert!(valid, "'{word}' in {file}: `{}` is no status", line.trim());
                    seen += 1;
                }
            }
        }
        assert!(seen >= 25, "the status literals were found ({seen})");
        assert_eq!(
            status_literals("WHERE s.status = 'enabled' AND status_reason = 'x'"),
            [("s.", "enabled")]
        );
        assert_eq!(
            status_literals("d.status IN ('sending', 'queued')"),
            [("d.", "sending"), ("d.", "queued")]
        );
        assert_eq!(
            status_literals("status <> 'blocklisted'"),
            [("", "blocklisted")]
        );
    }
}
