//! Delivery benchmark: a campaign of personalised ~8 KB messages into postfix's `smtp-sink`
//! on loopback, against `smtp-source` pushing the same number of messages of the same size
//! at the same concurrency into the same sink, in the same run.
//!
//! For each backend it imports N subscribers (default 100,000; `BENCH_RECIPIENTS`), then runs
//! `bulten serve` three times (DKIM off, Ed25519, RSA-2048), each time starting a campaign to
//! all of them and timing it from the start request to `finished`. It prints messages/s for
//! bulten and smtp-source, the ratio, bulten's peak memory, and how long the start request
//! took. Then (unless `BENCH_BIG=0`) it adds subscribers up to `BENCH_BIG` (default
//! 1,000,000), times starting a campaign to all of them and sends it, for the peak memory at
//! that size. Machines here are shared and noisy: read the ratios, not the absolute figures.
//!
//! Run: `cargo bench --bench delivery` (needs `smtp-sink`/`smtp-source` from postfix,
//! `openssl`, and for PostgreSQL `psql` and the server at `BULTEN_TEST_POSTGRES_URL`).
//! `BENCH_BACKEND=sqlite|postgres` runs one backend, `BENCH_CONCURRENCY` (default 10) sets
//! the connections of both senders.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{
    Server, bulten, drop_postgres_database, free_port, fresh_postgres_database, postgres_url, run,
};

mod support;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    support::install_crypto();
    let recipients = env_number("BENCH_RECIPIENTS", 100_000);
    let big = env_number("BENCH_BIG", 1_000_000);
    let concurrency = env_number("BENCH_CONCURRENCY", 10);
    let only = std::env::var("BENCH_BACKEND").ok();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let keys = Keys::generate(dir.path());
    let sink = Sink::start();
    println!(
        "delivery benchmark: {recipients} recipients, {concurrency} connections, smtp-sink on 127.0.0.1:{}",
        sink.port
    );
    for backend in ["sqlite", "postgres"] {
        if only.as_deref().is_some_and(|b| b != backend) {
            continue;
        }
        println!();
        println!("== {backend}");
        let db = Database::create(backend, dir.path());
        let list = db.add_list("bench");
        import(&db, dir.path(), list, 0, recipients);
        let size = runtime.block_on(calibrate(&db, dir.path(), list));
        println!("message size: {size} bytes (smtp-source sends the same)");
        println!(
            "{:<10} {:>14} {:>16} {:>7} {:>12} {:>10}",
            "dkim", "bulten msg/s", "smtp-source/s", "ratio", "peak memory", "start"
        );
        for variant in [Dkim::Off, Dkim::Ed25519, Dkim::Rsa] {
            let source_rate = sink.smtp_source(recipients, concurrency, size);
            let run = runtime.block_on(send_campaign(
                &db,
                dir.path(),
                &sink,
                &keys,
                variant,
                concurrency,
                list,
                recipients,
            ));
            let rate = recipients as f64 / run.send_secs;
            println!(
                "{:<10} {:>14.0} {:>16.0} {:>7.2} {:>9.1} MB {:>8.2} s",
                variant.name(),
                rate,
                source_rate,
                rate / source_rate,
                run.peak_mb,
                run.start_secs
            );
        }
        if big > recipients {
            let big_list = db.add_list("bench-big");
            import(&db, dir.path(), big_list, 0, big);
            let run = runtime.block_on(send_campaign(
                &db,
                dir.path(),
                &sink,
                &keys,
                Dkim::Off,
                concurrency,
                big_list,
                big,
            ));
            println!(
                "{big} recipients: started in {:.2} s, sent at {:.0} msg/s, peak memory {:.1} MB",
                run.start_secs,
                big as f64 / run.send_secs,
                run.peak_mb
            );
        }
        db.drop_database();
    }
}

#[derive(Clone, Copy)]
enum Dkim {
    Off,
    Ed25519,
    Rsa,
}

impl Dkim {
    fn name(self) -> &'static str {
        match self {
            Dkim::Off => "off",
            Dkim::Ed25519 => "ed25519",
            Dkim::Rsa => "rsa-2048",
        }
    }
}

struct Keys {
    rsa: PathBuf,
    ed: PathBuf,
}

impl Keys {
    fn generate(dir: &Path) -> Keys {
        let rsa = dir.join("rsa.pem");
        let ed = dir.join("ed.pem");
        run(Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&rsa));
        run(Command::new("openssl")
            .args(["genpkey", "-algorithm", "ED25519", "-out"])
            .arg(&ed));
        Keys { rsa, ed }
    }
}

