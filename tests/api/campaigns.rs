//! Campaigns: listmonk's endpoints, the status rules, and a whole send into the outbox (the
//! transport used when no SMTP relay is configured): who gets a copy, what a copy carries,
//! and the one-click unsubscribe it offers.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_status, on_both_backends};

/// Creates a campaign on `lists` and returns its ID.
pub(crate) async fn create_campaign(app: &TestApp, lists: &[i64], extra: Value) -> i64 {
    let mut body = json!({
        "name": "Morning briefing",
        "subject": "Good morning {{ subscriber.name }}",
        "lists": lists,
        "from_email": "Haber Merkezi <bulten@haber.example>",
        "content_type": "markdown",
        "body": "# Today\n\nHello **{{ subscriber.name }}**, here is the news.",
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            body.insert(k.clone(), v.clone());
        }
    }
    let created = expect_status(app.post_json("/api/campaigns", &body).await, 200).await;
    created["data"]["id"].as_i64().expect("a campaign ID")
}

pub(crate) async fn set_status(app: &TestApp, id: i64, status: &str) -> reqwest::Response {
    app.put_json(
        &format!("/api/campaigns/{id}/status"),
        &json!({"status": status}),
    )
    .await
}

/// Polls the campaign until `done` holds for it, or fails after `timeout`.
pub(crate) async fn wait_campaign(
    app: &TestApp,
    id: i64,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let campaign =
            expect_status(app.get(&format!("/api/campaigns/{id}")).await, 200).await["data"]
                .clone();
        if done(&campaign) {
            return campaign;
        }
        assert!(
            Instant::now() < deadline,
            "campaign did not get there in time: {campaign}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every message in the outbox, newest first, with its raw text.
pub(crate) async fn outbox(app: &TestApp) -> Vec<Value> {
    let list = expect_status(app.get("/api/outbox?per_page=all").await, 200).await;
    let mut messages = Vec::new();
    for item in list["data"]["results"].as_array().unwrap() {
        let id = item["id"].as_i64().unwrap();
        messages.push(
            expect_status(app.get(&format!("/api/outbox/{id}")).await, 200).await["data"].clone(),
        );
    }
    messages
}

/// The value of a header in a raw message (first occurrence, unfolded).
pub(crate) fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push_str(line.trim_start());
                continue;
            }
            return value;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

on_both_backends! {
    async fn a_campaign_reaches_each_eligible_subscriber_once(app) {
        let single = app.create_list("Türkiye", "single").await;
        let double = app.create_list("World", "double").await;
        // Single opt-in, unconfirmed: gets it.
        app.create_subscriber(json!({"email": "one@example.com", "name": "One", "lists": [single]})).await;
        // In both lists, confirmed: gets one copy.
        app.create_subscriber(json!({"email": "two@example.com", "name": "İki", "lists": [single, double],
                                     "preconfirm_subscriptions": true})).await;
        // Double opt-in, unconfirmed: not yet.
        app.create_subscriber(json!({"email": "three@example.com", "name": "Three", "lists": [double]})).await;
        // Blocklisted: never.
        app.create_subscriber(json!({"email": "four@example.com", "name": "Four", "lists": [single],
                                     "status": "blocklisted"})).await;
        // Unsubscribed: no more.
        let five = app.create_subscriber(json!({"email": "five@example.com", "name": "Five", "lists": [single]})).await;
        expect_status(app.put_json("/api/subscribers/lists",
            &json!({"ids": [five], "action": "unsubscribe", "target_list_ids": [single]})).await, 200).await;

        let id = create_campaign(&app, &[single, double], json!({})).await;
        let started = expect_status(set_status(&app, id, "running").await, 200).await;
        assert_eq!(started["data"]["to_send"], 2);
        let done = wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        assert_eq!(done["sent"], 2);

        let messages = outbox(&app).await;
        let mut to: Vec<&str> = messages.iter().map(|m| m["to"].as_str().unwrap()).collect();
        to.sort_unstable();
        assert_eq!(to, vec!["one@example.com", "two@example.com"]);
        let two = messages.iter().find(|m| m["to"] == "two@example.com").unwrap();
        assert_eq!(two["subject"], "Good morning İki");
        let raw = two["raw"].as_str().unwrap();
        assert!(header(raw, "List-Unsubscribe").unwrap().contains("/u/"), "{raw}");
        assert_eq!(header(raw, "List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
        assert_eq!(header(raw, "Precedence").as_deref(), Some("bulk"));
        assert!(header(raw, "List-Id").unwrap().contains("Türkiye") || header(raw, "List-Id").unwrap().contains("<list-"));
        assert!(header(raw, "Feedback-ID").unwrap().starts_with(&format!("{id}:")));
        assert!(header(raw, "Message-ID").unwrap().ends_with("@haber.example>"));
        assert!(two["from"].as_str().unwrap().starts_with("bounces+"), "VERP return path");
        assert!(raw.contains("multipart/alternative"));
    }
}

on_both_backends! {
    async fn one_click_unsubscribes_and_a_get_changes_nothing(app) {
        let list = app.create_list("Daily", "single").await;
        let sub = app.create_subscriber(json!({"email": "reader@example.com", "name": "R", "lists": [list]})).await;
        let id = create_campaign(&app, &[list], json!({})).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        let raw = outbox(&app).await[0]["raw"].as_str().unwrap().to_owned();
        let url = header(&raw, "List-Unsubscribe").unwrap();
        let path = &url[url.find("/u/").unwrap()..url.find('>').unwrap()];

        let status_of = |app: &TestApp| {
            let path = format!("/api/subscribers/{sub}");
            let app_url = app.url.clone();
            let client = app.client.clone();
            let auth = app.auth_header();
            async move {
                let body: Value = client.get(format!("{app_url}{path}")).header("Authorization", auth)
                    .send().await.unwrap().json().await.unwrap();
                body["data"]["lists"][0]["subscription_status"].as_str().unwrap().to_owned()
            }
        };

        // A link scanner's GET shows a page and unsubscribes nobody.
        let page = app.client.get(format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("<form method=\"post\""));
        assert_eq!(status_of(&app).await, "confirmed");

        // RFC 8058: a POST with no cookie and no credentials; 200, no redirect, no cookie.
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = client
            .post(format!("{}{path}", app.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("set-cookie").is_none());
        assert!(response.headers().get("location").is_none());
        assert_eq!(status_of(&app).await, "unsubscribed");

        // Again: still fine (idempotent). A forged token: refused.
        let again = client.post(format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(again.status(), 200);
        let forged = client.post(format!("{}/u/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", app.url)).send().await.unwrap();
        assert_eq!(forged.status(), 400);
    }
}

on_both_backends! {
    async fn campaigns_move_only_along_the_legal_statuses(app) {
        let list = app.create_list("Daily", "single").await;
        let id = create_campaign(&app, &[list], json!({})).await;
        let campaign = expect_status(app.get(&format!("/api/campaigns/{id}")).await, 200).await;
        assert_eq!(campaign["data"]["status"], "draft");
        assert!(campaign["data"]["template_id"].is_i64(), "template_id is always a number");
        assert_eq!(campaign["data"]["lists"][0]["id"], list);

        let illegal = expect_status(set_status(&app, id, "finished").await, 400).await;
        assert!(illegal["message"].as_str().unwrap().contains("cannot become finished"));
        let no_time = expect_status(set_status(&app, id, "scheduled").await, 400).await;
        assert!(no_time["message"].as_str().unwrap().contains("send_at"));

        expect_status(set_status(&app, id, "running").await, 200).await;
        expect_status(set_status(&app, id, "draft").await, 400).await;
        let finished = wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        let edit = expect_status(app.put_json(&format!("/api/campaigns/{id}"), &json!({"subject": "changed"})).await, 400).await;
        assert!(edit["message"].as_str().unwrap().contains("cannot be edited"));
        expect_status(set_status(&app, id, "running").await, 400).await;
        assert_eq!(finished["to_send"], 0);

        let stats = expect_status(app.get("/api/campaigns/running/stats").await, 200).await;
        assert!(stats["data"].as_array().unwrap().is_empty());
    }
}

on_both_backends! {
    async fn campaigns_are_checked_when_saved(app) {
        let list = app.create_list("Daily", "single").await;
        let cases = [
            (json!({"name": "x", "subject": "s", "lists": [], "body": "b"}), "list"),
            (json!({"name": "x", "subject": "s", "lists": [9999], "body": "b"}), "9999"),
            (json!({"name": "x", "subject": "s", "lists": [list], "body": "{% if %}"}), "template error"),
            (json!({"name": "x", "subject": "s", "lists": [list], "body": "b", "from_email": "not an address"}), "sender"),
            (json!({"name": "x", "subject": "s", "lists": [list], "body": "b", "template_id": 9999}), "template 9999"),
            (json!({"name": "x", "subject": "s", "lists": [list], "body": "b", "content_type": "visual"}), "content type"),
            (json!({"name": "x", "subject": "s", "lists": [list], "body": "b",
                    "headers": [{"Bcc": "spy@example.com"}]}), "Bcc"),
            (json!({"name": "x", "subject": "s", "lists": [list], "body": "b",
                    "headers": [{"X-Note": "a\r\nBcc: spy@example.com"}]}), "line break"),
            (json!({"name": "", "subject": "s", "lists": [list], "body": "b"}), "name"),
            (json!({"name": "x", "subject": "s", "lists": [list], "body": "b", "send_at": "tomorrow"}), "tomorrow"),
        ];
        for (body, needle) in cases {
            let response = app.post_json("/api/campaigns", &body).await;
            let error = expect_status(response, 400).await;
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.contains(needle), "{body} → {message}");
        }
        let malformed = app
            .request(Method::POST, "/api/campaigns")
            .header("Content-Type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(malformed.status(), 400);
    }
}

on_both_backends! {
    async fn previews_show_the_campaign_in_its_template(app) {
        let list = app.create_list("Daily", "single").await;
        let id = create_campaign(&app, &[list], json!({})).await;
        let preview = app.get(&format!("/api/campaigns/{id}/preview")).await;
        assert_eq!(preview.status(), 200);
        let html = preview.text().await.unwrap();
        assert!(html.contains("<h1") && html.contains("Hello <strong>Reader</strong>"), "{html}");
        assert!(html.contains("Unsubscribe"), "the default template's footer: {html}");

        let unsaved = app
            .post_json(&format!("/api/campaigns/{id}/preview"), &json!({"body": "<p>Draft {{ subscriber.email }}</p>", "content_type": "html"}))
            .await;
        assert!(unsaved.text().await.unwrap().contains("Draft reader@example.com"));
    }
}

on_both_backends! {
    async fn test_sends_and_transactional_mail_go_through_the_ledger(app) {
        let list = app.create_list("Daily", "single").await;
        app.create_subscriber(json!({"email": "editor@example.com", "name": "Editor", "lists": [list]})).await;
        let id = create_campaign(&app, &[list], json!({})).await;
        expect_status(
            app.post_json(&format!("/api/campaigns/{id}/test"), &json!({"subscribers": ["editor@example.com", "boss@example.com"]})).await,
            200,
        )
        .await;

        let templates = expect_status(app.get("/api/templates").await, 200).await;
        let tx_template = templates["data"].as_array().unwrap().iter().find(|t| t["type"] == "tx").unwrap()["id"].as_i64().unwrap();
        expect_status(
            app.post_json("/api/tx", &json!({"subscriber_email": "editor@example.com", "template_id": tx_template,
                "subject": "Your code", "data": {"message": "1234 <b>"}})).await,
            200,
        )
        .await;
        let unknown = expect_status(
            app.post_json("/api/tx", &json!({"subscriber_email": "nobody@example.com", "template_id": tx_template})).await,
            400,
        )
        .await;
        assert!(unknown["message"].as_str().unwrap().contains("nobody@example.com"));
        expect_status(
            app.post_json("/api/tx", &json!({"subscriber_email": "outsider@example.com", "subscriber_mode": "external",
                "template_id": tx_template, "data": {}})).await,
            200,
        )
        .await;

        let deadline = Instant::now() + Duration::from_secs(20);
        let messages = loop {
            let messages = outbox(&app).await;
            if messages.len() >= 4 || Instant::now() > deadline {
                break messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(messages.len(), 4, "{messages:?}");
        let code = messages.iter().find(|m| m["subject"] == "Your code").expect("the tx mail");
        let raw = code["raw"].as_str().unwrap();
        assert!(raw.contains("1234 &lt;b&gt;"), "data is escaped in HTML: {raw}");
        assert!(header(raw, "List-Unsubscribe").is_none(), "transactional mail is not list mail");
        let boss = messages.iter().find(|m| m["to"] == "boss@example.com").expect("a test copy to a non-subscriber");
        assert_eq!(boss["subject"], "Good morning Reader");
        // The campaign itself did not start.
        let campaign = expect_status(app.get(&format!("/api/campaigns/{id}")).await, 200).await;
        assert_eq!(campaign["data"]["status"], "draft");
    }
}

on_both_backends! {
    async fn a_scheduled_campaign_starts_at_its_time(app) {
        let list = app.create_list("Daily", "single").await;
        app.create_subscriber(json!({"email": "reader@example.com", "name": "R", "lists": [list]})).await;
        let send_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
        let send_at = send_at.format(&time::format_description::well_known::Rfc3339).unwrap();
        let id = create_campaign(&app, &[list], json!({"send_at": send_at})).await;
        let scheduled = expect_status(set_status(&app, id, "scheduled").await, 200).await;
        assert_eq!(scheduled["data"]["status"], "scheduled");
        assert!(outbox(&app).await.is_empty(), "nothing before its time");
        let done = wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        assert_eq!(done["sent"], 1);
        let started = time::OffsetDateTime::parse(done["started_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        let planned = time::OffsetDateTime::parse(&send_at, &time::format_description::well_known::Rfc3339).unwrap();
        assert!(started >= planned, "started {started} before {planned}");

        let past = expect_status(
            app.put_json(&format!("/api/campaigns/{}", create_campaign(&app, &[list], json!({})).await),
                &json!({"send_at": "2020-01-01T00:00:00Z"})).await,
            200,
        )
        .await;
        let refused = expect_status(set_status(&app, past["data"]["id"].as_i64().unwrap(), "scheduled").await, 400).await;
        assert!(refused["message"].as_str().unwrap().contains("past"));
    }
}

on_both_backends! {
    async fn suppressed_addresses_are_skipped(app) {
        let list = app.create_list("Daily", "single").await;
        app.create_subscriber(json!({"email": "kept@example.com", "name": "K", "lists": [list]})).await;
        app.create_subscriber(json!({"email": "erased@example.com", "name": "E", "lists": [list]})).await;
        // Suppressed as erasure or a complaint would: by keyed hash, under the shared key.
        let db = app.connect_db().await;
        let key = bulten::db::secrets::get_or_create(&db, "signing_key", String::new).await.unwrap();
        let hash = bulten::mail::tokens::Signer::new(key.into_bytes()).address_hash("erased@example.com");
        bulten::db::deliveries::suppress(&db, &hash, "erased").await.unwrap();
        db.close().await;

        let id = create_campaign(&app, &[list], json!({})).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        let done = wait_campaign(&app, id, Duration::from_secs(20), |c| c["status"] == "finished").await;
        assert_eq!(done["sent"], 1);
        assert_eq!(done["skipped"], 1);
        let to: Vec<String> = outbox(&app).await.iter().map(|m| m["to"].as_str().unwrap().to_owned()).collect();
        assert_eq!(to, vec!["kept@example.com"]);
    }
}

on_both_backends! {
    async fn transactional_mail_carries_attached_files(app) {
        let templates = expect_status(app.get("/api/templates").await, 200).await;
        let tx_template = templates["data"].as_array().unwrap().iter().find(|t| t["type"] == "tx").unwrap()["id"].as_i64().unwrap();
        let data = json!({"subscriber_email": "reader@example.com", "subscriber_mode": "external",
                          "template_id": tx_template, "subject": "Your invoice", "data": {"message": "Attached."}});
        let form = reqwest::multipart::Form::new()
            .text("data", data.to_string())
            .part("file", reqwest::multipart::Part::bytes(b"%PDF-1.4 invoice".to_vec())
                .file_name("fatura-kasım.pdf").mime_str("application/pdf").unwrap());
        let response = app.request(Method::POST, "/api/tx").multipart(form).send().await.unwrap();
        expect_status(response, 200).await;

        let missing = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("a.txt"));
        let response = app.request(Method::POST, "/api/tx").multipart(missing).send().await.unwrap();
        let error = expect_status(response, 400).await;
        assert!(error["message"].as_str().unwrap().contains("data"));

        let deadline = Instant::now() + Duration::from_secs(20);
        let raw = loop {
            if let Some(m) = outbox(&app).await.first() {
                break m["raw"].as_str().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "the message did not arrive");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(raw.contains("application/pdf"), "{raw}");
        assert!(raw.contains("Content-Disposition: attachment"), "{raw}");
        use base64::Engine as _;
        assert!(raw.contains(&base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 invoice")), "{raw}");
    }
}

on_both_backends! {
    with |s| { s.send_rate = Some(5); s.send_batch_size = 2; };
    async fn a_reader_who_leaves_mid_campaign_gets_nothing_more(app) {
        let list = app.create_list("Daily", "single").await;
        let mut ids = Vec::new();
        for i in 0..12 {
            ids.push(app.create_subscriber(json!({"email": format!("r{i:02}@example.com"), "name": "R", "lists": [list]})).await);
        }
        let id = create_campaign(&app, &[list], json!({})).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        // At five a second the last readers' turn comes in about two seconds.
        let (blocked, gone) = (ids[11], ids[10]);
        expect_status(app.put_json(&format!("/api/subscribers/{blocked}/blocklist"), &json!({})).await, 200).await;
        expect_status(app.put_json("/api/subscribers/lists",
            &json!({"ids": [gone], "action": "unsubscribe", "target_list_ids": [list]})).await, 200).await;
        let done = wait_campaign(&app, id, Duration::from_secs(30), |c| c["status"] == "finished").await;
        assert_eq!(done["to_send"], 12);
        assert_eq!(done["sent"], 10);
        assert_eq!(done["skipped"], 2);
        let to: Vec<String> = outbox(&app).await.iter().map(|m| m["to"].as_str().unwrap().to_owned()).collect();
        assert!(!to.contains(&"r11@example.com".to_owned()) && !to.contains(&"r10@example.com".to_owned()), "{to:?}");
    }
}

on_both_backends! {
    async fn a_rich_text_campaign_previews_as_html_and_is_deleted(app) {
        let list = app.create_list("Daily", "single").await;
        app.create_subscriber(json!({"email": "reader@example.com", "name": "R", "lists": [list]})).await;
        // Rich text from an editor is HTML.
        let id = create_campaign(&app, &[list], json!({"content_type": "richtext",
            "body": "<p>Rich <em>{{ subscriber.name }}</em></p>"})).await;
        // Previewed as the campaign's first reader.
        let preview = app.get(&format!("/api/campaigns/{id}/preview")).await.text().await.unwrap();
        assert!(preview.contains("Rich <em>R</em>"), "{preview}");
        expect_status(app.delete(&format!("/api/campaigns/{id}")).await, 200).await;
        assert_eq!(app.get(&format!("/api/campaigns/{id}")).await.status(), 404);
        assert_eq!(app.delete(&format!("/api/campaigns/{id}")).await.status(), 404);
    }
}

on_both_backends! {
    with |s| { s.send_rate = Some(5); s.send_batch_size = 2; };
    async fn transactional_mail_goes_ahead_of_a_running_campaign(app) {
        let list = app.create_list("Daily", "single").await;
        for i in 0..20 {
            app.create_subscriber(json!({"email": format!("r{i:02}@example.com"), "name": "R", "lists": [list]})).await;
        }
        let id = create_campaign(&app, &[list], json!({})).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        let templates = expect_status(app.get("/api/templates").await, 200).await;
        let tx_template = templates["data"].as_array().unwrap().iter().find(|t| t["type"] == "tx").unwrap()["id"].as_i64().unwrap();
        expect_status(
            app.post_json("/api/tx", &json!({"subscriber_email": "urgent@example.com", "subscriber_mode": "external",
                "template_id": tx_template, "subject": "Confirm", "data": {}})).await,
            200,
        )
        .await;
        wait_campaign(&app, id, Duration::from_secs(30), |c| c["status"] == "finished").await;
        // Oldest first: how many campaign messages went out after the transactional one.
        let mut messages = outbox(&app).await;
        messages.reverse();
        let position = messages.iter().position(|m| m["to"] == "urgent@example.com").expect("the tx mail");
        let after = messages.len() - 1 - position;
        assert!(after >= 8, "the transactional mail waited behind the campaign: {after} after it");
    }
}

on_both_backends! {
    with |s| { s.send_rate = Some(5); s.send_batch_size = 2; };
    async fn running_stats_show_a_campaign_while_it_sends(app) {
        let list = app.create_list("Daily", "single").await;
        for i in 0..10 {
            app.create_subscriber(json!({"email": format!("r{i}@example.com"), "name": "R", "lists": [list]})).await;
        }
        let id = create_campaign(&app, &[list], json!({})).await;
        expect_status(set_status(&app, id, "running").await, 200).await;
        let stats = expect_status(app.get("/api/campaigns/running/stats").await, 200).await;
        let running = stats["data"].as_array().unwrap();
        assert_eq!(running.len(), 1, "{stats}");
        assert_eq!(running[0]["id"], id);
        assert_eq!(running[0]["status"], "running");
        assert_eq!(running[0]["to_send"], 10);
        assert!(running[0]["sent"].as_i64().unwrap() < 10);
        assert!(running[0]["rate"].is_number());
        wait_campaign(&app, id, Duration::from_secs(30), |c| c["status"] == "finished").await;
        let after = expect_status(app.get("/api/campaigns/running/stats").await, 200).await;
        assert!(after["data"].as_array().unwrap().is_empty());
    }
}
