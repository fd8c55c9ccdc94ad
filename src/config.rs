//! Settings: built-in defaults, then a TOML file, then `BULTEN_*` environment variables, then
//! command-line flags, each layer overriding the one before.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// A value that must never be printed: `Debug` shows `****`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("****")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Everything bulten can be told. Field docs give the default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the SQLite database and uploads live. Defaults to `./bulten-data`.
    pub data_dir: PathBuf,
    /// `sqlite://FILE` or `postgres://USER@HOST/DB`. Defaults to SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// The address the HTTP server listens on. Defaults to `127.0.0.1:9000`.
    pub listen: String,
    /// The public base URL of every link bulten writes. Defaults to `http://` + `listen`.
    pub root_url: Option<String>,
    /// `text` (default) or `json`.
    pub log_format: LogFormat,
    /// The first admin's user name, used only when no user exists. Defaults to `admin`.
    pub admin_user: Option<String>,
    /// The first admin's password; when unset a random one is printed once.
    pub admin_password: Option<Secret>,
    /// The largest JSON request body, in bytes. Defaults to 1 MiB.
    pub max_body_bytes: usize,
    /// The largest CSV upload, in bytes. Defaults to 1 GiB.
    pub max_upload_bytes: usize,
    /// Rows per import transaction. Defaults to 10,000.
    pub import_batch_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("bulten-data"),
            database_url: None,
            listen: "127.0.0.1:9000".into(),
            root_url: None,
            log_format: LogFormat::Text,
            admin_user: None,
            admin_password: None,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 1024 * 1024 * 1024,
            import_batch_size: crate::ops::imports::DEFAULT_BATCH_SIZE,
        }
    }
}

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "bulten.toml";

impl Settings {
    /// Loads defaults, then `file` (or `./bulten.toml` when present), then `BULTEN_*`.
    ///
    /// # Errors
    /// When the file is given but missing, or a value has the wrong type.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        match file {
            Some(path) => {
                builder = builder.add_source(config::File::from(path).required(true));
            }
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                builder = builder.add_source(config::File::with_name(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        let built = builder
            .add_source(config::Environment::with_prefix("BULTEN").try_parsing(true))
            .build()
            .context("cannot read the configuration")?;
        built.try_deserialize().context("invalid configuration")
    }

    /// The database URL to use: the configured one, or SQLite inside `data_dir`.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| crate::db::Db::sqlite_url_in(&self.data_dir))
    }

    /// The public base URL, without a trailing slash.
    pub fn root_url(&self) -> String {
        self.root_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }
}

/// The commented sample written by `bulten config init`.
pub const SAMPLE_CONFIG: &str = r#"# bulten configuration.
# Every key can also be set in the environment as BULTEN_<KEY> (for example BULTEN_LISTEN),
# which overrides this file; command-line flags override both.

# Where the SQLite database and uploaded files live.
data_dir = "bulten-data"

# The database. Unset: SQLite at <data_dir>/bulten.db. For several nodes use PostgreSQL:
# database_url = "postgres://bulten@127.0.0.1:5432/bulten"

# The address the HTTP server (API, pages, admin) listens on.
listen = "127.0.0.1:9000"

# The public base URL of every link bulten puts in mail and pages.
# root_url = "https://news.example.com"

# Log lines as "text" or "json". The level comes from RUST_LOG (default "info").
log_format = "text"

# The first admin account, created on the first start when no user exists. Without a
# password bulten generates one and prints it once.
# admin_user = "admin"
# admin_password = "change-me-please"

# Request size limits, in bytes: JSON bodies, and CSV uploads to the import API.
max_body_bytes = 1048576
max_upload_bytes = 1073741824

# Rows per import transaction.
import_batch_size = 10000
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_config_parses_to_the_defaults() {
        let parsed: Settings = toml_from_sample();
        let defaults = Settings::default();
        assert_eq!(parsed.listen, defaults.listen);
        assert_eq!(parsed.data_dir, defaults.data_dir);
        assert_eq!(parsed.max_upload_bytes, defaults.max_upload_bytes);
        assert_eq!(parsed.import_batch_size, defaults.import_batch_size);
    }

    fn toml_from_sample() -> Settings {
        config::Config::builder()
            .add_source(config::File::from_str(
                SAMPLE_CONFIG,
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap()
    }

    #[test]
    fn secrets_do_not_print() {
        let settings = Settings {
            admin_password: Some(Secret::new("hunter22")),
            ..Settings::default()
        };
        assert!(!format!("{settings:?}").contains("hunter22"));
    }
}
