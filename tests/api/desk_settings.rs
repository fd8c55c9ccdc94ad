//! The settings: the publisher's settings changed on the desk or through `/api/settings`,
//! applied at once on this node and within seconds on another, locked where the
//! configuration fixes them; the configuration in force with secrets masked; the DNS
//! records to publish; a test connection to each SMTP relay.

use std::time::{Duration, Instant};

use bulten::app::App;
use bulten::config::{Origin, Secret, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::desk::{ADMIN, ADMIN_PASSWORD, Browser, add_user, location};
use crate::helpers::{Backend, TestApp, expect_status, on_both_backends, spawn_app_with};
use crate::sink::SmtpSink;

async fn admin(app: &TestApp) -> Browser {
    let mut browser = Browser::new(app);
    browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
    browser
}

async fn publisher(app: &TestApp) -> Vec<Value> {
    expect_status(app.get("/api/settings").await, 200).await["data"]["publisher"]
        .as_array()
        .unwrap()
        .clone()
}

fn setting<'a>(settings: &'a [Value], name: &str) -> &'a Value {
    settings.iter().find(|s| s["name"] == name).unwrap()
}

on_both_backends! {
    async fn an_admin_renames_the_publisher_on_the_desk_and_readers_see_it_at_once(app) {
        app.create_list("Gündem", "single").await;
        let mut desk = admin(&app).await;
        let page = desk.get("/admin/settings").await.text().await.unwrap();
        assert!(page.contains("name=\"brand_name\"") && page.contains("value=\"bulten\""), "{page}");
        assert!(page.contains("Default"), "each value says where it comes from");

        let saved = desk.post("/admin/settings", &[
            ("brand_name", "Haber Bülteni"), ("brand_color", "#c0392b"), ("default_language", "tr"),
            ("terms_url", "https://haber.example/kosullar"), ("terms_version", "2026-11"),
            ("privacy_url", ""), ("privacy_version", "1"), ("captcha_provider", ""),
            ("captcha_site_key", ""), ("captcha_secret", ""), ("captcha_min_score", "0.5"),
            ("signup_per_ip_per_hour", "20"), ("signup_per_second", "200"),
            ("signup_attempts_per_address_per_hour", "5"), ("confirmations_per_address_per_day", "3"),
        ]).await;
        assert_eq!(location(&saved), "/admin/settings?done=saved");

        let (_, form) = app.page("/subscription/form", "en").await;
        assert!(form.contains("Haber Bülteni") && form.contains("#c0392b"), "{form}");
        assert!(form.contains("https://haber.example/kosullar"), "the new terms link");
        let plain = app.request(reqwest::Method::GET, "/subscription/form").send().await.unwrap().text().await.unwrap();
        assert!(plain.contains("lang=\"tr\""), "a browser naming no language gets the new default");

        let settings = publisher(&app).await;
        assert_eq!(setting(&settings, "brand_name")["value"], "Haber Bülteni");
        assert_eq!(setting(&settings, "brand_name")["origin"]["kind"], "database");
        assert_eq!(setting(&settings, "signup_per_second")["origin"]["kind"], "default", "a value equal to the configuration's is not stored");

        let audit = expect_status(app.get("/api/audit?object=settings").await, 200).await;
        let entry = &audit["data"]["results"][0];
        assert_eq!(entry["action"], "settings.update");
        assert_eq!(entry["before"]["brand_name"], "bulten");
        assert_eq!(entry["after"]["brand_name"], "Haber Bülteni");

        // A page opened before another admin's change saves only what its user changed.
        let stale = desk.get("/admin/settings").await.text().await.unwrap();
        assert!(stale.contains("name=\"was.terms_version\" value=\"2026-11\""), "{stale}");
        expect_status(app.put_json("/api/settings", &json!({"terms_version": "2026-12"})).await, 200).await;
        let saved = desk.post("/admin/settings", &[
            ("brand_name", "Haber Bülteni"), ("was.brand_name", "Haber Bülteni"),
            ("terms_version", "2026-11"), ("was.terms_version", "2026-11"),
            ("signup_per_second", "150"), ("was.signup_per_second", "200"),
        ]).await;
        assert_eq!(location(&saved), "/admin/settings?done=saved");
        let settings = publisher(&app).await;
        assert_eq!(setting(&settings, "terms_version")["value"], "2026-12", "the other admin's change stays");
        assert_eq!(setting(&settings, "signup_per_second")["value"], "150");

        // Back to the configuration's value: the desk's row goes.
        let reset = desk.post("/admin/settings", &[("reset", "brand_name")]).await;
        assert_eq!(location(&reset), "/admin/settings?done=saved");
        assert_eq!(setting(&publisher(&app).await, "brand_name")["value"], "bulten");
        assert_eq!(setting(&publisher(&app).await, "terms_version")["value"], "2026-12", "other settings stay");
    }
}

