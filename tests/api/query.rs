//! `GET /api/subscribers` with the `query` filter, lists, statuses, order and pages.

use serde_json::json;

use crate::helpers::{TestApp, expect_status, on_both_backends, urlencode};

async fn seed(app: &TestApp) -> (i64, i64) {
    let tr = app.create_list("Türkiye", "single").await;
    let world = app.create_list("World", "double").await;
    let people = [
        (
            "ayse@example.com",
            "Ayşe",
            json!({"city": "İzmir", "age": 34, "vip": true, "address": {"city": "Konak"}}),
            vec![tr],
        ),
        (
            "mehmet@example.com",
            "Mehmet",
            json!({"city": "Ankara", "age": 51, "vip": false}),
            vec![tr, world],
        ),
        (
            "o.brien@example.ie",
            "O'Brien",
            json!({"city": "Cork", "age": 27}),
            vec![world],
        ),
        ("zeynep@example.com", "Zeynep", json!({}), vec![]),
    ];
    for (email, name, attribs, lists) in people {
        app.create_subscriber(
            json!({"email": email, "name": name, "attribs": attribs, "lists": lists}),
        )
        .await;
    }
    (tr, world)
}

async fn emails(app: &TestApp, query: &str) -> Vec<String> {
    let path = format!(
        "/api/subscribers?per_page=all&order_by=email&query={}",
        urlencode(query)
    );
    let body = expect_status(app.get(&path).await, 200).await;
    body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn the_filter_language_selects_the_right_subscribers(app) {
        seed(&app).await;
        let cases: &[(&str, &[&str])] = &[
            ("subscribers.email = 'ayse@example.com'", &["ayse@example.com"]),
            ("subscribers.email='mehmet@example.com'", &["mehmet@example.com"]),
            ("subscribers.attribs->>'city' = 'İzmir'", &["ayse@example.com"]),
            ("subscribers.attribs->'address'->>'city' = 'Konak'", &["ayse@example.com"]),
            ("(subscribers.attribs->>'age')::int > 30", &["ayse@example.com", "mehmet@example.com"]),
            ("attribs->>'age' >= 51", &["mehmet@example.com"]),
            ("attribs->>'vip' = true", &["ayse@example.com"]),
            ("name = 'O''Brien'", &["o.brien@example.ie"]),
            ("email LIKE '%.com' AND NOT name = 'Zeynep'", &["ayse@example.com", "mehmet@example.com"]),
            ("name ILIKE 'ay%'", &["ayse@example.com"]),
            ("name LIKE 'ay%'", &[]),
            ("email NOT LIKE '%.com'", &["o.brien@example.ie"]),
            ("attribs->>'city' IN ('Cork', 'Ankara')", &["mehmet@example.com", "o.brien@example.ie"]),
            ("attribs->>'city' IS NULL", &["zeynep@example.com"]),
            ("attribs->>'city' IS NOT NULL AND (name = 'Ayşe' OR name = 'Mehmet')", &["ayse@example.com", "mehmet@example.com"]),
            ("status = 'enabled' AND created_at > '2000-01-01'", &["ayse@example.com", "mehmet@example.com", "o.brien@example.ie", "zeynep@example.com"]),
            ("updated_at < '2000-01-01T00:00:00Z'", &[]),
            ("id != 0 AND id IN (-1, 0)", &[]),
        ];
        for (query, expected) in cases {
            assert_eq!(emails(&app, query).await, *expected, "query: {query}");
        }
    }
}

on_both_backends! {
    async fn a_bad_filter_is_refused_with_the_part_it_does_not_support(app) {
        seed(&app).await;
        let cases = [
            ("subscribers.email = 'x' OR 1=1", "is not a field"),
            ("email = 'x'; DELETE FROM subscribers", "unexpected"),
            ("password_hash = 'x'", "unknown field 'password_hash'"),
            ("id IN (SELECT id FROM users)", "not a condition"),
            ("pg_sleep(10) IS NULL", "not a field"),
            ("email = ", "invalid query"),
            ("uuid = 'nope'", "not a UUID"),
        ];
        for (query, expected) in cases {
            let path = format!("/api/subscribers?query={}", urlencode(query));
            let body = expect_status(app.get(&path).await, 400).await;
            let message = body["message"].as_str().unwrap();
            assert!(message.contains(expected), "{query} gave {message:?}, expected {expected:?}");
        }
        assert_eq!(app.count("id > 0").await, 4, "nothing was deleted");
    }
}

on_both_backends! {
    async fn the_listmonk_client_lookups_work(app) {
        seed(&app).await;
        let by_email = expect_status(app.get("/api/subscribers?page=1&per_page=100&query=subscribers.email='ayse@example.com'").await, 200).await;
        let found = &by_email["data"]["results"][0];
        assert_eq!(found["email"], "ayse@example.com");
        let id = found["id"].as_i64().unwrap();
        let uuid = found["uuid"].as_str().unwrap();
        let by_id = expect_status(app.get(&format!("/api/subscribers?page=1&per_page=100&query=subscribers.id={id}")).await, 200).await;
        assert_eq!(by_id["data"]["results"][0]["email"], "ayse@example.com");
        let by_uuid = expect_status(app.get(&format!("/api/subscribers?page=1&per_page=100&query=subscribers.uuid='{uuid}'")).await, 200).await;
        assert_eq!(by_uuid["data"]["total"], 1);
        let plus = app.create_subscriber(json!({"email": "a+news@example.com"})).await;
        let by_plus = expect_status(app.get("/api/subscribers?query=subscribers.email='a%2bnews@example.com'").await, 200).await;
        assert_eq!(by_plus["data"]["results"][0]["id"], plus);
    }
}

on_both_backends! {
    async fn results_are_ordered_filtered_by_list_and_paginated(app) {
        let (tr, world) = seed(&app).await;
        let on_tr = expect_status(app.get(&format!("/api/subscribers?list_id={tr}&order_by=email&order=desc")).await, 200).await;
        let got: Vec<&str> = on_tr["data"]["results"].as_array().unwrap().iter().map(|s| s["email"].as_str().unwrap()).collect();
        assert_eq!(got, ["mehmet@example.com", "ayse@example.com"]);
        let unconfirmed = expect_status(app.get(&format!("/api/subscribers?list_id={world}&subscription_status=unconfirmed")).await, 200).await;
        assert_eq!(unconfirmed["data"]["total"], 2);

        let page2 = expect_status(app.get("/api/subscribers?page=2&per_page=3&order_by=email").await, 200).await;
        assert_eq!(page2["data"]["total"], 4);
        assert_eq!(page2["data"]["per_page"], 3);
        assert_eq!(page2["data"]["page"], 2);
        assert_eq!(page2["data"]["results"].as_array().unwrap().len(), 1);
        assert_eq!(page2["data"]["results"][0]["email"], "zeynep@example.com");

        let huge = expect_status(app.get("/api/subscribers?page=1&per_page=1000000").await, 200).await;
        assert_eq!(huge["data"]["results"].as_array().unwrap().len(), 4);
        let beyond = expect_status(app.get("/api/subscribers?page=99999999&per_page=99999999999").await, 200).await;
        assert_eq!(beyond["data"]["results"], json!([]));

        for bad in ["order_by=password_hash", "order=sideways", "list_id=x", "subscription_status=maybe", "page=-1"] {
            expect_status(app.get(&format!("/api/subscribers?{bad}")).await, 400).await;
        }
    }
}
