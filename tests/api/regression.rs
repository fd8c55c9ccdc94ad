//! One test per hole a hostile probe found, each named after what it proves, on both
//! databases. The numbers refer to the probe's findings.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::campaigns::{create_campaign, header, outbox, set_status, wait_campaign};
use crate::captcha::solved_payload;
use crate::helpers::{TestApp, expect_status, on_both_backends, urlencode};
use crate::mailbox::{link, wait_for_mail};

async fn alive(app: &TestApp) {
    let health = app
        .client
        .get(format!("{}/api/health", app.url))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the server still answers");
    assert_eq!(health.status(), 200);
}

async fn api_token(app: &TestApp, name: &str, role: bulten::ops::users::Role) -> String {
    let db = app.connect_db().await;
    let token = bulten::ops::users::add_api_user(&db, name, role)
        .await
        .unwrap();
    db.close().await;
    format!("token {name}:{token}")
}

// 1. One request must not take the process down.
on_both_backends! {
    async fn deeply_nested_bodies_are_refused_with_a_reason_not_a_crash(app) {
        let list = app.create_list("Daily", "single").await;
        let divs = format!("{}x{}", "<div>".repeat(3_000), "</div>".repeat(3_000));
        let quotes = format!("{} deep", ">".repeat(3_000));
        for (format, body) in [("html", divs.as_str()), ("markdown", quotes.as_str())] {
            let answer = expect_status(app.post_json("/api/campaigns", &json!({
                "name": "Deep", "subject": "s", "lists": [list], "content_type": format, "body": body,
                "from_email": "news@haber.example",
            })).await, 400).await;
            assert!(answer["message"].as_str().unwrap().contains("levels deep"), "{format}: {answer}");
        }
        let answer = expect_status(app.post_json("/api/templates", &json!({
            "name": "Deep", "type": "campaign", "body": format!("{divs}{{{{ content }}}}"),
        })).await, 400).await;
        assert!(answer["message"].as_str().unwrap().contains("levels deep"), "{answer}");
        alive(&app).await;
    }
}

on_both_backends! {
    async fn nesting_built_by_a_template_loop_never_takes_the_node_down(app) {
        let list = app.create_list("Daily", "single").await;
        app.create_subscriber(json!({"email": "deep@example.com", "name": "D", "lists": [list]})).await;
        // Passes the checks when saved: the nesting exists only once rendered.
        let looped = "{% for i in range(3000) %}<div>{% endfor %}x{% for i in range(3000) %}</div>{% endfor %}";
        let id = create_campaign(&app, &[list], json!({"content_type": "html", "body": looped, "subject": "Deep"})).await;
        // The preview is the rendered message, not parsed again: it shows, or says why not.
        let preview = app.get(&format!("/api/campaigns/{id}/preview")).await;
        let status = preview.status().as_u16();
        let text = preview.text().await.unwrap();
        assert!(status == 200 || (status == 400 && text.contains("levels deep")), "{status}: {}", &text[..text.len().min(300)]);
        alive(&app).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        let campaign = wait_campaign(&app, id, Duration::from_secs(20), |c| {
            c["status"] == "finished" || c["status"] == "paused"
        }).await;
        if campaign["status"] == "paused" {
            assert!(campaign["status_reason"].as_str().unwrap().contains("levels deep"), "{campaign}");
        }
        alive(&app).await;
    }
}

// 16. A campaign that cannot be composed pauses, saying why; one reader's failure fails
// only that reader.
on_both_backends! {
    async fn a_campaign_whose_messages_cannot_be_composed_pauses_with_the_reason(app) {
        let list = app.create_list("Daily", "single").await;
        app.create_subscriber(json!({"email": "a@example.com", "name": "A", "lists": [list]})).await;
        app.create_subscriber(json!({"email": "b@example.com", "name": "B", "lists": [list]})).await;
        let id = create_campaign(&app, &[list], json!({"body": "News for {{ subscriber.attribs.city }}"})).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        let campaign = wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "paused").await;
        let reason = campaign["status_reason"].as_str().unwrap();
        assert!(reason.contains("subscriber") && reason.contains("city"), "{reason}");
        assert_eq!(campaign["failed"], 0, "no reader is written off: {campaign}");
        assert_eq!(campaign["sent"], 0, "{campaign}");

        // The editor mends the template and resumes: the reason goes, everyone gets it.
        expect_status(app.put_json(&format!("/api/campaigns/{id}"), &json!({"body": "News for {{ subscriber.attribs.city | default('you') }}"})).await, 200).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        let resumed = expect_status(app.get(&format!("/api/campaigns/{id}")).await, 200).await;
        assert!(resumed["data"]["status_reason"].is_null(), "{resumed}");
        let done = wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        assert_eq!(done["sent"], 2, "{done}");
    }
}

