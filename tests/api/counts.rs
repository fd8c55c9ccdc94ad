//! The counts the database keeps as rows change (readers by status, subscriptions by list
//! and status, each day's new readers) stay equal to a count of the rows themselves after
//! every kind of change: signups through the API, imports (PostgreSQL's `COPY` included),
//! list changes, blocklisting, deletions one by one and by query, and a list's deletion.
//! On SQLite the importer counts a batch of new rows itself, with the triggers set aside;
//! the imports here take that path and the others. On PostgreSQL the changes are appended
//! and folded in every few seconds: the counts add up before and after.

use serde_json::json;

use crate::helpers::{TestApp, expect_status, on_both_backends};
use crate::imports::{upload, wait_for_import};

/// Rows of `sql` (one text column), sorted.
async fn texts(app: &TestApp, sql: &str) -> Vec<String> {
    let mut rows: Vec<String> = match app.connect_db().await {
        bulten::db::Db::Sqlite(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&pool)
            .await
            .unwrap(),
        bulten::db::Db::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&pool)
            .await
            .unwrap(),
    };
    rows.sort();
    rows
}

async fn assert_counts_hold(app: &TestApp, after: &str) {
    let kept = texts(
        app,
        "SELECT status || ':' || CAST(SUM(n) AS TEXT) FROM (SELECT status, n FROM subscriber_counts \
         UNION ALL SELECT status, n FROM subscriber_count_changes) c GROUP BY status HAVING SUM(n) <> 0",
    )
    .await;
    let counted = texts(
        app,
        "SELECT status || ':' || CAST(COUNT(*) AS TEXT) FROM subscribers GROUP BY status",
    )
    .await;
    assert_eq!(kept, counted, "readers by status after {after}");
    let kept = texts(app, "SELECT CAST(list_id AS TEXT) || ':' || status || ':' || CAST(SUM(n) AS TEXT) FROM (SELECT list_id, status, n FROM subscription_counts UNION ALL SELECT list_id, status, n FROM subscription_count_changes) c WHERE list_id IN (SELECT id FROM lists) GROUP BY list_id, status HAVING SUM(n) <> 0").await;
    let counted = texts(app, "SELECT CAST(list_id AS TEXT) || ':' || status || ':' || CAST(COUNT(*) AS TEXT) FROM subscriber_lists GROUP BY list_id, status").await;
    assert_eq!(kept, counted, "subscriptions by list after {after}");
}

on_both_backends! {
    async fn kept_counts_equal_a_recount_after_every_kind_of_change(app) {
        let news = app.create_list("Gündem", "double").await;
        let sports = app.create_list("Spor", "single").await;
        let mut ids = Vec::new();
        for i in 0..6 {
            ids.push(app.create_subscriber(json!({"email": format!("r{i}@okur.example"), "name": format!("R{i}"), "lists": [news, sports], "preconfirm_subscriptions": i % 2 == 0})).await);
        }
        assert_counts_hold(&app, "creating readers").await;

        let mut csv = String::from("email,name\n");
        for i in 0..400 { csv.push_str(&format!("i{i}@okur.example,I{i}\n")); }
        csv.push_str("r0@okur.example,Again\n");
        expect_status(upload(&app, json!({"mode": "subscribe", "lists": [sports], "overwrite": true}), &csv).await, 200).await;
        assert_eq!(wait_for_import(&app).await["status"], "finished");
        assert_counts_hold(&app, "an import").await;
        // Only new addresses: the importer counts the whole batch itself.
        let mut fresh = String::from("email,name\n");
        for i in 0..300 { fresh.push_str(&format!("n{i}@okur.example,N{i}\n")); }
        expect_status(upload(&app, json!({"mode": "subscribe", "lists": [news, sports]}), &fresh).await, 200).await;
        assert_eq!(wait_for_import(&app).await["status"], "finished");
        assert_counts_hold(&app, "an import of new addresses").await;
        expect_status(upload(&app, json!({"mode": "blocklist", "lists": []}), "email\nn1@okur.example\nb1@okur.example\n").await, 200).await;
        assert_eq!(wait_for_import(&app).await["status"], "finished");
        assert_counts_hold(&app, "a blocklist import").await;

        let unsubscribe = json!({"ids": [ids[1], ids[2]], "action": "unsubscribe", "target_list_ids": [news]});
        expect_status(app.put_json("/api/subscribers/lists", &unsubscribe).await, 200).await;
        let add = json!({"ids": [ids[3]], "action": "add", "target_list_ids": [news], "status": "confirmed"});
        expect_status(app.put_json("/api/subscribers/lists", &add).await, 200).await;
        expect_status(app.request(reqwest::Method::PUT, &format!("/api/subscribers/{}/blocklist", ids[4])).send().await.unwrap(), 200).await;
        assert_counts_hold(&app, "list changes and blocklisting").await;

        expect_status(app.delete(&format!("/api/subscribers/{}", ids[5])).await, 200).await;
        let by_query = json!({"query": "subscribers.email LIKE 'i1%'"});
        expect_status(app.post_json("/api/subscribers/query/delete", &by_query).await, 200).await;
        assert_counts_hold(&app, "deletions").await;

        expect_status(app.delete(&format!("/api/lists/{news}")).await, 200).await;
        assert_counts_hold(&app, "a list's deletion").await;
        let kept = texts(&app, &format!("SELECT CAST(n AS TEXT) FROM subscription_counts WHERE list_id = {news}")).await;
        assert!(kept.is_empty(), "a deleted list's counts go with it: {kept:?}");

        // Each reader made today is one signup today, whatever happened to them since.
        let today = texts(&app, "SELECT CAST(SUM(n) AS TEXT) FROM (SELECT n FROM daily_counts WHERE series = 'signups' UNION ALL SELECT n FROM daily_count_changes WHERE series = 'signups') c").await;
        assert_eq!(today, vec!["707".to_owned()], "6 + 400 + 300 + 1 blocklisted new address");
        let lists = expect_status(app.get("/api/lists?per_page=all").await, 200).await;
        let sports_row = lists["data"]["results"].as_array().unwrap().iter().find(|l| l["id"] == sports).unwrap().clone();
        let on_sports = texts(&app, &format!("SELECT CAST(COUNT(*) AS TEXT) FROM subscriber_lists WHERE list_id = {sports}")).await;
        assert_eq!(sports_row["subscriber_count"].to_string(), on_sports[0], "the lists answer reads the kept counts");

        // The appended changes are folded into the counts within seconds, and still add up.
        let started = std::time::Instant::now();
        loop {
            let pending = texts(&app, "SELECT CAST((SELECT COUNT(*) FROM subscriber_count_changes) + (SELECT COUNT(*) FROM subscription_count_changes) + (SELECT COUNT(*) FROM daily_count_changes) AS TEXT)").await;
            if pending == vec!["0".to_owned()] {
                break;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "folded within seconds: {pending:?}");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        assert_counts_hold(&app, "folding").await;
        let folded = texts(&app, "SELECT CAST(n AS TEXT) FROM daily_counts WHERE series = 'signups'").await;
        assert_eq!(folded, vec!["707".to_owned()]);
    }
}
