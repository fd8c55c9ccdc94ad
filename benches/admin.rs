//! The desk's benchmark: how long the pages an editor opens most take on a large audience.
//!
//! For each backend it starts `bulten serve`, makes one list, imports `BENCH_SUBSCRIBERS`
//! (default 1,000,000) generated readers into it with the CLI, signs in to the desk as a
//! browser does, and requests each page `BENCH_REQUESTS` times (default 40) one after
//! another: the dashboard, the first page of readers, the 10,000th page (50 readers a page,
//! so deep into the table; reached by the pager's next link, a keyset page), a filtered
//! search (a JSON attribute compared, counted up to 10,000), and a reader's page. It prints the time of
//! the first request of each (which fills the caches: the database's, and the dashboard's
//! counts, which are kept for a minute) and the p50 and p99 of the rest, measured by the
//! client over loopback (so they include the transfer of the page), and the same for
//! `GET /api/health` in the same run, the floor of any request.
//! The bar is p99 under 300 ms for each page on both databases.
//!
//! Run: `cargo bench --bench admin` (for PostgreSQL, `psql` and the server at
//! `BULTEN_TEST_POSTGRES_URL`). `BENCH_BACKEND=sqlite|postgres` runs one backend.

use std::time::{Duration, Instant};

use support::{Server, drop_postgres_database, env_number, generate_subscribers, import_csv};

mod support;

const PASSWORD: &str = "bench-desk-password";

/// p50 and p99 of `samples`, in milliseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

/// Signs in to the desk and returns the session cookie.
async fn sign_in(client: &reqwest::Client, url: &str) -> String {
    let response = client
        .post(format!("{url}/admin/login"))
        .header("Origin", url)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("username", "bench"),
            ("password", PASSWORD),
            ("next", "/admin/"),
        ])
        .send()
        .await
        .expect("the sign-in is sent");
    assert_eq!(response.status().as_u16(), 303, "the bench user signs in");
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Requests `path` `n` times and returns each request's time.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
    path: &str,
    n: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = client
            .get(format!("{url}{path}"))
            .header("Cookie", cookie)
            .send()
            .await
            .expect("the request is sent");
        let status = response.status();
        let body = response.bytes().await.expect("the page arrives");
        samples.push(started.elapsed());
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    samples
}

fn main() {
    support::install_crypto();
    let subscribers = env_number("BENCH_SUBSCRIBERS", 1_000_000);
    let requests = env_number("BENCH_REQUESTS", 40).max(2);
    let only = std::env::var("BENCH_BACKEND").ok();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("desk benchmark: {subscribers} readers, {requests} requests per page");
    for backend in ["sqlite", "postgres"] {
        if only.as_deref().is_some_and(|o| o != backend) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let (args, name) = support::migrated_database(backend, "bench_admin", dir.path());
        let server = Server::start(
            &args,
            dir.path(),
            &format!("admin_user = \"bench\"\nadmin_password = \"{PASSWORD}\"\n"),
        );
        runtime.block_on(server.call(
            reqwest::Method::POST,
            "/api/lists",
            Some(serde_json::json!({"name": "Gündem", "type": "public", "optin": "single"})),
        ));
        let csv = dir.path().join("readers.csv");
        generate_subscribers(&csv, subscribers);
        let (_, import_secs) = import_csv(&args, &csv, subscribers);
        eprintln!("{backend}: {subscribers} readers imported in {import_secs:.1} s");

        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = server.url.clone();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", "subscribers.attribs->>'city' = 'Van'")
            .finish();
        let deep = (subscribers / 50).clamp(1, 10_000);
        let pages = [
            ("dashboard", "/admin/".to_owned()),
            ("readers, page 1", "/admin/subscribers".to_owned()),
            // As the pager links it: the readers after the last ID of the page before (IDs
            // run 1..N in the order imported; the page shows the newest first).
            (
                "readers, page 10,000",
                format!(
                    "/admin/subscribers?page={deep}&after_id={}",
                    subscribers - 50 * (deep - 1) + 1
                ),
            ),
            ("filtered search", format!("/admin/subscribers?{query}")),
            (
                "a reader's page",
                format!("/admin/subscribers/{}", subscribers / 2 + 1),
            ),
        ];
        let results = runtime.block_on(async {
            let cookie = sign_in(&client, &url).await;
            let mut floor = measure(&client, &url, "", "/api/health", requests).await;
            let mut out = vec![(
                "GET /api/health (floor)".to_owned(),
                f64::NAN,
                percentiles(&mut floor),
            )];
            for (label, path) in &pages {
                // The first request is timed on its own: it fills the database's and the
                // dashboard's caches, which the next ones find warm.
                let first =
                    measure(&client, &url, &cookie, path, 1).await[0].as_secs_f64() * 1000.0;
                let mut samples = measure(&client, &url, &cookie, path, requests).await;
                out.push(((*label).to_owned(), first, percentiles(&mut samples)));
            }
            out
        });
        let peak = server.peak_mb();
        server.stop();
        if backend == "postgres" {
            drop_postgres_database(&name);
        }
        println!("\n== {backend}");
        println!(
            "{:<26} {:>9} {:>9} {:>9}  p99 under 300 ms",
            "page", "first ms", "p50 ms", "p99 ms"
        );
        for (label, first, (p50, p99)) in &results {
            let bar = if label.starts_with("GET /api/health") {
                ""
            } else if *p99 < 300.0 {
                "yes"
            } else {
                "NO"
            };
            println!("{label:<26} {first:>9.1} {p50:>9.1} {p99:>9.1}  {bar}");
        }
        println!("server peak memory {peak:.1} MB");
    }
}
