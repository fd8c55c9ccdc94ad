//! Proving to be human without a third party watching: the proof-of-work challenge, its
//! solution accepted once and only while fresh, and a third-party captcha when configured
//! (verified, failing closed). Also the public topics a form offers.

use std::time::Duration;

use base64::Engine as _;
use bulten::ops::captcha::{self, Refused};
use serde_json::json;

use crate::helpers::{TestApp, expect_status, on_both_backends};

on_both_backends! {
    async fn only_public_active_lists_are_offered_without_credentials(app) {
        let public = app.create_list("Türkiye", "double").await;
        let archived = app.create_list("Old topic", "single").await;
        expect_status(app.put_json(&format!("/api/lists/{archived}"), &json!({"status": "archived"})).await, 200).await;
        expect_status(
            app.post_json("/api/lists", &json!({"name": "Staff", "type": "private", "optin": "single"})).await,
            200,
        )
        .await;
        let response = app.client.get(format!("{}/api/public/lists", app.url)).send().await.unwrap();
        let body = expect_status(response, 200).await;
        let lists = body.as_array().expect("a bare array, as listmonk answers");
        assert_eq!(lists.len(), 1, "{body}");
        assert_eq!(lists[0]["name"], "Türkiye");
        let uuid = expect_status(app.get(&format!("/api/lists/{public}")).await, 200).await["data"]["uuid"].clone();
        assert_eq!(lists[0]["uuid"], uuid);
        assert!(lists[0].get("id").is_none(), "no internal IDs for strangers");
    }
}

/// A challenge from the app, solved as the widget would, as the widget's payload.
pub(crate) async fn solved_payload(app: &TestApp) -> (String, i64) {
    let response = app
        .client
        .get(format!("{}/api/public/captcha/altcha", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let challenge: altcha::Challenge = response.json().await.unwrap();
    assert!(challenge.signature.is_some(), "challenges are signed");
    let expires = challenge.parameters.expires_at.expect("challenges expire");
    let solution = altcha::solve_challenge(altcha::SolveChallengeOptions::new(&challenge))
        .unwrap()
        .expect("a solution");
    let payload = serde_json::to_vec(&altcha::Payload {
        challenge,
        solution,
    })
    .unwrap();
    (
        base64::engine::general_purpose::STANDARD.encode(payload),
        expires,
    )
}

pub(crate) async fn signer(app: &TestApp) -> (bulten::db::Db, bulten::mail::tokens::Signer) {
    let db = app.connect_db().await;
    let key = bulten::db::secrets::get_or_create(&db, "signing_key", String::new)
        .await
        .unwrap();
    (db, bulten::mail::tokens::Signer::new(key.into_bytes()))
}

on_both_backends! {
    with |s| s.altcha_cost = 20;
    async fn a_solved_challenge_is_accepted_once(app) {
        let (db, signer) = signer(&app).await;
        let now = bulten::domain::Timestamp::now();
        let (payload, _) = solved_payload(&app).await;
        let verify = |p: Option<String>| {
            let (db, signer) = (db.clone(), signer.clone());
            async move { captcha::verify(&db, &signer, p.as_deref(), now).await.unwrap() }
        };
        assert_eq!(verify(Some(payload.clone())).await, Ok(()));
        assert_eq!(verify(Some(payload)).await, Err(Refused::Replayed));
        assert_eq!(verify(None).await, Err(Refused::Missing));
        assert_eq!(verify(Some("bm90IGEgcGF5bG9hZA==".into())).await, Err(Refused::Invalid));
        db.close().await;
    }
}

on_both_backends! {
    with |s| s.altcha_cost = 20;
    async fn a_tampered_or_expired_challenge_is_refused(app) {
        let (db, signer) = signer(&app).await;
        // Made easier by the client: the signature no longer matches.
        let (payload, _) = solved_payload(&app).await;
        let mut decoded: altcha::Payload = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD.decode(&payload).unwrap(),
        )
        .unwrap();
        decoded.challenge.parameters.cost = 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&decoded).unwrap());
        let now = bulten::domain::Timestamp::now();
        assert_eq!(captcha::verify(&db, &signer, Some(&tampered), now).await.unwrap(), Err(Refused::Invalid));
        // Solved, but handed in after its time.
        let (payload, expires) = solved_payload(&app).await;
        let later = bulten::domain::Timestamp::from_datetime(
            time::OffsetDateTime::from_unix_timestamp(expires + 1).unwrap(),
        );
        assert_eq!(captcha::verify(&db, &signer, Some(&payload), later).await.unwrap(), Err(Refused::Expired));
        // A key of another installation signs nothing we accept.
        let (payload, _) = solved_payload(&app).await;
        let stranger = bulten::mail::tokens::Signer::new(b"another installation".to_vec());
        assert_eq!(captcha::verify(&db, &stranger, Some(&payload), now).await.unwrap(), Err(Refused::Invalid));
        db.close().await;
    }
}