on_both_backends! {
    async fn wrong_values_are_refused_with_the_reason_and_nothing_is_stored(app) {
        let mut desk = admin(&app).await;
        let refused = desk.post("/admin/settings", &[("brand_name", "Haber"), ("brand_color", "kırmızı")]).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let page = refused.text().await.unwrap();
        assert!(page.contains("brand_color must be #rgb or #rrggbb"), "{page}");
        assert!(page.contains("value=\"kırmızı\""), "the form keeps what was typed");
        assert_eq!(setting(&publisher(&app).await, "brand_name")["value"], "bulten", "all or nothing");

        for (body, message) in [
            (json!({"terms_url": "javascript:alert(1)"}), "terms_url must be an http or https address"),
            (json!({"signup_per_second": 0}), "signup_per_second must be a whole number of at least 1"),
            (json!({"captcha_provider": "hcaptcha"}), "captcha_provider needs captcha_secret"),
            (json!({"captcha_provider": "hcaptcha", "captcha_secret": "s"}), "captcha_provider needs captcha_site_key"),
            (json!({"brand_name": "a\u{7}b"}), "brand_name must be one line without control characters"),
            (json!({"listen": "0.0.0.0:25"}), "unknown setting 'listen'"),
            (json!({"brand_name": ["x"]}), "brand_name must be a string, a number or null"),
        ] {
            let answer = app.put_json("/api/settings", &body).await;
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{body}");
            let answer: Value = answer.json().await.unwrap();
            assert_eq!(answer["message"], message, "{body}");
        }
    }
}

on_both_backends! {
    async fn a_captcha_set_on_the_desk_guards_the_form_and_its_secret_is_never_shown(app) {
        let saved = app.put_json("/api/settings", &json!({
            "captcha_provider": "hcaptcha", "captcha_site_key": "site-key", "captcha_secret": "provider-secret-7f3a",
        })).await;
        let saved = expect_status(saved, 200).await;
        assert!(!saved.to_string().contains("provider-secret-7f3a"), "{saved}");
        assert_eq!(setting(saved["data"]["publisher"].as_array().unwrap(), "captcha_secret")["value"], "****");

        let form = app.request(reqwest::Method::GET, "/subscription/form").send().await.unwrap();
        let policy = form.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("hcaptcha.com"), "the page's policy lets the provider's widget in: {policy}");
        let form = form.text().await.unwrap();
        assert!(form.contains("data-sitekey=\"site-key\""), "{form}");

        // The page shows the secret as set, never its value; sending `****` back keeps it.
        let mut desk = admin(&app).await;
        let page = desk.get("/admin/settings").await.text().await.unwrap();
        assert!(!page.contains("provider-secret-7f3a") && page.contains("set, hidden"), "{page}");
        expect_status(app.put_json("/api/settings", &json!({"captcha_secret": "****", "captcha_site_key": "site-key-2"})).await, 200).await;
        expect_status(app.put_json("/api/settings", &json!({"captcha_secret": ""})).await, 200).await;
        let stored: String = match app.connect_db().await {
            bulten::db::Db::Sqlite(pool) => sqlx::query_scalar("SELECT value FROM publisher_settings WHERE name = 'captcha_secret'").fetch_one(&pool).await.unwrap(),
            bulten::db::Db::Postgres(pool) => sqlx::query_scalar("SELECT value FROM publisher_settings WHERE name = 'captcha_secret'").fetch_one(&pool).await.unwrap(),
        };
        assert_eq!(stored, "provider-secret-7f3a");

        // Off again: the form and its policy lose the provider.
        expect_status(app.put_json("/api/settings", &json!({"captcha_provider": null, "captcha_secret": null})).await, 200).await;
        let form = app.request(reqwest::Method::GET, "/subscription/form").send().await.unwrap();
        assert!(!form.headers()["content-security-policy"].to_str().unwrap().contains("hcaptcha"));
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; };
    async fn a_lower_signup_limit_applies_without_a_restart(app) {
        let list = app.create_list("Dünya", "single").await;
        let uuid = app.list_uuid(list).await;
        expect_status(app.put_json("/api/settings", &json!({"signup_per_ip_per_hour": 1})).await, 200).await;
        let (pow, _) = crate::captcha::solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "a@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        let (pow, _) = crate::captcha::solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "b@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 429).await;
    }
}