on_both_backends! {
    async fn one_readers_failing_message_fails_that_reader_and_previews_show_a_real_reader(app) {
        let list = app.create_list("Daily", "single").await;
        app.create_subscriber(json!({"email": "a@example.com", "name": "A", "lists": [list], "attribs": {"city": "İzmir"}})).await;
        app.create_subscriber(json!({"email": "b@example.com", "name": "B", "lists": [list]})).await;
        let id = create_campaign(&app, &[list], json!({"body": "News for {{ subscriber.attribs.city }}"})).await;
        // The preview renders as the campaign's first reader, who has a city.
        let html = app.get(&format!("/api/campaigns/{id}/preview")).await.text().await.unwrap();
        assert!(html.contains("News for İzmir"), "{html}");
        expect_status(set_status(&app, id, "running").await, 200).await;
        let done = wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        assert_eq!((done["sent"].as_i64(), done["failed"].as_i64()), (Some(1), Some(1)), "{done}");
    }
}

// 2. Roles mean something.
on_both_backends! {
    async fn a_viewer_reads_and_is_refused_every_change_and_every_readers_message(app) {
        let viewer = api_token(&app, "viewer", bulten::ops::users::Role::Viewer).await;
        let editor = api_token(&app, "editor", bulten::ops::users::Role::Editor).await;
        for (method, path, permission) in bulten::web::protected_route_table() {
            let path = path.replace("{id}", "1").replace("{uuid}", "00000000-0000-0000-0000-000000000000");
            let method = Method::from_bytes(method.as_str().as_bytes()).unwrap();
            let response = app.client.request(method.clone(), format!("{}{path}", app.url))
                .header("Authorization", &viewer)
                .header("Content-Type", "application/json")
                .body("{}")
                .send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if permission.is_read_only() {
                assert!(status != 403 && status < 500, "{method} {path}: a viewer may read ({status} {body})");
            } else {
                assert_eq!(status, 403, "{method} {path}: a viewer may not ({body})");
                assert!(body["message"].as_str().unwrap().contains(permission.as_str()), "{body}");
            }
        }
        // An editor writes.
        let created = app.client.post(format!("{}/api/lists", app.url))
            .header("Authorization", &editor)
            .json(&json!({"name": "Desk", "type": "public", "optin": "single"}))
            .send().await.unwrap();
        assert_eq!(created.status(), 200);
    }
}