struct Sink {
    port: u16,
    child: Child,
}

fn sbin(name: &str) -> String {
    for dir in ["/usr/sbin", "/usr/bin"] {
        let path = format!("{dir}/{name}");
        if Path::new(&path).exists() {
            return path;
        }
    }
    panic!("{name} (Debian package postfix) is needed")
}

impl Sink {
    fn start() -> Sink {
        let port = free_port();
        let mut command = Command::new(sbin("smtp-sink"));
        if run(Command::new("id").arg("-u")).trim() == "0" {
            command.args(["-u", "nobody"]);
        }
        let child = command
            .args([&format!("127.0.0.1:{port}"), "1024"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-sink starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink does not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sink { port, child }
    }

    /// smtp-source's rate into the sink: `count` messages of `size` bytes over `sessions`
    /// connections, each reused for many messages as bulten does.
    fn smtp_source(&self, count: usize, sessions: usize, size: usize) -> f64 {
        let started = Instant::now();
        run(Command::new(sbin("smtp-source")).args([
            "-d",
            "-s",
            &sessions.to_string(),
            "-m",
            &count.to_string(),
            "-l",
            &size.to_string(),
            "-f",
            "bulten@haber.example",
            "-t",
            "okur@haber.example",
            &format!("127.0.0.1:{}", self.port),
        ]));
        count as f64 / started.elapsed().as_secs_f64()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Database {
    backend: &'static str,
    args: Vec<String>,
    name: String,
}

impl Database {
    fn create(backend: &'static str, dir: &Path) -> Database {
        let name = format!("bench_delivery_{}", std::process::id());
        let args = if backend == "sqlite" {
            vec![
                "--data-dir".into(),
                dir.join("sqlite-data").display().to_string(),
            ]
        } else {
            fresh_postgres_database(&name);
            vec!["--database-url".into(), postgres_url(&name)]
        };
        run(bulten(&args).arg("migrate"));
        Database {
            backend,
            args,
            name,
        }
    }

    fn sql(&self, statement: &str) -> String {
        if self.backend == "sqlite" {
            let file = Path::new(&self.args[1]).join("bulten.db");
            run(Command::new("sqlite3").arg(file).arg(statement))
        } else {
            run(Command::new("psql")
                .arg(&self.args[1])
                .args(["-qAtc", statement]))
        }
    }

    fn add_list(&self, name: &str) -> i64 {
        let uuid = if self.backend == "sqlite" {
            "randomblob(16)"
        } else {
            "gen_random_uuid()"
        };
        let now = if self.backend == "sqlite" {
            "'2026-01-01T00:00:00.000000Z'"
        } else {
            "now()"
        };
        self.sql(&format!(
            "INSERT INTO lists (uuid, name, type, optin, created_at, updated_at) \
             VALUES ({uuid}, '{name}', 'public', 'single', {now}, {now}) RETURNING id"
        ))
        .trim()
        .parse()
        .expect("a list ID")
    }

    fn drop_database(&self) {
        if self.backend == "postgres" {
            drop_postgres_database(&self.name);
        }
    }
}

/// Subscribes `count` generated readers (numbered from `first`) to `list`.
fn import(db: &Database, dir: &Path, list: i64, first: usize, count: usize) {
    let cities = [
        "İstanbul",
        "Ankara",
        "İzmir",
        "Van",
        "Trabzon",
        "Diyarbakır",
    ];
    let csv = dir.join(format!("audience-{list}.csv"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(out, "email,name,attributes").unwrap();
    for n in first..first + count {
        let city = cities[n % cities.len()];
        writeln!(
            out,
            "okur{n}@haber{}.example,Okur {n},\"{{\"\"city\"\": \"\"{city}\"\"}}\"",
            n % 97
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    run(bulten(&db.args)
        .args(["subscribers", "import"])
        .arg(&csv)
        .args(["--list", &list.to_string()]));
}

/// A news issue of about 8 KB once rendered, personalised in several places.
fn issue_body() -> String {
    let mut body = String::from(
        "# Günün özeti\n\nGünaydın **{{ subscriber.name }}**, {{ subscriber.attribs.city }} için bugünün haberleri:\n\n",
    );
    for n in 1..=6 {
        body.push_str(&format!(
            "## Haber {n}: Türkiye, bölge ve dünyadan\n\nBölgede bugün yaşanan gelişmeler, uzmanların değerlendirmeleri ve \
             yarın beklenenler. Ayrıntılar haberin kaynağında; {{{{ subscriber.attribs.city }}}} okurları için ek notlar da var.\n\n\
             [Kaynağında oku](https://haber.example/2026/11/28/haber-{n}?utm_source=bulten)\n\n"
        ));
    }
    body
}

/// `bulten serve` for a run: its relay (the sink, with `connections` connections) and its
/// DKIM key, if any.
fn start_server(
    db: &Database,
    dir: &Path,
    smtp: Option<(&Sink, usize)>,
    dkim: Option<(&str, &Path)>,
) -> Server {
    let mut toml = "send_batch_size = 500\n".to_owned();
    if let Some((sink, connections)) = smtp {
        toml.push_str(&format!(
            "[[smtp]]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\npool_size = {connections}\n",
            sink.port
        ));
    }
    if let Some((algorithm, key)) = dkim {
        toml.push_str(&format!(
            "[[dkim]]\ndomain = \"haber.example\"\nselector = \"bench\"\nalgorithm = \"{algorithm}\"\nprivate_key_file = \"{}\"\n",
            key.display()
        ));
    }
    Server::start(&db.args, dir, &toml)
}

async fn create_campaign(server: &Server, list: i64) -> i64 {
    let created = server
        .call(
            reqwest::Method::POST,
            "/api/campaigns",
            Some(json!({
                "name": "bench", "subject": "{{ subscriber.name }}, günün özeti", "lists": [list],
                "from_email": "Haber Merkezi <bulten@haber.example>", "content_type": "markdown",
                "body": issue_body(),
            })),
        )
        .await;
    created["data"]["id"].as_i64().expect("a campaign ID")
}

/// The size of one finished message, read from the outbox.
async fn calibrate(db: &Database, dir: &Path, list: i64) -> usize {
    let server = start_server(db, dir, None, None);
    let id = create_campaign(&server, list).await;
    server
        .call(
            reqwest::Method::POST,
            &format!("/api/campaigns/{id}/test"),
            Some(json!({"subscribers": ["okur1@haber1.example"]})),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let size = loop {
        let page = server.call(reqwest::Method::GET, "/api/outbox", None).await;
        if let Some(first) = page["data"]["results"].as_array().and_then(|r| r.first()) {
            let message = server
                .call(
                    reqwest::Method::GET,
                    &format!("/api/outbox/{}", first["id"]),
                    None,
                )
                .await;
            break message["data"]["raw"].as_str().map_or(0, str::len);
        }
        assert!(Instant::now() < deadline, "the test message did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    server
        .call(
            reqwest::Method::DELETE,
            &format!("/api/campaigns/{id}"),
            None,
        )
        .await;
    server.stop();
    size
}

struct Run {
    start_secs: f64,
    send_secs: f64,
    peak_mb: f64,
}

#[allow(clippy::too_many_arguments)]
async fn send_campaign(
    db: &Database,
    dir: &Path,
    sink: &Sink,
    keys: &Keys,
    dkim: Dkim,
    concurrency: usize,
    list: i64,
    expected: usize,
) -> Run {
    let key = match dkim {
        Dkim::Off => None,
        Dkim::Ed25519 => Some(("ed25519", keys.ed.as_path())),
        Dkim::Rsa => Some(("rsa", keys.rsa.as_path())),
    };
    let server = start_server(db, dir, Some((sink, concurrency)), key);
    let id = create_campaign(&server, list).await;
    let started = Instant::now();
    let running = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/campaigns/{id}/status"),
            Some(json!({"status": "running"})),
        )
        .await;
    let start_secs = started.elapsed().as_secs_f64();
    assert_eq!(
        running["data"]["to_send"].as_u64(),
        Some(expected as u64),
        "{running}"
    );
    loop {
        let campaign = server
            .call(reqwest::Method::GET, &format!("/api/campaigns/{id}"), None)
            .await;
        if campaign["data"]["status"] == "finished" {
            assert_eq!(
                campaign["data"]["sent"].as_u64(),
                Some(expected as u64),
                "{campaign}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let send_secs = started.elapsed().as_secs_f64();
    let peak_mb = server.peak_mb();
    server.stop();
    Run {
        start_secs,
        send_secs,
        peak_mb,
    }
}
