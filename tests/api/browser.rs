//! The reader's whole path in a real headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from `tests/e2e`): the widget solves the proof of work, the reader signs
//! up, confirms from the mail in the outbox, changes topics and unsubscribes, in Turkish and
//! in English. Screenshots of every step land in `target/tmp/e2e-screenshots`.
//!
//! Needs `npm ci --prefix tests/e2e` and `/usr/bin/chromium` (or `CHROMIUM`); `.ci/run`
//! installs both.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{TestApp, expect_status, on_both_backends};
use crate::mailbox::{link, wait_for_mail};

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

/// Runs a script of `tests/e2e` that asks nothing, and fails unless it says `DONE`.
pub(crate) async fn run_script(script: &str, env: &[(&str, String)]) {
    assert!(
        e2e_dir().join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/e2e` first (the browser test drives Chromium with playwright-core)"
    );
    let mut command = tokio::process::Command::new("node");
    command.arg(e2e_dir().join(script)).kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("the browser script finishes in time")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.lines().any(|l| l == "DONE"),
        "{script} failed ({}): {}{}",
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn walk(app: &TestApp, lang: &str, email: &str, shots: &std::path::Path) {
    assert!(
        e2e_dir().join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/e2e` first (the browser test drives Chromium with playwright-core)"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(e2e_dir().join("reader.mjs"))
        .env("BASE_URL", &app.url)
        .env("READER_LANG", lang)
        .env("EMAIL", email)
        .env("TOPIC_ON", "Gündem")
        .env("TOPIC_OFF", "Dünya")
        .env("SHOTS", shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut done = false;
    let talk = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(question) = line.strip_prefix("ASK confirm-link ") {
                let mail = wait_for_mail(app, question.trim(), 1).await;
                let path = link(&mail[0].text, "/subscription/confirm/");
                stdin
                    .write_all(format!("{}{path}\n", app.url).as_bytes())
                    .await
                    .unwrap();
            } else if line == "DONE" {
                done = true;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(180), talk)
        .await
        .expect("the browser walk finishes in time");
    let output = child.wait_with_output().await.unwrap();
    assert!(
        done && output.status.success(),
        "the browser walk failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

on_both_backends! {
    with |s| { s.altcha_cost = 1000; s.confirmation_resend_secs = 0; };
    async fn a_reader_goes_the_whole_way_in_a_real_browser_in_turkish_and_english(app) {
        let world = app.create_list("Dünya", "double").await;
        let agenda = app.create_list("Gündem", "double").await;
        let backend = if app.database_url.is_some() { "postgres" } else { "sqlite" };
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots").join(backend);
        for (lang, email) in [("tr", "okur-tr@example.com"), ("en", "reader-en@example.com")] {
            walk(&app, lang, email, &shots).await;
            let query = crate::helpers::urlencode(&format!("subscribers.email = '{email}'"));
            let found = expect_status(app.get(&format!("/api/subscribers?query={query}")).await, 200).await;
            let subscriber = &found["data"]["results"][0];
            let statuses: Vec<(i64, String)> = subscriber["lists"].as_array().unwrap().iter()
                .map(|l| (l["id"].as_i64().unwrap(), l["subscription_status"].as_str().unwrap().to_owned()))
                .collect();
            assert!(statuses.contains(&(world, "unsubscribed".into())), "{statuses:?}");
            assert!(statuses.contains(&(agenda, "unsubscribed".into())), "{statuses:?}");
            let consents = expect_status(app.get(&format!("/api/consents?subscriber_id={}", subscriber["id"])).await, 200).await;
            let first = &consents["data"]["results"][0];
            assert_eq!(first["source"], "form");
            assert_eq!(first["language"], lang);
            assert!(!first["confirmed_at"].is_null(), "{consents}");
            assert!(shots.join(format!("{lang}-7-unsubscribed.png")).exists());
        }
    }
}

on_both_backends! {
    backend the_desk_signs_in_draws_its_dashboard_and_switches_language_in_a_real_browser;
}

/// An Ed25519 key in PEM, made by openssl, for the settings' DNS page.
fn dkim_key() -> bulten::mail::dkim::DkimKeyConfig {
    let pem = crate::dkim::openssl(&["genpkey", "-algorithm", "ED25519"]);
    bulten::mail::dkim::DkimKeyConfig {
        domain: "haber.example".into(),
        selector: "ed2026".into(),
        algorithm: bulten::mail::dkim::Algorithm::Ed25519,
        private_key: Some(bulten::config::Secret::new(String::from_utf8(pem).unwrap())),
        private_key_file: None,
    }
}

async fn the_desk_signs_in_draws_its_dashboard_and_switches_language_in_a_real_browser(
    backend: crate::helpers::Backend,
) {
    // A relay that answers, for the settings page's connection test.
    let sink = crate::sink::SmtpSink::start(&[]).await;
    let port = sink.port;
    let app = crate::helpers::spawn_app_with(backend, move |s| {
        s.login_lockout_per_account = 3;
        s.dkim = vec![dkim_key()];
        s.from_email = Some("Haber <bulten@haber.example>".into());
        s.smtp = vec![bulten::mail::smtp::SmtpServerConfig {
            host: "127.0.0.1".into(),
            port,
            tls: bulten::mail::smtp::TlsMode::None,
            ..Default::default()
        }];
    })
    .await;
    let list = app.create_list("Gündem", "single").await;
    app.create_subscriber(
        serde_json::json!({"email": "okur@example.com", "name": "Okur", "lists": [list]}),
    )
    .await;
    let sports = app.create_list("Spor", "single").await;
    app.create_subscriber(serde_json::json!({"email": "taraftar@okur.example", "name": "Taraftar", "lists": [sports]}))
        .await;
    // A viewer, an editor limited to the sports list, an account to lock and a second admin.
    crate::desk::add_user(&app, "izleyici", "viewer", "izleyici-parolasi");
    crate::desk::add_user(&app, "spor-editoru", "editor", "spor-editoru-parolasi");
    crate::desk::add_user(&app, "kilitli", "editor", "kilitli-parolasi");
    crate::desk::add_user(&app, "yonetici", "admin", "yonetici-parolasi");
    let users = expect_status(app.get("/api/users").await, 200).await;
    let editor = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "spor-editoru")
        .unwrap()["id"]
        .clone();
    let limit =
        serde_json::json!({"lists": [{"id": sports, "permissions": ["list:get", "list:manage"]}]});
    expect_status(
        app.put_json(&format!("/api/users/{editor}/lists"), &limit)
            .await,
        200,
    )
    .await;
    let backend = if app.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("e2e-screenshots")
        .join(backend);
    run_script(
        "desk.mjs",
        &[
            ("BASE_URL", app.url.clone()),
            ("USERNAME", "admin".into()),
            ("PASSWORD", "first-admin-password".into()),
            ("SHOTS", shots.display().to_string()),
            ("LOCKED_PASSWORD", "kilitli-parolasi".into()),
            ("VIEWER_PASSWORD", "izleyici-parolasi".into()),
            ("EDITOR_PASSWORD", "spor-editoru-parolasi".into()),
            ("ADMIN_PASSWORD", "yonetici-parolasi".into()),
        ],
    )
    .await;
    assert!(shots.join("desk-390-3-dashboard.png").exists());
    assert!(shots.join("desk-1280-14-bulk-confirm.png").exists());
    assert!(shots.join("desk-1280-tr-settings.png").exists());
}
