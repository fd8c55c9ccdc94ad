//! What a reader's mailbox holds (the outbox, as the reader would read it) and requests as
//! a stranger's browser makes them: the helpers of the reader's side of the suite.

use std::time::Duration;

use mail_parser::MessageParser;
use reqwest::Response;
use serde_json::Value;

use crate::helpers::{TestApp, expect_status};

/// A message as the reader gets it.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

/// Every message the outbox holds for `to`, oldest first.
pub(crate) async fn mail_to(app: &TestApp, to: &str) -> Vec<Mail> {
    let list = expect_status(
        app.get(&format!(
            "/api/outbox?per_page=all&to={}",
            crate::helpers::urlencode(to)
        ))
        .await,
        200,
    )
    .await;
    let mut found = Vec::new();
    for item in list["data"]["results"].as_array().unwrap() {
        let id = item["id"].as_i64().unwrap();
        let full = expect_status(app.get(&format!("/api/outbox/{id}")).await, 200).await;
        let raw = full["data"]["raw"].as_str().unwrap().to_owned();
        let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
        found.push(Mail {
            subject: parsed.subject().unwrap_or_default().to_owned(),
            text: parsed.body_text(0).unwrap_or_default().into_owned(),
            html: parsed.body_html(0).unwrap_or_default().into_owned(),
        });
    }
    found.reverse();
    found
}

/// Waits until `to` has `count` messages, and returns them.
pub(crate) async fn wait_for_mail(app: &TestApp, to: &str, count: usize) -> Vec<Mail> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mail = mail_to(app, to).await;
        if mail.len() >= count {
            return mail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{to} got {} of {count} messages",
            mail.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The path of the first link in `text` that contains `marker`.
pub(crate) fn link(text: &str, marker: &str) -> String {
    let start = text.find("http").and_then(|_| {
        text.match_indices("http").map(|(i, _)| i).find(|i| {
            text[*i..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .contains(marker)
        })
    });
    let start = start.unwrap_or_else(|| panic!("no link with {marker} in: {text}"));
    let url = text[start..].split_whitespace().next().unwrap();
    let url = url.trim_end_matches(['>', ')', '.']);
    let parsed = url::Url::parse(url).unwrap();
    match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    }
}

impl TestApp {
    pub(crate) async fn list_uuid(&self, id: i64) -> String {
        expect_status(self.get(&format!("/api/lists/{id}")).await, 200).await["data"]["uuid"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A public request (no credentials) with a browser's language.
    pub(crate) fn public(
        &self,
        method: reqwest::Method,
        path: &str,
        lang: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .header("Accept-Language", lang)
            .header("User-Agent", "Mozilla/5.0 (bulten tests)")
    }

    pub(crate) async fn sign_up(&self, body: &Value, lang: &str) -> Response {
        self.public(reqwest::Method::POST, "/api/public/subscription", lang)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        lang: &str,
    ) -> (u16, String) {
        let response = self
            .public(reqwest::Method::POST, path, lang)
            .form(fields)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub(crate) async fn page(&self, path: &str, lang: &str) -> (u16, String) {
        let response = self
            .public(reqwest::Method::GET, path, lang)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub(crate) async fn subscriber_by_email(&self, email: &str) -> Option<Value> {
        let query = crate::helpers::urlencode(&format!("subscribers.email = '{email}'"));
        let body = expect_status(
            self.get(&format!("/api/subscribers?query={query}")).await,
            200,
        )
        .await;
        body["data"]["results"].as_array().unwrap().first().cloned()
    }

    pub(crate) async fn subscriber_total(&self) -> i64 {
        expect_status(self.get("/api/subscribers?per_page=1").await, 200).await["data"]["total"]
            .as_i64()
            .unwrap()
    }

    pub(crate) async fn consents(&self) -> Vec<Value> {
        expect_status(self.get("/api/consents?per_page=all").await, 200).await["data"]["results"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// The status of `subscriber`'s subscription to `list_id` as the API shows it, or "".
pub(crate) fn status_on(subscriber: &Value, list_id: i64) -> String {
    subscriber["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == list_id)
        .map(|l| l["subscription_status"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}
