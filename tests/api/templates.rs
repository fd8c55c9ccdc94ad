//! Templates: listmonk's endpoints, the shipped defaults, and templates that do not compile.

use serde_json::json;

use crate::helpers::{expect_status, on_both_backends};

on_both_backends! {
    async fn the_shipped_templates_are_listed_as_a_plain_array(app) {
        let body = expect_status(app.get("/api/templates").await, 200).await;
        let templates = body["data"].as_array().expect("a plain array, not a page");
        assert_eq!(templates.len(), 2);
        let default = templates.iter().find(|t| t["is_default"] == true).unwrap();
        assert_eq!(default["type"], "campaign");
        assert!(default["body"].as_str().unwrap().contains("{{ content }}"));
        assert!(templates.iter().any(|t| t["type"] == "tx"));
    }
}

on_both_backends! {
    async fn a_template_is_created_previewed_made_default_and_deleted(app) {
        let created = expect_status(
            app.post_json(
                "/api/templates",
                &json!({"name": "Breaking", "type": "campaign",
                        "body": "<html><body><h2>BREAKING</h2>{{ content }}<a href=\"{{ unsubscribe_url() }}\">stop</a></body></html>"}),
            )
            .await,
            200,
        )
        .await;
        let id = created["data"]["id"].as_i64().unwrap();
        assert_eq!(created["data"]["is_default"], false);

        let preview = app.get(&format!("/api/templates/{id}/preview")).await;
        assert_eq!(preview.status(), 200);
        let html = preview.text().await.unwrap();
        assert!(html.contains("BREAKING") && html.contains("A sample headline"), "{html}");
        assert!(html.contains("/u/"), "the unsubscribe link is filled in: {html}");

        let unsaved = app
            .post_json("/api/templates/preview", &json!({"type": "campaign", "body": "<p>X</p>{{ content }}"}))
            .await;
        assert_eq!(unsaved.status(), 200);

        expect_status(app.put_json(&format!("/api/templates/{id}/default"), &json!({})).await, 200).await;
        let all = expect_status(app.get("/api/templates").await, 200).await;
        let defaults: Vec<i64> = all["data"].as_array().unwrap().iter()
            .filter(|t| t["is_default"] == true).map(|t| t["id"].as_i64().unwrap()).collect();
        assert_eq!(defaults, vec![id], "exactly one default");

        let refused = expect_status(app.delete(&format!("/api/templates/{id}")).await, 400).await;
        assert!(refused["message"].as_str().unwrap().contains("default"));

        let updated = expect_status(
            app.put_json(&format!("/api/templates/{id}"), &json!({"name": "Breaking news"})).await,
            200,
        )
        .await;
        assert_eq!(updated["data"]["name"], "Breaking news");
        assert!(updated["data"]["body"].as_str().unwrap().contains("BREAKING"));
    }
}

on_both_backends! {
    async fn templates_that_do_not_compile_are_refused_with_the_line(app) {
        for (body, needle) in [
            ("<p>\n{% if %}</p>{{ content }}", "line 2"),
            ("<p>no content tag</p>", "{{ content }}"),
        ] {
            let response = app
                .post_json("/api/templates", &json!({"name": "Bad", "type": "campaign", "body": body}))
                .await;
            let error = expect_status(response, 400).await;
            let message = error["message"].as_str().unwrap();
            assert!(message.contains(needle), "{body:?} → {message}");
        }
        // No loader: an include names nothing the sandbox can read.
        let created = expect_status(
            app.post_json("/api/templates", &json!({"name": "Sneaky", "type": "campaign",
                "body": "{{ content }}{% include \"/etc/passwd\" %}"})).await,
            200,
        )
        .await;
        let id = created["data"]["id"].as_i64().unwrap();
        let preview = expect_status(app.get(&format!("/api/templates/{id}/preview")).await, 400).await;
        assert!(!preview.to_string().contains("root:"), "{preview}");
        let missing = app.get("/api/templates/9999").await;
        assert_eq!(missing.status(), 404);
    }
}

on_both_backends! {
    async fn listmonk_templates_are_accepted(app) {
        let response = app
            .post_json(
                "/api/templates",
                &json!({"name": "From listmonk", "type": "campaign",
                        "body": "<html><body>{{ template \"content\" . }}<a href=\"{{ UnsubscribeURL }}\">u</a></body></html>"}),
            )
            .await;
        expect_status(response, 200).await;
    }
}
