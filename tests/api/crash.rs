//! Crash safety: a campaign's sending node is killed with SIGKILL at random moments and
//! restarted; in the end every recipient has a copy at the SMTP sink, and the only duplicates
//! are messages the sink had accepted but the ledger had not yet recorded at a kill (the
//! messages in flight). Then the same with three nodes on one PostgreSQL, one of them killed
//! mid-campaign: the others take over its leased rows when the lease runs out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulten::db::Db;
use serde_json::json;

use crate::helpers::postgres_admin_url;
use crate::sink::SmtpSink;

const BIN: &str = env!("CARGO_BIN_EXE_bulten");

/// A `bulten serve` process.
struct Node {
    child: Child,
    url: String,
}

struct Setup {
    db_args: Vec<String>,
    database_url: String,
    dir: tempfile::TempDir,
    pg_database: Option<String>,
}

impl Setup {
    async fn new(postgres: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (db_args, database_url, pg_database) = if postgres {
            let name = format!("bulten_crash_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&postgres_admin_url())
                .await
                .expect("PostgreSQL");
            let Db::Postgres(pool) = &admin else {
                unreachable!()
            };
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(pool)
                .await
                .unwrap();
            admin.close().await;
            let mut url = url::Url::parse(&postgres_admin_url()).unwrap();
            url.set_path(&name);
            (
                vec!["--database-url".to_owned(), url.to_string()],
                url.to_string(),
                Some(name),
            )
        } else {
            let data = dir.path().join("data");
            let url = format!("sqlite://{}", data.join("bulten.db").display());
            (
                vec!["--data-dir".to_owned(), data.display().to_string()],
                url,
                None,
            )
        };
        Setup {
            db_args,
            database_url,
            dir,
            pg_database,
        }
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(BIN)
            .args(&self.db_args)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn config(&self, name: &str, sink: &SmtpSink, extra: &str) -> PathBuf {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:{port}\"\nsend_batch_size = 50\nretry_base_secs = 1\n{extra}\n\
                 [[smtp]]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\npool_size = 4\nhello_name = \"{name}\"\n",
                sink.port
            ),
        )
        .unwrap();
        path
    }

    async fn start(&self, config: &Path) -> Node {
        self.start_with_env(config, &[]).await
    }

    async fn start_with_env(&self, config: &Path, env: &[(&str, String)]) -> Node {
        let text = std::fs::read_to_string(config).unwrap();
        let listen = text
            .lines()
            .next()
            .unwrap()
            .split('"')
            .nth(1)
            .unwrap()
            .to_owned();
        let mut child = Command::new(BIN)
            .args(&self.db_args)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .env("BULTEN_ADMIN_PASSWORD", "crash-test-admin")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(&listen).await.is_err() {
            assert!(Instant::now() < deadline, "bulten serve did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The port was free when the configuration was written; another test's server may
        // have taken it since, and then this node exits instead of serving. Say so rather
        // than test a stranger.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "bulten serve exited at start (its port was taken meanwhile?)"
        );
        Node {
            child,
            url: format!("http://{listen}"),
        }
    }

    /// Addresses whose ledger row is not yet recorded as sent.
    async fn unrecorded(&self, campaign: i64) -> std::collections::HashSet<String> {
        let sql = "SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id \
                   WHERE d.campaign_id = $1 AND d.status <> 'sent'";
        let db = Db::connect(&self.database_url).await.unwrap();
        let emails = match &db {
            Db::Sqlite(pool) => sqlx::query_scalar::<_, String>(sql)
                .bind(campaign)
                .fetch_all(pool)
                .await
                .unwrap(),
            Db::Postgres(pool) => sqlx::query_scalar::<_, String>(sql)
                .bind(campaign)
                .fetch_all(pool)
                .await
                .unwrap(),
        };
        db.close().await;
        emails.into_iter().collect()
    }

    async fn sent_rows(&self, campaign: i64) -> i64 {
        let db = Db::connect(&self.database_url).await.unwrap();
        let n = match &db {
            Db::Sqlite(pool) => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM deliveries WHERE campaign_id = $1 AND status = 'sent'",
            )
            .bind(campaign)
            .fetch_one(pool)
            .await
            .unwrap(),
            Db::Postgres(pool) => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM deliveries WHERE campaign_id = $1 AND status = 'sent'",
            )
            .bind(campaign)
            .fetch_one(pool)
            .await
            .unwrap(),
        };
        db.close().await;
        n
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            let _ = Command::new("psql")
                .arg(postgres_admin_url())
                .args([
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
        }
    }
}

