//! Limits to some lists: a user or API user who reaches only some lists, to read or to
//! change, finds only those lists' readers and campaigns, and is refused the rest with the
//! permission named, through the API and on the desk alike.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::campaigns::create_campaign;
use crate::desk::{ADMIN, ADMIN_PASSWORD, Browser, add_user};
use crate::helpers::{TestApp, expect_status, on_both_backends};

/// The newsroom of these tests: three desks' lists and a reader on each, one on two.
struct Newsroom {
    sports: i64,
    politics: i64,
    culture: i64,
    /// On sports only.
    fan: i64,
    /// On politics only.
    voter: i64,
    /// On sports and politics.
    both: i64,
}

async fn newsroom(app: &TestApp) -> Newsroom {
    let sports = app.create_list("Spor", "single").await;
    let politics = app.create_list("Siyaset", "single").await;
    let culture = app.create_list("Kültür", "single").await;
    let reader = |email: &str, lists: Vec<i64>| json!({"email": email, "name": email.split('@').next().unwrap(), "lists": lists});
    let fan = app
        .create_subscriber(reader("taraftar@okur.example", vec![sports]))
        .await;
    let voter = app
        .create_subscriber(reader("secmen@okur.example", vec![politics]))
        .await;
    let both = app
        .create_subscriber(reader("ikisi@okur.example", vec![sports, politics]))
        .await;
    Newsroom {
        sports,
        politics,
        culture,
        fan,
        voter,
        both,
    }
}

/// A program limited to `lists` (grants in listmonk's shape), as the admin makes it.
async fn limited_program(app: &TestApp, name: &str, lists: Value) -> String {
    let made = app
        .post_json(
            "/api/api-users",
            &json!({"name": name, "role": "editor", "lists": lists}),
        )
        .await;
    let made = expect_status(made, 200).await;
    format!("token {name}:{}", made["data"]["token"].as_str().unwrap())
}

