//! Every link bulten puts in mail is built by `mail::links`; each one, followed, must land on
//! a route that knows it.

use serde_json::json;

use crate::helpers::{expect_status, on_both_backends};

on_both_backends! {
    async fn every_link_bulten_puts_in_mail_opens_its_page(app) {
        let list = expect_status(
            app.post_json("/api/lists", &json!({"name": "Gündem", "type": "public", "optin": "double"})).await,
            200,
        )
        .await;
        let list_id = list["data"]["id"].as_i64().unwrap();
        let reader = expect_status(
            app.post_json(
                "/api/subscribers",
                &json!({"email": "okur@haber.example", "name": "Okur", "lists": [list_id]}),
            )
            .await,
            200,
        )
        .await;
        let uuid = uuid::Uuid::parse_str(reader["data"]["uuid"].as_str().unwrap()).unwrap();

        let db = app.connect_db().await;
        let key = bulten::db::secrets::get_or_create(&db, "signing_key", String::new)
            .await
            .unwrap();
        db.close().await;
        let links = bulten::mail::links::Links::new(
            &app.url,
            bulten::mail::tokens::Signer::new(key.into_bytes()),
        );
        let soon = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let token = bulten::mail::tokens::ExpiringToken::new(uuid, soon);
        let lang = bulten::domain::Lang::Tr;
        let cases = [
            ("unsubscribe", links.unsubscribe(uuid, None)),
            ("preference centre", links.manage(uuid)),
            ("confirmation", links.confirm(&token, lang)),
            ("change of address", links.change(&token, "yeni@haber.example", lang)),
        ];
        for (what, link) in cases {
            assert!(link.starts_with(&app.url), "the {what} link is on bulten: {link}");
            let response = app.client.get(&link).send().await.unwrap();
            assert_eq!(response.status(), 200, "the {what} link {link} opens its page");
            let page = response.text().await.unwrap();
            assert!(page.contains("<form"), "the {what} page offers its action: {page}");
        }
    }
}
