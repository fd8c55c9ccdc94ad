//! The preference centre: topics, a change of address, leaving everything, and the reader's
//! own data, downloaded and erased.

use serde_json::{Value, json};

use crate::captcha::solved_payload;
use crate::helpers::{TestApp, expect_status, on_both_backends};
use crate::mailbox::{link, status_on, wait_for_mail};

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
