//! `/api/lists`.

use serde_json::json;

use crate::helpers::{expect_status, on_both_backends};

on_both_backends! {
    async fn a_list_is_created_read_updated_and_deleted(app) {
        let created = expect_status(
            app.post_json(
                "/api/lists",
                &json!({"name": "Türkiye", "type": "public", "optin": "double", "tags": ["news", " news ", "tr"], "description": "Gündem"}),
            )
            .await,
            200,
        )
        .await;
        let list = &created["data"];
        let id = list["id"].as_i64().unwrap();
        assert_eq!(list["name"], "Türkiye");
        assert_eq!(list["type"], "public");
        assert_eq!(list["optin"], "double");
        assert_eq!(list["status"], "active");
        assert_eq!(list["tags"], json!(["news", "tr"]));
        assert_eq!(list["subscriber_count"], 0);
        assert!(list["uuid"].as_str().unwrap().len() == 36);

        let updated = expect_status(app.put_json(&format!("/api/lists/{id}"), &json!({"name": "Turkey", "tags": []})).await, 200).await;
        assert_eq!(updated["data"]["name"], "Turkey");
        assert_eq!(updated["data"]["optin"], "double", "unmentioned fields are kept");
        assert_eq!(updated["data"]["tags"], json!([]), "tags are always an array");

        let read = expect_status(app.get(&format!("/api/lists/{id}")).await, 200).await;
        assert_eq!(read["data"]["name"], "Turkey");

        expect_status(app.delete(&format!("/api/lists/{id}")).await, 200).await;
        expect_status(app.get(&format!("/api/lists/{id}")).await, 404).await;
        expect_status(app.delete(&format!("/api/lists/{id}")).await, 404).await;
    }
}

on_both_backends! {
    async fn lists_are_searched_by_name_tag_and_status_and_paginated(app) {
        for (name, tags) in [("Türkiye", json!(["tr"])), ("Region", json!(["region"])), ("World", json!(["world", "tr"]))] {
            expect_status(app.post_json("/api/lists", &json!({"name": name, "tags": tags})).await, 200).await;
        }
        let all = expect_status(app.get("/api/lists?page=1&per_page=1000000").await, 200).await;
        assert_eq!(all["data"]["total"], 3);
        assert_eq!(all["data"]["results"].as_array().unwrap().len(), 3);

        let page = expect_status(app.get("/api/lists?page=2&per_page=2&order_by=name&order=asc").await, 200).await;
        assert_eq!(page["data"]["page"], 2);
        assert_eq!(page["data"]["per_page"], 2);
        let names: Vec<&str> = page["data"]["results"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["World"]);

        let tagged = expect_status(app.get("/api/lists?tag=tr").await, 200).await;
        assert_eq!(tagged["data"]["total"], 2);
        let named = expect_status(app.get("/api/lists?query=reg").await, 200).await;
        assert_eq!(named["data"]["results"][0]["name"], "Region");
        let minimal = expect_status(app.get("/api/lists?minimal=true").await, 200).await;
        assert_eq!(minimal["data"]["results"].as_array().unwrap().len(), 3);
        assert!(minimal["data"]["results"][0].get("subscriber_count").is_none());
        let everything = expect_status(app.get("/api/lists?per_page=all").await, 200).await;
        assert_eq!(everything["data"]["results"].as_array().unwrap().len(), 3);
    }
}

on_both_backends! {
    async fn subscriber_counts_follow_subscription_statuses(app) {
        let list = app.create_list("Dünya", "double").await;
        app.create_subscriber(json!({"email": "a@example.com", "lists": [list]})).await;
        app.create_subscriber(json!({"email": "b@example.com", "lists": [list], "preconfirm_subscriptions": true})).await;
        let read = expect_status(app.get(&format!("/api/lists/{list}")).await, 200).await;
        assert_eq!(read["data"]["subscriber_count"], 2);
        assert_eq!(read["data"]["subscriber_statuses"], json!({"unconfirmed": 1, "confirmed": 1}));
    }
}

on_both_backends! {
    async fn bad_list_input_gets_a_clear_4xx(app) {
        let cases = [
            (json!({}), "list name is empty"),
            (json!({"name": "  "}), "list name is empty"),
            (json!({"name": "x", "type": "secret"}), "unknown list type"),
            (json!({"name": "x", "optin": "triple"}), "unknown opt-in kind"),
            (json!({"name": "x\ny"}), "control character"),
            (json!({"name": "x", "tags": "news"}), "invalid JSON body"),
        ];
        for (body, expected) in cases {
            let response = app.post_json("/api/lists", &body).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_eq!(status, 400, "{body} gave {status}: {text}");
            assert!(text.contains(expected), "{body} gave {text}, expected {expected:?}");
        }
        expect_status(app.get("/api/lists/abc").await, 400).await;
        expect_status(app.get("/api/lists?per_page=lots").await, 400).await;
        expect_status(app.get("/api/lists?order_by=password").await, 400).await;
    }
}

on_both_backends! {
    async fn deleting_a_list_or_a_subscriber_removes_their_subscriptions(app) {
        let gone = app.create_list("Gone", "single").await;
        let kept = app.create_list("Kept", "single").await;
        let a = app.create_subscriber(json!({"email": "a@example.com", "lists": [gone, kept]})).await;
        let b = app.create_subscriber(json!({"email": "b@example.com", "lists": [gone, kept]})).await;
        expect_status(app.delete(&format!("/api/lists/{gone}")).await, 200).await;
        let read = expect_status(app.get(&format!("/api/subscribers/{a}")).await, 200).await;
        let lists: Vec<i64> = read["data"]["lists"].as_array().unwrap().iter().map(|l| l["id"].as_i64().unwrap()).collect();
        assert_eq!(lists, [kept]);
        expect_status(app.delete(&format!("/api/subscribers/{b}")).await, 200).await;
        let counts = expect_status(app.get(&format!("/api/lists/{kept}")).await, 200).await;
        assert_eq!(counts["data"]["subscriber_count"], 1);
    }
}
