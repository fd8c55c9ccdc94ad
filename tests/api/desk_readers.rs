//! A reader on the desk: added by hand, changed, mailed the confirmation again,
//! blocklisted and deleted through the reader's page, with what the API then shows and the
//! audit log keeps; hostile or wrong input gets the page again with the reason.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::desk::{ADMIN, ADMIN_PASSWORD, Browser, add_user, location};
use crate::helpers::{TestApp, expect_status, on_both_backends};

async fn admin(app: &TestApp) -> Browser {
    let mut browser = Browser::new(app);
    browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
    browser
}

async fn reader(app: &TestApp, id: i64) -> Value {
    expect_status(app.get(&format!("/api/subscribers/{id}")).await, 200).await["data"].clone()
}

fn list_ids(reader: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = reader["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

on_both_backends! {
    async fn an_editor_adds_a_reader_by_hand_changes_them_and_removes_them(app) {
        let news = app.create_list("Gündem", "double").await;
        let sports = app.create_list("Spor", "single").await;
        let mut desk = admin(&app).await;
        assert_eq!(desk.get("/admin/subscribers/new").await.status(), StatusCode::OK);
        let added = desk.post("/admin/subscribers", &[("email", "yeni.okur@okur.example"), ("name", ""), ("attribs", ""), ("list", &news.to_string())]).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
        let to = location(&added);
        assert!(to.ends_with("?done=added"), "{to}");
        let id: i64 = to.trim_start_matches("/admin/subscribers/").split('?').next().unwrap().parse().unwrap();
        let found = reader(&app, id).await;
        assert_eq!(found["name"], "yeni.okur", "an empty name is the address's first part");
        assert_eq!(found["lists"][0]["subscription_status"], "unconfirmed", "a double opt-in list waits");

        // The page offers the confirmation mail again while a subscription waits.
        let page = desk.get(&to).await.text().await.unwrap();
        assert!(page.contains("The reader is added.") && page.contains("/optin"), "{page}");
        let resent = desk.post(&format!("/admin/subscribers/{id}/optin"), &[]).await;
        assert_eq!(location(&resent), format!("/admin/subscribers/{id}?done=optin_sent"));
        let again = desk.post(&format!("/admin/subscribers/{id}/optin"), &[]).await;
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS, "the per-address limits hold on the desk too");

        let (news_id, sports_id) = (news.to_string(), sports.to_string());
        let saved = desk.post(&format!("/admin/subscribers/{id}"), &[
            ("email", "yeni.okur@okur.example"), ("name", "Yeni Okur"), ("status", "enabled"),
            ("attribs", "{\"city\": \"Van\"}"), ("list", &news_id), ("list", &sports_id),
        ]).await;
        assert_eq!(location(&saved), format!("/admin/subscribers/{id}?done=saved"));
        let found = reader(&app, id).await;
        assert_eq!(found["name"], "Yeni Okur");
        assert_eq!(found["attribs"], json!({"city": "Van"}));
        assert_eq!(list_ids(&found), { let mut v = vec![news, sports]; v.sort_unstable(); v });

        let blocked = desk.post(&format!("/admin/subscribers/{id}/blocklist"), &[]).await;
        assert_eq!(location(&blocked), format!("/admin/subscribers/{id}?done=blocklisted"));
        assert_eq!(reader(&app, id).await["status"], "blocklisted");

        let deleted = desk.post(&format!("/admin/subscribers/{id}/delete"), &[]).await;
        assert_eq!(location(&deleted), "/admin/subscribers?done=deleted");
        assert_eq!(app.get(&format!("/api/subscribers/{id}")).await.status(), StatusCode::NOT_FOUND);
        assert!(desk.get("/admin/subscribers?done=deleted").await.text().await.unwrap().contains("The reader is deleted."));

        let audit = expect_status(app.get(&format!("/api/audit?object=subscriber&object_id={id}&per_page=50")).await, 200).await;
        let actions: Vec<&str> = audit["data"]["results"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        for action in ["subscriber.create", "subscriber.optin", "subscriber.update", "subscriber.blocklist", "subscriber.delete"] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }
    }
}

on_both_backends! {
    async fn wrong_input_on_a_readers_form_gets_the_page_again_with_the_reason_and_what_was_typed(app) {
        let news = app.create_list("Gündem", "single").await;
        let id = app.create_subscriber(json!({"email": "okur@okur.example", "name": "Okur", "lists": [news]})).await;
        app.create_subscriber(json!({"email": "baska@okur.example", "name": "Başka", "lists": [news]})).await;
        let mut desk = admin(&app).await;
        let news_id = news.to_string();
        for (field, value, reason) in [
            ("attribs", "{not json", "not valid json"),
            ("attribs", "[1, 2]", "json object"),
            ("email", "not-an-address", "address"),
            ("email", "baska@okur.example", "exists"),
            ("status", "vip", "status"),
        ] {
            let mut form = vec![("email", "okur@okur.example"), ("name", "Okur <b>Bey</b>"), ("status", "enabled"), ("attribs", "{}"), ("list", news_id.as_str())];
            form.retain(|(k, _)| *k != field);
            form.push((field, value));
            let refused = desk.post(&format!("/admin/subscribers/{id}"), &form).await;
            let status = refused.status();
            let page = refused.text().await.unwrap();
            assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT, "{field}={value}: {status}");
            assert!(page.to_lowercase().contains(reason), "{field}={value}: the reason is said: {page}");
            assert!(page.contains("Okur &lt;b&gt;Bey&lt;/b&gt;"), "what was typed is kept, escaped");
        }
        assert_eq!(reader(&app, id).await["name"], "Okur", "nothing was saved");

        let taken = desk.post("/admin/subscribers", &[("email", "okur@okur.example"), ("list", news_id.as_str())]).await;
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        let nowhere = desk.post("/admin/subscribers", &[("email", "bos@okur.example"), ("list", "999999")]).await;
        assert_eq!(nowhere.status(), StatusCode::BAD_REQUEST);
        // Regression: thousands of list IDs passed PostgreSQL's limit of bound values.
        let many: Vec<String> = (1..=1_500).map(|n| n.to_string()).collect();
        let mut form: Vec<(&str, &str)> = vec![("email", "cok@okur.example")];
        form.extend(many.iter().map(|n| ("list", n.as_str())));
        assert_eq!(desk.post("/admin/subscribers", &form).await.status(), StatusCode::BAD_REQUEST);
        // Regression: a NUL in a bulk form's search reached PostgreSQL and gave a 500.
        let nul = desk.post("/admin/subscribers/bulk", &[("search", "a\0b"), ("action", "delete"), ("count", "0")]).await;
        assert_eq!(nul.status(), StatusCode::BAD_REQUEST);

        // Regression: a reader on no list had no actions, even for an admin.
        let loose = app.create_subscriber(json!({"email": "listesiz@okur.example", "name": "Listesiz"})).await;
        let page = desk.get(&format!("/admin/subscribers/{loose}")).await.text().await.unwrap();
        assert!(page.contains(&format!("action=\"/admin/subscribers/{loose}/delete\"")), "{page}");
    }
}

