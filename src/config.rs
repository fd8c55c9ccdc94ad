//! Settings: built-in defaults, then a TOML file, then `BULTEN_*` environment variables, then
//! command-line flags, each layer overriding the one before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

pub use crate::domain::Secret;
use crate::mail::dkim::DkimKeyConfig;
pub use crate::mail::smtp::DomainLimit;
use crate::mail::smtp::{SmtpServerConfig, TlsMode};
pub use crate::ops::publisher::Origin;
pub use crate::telemetry::LogFormat;

/// Everything bulten can be told. Field docs give the default.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
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

    /// SMTP relays (`[[smtp]]` tables). None configured (and no `smtp_host`): mail goes to
    /// the outbox in the database instead.
    pub smtp: Vec<SmtpServerConfig>,
    /// One relay from the environment (`BULTEN_SMTP_HOST` …), added to `smtp`.
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_tls: Option<TlsMode>,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<Secret>,
    /// DKIM keys (`[[dkim]]` tables); each signs every message.
    pub dkim: Vec<DkimKeyConfig>,
    /// Whether this node sends mail. Defaults to true; on SQLite only one node may.
    pub sending: bool,
    /// Messages per second over all relays; unset: as fast as the relays take them.
    pub send_rate: Option<u32>,
    /// Messages per second to one recipient domain over all relays (`[[domain_limit]]`
    /// tables); a relay may have its own (`[[smtp.domain_limit]]`).
    pub domain_limit: Vec<DomainLimit>,
    /// Ledger rows claimed at once. Defaults to 200.
    pub send_batch_size: usize,
    /// Seconds a node holds claimed rows before others may take them. Defaults to 60.
    pub send_lease_secs: u64,
    /// First retry delay after a temporary failure, doubled each time. Defaults to 60.
    pub retry_base_secs: u64,
    /// Give up on a message this many seconds after it was queued. Defaults to 3 days.
    pub retry_max_age_secs: u64,
    /// The envelope sender of campaign mail: `bounces@example.com` becomes
    /// `bounces+TOKEN@example.com` per message (VERP). Defaults to `bounces@` the From domain.
    pub bounce_address: Option<String>,
    /// The sender of transactional mail without a `from_email`. Defaults to
    /// `bulten <noreply@HOST>`, HOST from `root_url`.
    pub from_email: Option<String>,
    /// The fixed last field of `Feedback-ID`. Defaults to `bulten`.
    pub feedback_sender_id: String,
    /// PBKDF2 iterations per attempt of the signup proof of work (a browser makes about 256
    /// attempts). Defaults to 5,000.
    pub altcha_cost: u32,
    /// Seconds a proof-of-work challenge stays valid. Defaults to 600.
    pub altcha_valid_secs: u64,
    /// A second, third-party check on every signup (`recaptcha`, `hcaptcha` or `turnstile`);
    /// unset: the proof of work alone. Fails closed: no answer from the provider, no signup.
    pub captcha_provider: Option<crate::ops::captcha::Provider>,
    /// The provider's site key, put in the form.
    pub captcha_site_key: Option<String>,
    pub captcha_secret: Option<Secret>,
    /// Overrides the provider's verify URL (a proxy, or a test double).
    pub captcha_verify_url: Option<String>,
    /// The lowest reCAPTCHA v3 score accepted. Defaults to 0.5.
    pub captcha_min_score: f64,

    /// The Terms of Use and Privacy Policy a reader agrees to, and their versions, recorded
    /// with each consent. Default URLs: none (the names show without a link).
    pub terms_url: Option<String>,
    pub terms_version: String,
    pub privacy_url: Option<String>,
    pub privacy_version: String,
    /// What a consent record keeps of the reader's IP: `store`, `hash` (keyed, so it can be
    /// matched against an address but not read back) or `drop`. Defaults to `hash`.
    pub consent_ip: crate::ops::reader::IpRecord,
    /// The publisher's sites whose pages embed the signup form (`https://news.example.com`):
    /// the widget's script, the challenge and the JSON signup answer cross-origin requests
    /// from these. Empty (the default): from any site, since those endpoints take no
    /// credentials. The authenticated API never answers cross-origin requests.
    pub embed_origins: Vec<String>,
    /// HTTP connections served at once; more wait until one closes. Defaults to 4096.
    pub http_max_connections: usize,
    /// Seconds a connection has to send a request's header, from its start or the end of
    /// its previous request; slower (or idle) connections are closed. Defaults to 15.
    pub http_header_timeout_secs: u64,
    /// The header carrying the reader's address when bulten runs behind a proxy (e.g.
    /// `X-Forwarded-For`). Unset: the connection's address.
    pub client_ip_header: Option<String>,
    /// How many proxies in front of bulten append to `client_ip_header`. The reader's
    /// address is the entry that many from the right: what the outermost trusted proxy saw.
    /// Entries to its left are whatever the client wrote. Defaults to 1.
    pub client_ip_trusted_hops: usize,
    /// The language of pages and mail when neither the list nor the browser says one.
    pub default_language: crate::domain::Lang,

    /// Signups per IP address per hour. Defaults to 20.
    pub signup_per_ip_per_hour: u32,
    /// Signups per second over all readers. Defaults to 200.
    pub signup_per_second: u32,
    /// Signup attempts per address per hour, whoever makes them. Defaults to 5.
    pub signup_attempts_per_address_per_hour: u32,
    /// Confirmation mails per address per day, whatever asks for them. Defaults to 3.
    pub confirmations_per_address_per_day: u32,
    /// Seconds before another confirmation mail goes to the same address. Defaults to 300.
    pub confirmation_resend_secs: u64,
    /// Seconds a confirmation link stays valid. Defaults to 172,800 (two days).
    pub confirmation_valid_secs: u64,
    /// Seconds after which an unconfirmed signup is deleted. Defaults to 604,800 (a week).
    pub unconfirmed_expiry_secs: u64,

    /// Minutes a desk session may go unused before it ends. Defaults to 120.
    pub session_idle_minutes: u64,
    /// Hours after sign-in when a desk session ends, used or not. Defaults to 12.
    pub session_max_hours: u64,
    /// Failed sign-ins counted together, in minutes: an account or address with too many in
    /// this window is locked until the oldest leaves it (or an admin lifts the lock).
    /// Defaults to 15.
    pub login_window_minutes: u64,
    /// Failed sign-ins on one account that lock it. Defaults to 10.
    pub login_lockout_per_account: u32,
    /// Failed sign-ins from one address, on any accounts, that lock it out. Defaults to 50.
    pub login_lockout_per_address: u32,
    /// Admins must enrol a second factor (an authenticator app) before using the desk.
    /// Defaults to false.
    pub admins_need_second_factor: bool,

    /// The publisher's name, logo and colours on pages and system mail.
    pub brand_name: String,
    pub brand_logo_url: Option<String>,
    /// A CSS colour as `#rgb` or `#rrggbb`. Defaults to `#0b5394`.
    pub brand_color: String,

    /// Where each setting given by the operator came from (the file, the environment, a
    /// flag); the others are defaults. Filled by [`Settings::load`] and the CLI's flags.
    #[serde(skip)]
    pub sources: BTreeMap<String, Origin>,
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
            smtp: Vec::new(),
            smtp_host: None,
            smtp_port: None,
            smtp_tls: None,
            smtp_user: None,
            smtp_password: None,
            dkim: Vec::new(),
            sending: true,
            send_rate: None,
            domain_limit: Vec::new(),
            send_batch_size: 200,
            send_lease_secs: 60,
            retry_base_secs: 60,
            retry_max_age_secs: 3 * 24 * 3600,
            bounce_address: None,
            from_email: None,
            feedback_sender_id: "bulten".into(),
            altcha_cost: 5_000,
            altcha_valid_secs: 600,
            captcha_provider: None,
            captcha_site_key: None,
            captcha_secret: None,
            captcha_verify_url: None,
            captcha_min_score: 0.5,
            terms_url: None,
            terms_version: "1".into(),
            privacy_url: None,
            privacy_version: "1".into(),
            consent_ip: crate::ops::reader::IpRecord::Hash,
            embed_origins: Vec::new(),
            http_max_connections: 4096,
            http_header_timeout_secs: 15,
            client_ip_header: None,
            client_ip_trusted_hops: 1,
            default_language: crate::domain::Lang::En,
            signup_per_ip_per_hour: 20,
            signup_per_second: 200,
            signup_attempts_per_address_per_hour: 5,
            confirmations_per_address_per_day: 3,
            confirmation_resend_secs: 300,
            confirmation_valid_secs: 2 * 24 * 3600,
            unconfirmed_expiry_secs: 7 * 24 * 3600,
            session_idle_minutes: 120,
            session_max_hours: 12,
            login_window_minutes: 15,
            login_lockout_per_account: 10,
            login_lockout_per_address: 50,
            admins_need_second_factor: false,
            brand_name: "bulten".into(),
            brand_logo_url: None,
            brand_color: "#0b5394".into(),
            sources: BTreeMap::new(),
        }
    }
}

