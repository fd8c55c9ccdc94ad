//! What a signup form needs from bulten so far: the public topics and a proof-of-work
//! challenge whose solution is accepted once.

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
