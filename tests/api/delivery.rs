//! Delivery over real SMTP into postfix's `smtp-sink`: every recipient once, retries on
//! temporary failures, bounces on permanent ones, pause within a second, and DKIM signatures
//! an independent verifier accepts.

use std::time::Duration;

use serde_json::json;

use crate::campaigns::{create_campaign, set_status, wait_campaign};
use crate::helpers::{Backend, TestApp, expect_status, on_both_backends, spawn_app_with};
use crate::sink::SmtpSink;

/// An app sending to `sink` with `connections` connections.
async fn app_sending_to(
    backend: Backend,
    sink: &SmtpSink,
    configure: impl FnOnce(&mut bulten::config::Settings),
) -> TestApp {
    let port = sink.port;
    spawn_app_with(backend, move |s| {
        s.smtp_host = Some("127.0.0.1".into());
        s.smtp_port = Some(port);
        s.smtp_tls = Some(bulten::mail::smtp::TlsMode::None);
        configure(s);
    })
    .await
}

/// Subscribes `count` addresses to a new single opt-in list through an import.
async fn audience(app: &TestApp, count: usize) -> i64 {
    let list = app.create_list("Daily", "single").await;
    let mut csv = String::from("email,name\n");
    for i in 0..count {
        csv.push_str(&format!("reader{i}@example.com,Reader {i}\n"));
    }
    let (_dir, path) = crate::helpers::temp_file("audience.csv", csv.as_bytes());
    let output = app.cli(&[
        "subscribers",
        "import",
        path.to_str().unwrap(),
        "--list",
        &list.to_string(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    list
}

async fn every_recipient_gets_exactly_one_copy_over_smtp(backend: Backend) {
    let sink = SmtpSink::start(&[]).await;
    let app = app_sending_to(backend, &sink, |s| s.send_batch_size = 50).await;
    let list = audience(&app, 300).await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    let done = wait_campaign(&app, id, Duration::from_secs(60), |c| {
        c["status"] == "finished"
    })
    .await;
    assert_eq!(done["sent"], 300);
    let received = sink.wait_for(300, Duration::from_secs(10)).await;
    let mut rcpts: Vec<&str> = received.iter().map(|r| r.rcpt.as_str()).collect();
    rcpts.sort_unstable();
    rcpts.dedup();
    assert_eq!(rcpts.len(), 300, "one copy each, no duplicates");
    assert_eq!(received.len(), 300);
    let one = &received[0];
    assert!(one.mail_from.starts_with("bounces+") && one.mail_from.ends_with("@haber.example"));
    assert!(
        one.message
            .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    );
}
on_both_backends! { backend every_recipient_gets_exactly_one_copy_over_smtp; }

async fn temporary_failures_are_retried_and_then_given_up(backend: Backend) {
    // Every RCPT TO answered 4xx.
    let sink = SmtpSink::start(&["-r", "rcpt"]).await;
    let app = app_sending_to(backend, &sink, |s| {
        s.retry_base_secs = 1;
        s.retry_max_age_secs = 3;
    })
    .await;
    let list = audience(&app, 3).await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    // Retried (not bounced) until the window closes, then failed; never sent.
    let done = wait_campaign(&app, id, Duration::from_secs(30), |c| {
        c["status"] == "finished"
    })
    .await;
    assert_eq!(done["sent"], 0);
    assert_eq!(done["bounced"], 0);
    assert_eq!(done["failed"], 3);
    assert!(sink.received().is_empty());
}
on_both_backends! { backend temporary_failures_are_retried_and_then_given_up; }

async fn permanent_failures_are_bounces_and_not_retried(backend: Backend) {
    let sink = SmtpSink::start(&["-f", "rcpt"]).await;
    let app = app_sending_to(backend, &sink, |_| {}).await;
    let list = audience(&app, 3).await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    let done = wait_campaign(&app, id, Duration::from_secs(20), |c| {
        c["status"] == "finished"
    })
    .await;
    assert_eq!(done["bounced"], 3);
    assert_eq!(done["sent"], 0);
}
on_both_backends! { backend permanent_failures_are_bounces_and_not_retried; }

async fn a_dropped_connection_is_retried_on_a_new_one(backend: Backend) {
    // The relay hangs up at every RCPT TO; the messages wait for a retry, and when a working
    // relay takes the port each arrives once.
    let dropping = SmtpSink::start(&["-q", "rcpt"]).await;
    let port = dropping.port;
    let app = app_sending_to(backend, &dropping, |s| s.retry_base_secs = 1).await;
    let list = audience(&app, 20).await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = expect_status(app.get(&format!("/api/campaigns/{id}")).await, 200).await;
    assert_eq!(during["data"]["status"], "running");
    assert_eq!(during["data"]["sent"], 0);
    assert_eq!(
        during["data"]["failed"], 0,
        "a dropped connection is not a failure"
    );
    drop(dropping);
    let sink = SmtpSink::start_on(port, &[]).await;
    let done = wait_campaign(&app, id, Duration::from_secs(60), |c| {
        c["status"] == "finished"
    })
    .await;
    assert_eq!(done["sent"], 20, "{done}");
    let received = sink.wait_for(20, Duration::from_secs(10)).await;
    let mut rcpts: Vec<&str> = received.iter().map(|r| r.rcpt.as_str()).collect();
    rcpts.sort_unstable();
    rcpts.dedup();
    assert_eq!(rcpts.len(), 20);
}
on_both_backends! { backend a_dropped_connection_is_retried_on_a_new_one; }

async fn pause_stops_sending_within_a_second_and_resume_finishes(backend: Backend) {
    let sink = SmtpSink::start(&[]).await;
    let app = app_sending_to(backend, &sink, |s| s.send_rate = Some(40)).await;
    let list = audience(&app, 120).await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    sink.wait_for(10, Duration::from_secs(20)).await;
    expect_status(set_status(&app, id, "paused").await, 200).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_pause = sink.received().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        sink.received().len(),
        at_pause,
        "nothing is sent while paused"
    );
    assert!(at_pause < 120);
    expect_status(set_status(&app, id, "running").await, 200).await;
    let done = wait_campaign(&app, id, Duration::from_secs(30), |c| {
        c["status"] == "finished"
    })
    .await;
    assert_eq!(done["sent"], 120);
    assert_eq!(sink.wait_for(120, Duration::from_secs(5)).await.len(), 120);
}
on_both_backends! { backend pause_stops_sending_within_a_second_and_resume_finishes; }

/// A node whose lease ran out must not undo the work of the node that took the rows over:
/// only the lease holder's outcomes count, except "sent", which is true whoever says it.
async fn a_stale_node_cannot_touch_rows_another_node_holds(backend: Backend) {
    use bulten::db::deliveries::{self, Outcome, Recorded};
    use bulten::domain::Timestamp;
    let app = spawn_app_with(backend, |s| s.sending = false).await;
    let list = audience(&app, 2).await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    let db = app.connect_db().await;

    let past =
        Timestamp::from_datetime(time::OffsetDateTime::now_utc() - time::Duration::seconds(1));
    let soon =
        Timestamp::from_datetime(time::OffsetDateTime::now_utc() + time::Duration::seconds(60));
    let by_a = deliveries::claim(&db, Some(id), "node-a", past, 10, 0)
        .await
        .unwrap();
    assert_eq!(by_a.len(), 2);
    assert_eq!(
        deliveries::requeue_leased(&db, Some(Timestamp::now()))
            .await
            .unwrap(),
        2,
        "node-a's lease ran out"
    );
    let by_b = deliveries::claim(&db, Some(id), "node-b", soon, 10, 0)
        .await
        .unwrap();
    assert_eq!(by_b.len(), 2);

    // node-a wakes up: its "released" and "retry" no longer count; its "sent" does.
    let (first, second) = (by_a[0].id, by_a[1].id);
    deliveries::record(
        &db,
        "node-a",
        &[
            Recorded::new(first, Outcome::Released),
            Recorded::new(second, Outcome::Sent),
        ],
    )
    .await
    .unwrap();
    let again = deliveries::claim(&db, Some(id), "node-c", soon, 10, 0)
        .await
        .unwrap();
    assert!(
        again.is_empty(),
        "nothing went back to the queue: {again:?}"
    );
    deliveries::record(
        &db,
        "node-b",
        &[
            Recorded::new(first, Outcome::Sent),
            Recorded::new(second, Outcome::Sent),
        ],
    )
    .await
    .unwrap();
    let campaign = expect_status(app.get(&format!("/api/campaigns/{id}")).await, 200).await;
    assert_eq!(campaign["data"]["sent"], 2, "each message counted once");
    db.close().await;
}
on_both_backends! { backend a_stale_node_cannot_touch_rows_another_node_holds; }

async fn an_address_needing_smtputf8_bounces_at_a_relay_without_it(backend: Backend) {
    // smtp-sink does not offer SMTPUTF8: the non-ASCII local part cannot be delivered there.
    let sink = SmtpSink::start(&[]).await;
    let app = app_sending_to(backend, &sink, |_| {}).await;
    let list = app.create_list("Daily", "single").await;
    app.create_subscriber(json!({"email": "okur@örnek.example", "name": "Okur", "lists": [list]}))
        .await;
    app.create_subscriber(json!({"email": "ayşe@example.com", "name": "Ayşe", "lists": [list]}))
        .await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    let done = wait_campaign(&app, id, Duration::from_secs(20), |c| {
        c["status"] == "finished"
    })
    .await;
    assert_eq!(done["sent"], 1);
    assert_eq!(done["bounced"], 1);
    let received = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        received[0].rcpt, "okur@xn--rnek-4qa.example",
        "an IDN domain needs no SMTPUTF8"
    );
}
on_both_backends! { backend an_address_needing_smtputf8_bounces_at_a_relay_without_it; }

async fn messages_are_spread_over_every_relay(backend: Backend) {
    let (first, second) = (SmtpSink::start(&[]).await, SmtpSink::start(&[]).await);
    let relays: Vec<_> = [first.port, second.port]
        .into_iter()
        .map(|port| bulten::mail::smtp::SmtpServerConfig {
            host: "127.0.0.1".into(),
            port,
            tls: bulten::mail::smtp::TlsMode::None,
            pool_size: 2,
            ..Default::default()
        })
        .collect();
    let app = spawn_app_with(backend, move |s| s.smtp = relays).await;
    let list = audience(&app, 200).await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    wait_campaign(&app, id, Duration::from_secs(30), |c| {
        c["status"] == "finished"
    })
    .await;
    let (a, b) = (first.received().len(), second.received().len());
    assert_eq!(a + b, 200);
    assert!(a > 0 && b > 0, "both relays carry mail: {a} and {b}");
}
on_both_backends! { backend messages_are_spread_over_every_relay; }

async fn a_domain_limit_holds_back_only_its_domain(backend: Backend) {
    let sink = SmtpSink::start(&[]).await;
    let app = app_sending_to(backend, &sink, |s| s.domain_limit = vec![slow_domain()]).await;
    holds_back_the_slow_domain(&app, &sink).await;
}
on_both_backends! { backend a_domain_limit_holds_back_only_its_domain; }

async fn a_relays_own_domain_limit_holds_back_only_its_domain(backend: Backend) {
    let sink = SmtpSink::start(&[]).await;
    let relay = bulten::mail::smtp::SmtpServerConfig {
        host: "127.0.0.1".into(),
        port: sink.port,
        tls: bulten::mail::smtp::TlsMode::None,
        domain_limit: vec![slow_domain()],
        ..Default::default()
    };
    let app = spawn_app_with(backend, move |s| s.smtp = vec![relay]).await;
    holds_back_the_slow_domain(&app, &sink).await;
}
on_both_backends! { backend a_relays_own_domain_limit_holds_back_only_its_domain; }

fn slow_domain() -> bulten::config::DomainLimit {
    bulten::config::DomainLimit {
        domain: "slow.example".into(),
        per_second: 2,
    }
}

/// Eight readers at slow.example (two a second) and eight at fast.example: the fast ones
/// all arrive while the slow ones still wait.
async fn holds_back_the_slow_domain(app: &TestApp, sink: &SmtpSink) {
    let list = app.create_list("Daily", "single").await;
    for i in 0..8 {
        app.create_subscriber(
            json!({"email": format!("a{i}@slow.example"), "name": "S", "lists": [list]}),
        )
        .await;
        app.create_subscriber(
            json!({"email": format!("b{i}@fast.example"), "name": "F", "lists": [list]}),
        )
        .await;
    }
    let id = create_campaign(app, &[list], json!({})).await;
    expect_status(set_status(app, id, "running").await, 200).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let slow_when_fast_done = loop {
        let received = sink.received();
        let fast = received
            .iter()
            .filter(|r| r.rcpt.ends_with("@fast.example"))
            .count();
        if fast == 8 {
            break received
                .iter()
                .filter(|r| r.rcpt.ends_with("@slow.example"))
                .count();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the fast domain was held back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        slow_when_fast_done < 8,
        "the slow domain waits for its limit"
    );
    let done = wait_campaign(app, id, Duration::from_secs(30), |c| {
        c["status"] == "finished"
    })
    .await;
    assert_eq!(done["sent"], 16);
}

async fn a_cancelled_campaign_stops_and_stays_stopped(backend: Backend) {
    let sink = SmtpSink::start(&[]).await;
    let app = app_sending_to(backend, &sink, |s| s.send_rate = Some(40)).await;
    let list = audience(&app, 100).await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    sink.wait_for(5, Duration::from_secs(20)).await;
    expect_status(set_status(&app, id, "cancelled").await, 200).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_cancel = sink.received().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.received().len(), at_cancel);
    assert!(at_cancel < 100);
    let refused = expect_status(set_status(&app, id, "running").await, 400).await;
    assert!(refused["message"].as_str().unwrap().contains("cancelled"));
}
on_both_backends! { backend a_cancelled_campaign_stops_and_stays_stopped; }
