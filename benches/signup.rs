//! Signup benchmark: readers signing up over loopback through the JSON endpoint, each with
//! its own solved proof of work, driven by `wrk`; against `wrk` on `GET /api/health` of the
//! same server in the same run (the HTTP floor), for a ratio that survives a noisy machine.
//!
//! For each backend it starts `bulten serve` (a double opt-in list, so every signup also
//! stores its consent record and queues a confirmation mail that the delivery engine moves
//! to the outbox meanwhile), prepares `BENCH_SIGNUPS` (default 8,000) solved challenges at
//! the production cost (`BENCH_POW_COST`, default 5,000; see `solved` for how they are made
//! without a browser's search), then lets `wrk` post them for `BENCH_SECONDS` (default 5)
//! with 2 threads and `BENCH_CONNECTIONS` (default 32). Every signup is checked as in
//! production: honeypot, rate limits (raised so they do not refuse), fields, lists, the
//! proof of work (signature, expiry, one key derivation at full cost, single use), the
//! per-address attempt count. It prints signups/s, health/s, the ratio, non-2xx answers and
//! the server's peak memory.
//!
//! Run: `cargo bench --bench signup` (needs `wrk`, and for PostgreSQL `psql` and the server
//! at `BULTEN_TEST_POSTGRES_URL`). `BENCH_BACKEND=sqlite|postgres` runs one backend.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use support::{Server, drop_postgres_database, run};

mod support;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The secret the server signs its challenges with, derived from the installation's key.
fn challenge_secret(db_args: &[String], dir: &Path) -> String {
    let query = "SELECT value FROM secrets WHERE name = 'signing_key'";
    let key = if db_args[0] == "--data-dir" {
        run(Command::new("sqlite3")
            .arg(dir.join("data/bulten.db"))
            .arg(query))
    } else {
        run(Command::new("psql").arg(&db_args[1]).args(["-tAc", query]))
    };
    bulten::mail::tokens::Signer::new(key.trim().as_bytes().to_vec()).derived_secret("altcha")
}

/// `n` signed challenges at the server's cost, with their solutions, made on every core.
///
/// A reader's browser searches about 256 counters for a solution; here the challenge is
/// made in the crate's deterministic mode with counter 0 (signed with the server's own
/// secret, same algorithm, cost and expiry), so the solution is found at once. What the
/// server does with it is unchanged: check the signature and expiry, derive the key once at
/// full cost, compare, and spend it.
fn solved(secret: &str, cost: u32, n: usize) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let expires_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let secret = secret.to_owned();
            let count = n / threads + usize::from(t < n % threads);
            std::thread::spawn(move || {
                (0..count)
                    .map(|_| {
                        let challenge = altcha::create_challenge(altcha::CreateChallengeOptions {
                            cost,
                            counter: Some(0),
                            expires_at: Some(expires_at),
                            hmac_signature_secret: Some(secret.clone()),
                            ..altcha::CreateChallengeOptions::default()
                        })
                        .expect("a challenge");
                        let solution =
                            altcha::solve_challenge(altcha::SolveChallengeOptions::new(&challenge))
                                .unwrap()
                                .expect("a solution");
                        let payload = serde_json::to_vec(&altcha::Payload {
                            challenge,
                            solution,
                        })
                        .unwrap();
                        base64::engine::general_purpose::STANDARD.encode(payload)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

/// wrk's Lua: each thread posts its own share of the bodies, one per request.
const SIGNUP_LUA: &str = r#"
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  bodies = {}
  local i = 0
  local count = tonumber(args[1])
  for line in io.lines(args[2]) do
    if i % count == id then table.insert(bodies, line) end
    i = i + 1
  end
  next_body = 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local body = bodies[next_body]
  if body == nil then body = bodies[1] end
  next_body = next_body + 1
  return wrk.format(nil, "/api/public/subscription", nil, body)
end
"#;

struct WrkResult {
    per_sec: f64,
    requests: u64,
    non_2xx: u64,
}

fn wrk(url: &str, connections: usize, seconds: usize, script: Option<(&Path, &Path)>) -> WrkResult {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    if let Some((lua, _)) = script {
        command.arg("-s").arg(lua);
    }
    command.arg(url);
    if let Some((_, bodies)) = script {
        command.arg("--").arg("2").arg(bodies);
    }
    let out = run(&mut command);
    let number = |prefix: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let requests = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    WrkResult {
        per_sec: number("Requests/sec:").unwrap_or(0.0),
        requests,
        non_2xx: number("Non-2xx or 3xx responses:").map_or(0, |n| n as u64),
    }
}

fn main() {
    support::install_crypto();
    let signups = env_number("BENCH_SIGNUPS", 8_000);
    let cost = env_number("BENCH_POW_COST", 5_000);
    let seconds = env_number("BENCH_SECONDS", 5);
    let connections = env_number("BENCH_CONNECTIONS", 32);
    let only = std::env::var("BENCH_BACKEND").ok();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for backend in ["sqlite", "postgres"] {
        if only.as_deref().is_some_and(|o| o != backend) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let (args, name) = support::migrated_database(backend, "bench_signup", dir.path());
        let server = Server::start(
            &args,
            dir.path(),
            &format!(
                "altcha_cost = {cost}\nsignup_per_ip_per_hour = 100000000\n\
                 signup_per_second = 100000000\n"
            ),
        );
        let created = runtime.block_on(server.call(
            reqwest::Method::POST,
            "/api/lists",
            Some(serde_json::json!({"name": "Gündem", "type": "public", "optin": "double"})),
        ));
        let list_uuid = created["data"]["uuid"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let secret = challenge_secret(&args, dir.path());
        let payloads = solved(&secret, cost as u32, signups);
        eprintln!(
            "{backend}: {signups} challenges made and solved in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let bodies = dir.path().join("bodies.jsonl");
        let lines: Vec<String> = payloads
            .iter()
            .enumerate()
            .map(|(i, pow)| {
                serde_json::json!({
                    "email": format!("okur{i}@example.com"),
                    "name": format!("Okur {i}"),
                    "list_uuids": [list_uuid],
                    "altcha": pow,
                })
                .to_string()
            })
            .collect();
        std::fs::write(&bodies, lines.join("\n")).unwrap();
        let lua = dir.path().join("signup.lua");
        std::fs::write(&lua, SIGNUP_LUA).unwrap();

        let health = wrk(
            &format!("{}/api/health", server.url),
            connections,
            seconds,
            None,
        );
        let signed = wrk(&server.url, connections, seconds, Some((&lua, &bodies)));
        let peak = server.peak_mb();
        server.stop();
        if backend == "postgres" {
            drop_postgres_database(&name);
        }
        assert!(
            (signed.requests as usize) < signups,
            "{} requests outran the {signups} prepared signups: raise BENCH_SIGNUPS",
            signed.requests
        );
        println!(
            "{backend}: signups {:.0}/s ({} requests, {} not 2xx) vs health {:.0}/s → ratio {:.3}; \
             peak memory {peak:.1} MB ({connections} connections, {seconds} s)",
            signed.per_sec,
            signed.requests,
            signed.non_2xx,
            health.per_sec,
            signed.per_sec / health.per_sec
        );
    }
}
