//! Building and running the server: `App::build` does everything that can fail before the
//! first request (database, migrations, first admin, listening socket); `run_until_stopped`
//! serves until the shutdown signal and then drains in-flight requests. This is where the
//! settings end: each layer gets the plain struct it consumes, built here from `Settings`
//! (`MailKit`, `ReaderPolicy`, `EngineSettings`).

use std::future::Future;

use anyhow::Context as _;
use tokio::net::TcpListener;

use std::sync::Arc;

use crate::config::Settings;
use crate::db::{Db, imports, secrets};
use crate::delivery::{Engine, EngineSettings, Kick};
use crate::mail::dkim::Dkim;
use crate::mail::seal::Sealer;
use crate::mail::tokens::Signer;
use crate::ops::captcha::Difficulty;
use crate::ops::compose::MailKit;
use crate::ops::publisher::Live;
use crate::ops::reader::{ReaderPolicy, Readers};
use crate::ops::sessions::SignInPolicy;
use crate::ops::users::{FirstAdmin, Password, ensure_first_admin};
use crate::render::views::{Brand, Views};
use crate::web::{
    self,
    state::{AppState, WebSettings},
};

#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    state: AppState,
    /// What the server itself reads (sending, HTTP limits); each layer has its own part.
    settings: Settings,
    /// The admin created on this start, if this was the first.
    pub(crate) first_admin: Option<FirstAdmin>,
}

/// Connects to the configured database (creating the data directory for SQLite) and brings
/// its schema up to date.
///
/// # Errors
/// When the directory, the connection or a migration fails.
pub(crate) async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    if settings.database_url.is_none() {
        private_dir(&settings.data_dir)?;
    }
    if let Some(path) = settings.sqlite_path() {
        private_database_file(&path)?;
    }
    let db = Db::connect(&settings.database_url()).await?;
    db.migrate().await?;
    Ok(db)
}

/// Creates `dir` (and its parents) if it does not exist, readable by this user only: it
/// holds the database, whose `secrets` table has the key that signs every reader's links,
/// and uploaded subscriber files. A directory that exists keeps its mode: the operator may
/// have pointed bulten at a folder that others must read.
///
/// # Errors
/// When the directory cannot be created or its mode set.
pub(crate) fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    set_mode(dir, 0o700)
}

/// Makes the SQLite database readable by its owner only: creates the file so (SQLite takes
/// an empty file as a new database, and gives its WAL and shared-memory files the
/// database's mode), and narrows the mode of files an older version left open.
fn private_database_file(path: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the directory {}", parent.display()))?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if file.exists() {
                set_mode(&file, 0o600)?;
            }
        }
    }
    Ok(())
}

fn set_mode(path: &std::path::Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot restrict the access to {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Open files kept for everything but client connections: the database pool, SMTP
/// connections, uploads, logs.
const FILES_FOR_THE_REST: u64 = 256;

/// `wanted` connections, or fewer if the process may not open that many files: raises the
/// soft limit to the hard one first (often 1,024 against 1,048,576), since running out of file
/// descriptors stops the server from accepting anyone, where a bound only makes them wait.
fn connection_bound(wanted: usize) -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => {
            let room =
                usize::try_from(files.saturating_sub(FILES_FOR_THE_REST)).unwrap_or(usize::MAX);
            if room < wanted {
                tracing::warn!(
                    wanted,
                    allowed = room,
                    "the open-file limit allows fewer HTTP connections than http_max_connections"
                );
            }
            wanted.min(room).max(1)
        }
        Err(err) => {
            tracing::warn!(error = %crate::telemetry::chain(&err), "cannot read the open-file limit");
            wanted
        }
    }
}