on_both_backends! {
    async fn a_limited_editor_changes_only_their_lists_on_a_readers_page(app) {
        let sports = app.create_list("Spor", "single").await;
        let politics = app.create_list("Siyaset", "single").await;
        let culture = app.create_list("Kültür", "single").await;
        let shared = app.create_subscriber(json!({"email": "ortak@okur.example", "name": "Ortak", "lists": [sports, politics, culture]})).await;
        add_user(&app, "spor-editoru", "editor", "spor-editoru-parolasi");
        let users = expect_status(app.get("/api/users").await, 200).await;
        let editor_id = users["data"].as_array().unwrap().iter().find(|u| u["username"] == "spor-editoru").unwrap()["id"].as_i64().unwrap();
        let limits = json!({"lists": [
            {"id": sports, "permissions": ["list:get", "list:manage"]},
            {"id": culture, "permissions": ["list:get"]},
        ]});
        expect_status(app.put_json(&format!("/api/users/{editor_id}/lists"), &limits).await, 200).await;

        let mut editor = Browser::new(&app);
        editor.sign_in("spor-editoru", "spor-editoru-parolasi").await;
        let page = editor.get(&format!("/admin/subscribers/{shared}")).await.text().await.unwrap();
        assert!(page.contains(&format!("type=\"checkbox\" name=\"list\" value=\"{sports}\"")), "a box for the list the editor manages");
        assert!(!page.contains(&format!("type=\"checkbox\" name=\"list\" value=\"{culture}\"")), "none for the read-only list");
        assert!(!page.contains("Siyaset"), "another desk's list is not shown");

        // Unticking sports takes the reader off sports only: culture and politics stay.
        // The page keeps the read-only list in a hidden field, as a browser sends it back.
        assert!(page.contains(&format!("type=\"hidden\" name=\"list\" value=\"{culture}\"")));
        let culture_id = culture.to_string();
        let saved = editor.post(&format!("/admin/subscribers/{shared}"), &[("email", "ortak@okur.example"), ("name", "Ortak"), ("status", "enabled"), ("attribs", "{}"), ("list", &culture_id)]).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        assert_eq!(list_ids(&reader(&app, shared).await), { let mut v = vec![politics, culture]; v.sort_unstable(); v });

        // The reader is now out of the editor's reach to change; blocklisting never was.
        let blocked = editor.post(&format!("/admin/subscribers/{shared}/blocklist"), &[]).await;
        assert_eq!(blocked.status(), StatusCode::FORBIDDEN);
        assert!(blocked.text().await.unwrap().contains("list:manage is required"));
        assert_eq!(reader(&app, shared).await["status"], "enabled");
    }
}