// 4. One preference link cannot mail anyone it likes.
on_both_backends! {
    with |s| { s.altcha_cost = 20; s.confirmation_resend_secs = 0; s.signup_attempts_per_address_per_hour = 2; };
    async fn a_preference_link_asks_for_a_change_of_address_only_a_few_times_an_hour(app) {
        let list = app.create_list("News", "single").await;
        let id = app.create_subscriber(json!({"email": "owner@example.com", "name": "O", "lists": [list]})).await;
        let uuid = expect_status(app.get(&format!("/api/subscribers/{id}")).await, 200).await["data"]["uuid"].as_str().unwrap().to_owned();
        let db = app.connect_db().await;
        let key = bulten::db::secrets::get_or_create(&db, "signing_key", bulten::mail::tokens::Signer::generate_key).await.unwrap();
        let signer = bulten::mail::tokens::Signer::new(key.into_bytes());
        let manage = format!("/m/{}", signer.manage_token(uuid::Uuid::parse_str(&uuid).unwrap()));
        for n in 0..2 {
            let (pow, _) = solved_payload(&app).await;
            let target = format!("target{n}@example.com");
            let (status, page) = app.post_form(&manage, &[("action", "change_email"), ("new_email", &target), ("altcha", &pow)], "en").await;
            assert_eq!(status, 200, "{page}");
        }
        let (pow, _) = solved_payload(&app).await;
        let (status, page) = app.post_form(&manage, &[("action", "change_email"), ("new_email", "target9@example.com"), ("altcha", &pow)], "en").await;
        assert_eq!(status, 429, "{page}");
        wait_for_mail(&app, "target1@example.com", 1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(crate::mailbox::mail_to(&app, "target9@example.com").await.is_empty());
    }
}

// 5. A stranger cannot undo a reader's own opt-out.
on_both_backends! {
    with |s| { s.altcha_cost = 20; s.confirmation_resend_secs = 0; };
    async fn a_public_signup_never_resubscribes_a_reader_who_left(app) {
        let list = app.create_list("Single", "single").await;
        let uuid = app.list_uuid(list).await;
        let id = app.create_subscriber(json!({"email": "left@example.com", "name": "L", "lists": [list]})).await;
        expect_status(app.put_json("/api/subscribers/lists", &json!({"ids": [id], "action": "unsubscribe", "target_list_ids": [list]})).await, 200).await;
        let status = |app: &TestApp| {
            let (app_url, client, auth) = (app.url.clone(), app.client.clone(), app.auth_header());
            async move {
                let body: Value = client.get(format!("{app_url}/api/subscribers/{id}")).header("Authorization", auth)
                    .send().await.unwrap().json().await.unwrap();
                body["data"]["lists"][0]["subscription_status"].as_str().unwrap().to_owned()
            }
        };
        assert_eq!(status(&app).await, "unsubscribed");

        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "left@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        assert_eq!(status(&app).await, "unsubscribed", "still out until the reader confirms");
        let list_campaign = create_campaign(&app, &[list], json!({})).await;
        expect_status(set_status(&app, list_campaign, "running").await, 200).await;
        let done = wait_campaign(&app, list_campaign, Duration::from_secs(20), |c| c["status"] == "finished").await;
        assert_eq!(done["to_send"], 0, "nobody to send to: {done}");

        let mail = wait_for_mail(&app, "left@example.com", 1).await;
        let confirm = link(&mail[0].text, "/subscription/confirm/");
        let (code, page) = app.post_form(&confirm, &[], "en").await;
        assert_eq!(code, 200, "{page}");
        assert_eq!(status(&app).await, "confirmed", "the reader's own confirmation brings them back");
    }
}

// 6. The client does not choose its own address.
on_both_backends! {
    with |s| { s.altcha_cost = 20; s.client_ip_header = Some("X-Forwarded-For".into()); s.consent_ip = bulten::ops::reader::IpRecord::Store; };
    async fn a_forged_forwarded_for_entry_is_not_taken_for_the_readers_address(app) {
        let list = app.create_list("News", "single").await;
        let uuid = app.list_uuid(list).await;
        let (pow, _) = solved_payload(&app).await;
        let response = app.public(Method::POST, "/api/public/subscription", "en")
            .header("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
            .json(&json!({"email": "xff@example.com", "list_uuids": [uuid], "altcha": pow}))
            .send().await.unwrap();
        expect_status(response, 200).await;
        // A proxy that adds a header line of its own, after the client's.
        let (pow, _) = solved_payload(&app).await;
        let response = app.public(Method::POST, "/api/public/subscription", "en")
            .header("X-Forwarded-For", "6.6.6.6")
            .header("X-Forwarded-For", "198.51.100.9")
            .json(&json!({"email": "xff2@example.com", "list_uuids": [uuid], "altcha": pow}))
            .send().await.unwrap();
        expect_status(response, 200).await;
        let consents = expect_status(app.get("/api/consents?per_page=all").await, 200).await;
        let ips: Vec<&str> = consents["data"]["results"].as_array().unwrap().iter().map(|c| c["ip"].as_str().unwrap()).collect();
        assert!(ips.contains(&"203.0.113.7") && ips.contains(&"198.51.100.9"), "{ips:?}");
        assert!(!ips.contains(&"6.6.6.6"), "{ips:?}");
    }
}

// 7. Exported names cannot run as spreadsheet formulas, and come back as they were.
on_both_backends! {
    async fn exported_formulas_are_inert_and_import_back_unchanged(app) {
        let list = app.create_list("News", "single").await;
        let names = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1", "@SUM(A1)", "-Ali", "Ayşe"];
        for (i, name) in names.iter().enumerate() {
            app.create_subscriber(json!({"email": format!("f{i}@example.com"), "name": name, "lists": [list]})).await;
        }
        let export = app.cli(&["subscribers", "export"]);
        assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
        let csv = String::from_utf8(export.stdout).unwrap();
        assert!(csv.contains("\"'=HYPERLINK("), "{csv}");
        assert!(csv.contains(",'+1,") && csv.contains(",'@SUM(A1),") && csv.contains(",'-Ali,"), "{csv}");
        assert!(!csv.lines().any(|l| l.split(',').any(|cell| cell.starts_with('=') || cell.starts_with("\"="))), "{csv}");
        // Deleting them all and importing the export gives the same names back.
        let ids: Vec<String> = (0..names.len()).map(|i| format!("f{i}@example.com")).collect();
        for email in &ids {
            let query = urlencode(&format!("subscribers.email = '{email}'"));
            let found = expect_status(app.get(&format!("/api/subscribers?query={query}")).await, 200).await;
            let id = found["data"]["results"][0]["id"].as_i64().unwrap();
            expect_status(app.delete(&format!("/api/subscribers/{id}")).await, 200).await;
        }
        let (_dir, path) = crate::helpers::temp_file("export.csv", csv.as_bytes());
        let import = app.cli(&["subscribers", "import", path.to_str().unwrap(), "--list", &list.to_string()]);
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        for (i, name) in names.iter().enumerate() {
            let query = urlencode(&format!("subscribers.email = 'f{i}@example.com'"));
            let found = expect_status(app.get(&format!("/api/subscribers?query={query}")).await, 200).await;
            assert_eq!(found["data"]["results"][0]["name"], *name);
        }
    }
}

// 8. Slow clients are dropped; the server keeps answering others.
on_both_backends! {
    with |s| { s.http_max_connections = 64; s.http_header_timeout_secs = 1; };
    async fn half_sent_requests_are_dropped_and_the_server_keeps_answering(app) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = app.url.trim_start_matches("http://").to_owned();
        let mut idle = Vec::new();
        for i in 0..200 {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            if i % 2 == 0 {
                stream.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
            }
            idle.push(stream);
        }
        // Every slot is taken by a slow client; within a few header timeouts they are closed
        // and a real request gets through.
        let started = std::time::Instant::now();
        alive(&app).await;
        assert!(started.elapsed() < Duration::from_secs(10), "answered in {:?}", started.elapsed());
        // The slow connections were closed by the server (after a 408, for a half-sent one).
        for stream in idle.iter_mut().take(20) {
            let closed = tokio::time::timeout(Duration::from_secs(5), async {
                let mut buf = [0u8; 256];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            assert!(closed.is_ok(), "a slow connection is closed");
        }
        // A keep-alive connection that goes quiet after a request is closed too.
        let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
        kept.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut answer = [0u8; 512];
        let n = kept.read(&mut answer).await.unwrap();
        assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match kept.read(&mut answer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "an idle keep-alive connection is closed");
    }
}

// 9. Refused uploads do not stay on disk.
on_both_backends! {
    async fn a_refused_import_upload_is_removed_from_disk(app) {
        let csv = b"email,name\na@example.com,A\n".to_vec();
        for params in [r#"{"mode": "subscribe", "lists": [999]}"#, r#"{"mode": "subscribe", "delim": "ab"}"#, "not json"] {
            let form = reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(csv.clone()).file_name("a.csv"))
                .text("params", params.to_owned());
            let response = app.request(Method::POST, "/api/import/subscribers").multipart(form).send().await.unwrap();
            assert_eq!(response.status(), 400, "{params}");
        }
        let uploads = app.data_dir.join("uploads");
        let left: Vec<_> = std::fs::read_dir(&uploads).map(|d| d.flatten().collect()).unwrap_or_default();
        assert!(left.is_empty(), "left on disk: {left:?}");
    }
}

// 10. Hostile filters and text get a 4xx, and a filter means the same on both databases.
on_both_backends! {
    async fn hostile_filters_and_nul_bytes_get_a_client_error(app) {
        let list = app.create_list("News", "single").await;
        app.create_subscriber(json!({"email": "n@example.com", "name": "N", "lists": [list], "attribs": {"age": 30, "n": "7", "i": 999, "$x": "dollar", "a.b": "dotted", "flag": true}})).await;
        app.create_subscriber(json!({"email": "t@example.com", "name": "T", "lists": [list], "attribs": {"age": "thirty", "n": "seven"}})).await;
        let count = |q: &'static str| {
            let path = format!("/api/subscribers?per_page=1&query={}", urlencode(q));
            let (client, url, auth) = (app.client.clone(), app.url.clone(), app.auth_header());
            async move {
                let response = client.get(format!("{url}{path}")).header("Authorization", auth).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (status, body["data"]["total"].as_i64().unwrap_or(-1))
            }
        };
        assert_eq!(count("subscribers.attribs->>'age' >= 18").await, (200, 1), "non-numbers are no match, not a 500");
        assert_eq!(count("(attribs->>'n')::int = 7").await, (200, 1));
        assert_eq!(count("attribs->>'age' IN (1, 30)").await, (200, 1));
        assert_eq!(count("attribs->>'i' = '999'").await, (200, 1), "a number's text matches on both");
        assert_eq!(count("attribs->>'$x' = 'dollar'").await, (200, 1), "a $ key is a key");
        assert_eq!(count("attribs->>'a.b' = 'dotted'").await, (200, 1), "a dotted key is a key");
        assert_eq!(count("attribs->>'flag' = 'true'").await, (200, 1));
        app.create_subscriber(json!({"email": "big@example.com", "name": "B", "attribs": {"big": format!("1{}", "0".repeat(250))}})).await;
        assert_eq!(count("attribs->>'big' > 1").await, (200, 1), "a number too large for a double");
        assert_eq!(count("attribs->>'flag' = true").await, (200, 1));
        assert_eq!(count("name LIKE '%\\_%'").await, (200, 0), "backslash escapes");
        assert_eq!(count("name LIKE 'N\\'").await.0, 400);
        let deep = format!("attribs{}->>'k' = 'x'", "->'k'".repeat(40));
        let path = format!("/api/subscribers?query={}", urlencode(&deep));
        assert_eq!(app.get(&path).await.status(), 400);
        for path in [
            "/api/subscribers?query=name%20%3D%20%27a%00%27",
            "/api/lists?query=a%00",
            "/api/lists?tag=a%00",
            "/api/campaigns?query=a%00",
        ] {
            assert_eq!(app.get(path).await.status(), 400, "{path}");
        }
        for (path, body) in [
            ("/api/subscribers", json!({"email": "nul@example.com", "name": "x", "attribs": {"a": "b\u{0}"}})),
            ("/api/templates", json!({"name": "t\u{0}", "type": "campaign", "body": "{{ content }}"})),
            ("/api/lists", json!({"name": "l\u{0}", "type": "public", "optin": "single"})),
        ] {
            let answer = expect_status(app.post_json(path, &body).await, 400).await;
            assert!(answer["message"].as_str().unwrap().contains("NUL"), "{path}: {answer}");
        }
    }
}

// 11. One bad row is one refused row, with its line.
on_both_backends! {
    async fn a_row_with_a_nul_in_its_attributes_is_refused_alone_with_its_line(app) {
        let list = app.create_list("News", "single").await;
        let csv = "email,name,attributes\ngood1@example.com,A,{}\nbad@example.com,B,\"{\"\"a\"\": \"\"x\\u0000\"\"}\"\ngood2@example.com,C,{}\n";
        let (_dir, path) = crate::helpers::temp_file("nul.csv", csv.as_bytes());
        let import = app.cli(&["subscribers", "import", path.to_str().unwrap(), "--list", &list.to_string()]);
        let output = format!("{}{}", String::from_utf8_lossy(&import.stdout), String::from_utf8_lossy(&import.stderr));
        assert!(output.contains("line 3"), "{output}");
        assert_eq!(app.count("email LIKE 'good%'").await, 2);
        assert_eq!(app.count("email = 'bad@example.com'").await, 0);
    }
}

// 12. Custom headers of transactional mail are folded and encoded; NUL is refused.
on_both_backends! {
    async fn transactional_headers_are_folded_encoded_and_never_carry_nul(app) {
        let list = app.create_list("News", "single").await;
        let id = app.create_subscriber(json!({"email": "tx@example.com", "name": "T", "lists": [list]})).await;
        let template = expect_status(app.post_json("/api/templates", &json!({"name": "Tx", "type": "tx", "subject": "Hi", "body": "Hello"})).await, 200).await["data"]["id"].as_i64().unwrap();
        let long = "x".repeat(5_008);
        let sent = app.post_json("/api/tx", &json!({"subscriber_id": id, "template_id": template, "headers": [{"X-Long": long}, {"X-Turkish": "Günaydın İzmir"}]})).await;
        expect_status(sent, 200).await;
        let mail = {
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            loop {
                let messages = outbox(&app).await;
                if let Some(m) = messages.first() { break m.clone(); }
                assert!(std::time::Instant::now() < deadline);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let raw = mail["raw"].as_str().unwrap();
        assert!(raw.lines().all(|l| l.len() <= 998), "every line within RFC 5322's limit");
        assert!(raw.is_ascii(), "8-bit header text is encoded");
        let parsed = mail_parser::MessageParser::new().with_mime_headers().default_header_text().parse(raw.as_bytes()).unwrap();
        assert_eq!(parsed.header("X-Turkish").unwrap().as_text(), Some("Günaydın İzmir"));
        let refused = app.post_json("/api/tx", &json!({"subscriber_id": id, "template_id": template, "headers": [{"X-Bad": "a\u{0}b"}]})).await;
        expect_status(refused, 400).await;
    }
}

// 13. Every page forbids framing and foreign scripts.
on_both_backends! {
    async fn every_page_has_a_strict_content_security_policy_and_refuses_framing(app) {
        for path in ["/subscription/form", "/subscription/manage", "/u/not-a-token", "/api/health"] {
            let response = app.client.get(format!("{}{path}", app.url)).send().await.unwrap();
            let csp = response.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{path}: {csp}");
            assert_eq!(response.headers()["x-frame-options"], "DENY", "{path}");
        }
    }
}

// 14. Only the owner reads the data directory.
#[cfg(unix)]
on_both_backends! {
    async fn the_data_directory_the_database_and_uploads_are_private(app) {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let list = app.create_list("News", "single").await;
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(vec![b'x'; 10]).file_name("a.csv"))
            .text("params", format!(r#"{{"mode": "subscribe", "lists": [{list}]}}"#));
        app.request(Method::POST, "/api/import/subscribers").multipart(form).send().await.unwrap();
        assert_eq!(mode(&app.data_dir.join("uploads")), 0o700);
        assert_eq!(mode(&app.data_dir), 0o700);
        if app.database_url.is_none() {
            let db = app.data_dir.join("bulten.db");
            assert_eq!(mode(&db), 0o600);
            let wal = app.data_dir.join("bulten.db-wal");
            if wal.exists() {
                assert_eq!(mode(&wal), 0o600);
            }
        }
    }
}

// 15. The token mailbox providers see only unsubscribes.
on_both_backends! {
    async fn the_list_unsubscribe_token_does_not_open_the_preference_centre(app) {
        let list = app.create_list("Daily", "single").await;
        app.create_subscriber(json!({"email": "r@example.com", "name": "R", "lists": [list]})).await;
        let id = create_campaign(&app, &[list], json!({"body": "[Prefs]({{ manage_url() }})"})).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        let raw = outbox(&app).await[0]["raw"].as_str().unwrap().to_owned();
        let url = header(&raw, "List-Unsubscribe").unwrap();
        let token = &url[url.find("/u/").unwrap() + 3..url.find('>').unwrap()];
        let (status, page) = app.page(&format!("/m/{token}"), "en").await;
        assert_eq!(status, 400, "{page}");
        let (status, page) = app.page(&format!("/u/{token}"), "en").await;
        assert_eq!(status, 200);
        assert!(!page.contains("/m/"), "the unsubscribe page does not hand out the preference link: {page}");
        // The preference link in the body still opens it.
        let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        let manage = link(&parsed.body_text(0).unwrap(), "/m/");
        let (status, _) = app.page(&manage, "en").await;
        assert_eq!(status, 200);
    }
}

// 17. Smaller ones.
on_both_backends! {
    async fn a_deleted_records_id_is_never_given_to_another(app) {
        let first = app.create_subscriber(json!({"email": "gone@example.com", "name": "G"})).await;
        expect_status(app.delete(&format!("/api/subscribers/{first}")).await, 200).await;
        let next = app.create_subscriber(json!({"email": "new@example.com", "name": "N"})).await;
        assert!(next > first, "subscriber {next} after {first}");

        let list = app.create_list("Gone", "single").await;
        expect_status(app.delete(&format!("/api/lists/{list}")).await, 200).await;
        let next_list = app.create_list("New", "single").await;
        assert!(next_list > list, "list {next_list} after {list}");

        let campaign = create_campaign(&app, &[next_list], json!({})).await;
        expect_status(app.delete(&format!("/api/campaigns/{campaign}")).await, 200).await;
        let next_campaign = create_campaign(&app, &[next_list], json!({})).await;
        assert!(next_campaign > campaign, "campaign {next_campaign} after {campaign}");
    }
}

on_both_backends! {
    async fn a_reader_on_the_second_list_only_gets_that_lists_list_id(app) {
        let first = app.create_list("First", "single").await;
        let second = app.create_list("Second", "single").await;
        app.create_subscriber(json!({"email": "two@example.com", "name": "Two", "lists": [second]})).await;
        let id = create_campaign(&app, &[first, second], json!({})).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        let raw = outbox(&app).await[0]["raw"].as_str().unwrap().to_owned();
        let list_id = header(&raw, "List-Id").unwrap();
        assert!(list_id.contains("Second") && list_id.contains(&format!("list-{second}.")), "{list_id}");
    }
}

on_both_backends! {
    async fn search_finds_readers_by_name_or_address_as_listmonk_does(app) {
        app.create_subscriber(json!({"email": "ayse@example.com", "name": "Ayşe Yılmaz"})).await;
        app.create_subscriber(json!({"email": "mehmet@haber.example", "name": "Mehmet"})).await;
        app.create_subscriber(json!({"email": "under_score@example.com", "name": "U"})).await;
        let total = |search: &'static str| {
            let (client, url, auth) = (app.client.clone(), app.url.clone(), app.auth_header());
            async move {
                let body: Value = client.get(format!("{url}/api/subscribers?search={}", urlencode(search)))
                    .header("Authorization", auth).send().await.unwrap().json().await.unwrap();
                (body["data"]["total"].as_i64().unwrap(), body["data"]["search"].as_str().unwrap().to_owned())
            }
        };
        assert_eq!(total("yılmaz").await.0, 1);
        assert_eq!(total("HABER").await, (1, "HABER".into()));
        assert_eq!(total("_").await.0, 1, "an underscore is a letter, not a wildcard");
        assert_eq!(total("").await.0, 3);
    }
}

on_both_backends! {
    async fn names_that_reorder_text_are_refused(app) {
        let answer = expect_status(app.post_json("/api/subscribers", &json!({"email": "bidi@example.com", "name": "Ali\u{202E}moc.live@"})).await, 400).await;
        assert!(answer["message"].as_str().unwrap().contains("control character"), "{answer}");
    }
}

on_both_backends! {
    async fn the_api_refuses_cross_site_changes_and_never_asks_a_browser_for_credentials(app) {
        let unauthenticated = app.client.get(format!("{}/api/lists", app.url)).send().await.unwrap();
        assert_eq!(unauthenticated.status(), 401);
        assert!(unauthenticated.headers().get("www-authenticate").is_none());
        for (name, value) in [("Sec-Fetch-Site", "cross-site"), ("Origin", "https://evil.example")] {
            let response = app.request(Method::POST, "/api/lists")
                .header(name, value)
                .json(&json!({"name": "Evil", "type": "public"}))
                .send().await.unwrap();
            assert_eq!(response.status(), 403, "{name}: {value}");
        }
        let same = app.request(Method::POST, "/api/lists")
            .header("Sec-Fetch-Site", "same-origin")
            .json(&json!({"name": "Desk", "type": "public"}))
            .send().await.unwrap();
        assert_eq!(same.status(), 200);
        // The public signup stays open to the publisher's pages.
        let challenge = app.client.get(format!("{}/api/public/captcha/altcha", app.url))
            .header("Origin", "https://news.example").send().await.unwrap();
        assert_eq!(challenge.status(), 200);
        assert!(challenge.headers().get("access-control-allow-origin").is_some());
        let api = app.request(Method::GET, "/api/lists").header("Origin", "https://news.example").send().await.unwrap();
        assert!(api.headers().get("access-control-allow-origin").is_none(), "the authenticated API answers no CORS");
    }
}

on_both_backends! {
    async fn every_reader_comes_back_when_the_whole_list_is_asked_for(app) {
        let list = app.create_list("News", "single").await;
        for i in [0, 500, 1000, 1500, 2000] {
            app.create_subscriber(json!({"email": format!("api{i}@example.com"), "name": "A", "lists": [list]})).await;
        }
        let csv: String = std::iter::once("email,name\n".to_owned())
            .chain((0..2_500).map(|i| format!("r{i}@example.com,Reader {i}\n")))
            .collect();
        let (_dir, path) = crate::helpers::temp_file("many.csv", csv.as_bytes());
        let import = app.cli(&["subscribers", "import", path.to_str().unwrap(), "--list", &list.to_string()]);
        assert!(import.status.success());
        let body = expect_status(app.get("/api/subscribers?per_page=all&order_by=email").await, 200).await;
        let results = body["data"]["results"].as_array().unwrap();
        assert_eq!(results.len(), 2_505);
        assert_eq!(body["data"]["total"], 2_505);
        assert_eq!(results[0]["email"], "api0@example.com");
        assert_eq!(results[0]["lists"][0]["id"], list);
        let mut emails: Vec<&str> = results.iter().map(|r| r["email"].as_str().unwrap()).collect();
        let sorted = { let mut s = emails.clone(); s.sort(); s };
        assert_eq!(emails, sorted, "in the order asked for");
        emails.dedup();
        assert_eq!(emails.len(), 2_505, "each once");
    }
}

// 3. The embedded form works on the publisher's own site, in a real browser.
on_both_backends! {
    with |s| { s.altcha_cost = 1000; };
    async fn the_embedded_form_signs_a_reader_up_from_a_page_on_another_origin(app) {
        let list = app.create_list("Gündem", "double").await;
        // The snippet exactly as bulten's embed page shows it, unescaped as a publisher
        // copying it from the page gets it.
        let (status, page) = app.page("/subscription/embed", "tr").await;
        assert_eq!(status, 200);
        let start = page.find("<pre><code>").unwrap() + "<pre><code>".len();
        let end = page[start..].find("</code></pre>").unwrap() + start;
        let shown = &page[start..end];
        assert!(!shown.contains("&amp;#x2f;") && !shown.contains("&#x2f;"), "the snippet reads as clean HTML: {shown}");
        let snippet = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
        assert!(snippet.contains(&format!("action=\"{}/subscription/form\"", app.url)), "{snippet}");
        assert!(snippet.contains(&format!("src=\"{}/public/altcha.min.js\"", app.url)), "{snippet}");
        assert!(snippet.contains(&format!("challenge=\"{}/api/public/captcha/altcha\"", app.url)), "{snippet}");

        let site = format!("<!doctype html><html lang=\"tr\"><head><meta charset=\"utf-8\"><title>Haber</title></head><body><h1>Haber sitesi</h1><article>Bir haber.</article><aside>{snippet}</aside></body></html>");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let publisher = format!("http://{}", listener.local_addr().unwrap());
        let router = axum::Router::new().route("/haber", axum::routing::get(move || {
            let site = site.clone();
            async move { axum::response::Html(site) }
        }));
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

        let backend = if app.database_url.is_some() { "postgres" } else { "sqlite" };
        let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots").join(backend);
        crate::browser::run_script("embed.mjs", &[
            ("PAGE_URL", format!("{publisher}/haber")),
            ("BASE_URL", app.url.clone()),
            ("EMAIL", "gomulu@example.com".into()),
            ("SHOTS", shots.display().to_string()),
        ]).await;
        server.abort();

        let query = urlencode("subscribers.email = 'gomulu@example.com'");
        let found = expect_status(app.get(&format!("/api/subscribers?query={query}")).await, 200).await;
        let subscriber = &found["data"]["results"][0];
        assert_eq!(subscriber["lists"][0]["id"], list);
        assert_eq!(subscriber["lists"][0]["subscription_status"], "unconfirmed");
        let mail = wait_for_mail(&app, "gomulu@example.com", 1).await;
        assert!(mail[0].text.contains("/subscription/confirm/"), "the confirmation is queued");
        let consents = expect_status(app.get("/api/consents?per_page=all").await, 200).await;
        assert_eq!(consents["data"]["results"][0]["source"], "embed");
    }
}

on_both_backends! {
    /// The outbox listed a transactional message's Subject as it travels, RFC 2047-encoded
    /// (`=?utf-8?b?…?=`), for any subject beyond ASCII.
    async fn the_outbox_lists_a_turkish_transactional_subject_as_written(app) {
        let list = app.create_list("Gündem", "single").await;
        app.create_subscriber(json!({"email": "okur@example.com", "name": "Okur", "lists": [list]})).await;
        let templates = expect_status(app.get("/api/templates").await, 200).await;
        let tx = templates["data"].as_array().unwrap().iter().find(|t| t["type"] == "tx").unwrap()["id"].as_i64().unwrap();
        let subject = "Şifreniz: İzmir'den günaydın, ığdır çağrısı";
        expect_status(
            app.post_json("/api/tx", &json!({"subscriber_email": "okur@example.com", "template_id": tx, "subject": subject, "data": {}})).await,
            200,
        )
        .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let listed = loop {
            let page = expect_status(app.get("/api/outbox?to=okur@example.com").await, 200).await;
            if let Some(first) = page["data"]["results"].as_array().and_then(|r| r.first()).cloned() {
                break first;
            }
            assert!(std::time::Instant::now() < deadline, "the message reached the outbox");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(listed["subject"], subject);
    }
}

on_both_backends! {
    /// A body refused as too large is left unread and the server closes the connection; the
    /// answer did not say so, and the client's next request on that connection failed
    /// half-sent.
    async fn a_refused_oversized_body_closes_its_connection_and_the_next_request_is_answered(app) {
        for _ in 0..5 {
            let response = app
                .public(Method::POST, "/api/public/subscription", "en")
                .header("Content-Type", "application/json")
                .body(vec![b'a'; 200_000])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 413);
            assert_eq!(response.headers()["connection"], "close");
            expect_status(app.get("/api/subscribers?per_page=1").await, 200).await;
        }
    }
}
