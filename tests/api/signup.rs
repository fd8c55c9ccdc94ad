//! Signing up: the JSON endpoint, the hosted form and the embedded snippet, all through one
//! set of checks (fields, limits, the proof of work), the consent record each leaves, and
//! the pages and mail in the reader's language.

use serde_json::{Value, json};

use crate::captcha::solved_payload;
use crate::helpers::{expect_status, on_both_backends};
use crate::mailbox::{link, mail_to, status_on, wait_for_mail};

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