/// Removes subscriber files uploaded for imports that never ran to their end (a server
/// killed mid-import leaves its upload behind).
fn sweep_uploads(data_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(data_dir.join(crate::ops::imports::UPLOAD_DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("import-")
            && std::fs::remove_file(entry.path()).is_ok()
        {
            tracing::info!(file = %entry.path().display(), "removed an upload left by an earlier stop");
        }
    }
}

impl App {
    /// # Errors
    /// When the database cannot be opened or migrated, or the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let db = open_database(&settings).await?;
        sweep_uploads(&settings.data_dir);
        let abandoned = imports::fail_abandoned_runs(&db).await?;
        if abandoned > 0 {
            tracing::warn!(
                abandoned,
                "imports interrupted by an earlier stop were marked failed"
            );
        }
        let password = match &settings.admin_password {
            Some(secret) => Some(Password::parse(secret.expose().to_owned())?),
            None => None,
        };
        let first_admin = ensure_first_admin(&db, settings.admin_user.as_deref(), password).await?;
        crate::ops::templates::ensure_defaults(&db).await?;
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let mut settings = settings;
        if settings.root_url.is_none() {
            // Links must name the port actually bound (`listen` may ask for any, with :0).
            settings.root_url = Some(format!("http://{}", listener.local_addr()?));
        }
        let kit = Arc::new(kit(&db, &settings).await?);
        let brand = Brand::new(
            &settings.brand_name,
            settings.brand_logo_url.as_deref(),
            &settings.brand_color,
        )?;
        let live = Arc::new(Live::new(
            settings.publisher_base(),
            Arc::new(Views::new(brand)),
        )?);
        // What the desk changed applies from the first request.
        live.refresh(&db).await?;
        let readers = Arc::new(Readers::new(
            db.clone(),
            kit.clone(),
            live,
            reader_policy(&settings),
        )?);
        Ok(App {
            listener,
            state: AppState::new(db, web_settings(&settings), kit, Kick::default(), readers),
            settings,
            first_admin,
        })
    }

    /// The base URL the server answers on.
    pub fn url(&self) -> String {
        let addr = self
            .listener
            .local_addr()
            .expect("a bound listener has an address");
        format!("http://{addr}")
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let db = self.state.db.clone();
        let engine = if self.settings.sending {
            Some(
                Engine::start(
                    db.clone(),
                    &engine_settings(&self.settings),
                    self.state.kit.clone(),
                    self.state.kick.clone(),
                )
                .await?,
            )
        } else {
            None
        };
        let fold = tokio::spawn(crate::ops::dashboard::fold_counts(db.clone()));
        let follow = tokio::spawn(crate::ops::publisher::follow(
            self.state.readers.live().clone(),
            db.clone(),
        ));
        let expiry = tokio::spawn(expire_signups(
            self.state.readers.clone(),
            db.clone(),
            self.state.settings.sign_in.clone(),
        ));
        let limits = web::serve::Limits {
            max_connections: connection_bound(self.settings.http_max_connections),
            header_timeout: std::time::Duration::from_secs(
                self.settings.http_header_timeout_secs.max(1),
            ),
        };
        web::serve::serve(self.listener, web::router(self.state), limits, shutdown).await;
        // Finish the messages in flight and give back the claimed rest before closing.
        expiry.abort();
        follow.abort();
        fold.abort();
        if let Some(engine) = engine {
            engine.stop().await;
        }
        db.close().await;
        Ok(())
    }
}

/// The keys and addresses every message needs: the signing key shared by all nodes (made
/// on the first start), the DKIM keys, the public URL.
///
/// # Errors
/// When a DKIM key is unusable or the database fails.
pub(crate) async fn kit(db: &Db, settings: &Settings) -> anyhow::Result<MailKit> {
    // TLS to SMTP relays uses ring; install it as the process default once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let key = secrets::get_or_create(db, "signing_key", Signer::generate_key).await?;
    Ok(MailKit::new(
        Signer::new(key.into_bytes()),
        &settings.root_url(),
        Sealer {
            dkim: Dkim::from_config(&settings.dkim)?,
            bounce_address: settings.bounce_address.clone(),
        },
        settings.feedback_sender_id.clone(),
    ))
}