impl Node {
    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Migrates, writes the audience CSV (imported into a list once a node runs) and makes an
/// API user; returns its token.
fn audience(setup: &Setup, count: usize) -> String {
    setup.cli(&["migrate"]);
    let mut csv = String::from("email,name\n");
    for i in 0..count {
        csv.push_str(&format!("okur{i}@example.com,Okur {i}\n"));
    }
    std::fs::write(setup.dir.path().join("audience.csv"), csv).unwrap();
    setup.cli(&["api-user", "add", "crash"]).trim().to_owned()
}

async fn api(
    node: &Node,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", node.url))
        .header("Authorization", format!("token {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let value: serde_json::Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {value}");
    value
}

/// Distinct recipients at the sink and the total number of copies.
fn tally(sink: &SmtpSink) -> (HashMap<String, usize>, usize) {
    let received = sink.received();
    let total = received.len();
    let mut by_rcpt: HashMap<String, usize> = HashMap::new();
    for r in received {
        *by_rcpt.entry(r.rcpt).or_default() += 1;
    }
    (by_rcpt, total)
}

/// Waits until the sink has had no new message for a moment (a killed node's last writes).
async fn settle(sink: &SmtpSink) {
    let mut last = usize::MAX;
    loop {
        let now = sink.received().len();
        if now == last {
            return;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn start_campaign(setup: &Setup, node: &Node, token: &str, count: usize) -> i64 {
    let list = api(
        node,
        token,
        reqwest::Method::POST,
        "/api/lists",
        json!({"name": "Crash", "optin": "single"}),
    )
    .await["data"]["id"]
        .as_i64()
        .unwrap();
    let output = Command::new(BIN)
        .args(&setup.db_args)
        .args(["subscribers", "import"])
        .arg(setup.dir.path().join("audience.csv"))
        .args(["--list", &list.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let campaign = api(node, token, reqwest::Method::POST, "/api/campaigns", json!({
        "name": "Crash", "subject": "Hello {{ subscriber.name }}", "lists": [list],
        "from_email": "News <news@haber.example>", "content_type": "plain", "body": "Short news."
    }))
    .await["data"]["id"]
        .as_i64()
        .unwrap();
    let started = api(
        node,
        token,
        reqwest::Method::PUT,
        &format!("/api/campaigns/{campaign}/status"),
        json!({"status": "running"}),
    )
    .await;
    assert_eq!(started["data"]["to_send"].as_u64(), Some(count as u64));
    campaign
}

async fn wait_finished(
    node: &Node,
    token: &str,
    campaign: i64,
    timeout: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let c = api(
            node,
            token,
            reqwest::Method::GET,
            &format!("/api/campaigns/{campaign}"),
            json!(null),
        )
        .await["data"]
            .clone();
        if c["status"] == "finished" {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "the campaign did not finish: {c}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_killed_ten_times_reaches_everyone_with_duplicates_only_from_messages_in_flight()
{
    const RECIPIENTS: usize = 20_000;
    let sink = SmtpSink::start(&[]).await;
    let setup = Setup::new(false).await;
    let token = audience(&setup, RECIPIENTS);
    // A steady pace spreads the campaign over several seconds, so the kills land mid-send.
    let config = setup.config("node1", &sink, "send_rate = 2500");
    let mut node = setup.start(&config).await;
    let campaign = start_campaign(&setup, &node, &token, RECIPIENTS).await;

    let mut in_flight_at_kills = Vec::new();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(rand::random_range(150..700))).await;
        node.kill();
        settle(&sink).await;
        let (delivered, _) = tally(&sink);
        let recorded = setup.sent_rows(campaign).await;
        // Accepted by the sink, not yet recorded as sent: these go out again.
        in_flight_at_kills.push(delivered.len() as i64 - recorded);
        node = setup.start(&config).await;
    }
    let finished = wait_finished(&node, &token, campaign, Duration::from_secs(120)).await;
    settle(&sink).await;
    let (delivered, total) = tally(&sink);
    let duplicates = total - delivered.len();
    let allowance: i64 = in_flight_at_kills.iter().sum();
    println!(
        "crash test (SQLite): {RECIPIENTS} recipients, 10 kills; in flight at each kill {in_flight_at_kills:?} \
         (sum {allowance}); copies at the sink {total}, duplicates {duplicates}"
    );
    assert_eq!(delivered.len(), RECIPIENTS, "every recipient has a copy");
    assert_eq!(finished["sent"].as_u64(), Some(RECIPIENTS as u64));
    assert!(
        duplicates as i64 <= allowance,
        "duplicates {duplicates} > in flight {allowance}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_a_campaign_and_survive_losing_one() {
    const RECIPIENTS: usize = 20_000;
    let sink = SmtpSink::start(&[]).await;
    let setup = Setup::new(true).await;
    let token = audience(&setup, RECIPIENTS);
    let extra = "send_rate = 1500\nsend_lease_secs = 3";
    let configs: Vec<PathBuf> = (1..=3)
        .map(|n| setup.config(&format!("node{n}"), &sink, extra))
        .collect();
    let first = setup.start(&configs[0]).await;
    let second = setup.start(&configs[1]).await;
    let third = setup.start(&configs[2]).await;
    let campaign = start_campaign(&setup, &first, &token, RECIPIENTS).await;

    tokio::time::sleep(Duration::from_millis(2000)).await;
    second.kill();
    // The other nodes go on sending, so the sink never falls quiet: give it a moment for the
    // killed node's last messages, well inside the lease.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // What node2 had delivered but not recorded: its lease holds these rows for 3 s, then the
    // other nodes send them again.
    let unrecorded = setup.unrecorded(campaign).await;
    let in_flight = sink
        .received()
        .into_iter()
        .filter(|r| r.helo == "node2" && unrecorded.contains(&r.rcpt))
        .count() as i64;

    let finished = wait_finished(&first, &token, campaign, Duration::from_secs(120)).await;
    settle(&sink).await;
    let (delivered, total) = tally(&sink);
    let duplicates = total - delivered.len();
    let senders: std::collections::BTreeSet<String> =
        sink.received().into_iter().map(|r| r.helo).collect();
    println!(
        "crash test (3 nodes, PostgreSQL): {RECIPIENTS} recipients, node2 killed; in flight {in_flight}; \
         copies {total}, duplicates {duplicates}; sent by {senders:?}"
    );
    assert_eq!(delivered.len(), RECIPIENTS);
    assert_eq!(finished["sent"].as_u64(), Some(RECIPIENTS as u64));
    assert!(
        duplicates as i64 <= in_flight.max(0),
        "duplicates {duplicates} > in flight {in_flight}"
    );
    assert_eq!(
        senders.len(),
        3,
        "every node sent part of the campaign: {senders:?}"
    );
    drop(third);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_one_sqlite_file_refuses_to_send() {
    let sink = SmtpSink::start(&[]).await;
    let setup = Setup::new(false).await;
    setup.cli(&["migrate"]);
    let first = setup.start(&setup.config("node1", &sink, "")).await;
    let second = Command::new(BIN)
        .args(&setup.db_args)
        .arg("--config")
        .arg(setup.config("node2", &sink, ""))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = second.id().to_string();
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || second.wait_with_output()),
    )
    .await;
    let Ok(output) = waited else {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("the second node kept running: it should have refused to send");
    };
    let output = output.unwrap().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("only one node may send"), "{stderr}");
    drop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_records_what_went_out_and_gives_back_the_rest() {
    const RECIPIENTS: usize = 2_000;
    let sink = SmtpSink::start(&[]).await;
    let setup = Setup::new(false).await;
    let token = audience(&setup, RECIPIENTS);
    let config = setup.config("node1", &sink, "send_rate = 1000");
    let node = setup.start(&config).await;
    let campaign = start_campaign(&setup, &node, &token, RECIPIENTS).await;
    sink.wait_for(200, Duration::from_secs(20)).await;

    // SIGTERM: finish the messages in hand, release the claimed rest, write every outcome.
    let pid = node.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let stopped = tokio::task::spawn_blocking(move || {
        let mut node = node;
        node.child.wait()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        stopped.success(),
        "a graceful stop exits cleanly: {stopped:?}"
    );
    settle(&sink).await;
    let (delivered, total) = tally(&sink);
    assert_eq!(total, delivered.len());
    assert_eq!(
        setup.sent_rows(campaign).await,
        total as i64,
        "everything that went out is recorded"
    );
    assert!(total < RECIPIENTS, "the stop came mid-campaign");

    let node = setup.start(&config).await;
    wait_finished(&node, &token, campaign, Duration::from_secs(60)).await;
    settle(&sink).await;
    let (delivered, total) = tally(&sink);
    assert_eq!(delivered.len(), RECIPIENTS);
    assert_eq!(total, RECIPIENTS, "no duplicates after a graceful stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_relay_is_configured_from_the_environment_alone() {
    let sink = SmtpSink::start(&[]).await;
    let setup = Setup::new(false).await;
    let token = audience(&setup, 3);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = setup.dir.path().join("empty.toml");
    std::fs::write(&config, format!("listen = \"127.0.0.1:{port}\"\n")).unwrap();
    let env = [
        ("BULTEN_SMTP_HOST", "127.0.0.1".to_owned()),
        ("BULTEN_SMTP_PORT", sink.port.to_string()),
        ("BULTEN_SMTP_TLS", "none".to_owned()),
        ("BULTEN_ROOT_URL", "https://news.example".to_owned()),
    ];
    let node = setup.start_with_env(&config, &env).await;
    let campaign = start_campaign(&setup, &node, &token, 3).await;
    wait_finished(&node, &token, campaign, Duration::from_secs(30)).await;
    let received = sink.wait_for(3, Duration::from_secs(10)).await;
    assert!(
        received[0].message.contains("https://news.example/u/"),
        "links use BULTEN_ROOT_URL"
    );
}
