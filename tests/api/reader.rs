//! The reader's path: signing up by the JSON endpoint, the hosted form and the embedded
//! snippet, all through one set of checks; consent records; double opt-in by mail; the
//! preference centre; the reader's own data; Turkish and English.

use std::time::Duration;

use mail_parser::MessageParser;
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_status, on_both_backends};
use crate::signup::solved_payload;

/// A message as the reader gets it.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

/// Every message the outbox holds for `to`, oldest first.
pub(crate) async fn mail_to(app: &TestApp, to: &str) -> Vec<Mail> {
    let list = expect_status(
        app.get(&format!(
            "/api/outbox?per_page=all&to={}",
            crate::helpers::urlencode(to)
        ))
        .await,
        200,
    )
    .await;
    let mut found = Vec::new();
    for item in list["data"]["results"].as_array().unwrap() {
        let id = item["id"].as_i64().unwrap();
        let full = expect_status(app.get(&format!("/api/outbox/{id}")).await, 200).await;
        let raw = full["data"]["raw"].as_str().unwrap().to_owned();
        let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
        found.push(Mail {
            subject: parsed.subject().unwrap_or_default().to_owned(),
            text: parsed.body_text(0).unwrap_or_default().into_owned(),
            html: parsed.body_html(0).unwrap_or_default().into_owned(),
        });
    }
    found.reverse();
    found
}

