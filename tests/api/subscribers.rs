//! `/api/subscribers`: creating, changing, blocklisting, deleting, exporting.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{expect_status, on_both_backends};

on_both_backends! {
    async fn a_subscriber_is_created_and_read_back_with_its_lists(app) {
        let single = app.create_list("Türkiye", "single").await;
        let double = app.create_list("World", "double").await;
        let created = expect_status(
            app.post_json(
                "/api/subscribers",
                &json!({"email": "  Ayşe@Example.COM ", "name": "Ayşe Yılmaz", "status": "enabled",
                        "lists": [single, double], "attribs": {"city": "İzmir", "age": 34}}),
            )
            .await,
            200,
        )
        .await;
        let sub = &created["data"];
        assert_eq!(sub["email"], "ayşe@example.com");
        assert_eq!(sub["name"], "Ayşe Yılmaz");
        assert_eq!(sub["attribs"], json!({"city": "İzmir", "age": 34}));
        assert_eq!(sub["status"], "enabled");
        let lists = sub["lists"].as_array().unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[0]["subscription_status"], "confirmed", "single opt-in confirms at once");
        assert_eq!(lists[1]["subscription_status"], "unconfirmed", "double opt-in waits");
        assert_eq!(lists[0]["tags"], json!([]));

        let id = sub["id"].as_i64().unwrap();
        let read = expect_status(app.get(&format!("/api/subscribers/{id}")).await, 200).await;
        assert_eq!(read["data"], created["data"]);
    }
}

on_both_backends! {
    async fn a_missing_name_defaults_to_the_local_part(app) {
        let id = app.create_subscriber(json!({"email": "okur@example.com"})).await;
        let read = expect_status(app.get(&format!("/api/subscribers/{id}")).await, 200).await;
        assert_eq!(read["data"]["name"], "okur");
        assert_eq!(read["data"]["attribs"], json!({}));
        assert_eq!(read["data"]["lists"], json!([]));
    }
}

on_both_backends! {
    async fn an_address_is_unique_whatever_its_case_or_idn_form(app) {
        app.create_subscriber(json!({"email": "Ali@München.example"})).await;
        for again in ["ali@münchen.example", "ALI@MÜNCHEN.EXAMPLE", "ali@xn--mnchen-3ya.example"] {
            let response = app.post_json("/api/subscribers", &json!({"email": again})).await;
            let body = expect_status(response, 409).await;
            assert!(body["message"].as_str().unwrap().contains("already exists"), "{again}: {body}");
        }
    }
}

on_both_backends! {
    async fn bad_subscriber_input_gets_a_clear_4xx_and_stores_nothing(app) {
        let list = app.create_list("L", "single").await;
        let cases = [
            (json!({"email": "not-an-address"}), 400, "no @"),
            (json!({"email": "two@@example.com"}), 400, "not a valid"),
            (json!({"email": ""}), 400, "empty"),
            (json!({"name": "No Address"}), 400, "empty"),
            (json!({"email": "a@b.example\r\nBcc: x@y.example"}), 400, "line break"),
            (json!({"email": "a@[127.0.0.1]"}), 400, "domain"),
            (json!({"email": "a@example.com", "lists": [list, 999999]}), 400, "unknown list ID(s): 999999"),
            (json!({"email": "a@example.com", "status": "vip"}), 400, "unknown subscriber status"),
            (json!({"email": "a@example.com", "attribs": [1, 2]}), 400, "JSON object"),
            (json!({"email": "a@example.com", "name": "<b>x</b>\n"}), 200, ""),
            (json!({"email": "b@example.com", "name": "line\nbreak inside"}), 400, "line break"),
            (json!({"email": 42}), 400, "invalid JSON body"),
            (json!({"email": "c@example.com", "lists": "1"}), 400, "invalid JSON body"),
        ];
        for (body, status, expected) in cases {
            let response = app.post_json("/api/subscribers", &body).await;
            let got = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_eq!(got, status, "{body} gave {text}");
            assert!(text.contains(expected), "{body} gave {text}, expected {expected:?}");
        }
        assert_eq!(app.count("email = 'a@example.com'").await, 1, "only the valid one was stored");
        assert_eq!(app.count("email LIKE '%'").await, 1, "nothing else was half-stored");

        let malformed = app
            .request(Method::POST, "/api/subscribers")
            .header("Content-Type", "application/json")
            .body("{\"email\": ")
            .send()
            .await
            .unwrap();
        let body = expect_status(malformed, 400).await;
        assert!(body["message"].as_str().unwrap().contains("invalid JSON"));

        let not_json = app.request(Method::POST, "/api/subscribers").body("email=a").send().await.unwrap();
        expect_status(not_json, 415).await;

        // A connection of its own: the server closes it after refusing the unread body, and a
        // pooled connection closed that way would fail the next request.
        let huge = json!({"email": "big@example.com", "attribs": {"blob": "x".repeat(200 * 1024)}});
        let refused = reqwest::Client::new()
            .post(format!("{}/api/subscribers", app.url))
            .header("Authorization", app.auth_header())
            .json(&huge)
            .send()
            .await
            .unwrap();
        let body = expect_status(refused, 413).await;
        assert!(body["message"].as_str().unwrap().contains("too large"), "{body}");

        expect_status(app.get("/api/subscribers/abc").await, 400).await;
        expect_status(app.get("/api/subscribers/424242").await, 404).await;
    }
}