on_both_backends! {
    with |s| { s.altcha_cost = 20; s.altcha_valid_secs = 1; };
    async fn an_expired_proof_of_work_is_refused(app) {
        let list = app.create_list("Dünya", "single").await;
        let uuid = app.list_uuid(list).await;
        let (pow, _) = solved_payload(&app).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let answer = expect_status(app.sign_up(&json!({"email": "late@example.com", "list_uuids": [uuid], "altcha": pow}), "en").await, 400).await;
        assert_eq!(answer["message"], "The anti-bot check has expired. Please reload the page and try again.");
        assert_eq!(app.subscriber_total().await, 0);
    }
}

/// A stand-in for a captcha provider's verify endpoint: `good-token` passes.
async fn fake_provider() -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/siteverify",
        post(|body: String| async move {
            let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let has = |k: &str, v: &str| fields.iter().any(|(a, b)| a == k && b == v);
            let ok = has("secret", "provider-secret") && has("response", "good-token");
            axum::Json(json!({"success": ok}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
    (
        url,
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }),
    )
}

on_both_backends! {
    backend a_third_party_captcha_is_verified_and_fails_closed;
}

async fn a_third_party_captcha_is_verified_and_fails_closed(backend: crate::helpers::Backend) {
    let (verify_url, server) = fake_provider().await;
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.altcha_cost = 20;
        s.captcha_provider = Some(bulten::ops::captcha::Provider::Hcaptcha);
        s.captcha_secret = Some(bulten::config::Secret::new("provider-secret"));
        s.captcha_site_key = Some("site-key".into());
        s.captcha_verify_url = Some(verify_url);
    })
    .await;
    let list = app.create_list("Dünya", "single").await;
    let uuid = app.list_uuid(list).await;
    let (_, page) = app.page("/subscription/form", "en").await;
    assert!(
        page.contains("class=\"h-captcha\" data-sitekey=\"site-key\""),
        "{page}"
    );
    let (pow, _) = solved_payload(&app).await;
    let answer = expect_status(app.sign_up(&json!({"email": "c@example.com", "list_uuids": [uuid], "altcha": pow, "h-captcha-response": "bad-token"}), "en").await, 400).await;
    assert_eq!(
        answer["message"],
        "The captcha check failed. Please try again."
    );
    let (pow, _) = solved_payload(&app).await;
    expect_status(app.sign_up(&json!({"email": "c@example.com", "list_uuids": [uuid], "altcha": pow, "h-captcha-response": "good-token"}), "en").await, 200).await;
    server.abort();
    let _ = server.await;
    let (pow, _) = solved_payload(&app).await;
    let answer = expect_status(app.sign_up(&json!({"email": "d@example.com", "list_uuids": [uuid], "altcha": pow, "h-captcha-response": "good-token"}), "en").await, 503).await;
    assert_eq!(
        answer["message"],
        "We cannot check the captcha just now. Please try again in a moment."
    );
    assert!(
        app.subscriber_by_email("d@example.com").await.is_none(),
        "no answer, no signup"
    );
}