on_both_backends! {
    with |s| {
        s.brand_name = "Ortam Haber".into();
        s.sources.insert("brand_name".into(), Origin::Environment("BULTEN_BRAND_NAME".into()));
        s.smtp_password = Some(Secret::new("relay-pass-41c2"));
        s.smtp_host = Some("127.0.0.1".into());
        s.smtp_port = Some(9);
        s.sources.insert("smtp_password".into(), Origin::File("/etc/bulten/bulten.toml".into()));
    };
    async fn what_the_configuration_fixes_is_locked_and_secrets_stay_masked(app) {
        let answer = app.put_json("/api/settings", &json!({"brand_name": "Masa Haber"})).await;
        assert_eq!(answer.status(), StatusCode::CONFLICT);
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["message"], "brand_name is fixed by the environment variable BULTEN_BRAND_NAME and cannot be changed here");
        // Sending back what was read is no change.
        expect_status(app.put_json("/api/settings", &json!({"brand_name": "Ortam Haber", "terms_version": "3"})).await, 200).await;

        let view = expect_status(app.get("/api/settings").await, 200).await;
        let brand = setting(view["data"]["publisher"].as_array().unwrap(), "brand_name");
        assert_eq!(brand["fixed"], true);
        assert_eq!(brand["origin"], json!({"kind": "environment", "name": "BULTEN_BRAND_NAME"}));
        let configuration = view["data"]["configuration"].as_array().unwrap();
        let password = configuration.iter().find(|c| c["key"] == "smtp_password").unwrap();
        assert_eq!(password["value"], "****");
        assert_eq!(password["origin"]["kind"], "file");
        assert!(!view.to_string().contains("relay-pass-41c2"), "no secret in the answer");
        assert!(configuration.iter().any(|c| c["key"] == "send_batch_size" && c["value"] == "200" && c["origin"]["kind"] == "default"));

        let mut desk = admin(&app).await;
        let page = desk.get("/admin/settings").await.text().await.unwrap();
        assert!(page.contains("Set by the environment variable BULTEN_BRAND_NAME"), "{page}");
        assert!(page.contains("id=\"s-brand_name\" name=\"brand_name\" type=\"text\" value=\"Ortam Haber\" aria-describedby=\"o-brand_name\" disabled"), "{page}");
        assert!(!page.contains("relay-pass-41c2"));

        // A row written before the environment fixed the value is not read; nor a captcha the
        // rows leave without its keys (it falls back to the configuration's, whole), while
        // the rest of what was stored stays in force.
        let db = app.connect_db().await;
        let sql = "INSERT INTO publisher_settings (name, value, updated_at) VALUES \
                   ('brand_name', 'Eski', '2026-01-01T00:00:00Z'), \
                   ('captcha_provider', 'hcaptcha', '2026-01-01T00:00:00Z'), \
                   ('privacy_version', '9', '2026-01-01T00:00:00Z')";
        match &db {
            bulten::db::Db::Sqlite(pool) => { sqlx::query(sql).execute(pool).await.unwrap(); }
            bulten::db::Db::Postgres(pool) => { sqlx::query(sql).execute(pool).await.unwrap(); }
        }
        let (_, form) = app.page("/subscription/form", "en").await;
        assert!(form.contains("Ortam Haber") && !form.contains("Eski"));
        assert!(!form.contains("h-captcha"), "no widget without its keys: {form}");
        let settings = publisher(&app).await;
        assert_eq!(setting(&settings, "captcha_provider")["origin"]["kind"], "default", "the page says what is in force");
        assert_eq!(setting(&settings, "privacy_version")["value"], "9");
    }
}