on_both_backends! {
    async fn put_replaces_a_subscriber_and_patch_merges(app) {
        let a = app.create_list("A", "single").await;
        let b = app.create_list("B", "single").await;
        let id = app
            .create_subscriber(json!({"email": "e@example.com", "name": "E", "lists": [a], "attribs": {"x": 1, "y": 2}}))
            .await;

        let patched = expect_status(
            app.send_json(Method::PATCH, &format!("/api/subscribers/{id}"), &json!({"attribs": {"y": 3, "z": 4}})).await,
            200,
        )
        .await;
        assert_eq!(patched["data"]["attribs"], json!({"x": 1, "y": 3, "z": 4}));
        assert_eq!(patched["data"]["name"], "E");
        assert_eq!(patched["data"]["lists"].as_array().unwrap().len(), 1, "PATCH keeps lists");

        let replaced = expect_status(
            app.put_json(&format!("/api/subscribers/{id}"), &json!({"email": "E2@example.com", "name": "E2", "lists": [b], "attribs": {"k": true}})).await,
            200,
        )
        .await;
        let data = &replaced["data"];
        assert_eq!(data["email"], "e2@example.com");
        assert_eq!(data["attribs"], json!({"k": true}));
        let lists: Vec<i64> = data["lists"].as_array().unwrap().iter().map(|l| l["id"].as_i64().unwrap()).collect();
        assert_eq!(lists, [b]);

        let cleared = expect_status(app.put_json(&format!("/api/subscribers/{id}"), &json!({"email": "e2@example.com"})).await, 200).await;
        assert_eq!(cleared["data"]["lists"], json!([]), "PUT without lists leaves every list, as in listmonk");

        let other = app.create_subscriber(json!({"email": "taken@example.com"})).await;
        let clash = app.put_json(&format!("/api/subscribers/{other}"), &json!({"email": "E2@EXAMPLE.com"})).await;
        expect_status(clash, 409).await;
        expect_status(app.put_json("/api/subscribers/777777", &json!({"email": "n@example.com"})).await, 404).await;
    }
}

on_both_backends! {
    async fn blocklisting_unsubscribes_from_every_list(app) {
        let a = app.create_list("A", "single").await;
        let b = app.create_list("B", "double").await;
        let one = app.create_subscriber(json!({"email": "one@example.com", "lists": [a, b]})).await;
        let two = app.create_subscriber(json!({"email": "two@example.com", "lists": [a]})).await;
        let three = app.create_subscriber(json!({"email": "three@example.com", "lists": [b]})).await;

        expect_status(app.request(Method::PUT, &format!("/api/subscribers/{one}/blocklist")).send().await.unwrap(), 200).await;
        expect_status(app.put_json("/api/subscribers/blocklist", &json!({"ids": [two, three]})).await, 200).await;
        for id in [one, two, three] {
            let read = expect_status(app.get(&format!("/api/subscribers/{id}")).await, 200).await;
            assert_eq!(read["data"]["status"], "blocklisted");
            for list in read["data"]["lists"].as_array().unwrap() {
                assert_eq!(list["subscription_status"], "unsubscribed");
            }
        }
        expect_status(app.request(Method::PUT, "/api/subscribers/888888/blocklist").send().await.unwrap(), 404).await;
    }
}

