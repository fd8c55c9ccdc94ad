//! Whole-list benchmark: `GET /api/subscribers?per_page=all` over N readers (default
//! 1,000,000; `BENCH_ROWS` overrides), on each database, against a running `bulten serve`.
//!
//! Imports the readers onto one list, starts the server, reads its resident memory at rest
//! (the reference), then downloads the whole list as a client would, counting the readers
//! in the answer as it streams in, and reads the server's peak memory again. The bar: the
//! peak stays under 150 MB whatever N is (the answer is written batch by batch, never held
//! whole). For scale, the database's own dump of the same rows (`psql \copy … TO` or
//! `sqlite3 -csv`) is timed in the same run and the ratio of rows per second printed.
//!
//! Run: `cargo bench --bench export` (needs `sqlite3`, `psql` and PostgreSQL at
//! `BULTEN_TEST_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432/postgres);
//! `BENCH_BACKEND=sqlite|postgres` runs one.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use support::{
    Server, bulten, drop_postgres_database, fresh_postgres_database, postgres_url, timed,
};

/// The server's peak memory may not pass this, at any N.
const BAR_MB: f64 = 150.0;

fn main() {
    support::install_crypto();
    let only: Option<String> = std::env::var("BENCH_BACKEND").ok();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (csv, rows) = support::readers_file(dir.path());
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    println!("whole-list benchmark: GET /api/subscribers?per_page=all over {rows} readers");
    println!();
    println!(
        "{:<9} {:>10} {:>10} {:>12} {:>13} {:>7} {:>11} {:>10}",
        "backend",
        "MB sent",
        "seconds",
        "bulten r/s",
        "raw dump r/s",
        "ratio",
        "rest MB",
        "peak MB"
    );
    let mut verdicts = Vec::new();
    for name in ["sqlite", "postgres"] {
        if only.as_deref().is_some_and(|b| b != name) {
            continue;
        }
        let (db_args, raw_dump, cleanup): (Vec<String>, Command, Option<String>) =
            if name == "sqlite" {
                let data = dir.path().join("sqlite-data");
                let mut dump = Command::new("sqlite3");
                dump.arg("-csv").arg(data.join("bulten.db")).arg(
                    "SELECT s.id, s.uuid, s.email, s.name, s.attribs, s.status, s.created_at, \
                     s.updated_at, sl.list_id, sl.status FROM subscribers s \
                     JOIN subscriber_lists sl ON sl.subscriber_id = s.id ORDER BY s.id",
                );
                (
                    vec!["--data-dir".into(), data.display().to_string()],
                    dump,
                    None,
                )
            } else {
                let db = format!("bench_export_{}", std::process::id());
                fresh_postgres_database(&db);
                let mut dump = Command::new("psql");
                dump.arg(postgres_url(&db)).args([
                    "-qc",
                    "\\copy (SELECT s.id, s.uuid, s.email, s.name, s.attribs, s.status, \
                     s.created_at, s.updated_at, sl.list_id, sl.status FROM subscribers s \
                     JOIN subscriber_lists sl ON sl.subscriber_id = s.id ORDER BY s.id) \
                     TO '/dev/null' (FORMAT csv)",
                ]);
                (
                    vec!["--database-url".into(), postgres_url(&db)],
                    dump,
                    Some(db),
                )
            };
        load(&db_args, &csv, rows);
        let server = Server::start(&db_args, dir.path(), "");
        let rest_mb = server.peak_mb();
        let started = Instant::now();
        let (bytes, found) = runtime.block_on(download(&server));
        let secs = started.elapsed().as_secs_f64();
        let peak_mb = server.peak_mb();
        server.stop();
        assert_eq!(found, rows, "every reader is in the answer, once");
        let mut raw_dump = raw_dump;
        let (_, raw_secs) = timed(&mut raw_dump);
        let (ours, raw) = (rows as f64 / secs, rows as f64 / raw_secs);
        println!(
            "{name:<9} {:>10.1} {secs:>10.1} {ours:>12.0} {raw:>13.0} {:>7.2} {rest_mb:>11.1} {peak_mb:>10.1}",
            bytes as f64 / 1e6,
            ours / raw
        );
        verdicts.push((name, peak_mb));
        if let Some(db) = cleanup {
            drop_postgres_database(&db);
        }
    }
    println!();
    for (name, peak) in verdicts {
        let verdict = if peak < BAR_MB { "meets" } else { "MISSES" };
        println!("{name}: server peak {peak:.0} MB (bar {BAR_MB:.0} MB): {verdict} the bar");
    }
}

/// A fresh database holding `rows` readers on list 1.
fn load(db_args: &[String], csv: &Path, rows: usize) {
    timed(bulten(db_args).arg("migrate"));
    let list = "INSERT INTO lists (uuid, name, type, optin, created_at, updated_at) VALUES";
    match db_args[0].as_str() {
        "--data-dir" => timed(
            Command::new("sqlite3")
                .arg(Path::new(&db_args[1]).join("bulten.db"))
                .arg(format!(
                    "{list} (randomblob(16), 'bench', 'public', 'single', \
                     '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');"
                )),
        ),
        _ => timed(Command::new("psql").arg(&db_args[1]).args([
            "-qc",
            &format!("{list} (gen_random_uuid(), 'bench', 'public', 'single', now(), now())"),
        ])),
    };
    support::import_csv(db_args, csv, rows);
}

/// Downloads the whole list, counting readers as the bytes arrive; (bytes, readers).
async fn download(server: &Server) -> (usize, usize) {
    // Readers are counted by `"email":`, which their lists do not have.
    const MARK: &[u8] = b"\"email\":";
    let client = reqwest::Client::new();
    let mut response = client
        .get(format!("{}/api/subscribers?per_page=all", server.url))
        .header("Authorization", format!("token {}", server.token))
        .send()
        .await
        .expect("the request is sent");
    assert!(response.status().is_success(), "{}", response.status());
    let (mut bytes, mut found) = (0, 0);
    // A mark may straddle two chunks: keep the tail of the last one.
    let mut carry: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("the body streams") {
        bytes += chunk.len();
        carry.extend_from_slice(&chunk);
        found += carry.windows(MARK.len()).filter(|w| *w == MARK).count();
        let keep = carry.len().saturating_sub(MARK.len() - 1);
        carry.drain(..keep);
    }
    (bytes, found)
}