/// The environment variable that sets `key`.
fn env_name(key: &str) -> String {
    format!("BULTEN_{}", key.to_ascii_uppercase())
}

/// A URL that may carry a credential, as the settings page shows it: the password and the
/// query's values (`?password=…`, a proxy's token) as `****`; a URL that does not parse
/// (a password with a stray `#`) as `****` whole.
fn masked_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "****".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("****"));
    }
    let keys: Vec<String> = parsed.query_pairs().map(|(k, _)| k.into_owned()).collect();
    if !keys.is_empty() {
        parsed
            .query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|k| (k.as_str(), "****")));
    }
    parsed.to_string()
}

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "bulten.toml";

impl Settings {
    /// Loads defaults, then `file` (or `./bulten.toml` when present), then `BULTEN_*`.
    ///
    /// # Errors
    /// When the file is given but missing, or a value has the wrong type.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        use config::Source as _;
        let path = match file {
            Some(path) => Some(path.to_path_buf()),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => Some(DEFAULT_CONFIG_FILE.into()),
            None => None,
        };
        let mut builder = config::Config::builder();
        let mut sources = BTreeMap::new();
        if let Some(path) = &path {
            let source = config::File::from(path.as_path()).required(true);
            let shown = path.display().to_string();
            for key in source
                .collect()
                .context("cannot read the configuration")?
                .keys()
            {
                sources.insert(key.clone(), Origin::File(shown.clone()));
            }
            builder = builder.add_source(source);
        }
        let environment = config::Environment::with_prefix("BULTEN").try_parsing(true);
        for key in environment
            .collect()
            .context("cannot read the environment")?
            .keys()
        {
            sources.insert(key.clone(), Origin::Environment(env_name(key)));
        }
        let built = builder
            .add_source(environment)
            .build()
            .context("cannot read the configuration")?;
        let mut settings: Settings = built.try_deserialize().context("invalid configuration")?;
        settings.sources = sources;
        Ok(settings)
    }

    /// Every setting with its value in force and where it came from, as the settings page
    /// shows them: secrets as `****`, a database URL without its password.
    pub fn described(&self) -> Vec<(String, String, Origin)> {
        let Ok(serde_json::Value::Object(values)) = serde_json::to_value(self) else {
            return Vec::new();
        };
        values
            .into_iter()
            .map(|(key, value)| {
                let shown = match (key.as_str(), value) {
                    (_, serde_json::Value::Null) => String::new(),
                    ("database_url" | "captcha_verify_url", serde_json::Value::String(url)) => {
                        masked_url(&url)
                    }
                    (_, serde_json::Value::String(text)) => text,
                    (_, other) => other.to_string(),
                };
                let origin = self.sources.get(&key).cloned().unwrap_or(Origin::Default);
                (key, shown, origin)
            })
            .collect()
    }

    /// The publisher's settings as the configuration gives them, for `ops::publisher`.
    pub(crate) fn publisher_base(&self) -> crate::ops::publisher::Base {
        use crate::ops::publisher::FIELDS;
        let described: BTreeMap<String, (String, Origin)> = self
            .described()
            .into_iter()
            .map(|(key, value, origin)| (key, (value, origin)))
            .collect();
        let mut base = crate::ops::publisher::Base {
            captcha_verify_url: self.captcha_verify_url.clone(),
            ..Default::default()
        };
        for field in FIELDS {
            let (value, origin) = described
                .get(field.name)
                .cloned()
                .unwrap_or((String::new(), Origin::Default));
            let value = match field.name {
                // The one secret among them: its real value, which `described` masks.
                "captcha_secret" => self.captcha_secret.as_ref().map(|s| s.expose().to_owned()),
                _ => Some(value).filter(|v| !v.is_empty()),
            };
            base.values.insert(field.name, value);
            if origin != Origin::Default {
                base.fixed.insert(field.name, origin);
            }
        }
        base
    }

    /// The database URL to use: the configured one, or SQLite inside `data_dir`.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| crate::db::Db::sqlite_url_in(&self.data_dir))
    }

    /// The SQLite database file, when the database is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.database_url();
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// Every SMTP relay: the `[[smtp]]` tables, then the one from `smtp_host`.
    pub fn smtp_servers(&self) -> Vec<SmtpServerConfig> {
        let mut servers = self.smtp.clone();
        if let Some(host) = &self.smtp_host {
            let tls = self.smtp_tls.unwrap_or_default();
            servers.push(SmtpServerConfig {
                host: host.clone(),
                port: self.smtp_port.unwrap_or(match tls {
                    TlsMode::Tls => 465,
                    TlsMode::Starttls => 587,
                    TlsMode::None => 25,
                }),
                tls,
                username: self.smtp_user.clone(),
                password: self.smtp_password.clone(),
                ..SmtpServerConfig::default()
            });
        }
        servers
    }

    /// The host name of `root_url`: the name said in EHLO and the default sender's domain.
    pub fn public_host(&self) -> Option<String> {
        url::Url::parse(&self.root_url())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    }

    /// The default sender of transactional mail.
    pub fn from_email(&self) -> String {
        self.from_email.clone().unwrap_or_else(|| {
            let host = self
                .public_host()
                .filter(|h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err())
                .unwrap_or_else(|| "localhost.localdomain".into());
            format!("bulten <noreply@{host}>")
        })
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
pub const SAMPLE_CONFIG: &str = r##"# bulten configuration.
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

# ---- Sending ----------------------------------------------------------------------------
# With no SMTP relay configured, every message is kept in the database's outbox (GET
# /api/outbox) instead of being sent: a new installation shows real mail without a server.
#
# SMTP relays, one table each; messages are spread over all of them. For a single relay the
# environment is enough: BULTEN_SMTP_HOST, BULTEN_SMTP_PORT, BULTEN_SMTP_TLS (none, starttls
# or tls), BULTEN_SMTP_USER, BULTEN_SMTP_PASSWORD.
# [[smtp]]
# host = "smtp.example.com"
# port = 587
# tls = "starttls"            # "none", "starttls" or "tls" (implicit TLS, usually port 465)
# username = "bulten"
# password = "secret"
# pool_size = 10              # connections kept open: messages in flight to this relay
# [[smtp.domain_limit]]       # messages per second this relay may send to one domain
# domain = "hotmail.com"
# per_second = 20
# timeout_secs = 30
# max_messages_per_connection = 10000
# hello_name = "news.example.com"

# DKIM keys; each adds a signature to every message. RSA-2048 for every verifier, plus
# Ed25519 for the ones that know it. Keys are PKCS#8 PEM, inline or in a file.
# [[dkim]]
# domain = "news.example.com"
# selector = "rsa2026"
# algorithm = "rsa"           # "rsa" or "ed25519"
# private_key_file = "/etc/bulten/dkim-rsa.pem"

# The envelope sender of campaign mail. Each message gets bounces+TOKEN@… (VERP), so a
# bounce names its recipient. Use a subdomain of the From domain so SPF aligns.
# bounce_address = "bounces@bounce.news.example.com"

# Whether this node sends mail (on PostgreSQL any number of nodes may; on SQLite one).
sending = true

# Limits: messages per second over all relays, and per recipient domain over all relays.
# send_rate = 500
# [[domain_limit]]
# domain = "gmail.com"
# per_second = 50

# The delivery ledger: rows claimed at once, how long a claim holds before other nodes may
# take the rows, and the retry schedule for temporary failures (doubling from the base,
# with jitter, until the maximum age).
send_batch_size = 200
send_lease_secs = 60
retry_base_secs = 60
retry_max_age_secs = 259200

# The sender of transactional mail that names none.
# from_email = "News <noreply@news.example.com>"

# The last field of the Feedback-ID header (Gmail's feedback loop).
feedback_sender_id = "bulten"

# ---- Signup -------------------------------------------------------------------------------
# The self-hosted proof of work (ALTCHA) readers' browsers solve before signing up: PBKDF2
# iterations per attempt (about 256 attempts are needed), and how long a challenge is valid.
altcha_cost = 5000
altcha_valid_secs = 600

# Optionally a third-party check as well, verified by bulten's server; without an answer from
# the provider nobody signs up. "recaptcha", "hcaptcha" or "turnstile".
# captcha_provider = "hcaptcha"
# captcha_site_key = "..."
# captcha_secret = "..."
# captcha_verify_url = "https://api.hcaptcha.com/siteverify"
captcha_min_score = 0.5

# What readers agree to when they sign up; the versions are recorded with each consent.
# terms_url = "https://news.example.com/terms"
terms_version = "1"
# privacy_url = "https://news.example.com/privacy"
privacy_version = "1"
# The reader's IP in consent records: "store", "hash" (keyed) or "drop".
consent_ip = "hash"
# The sites whose pages embed the signup form; empty: any site (the form's endpoints take
# no credentials).
# embed_origins = ["https://news.example.com"]
# HTTP connections served at once (more wait until one closes), and the seconds a client
# has to send a request's header (slower or idle connections are closed).
http_max_connections = 4096
http_header_timeout_secs = 15
# Behind a reverse proxy, the header with the reader's address. Each proxy appends the
# address it saw, and a client can write anything before those: the reader's address is the
# entry client_ip_trusted_hops from the right (1: the one your own proxy added).
# client_ip_header = "X-Forwarded-For"
# client_ip_trusted_hops = 1
# Pages and mail are in English ("en") or Turkish ("tr"): the list's language if it has one,
# else the browser's, else this.
default_language = "en"

# Limits that keep the form from being used to flood anyone.
signup_per_ip_per_hour = 20
signup_per_second = 200
signup_attempts_per_address_per_hour = 5
confirmations_per_address_per_day = 3
confirmation_resend_secs = 300
confirmation_valid_secs = 172800
unconfirmed_expiry_secs = 604800

# The desk (/admin): how long a sign-in lasts, and when failed sign-ins lock an account or
# an address out. Repeated failures on an account also wait 1, 2, 4 … up to 60 seconds.
session_idle_minutes = 120
session_max_hours = 12
login_window_minutes = 15
login_lockout_per_account = 10
login_lockout_per_address = 50
# Admins must enrol an authenticator app (TOTP) before anything else on the desk.
admins_need_second_factor = false

# The publisher on pages and system mail.
brand_name = "bulten"
# brand_logo_url = "https://news.example.com/logo.png"
brand_color = "#0b5394"
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_config_parses_to_the_defaults() {
        // Every field, through `Debug`, so a setting added later is compared too. (Secrets
        // print as `****` either way, and the defaults have none.)
        let parsed = format!("{:#?}", toml_from_sample());
        let defaults = format!("{:#?}", Settings::default());
        for (line, (sample, default)) in parsed.lines().zip(defaults.lines()).enumerate() {
            assert_eq!(sample, default, "line {line} of the settings");
        }
        assert_eq!(parsed.lines().count(), defaults.lines().count());
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
    fn relays_keys_and_limits_read_from_tables() {
        let text = r#"
            send_rate = 500
            [[smtp]]
            host = "smtp.example.com"
            port = 465
            tls = "tls"
            username = "bulten"
            password = "relay-pass-8d1f"
            pool_size = 4
            [[smtp.domain_limit]]
            domain = "hotmail.com"
            per_second = 20
            [[domain_limit]]
            domain = "gmail.com"
            per_second = 50
            [[dkim]]
            domain = "news.example"
            selector = "ed2026"
            algorithm = "ed25519"
            private_key_file = "/etc/bulten/ed.pem"
        "#;
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        let servers = settings.smtp_servers();
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].tls, TlsMode::Tls);
        assert_eq!(servers[0].pool_size, 4);
        assert_eq!(servers[0].domain_limit[0].per_second, 20);
        assert_eq!(settings.domain_limit[0].domain, "gmail.com");
        assert_eq!(settings.dkim[0].selector, "ed2026");
        assert!(!format!("{settings:?}").contains("relay-pass-8d1f"));
    }

    #[test]
    fn one_relay_comes_from_the_environment_style_keys() {
        let settings = Settings {
            smtp_host: Some("relay.example".into()),
            smtp_tls: Some(TlsMode::Starttls),
            smtp_user: Some("u".into()),
            smtp_password: Some(Secret::new("p")),
            ..Settings::default()
        };
        let servers = settings.smtp_servers();
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].port, 587, "the submission port for STARTTLS");
    }

    #[test]
    fn urls_show_no_credentials() {
        assert_eq!(
            masked_url("postgres://bulten:s3cret@db.example/bulten?sslmode=require&password=p2"),
            "postgres://bulten:****@db.example/bulten?sslmode=****&password=****"
        );
        assert!(!masked_url("postgres://bulten:se#cret@db/bulten").contains("cret"));
        assert_eq!(masked_url("not a url with pass:word"), "****");
        let settings = Settings {
            database_url: Some("postgres://u:hunter22@h/d".into()),
            captcha_verify_url: Some("https://proxy.example/verify?token=t0ken".into()),
            ..Settings::default()
        };
        let shown = format!("{:?}", settings.described());
        assert!(
            !shown.contains("hunter22") && !shown.contains("t0ken"),
            "{shown}"
        );
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
