//! Confirmations: the mail that asks for one (within the per-address allowance), its signed,
//! expiring, single-use link, the expiry of signups nobody confirmed, and an administrator
//! confirming or resending as listmonk's clients do.

use std::time::Duration;

use serde_json::json;

use crate::captcha::solved_payload;
use crate::helpers::{expect_status, on_both_backends};
use crate::mailbox::{link, mail_to, status_on, wait_for_mail};

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
