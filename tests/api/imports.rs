//! `/api/import/subscribers`: the HTTP import, on the same importer as the CLI.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_status, on_both_backends};

pub(crate) async fn upload(app: &TestApp, params: Value, csv: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("params", params.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("subscribers.csv"),
        );
    app.request(reqwest::Method::POST, "/api/import/subscribers")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Polls the import status until it leaves `importing`.
pub(crate) async fn wait_for_import(app: &TestApp) -> Value {
    for _ in 0..300 {
        let status = expect_status(app.get("/api/import/subscribers").await, 200).await;
        if status["data"]["status"] != "importing" && status["data"]["status"] != "stopping" {
            return status["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the import did not end in 15 s");
}

const MIXED_CSV: &str = "\u{feff}email,name,attributes\n\
    ayse@example.com,Ayşe,\"{\"\"city\"\": \"\"İzmir\"\"}\"\n\
    not-an-address,Bad,{}\n\
    mehmet@example.com,Mehmet,{broken\n\
    AYSE@example.com,Duplicate,{}\n\
    zeynep@example.com,Zeynep\n\
    ali@xn--mnchen-3ya.example,,\n";

on_both_backends! {
    async fn an_upload_keeps_the_good_rows_and_logs_the_bad_ones_by_line(app) {
        let list = app.create_list("Türkiye", "single").await;
        let none = expect_status(app.get("/api/import/subscribers").await, 200).await;
        assert_eq!(none["data"]["status"], "none");

        let started = expect_status(upload(&app, json!({"mode": "subscribe", "lists": [list]}), MIXED_CSV).await, 200).await;
        assert_eq!(started["data"]["name"], "subscribers.csv");
        let done = wait_for_import(&app).await;
        assert_eq!(done["status"], "finished", "{done}");
        assert_eq!(done["imported"], 2);
        assert_eq!(done["failed"], 4);
        assert_eq!(done["total"], 6);

        let logs = expect_status(app.get("/api/import/subscribers/logs").await, 200).await;
        let logs = logs["data"].as_str().unwrap();
        assert!(logs.contains("line 3:"), "{logs}");
        assert!(logs.contains("line 4: the attributes are not valid JSON"), "{logs}");
        assert!(logs.contains("line 5: ayse@example.com appears earlier in the file"), "{logs}");
        assert!(logs.contains("line 6: expected 3 columns, found 2"), "{logs}");

        let ayse = expect_status(app.get("/api/subscribers?query=email='ayse@example.com'").await, 200).await;
        let ayse = &ayse["data"]["results"][0];
        assert_eq!(ayse["attribs"]["city"], "İzmir");
        assert_eq!(ayse["lists"][0]["subscription_status"], "confirmed");
        assert_eq!(app.count("email = 'ali@münchen.example'").await, 1);

        expect_status(app.delete("/api/import/subscribers").await, 200).await;
        let cleared = expect_status(app.get("/api/import/subscribers").await, 200).await;
        assert_eq!(cleared["data"]["status"], "none");
    }
}

on_both_backends! {
    async fn semicolons_and_blocklist_mode_are_understood(app) {
        let list = app.create_list("World", "double").await;
        app.create_subscriber(json!({"email": "spam@example.com", "lists": [list]})).await;
        let csv = "email;name\nspam@example.com;Spam\nnew-spam@example.com;New\n";
        expect_status(upload(&app, json!({"mode": "blocklist", "delim": ";"}), csv).await, 200).await;
        let done = wait_for_import(&app).await;
        assert_eq!(done["imported"], 2, "{done}");
        assert_eq!(app.count("status = 'blocklisted'").await, 2);
        let spam = expect_status(app.get("/api/subscribers?query=email='spam@example.com'").await, 200).await;
        assert_eq!(spam["data"]["results"][0]["lists"][0]["subscription_status"], "unsubscribed");
    }
}

on_both_backends! {
    async fn a_bad_upload_is_refused_before_it_starts(app) {
        let list = app.create_list("L", "single").await;
        let unknown = expect_status(upload(&app, json!({"lists": [999999]}), "email\na@example.com\n").await, 400).await;
        assert!(unknown["message"].as_str().unwrap().contains("999999"));
        let no_list = expect_status(upload(&app, json!({"mode": "subscribe"}), "email\na@example.com\n").await, 400).await;
        assert!(no_list["message"].as_str().unwrap().contains("at least one list"));
        expect_status(upload(&app, json!("not an object"), "email\n").await, 400).await;
        let form = reqwest::multipart::Form::new().text("params", json!({"lists": [list]}).to_string());
        let missing = app.request(reqwest::Method::POST, "/api/import/subscribers").multipart(form).send().await.unwrap();
        expect_status(missing, 400).await;
        let none = expect_status(app.get("/api/import/subscribers").await, 200).await;
        assert_eq!(none["data"]["status"], "none", "nothing was started");
    }
}

on_both_backends! {
    async fn a_file_without_an_email_column_fails_with_a_reason(app) {
        let list = app.create_list("L", "single").await;
        expect_status(upload(&app, json!({"lists": [list]}), "foo,bar\n1,2\n").await, 200).await;
        let done = wait_for_import(&app).await;
        assert_eq!(done["status"], "failed");
        assert!(done["error"].as_str().unwrap().contains("no email column"), "{done}");
    }
}

on_both_backends! {
    async fn overwrite_decides_whether_existing_subscribers_change(app) {
        let list = app.create_list("L", "single").await;
        app.create_subscriber(json!({"email": "old@example.com", "name": "Old Name", "attribs": {"a": 1}})).await;
        let csv = "email,name,attributes\nold@example.com,New Name,\"{\"\"b\"\": 2}\"\nnew@example.com,New,{}\n";
        expect_status(upload(&app, json!({"lists": [list]}), csv).await, 200).await;
        wait_for_import(&app).await;
        let kept = expect_status(app.get("/api/subscribers?query=email='old@example.com'").await, 200).await;
        assert_eq!(kept["data"]["results"][0]["name"], "Old Name", "without overwrite the row stays");
        assert_eq!(kept["data"]["results"][0]["lists"][0]["id"], list, "but it joins the list");

        expect_status(upload(&app, json!({"lists": [list], "overwrite": true}), csv).await, 200).await;
        wait_for_import(&app).await;
        let changed = expect_status(app.get("/api/subscribers?query=email='old@example.com'").await, 200).await;
        assert_eq!(changed["data"]["results"][0]["name"], "New Name");
        assert_eq!(changed["data"]["results"][0]["attribs"], json!({"b": 2}));
        assert_eq!(app.count("id > 0").await, 2);
    }
}

on_both_backends! {
    async fn a_blocklisted_subscriber_imported_again_stays_unsubscribed(app) {
        let list = app.create_list("L", "single").await;
        let id = app.create_subscriber(json!({"email": "blocked@example.com", "status": "blocklisted"})).await;
        expect_status(upload(&app, json!({"lists": [list]}), "email\nblocked@example.com\n").await, 200).await;
        wait_for_import(&app).await;
        let read = expect_status(app.get(&format!("/api/subscribers/{id}")).await, 200).await;
        assert_eq!(read["data"]["status"], "blocklisted");
        assert_eq!(read["data"]["lists"][0]["subscription_status"], "unsubscribed");
    }
}

on_both_backends! {
    with |s| s.import_batch_size = 50;
    async fn batches_of_new_and_stored_addresses_each_land_whole(app) {
        // Batches of 50: two of new addresses, two of stored ones, two of new again, so the
        // importer meets stored addresses after new ones and new ones after stored ones.
        let list = app.create_list("L", "single").await;
        let other = app.create_list("Other", "single").await;
        let known: String = (100..200).map(|n| format!("okur{n}@example.com,Eski {n}\n")).collect();
        expect_status(upload(&app, json!({"lists": [other]}), &format!("email,name\n{known}")).await, 200).await;
        assert_eq!(wait_for_import(&app).await["imported"], 100);

        let all: String = (0..300).map(|n| format!("okur{n}@example.com,Yeni {n}\n")).collect();
        expect_status(upload(&app, json!({"lists": [list]}), &format!("email,name\n{all}")).await, 200).await;
        let done = wait_for_import(&app).await;
        assert_eq!((done["status"].as_str(), done["imported"].as_i64(), done["failed"].as_i64()), (Some("finished"), Some(300), Some(0)), "{done}");

        assert_eq!(app.count("id > 0").await, 300);
        let on_list = expect_status(app.get(&format!("/api/subscribers?list_id={list}&per_page=1")).await, 200).await;
        assert_eq!(on_list["data"]["total"], 300, "every row joins the list");
        let on_other = expect_status(app.get(&format!("/api/subscribers?list_id={other}&per_page=1")).await, 200).await;
        assert_eq!(on_other["data"]["total"], 100, "stored subscribers keep their lists");
        assert_eq!(app.count("name LIKE 'Eski %'").await, 100, "without overwrite stored names stay");
        assert_eq!(app.count("name LIKE 'Yeni %'").await, 200);
    }
}

on_both_backends! {
    async fn after_an_import_the_database_still_refuses_subscriptions_to_missing_rows(app) {
        let list = app.create_list("L", "single").await;
        expect_status(upload(&app, json!({"lists": [list]}), "email\na@example.com\n").await, 200).await;
        assert_eq!(wait_for_import(&app).await["imported"], 1);
        // The import vouches for its own subscriptions, for its own transactions only; any
        // other write is still checked.
        let db = app.connect_db().await;
        let missing_subscriber = format!("999999, {list}");
        let missing_list = "(SELECT MIN(id) FROM subscribers), 999999".to_owned();
        for values in [missing_subscriber, missing_list] {
            let sql = format!(
                "INSERT INTO subscriber_lists (subscriber_id, list_id, status, created_at, updated_at) \
                 VALUES ({values}, 'confirmed', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
            );
            let result = match &db {
                bulten::db::Db::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|_| ()),
                bulten::db::Db::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|_| ()),
            };
            let err = result.expect_err("a subscription to a missing row is refused");
            let kind = err.as_database_error().map(|e| e.kind());
            assert_eq!(kind, Some(sqlx::error::ErrorKind::ForeignKeyViolation), "{values}: {err}");
        }
    }
}

on_both_backends! {
    async fn new_subscribers_land_with_every_value_and_every_list_they_were_given(app) {
        let single = app.create_list("Single", "single").await;
        let double = app.create_list("Double", "double").await;
        // A name holding a backslash and quotes, and nested attributes holding a tab and a
        // line break: values that travel as bytes, never as escaped text.
        let csv = "email,name,attributes\n\
            tab@example.com,\"Ad Soyad \\ \"\"Okur\"\" İkinci\",\"{\"\"nested\"\": {\"\"a\"\": [1, 2.5, null]}, \"\"s\"\": \"\"\\\\ \\t\\n\"\"}\"\n\
            plain@example.com,Plain,{}\n";
        expect_status(upload(&app, json!({"lists": [single, double]}), csv).await, 200).await;
        let done = wait_for_import(&app).await;
        assert_eq!((done["imported"].as_i64(), done["failed"].as_i64()), (Some(2), Some(0)), "{done}");

        let found = expect_status(app.get("/api/subscribers?query=email='tab@example.com'").await, 200).await;
        let tab = &found["data"]["results"][0];
        assert_eq!(tab["name"], "Ad Soyad \\ \"Okur\" İkinci");
        assert_eq!(tab["attribs"], json!({"nested": {"a": [1, 2.5, null]}, "s": "\\ \t\n"}));
        assert_eq!(tab["status"], "enabled");
        assert_eq!(tab["uuid"].as_str().map(str::len), Some(36));
        let mut lists: Vec<(i64, String)> = tab["lists"].as_array().unwrap().iter()
            .map(|l| (l["id"].as_i64().unwrap(), l["subscription_status"].as_str().unwrap().to_owned()))
            .collect();
        lists.sort();
        assert_eq!(lists, vec![(single, "confirmed".to_owned()), (double, "unconfirmed".to_owned())]);
        let created = tab["created_at"].as_str().unwrap();
        let created = time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).unwrap();
        assert!((time::OffsetDateTime::now_utc() - created).whole_minutes().abs() < 5, "{created}");

        // The imported rows took their ids from the same sequence as every other insert.
        let later = app.create_subscriber(json!({"email": "later@example.com"})).await;
        assert!(later > tab["id"].as_i64().unwrap());
        assert_eq!(app.count("id > 0").await, 3);
    }
}

on_both_backends! {
    async fn a_blocklist_import_of_new_addresses_stores_them_blocklisted_on_no_list(app) {
        app.create_list("L", "single").await;
        expect_status(upload(&app, json!({"mode": "blocklist"}), "email\nfirst@example.com\nsecond@example.com\n").await, 200).await;
        assert_eq!(wait_for_import(&app).await["imported"], 2);
        assert_eq!(app.count("status = 'blocklisted'").await, 2);
        let first = expect_status(app.get("/api/subscribers?query=email='first@example.com'").await, 200).await;
        assert_eq!(first["data"]["results"][0]["lists"], json!([]));
    }
}