on_both_backends! {
    backend a_change_on_one_node_reaches_the_others_without_a_restart;
}

/// A second node on `app`'s database, sending nothing.
async fn second_node(app: &TestApp) -> (String, tokio::sync::oneshot::Sender<()>) {
    let settings = Settings {
        data_dir: app.data_dir.clone(),
        database_url: app.database_url.clone(),
        listen: "127.0.0.1:0".into(),
        sending: false,
        ..Settings::default()
    };
    let node = App::build(settings).await.expect("the second node builds");
    let url = node.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(node.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (url, stop)
}

async fn a_change_on_one_node_reaches_the_others_without_a_restart(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let (other, _stop) = second_node(&app).await;
    let form_of = |url: String| async move {
        reqwest::get(format!("{url}/subscription/form?lang=en"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(form_of(other.clone()).await.contains("bulten"));
    expect_status(
        app.put_json("/api/settings", &json!({"brand_name": "Çok Düğümlü Haber"}))
            .await,
        200,
    )
    .await;
    let started = Instant::now();
    loop {
        if form_of(other.clone()).await.contains("Çok Düğümlü Haber") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the other node shows the new name within seconds"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Generates a key with openssl; returns the PEM file and the public key as DER.
fn key(dir: &std::path::Path, name: &str, algorithm: &str) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.join(format!("{name}.pem"));
    let run = crate::dkim::openssl;
    let mut generate = vec![
        "genpkey",
        "-algorithm",
        algorithm,
        "-out",
        path.to_str().unwrap(),
    ];
    if algorithm == "RSA" {
        generate.extend(["-pkeyopt", "rsa_keygen_bits:2048"]);
    }
    run(&generate);
    let public = run(&[
        "pkey",
        "-in",
        path.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
    ]);
    (path, public)
}

on_both_backends! {
    backend the_dns_page_gives_each_key_s_record_and_spf_and_dmarc_advice;
}

async fn the_dns_page_gives_each_key_s_record_and_spf_and_dmarc_advice(backend: Backend) {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let dir = tempfile::tempdir().unwrap();
    let (rsa, rsa_public) = key(dir.path(), "rsa", "RSA");
    let (ed, ed_public) = key(dir.path(), "ed", "ED25519");
    let config =
        |selector: &str, algorithm, path: std::path::PathBuf| bulten::mail::dkim::DkimKeyConfig {
            domain: "haber.example".into(),
            selector: selector.into(),
            algorithm,
            private_key: None,
            private_key_file: Some(path),
        };
    let keys = vec![
        config("rsa2026", bulten::mail::dkim::Algorithm::Rsa, rsa),
        config("ed2026", bulten::mail::dkim::Algorithm::Ed25519, ed),
    ];
    let app = spawn_app_with(backend, move |s| {
        s.dkim = keys;
        s.from_email = Some("Haber <bulten@haber.example>".into());
        s.bounce_address = Some("bounces@bounce.haber.example".into());
        s.smtp_host = Some("smtp.haber.example".into());
        s.sending = false;
    })
    .await;
    let records = expect_status(app.get("/api/settings/dns").await, 200).await["data"].clone();
    let records = records.as_array().unwrap();
    assert_eq!(records[0]["name"], "rsa2026._domainkey.haber.example");
    assert_eq!(
        records[0]["value"],
        format!("v=DKIM1; k=rsa; p={}", b64(&rsa_public)),
        "the key as openssl publishes it"
    );
    let zone = records[0]["zone"].as_str().unwrap();
    assert!(
        zone.matches("\" \"").count() >= 1,
        "a 2048-bit key's record is split into strings: {zone}"
    );
    assert_eq!(records[1]["name"], "ed2026._domainkey.haber.example");
    assert_eq!(
        records[1]["value"],
        format!(
            "v=DKIM1; k=ed25519; p={}",
            b64(&ed_public[ed_public.len() - 32..])
        )
    );
    let spf = records.iter().find(|r| r["kind"] == "spf").unwrap();
    assert_eq!(
        spf["name"], "bounce.haber.example",
        "SPF is checked on the envelope sender's domain"
    );
    assert_eq!(spf["value"], "v=spf1 a:smtp.haber.example ~all");
    assert_eq!(spf["advice"]["key"], "desk.settings.advice_spf_relays");
    let dmarc = records.iter().find(|r| r["kind"] == "dmarc").unwrap();
    assert_eq!(dmarc["name"], "_dmarc.haber.example");
    assert!(
        dmarc["value"]
            .as_str()
            .unwrap()
            .starts_with("v=DMARC1; p=none;")
    );

    let mut desk = admin(&app).await;
    let page = desk.get("/admin/settings/dns").await.text().await.unwrap();
    assert!(
        page.contains("rsa2026._domainkey.haber.example")
            && page.contains(&b64(&ed_public[ed_public.len() - 32..])),
        "{page}"
    );
    assert!(!page.contains("No DKIM key is configured"));
    assert!(
        page.contains("Start with p=none and read the reports."),
        "advice in the page's language"
    );
}

on_both_backends! {
    backend the_relay_test_shows_what_the_relay_answered;
}

async fn the_relay_test_shows_what_the_relay_answered(backend: Backend) {
    let sink = SmtpSink::start(&[]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let relay = |port| bulten::mail::smtp::SmtpServerConfig {
        host: "127.0.0.1".into(),
        port,
        tls: bulten::mail::smtp::TlsMode::None,
        timeout_secs: 5,
        ..Default::default()
    };
    let relays = vec![relay(sink.port), relay(closed_port)];
    let app = spawn_app_with(backend, move |s| s.smtp = relays).await;

    let answer = expect_status(
        app.post_json("/api/settings/smtp/0/test", &json!({})).await,
        200,
    )
    .await;
    assert_eq!(answer["data"]["ok"], true, "{answer}");
    let said = answer["data"]["said"].to_string();
    assert!(
        said.contains("220 ") && said.contains("PIPELINING"),
        "the greeting and the EHLO extensions: {said}"
    );

    let answer = expect_status(
        app.post_json("/api/settings/smtp/1/test", &json!({})).await,
        200,
    )
    .await;
    assert_eq!(answer["data"]["ok"], false);
    assert_eq!(
        answer["data"]["said"][0],
        format!("connecting to 127.0.0.1:{closed_port}"),
        "what was tried is said too"
    );
    assert!(
        answer["data"]["error"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{answer}"
    );
    expect_status(
        app.post_json("/api/settings/smtp/7/test", &json!({})).await,
        404,
    )
    .await;

    let mut desk = admin(&app).await;
    let page = desk
        .post("/admin/settings/smtp/0/test", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("The relay answered and accepted the connection") && page.contains("220 "),
        "{page}"
    );
    let page = desk
        .post("/admin/settings/smtp/1/test", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("The connection failed"), "{page}");
}

on_both_backends! {
    async fn only_admins_reach_the_settings(app) {
        add_user(&app, "editor1", "editor", "editor-password-1");
        let mut editor = Browser::new(&app);
        editor.sign_in("editor1", "editor-password-1").await;
        assert_eq!(editor.get("/admin/settings").await.status(), StatusCode::FORBIDDEN);
        assert_eq!(editor.post("/admin/settings", &[("brand_name", "X")]).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(editor.get("/admin/settings/dns").await.status(), StatusCode::FORBIDDEN);
        let page = editor.get("/admin/").await.text().await.unwrap();
        assert!(!page.contains("/admin/settings"), "no link to a page the user cannot open");
        assert_eq!(setting(&publisher(&app).await, "brand_name")["value"], "bulten");
    }
}
