//! Signup benchmark: readers signing up over loopback through the JSON endpoint, each with
//! its own solved proof of work, driven by `wrk`; against `wrk` on `GET /api/health` of the
//! same server in the same run (the HTTP floor), for a ratio that survives a noisy machine.
//!
//! For each backend it starts `bulten serve` (a double opt-in list, so every signup also
//! stores its consent record and queues a confirmation mail that the delivery engine moves
//! to the outbox meanwhile), fetches `BENCH_SIGNUPS` challenges (default 30,000) from the
//! server, solves them on every core (cost `BENCH_POW_COST`, default 10: the server's check
//! does not depend on it, the solving here does), then lets `wrk` post them for
//! `BENCH_SECONDS` (default 10) with 2 threads and `BENCH_CONNECTIONS` (default 32). Every
//! signup is checked as in production: honeypot, rate limits (raised so they do not
//! refuse), fields, lists, the proof of work's signature, expiry and single use, the
//! per-address attempt count. It prints signups/s, health/s, the ratio, non-2xx answers and
//! the server's peak memory.
//!
//! Run: `cargo bench --bench signup` (needs `wrk`, and for PostgreSQL `psql` and the server
//! at `BULTEN_TEST_POSTGRES_URL`). `BENCH_BACKEND=sqlite|postgres` runs one backend.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use support::{bulten, drop_postgres_database, fresh_postgres_database, postgres_url, run};

mod support;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    url: String,
    token: String,
}

impl Server {
    fn start(db_args: &[String], dir: &Path, cost: usize) -> Server {
        let port = free_port();
        let config = dir.join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\naltcha_cost = {cost}\n\
                 signup_per_ip_per_hour = 100000000\nsignup_per_second = 100000000\n"
            ),
        )
        .unwrap();
        let token = run(bulten(db_args).args(["api-user", "add", &format!("bench{port}")]))
            .trim()
            .to_owned();
        let child = bulten(db_args)
            .arg("--config")
            .arg(&config)
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

    fn peak_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Fetches `n` challenges and solves them on every core.
async fn solved(server: &Server, n: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut challenges = Vec::with_capacity(n);
    for _ in 0..n {
        let challenge: altcha::Challenge = client
            .get(format!("{}/api/public/captcha/altcha", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        challenges.push(challenge);
    }
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = n.div_ceil(threads);
    let handles: Vec<_> = challenges
        .chunks(chunk)
        .map(|part| {
            let part = part.to_vec();
            std::thread::spawn(move || {
                part.into_iter()
                    .map(|challenge| {
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
    let signups = env_number("BENCH_SIGNUPS", 30_000);
    let cost = env_number("BENCH_POW_COST", 10);
    let seconds = env_number("BENCH_SECONDS", 10);
    let connections = env_number("BENCH_CONNECTIONS", 32);
    let only = std::env::var("BENCH_BACKEND").ok();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for backend in ["sqlite", "postgres"] {
        if only.as_deref().is_some_and(|o| o != backend) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let name = format!("bench_signup_{}", std::process::id());
        let args = if backend == "sqlite" {
            vec![
                "--data-dir".to_owned(),
                dir.path().join("data").display().to_string(),
            ]
        } else {
            fresh_postgres_database(&name);
            vec!["--database-url".to_owned(), postgres_url(&name)]
        };
        run(bulten(&args).arg("migrate"));
        let server = Server::start(&args, dir.path(), cost);
        let list_uuid = runtime.block_on(async {
            let created: serde_json::Value = reqwest::Client::new()
                .post(format!("{}/api/lists", server.url))
                .header("Authorization", format!("token {}", server.token))
                .json(&serde_json::json!({"name": "Gündem", "type": "public", "optin": "double"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            created["data"]["uuid"].as_str().unwrap().to_owned()
        });
        let started = Instant::now();
        let payloads = runtime.block_on(solved(&server, signups));
        eprintln!(
            "{backend}: {signups} challenges fetched and solved in {:.1} s",
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
