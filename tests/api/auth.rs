//! Who may call the API.

use reqwest::Method;

use crate::helpers::{expect_status, on_both_backends};

on_both_backends! {
    async fn health_answers_without_credentials(app) {
        let response = app.client.get(format!("{}/api/health", app.url)).send().await.unwrap();
        let body = expect_status(response, 200).await;
        assert_eq!(body, serde_json::json!({"data": true}));
    }
}

on_both_backends! {
    async fn every_protected_api_route_refuses_requests_without_credentials(app) {
        let table = bulten::web::protected_route_table();
        assert!(table.len() >= 20, "the route table lists every endpoint");
        for (method, path, _) in table {
            let path = path.replace("{id}", "1");
            let method = Method::from_bytes(method.as_str().as_bytes()).unwrap();
            let response = app
                .client
                .request(method.clone(), format!("{}{path}", app.url))
                .header("Content-Type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 401, "{method} {path} answered without credentials");
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(body["message"].is_string(), "{method} {path} answers in the error shape");
        }
    }
}

on_both_backends! {
    async fn every_protected_route_exists_for_an_authenticated_caller(app) {
        for (method, path, _) in bulten::web::protected_route_table() {
            let path = path.replace("{id}", "999999");
            let method = Method::from_bytes(method.as_str().as_bytes()).unwrap();
            let response = app.request(method.clone(), &path).header("Content-Type", "application/json").body("{}").send().await.unwrap();
            let status = response.status().as_u16();
            assert!(status != 405 && status != 401 && status < 500, "{method} {path} gave {status}");
        }
    }
}

on_both_backends! {
    async fn wrong_tokens_and_unknown_users_are_refused(app) {
        let cases = [
            format!("token {}:wrong", app.api_user),
            format!("token nobody:{}", app.api_token),
            "token".to_owned(),
            "Bearer abc".to_owned(),
            "Basic !!!not-base64".to_owned(),
        ];
        for header in cases {
            let response = app
                .client
                .get(format!("{}/api/lists", app.url))
                .header("Authorization", &header)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 401, "{header:?} was accepted");
        }
    }
}

on_both_backends! {
    async fn basic_auth_with_the_api_token_works_as_in_listmonk(app) {
        let response = app
            .client
            .get(format!("{}/api/lists", app.url))
            .basic_auth(&app.api_user, Some(&app.api_token))
            .send()
            .await
            .unwrap();
        expect_status(response, 200).await;
    }
}
