//! The unsubscribe link: no login, one click, in the reader's language.

use serde_json::json;

use crate::captcha::solved_payload;
use crate::helpers::{expect_status, on_both_backends};
use crate::mailbox::{status_on, wait_for_mail};

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
        let (db, signer) = crate::captcha::signer(&app).await;
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