on_both_backends! {
    async fn readers_found_by_a_filter_are_changed_together_once_their_number_is_confirmed(app) {
        let news = app.create_list("Gündem", "single").await;
        let sports = app.create_list("Spor", "single").await;
        for (email, city) in [("van1@okur.example", "Van"), ("van2@okur.example", "Van"), ("izmir@okur.example", "İzmir")] {
            app.create_subscriber(json!({"email": email, "name": email, "lists": [news], "attribs": {"city": city}})).await;
        }
        let mut desk = admin(&app).await;
        let query = "subscribers.attribs->>'city' = 'Van'";
        let page = desk.get(&format!("/admin/subscribers?query={}", crate::helpers::urlencode(query))).await.text().await.unwrap();
        assert!(page.contains("action=\"/admin/subscribers/bulk\""), "the page offers the bulk form");

        // Asking changes nothing and says how many.
        let ask = format!("/admin/subscribers/bulk?query={}&action=add&target_list={sports}", crate::helpers::urlencode(query));
        let confirm = desk.get(&ask).await.text().await.unwrap();
        assert!(confirm.contains("Add 2 readers to Spor"), "{confirm}");
        assert_eq!(expect_status(app.get(&format!("/api/subscribers?list_id={sports}")).await, 200).await["data"]["total"], 0);

        let sports_id = sports.to_string();
        let fields = |count: &'static str| vec![("query", query), ("action", "add"), ("target_list", sports_id.as_str()), ("count", count)];
        // A number that no longer holds is asked again.
        let stale = desk.post("/admin/subscribers/bulk", &fields("5")).await;
        assert_eq!(stale.status(), StatusCode::CONFLICT);
        assert!(stale.text().await.unwrap().contains("has changed"));
        let done = desk.post("/admin/subscribers/bulk", &fields("2")).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert!(location(&done).ends_with("&done=bulk"), "{}", location(&done));
        assert_eq!(expect_status(app.get(&format!("/api/subscribers?list_id={sports}")).await, 200).await["data"]["total"], 2);

        let delete = vec![("query", query), ("action", "delete"), ("count", "2")];
        assert_eq!(desk.post("/admin/subscribers/bulk", &delete).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(expect_status(app.get("/api/subscribers").await, 200).await["data"]["total"], 1);
        let audit = expect_status(app.get("/api/audit?object=subscriber&per_page=50").await, 200).await;
        assert!(audit["data"]["results"].as_array().unwrap().iter().any(|e| e["after"]["query"].as_str().is_some_and(|q| q.contains("Van")) && e["after"]["readers"] == 2), "{audit}");
    }
}

on_both_backends! {
    async fn listmonks_query_endpoints_act_on_every_match_and_refuse_an_empty_query_without_all(app) {
        let news = app.create_list("Gündem", "single").await;
        let sports = app.create_list("Spor", "single").await;
        for i in 0..4 {
            let city = if i < 2 { "Van" } else { "Muş" };
            app.create_subscriber(json!({"email": format!("okur{i}@okur.example"), "lists": [news], "attribs": {"city": city}})).await;
        }
        let van = "subscribers.attribs->>'city' = 'Van'";
        let lists = json!({"query": van, "action": "add", "target_list_ids": [sports], "status": "confirmed"});
        expect_status(app.put_json("/api/subscribers/query/lists", &lists).await, 200).await;
        assert_eq!(expect_status(app.get(&format!("/api/subscribers?list_id={sports}")).await, 200).await["data"]["total"], 2);
        expect_status(app.put_json("/api/subscribers/query/blocklist", &json!({"query": van})).await, 200).await;
        let blocked = expect_status(app.get("/api/subscribers?query=subscribers.status%3D'blocklisted'").await, 200).await;
        assert_eq!(blocked["data"]["total"], 2);

        let empty = app.post_json("/api/subscribers/query/delete", &json!({"query": ""})).await;
        assert_eq!(empty.status(), StatusCode::BAD_REQUEST, "an empty query acts on no one without all");
        let bad = app.post_json("/api/subscribers/query/delete", &json!({"query": "password_hash = 'x'"})).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        expect_status(app.post_json("/api/subscribers/query/delete", &json!({"query": van})).await, 200).await;
        assert_eq!(expect_status(app.get("/api/subscribers").await, 200).await["data"]["total"], 2);
        expect_status(app.post_json("/api/subscribers/query/delete", &json!({"all": true, "list_ids": [news]})).await, 200).await;
        assert_eq!(expect_status(app.get("/api/subscribers").await, 200).await["data"]["total"], 0);
    }
}

/// The emails of a readers page, in its order.
fn emails_on(page: &str) -> Vec<String> {
    page.split("<th scope=\"row\"><a href=\"/admin/subscribers/")
        .skip(1)
        .map(|rest| {
            rest.split('>')
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// A neighbour page's address, as the pager links it.
fn pager_link(page: &str, rel: &str) -> Option<String> {
    let at = page.find(&format!("rel=\"{rel}\""))?;
    let start = page[..at].rfind("href=\"")? + "href=\"".len();
    Some(page[start..].split('"').next()?.replace("&amp;", "&"))
}

on_both_backends! {
    async fn readers_pages_step_by_keyset_both_ways_and_a_broad_filter_is_counted_up_to_a_bound(app) {
        let list = app.create_list("Gündem", "single").await;
        let (_dir, file) = crate::helpers::temp_file("readers.csv", crate::cli::generated_csv(10_120).as_bytes());
        let import = app.cli(&["subscribers", "import", file.to_str().unwrap(), "--list", &list.to_string()]);
        assert!(import.status.success());
        let mut desk = admin(&app).await;

        let first = desk.get("/admin/subscribers").await.text().await.unwrap();
        assert!(first.contains("10120 readers match.") && first.contains("page 1 of 203"), "an unfiltered page counts exactly");
        let next = pager_link(&first, "next").expect("a next page");
        assert!(next.contains("after_id="), "{next}");
        let second = desk.get(&next).await.text().await.unwrap();
        let third = desk.get(&pager_link(&second, "next").unwrap()).await.text().await.unwrap();
        let back = desk.get(&pager_link(&third, "prev").unwrap()).await.text().await.unwrap();
        assert_eq!(emails_on(&back), emails_on(&second), "back is the page we came from");
        assert_eq!(emails_on(&second).len(), 50);
        let by_offset = desk.get("/admin/subscribers?page=2").await.text().await.unwrap();
        assert_eq!(emails_on(&by_offset), emails_on(&second), "the keyset page is the offset page");
        assert!(emails_on(&first).iter().all(|e| !emails_on(&second).contains(e)));

        // A filter matching every reader is counted up to ten thousand, and still pages on.
        let broad = desk.get("/admin/subscribers?search=reader").await.text().await.unwrap();
        assert!(broad.contains("More than 10000 readers match."), "{}", &broad[..broad.len().min(3000)]);
        assert!(pager_link(&broad, "next").is_some());
        let narrow = desk.get("/admin/subscribers?search=reader10119").await.text().await.unwrap();
        assert!(narrow.contains("1 reader matches."), "a small match is counted exactly");
    }
}

fn csv_form(
    csrf: Option<&str>,
    list: i64,
    csv: &str,
    token_last: bool,
) -> reqwest::multipart::Form {
    let file = reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
        .file_name("okurlar.csv")
        .mime_str("text/csv")
        .unwrap();
    let mut form = reqwest::multipart::Form::new();
    if let (Some(token), false) = (csrf, token_last) {
        form = form.text("_csrf", token.to_owned());
    }
    form = form
        .text("list", list.to_string())
        .text("mode", "subscribe")
        .part("file", file);
    if let (Some(token), true) = (csrf, token_last) {
        form = form.text("_csrf", token.to_owned());
    }
    form
}

on_both_backends! {
    async fn a_csv_uploaded_on_the_desk_is_imported_with_its_progress_and_refused_lines_shown(app) {
        let list = app.create_list("Gündem", "single").await;
        let mut desk = admin(&app).await;
        let page = desk.get("/admin/import").await.text().await.unwrap();
        assert!(page.contains("enctype=\"multipart/form-data\"") && page.contains("No import has run yet."));
        let csv = "email,name,attributes\nbir@okur.example,Bir,{}\nnot-an-address,İki,{}\nuc@okur.example,Üç,\"{\"\"city\"\": \"\"Van\"\"}\"\n";

        // The token must come before the file, and a multipart body goes to no other page.
        let token = desk.csrf_token().await;
        assert_eq!(desk.post_multipart("/admin/import", csv_form(None, list, csv, false)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(desk.post_multipart("/admin/import", csv_form(Some(&token), list, csv, true)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(desk.post_multipart("/admin/import", csv_form(Some("forged"), list, csv, false)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(desk.post_multipart("/admin/lists", csv_form(Some(&token), list, csv, false)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(expect_status(app.get("/api/subscribers").await, 200).await["data"]["total"], 0, "nothing was imported");

        let started = desk.post_multipart("/admin/import", csv_form(Some(&token), list, csv, false)).await;
        assert_eq!(location(&started), "/admin/import?done=started");
        let mut progress = String::new();
        for _ in 0..100 {
            progress = desk.get("/admin/import/progress").await.text().await.unwrap();
            if progress.contains("Finished.") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(progress.contains("Finished.") && progress.contains("2 imported, 1 refused"), "{progress}");
        assert!(progress.contains("line 3"), "the refused row is named by its line: {progress}");
        assert_eq!(expect_status(app.get(&format!("/api/subscribers?list_id={list}")).await, 200).await["data"]["total"], 2);
        let page = desk.get("/admin/import?done=started").await.text().await.unwrap();
        assert!(page.contains("The import has started"));

        // Regression: the token was read whole, however large, before it was checked.
        let huge = reqwest::multipart::Form::new().text("_csrf", "x".repeat(100_000)).text("mode", "subscribe");
        assert_eq!(desk.post_multipart("/admin/import", huge).await.status(), StatusCode::BAD_REQUEST);

        // A user limited to some lists has no import: it would reach every reader.
        add_user(&app, "spor-editoru", "editor", "spor-editoru-parolasi");
        let users = expect_status(app.get("/api/users").await, 200).await;
        let id = users["data"].as_array().unwrap().iter().find(|u| u["username"] == "spor-editoru").unwrap()["id"].as_i64().unwrap();
        expect_status(app.put_json(&format!("/api/users/{id}/lists"), &json!({"lists": [{"id": list, "permissions": ["list:get", "list:manage"]}]})).await, 200).await;
        let mut editor = Browser::new(&app);
        editor.sign_in("spor-editoru", "spor-editoru-parolasi").await;
        let home = editor.get("/admin/").await.text().await.unwrap();
        assert!(!home.contains("href=\"/admin/import\""));
        assert_eq!(editor.get("/admin/import").await.status(), StatusCode::FORBIDDEN);
        // Refused before a byte of the file is stored.
        let token = editor.csrf_token().await;
        let refused = editor.post_multipart("/admin/import", csv_form(Some(&token), list, csv, false)).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let uploads = app.data_dir.join("uploads");
        let left = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "no upload is left in {}", uploads.display());
    }
}

on_both_backends! {
    async fn the_readers_a_filter_finds_download_as_csv_from_the_desk_and_the_api(app) {
        let news = app.create_list("Gündem", "single").await;
        let sports = app.create_list("Spor", "single").await;
        app.create_subscriber(json!({"email": "ayse@okur.example", "name": "Ayşe, \"Yılmaz\"", "lists": [news, sports], "attribs": {"city": "İzmir", "age": 41}})).await;
        app.create_subscriber(json!({"email": "mehmet@okur.example", "name": "Mehmet", "lists": [news], "attribs": {"city": "Van"}})).await;
        app.create_subscriber(json!({"email": "other@okur.example", "name": "Başka", "lists": [sports]})).await;

        let answer = app.get(&format!("/api/subscribers/export?list_id={news}")).await;
        assert_eq!(answer.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = answer.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["uuid", "email", "name", "attributes", "status", "created_at", "updated_at"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2, "only the list's readers: {csv}");
        let ayse = rows.iter().find(|r| &r[1] == "ayse@okur.example").unwrap();
        assert_eq!(&ayse[2], "Ayşe, \"Yılmaz\"", "commas and quotes survive the round trip");
        assert_eq!(serde_json::from_str::<Value>(&ayse[3]).unwrap(), json!({"city": "İzmir", "age": 41}));
        assert_eq!(&ayse[4], "enabled");

        // The desk's link carries the page's filter to the same download.
        let mut desk = admin(&app).await;
        let page = desk.get("/admin/subscribers?query=subscribers.attribs-%3E%3E%27city%27+%3D+%27Van%27").await.text().await.unwrap();
        let href = page.split("download href=\"/admin/subscribers/export?").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
        let download = desk.get(&format!("/admin/subscribers/export?{href}")).await;
        assert!(download.headers()["content-disposition"].to_str().unwrap().contains("subscribers.csv"));
        let csv = download.text().await.unwrap();
        assert_eq!(csv.lines().count(), 2, "the header and Mehmet: {csv}");
        assert!(csv.contains("mehmet@okur.example"));

        // A name planted to run as a spreadsheet formula stays text, as in the CLI's export.
        app.create_subscriber(json!({"email": "formula@okur.example", "name": "=HYPERLINK(\"http://evil.example\")", "lists": [news]})).await;
        let csv = app.get(&format!("/api/subscribers/export?list_id={news}")).await.text().await.unwrap();
        assert!(csv.contains("\"'=HYPERLINK("), "{csv}");

        let refused = app.get("/api/subscribers/export?query=subscribers.password%3D1").await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "a wrong filter is refused before any byte of CSV");
    }
}