async fn call(
    app: &TestApp,
    auth: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.url))
        .header("Authorization", auth);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = page["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

on_both_backends! {
    async fn a_program_limited_to_a_list_finds_only_that_lists_readers_and_lists(app) {
        let n = newsroom(&app).await;
        let desk = limited_program(&app, "spor-masasi", json!([
            {"id": n.sports, "permissions": ["list:get", "list:manage"]},
            {"id": n.culture, "permissions": ["list:get"]},
        ])).await;

        let readers = expect_status(call(&app, &desk, Method::GET, "/api/subscribers?per_page=50", None).await, 200).await;
        assert_eq!(ids(&readers), { let mut v = vec![n.fan, n.both]; v.sort_unstable(); v });
        assert_eq!(readers["data"]["total"], 2);
        let shared = readers["data"]["results"].as_array().unwrap().iter().find(|r| r["id"] == n.both).unwrap();
        let lists: Vec<i64> = shared["lists"].as_array().unwrap().iter().map(|l| l["id"].as_i64().unwrap()).collect();
        assert_eq!(lists, vec![n.sports], "another desk's subscription stays out of sight");

        let everyone = call(&app, &desk, Method::GET, "/api/subscribers?per_page=all", None).await;
        assert_eq!(expect_status(everyone, 200).await["data"]["total"], 2, "a whole-list answer is limited too");
        let csv = call(&app, &desk, Method::GET, "/api/subscribers/export", None).await.text().await.unwrap();
        assert_eq!(csv.lines().count(), 3, "the export is limited too: {csv}");
        assert!(csv.contains("ikisi@okur.example") && !csv.contains("secmen@"), "{csv}");
        // Filters say nothing of other desks' lists: naming one is refused, and a status
        // counts only on the caller's lists.
        let filtered = call(&app, &desk, Method::GET, &format!("/api/subscribers?list_id={}&per_page=50", n.politics), None).await;
        assert_eq!(filtered.status(), StatusCode::FORBIDDEN);
        let unsubscribe = json!({"ids": [n.both], "action": "unsubscribe", "target_list_ids": [n.politics]});
        expect_status(app.put_json("/api/subscribers/lists", &unsubscribe).await, 200).await;
        let by_status = call(&app, &desk, Method::GET, "/api/subscribers?subscription_status=unsubscribed&per_page=50", None).await;
        assert_eq!(expect_status(by_status, 200).await["data"]["total"], 0, "an unsubscription from politics is not seen");

        assert_eq!(call(&app, &desk, Method::GET, &format!("/api/subscribers/{}", n.voter), None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(call(&app, &desk, Method::GET, &format!("/api/subscribers/{}/export", n.voter), None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(call(&app, &desk, Method::GET, &format!("/api/subscribers/{}", n.fan), None).await.status(), StatusCode::OK);

        let lists = expect_status(call(&app, &desk, Method::GET, "/api/lists?per_page=50", None).await, 200).await;
        assert_eq!(ids(&lists), { let mut v = vec![n.sports, n.culture]; v.sort_unstable(); v });
        assert_eq!(call(&app, &desk, Method::GET, &format!("/api/lists/{}", n.politics), None).await.status(), StatusCode::NOT_FOUND);

        // Admins see everything still.
        assert_eq!(expect_status(app.get("/api/subscribers?per_page=50").await, 200).await["data"]["total"], 3);
    }
}

on_both_backends! {
    async fn a_limited_program_changes_only_what_its_lists_allow_and_is_told_which_permission_is_missing(app) {
        let n = newsroom(&app).await;
        let desk = limited_program(&app, "spor-masasi", json!([
            {"id": n.sports, "permissions": ["list:get", "list:manage"]},
            {"id": n.culture, "permissions": ["list:get"]},
        ])).await;
        let refused = |response: reqwest::Response, needed: String| async move {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let body: Value = response.json().await.unwrap();
            let message = body["message"].as_str().unwrap().to_owned();
            assert!(message.contains(&needed), "'{message}' names {needed}");
        };

        // A new reader goes on a managed list only.
        let on_politics = json!({"email": "yeni@okur.example", "name": "Yeni", "lists": [n.politics]});
        refused(call(&app, &desk, Method::POST, "/api/subscribers", Some(on_politics)).await, format!("list:manage is required on list {}", n.politics)).await;
        let on_culture = json!({"email": "yeni@okur.example", "name": "Yeni", "lists": [n.culture]});
        refused(call(&app, &desk, Method::POST, "/api/subscribers", Some(on_culture)).await, format!("list:manage is required on list {}", n.culture)).await;
        let on_sports = json!({"email": "yeni@okur.example", "name": "Yeni", "lists": [n.sports]});
        assert_eq!(call(&app, &desk, Method::POST, "/api/subscribers", Some(on_sports)).await.status(), StatusCode::OK);

        // A shared reader's own fields may change; taking them off sports leaves politics alone.
        let edit = json!({"email": "ikisi@okur.example", "name": "İkisi Birden", "lists": []});
        expect_status(call(&app, &desk, Method::PUT, &format!("/api/subscribers/{}", n.both), Some(edit)).await, 200).await;
        let seen_by_admin = expect_status(app.get(&format!("/api/subscribers/{}", n.both)).await, 200).await;
        let lists: Vec<i64> = seen_by_admin["data"]["lists"].as_array().unwrap().iter().map(|l| l["id"].as_i64().unwrap()).collect();
        assert_eq!(lists, vec![n.politics]);
        assert_eq!(seen_by_admin["data"]["name"], "İkisi Birden");

        // Deleting or blocklisting a reader another desk shares is that desk's business too.
        let shared = app.create_subscriber(json!({"email": "paylasilan@okur.example", "name": "P", "lists": [n.sports, n.politics]})).await;
        // The refusal does not name the hidden list the reader is also on.
        refused(call(&app, &desk, Method::DELETE, &format!("/api/subscribers/{shared}"), None).await, "subscribers:manage is required on every list".into()).await;
        refused(call(&app, &desk, Method::PUT, &format!("/api/subscribers/{shared}/blocklist"), None).await, "subscribers:manage is required on every list".into()).await;
        // A status holds on every list: disabling would silence the reader for every desk.
        let disabled = json!({"status": "disabled"});
        refused(call(&app, &desk, Method::PATCH, &format!("/api/subscribers/{shared}"), Some(disabled)).await, "subscribers:manage is required on every list".into()).await;
        assert_eq!(call(&app, &desk, Method::DELETE, &format!("/api/subscribers/{}", n.fan), None).await.status(), StatusCode::OK);
        let moved = json!({"ids": [shared], "action": "add", "target_list_ids": [n.culture]});
        refused(call(&app, &desk, Method::PUT, "/api/subscribers/lists", Some(moved)).await, format!("list:manage is required on list {}", n.culture)).await;

        // Lists: the read-only one cannot change; none can be made by a limited program.
        refused(call(&app, &desk, Method::PUT, &format!("/api/lists/{}", n.culture), Some(json!({"name": "Sanat"}))).await, format!("list:manage is required on list {}", n.culture)).await;
        refused(call(&app, &desk, Method::POST, "/api/lists", Some(json!({"name": "Yeni masa"}))).await, "lists:manage is required on every list".into()).await;
        assert_eq!(call(&app, &desk, Method::PUT, &format!("/api/lists/{}", n.sports), Some(json!({"name": "Spor ve Sağlık"}))).await.status(), StatusCode::OK);

        // Campaigns: only to managed lists; one that also goes to politics is seen, not sent.
        let campaign = json!({"name": "Maç özeti", "subject": "Dün akşam", "lists": [n.politics], "content_type": "markdown", "body": "Skorlar"});
        refused(call(&app, &desk, Method::POST, "/api/campaigns", Some(campaign)).await, format!("list:manage is required on list {}", n.politics)).await;
        let campaign = json!({"name": "Maç özeti", "subject": "Dün akşam", "lists": [n.sports], "content_type": "markdown", "body": "Skorlar"});
        assert_eq!(call(&app, &desk, Method::POST, "/api/campaigns", Some(campaign)).await.status(), StatusCode::OK);
        let both_desks = create_campaign(&app, &[n.sports, n.politics], json!({})).await;
        let politics_only = create_campaign(&app, &[n.politics], json!({})).await;
        let seen = expect_status(call(&app, &desk, Method::GET, "/api/campaigns?per_page=50", None).await, 200).await;
        assert_eq!(seen["data"]["total"], 2, "its own and the shared one: {seen}");
        assert!(!seen.to_string().contains("Siyaset"), "the shared campaign names only the caller's lists: {seen}");
        let described = expect_status(call(&app, &desk, Method::GET, &format!("/api/campaigns/{both_desks}"), None).await, 200).await;
        assert_eq!(described["data"]["lists"].as_array().unwrap().len(), 1, "{described}");
        assert_eq!(expect_status(app.get(&format!("/api/campaigns/{both_desks}")).await, 200).await["data"]["lists"].as_array().unwrap().len(), 2, "an admin sees both");
        assert_eq!(call(&app, &desk, Method::GET, &format!("/api/campaigns/{politics_only}"), None).await.status(), StatusCode::NOT_FOUND);
        refused(call(&app, &desk, Method::PUT, &format!("/api/campaigns/{both_desks}/status"), Some(json!({"status": "running"}))).await, "campaigns:manage is required on every list".into()).await;

        // What concerns every list: the outbox, consents of every list, imports (which match
        // every reader's address), templates, confirming (which lifts a suppression),
        // mail to addresses looked up nowhere.
        refused(call(&app, &desk, Method::GET, "/api/outbox", None).await, "outbox:get is required on every list".into()).await;
        refused(call(&app, &desk, Method::GET, "/api/consents", None).await, "subscribers:get is required on every list".into()).await;
        refused(call(&app, &desk, Method::GET, "/api/import/subscribers", None).await, "subscribers:import is required on every list".into()).await;
        refused(call(&app, &desk, Method::GET, "/api/import/subscribers/logs", None).await, "subscribers:import is required on every list".into()).await;
        refused(call(&app, &desk, Method::DELETE, "/api/import/subscribers", None).await, "subscribers:import is required on every list".into()).await;
        let templates = expect_status(app.get("/api/templates").await, 200).await;
        let template = templates["data"][0]["id"].as_i64().unwrap();
        refused(call(&app, &desk, Method::PUT, &format!("/api/templates/{template}/default"), None).await, "templates:manage is required on every list".into()).await;
        let uuid = expect_status(app.get(&format!("/api/subscribers/{shared}")).await, 200).await["data"]["uuid"].as_str().unwrap().to_owned();
        let confirm = app.client.post(format!("{}/subscription/optin/{uuid}?confirm=true", app.url)).header("Authorization", &desk).send().await.unwrap();
        refused(confirm, "subscribers:manage is required on every list".into()).await;
        let external = json!({"subscriber_email": "secmen@okur.example", "subscriber_mode": "external", "template_id": template});
        refused(call(&app, &desk, Method::POST, "/api/tx", Some(external)).await, "tx:send is required on every list".into()).await;
    }
}

on_both_backends! {
    async fn limits_are_kept_shown_and_audited_and_never_given_to_an_admin(app) {
        let n = newsroom(&app).await;
        add_user(&app, "spor-editoru", "editor", "spor-editoru-parolasi");
        let users = expect_status(app.get("/api/users").await, 200).await;
        let find = |users: &Value, name: &str| users["data"].as_array().unwrap().iter().find(|u| u["username"] == name).unwrap().clone();
        let editor = find(&users, "spor-editoru");
        assert_eq!(editor["lists"], Value::Null, "a new account reaches every list");
        let id = editor["id"].as_i64().unwrap();
        let admin_id = find(&users, ADMIN)["id"].as_i64().unwrap();

        let grants = json!({"lists": [{"id": n.sports, "permissions": ["list:get"]}]});
        expect_status(app.put_json(&format!("/api/users/{id}/lists"), &grants).await, 200).await;
        let editor = find(&expect_status(app.get("/api/users").await, 200).await, "spor-editoru");
        assert_eq!(editor["lists"], json!([{"id": n.sports, "permissions": ["list:get"]}]));

        let refused = app.put_json(&format!("/api/users/{admin_id}/lists"), &grants).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "an admin reaches every list");
        let unknown = app.put_json(&format!("/api/users/{id}/lists"), &json!({"lists": [{"id": 999_999, "permissions": ["list:get"]}]})).await;
        assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
        let nameless = app.put_json(&format!("/api/users/{id}/lists"), &json!({"lists": [{"id": n.sports, "permissions": ["list:everything"]}]})).await;
        assert_eq!(nameless.status(), StatusCode::BAD_REQUEST);

        let audit = expect_status(app.get(&format!("/api/audit?object=user&object_id={id}")).await, 200).await;
        let entry = audit["data"]["results"].as_array().unwrap().iter().find(|e| e["action"] == "user.lists").cloned();
        assert!(entry.is_some(), "the change is in the audit log: {audit}");

        // Back to every list; a deleted list leaves no limit behind.
        expect_status(app.put_json(&format!("/api/users/{id}/lists"), &json!({"lists": null})).await, 200).await;
        assert_eq!(find(&expect_status(app.get("/api/users").await, 200).await, "spor-editoru")["lists"], Value::Null);
        expect_status(app.put_json(&format!("/api/users/{id}/lists"), &json!({"lists": [{"id": n.culture, "permissions": ["list:manage"]}]})).await, 200).await;
        expect_status(app.delete(&format!("/api/lists/{}", n.culture)).await, 200).await;
        assert_eq!(find(&expect_status(app.get("/api/users").await, 200).await, "spor-editoru")["lists"], json!([]), "limited to no list now");
    }
}

on_both_backends! {
    async fn a_person_limited_on_the_accounts_page_sees_only_their_lists_on_the_desk(app) {
        let n = newsroom(&app).await;
        add_user(&app, "spor-editoru", "editor", "spor-editoru-parolasi");
        let users = expect_status(app.get("/api/users").await, 200).await;
        let id = users["data"].as_array().unwrap().iter().find(|u| u["username"] == "spor-editoru").unwrap()["id"].as_i64().unwrap();

        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        let (sports, politics, culture) = (format!("list-{}", n.sports), format!("list-{}", n.politics), format!("list-{}", n.culture));
        let saved = admin.post(&format!("/admin/users/{id}/lists"), &[("scope", "some"), (&sports, "manage"), (&politics, "none"), (&culture, "get")]).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let accounts = admin.get("/admin/users").await.text().await.unwrap();
        assert!(accounts.contains("Spor (read and change)") && accounts.contains("Kültür (read)"), "the page says what the account reaches");
        // Regression: an account never signed in was shown as last seen "None".
        assert!(accounts.contains("last seen: never") && !accounts.contains("None"), "{accounts}");

        let mut editor = Browser::new(&app);
        editor.sign_in("spor-editoru", "spor-editoru-parolasi").await;
        let readers = editor.get("/admin/subscribers").await.text().await.unwrap();
        assert!(readers.contains("taraftar@okur.example") && readers.contains("ikisi@okur.example"));
        assert!(!readers.contains("secmen@okur.example"), "another desk's reader is not listed");
        assert_eq!(editor.get(&format!("/admin/subscribers/{}", n.voter)).await.status(), StatusCode::NOT_FOUND);
        let lists = editor.get("/admin/lists").await.text().await.unwrap();
        assert!(lists.contains("Spor") && lists.contains("Kültür") && !lists.contains("Siyaset"));
        assert_eq!(editor.get(&format!("/admin/lists/{}", n.politics)).await.status(), StatusCode::NOT_FOUND);
        // Regression: a filter on another desk's list gave a 500.
        assert_eq!(editor.get(&format!("/admin/subscribers?list_id={}", n.politics)).await.status(), StatusCode::FORBIDDEN);
        let dashboard = editor.get("/admin/").await.text().await.unwrap();
        assert!(!dashboard.contains("Siyaset"), "the dashboard counts only the lists the user reaches");
        // A refusal says in the desk's words which permission is missing.
        let refused = editor.post(&format!("/admin/subscribers/{}/delete", n.both), &[]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let page = refused.text().await.unwrap();
        assert!(page.contains("your account is limited to some: subscribers:manage is required on every list."), "{page}");

        // Every list again: the admin's choice takes effect at the next request.
        admin.post(&format!("/admin/users/{id}/lists"), &[("scope", "all")]).await;
        assert!(editor.get("/admin/subscribers").await.text().await.unwrap().contains("secmen@okur.example"));
    }
}

on_both_backends! {
    async fn a_limited_program_never_renders_or_mails_another_desks_reader_as_themselves(app) {
        let n = newsroom(&app).await;
        let hidden = app.create_subscriber(json!({"email": "gizli@okur.example", "name": "Hidden Reader", "lists": [n.politics], "attribs": {"city": "Hakkari"}})).await;
        let desk = limited_program(&app, "spor-masasi", json!([{"id": n.sports, "permissions": ["list:get", "list:manage"]}])).await;
        let body = json!({"name": "Maç özeti", "subject": "Dün akşam", "lists": [n.sports], "content_type": "markdown", "body": "Merhaba {{ subscriber.name }}"});
        let campaign = expect_status(call(&app, &desk, Method::POST, "/api/campaigns", Some(body)).await, 200).await["data"]["id"].as_i64().unwrap();

        // A test to another desk's reader goes out with the sample reader's values.
        let test = json!({"subscribers": ["gizli@okur.example"]});
        expect_status(call(&app, &desk, Method::POST, &format!("/api/campaigns/{campaign}/test"), Some(test)).await, 200).await;
        let mut id = None;
        for _ in 0..100 {
            let outbox = expect_status(app.get("/api/outbox?to=gizli@okur.example").await, 200).await;
            id = outbox["data"]["results"][0]["id"].as_i64();
            if id.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let id = id.expect("the test mail reaches the outbox");
        let raw = expect_status(app.get(&format!("/api/outbox/{id}")).await, 200).await["data"]["raw"].as_str().unwrap().to_owned();
        assert!(!raw.contains("Hidden Reader") && raw.contains("Merhaba Reader"), "{raw}");

        // Transactional mail: another desk's reader and no reader get the same answer.
        let tx = expect_status(app.post_json("/api/templates", &json!({"name": "Makbuz", "type": "tx", "subject": "Makbuz", "body": "Merhaba {{ subscriber.name }}"})).await, 200).await["data"]["id"].as_i64().unwrap();
        let answer = |email: &str| call(&app, &desk, Method::POST, "/api/tx", Some(json!({"subscriber_email": email, "template_id": tx})));
        let to_hidden = answer("gizli@okur.example").await;
        assert_eq!(to_hidden.status(), StatusCode::BAD_REQUEST);
        let hidden_message = to_hidden.json::<Value>().await.unwrap()["message"].as_str().unwrap().replace("gizli", "X");
        let to_nobody = answer("yok@okur.example").await;
        let nobody_message = to_nobody.json::<Value>().await.unwrap()["message"].as_str().unwrap().replace("yok", "X");
        assert_eq!(hidden_message, nobody_message, "nothing tells the two apart");
        assert_eq!(app.get(&format!("/api/subscribers/{hidden}")).await.status(), StatusCode::OK);

        // A preview of a campaign to lists the program cannot all see uses the sample reader.
        let both = create_campaign(&app, &[n.sports, n.politics], json!({"body": "Merhaba {{ subscriber.name }}"})).await;
        let preview = call(&app, &desk, Method::GET, &format!("/api/campaigns/{both}/preview"), None).await.text().await.unwrap();
        assert!(preview.contains("Merhaba Reader"), "{preview}");
    }
}