on_both_backends! {
    async fn list_memberships_are_added_removed_and_unsubscribed_in_bulk(app) {
        let a = app.create_list("A", "double").await;
        let b = app.create_list("B", "single").await;
        let x = app.create_subscriber(json!({"email": "x@example.com"})).await;
        let y = app.create_subscriber(json!({"email": "y@example.com", "lists": [b]})).await;

        let add = json!({"ids": [x, y], "action": "add", "target_list_ids": [a, b], "status": "confirmed"});
        expect_status(app.put_json("/api/subscribers/lists", &add).await, 200).await;
        assert_eq!(app.count("id > 0").await, 2);
        let on_a = expect_status(app.get(&format!("/api/subscribers?list_id={a}&subscription_status=confirmed")).await, 200).await;
        assert_eq!(on_a["data"]["total"], 2);

        let unsub = json!({"ids": [x], "action": "unsubscribe", "target_list_ids": [a]});
        expect_status(app.put_json("/api/subscribers/lists", &unsub).await, 200).await;
        let unsubscribed = expect_status(app.get(&format!("/api/subscribers?list_id={a}&subscription_status=unsubscribed")).await, 200).await;
        assert_eq!(unsubscribed["data"]["results"][0]["id"], x);

        let remove = json!({"ids": [y], "action": "remove", "target_list_ids": [b]});
        expect_status(app.put_json("/api/subscribers/lists", &remove).await, 200).await;
        let on_b = expect_status(app.get(&format!("/api/subscribers?list_id={b}")).await, 200).await;
        assert_eq!(on_b["data"]["total"], 1);

        let bad = [
            json!({"ids": [x], "action": "explode", "target_list_ids": [a]}),
            json!({"ids": [x], "action": "add", "target_list_ids": [424242]}),
            json!({"ids": [], "action": "add", "target_list_ids": [a]}),
            json!({"ids": [x], "action": "add", "target_list_ids": []}),
        ];
        for body in bad {
            expect_status(app.put_json("/api/subscribers/lists", &body).await, 400).await;
        }
    }
}

on_both_backends! {
    async fn subscribers_are_deleted_one_by_one_or_by_ids(app) {
        let ids: Vec<i64> = futures_ids(&app).await;
        expect_status(app.delete(&format!("/api/subscribers/{}", ids[0])).await, 200).await;
        expect_status(app.delete(&format!("/api/subscribers/{}", ids[0])).await, 404).await;
        expect_status(app.delete(&format!("/api/subscribers?id={}&id={}", ids[1], ids[2])).await, 200).await;
        assert_eq!(app.count("id > 0").await, 1);
        expect_status(app.delete("/api/subscribers?id=abc").await, 400).await;
        expect_status(app.delete("/api/subscribers").await, 400).await;
    }
}

async fn futures_ids(app: &crate::helpers::TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            app.create_subscriber(json!({"email": format!("d{n}@example.com")}))
                .await,
        );
    }
    ids
}

on_both_backends! {
    async fn a_subscribers_data_is_exported_as_a_json_file(app) {
        let list = app.create_list("Türkiye", "single").await;
        let id = app.create_subscriber(json!({"email": "veri@example.com", "lists": [list], "attribs": {"city": "Van"}})).await;
        let response = app.get(&format!("/api/subscribers/{id}/export")).await;
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
        let body = expect_status(response, 200).await;
        assert_eq!(body["profile"][0]["email"], "veri@example.com");
        assert_eq!(body["profile"][0]["attribs"]["city"], "Van");
        assert_eq!(body["subscriptions"][0]["name"], "Türkiye");
        assert_eq!(body["subscriptions"][0]["subscription_status"], "confirmed");
    }
}