/// Waits until `to` has `count` messages, and returns them.
pub(crate) async fn wait_for_mail(app: &TestApp, to: &str, count: usize) -> Vec<Mail> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mail = mail_to(app, to).await;
        if mail.len() >= count {
            return mail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{to} got {} of {count} messages",
            mail.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The path of the first link in `text` that contains `marker`.
pub(crate) fn link(text: &str, marker: &str) -> String {
    let start = text.find("http").and_then(|_| {
        text.match_indices("http").map(|(i, _)| i).find(|i| {
            text[*i..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .contains(marker)
        })
    });
    let start = start.unwrap_or_else(|| panic!("no link with {marker} in: {text}"));
    let url = text[start..].split_whitespace().next().unwrap();
    let url = url.trim_end_matches(['>', ')', '.']);
    let parsed = url::Url::parse(url).unwrap();
    match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    }
}

impl TestApp {
    pub(crate) async fn list_uuid(&self, id: i64) -> String {
        expect_status(self.get(&format!("/api/lists/{id}")).await, 200).await["data"]["uuid"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A public request (no credentials) with a browser's language.
    pub(crate) fn public(
        &self,
        method: reqwest::Method,
        path: &str,
        lang: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .header("Accept-Language", lang)
            .header("User-Agent", "Mozilla/5.0 (bulten tests)")
    }

    pub(crate) async fn sign_up(&self, body: &Value, lang: &str) -> Response {
        self.public(reqwest::Method::POST, "/api/public/subscription", lang)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        lang: &str,
    ) -> (u16, String) {
        let response = self
            .public(reqwest::Method::POST, path, lang)
            .form(fields)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub(crate) async fn page(&self, path: &str, lang: &str) -> (u16, String) {
        let response = self
            .public(reqwest::Method::GET, path, lang)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn subscriber_by_email(&self, email: &str) -> Option<Value> {
        let query = crate::helpers::urlencode(&format!("subscribers.email = '{email}'"));
        let body = expect_status(
            self.get(&format!("/api/subscribers?query={query}")).await,
            200,
        )
        .await;
        body["data"]["results"].as_array().unwrap().first().cloned()
    }

    async fn subscriber_total(&self) -> i64 {
        expect_status(self.get("/api/subscribers?per_page=1").await, 200).await["data"]["total"]
            .as_i64()
            .unwrap()
    }

    async fn consents(&self) -> Vec<Value> {
        expect_status(self.get("/api/consents?per_page=all").await, 200).await["data"]["results"]
            .as_array()
            .unwrap()
            .clone()
    }
}

fn status_on(subscriber: &Value, list_id: i64) -> String {
    subscriber["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == list_id)
        .map(|l| l["subscription_status"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn consented(s: &mut bulten::config::Settings) {
    s.altcha_cost = 20;
    s.terms_url = Some("https://haber.example/kosullar".into());
    s.terms_version = "2026-03".into();
    s.privacy_url = Some("https://haber.example/gizlilik".into());
    s.privacy_version = "2026-05".into();
    s.consent_ip = bulten::ops::reader::IpRecord::Store;
    s.confirmation_resend_secs = 0;
}

on_both_backends! {
    with consented;
    async fn a_reader_signs_up_confirms_by_mail_and_leaves_a_consent_record(app) {
        let list = app.create_list("Türkiye", "double").await;
        let uuid = app.list_uuid(list).await;
        let (pow, _) = solved_payload(&app).await;
        let response = app.sign_up(&json!({"email": "okur@example.com", "name": "Okur", "list_uuids": [uuid], "altcha": pow}), "en").await;
        assert_eq!(expect_status(response, 200).await, json!({"data": {"has_optin": true}}));
        let subscriber = app.subscriber_by_email("okur@example.com").await.unwrap();
        assert_eq!(status_on(&subscriber, list), "unconfirmed");

        let consents = app.consents().await;
        assert_eq!(consents.len(), 1);
        let consent = &consents[0];
        assert_eq!(consent["subscriber_email"], "okur@example.com");
        assert_eq!(consent["list_name"], "Türkiye");
        assert_eq!(consent["source"], "api");
        assert_eq!(consent["terms_version"], "2026-03");
        assert_eq!(consent["terms_url"], "https://haber.example/kosullar");
        assert_eq!(consent["privacy_version"], "2026-05");
        assert_eq!(consent["privacy_url"], "https://haber.example/gizlilik");
        assert_eq!(
            consent["consent_text"],
            "By signing up you are agreeing to our Terms of Use and Privacy Policy. You can unsubscribe at any time."
        );
        assert_eq!(consent["ip"], "127.0.0.1");
        assert_eq!(consent["user_agent"], "Mozilla/5.0 (bulten tests)");
        assert_eq!(consent["language"], "en");
        assert!(consent["confirmed_at"].is_null());

        let mail = wait_for_mail(&app, "okur@example.com", 1).await;
        assert!(mail[0].subject.starts_with("Confirm your subscription"), "{:?}", mail[0]);
        assert!(mail[0].text.contains("Türkiye"), "{}", mail[0].text);
        let confirm = link(&mail[0].text, "/subscription/confirm/");

        // A scanner following the link confirms nothing.
        let (status, page) = app.page(&confirm, "en").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Confirm subscription") && page.contains("<form method=\"post\""), "{page}");
        let subscriber = app.subscriber_by_email("okur@example.com").await.unwrap();
        assert_eq!(status_on(&subscriber, list), "unconfirmed");

        let (status, page) = app.post_form(&confirm, &[], "en").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Subscription confirmed"), "{page}");
        let subscriber = app.subscriber_by_email("okur@example.com").await.unwrap();
        assert_eq!(status_on(&subscriber, list), "confirmed");
        assert!(!app.consents().await[0]["confirmed_at"].is_null(), "the record says when");

        // The link works once.
        let (status, page) = app.post_form(&confirm, &[], "en").await;
        assert_eq!(status, 410, "{page}");
        assert!(page.contains("already used"), "{page}");
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.terms_url = Some("https://haber.example/terms".into()); };
    async fn the_hosted_form_works_without_javascript_and_gives_back_what_was_typed(app) {
        let news = app.create_list("News", "single").await;
        let news_uuid = app.list_uuid(news).await;
        app.create_list("Sports", "single").await;
        let (status, page) = app.page("/subscription/form", "en").await;
        assert_eq!(status, 200);
        assert!(page.contains("<label for=\"email\">Email address</label>"), "{page}");
        assert!(page.contains("<noscript>"), "a reader without JavaScript is told why");
        assert!(!page.contains("checked"), "no box is ticked for the reader");
        assert!(page.contains("href=\"https://haber.example/terms\""), "{page}");
        assert!(page.contains("Keep up to date with what&#x27;s happening in Türkiye") || page.contains("Keep up to date with what's happening in Türkiye"), "{page}");
        assert!(page.contains("/public/altcha.min.js"), "the widget comes from bulten itself");

        // Wrong on every field: each error is tied to its field, and what was typed comes back,
        // escaped.
        let (status, page) = app
            .post_form("/subscription/form", &[("email", "not an address"), ("name", "<script>alert(1)</script>"), ("source", "form")], "en")
            .await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("aria-describedby=\"email-error\""), "{page}");
        assert!(page.contains("<p id=\"email-error\" class=\"error\">Please enter a valid email address.</p>"), "{page}");
        assert!(page.contains("id=\"lists-error\""), "{page}");
        assert!(page.contains("role=\"alert\""), "{page}");
        assert!(!page.contains("<script>alert(1)</script>"), "never echoed raw");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
        assert_eq!(app.subscriber_total().await, 0, "nothing stored");

        let (pow, _) = solved_payload(&app).await;
        let (status, page) = app
            .post_form("/subscription/form", &[("email", "Form@Example.com"), ("name", "Ayşe"), ("l", &news_uuid), ("altcha", &pow), ("nonce", ""), ("source", "form"), ("page", "https://haber.example/")], "en")
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("You are subscribed"), "{page}");
        let subscriber = app.subscriber_by_email("form@example.com").await.unwrap();
        assert_eq!(subscriber["name"], "Ayşe");
        assert_eq!(status_on(&subscriber, news), "confirmed", "single opt-in subscribes at once");
        let consents = app.consents().await;
        assert_eq!(consents[0]["source"], "form");
        assert_eq!(consents[0]["page"], "https://haber.example/");
        assert!(!consents[0]["confirmed_at"].is_null());
        assert!(consents[0]["ip"].as_str().unwrap().starts_with("hmac:"), "hashed by default");
    }
}

on_both_backends! {
    with |s| s.altcha_cost = 20;
    async fn the_embed_snippet_is_documented_and_posts_through_the_same_checks(app) {
        let list = app.create_list("Bölge", "single").await;
        let uuid = app.list_uuid(list).await;
        let (status, page) = app.page(&format!("/subscription/embed?l={uuid}"), "tr").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("&lt;form class=&quot;bulten-signup&quot;"), "the snippet shows as code: {page}");
        assert!(page.contains("<form class=\"bulten-signup\""), "and works below it");
        assert!(page.contains("name=\"source\" value=\"embed\""));
        assert!(page.contains(&format!("type=\"hidden\" name=\"l\" value=\"{uuid}\"")), "the publisher's topic is fixed");
        // Without the proof of work the embed is refused like any other way in.
        let (status, page) = app
            .post_form("/subscription/form", &[("email", "embed@example.com"), ("l", &uuid), ("source", "embed"), ("fixed", "1")], "tr")
            .await;
        assert_eq!(status, 400);
        assert!(page.contains("Lütfen bot denetimi tamamlanana kadar bekleyip formu yeniden gönderin."), "{page}");
        let (pow, _) = solved_payload(&app).await;
        let (status, _) = app
            .post_form("/subscription/form", &[("email", "embed@example.com"), ("l", &uuid), ("source", "embed"), ("altcha", &pow), ("page", "https://site.example/haber/1")], "tr")
            .await;
        assert_eq!(status, 200);
        let consents = app.consents().await;
        assert_eq!(consents[0]["source"], "embed");
        assert_eq!(consents[0]["page"], "https://site.example/haber/1");
        assert_eq!(consents[0]["language"], "tr");
        assert_eq!(consents[0]["consent_text"], "Abone olarak Kullanım Koşullarımızı ve Gizlilik Politikamızı kabul etmiş olursunuz. Aboneliğinizi istediğiniz zaman iptal edebilirsiniz.");
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.signup_per_ip_per_hour = 1000; };
    async fn hostile_input_gets_a_clear_localized_answer_and_stores_nothing(app) {
        let list = app.create_list("Gündem", "double").await;
        let uuid = app.list_uuid(list).await;
        let private: i64 = expect_status(
            app.post_json("/api/lists", &json!({"name": "Staff", "type": "private", "optin": "single"})).await,
            200,
        )
        .await["data"]["id"].as_i64().unwrap();
        let private_uuid = app.list_uuid(private).await;
        let (used, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "first@example.com", "list_uuids": [uuid], "altcha": used}), "tr").await, 200).await;
        let before = app.subscriber_total().await;

        let mut tampered: altcha::Payload = {
            let (p, _) = solved_payload(&app).await;
            serde_json::from_slice(&base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p).unwrap()).unwrap()
        };
        tampered.solution.counter += 1;
        let tampered = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, serde_json::to_vec(&tampered).unwrap());
        let long = format!("{}@example.com", "a".repeat(300));
        let cases: Vec<(&str, Value, u16, &str)> = vec![
            ("overlong address", json!({"email": long, "list_uuids": [uuid]}), 400, "Lütfen geçerli bir e-posta adresi girin."),
            ("no address", json!({"email": "", "list_uuids": [uuid]}), 400, "Lütfen e-posta adresinizi girin."),
            ("no @", json!({"email": "okur.example.com", "list_uuids": [uuid]}), 400, "Lütfen geçerli bir e-posta adresi girin."),
            ("CR/LF in the address", json!({"email": "okur@example.com\r\nBcc: victim@example.com", "list_uuids": [uuid]}), 400, "Lütfen geçerli bir e-posta adresi girin."),
            ("a line break in the name", json!({"email": "okur@example.com", "name": "A\nB", "list_uuids": [uuid]}), 400, "Lütfen tek satırda, en fazla 200 karakterlik bir ad girin."),
            ("no topic", json!({"email": "okur@example.com", "list_uuids": []}), 400, "Lütfen en az bir konu seçin."),
            ("an unknown topic", json!({"email": "okur@example.com", "list_uuids": ["00000000-0000-0000-0000-000000000000"]}), 400, "Seçilen konulardan biri yok ya da aboneliğe açık değil."),
            ("a private list", json!({"email": "okur@example.com", "list_uuids": [private_uuid]}), 400, "Seçilen konulardan biri yok ya da aboneliğe açık değil."),
            ("a list ID that is no UUID", json!({"email": "okur@example.com", "list_uuids": ["1 OR 1=1"]}), 400, "Seçilen konulardan biri yok ya da aboneliğe açık değil."),
            ("no proof of work", json!({"email": "okur@example.com", "list_uuids": [uuid]}), 400, "Lütfen bot denetimi tamamlanana kadar bekleyip formu yeniden gönderin."),
            ("a replayed proof of work", json!({"email": "okur@example.com", "list_uuids": [uuid], "altcha": used}), 400, "Bu bot denetimi zaten kullanıldı. Lütfen sayfayı yenileyip yeniden deneyin."),
            ("a tampered proof of work", json!({"email": "okur@example.com", "list_uuids": [uuid], "altcha": tampered}), 400, "Bot denetimi başarısız oldu. Lütfen sayfayı yenileyip yeniden deneyin."),
            ("garbage for a proof of work", json!({"email": "okur@example.com", "list_uuids": [uuid], "altcha": "<script>"}), 400, "Bot denetimi başarısız oldu. Lütfen sayfayı yenileyip yeniden deneyin."),
            ("the honeypot filled", json!({"email": "okur@example.com", "list_uuids": [uuid], "nonce": "http://spam.example"}), 400, "İsteğiniz kabul edilemedi."),
        ];
        for (what, body, status, message) in cases {
            let response = app.sign_up(&body, "tr-TR,tr;q=0.9").await;
            let answer = expect_status(response, status).await;
            assert_eq!(answer["message"], message, "{what}");
        }
        let response = app
            .public(reqwest::Method::POST, "/api/public/subscription", "tr")
            .header("Content-Type", "application/json")
            .body("{\"email\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "malformed JSON");
        let response = app
            .public(reqwest::Method::POST, "/api/public/subscription", "tr")
            .header("Content-Type", "application/json")
            .body(vec![b'a'; 200_000])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 413, "an oversized body");
        assert_eq!(app.subscriber_total().await, before, "nothing half-stored");
        assert_eq!(app.consents().await.len(), 1);
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.consent_ip = bulten::ops::reader::IpRecord::Drop; };
    async fn the_reader_s_ip_can_be_left_out_of_consent_records(app) {
        let list = app.create_list("Dünya", "single").await;
        let uuid = app.list_uuid(list).await;
        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "private@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        let consents = app.consents().await;
        assert!(consents[0]["ip"].is_null(), "{consents:?}");
        assert_eq!(consents[0]["user_agent"], "Mozilla/5.0 (bulten tests)");
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.altcha_valid_secs = 1; };
    async fn an_expired_proof_of_work_is_refused(app) {
        let list = app.create_list("Dünya", "single").await;
        let uuid = app.list_uuid(list).await;
        let (pow, _) = solved_payload(&app).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let answer = expect_status(app.sign_up(&json!({"email": "late@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 400).await;
        assert_eq!(answer["message"], "The anti-bot check has expired. Please reload the page and try again.");
        assert_eq!(app.subscriber_total().await, 0);
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.signup_per_ip_per_hour = 3; };
    async fn a_flood_from_one_address_of_the_network_is_stopped(app) {
        let list = app.create_list("Dünya", "single").await;
        let uuid = app.list_uuid(list).await;
        for i in 0..3 {
            let (pow, _) = solved_payload(&app).await;
            expect_status(app.sign_up(&json!({"email": format!("r{i}@example.com"), "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        }
        let (pow, _) = solved_payload(&app).await;
        let answer = expect_status(app.sign_up(&json!({"email": "r9@example.com", "list_uuids": [uuid], "altcha": pow}), "tr").await, 429).await;
        assert_eq!(answer["message"], "Ağınızdan çok fazla istek geldi. Lütfen daha sonra yeniden deneyin.");
        assert_eq!(app.subscriber_total().await, 3);
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.signup_per_second = 1; };
    async fn a_flood_from_everywhere_at_once_is_slowed_for_everyone(app) {
        let list = app.create_list("Dünya", "single").await;
        let uuid = app.list_uuid(list).await;
        let (first, _) = solved_payload(&app).await;
        let (second, _) = solved_payload(&app).await;
        let a = json!({"email": "a@example.com", "list_uuids": [uuid], "altcha": first});
        let b = json!({"email": "b@example.com", "list_uuids": [uuid], "altcha": second});
        let (one, two) = tokio::join!(app.sign_up(&a, "en"), app.sign_up(&b, "en"));
        let mut statuses = [one.status().as_u16(), two.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 429], "one signup a second overall");
        let refused = if one.status().as_u16() == 429 { one } else { two };
        let answer: Value = refused.json().await.unwrap();
        assert_eq!(answer["message"], "We are receiving too many requests just now. Please try again in a moment.");
        assert_eq!(app.subscriber_total().await, 1);
    }
}

on_both_backends! {
    with |s| {
        s.altcha_cost = 20;
        s.signup_attempts_per_address_per_hour = 4;
        s.confirmations_per_address_per_day = 2;
        s.confirmation_resend_secs = 0;
    };
    async fn nobody_can_use_the_form_to_flood_a_stranger(app) {
        let list = app.create_list("Dünya", "double").await;
        let uuid = app.list_uuid(list).await;
        for _ in 0..4 {
            let (pow, _) = solved_payload(&app).await;
            expect_status(app.sign_up(&json!({"email": "victim@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        }
        let (pow, _) = solved_payload(&app).await;
        let answer = expect_status(app.sign_up(&json!({"email": "Victim@Example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 429).await;
        assert_eq!(answer["message"], "Too many attempts for this address. Please try again later.");
        // Four accepted signups, two confirmation mails: the daily cap.
        wait_for_mail(&app, "victim@example.com", 2).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(mail_to(&app, "victim@example.com").await.len(), 2);
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.confirmation_resend_secs = 3600; };
    async fn a_second_confirmation_waits_for_the_cooldown(app) {
        let list = app.create_list("Dünya", "double").await;
        let uuid = app.list_uuid(list).await;
        for _ in 0..2 {
            let (pow, _) = solved_payload(&app).await;
            expect_status(app.sign_up(&json!({"email": "twice@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        }
        wait_for_mail(&app, "twice@example.com", 1).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(mail_to(&app, "twice@example.com").await.len(), 1);
        let id = app.subscriber_by_email("twice@example.com").await.unwrap()["id"].as_i64().unwrap();
        let answer = expect_status(app.request(reqwest::Method::POST, &format!("/api/subscribers/{id}/optin")).send().await.unwrap(), 429).await;
        assert!(answer["message"].as_str().unwrap().contains("moments ago"), "{answer}");
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.confirmation_resend_secs = 0; };
    async fn answers_do_not_tell_whether_an_address_is_known(app) {
        let list = app.create_list("Dünya", "double").await;
        let uuid = app.list_uuid(list).await;
        app.create_subscriber(json!({"email": "known@example.com", "name": "Known", "lists": [list], "preconfirm_subscriptions": true})).await;
        app.create_subscriber(json!({"email": "blocked@example.com", "name": "Blocked", "status": "blocklisted"})).await;
        let mut answers = Vec::new();
        for email in ["new@example.com", "known@example.com", "blocked@example.com"] {
            let (pow, _) = solved_payload(&app).await;
            let response = app.sign_up(&json!({"email": email, "name": "Someone Else", "list_uuids": [uuid], "altcha": pow}), "en").await;
            answers.push((response.status().as_u16(), response.text().await.unwrap()));
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
        let known = app.subscriber_by_email("known@example.com").await.unwrap();
        assert_eq!(known["name"], "Known", "a stranger cannot rename a subscriber");
        assert_eq!(status_on(&known, list), "confirmed", "nor unconfirm one");
        let blocked = app.subscriber_by_email("blocked@example.com").await.unwrap();
        assert_eq!(blocked["lists"].as_array().unwrap().len(), 0, "a blocklisted address gets nothing");

        let mut pages = Vec::new();
        for email in ["nobody@example.com", "known@example.com"] {
            let (pow, _) = solved_payload(&app).await;
            pages.push(app.post_form("/subscription/manage", &[("email", email), ("altcha", &pow)], "en").await);
        }
        assert_eq!(pages[0], pages[1]);
        assert!(pages[0].1.contains("If this address is on our lists"), "{}", pages[0].1);
        wait_for_mail(&app, "known@example.com", 1).await;
        assert!(mail_to(&app, "nobody@example.com").await.is_empty());
        assert!(mail_to(&app, "blocked@example.com").await.is_empty());
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.confirmation_valid_secs = 1; s.confirmation_resend_secs = 0; };
    async fn confirmation_links_are_signed_and_expire(app) {
        let list = app.create_list("Dünya", "double").await;
        let uuid = app.list_uuid(list).await;
        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "slow@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        let mail = wait_for_mail(&app, "slow@example.com", 1).await;
        let confirm = link(&mail[0].text, "/subscription/confirm/");
        let token_at = confirm.find("/confirm/").unwrap() + "/confirm/".len();
        let mut tampered = confirm.clone().into_bytes();
        tampered[token_at + 2] = if tampered[token_at + 2] == b'A' { b'B' } else { b'A' };
        let (status, page) = app.post_form(&String::from_utf8(tampered).unwrap(), &[], "en").await;
        assert_eq!(status, 400);
        assert!(page.contains("This link is not valid"), "{page}");

        tokio::time::sleep(Duration::from_millis(2100)).await;
        let (status, page) = app.post_form(&confirm, &[], "en").await;
        assert_eq!(status, 410, "{page}");
        assert!(page.contains("This link has expired") && page.contains("/resend"), "{page}");
        let subscriber = app.subscriber_by_email("slow@example.com").await.unwrap();
        assert_eq!(status_on(&subscriber, list), "unconfirmed");
        let resend = format!("{}/resend", confirm.split('?').next().unwrap());
        let (status, page) = app.post_form(&resend, &[], "en").await;
        assert_eq!(status, 200, "{page}");
        wait_for_mail(&app, "slow@example.com", 2).await;
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.confirmation_resend_secs = 0; };
    async fn the_preference_centre_changes_topics_and_address_and_leaves_everything(app) {
        let news = app.create_list("News", "double").await;
        let sport = app.create_list("Sport", "double").await;
        let sport_uuid = app.list_uuid(sport).await;
        let id = app.create_subscriber(json!({"email": "prefs@example.com", "name": "P", "lists": [news], "preconfirm_subscriptions": true})).await;

        let (pow, _) = solved_payload(&app).await;
        let (status, _) = app.post_form("/subscription/manage", &[("email", "prefs@example.com"), ("altcha", &pow)], "en").await;
        assert_eq!(status, 200);
        let mail = wait_for_mail(&app, "prefs@example.com", 1).await;
        let manage = link(&mail[0].text, "/m/");
        let (status, page) = app.page(&manage, "en").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Preferences for prefs@example.com"), "{page}");
        let token_at = manage.find("/m/").unwrap() + 3;
        let mut forged = manage.clone().into_bytes();
        forged[token_at + 4] = if forged[token_at + 4] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        let (status, page) = app.post_form(&forged, &[("action", "unsubscribe_all")], "en").await;
        assert_eq!(status, 400, "a tampered link does nothing: {page}");
        assert!(page.contains("This link is not valid"));

        // News off, Sport on: joined at once, the link having proved the address.
        let (status, page) = app.post_form(&manage, &[("action", "save"), ("l", &sport_uuid)], "en").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Your preferences are saved."), "{page}");
        let subscriber = app.subscriber_by_email("prefs@example.com").await.unwrap();
        assert_eq!(status_on(&subscriber, news), "unsubscribed");
        assert_eq!(status_on(&subscriber, sport), "confirmed");

        // A new address takes effect only from a link sent to it.
        let (status, page) = app.post_form(&manage, &[("action", "change_email"), ("new_email", "new-prefs@example.com")], "en").await;
        assert_eq!(status, 400, "a change of address needs the proof of work: {page}");
        assert!(page.contains("altcha-error"), "{page}");
        let (pow, _) = solved_payload(&app).await;
        let (status, _) = app.post_form(&manage, &[("action", "change_email"), ("new_email", "new-prefs@example.com"), ("altcha", &pow)], "en").await;
        assert_eq!(status, 200);
        assert!(app.subscriber_by_email("prefs@example.com").await.is_some());
        let mail = wait_for_mail(&app, "new-prefs@example.com", 1).await;
        let change = link(&mail[0].text, "/subscription/change/");
        let (status, page) = app.page(&change, "en").await;
        assert_eq!(status, 200);
        assert!(page.contains("new-prefs@example.com"), "{page}");
        assert!(app.subscriber_by_email("new-prefs@example.com").await.is_none(), "a GET changes nothing");
        let (status, page) = app.post_form(&change, &[], "en").await;
        assert_eq!(status, 200, "{page}");
        let moved = app.subscriber_by_email("new-prefs@example.com").await.unwrap();
        assert_eq!(moved["id"], id);
        let (status, _) = app.post_form(&change, &[], "en").await;
        assert_eq!(status, 410, "the link works once");

        let (status, page) = app.post_form(&manage, &[("action", "change_email"), ("new_email", "bad\r\naddress")], "en").await;
        assert_eq!(status, 400);
        assert!(page.contains("new_email-error"), "{page}");

        let (status, page) = app.post_form(&manage, &[("action", "unsubscribe_all")], "en").await;
        assert_eq!(status, 200, "{page}");
        let subscriber = app.subscriber_by_email("new-prefs@example.com").await.unwrap();
        assert_eq!(status_on(&subscriber, sport), "unsubscribed");
        assert_eq!(status_on(&subscriber, news), "unsubscribed");
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.confirmation_resend_secs = 0; };
    async fn a_reader_downloads_their_data_and_erases_it_for_good(app) {
        let list = app.create_list("Dünya", "double").await;
        let uuid = app.list_uuid(list).await;
        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "gone@example.com", "name": "Gone", "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        let mail = wait_for_mail(&app, "gone@example.com", 1).await;
        app.post_form(&link(&mail[0].text, "/subscription/confirm/"), &[], "en").await;
        let id = app.subscriber_by_email("gone@example.com").await.unwrap()["id"].as_i64().unwrap();
        let export = expect_status(app.get(&format!("/api/subscribers/{id}/export")).await, 200).await;
        assert_eq!(export["consents"][0]["list_name"], "Dünya", "the admin export carries the consent");

        let (pow, _) = solved_payload(&app).await;
        app.post_form("/subscription/manage", &[("email", "gone@example.com"), ("altcha", &pow)], "en").await;
        let mail = wait_for_mail(&app, "gone@example.com", 2).await;
        let manage = link(&mail[1].text, "/m/");
        let response = app.public(reqwest::Method::POST, &manage, "en").form(&[("action", "export")]).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        let data: Value = response.json().await.unwrap();
        assert_eq!(data["profile"][0]["email"], "gone@example.com", "the same export as the admin's");
        assert_eq!(data["subscriptions"][0]["name"], "Dünya");
        assert_eq!(data["consents"][0]["terms_version"], "1");
        assert!(data["messages"].as_array().unwrap().len() >= 2, "the mail it was sent: {data}");

        let (status, page) = app.post_form(&manage, &[("action", "erase")], "en").await;
        assert_eq!(status, 400, "erasing needs the box ticked");
        assert!(page.contains("confirm-error"), "{page}");
        let (status, page) = app.post_form(&manage, &[("action", "erase"), ("confirm", "yes")], "en").await;
        assert_eq!(status, 200, "{page}");
        assert!(app.subscriber_by_email("gone@example.com").await.is_none());
        assert!(app.consents().await.is_empty());
        let db = app.connect_db().await;
        let suppressed = bulten::db::deliveries::suppressed(&db, &[suppression_hash(&app, "gone@example.com").await]).await.unwrap();
        assert_eq!(suppressed.len(), 1, "only a keyed hash remains");

        // Signing up anew is the way back.
        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "gone@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        let mail = wait_for_mail(&app, "gone@example.com", 3).await;
        app.post_form(&link(&mail[2].text, "/subscription/confirm/"), &[], "en").await;
        let suppressed = bulten::db::deliveries::suppressed(&db, &[suppression_hash(&app, "gone@example.com").await]).await.unwrap();
        assert!(suppressed.is_empty());
        db.close().await;
    }
}

async fn suppression_hash(app: &TestApp, email: &str) -> String {
    let db = app.connect_db().await;
    let key = bulten::db::secrets::get_or_create(&db, "signing_key", String::new)
        .await
        .unwrap();
    db.close().await;
    bulten::mail::tokens::Signer::new(key.into_bytes()).address_hash(email)
}

on_both_backends! {
    with |s| s.altcha_cost = 20;
    async fn unconfirmed_signups_expire_and_take_their_new_subscribers_with_them(app) {
        let list = app.create_list("Dünya", "double").await;
        let uuid = app.list_uuid(list).await;
        let other = app.create_list("Other", "double").await;
        let kept = app.create_subscriber(json!({"email": "kept@example.com", "name": "K", "lists": [other], "preconfirm_subscriptions": true})).await;
        for email in ["never@example.com", "kept@example.com"] {
            let (pow, _) = solved_payload(&app).await;
            expect_status(app.sign_up(&json!({"email": email, "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        }
        let db = app.connect_db().await;
        let now = bulten::domain::Timestamp::now();
        let expired = bulten::db::signup::expire(&db, now.plus_secs(-60), now).await.unwrap();
        assert_eq!(expired.subscriptions, 0, "not yet");
        let expired = bulten::db::signup::expire(&db, now.plus_secs(60), now).await.unwrap();
        assert_eq!(expired.subscriptions, 2);
        assert_eq!(expired.subscribers, 1);
        assert!(app.subscriber_by_email("never@example.com").await.is_none());
        let survivor = app.subscriber_by_email("kept@example.com").await.unwrap();
        assert_eq!(survivor["id"], kept);
        assert_eq!(status_on(&survivor, other), "confirmed");
        assert_eq!(status_on(&survivor, list), "");
        // The two spent proofs of work are kept until they would have expired, then dropped.
        assert_eq!(bulten::db::spent::forget_expired(&db, now).await.unwrap(), 0);
        assert_eq!(bulten::db::spent::forget_expired(&db, now.plus_secs(3600)).await.unwrap(), 2);
        db.close().await;
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.brand_name = "haber istanbul".into(); };
    async fn pages_and_mail_speak_the_reader_s_language(app) {
        let world = app.create_list("Dünya", "double").await;
        let world_uuid = app.list_uuid(world).await;
        let (_, page) = app.page("/subscription/form", "tr-TR,tr;q=0.9").await;
        assert!(page.contains("<html lang=\"tr\">") && page.contains("Bültenlerimize abone olun"), "{page}");
        assert!(page.contains("lang=en"), "a switch to English");
        let (_, page) = app.page("/subscription/form?lang=en", "tr").await;
        assert!(page.contains("<html lang=\"en\">") && page.contains("Subscribe to our newsletters"), "the switch wins");
        let (_, page) = app.page("/subscription/form", "de-DE").await;
        assert!(page.contains("<html lang=\"en\">"), "the default for languages we do not speak");

        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "tr@example.com", "list_uuids": [world_uuid], "altcha": pow}), "tr").await, 200).await;
        let mail = wait_for_mail(&app, "tr@example.com", 1).await;
        assert!(mail[0].subject.starts_with("Aboneliğinizi onaylayın"), "{:?}", mail[0]);
        assert!(mail[0].text.starts_with("HABER İSTANBUL"), "Turkish capitals: {}", mail[0].text);
        assert!(mail[0].html.contains("lang=\"tr\""));

        // A list in Turkish speaks Turkish to an English browser.
        let gundem = expect_status(
            app.post_json("/api/lists", &json!({"name": "Gündem", "type": "public", "optin": "double", "language": "tr"})).await,
            200,
        )
        .await;
        assert_eq!(gundem["data"]["language"], "tr");
        let gundem_uuid = gundem["data"]["uuid"].as_str().unwrap().to_owned();
        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "en@example.com", "list_uuids": [gundem_uuid], "altcha": pow}), "en-GB").await, 200).await;
        let mail = wait_for_mail(&app, "en@example.com", 1).await;
        assert!(mail[0].subject.starts_with("Aboneliğinizi onaylayın"), "{:?}", mail[0]);
        let (_, page) = app.page(&link(&mail[0].text, "/subscription/confirm/"), "en-GB").await;
        assert!(page.contains("<html lang=\"tr\">"), "the link carries the language");
        expect_status(app.put_json(&format!("/api/lists/{}", gundem["data"]["id"]), &json!({"language": null})).await, 200).await;
        let list = expect_status(app.get(&format!("/api/lists/{}", gundem["data"]["id"])).await, 200).await;
        assert!(list["data"]["language"].is_null());
        expect_status(app.put_json(&format!("/api/lists/{}", gundem["data"]["id"]), &json!({"language": "de"})).await, 400).await;
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.confirmation_resend_secs = 0; };
    async fn admins_resend_and_confirm_opt_ins_as_listmonk_clients_do(app) {
        let list = app.create_list("Dünya", "double").await;
        let uuid = app.list_uuid(list).await;
        let id = app.create_subscriber(json!({"email": "admin-optin@example.com", "name": "A", "lists": [list]})).await;
        let answer = expect_status(app.request(reqwest::Method::POST, &format!("/api/subscribers/{id}/optin")).send().await.unwrap(), 200).await;
        assert_eq!(answer, json!({"data": true}));
        let mail = wait_for_mail(&app, "admin-optin@example.com", 1).await;
        assert!(mail[0].text.contains("/subscription/confirm/"));

        let subscriber = expect_status(app.get(&format!("/api/subscribers/{id}")).await, 200).await;
        let sub_uuid = subscriber["data"]["uuid"].as_str().unwrap().to_owned();
        let anonymous = app.client.post(format!("{}/subscription/optin/{sub_uuid}", app.url)).form(&[("l", uuid.as_str()), ("confirm", "true")]).send().await.unwrap();
        assert_eq!(anonymous.status().as_u16(), 401, "a bare UUID confirms nothing");
        let response = app.request(reqwest::Method::POST, &format!("/subscription/optin/{sub_uuid}")).form(&[("l", uuid.as_str()), ("confirm", "true")]).send().await.unwrap();
        expect_status(response, 200).await;
        let subscriber = app.subscriber_by_email("admin-optin@example.com").await.unwrap();
        assert_eq!(status_on(&subscriber, list), "confirmed");
        let none = expect_status(app.request(reqwest::Method::POST, &format!("/api/subscribers/{id}/optin")).send().await.unwrap(), 400).await;
        assert!(none["message"].as_str().unwrap().contains("no subscription waiting"));
    }
}

on_both_backends! {
    with |s| s.altcha_cost = 20;
    async fn unsubscribing_needs_no_login_and_speaks_turkish(app) {
        let list = app.create_list("Dünya", "single").await;
        let uuid = app.list_uuid(list).await;
        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "leave@example.com", "list_uuids": [uuid], "altcha": pow}), "tr").await, 200).await;
        let (pow, _) = solved_payload(&app).await;
        app.post_form("/subscription/manage", &[("email", "leave@example.com"), ("altcha", &pow), ("lang", "tr")], "tr").await;
        let mail = wait_for_mail(&app, "leave@example.com", 1).await;
        assert!(mail[0].subject.starts_with("Bülten tercihleriniz"), "{:?}", mail[0]);
        // The token of a campaign's List-Unsubscribe header, as the reader's mail carries it.
        let subscriber = app.subscriber_by_email("leave@example.com").await.unwrap();
        let (db, signer) = crate::signup::signer(&app).await;
        db.close().await;
        let token = signer.unsubscribe_token(bulten::mail::tokens::UnsubscribeToken {
            subscriber: uuid::Uuid::parse_str(subscriber["uuid"].as_str().unwrap()).unwrap(),
            campaign: None,
        });
        let (status, page) = app.page(&format!("/u/{token}"), "tr").await;
        assert_eq!(status, 200);
        assert!(page.contains("leave@example.com adresinin şu aboneliklerini iptal et"), "{page}");
        let (status, page) = app.post_form(&format!("/u/{token}"), &[], "tr").await;
        assert_eq!(status, 200);
        assert!(page.contains("Abonelikten çıktınız."), "{page}");
        let subscriber = app.subscriber_by_email("leave@example.com").await.unwrap();
        assert_eq!(status_on(&subscriber, list), "unsubscribed");
    }
}

/// A stand-in for a captcha provider's verify endpoint: `good-token` passes.
async fn fake_provider() -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/siteverify",
        post(|body: String| async move {
            let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let has = |k: &str, v: &str| fields.iter().any(|(a, b)| a == k && b == v);
            let ok = has("secret", "provider-secret") && has("response", "good-token");
            axum::Json(json!({"success": ok}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
    (
        url,
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }),
    )
}

on_both_backends! {
    backend a_third_party_captcha_is_verified_and_fails_closed;
}

async fn a_third_party_captcha_is_verified_and_fails_closed(backend: crate::helpers::Backend) {
    let (verify_url, server) = fake_provider().await;
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.altcha_cost = 20;
        s.captcha_provider = Some(bulten::ops::captcha::Provider::Hcaptcha);
        s.captcha_secret = Some(bulten::config::Secret::new("provider-secret"));
        s.captcha_site_key = Some("site-key".into());
        s.captcha_verify_url = Some(verify_url);
    })
    .await;
    let list = app.create_list("Dünya", "single").await;
    let uuid = app.list_uuid(list).await;
    let (_, page) = app.page("/subscription/form", "en").await;
    assert!(
        page.contains("class=\"h-captcha\" data-sitekey=\"site-key\""),
        "{page}"
    );
    let (pow, _) = solved_payload(&app).await;
    let answer = expect_status(app.sign_up(&json!({"email": "c@example.com", "list_uuids": [uuid], "altcha": pow, "h-captcha-response": "bad-token"}), "en").await, 400).await;
    assert_eq!(
        answer["message"],
        "The captcha check failed. Please try again."
    );
    let (pow, _) = solved_payload(&app).await;
    expect_status(app.sign_up(&json!({"email": "c@example.com", "list_uuids": [uuid], "altcha": pow, "h-captcha-response": "good-token"}), "en").await, 200).await;
    server.abort();
    let _ = server.await;
    let (pow, _) = solved_payload(&app).await;
    let answer = expect_status(app.sign_up(&json!({"email": "d@example.com", "list_uuids": [uuid], "altcha": pow, "h-captcha-response": "good-token"}), "en").await, 503).await;
    assert_eq!(
        answer["message"],
        "We cannot check the captcha just now. Please try again in a moment."
    );
    assert!(
        app.subscriber_by_email("d@example.com").await.is_none(),
        "no answer, no signup"
    );
}

on_both_backends! {
    with |s| s.altcha_cost = 20;
    async fn a_name_the_api_takes_the_signup_form_takes_too(app) {
        let list = app.create_list("News", "single").await;
        let uuid = app.list_uuid(list).await;
        let longest = "Ş".repeat(bulten::domain::SubscriberName::MAX_CHARS);
        let (pow, _) = solved_payload(&app).await;
        expect_status(app.sign_up(&json!({"email": "long@example.com", "name": longest, "list_uuids": [uuid], "altcha": pow}), "en").await, 200).await;
        assert_eq!(app.subscriber_by_email("long@example.com").await.unwrap()["name"], longest.as_str());
        let (pow, _) = solved_payload(&app).await;
        let too_long = format!("{longest}x");
        expect_status(app.sign_up(&json!({"email": "longer@example.com", "name": too_long, "list_uuids": [uuid], "altcha": pow}), "en").await, 400).await;
        let (status, page) = app.page("/subscription/form", "en").await;
        assert_eq!(status, 200);
        assert!(page.contains(&format!("maxlength=\"{}\"", bulten::domain::SubscriberName::MAX_CHARS)), "{page}");
    }
}
