//! Import benchmark: `bulten subscribers import` against each database's own bulk loader.
//!
//! Generates N subscribers as CSV (default 1,000,000; `BENCH_ROWS` overrides), then, for
//! SQLite and for PostgreSQL, times
//! - bulten: `bulten subscribers import FILE --list 1` into a freshly migrated database, and
//! - raw: the same file into a plain table with the same unique index on email, loaded by
//!   `sqlite3 .import` or `psql \copy`,
//!
//! in the same run, and prints rows/s for each, the ratio bulten/raw, and the importer's
//! peak memory. Machines here are shared and noisy: read the ratio, not the absolute figures.
//! Each backend runs `BENCH_REPEAT` rounds (default 3), each timing bulten and then the raw
//! loader, and the verdict takes the median ratio of the rounds. Before each timed load the
//! previous one's writes are flushed (and PostgreSQL checkpointed), so the raw loader, which
//! runs second, does not pay for bulten's.
//!
//! Run: `cargo bench --bench import` (needs `sqlite3`, `psql` and PostgreSQL at
//! `BULTEN_TEST_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432/postgres).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{bulten, drop_postgres_database, fresh_postgres_database, postgres_url, timed};

fn main() {
    let only: Option<String> = std::env::var("BENCH_BACKEND").ok();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (csv, rows) = support::readers_file(dir.path());
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    println!(
        "import benchmark: {rows} rows, {:.1} MB of CSV",
        size as f64 / 1e6
    );
    println!();
    println!(
        "{:<11} {:>14} {:>14} {:>7} {:>12}",
        "backend", "bulten rows/s", "raw rows/s", "ratio", "peak memory"
    );
    let repeat: usize = support::env_number("BENCH_REPEAT", 3).max(1);
    let mut results = Vec::new();
    for name in ["sqlite", "postgres"] {
        if only.as_deref().is_some_and(|b| b != name) {
            continue;
        }
        let rounds: Vec<Outcome> = (0..repeat)
            .map(|_| {
                let outcome = if name == "sqlite" {
                    sqlite(dir.path(), &csv, rows)
                } else {
                    postgres(&csv, rows)
                };
                outcome.print(name);
                outcome
            })
            .collect();
        results.push((name, rounds));
    }
    println!();
    for (name, rounds) in &results {
        let mut ratios: Vec<f64> = rounds.iter().map(Outcome::ratio).collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let peak = rounds.iter().map(|r| r.peak_mb).fold(0.0, f64::max);
        let verdict = if median >= 0.4 && peak < 150.0 {
            "meets"
        } else {
            "MISSES"
        };
        println!(
            "{name}: median ratio {median:.2} of {} rounds (bar 0.40), peak {peak:.0} MB (bar 150 MB): \
             {verdict} the bar",
            ratios.len()
        );
    }
}

struct Outcome {
    bulten_rps: f64,
    raw_rps: f64,
    peak_mb: f64,
}

impl Outcome {
    fn ratio(&self) -> f64 {
        self.bulten_rps / self.raw_rps
    }

    fn print(&self, name: &str) {
        println!(
            "{name:<11} {:>14.0} {:>14.0} {:>7.2} {:>9.1} MB",
            self.bulten_rps,
            self.raw_rps,
            self.ratio(),
            self.peak_mb
        );
    }
}

/// Imports with the CLI and returns (rows/s, peak MB); checks every row arrived.
fn run_bulten_import(db_args: &[String], csv: &Path, rows: usize) -> (f64, f64) {
    let (out, secs) = support::import_csv(db_args, csv, rows);
    let peak = out
        .split("peak memory ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    (rows as f64 / secs, peak)
}

/// Lets the previous load's writes finish before the next is timed, so neither loader pays
/// for the other's: the kernel's dirty pages are flushed and, on PostgreSQL, a checkpoint
/// writes the shared buffers and ends one a large load may have started (a load run during
/// a checkpoint also logs a full image of each page it first touches).
fn settle(postgres: Option<&str>) {
    if let Some(url) = postgres {
        timed(Command::new("psql").arg(url).args(["-qc", "CHECKPOINT"]));
    }
    timed(&mut Command::new("sync"));
}

fn sqlite(dir: &Path, csv: &Path, rows: usize) -> Outcome {
    // Each round starts from empty databases.
    let _ = std::fs::remove_dir_all(dir.join("sqlite-data"));
    for file in ["raw.db", "raw.db-wal", "raw.db-shm"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let data = dir.join("sqlite-data");
    let db_args = vec!["--data-dir".to_owned(), data.display().to_string()];
    timed(bulten(&db_args).arg("migrate"));
    let db_file = data.join("bulten.db");
    timed(Command::new("sqlite3").arg(&db_file).arg(
        "INSERT INTO lists (uuid, name, type, optin, created_at, updated_at) \
         VALUES (randomblob(16), 'bench', 'public', 'single', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');",
    ));
    settle(None);
    let (bulten_rps, peak_mb) = run_bulten_import(&db_args, csv, rows);

    let raw_db: PathBuf = dir.join("raw.db");
    timed(Command::new("sqlite3").arg(&raw_db).arg(
        "PRAGMA journal_mode=WAL; CREATE TABLE subscribers (email TEXT NOT NULL, name TEXT NOT NULL, attributes TEXT); \
         CREATE UNIQUE INDEX subscribers_email ON subscribers (email);",
    ));
    settle(None);
    let (_, raw_secs) = timed(Command::new("sqlite3").arg(&raw_db).arg(format!(
        ".import --csv --skip 1 {} subscribers",
        csv.display()
    )));
    Outcome {
        bulten_rps,
        raw_rps: rows as f64 / raw_secs,
        peak_mb,
    }
}

fn postgres(csv: &Path, rows: usize) -> Outcome {
    let suffix = std::process::id();
    let (ours, raw) = (
        format!("bench_bulten_{suffix}"),
        format!("bench_raw_{suffix}"),
    );
    let url_for = |name: &str| postgres_url(name);
    for name in [&ours, &raw] {
        fresh_postgres_database(name);
    }
    let db_args = vec!["--database-url".to_owned(), url_for(&ours)];
    timed(bulten(&db_args).arg("migrate"));
    timed(Command::new("psql").arg(url_for(&ours)).args([
        "-qc",
        "INSERT INTO lists (uuid, name, type, optin, created_at, updated_at) \
         VALUES (gen_random_uuid(), 'bench', 'public', 'single', now(), now())",
    ]));
    settle(Some(&url_for(&ours)));
    let (bulten_rps, peak_mb) = run_bulten_import(&db_args, csv, rows);

    timed(Command::new("psql").arg(url_for(&raw)).args([
        "-qc",
        "CREATE TABLE subscribers (email TEXT NOT NULL, name TEXT NOT NULL, attributes JSONB); \
         CREATE UNIQUE INDEX subscribers_email ON subscribers (email);",
    ]));
    settle(Some(&url_for(&raw)));
    let (_, raw_secs) = timed(Command::new("psql").arg(url_for(&raw)).args([
        "-qc",
        &format!(
            "\\copy subscribers FROM '{}' WITH (FORMAT csv, HEADER true)",
            csv.display()
        ),
    ]));
    for name in [&ours, &raw] {
        drop_postgres_database(name);
    }
    Outcome {
        bulten_rps,
        raw_rps: rows as f64 / raw_secs,
        peak_mb,
    }
}
