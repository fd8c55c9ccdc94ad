//! The command line: parse, load settings, then call `app` or one `ops` function.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::{self, App};
use crate::config::{DEFAULT_CONFIG_FILE, SAMPLE_CONFIG, Settings};
use crate::domain::SubscriptionStatus;
use crate::ops::imports::ImportMode;
use crate::ops::imports::{ImportOptions, Progress, export_csv, import_file};
use crate::ops::users::{self, Password, Role};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "bulten",
    version,
    about = "Newsletters and mailing lists for news publishers"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// A TOML configuration file (default: ./bulten.toml when present).
    #[arg(long, global = true, env = "BULTEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the SQLite database and uploads live (default: ./bulten-data).
    #[arg(long, global = true, env = "BULTEN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://FILE or postgres://USER@HOST/DB (default: SQLite in the data directory).
    #[arg(
        long,
        global = true,
        env = "BULTEN_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (API, pages) and the background work.
    Serve {
        /// The address to listen on (default: 127.0.0.1:9000).
        #[arg(long, env = "BULTEN_LISTEN")]
        listen: Option<String>,
    },
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Manage API users (tokens for scripts and listmonk clients).
    #[command(name = "api-user", subcommand)]
    ApiUser(ApiUserCommand),
    /// Manage users who log in with a password.
    #[command(subcommand)]
    User(UserCommand),
    /// Import or export subscribers as CSV.
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// Configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ApiUserCommand {
    /// Create an API user and print NAME:TOKEN once; only a hash of the token is stored.
    Add {
        name: String,
        #[arg(long, value_enum, default_value = "admin")]
        role: Role,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is asked for, or read from standard input when piped.
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: Role,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Subscribe,
    Blocklist,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Unconfirmed,
    Confirmed,
}

#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Import a CSV file (listmonk's email,name,attributes, Mailchimp's export, or ours).
    Import {
        file: PathBuf,
        /// A list to subscribe the rows to; repeat for several.
        #[arg(long = "list", required_if_eq("mode", "subscribe"))]
        lists: Vec<i64>,
        #[arg(long, value_enum, default_value = "subscribe")]
        mode: ModeArg,
        /// Update the name and attributes of subscribers that already exist.
        #[arg(long)]
        overwrite: bool,
        /// The field delimiter: one character, or \t for a tab (default: detected from the
        /// first line).
        #[arg(long)]
        delimiter: Option<String>,
        /// The status of new subscriptions (default: confirmed on single opt-in lists,
        /// unconfirmed on double opt-in ones).
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
    },
    /// Write subscribers as CSV to standard output, in the format import reads.
    Export {
        /// Only this list's subscribers.
        #[arg(long = "list")]
        list: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented sample configuration (to --config, or ./bulten.toml).
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever the command failed on, with its causes.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Config(ConfigCommand::Init { force }) = &cli.command {
        return write_sample_config(cli.global.config.clone(), *force);
    }
    let mut settings = Settings::load(cli.global.config.as_deref())?;
    if let Some(dir) = cli.global.data_dir {
        settings.data_dir = dir;
        given_by_flag(&mut settings, "data_dir", "--data-dir");
    }
    if let Some(url) = cli.global.database_url {
        settings.database_url = Some(url);
        given_by_flag(&mut settings, "database_url", "--database-url");
    }
    telemetry::init(settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_command(cli.command, settings))
}

/// Records that a flag set `key`, unless its value came from the flag's environment
/// variable, which `Settings::load` has recorded already.
fn given_by_flag(settings: &mut Settings, key: &str, flag: &str) {
    let from_environment = matches!(
        settings.sources.get(key),
        Some(crate::config::Origin::Environment(_))
    );
    if !from_environment {
        settings
            .sources
            .insert(key.to_owned(), crate::config::Origin::Flag(flag.to_owned()));
    }
}