/// What the web layer takes from the settings.
fn web_settings(settings: &Settings) -> WebSettings {
    WebSettings {
        root_url: settings.root_url(),
        from_email: settings.from_email(),
        client_ip_header: settings.client_ip_header.clone(),
        client_ip_trusted_hops: settings.client_ip_trusted_hops,
        embed_origins: settings.embed_origins.clone(),
        max_body_bytes: settings.max_body_bytes,
        max_upload_bytes: settings.max_upload_bytes,
        upload_dir: settings.data_dir.join(crate::ops::imports::UPLOAD_DIR),
        import_batch_size: settings.import_batch_size,
        sign_in: sign_in_policy(settings),
        configuration: settings.described(),
        relays: settings.smtp_servers(),
        hello: hello_name(settings),
        dkim: settings.dkim.clone(),
        from_email_domain: settings
            .from_email()
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_owned())
            .unwrap_or_default(),
        bounce_address: settings.bounce_address.clone(),
    }
}

/// The desk's sign-in rules, from the settings.
fn sign_in_policy(settings: &Settings) -> SignInPolicy {
    let minutes = |n: u64| std::time::Duration::from_secs(n.saturating_mul(60).min(u64::MAX / 4));
    SignInPolicy {
        idle: minutes(settings.session_idle_minutes.max(1)),
        absolute: minutes(settings.session_max_hours.max(1).saturating_mul(60)),
        window: minutes(settings.login_window_minutes.max(1)),
        account_lockout: i64::from(settings.login_lockout_per_account.max(1)),
        address_lockout: i64::from(settings.login_lockout_per_address.max(1)),
        admins_need_second_factor: settings.admins_need_second_factor,
    }
}

/// The name said in EHLO: the host name of `root_url`.
fn hello_name(settings: &Settings) -> String {
    settings.public_host().unwrap_or_else(|| "localhost".into())
}

/// The rules of the reader's side that only the configuration sets.
fn reader_policy(settings: &Settings) -> ReaderPolicy {
    // Halved, so a deadline (now + secs) cannot overflow whatever the setting says.
    let secs = |n: u64| i64::try_from(n).unwrap_or(i64::MAX).min(i64::MAX / 2);
    ReaderPolicy {
        altcha: Difficulty {
            cost: settings.altcha_cost,
            valid_secs: secs(settings.altcha_valid_secs),
        },
        ip: settings.consent_ip,
        resend_secs: secs(settings.confirmation_resend_secs),
        confirm_valid_secs: secs(settings.confirmation_valid_secs),
        expiry_secs: secs(settings.unconfirmed_expiry_secs),
        from: settings.from_email(),
    }
}

/// What the delivery engine takes from the settings.
fn engine_settings(settings: &Settings) -> EngineSettings {
    use std::time::Duration;
    EngineSettings {
        sqlite_path: settings.sqlite_path(),
        batch_size: settings.send_batch_size,
        lease: Duration::from_secs(settings.send_lease_secs),
        retry_base: Duration::from_secs(settings.retry_base_secs),
        retry_max_age: Duration::from_secs(settings.retry_max_age_secs),
        relays: settings.smtp_servers(),
        hello: hello_name(settings),
        send_rate: settings.send_rate,
        domain_limits: settings.domain_limit.clone(),
        memory: None,
    }
}

/// Removes unconfirmed signups past their expiry, at the start and every ten minutes.
async fn expire_signups(readers: Arc<Readers>, db: Db, sign_in: SignInPolicy) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if let Err(err) = readers.expire(crate::domain::Timestamp::now()).await {
            tracing::warn!(
                error = %crate::telemetry::chain(&err),
                "expiring unconfirmed signups failed"
            );
        }
        if let Err(err) = crate::ops::sessions::sweep(&db, &sign_in).await {
            tracing::warn!(
                error = %crate::telemetry::chain(&err),
                "dropping ended desk sessions failed"
            );
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
