//! What the benchmarks (import, export, delivery, signup) share: running commands and the
//! bulten binary, scratch PostgreSQL databases, generated readers and their CSV files, and
//! sizes read from the environment.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_bulten");

/// Runs `command`, fails loudly on error, returns stdout and the wall time in seconds.
pub(crate) fn timed(command: &mut Command) -> (String, f64) {
    let started = Instant::now();
    let output = command.output().expect("the command runs");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (String::from_utf8_lossy(&output.stdout).into_owned(), secs)
}

/// Runs `command`, fails loudly on error, returns stdout.
#[allow(dead_code)]
pub(crate) fn run(command: &mut Command) -> String {
    timed(command).0
}

/// The bulten binary against the database that `db_args` name, logging warnings only.
pub(crate) fn bulten(db_args: &[String]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(db_args)
        .env("RUST_LOG", "warn")
        .env_remove("BULTEN_CONFIG");
    command
}

/// A number from the environment, or `default`.
#[allow(dead_code)]
pub(crate) fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `BENCH_ROWS` (default 1,000,000) generated readers as a CSV file in `dir`.
#[allow(dead_code)]
pub(crate) fn readers_file(dir: &Path) -> (std::path::PathBuf, usize) {
    let rows = env_number("BENCH_ROWS", 1_000_000);
    let csv = dir.join("subscribers.csv");
    generate_subscribers(&csv, rows);
    (csv, rows)
}

/// Writes `rows` subscribers as listmonk's CSV (`email,name,attributes`), with Turkish
/// city names and a number in the attributes.
#[allow(dead_code)]
pub(crate) fn generate_subscribers(path: &Path, rows: usize) {
    use std::io::Write as _;
    let cities = [
        "İstanbul",
        "Ankara",
        "İzmir",
        "Van",
        "Trabzon",
        "Diyarbakır",
        "Antalya",
        "Bursa",
    ];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("the CSV file"));
    writeln!(out, "email,name,attributes").unwrap();
    for n in 0..rows {
        let city = cities[n % cities.len()];
        writeln!(
            out,
            "okur{n}@haber{}.example,Okur {n},\"{{\"\"city\"\": \"\"{city}\"\", \"\"n\"\": {n}}}\"",
            n % 97
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// Imports `csv` onto list 1 with the CLI; checks that all `rows` arrived and returns the
/// CLI's output and the wall time in seconds.
#[allow(dead_code)]
pub(crate) fn import_csv(db_args: &[String], csv: &Path, rows: usize) -> (String, f64) {
    let (out, secs) = timed(
        bulten(db_args)
            .args(["subscribers", "import"])
            .arg(csv)
            .args(["--list", "1"]),
    );
    assert!(
        out.contains(&format!("{rows} rows imported, 0 refused")),
        "unexpected import output: {out}"
    );
    (out, secs)
}

/// The PostgreSQL server the benchmarks create their databases on.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("BULTEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on that server.
pub(crate) fn postgres_url(name: &str) -> String {
    let mut url = url::Url::parse(&postgres_admin_url()).expect("a PostgreSQL URL");
    url.set_path(name);
    url.to_string()
}

/// Drops database `name` if it exists.
pub(crate) fn drop_postgres_database(name: &str) {
    timed(Command::new("psql").arg(postgres_admin_url()).args([
        "-qc",
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    ]));
}

/// An empty database `name`, dropped first if it exists.
pub(crate) fn fresh_postgres_database(name: &str) {
    drop_postgres_database(name);
    timed(
        Command::new("psql")
            .arg(postgres_admin_url())
            .args(["-qc", &format!("CREATE DATABASE {name}")]),
    );
}

/// A migrated, empty database for `backend`: SQLite in `dir/data`, or a fresh PostgreSQL
/// database named `{prefix}_{pid}`. Returns the CLI arguments naming it and the name.
#[allow(dead_code)]
pub(crate) fn migrated_database(backend: &str, prefix: &str, dir: &Path) -> (Vec<String>, String) {
    let name = format!("{prefix}_{}", std::process::id());
    let args = if backend == "sqlite" {
        vec![
            "--data-dir".to_owned(),
            dir.join("data").display().to_string(),
        ]
    } else {
        fresh_postgres_database(&name);
        vec!["--database-url".to_owned(), postgres_url(&name)]
    };
    run(bulten(&args).arg("migrate"));
    (args, name)
}

/// reqwest is built without a default TLS crypto provider (bulten installs ring at start);
/// a benchmark's own HTTP clients need it installed too.
#[allow(dead_code)]
pub(crate) fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A port nothing listens on right now.
#[allow(dead_code)]
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `bulten serve` with an API user of its own.
#[allow(dead_code)]
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    pub(crate) token: String,
}

#[allow(dead_code)]
impl Server {
    /// Starts `bulten serve` on the database `db_args` name, on a free port, with `config`
    /// (TOML) added to its configuration file in `dir`, and waits until it listens.
    pub(crate) fn start(db_args: &[String], dir: &Path, config: &str) -> Server {
        let port = free_port();
        let file = dir.join("bench.toml");
        std::fs::write(&file, format!("listen = \"127.0.0.1:{port}\"\n{config}")).unwrap();
        let token = run(bulten(db_args).args(["api-user", "add", &format!("bench{port}")]))
            .trim()
            .to_owned();
        let child = bulten(db_args)
            .arg("--config")
            .arg(&file)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bulten serve starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "bulten serve does not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            token,
        }
    }

    /// The server's peak resident memory so far, in MB.
    pub(crate) fn peak_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// An API call with the server's token; fails loudly on an error status.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let client = reqwest::Client::new();
        let mut request = client
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", format!("token {}", self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the request is sent");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it.
    pub(crate) fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    /// A run that fails midway leaves no server behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