async fn run_command(command: Command, mut settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                settings.listen = listen;
                given_by_flag(&mut settings, "listen", "--listen");
            }
            serve(settings).await
        }
        Command::Migrate => {
            app::open_database(&settings).await?;
            println!("the database schema is up to date");
            Ok(())
        }
        Command::ApiUser(ApiUserCommand::Add { name, role }) => {
            let db = app::open_database(&settings).await?;
            let (_, token) = users::create_api_user(
                &db,
                &crate::ops::access::Caller::cli(),
                &name,
                role,
                crate::ops::access::Lists::All,
            )
            .await?;
            println!("{name}:{token}");
            eprintln!("Store this token now: it is shown only once.");
            Ok(())
        }
        Command::User(UserCommand::Add { name, role }) => {
            let password = Password::parse(read_password()?)?;
            let db = app::open_database(&settings).await?;
            users::create_user(
                &db,
                &crate::ops::access::Caller::cli(),
                &name,
                &password,
                role,
            )
            .await?;
            println!("user {name} created with role {}", role.as_str());
            Ok(())
        }
        Command::Subscribers(SubscribersCommand::Import {
            file,
            lists,
            mode,
            overwrite,
            delimiter,
            status,
        }) => {
            let delimiter =
                crate::ops::imports::parse_delimiter(delimiter.as_deref().unwrap_or(""))?;
            let options = ImportOptions {
                mode: match mode {
                    ModeArg::Subscribe => ImportMode::Subscribe,
                    ModeArg::Blocklist => ImportMode::Blocklist,
                },
                list_ids: lists,
                overwrite,
                delimiter,
                subscription_status: status.map(|s| match s {
                    StatusArg::Unconfirmed => SubscriptionStatus::Unconfirmed,
                    StatusArg::Confirmed => SubscriptionStatus::Confirmed,
                }),
                batch_size: settings.import_batch_size,
            };
            let db = app::open_database(&settings).await?;
            let name = file
                .file_name()
                .map_or_else(|| "import".into(), |n| n.to_string_lossy().into_owned());
            let progress = CliProgress::new();
            let summary = import_file(&db, &file, &name, &options, &progress).await?;
            progress.finish();
            let secs = summary.elapsed.as_secs_f64().max(1e-9);
            println!(
                "{}: {} rows imported, {} refused, in {:.1} s ({:.0} rows/s){}",
                summary.status,
                summary.imported,
                summary.failed,
                secs,
                (summary.imported + summary.failed) as f64 / secs,
                telemetry::peak_memory_bytes()
                    .map(|b| format!(", peak memory {:.1} MB", b as f64 / 1e6))
                    .unwrap_or_default()
            );
            if summary.failed > 0 {
                let logs = crate::ops::imports::refusals(&db, summary.run_id).await?;
                for e in logs.iter().take(20) {
                    eprintln!("line {}: {}", e.line, e.reason);
                }
                if logs.len() > 20 {
                    eprintln!(
                        "… and {} more (GET /api/import/subscribers/logs)",
                        logs.len() - 20
                    );
                }
            }
            Ok(())
        }
        Command::Subscribers(SubscribersCommand::Export { list }) => {
            let db = app::open_database(&settings).await?;
            let stdout = std::io::stdout();
            let written = export_csv(&db, list, std::io::BufWriter::new(stdout.lock())).await?;
            eprintln!("{written} subscribers exported");
            Ok(())
        }
        Command::Config(_) => unreachable!("handled before settings are loaded"),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = App::build(settings).await?;
    let url = app.url();
    println!("bulten is running at {url}");
    println!("Sign in to the desk at {url}/admin/login");
    if let Some(admin) = &app.first_admin {
        match &admin.generated_password {
            Some(password) => println!(
                "First start: an admin account was created.\n  user:     {}\n  password: {}\n\
                 This password is shown only once; keep it now.",
                admin.username,
                password.expose()
            ),
            None => println!(
                "First start: the admin account {} was created.",
                admin.username
            ),
        }
    }
    println!(
        "API: {url}/api (create a token with `bulten api-user add NAME`, then send \
         `Authorization: token NAME:TOKEN`). Stop with Ctrl-C."
    );
    app.run_until_stopped(app::shutdown_signal()).await
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        anyhow::ensure!(first == again, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn write_sample_config(path: Option<PathBuf>, force: bool) -> anyhow::Result<()> {
    let path = path.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    if path.exists() && !force {
        anyhow::bail!("{} exists; use --force to replace it", path.display());
    }
    let mut file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(SAMPLE_CONFIG.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Import progress: a bar with rows, rate and ETA on a terminal, a plain line every few
/// seconds otherwise.
struct CliProgress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    last_line: Mutex<Instant>,
}

impl CliProgress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {percent:>3}% {msg} [{elapsed_precise}, ETA {eta}]",
                )
                .expect("a valid template"),
            );
            bar
        });
        Self {
            bar,
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for CliProgress {
    fn advance(&self, bytes: u64, total_bytes: u64, rows: u64, failed: u64) {
        let rate = (rows + failed) as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        match &self.bar {
            Some(bar) => {
                bar.set_length(total_bytes);
                bar.set_position(bytes);
                bar.set_message(format!("{rows} rows, {failed} refused, {rate:.0} rows/s"));
            }
            None => {
                let mut last = self.last_line.lock().expect("progress lock");
                if last.elapsed() >= Duration::from_secs(2) {
                    *last = Instant::now();
                    let percent = (bytes * 100).checked_div(total_bytes).unwrap_or(0);
                    eprintln!(
                        "import: {percent}% — {rows} rows, {failed} refused, {rate:.0} rows/s"
                    );
                }
            }
        }
    }
}
