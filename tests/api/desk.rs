//! The desk (`/admin`) as a browser meets it: signing in and out, lockouts, the session and
//! CSRF checks on every route, the dashboard.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, expect_status, on_both_backends};

pub(crate) const ADMIN: &str = "admin";
pub(crate) const ADMIN_PASSWORD: &str = "first-admin-password";

/// A browser of the desk: keeps its session cookie, follows no redirect, and sends the
/// headers a browser sends on a same-origin form post.
pub(crate) struct Browser {
    client: reqwest::Client,
    url: String,
    cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap(),
            url: app.url.clone(),
            cookie: None,
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        request
    }

    fn remember(&mut self, response: &reqwest::Response) {
        if let Some(set) = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            let pair = set.split(';').next().unwrap_or_default().to_owned();
            self.cookie = pair
                .split_once('=')
                .filter(|(_, v)| !v.is_empty())
                .map(|_| pair.clone());
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> reqwest::Response {
        let response = self.request(Method::GET, path).send().await.unwrap();
        self.remember(&response);
        response
    }

    /// Posts a form as a page of the desk does: same origin, with the session's CSRF token.
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(csrf) = csrf.as_deref() {
            all.push(("_csrf", csrf));
        }
        self.post_raw(
            path,
            &all,
            &[
                ("Origin", self.url.clone()),
                ("Sec-Fetch-Site", "same-origin".into()),
            ],
        )
        .await
    }

    /// Posts a multipart form as the desk's upload form does: same origin, and the fields
    /// in the order given (the test puts the CSRF token where it wants it).
    pub(crate) async fn post_multipart(
        &mut self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        let response = self
            .request(Method::POST, path)
            .multipart(form)
            .header("Origin", self.url.clone())
            .header("Sec-Fetch-Site", "same-origin")
            .send()
            .await
            .unwrap();
        self.remember(&response);
        response
    }

    /// The session's CSRF token, as a page carries it.
    pub(crate) async fn csrf_token(&mut self) -> String {
        self.csrf().await.expect("signed in")
    }

    async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, String)],
    ) -> reqwest::Response {
        let mut request = self.request(Method::POST, path).form(fields);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// The CSRF token every desk page carries, when signed in. A user held to one task
    /// (a new password, a second factor) reaches only its page.
    async fn csrf(&mut self) -> Option<String> {
        self.cookie.as_ref()?;
        for path in ["/admin/password", "/admin/second-factor"] {
            let page = self
                .request(Method::GET, path)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if let Some(at) = page.find("name=\"_csrf\" value=\"") {
                let rest = &page[at + "name=\"_csrf\" value=\"".len()..];
                return Some(rest.split('"').next()?.to_owned());
            }
        }
        None
    }

    pub(crate) async fn sign_in(&mut self, username: &str, password: &str) -> reqwest::Response {
        self.post_raw(
            "/admin/login",
            &[
                ("username", username),
                ("password", password),
                ("next", "/admin/"),
            ],
            &[
                ("Origin", self.url.clone()),
                ("Sec-Fetch-Site", "same-origin".into()),
            ],
        )
        .await
    }
}

/// Adds a user with `bulten user add`, the password on standard input.
pub(crate) fn add_user(app: &TestApp, name: &str, role: &str, password: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bulten"))
        .args(app.cli_args())
        .args(["user", "add", name, "--role", role])
        .env_remove("BULTEN_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

on_both_backends! {
    async fn a_wrong_password_and_an_unknown_user_get_the_same_answer_and_the_right_one_signs_in(app) {
        let mut browser = Browser::new(&app);
        let page = browser.get("/admin/login").await;
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");

        let wrong = browser.sign_in(ADMIN, "not-the-password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let wrong = wrong.text().await.unwrap();
        let unknown = browser.sign_in("nobody", "not-the-password").await;
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        let unknown = unknown.text().await.unwrap();
        assert!(wrong.contains("The user name or password is wrong."), "{wrong}");
        assert_eq!(
            wrong.replace("value=\"admin\"", ""),
            unknown.replace("value=\"nobody\"", ""),
            "an unknown user is told what a wrong password is told"
        );
        assert!(browser.cookie.is_none());

        let signed_in = browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&signed_in), "/admin/");
        let set_cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_owned();
        for part in ["bulten_session=", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set_cookie.contains(part), "{part} in {set_cookie}");
        }
        assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
        let dashboard = browser.get("/admin/").await;
        assert_eq!(dashboard.status(), StatusCode::OK);
        assert!(dashboard.text().await.unwrap().contains("Dashboard"));

        let out = browser.post("/admin/logout", &[]).await;
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert!(browser.cookie.is_none(), "the cookie is cleared");
        let old = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        browser.cookie = Some(old);
        let after = browser.get("/admin/").await;
        assert_eq!(after.status(), StatusCode::SEE_OTHER, "the old cookie signs nobody in");
        assert!(location(&after).starts_with("/admin/login?next="));
    }
}

on_both_backends! {
    with |s| { s.login_lockout_per_account = 3; };
    async fn repeated_failures_lock_the_account_even_against_the_right_password(app) {
        let mut browser = Browser::new(&app);
        for _ in 0..3 {
            assert_eq!(browser.sign_in(ADMIN, "guess").await.status(), StatusCode::UNAUTHORIZED);
        }
        let locked = browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(locked.text().await.unwrap().contains("locked"));
        assert!(browser.cookie.is_none());

        // Another account is not locked by the admin's failures.
        let mut other = Browser::new(&app);
        add_user(&app, "editor1", "editor", "editor-password-1");
        assert_eq!(other.sign_in("editor1", "editor-password-1").await.status(), StatusCode::SEE_OTHER);
    }
}

on_both_backends! {
    async fn every_desk_route_refuses_a_stranger_and_every_change_refuses_a_missing_csrf_token(app) {
        let mut stranger = Browser::new(&app);
        for (method, path) in bulten::web::desk_route_table() {
            let path = path.replace("{id}", "1");
            let response = stranger
                .post_raw_or_get(method.clone(), &path)
                .await;
            if method == Method::GET {
                assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
                assert!(location(&response).starts_with("/admin/login?next="), "GET {path}");
            } else if path.starts_with("/admin/logout") {
                // Signing out of no session forgets the cookie and leads to the sign-in.
                assert_eq!(response.status(), StatusCode::SEE_OTHER, "{method} {path}");
                assert_eq!(location(&response), "/admin/login");
                let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
                assert!(cookie.contains("Max-Age=0"), "{cookie}");
            } else {
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
            }
        }
        assert_eq!(stranger.get("/admin/login").await.status(), StatusCode::OK);
        assert_eq!(stranger.get("/admin/assets/desk.css").await.status(), StatusCode::OK);

        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        for (method, path) in bulten::web::desk_route_table() {
            if method == Method::GET {
                continue;
            }
            let path = path.replace("{id}", "1");
            let response = admin
                .post_raw(&path, &[("lang", "tr")], &[("Origin", admin.url.clone()), ("Sec-Fetch-Site", "same-origin".into())])
                .await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path} without a CSRF token");
        }
        assert_eq!(admin.get("/admin/").await.status(), StatusCode::OK, "still signed in");
    }
}

on_both_backends! {
    async fn a_form_posted_from_another_site_is_refused(app) {
        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        let csrf = admin.csrf().await.unwrap();
        let forged = admin
            .post_raw(
                "/admin/logout/everywhere",
                &[("_csrf", csrf.as_str())],
                &[("Origin", "https://evil.example".into()), ("Sec-Fetch-Site", "cross-site".into())],
            )
            .await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        assert_eq!(admin.get("/admin/").await.status(), StatusCode::OK, "the session survived");

        let mut victim = Browser::new(&app);
        let login_csrf = victim
            .post_raw(
                "/admin/login",
                &[("username", ADMIN), ("password", ADMIN_PASSWORD)],
                &[("Origin", "https://evil.example".into()), ("Sec-Fetch-Site", "cross-site".into())],
            )
            .await;
        assert_eq!(login_csrf.status(), StatusCode::FORBIDDEN, "no sign-in from another site");
        assert!(victim.cookie.is_none());
    }
}

on_both_backends! {
    async fn changing_the_password_ends_every_other_session(app) {
        let mut laptop = Browser::new(&app);
        let mut phone = Browser::new(&app);
        laptop.sign_in(ADMIN, ADMIN_PASSWORD).await;
        phone.sign_in(ADMIN, ADMIN_PASSWORD).await;

        let mismatch = laptop
            .post("/admin/password", &[("current", ADMIN_PASSWORD), ("new", "a-new-password"), ("repeat", "another-one")])
            .await;
        assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
        let wrong = laptop
            .post("/admin/password", &[("current", "wrong"), ("new", "a-new-password"), ("repeat", "a-new-password")])
            .await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);

        let changed = laptop
            .post("/admin/password", &[("current", ADMIN_PASSWORD), ("new", "a-new-password"), ("repeat", "a-new-password")])
            .await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert_eq!(laptop.get("/admin/").await.status(), StatusCode::OK, "this browser stays in");
        assert_eq!(phone.get("/admin/").await.status(), StatusCode::SEE_OTHER, "the other is out");

        let mut again = Browser::new(&app);
        assert_eq!(again.sign_in(ADMIN, ADMIN_PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(again.sign_in(ADMIN, "a-new-password").await.status(), StatusCode::SEE_OTHER);

        let everywhere = again.post("/admin/logout/everywhere", &[]).await;
        assert_eq!(everywhere.status(), StatusCode::SEE_OTHER);
        laptop.cookie.as_ref().unwrap();
        assert_eq!(laptop.get("/admin/").await.status(), StatusCode::SEE_OTHER, "signed out everywhere");
    }
}

on_both_backends! {
    async fn the_dashboard_counts_readers_draws_its_charts_and_speaks_turkish_on_request(app) {
        let list = app.create_list("Gündem", "single").await;
        for n in 0..3 {
            app.create_subscriber(json!({"email": format!("okur{n}@example.com"), "name": "Okur", "lists": [list]})).await;
        }
        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        let page = admin.get("/admin/").await.text().await.unwrap();
        assert!(page.contains("<svg"), "charts are drawn");
        assert!(page.contains("<title>New readers</title>"), "each chart has a title");
        assert!(page.contains(">3<"), "three readers are counted");
        assert!(page.contains("Gündem"));
        assert!(page.contains("data-refresh=\"/admin/dashboard/running\""));
        let ninety = admin.get("/admin/?days=90").await.text().await.unwrap();
        assert_eq!(ninety.matches("<rect").count(), 4 * 90);

        let switched = admin.post("/admin/language", &[("lang", "tr"), ("back", "/admin/")]).await;
        assert_eq!(switched.status(), StatusCode::SEE_OTHER);
        let turkish = admin.get("/admin/").await.text().await.unwrap();
        assert!(turkish.contains("<html lang=\"tr\">") && turkish.contains("Pano"), "{turkish}");
        let running = admin.get("/admin/dashboard/running").await;
        assert_eq!(running.status(), StatusCode::OK);
        assert!(running.text().await.unwrap().contains("Süren kampanya yok."));
    }
}

on_both_backends! {
    with |s| { s.root_url = Some("https://haber.example".into()); };
    async fn over_https_the_session_cookie_is_secure_and_host_bound(app) {
        let mut browser = Browser::new(&app);
        let signed_in = browser.sign_in(ADMIN, ADMIN_PASSWORD).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        let set_cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set_cookie.starts_with("__Host-bulten_session="), "{set_cookie}");
        assert!(set_cookie.contains("Secure"), "{set_cookie}");
    }
}

impl Browser {
    /// A GET, or a POST with no token, as a stranger would send it.
    async fn post_raw_or_get(&mut self, method: Method, path: &str) -> reqwest::Response {
        if method == Method::GET {
            self.get(path).await
        } else {
            let url = self.url.clone();
            self.post_raw(
                path,
                &[],
                &[("Origin", url), ("Sec-Fetch-Site", "same-origin".into())],
            )
            .await
        }
    }
}

/// The text between `start` and the next `end` in `page`.
fn between(page: &str, start: &str, end: &str) -> String {
    let at = page
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {page}"))
        + start.len();
    page[at..].split(end).next().unwrap().to_owned()
}

/// The authenticator's code for `secret`, `ahead` steps from now.
fn authenticator(secret: &str, ahead: u64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now + 30 * ahead).to_string()
}

on_both_backends! {
    async fn a_second_factor_is_enrolled_then_asked_for_and_each_code_signs_in_once(app) {
        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        assert_eq!(admin.get("/admin/second-factor").await.status(), StatusCode::OK);
        let enrol = admin.post("/admin/second-factor/begin", &[]).await.text().await.unwrap();
        assert!(enrol.contains("<svg"), "a QR code is drawn");
        let shown = between(&enrol, "<code class=\"secret\">", "<");
        let secret = shown.replace(' ', "");
        let current = authenticator(&secret, 0);
        let wrong = if current == "123456" { "654321" } else { "123456" };
        let refused = admin.post("/admin/second-factor/confirm", &[("code", wrong)]).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.text().await.unwrap().contains(&shown), "the same secret is shown again");
        let confirmed = admin.post("/admin/second-factor/confirm", &[("code", &current)]).await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        let page = confirmed.text().await.unwrap();
        let recovery: Vec<String> = page
            .split("<li><code>")
            .skip(1)
            .map(|rest| rest.split('<').next().unwrap().to_owned())
            .collect();
        assert_eq!(recovery.len(), 10, "{page}");

        // The password alone no longer signs in: it leads to the code.
        let mut laptop = Browser::new(&app);
        let step = laptop.sign_in(ADMIN, ADMIN_PASSWORD).await;
        assert_eq!(step.status(), StatusCode::OK);
        assert!(laptop.cookie.is_none(), "no session before the code");
        let token = between(&step.text().await.unwrap(), "name=\"token\" value=\"", "\"");
        let same_origin = [("Origin", laptop.url.clone()), ("Sec-Fetch-Site", "same-origin".to_owned())];
        let replayed = laptop.post_raw("/admin/login/code", &[("token", &token), ("code", &current)], &same_origin).await;
        assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED, "the enrolment's code was used");
        assert!(replayed.text().await.unwrap().contains("used already"));
        let next = authenticator(&secret, 1);
        let in_ = laptop.post_raw("/admin/login/code", &[("token", &token), ("code", &next)], &same_origin).await;
        assert_eq!(in_.status(), StatusCode::SEE_OTHER);
        assert!(laptop.cookie.is_some());
        assert_eq!(laptop.get("/admin/").await.status(), StatusCode::OK);

        // A recovery code signs in once, typed however.
        let mut phone = Browser::new(&app);
        let step = phone.sign_in(ADMIN, ADMIN_PASSWORD).await.text().await.unwrap();
        let token = between(&step, "name=\"token\" value=\"", "\"");
        let again = phone.post_raw("/admin/login/code", &[("token", &token), ("code", &next)], &same_origin).await;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "a code signs in once");
        let typed = recovery[0].to_uppercase().replace('-', " ");
        let recovered = phone.post_raw("/admin/login/code", &[("token", &token), ("code", &typed)], &same_origin).await;
        assert_eq!(recovered.status(), StatusCode::SEE_OTHER);
        let mut thief = Browser::new(&app);
        let step = thief.sign_in(ADMIN, ADMIN_PASSWORD).await.text().await.unwrap();
        let token = between(&step, "name=\"token\" value=\"", "\"");
        let reused = thief.post_raw("/admin/login/code", &[("token", &token), ("code", &recovery[0])], &same_origin).await;
        assert_eq!(reused.status(), StatusCode::UNAUTHORIZED, "a recovery code signs in once");
        let forged = thief.post_raw("/admin/login/code", &[("token", "forged"), ("code", &recovery[1])], &same_origin).await;
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        assert!(thief.cookie.is_none());

        let status = phone.get("/admin/second-factor").await.text().await.unwrap();
        assert!(status.contains("Recovery codes left: 9."), "{status}");
        // Turning it off takes the password and a code: a session left open is not enough.
        let without_code = phone.post("/admin/second-factor/off", &[("password", ADMIN_PASSWORD), ("code", "000000")]).await;
        assert_eq!(without_code.status(), StatusCode::BAD_REQUEST);
        let off = phone.post("/admin/second-factor/off", &[("password", ADMIN_PASSWORD), ("code", &recovery[1])]).await;
        assert_eq!(off.status(), StatusCode::OK);
        let mut plain = Browser::new(&app);
        assert_eq!(plain.sign_in(ADMIN, ADMIN_PASSWORD).await.status(), StatusCode::SEE_OTHER, "the password alone again");
    }
}

on_both_backends! {
    with |s| { s.admins_need_second_factor = true; };
    async fn an_admin_without_a_second_factor_can_only_set_one_up_when_the_setting_asks(app) {
        let mut admin = Browser::new(&app);
        let signed_in = admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        assert_eq!(location(&signed_in), "/admin/second-factor");
        let dashboard = admin.get("/admin/").await;
        assert_eq!(dashboard.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&dashboard), "/admin/second-factor");
        let page = admin.get("/admin/second-factor").await.text().await.unwrap();
        assert!(page.contains("Admins must use two-step sign-in here."));
        let enrol = admin.post("/admin/second-factor/begin", &[]).await.text().await.unwrap();
        let secret = between(&enrol, "<code class=\"secret\">", "<").replace(' ', "");
        let code = authenticator(&secret, 0);
        assert_eq!(admin.post("/admin/second-factor/confirm", &[("code", &code)]).await.status(), StatusCode::OK);
        assert_eq!(admin.get("/admin/").await.status(), StatusCode::OK, "the desk opens once it is set up");

        add_user(&app, "editor1", "editor", "editor-password-1");
        let mut editor = Browser::new(&app);
        let signed_in = editor.sign_in("editor1", "editor-password-1").await;
        assert_eq!(location(&signed_in), "/admin/", "editors are not held to it");
    }
}

on_both_backends! {
    with |s| { s.login_lockout_per_account = 3; };
    async fn an_admin_invites_resets_unlocks_and_deletes_people_and_programs_on_the_page_and_the_api(app) {
        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        let invited = admin.post("/admin/users", &[("username", "muhabir"), ("role", "editor")]).await;
        assert_eq!(invited.status(), StatusCode::OK);
        let first_password = between(&invited.text().await.unwrap(), "<code class=\"secret\" id=\"secret\">", "<");
        assert_eq!(first_password.len(), 20);

        // The first sign-in leads to choosing a new password, and nothing else opens before.
        let mut reporter = Browser::new(&app);
        let signed_in = reporter.sign_in("muhabir", &first_password).await;
        assert_eq!(location(&signed_in), "/admin/password");
        assert_eq!(location(&reporter.get("/admin/").await), "/admin/password");
        let changed = reporter
            .post("/admin/password", &[("current", &first_password), ("new", "muhabir-parolasi"), ("repeat", "muhabir-parolasi")])
            .await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert_eq!(reporter.get("/admin/").await.status(), StatusCode::OK);
        assert_eq!(reporter.get("/admin/users").await.status(), StatusCode::FORBIDDEN, "an editor manages no accounts");
        let refused = app.request(Method::GET, "/api/users").send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::OK, "the admin API user may");

        // Locked out by failures; an admin lifts it.
        let mut stranger = Browser::new(&app);
        for _ in 0..3 {
            stranger.sign_in("muhabir", "guess").await;
        }
        assert_eq!(stranger.sign_in("muhabir", "muhabir-parolasi").await.status(), StatusCode::TOO_MANY_REQUESTS);
        let users: serde_json::Value = app.request(Method::GET, "/api/users").send().await.unwrap().json().await.unwrap();
        let reporter_row = users["data"].as_array().unwrap().iter().find(|u| u["username"] == "muhabir").unwrap().clone();
        assert_eq!(reporter_row["locked"], true);
        assert_eq!(reporter_row["type"], "user");
        let id = reporter_row["id"].as_i64().unwrap();
        assert_eq!(admin.post(&format!("/admin/users/{id}/unlock"), &[]).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(stranger.sign_in("muhabir", "muhabir-parolasi").await.status(), StatusCode::SEE_OTHER);

        // A reset ends the reporter's sessions and asks for a new password again.
        let reset: serde_json::Value = app.request(Method::POST, &format!("/api/users/{id}/password")).send().await.unwrap().json().await.unwrap();
        let temporary = reset["data"]["password"].as_str().unwrap().to_owned();
        assert_eq!(reporter.get("/admin/").await.status(), StatusCode::SEE_OTHER, "signed out by the reset");
        let mut again = Browser::new(&app);
        assert_eq!(location(&again.sign_in("muhabir", &temporary).await), "/admin/password");

        // The last admin stays an admin; a person is demoted, then deleted.
        let me = users["data"].as_array().unwrap().iter().find(|u| u["username"] == ADMIN).unwrap()["id"].as_i64().unwrap();
        let demote = app.request(Method::PUT, &format!("/api/users/{me}")).json(&json!({"role": "viewer", "status": "enabled"})).send().await.unwrap();
        assert_eq!(demote.status(), StatusCode::CONFLICT);
        assert_eq!(admin.post(&format!("/admin/users/{me}/delete"), &[]).await.status(), StatusCode::BAD_REQUEST, "not oneself");
        assert_eq!(admin.post(&format!("/admin/users/{id}"), &[("role", "viewer"), ("status", "disabled")]).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(again.get("/admin/").await.status(), StatusCode::SEE_OTHER, "disabling signs out");
        let page = admin.get("/admin/users").await.text().await.unwrap();
        assert!(page.contains("muhabir") && page.contains("disabled"), "{page}");
        assert_eq!(admin.post(&format!("/admin/users/{id}/delete"), &[]).await.status(), StatusCode::SEE_OTHER);
        assert!(!admin.get("/admin/users").await.text().await.unwrap().contains("muhabir"));

        // A program's token is shown once, works, and stops working when deleted.
        let made = admin.post("/admin/api-users", &[("name", "mobil-uygulama"), ("role", "viewer")]).await.text().await.unwrap();
        let credentials = between(&made, "<code class=\"secret\" id=\"secret\">", "<");
        assert!(credentials.starts_with("mobil-uygulama:"));
        let as_program = |path: &str| {
            app.client.get(format!("{}{path}", app.url)).header("Authorization", format!("token {credentials}")).send()
        };
        assert_eq!(as_program("/api/lists").await.unwrap().status(), StatusCode::OK);
        assert_eq!(as_program("/api/users").await.unwrap().status(), StatusCode::FORBIDDEN, "a viewer program");
        let programs: serde_json::Value = app.request(Method::GET, "/api/api-users").send().await.unwrap().json().await.unwrap();
        let program = programs["data"].as_array().unwrap().iter().find(|p| p["name"] == "mobil-uygulama").unwrap().clone();
        assert!(program.get("token_hash").is_none());
        let program_id = program["id"].as_i64().unwrap();
        assert_eq!(admin.post(&format!("/admin/api-users/{program_id}/delete"), &[]).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(as_program("/api/lists").await.unwrap().status(), StatusCode::UNAUTHORIZED);

        let made: serde_json::Value = app.request(Method::POST, "/api/api-users").json(&json!({"name": "ikinci", "role": "editor"})).send().await.unwrap().json().await.unwrap();
        assert!(made["data"]["token"].as_str().unwrap().len() >= 32);
        let invited: serde_json::Value = app.request(Method::POST, "/api/users").json(&json!({"username": "editor2", "role": "editor"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(invited["data"]["password"].as_str().unwrap().len(), 20);
    }
}

on_both_backends! {
    async fn lists_are_made_edited_and_deleted_on_the_desk_and_a_public_one_shows_its_snippet(app) {
        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        let fields = [
            ("name", "Spor"),
            ("type", "public"),
            ("optin", "double"),
            ("status", "active"),
            ("tags", "spor, hafta sonu"),
            ("description", "Maç sonuçları"),
            ("language", "tr"),
        ];
        let created = admin.post("/admin/lists", &fields).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let at = location(&created);
        assert!(at.starts_with("/admin/lists/") && at.ends_with("?done=created"), "{at}");
        let id: i64 = at.trim_start_matches("/admin/lists/").split('?').next().unwrap().parse().unwrap();

        // The API sees what the page made.
        let list: serde_json::Value = app.request(Method::GET, &format!("/api/lists/{id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(list["data"]["name"], "Spor");
        assert_eq!(list["data"]["optin"], "double");
        assert_eq!(list["data"]["language"], "tr");
        assert_eq!(list["data"]["tags"], json!(["spor", "hafta sonu"]));

        let page = admin.get(&at).await.text().await.unwrap();
        assert!(page.contains("The list is created."));
        assert!(page.contains("data-copy=\"snippet\""), "a public list shows its snippet");
        assert!(page.contains(&format!("name=\"l\" value=\"{}\"", list["data"]["uuid"].as_str().unwrap())) || page.contains(list["data"]["uuid"].as_str().unwrap()));

        let bad = admin.post(&format!("/admin/lists/{id}"), &[("name", ""), ("type", "public"), ("optin", "double")]).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "an empty name is refused with the form kept");
        let saved = admin.post(&format!("/admin/lists/{id}"), &[("name", "Spor Gündemi"), ("type", "private"), ("optin", "single"), ("status", "archived"), ("tags", ""), ("description", ""), ("language", "")]).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let list: serde_json::Value = app.request(Method::GET, &format!("/api/lists/{id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(list["data"]["name"], "Spor Gündemi");
        assert_eq!(list["data"]["type"], "private");
        assert_eq!(list["data"]["status"], "archived");
        assert!(list["data"]["language"].is_null());
        let private_page = admin.get(&format!("/admin/lists/{id}")).await.text().await.unwrap();
        assert!(!private_page.contains("data-copy=\"snippet\""), "a private list has no signup snippet");

        // A viewer reads lists and changes none.
        add_user(&app, "izleyici", "viewer", "izleyici-parolasi");
        let mut viewer = Browser::new(&app);
        viewer.sign_in("izleyici", "izleyici-parolasi").await;
        let seen = viewer.get("/admin/lists").await.text().await.unwrap();
        assert!(seen.contains("Spor Gündemi") && !seen.contains("action=\"/admin/lists\""), "no create form for a viewer");
        let refused = viewer.post(&format!("/admin/lists/{id}/delete"), &[]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("lists:manage"), "the refusal names the permission");

        assert_eq!(admin.post(&format!("/admin/lists/{id}/delete"), &[]).await.status(), StatusCode::SEE_OTHER);
        let gone = app.request(Method::GET, &format!("/api/lists/{id}")).send().await.unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    }
}

on_both_backends! {
    async fn every_change_by_a_person_or_a_program_lands_in_the_audit_log_with_who_what_and_before_after(app) {
        // Through the API, as the test's program.
        let list = app.create_list("Ekonomi", "single").await;
        app.put_json(&format!("/api/lists/{list}"), &json!({"name": "Ekonomi ve Para"})).await;
        let reader = app.create_subscriber(json!({"email": "okur@example.com", "name": "Okur", "lists": [list]})).await;
        app.put_json(&format!("/api/subscribers/{reader}"), &json!({"email": "okur@example.com", "name": "Okur Yazar", "lists": [list]})).await;
        app.put_json("/api/subscribers/blocklist", &json!({"ids": [reader]})).await;
        app.delete(&format!("/api/subscribers/{reader}")).await;
        let template: serde_json::Value = app
            .post_json("/api/templates", &json!({"name": "Sade", "type": "campaign", "body": "<p>{{ template \"content\" . }}</p>"}))
            .await
            .json()
            .await
            .unwrap();
        let template = template["data"]["id"].as_i64().unwrap();
        let campaign: serde_json::Value = app
            .post_json("/api/campaigns", &json!({"name": "Sabah", "subject": "Günaydın", "lists": [list], "body": "Merhaba"}))
            .await
            .json()
            .await
            .unwrap();
        let campaign = campaign["data"]["id"].as_i64().unwrap();
        app.delete(&format!("/api/campaigns/{campaign}")).await;
        app.delete(&format!("/api/templates/{template}")).await;

        // On the desk, as the admin.
        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        admin.post(&format!("/admin/lists/{list}/delete"), &[]).await;
        admin.post("/admin/users", &[("username", "stajyer"), ("role", "viewer")]).await;

        let log: serde_json::Value = app.request(Method::GET, "/api/audit?per_page=all").send().await.unwrap().json().await.unwrap();
        let entries = log["data"]["results"].as_array().unwrap();
        let actions: Vec<&str> = entries.iter().rev().map(|e| e["action"].as_str().unwrap()).collect();
        for expected in [
            "list.create", "list.update", "subscriber.create", "subscriber.update", "subscriber.blocklist",
            "subscriber.delete", "template.create", "campaign.create", "campaign.delete", "template.delete",
            "list.delete", "user.create",
        ] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
        let renamed = entries.iter().find(|e| e["action"] == "list.update").unwrap();
        assert_eq!(renamed["actor_name"], "tester");
        assert_eq!(renamed["actor_kind"], "api");
        assert_eq!(renamed["object_kind"], "list");
        assert_eq!(renamed["object_id"], list);
        assert_eq!(renamed["before"]["name"], "Ekonomi");
        assert_eq!(renamed["after"]["name"], "Ekonomi ve Para");
        assert_eq!(renamed["ip"], "127.0.0.1");
        let deleted = entries.iter().find(|e| e["action"] == "list.delete").unwrap();
        assert_eq!(deleted["actor_name"], ADMIN);
        assert_eq!(deleted["actor_kind"], "user");
        assert_eq!(deleted["before"]["name"], "Ekonomi ve Para");

        // Filters: by who, by object, by day.
        let by_admin: serde_json::Value = app.request(Method::GET, "/api/audit?actor=admin").send().await.unwrap().json().await.unwrap();
        assert_eq!(by_admin["data"]["total"], 2);
        let on_list: serde_json::Value = app.request(Method::GET, &format!("/api/audit?object=list&object_id={list}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(on_list["data"]["total"], 3);
        let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).date().to_string();
        let none: serde_json::Value = app.request(Method::GET, &format!("/api/audit?from={tomorrow}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(none["data"]["total"], 0);
        let bad = app.request(Method::GET, "/api/audit?from=yesterday").send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

        // The page shows the same, to admins only.
        let page = admin.get("/admin/audit?object=list").await.text().await.unwrap();
        assert!(page.contains("list.delete") && page.contains("Ekonomi ve Para"), "{page}");
        assert!(!page.contains("subscriber.create"), "filtered to lists");
        assert!(!page.contains("value=\"None\""), "empty filters stay empty");
        add_user(&app, "editor1", "editor", "editor-password-1");
        let mut editor = Browser::new(&app);
        editor.sign_in("editor1", "editor-password-1").await;
        let refused = editor.get("/admin/audit").await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("audit:get"));
    }
}

on_both_backends! {
    async fn readers_are_found_by_name_or_filter_paged_and_sorted_and_each_has_a_page(app) {
        let list = app.create_list("Gündem", "single").await;
        let mut ids = Vec::new();
        for n in 0..55 {
            ids.push(app.create_subscriber(json!({"email": format!("okur{n:02}@example.com"), "name": format!("Okur {n:02}"), "attribs": {"city": if n == 7 { "İzmir" } else { "Ankara" }}, "lists": [list]})).await);
        }
        let mut viewer = Browser::new(&app);
        add_user(&app, "izleyici", "viewer", "izleyici-parolasi");
        viewer.sign_in("izleyici", "izleyici-parolasi").await;

        let first = viewer.get("/admin/subscribers").await.text().await.unwrap();
        assert!(first.contains("55 readers match."), "{first}");
        assert!(first.contains("page 1 of 2"));
        assert_eq!(first.matches("<a href=\"/admin/subscribers/").count(), 50);
        let second = viewer.get("/admin/subscribers?page=2").await.text().await.unwrap();
        assert_eq!(second.matches("<a href=\"/admin/subscribers/").count(), 5);
        assert!(!second.contains("page=3"), "no link to a page past the last");
        // Back to page 1 is page 1 read afresh, so readers added meanwhile show at its top.
        assert!(second.contains("href=\"/admin/subscribers?page=1\""), "{second}");
        // A keyset page reads on from its cursor: a reader added since shows on it.
        let next = first.split("href=\"/admin/subscribers?page=2&amp;after_id=").nth(1).expect("a keyset link to page 2").split('"').next().unwrap().to_owned();
        let newest = app.create_subscriber(serde_json::json!({"email": "yeni@example.com", "name": "Yeni"})).await;
        let second = viewer.get(&format!("/admin/subscribers?page=2&after_id={next}")).await.text().await.unwrap();
        assert_eq!(second.matches("<a href=\"/admin/subscribers/").count(), 6, "{second}");
        assert!(second.contains(&format!("/admin/subscribers/{newest}\"")));
        expect_status(app.delete(&format!("/api/subscribers/{newest}")).await, 200).await;

        let by_name = viewer.get("/admin/subscribers?search=Okur+07").await.text().await.unwrap();
        assert!(by_name.contains("1 reader matches.") && by_name.contains("okur07@example.com"), "{by_name}");
        let query = crate::helpers::urlencode("subscribers.attribs->>'city' = 'İzmir'");
        let filtered = viewer.get(&format!("/admin/subscribers?query={query}")).await.text().await.unwrap();
        assert!(filtered.contains("1 reader matches.") && filtered.contains("okur07@example.com"));
        let unsupported = crate::helpers::urlencode("subscribers.id IN (SELECT id FROM users)");
        let refused = viewer.get(&format!("/admin/subscribers?query={unsupported}")).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.text().await.unwrap().contains("role=\"alert\""), "the filter's error is shown");

        let sorted = viewer.get("/admin/subscribers?order_by=email&order=asc").await.text().await.unwrap();
        let at = |page: &str, email: &str| page.find(email).unwrap();
        assert!(at(&sorted, "okur00@example.com") < at(&sorted, "okur01@example.com"));
        assert!(sorted.contains("aria-sort=\"ascending\""));

        let reader = viewer.get(&format!("/admin/subscribers/{}", ids[7])).await.text().await.unwrap();
        assert!(reader.contains("okur07@example.com") && reader.contains("İzmir") && reader.contains("Gündem"));
        let download = viewer.get(&format!("/admin/subscribers/{}/export", ids[7])).await;
        assert_eq!(download.status(), StatusCode::OK);
        assert!(download.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
        let data: serde_json::Value = download.json().await.unwrap();
        assert_eq!(data["profile"][0]["email"], "okur07@example.com");
        assert_eq!(viewer.get("/admin/subscribers/999999").await.status(), StatusCode::NOT_FOUND);
    }
}

on_both_backends! {
    with |s| { s.admins_need_second_factor = true; };
    /// An invited admin, held both to a new password and to a second factor, was sent from
    /// one page to the other for ever.
    async fn an_invited_admin_chooses_a_password_first_then_sets_up_the_second_factor(app) {
        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        let enrol = admin.post("/admin/second-factor/begin", &[]).await.text().await.unwrap();
        let secret = between(&enrol, "<code class=\"secret\">", "<").replace(' ', "");
        admin.post("/admin/second-factor/confirm", &[("code", &authenticator(&secret, 0))]).await;
        let invited = admin.post("/admin/users", &[("username", "yeni-yonetici"), ("role", "admin")]).await;
        let first = between(&invited.text().await.unwrap(), "<code class=\"secret\" id=\"secret\">", "<");

        let mut newcomer = Browser::new(&app);
        assert_eq!(location(&newcomer.sign_in("yeni-yonetici", &first).await), "/admin/password");
        assert_eq!(newcomer.get("/admin/password").await.status(), StatusCode::OK, "no loop");
        let changed = newcomer
            .post("/admin/password", &[("current", &first), ("new", "yeni-parola-123"), ("repeat", "yeni-parola-123")])
            .await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert_eq!(location(&newcomer.get("/admin/").await), "/admin/second-factor", "then the second factor");
        assert_eq!(newcomer.get("/admin/second-factor").await.status(), StatusCode::OK);
    }
}

on_both_backends! {
    /// A `next` holding a line break made the redirect after signing in fail with a 500.
    async fn a_next_address_no_location_header_can_carry_leads_to_the_dashboard(app) {
        let mut browser = Browser::new(&app);
        let signed_in = browser
            .post_raw(
                "/admin/login",
                &[("username", ADMIN), ("password", ADMIN_PASSWORD), ("next", "/admin/\nSet-Cookie: x=y")],
                &[("Origin", browser.url.clone()), ("Sec-Fetch-Site", "same-origin".to_owned())],
            )
            .await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&signed_in), "/admin/");
        // A page number past any table is answered, not a crash or a database error.
        let huge = browser.get("/admin/audit?page=9223372036854775807").await;
        assert_eq!(huge.status(), StatusCode::OK);
        assert_eq!(browser.get("/admin/subscribers?page=9223372036854775807").await.status(), StatusCode::OK);
    }
}

on_both_backends! {
    async fn a_burst_of_parallel_guesses_checks_no_more_passwords_than_the_lockout_allows(app) {
        // Each try is counted before its password is checked, so tries made at the same
        // moment see each other: no more than the three free tries are checked, the rest
        // wait as they would one after the other, and the lockout holds.
        let tries = (0..25).map(|i| {
            let mut browser = Browser::new(&app);
            async move { browser.sign_in(ADMIN, &format!("guess-{i}")).await.status() }
        });
        let answers = futures_util::future::join_all(tries).await;
        let checked = answers.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
        assert!(checked <= 3, "{checked} passwords were checked: {answers:?}");
        assert!(answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS), "{answers:?}");
        let mut owner = Browser::new(&app);
        assert_eq!(owner.sign_in(ADMIN, ADMIN_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS, "the account is locked");
    }
}

on_both_backends! {
    with |s| { s.login_lockout_per_account = 3; };
    async fn wrong_current_passwords_count_as_failed_sign_ins(app) {
        let mut laptop = Browser::new(&app);
        laptop.sign_in(ADMIN, ADMIN_PASSWORD).await;
        for _ in 0..3 {
            let wrong = laptop.post("/admin/password", &[("current", "guess"), ("new", "a-new-password"), ("repeat", "a-new-password")]).await;
            assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        }
        // A session left open is no way around the sign-in's lockout.
        let held = laptop.post("/admin/password", &[("current", ADMIN_PASSWORD), ("new", "a-new-password"), ("repeat", "a-new-password")]).await;
        assert_eq!(held.status(), StatusCode::BAD_REQUEST);
        assert!(held.text().await.unwrap().contains("the account is locked"));
        let mut other = Browser::new(&app);
        assert_eq!(other.sign_in(ADMIN, ADMIN_PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

on_both_backends! {
    async fn a_second_factor_step_begun_before_the_password_changed_signs_no_one_in(app) {
        let mut admin = Browser::new(&app);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await;
        let enrol = admin.post("/admin/second-factor/begin", &[]).await.text().await.unwrap();
        let secret = between(&enrol, "<code class=\"secret\">", "<").replace(' ', "");
        let confirmed = admin.post("/admin/second-factor/confirm", &[("code", &authenticator(&secret, 0))]).await;
        let page = confirmed.text().await.unwrap();
        let recovery: Vec<String> = page.split("<li><code>").skip(1).map(|rest| rest.split('<').next().unwrap().to_owned()).collect();
        assert_eq!(recovery.len(), 10);

        // Someone who knew the old password has passed its step…
        let mut stale = Browser::new(&app);
        let step = stale.sign_in(ADMIN, ADMIN_PASSWORD).await.text().await.unwrap();
        let token = between(&step, "name=\"token\" value=\"", "\"");
        // …when the owner changes it.
        let changed = admin.post("/admin/password", &[("current", ADMIN_PASSWORD), ("new", "a-new-password"), ("repeat", "a-new-password")]).await;
        assert_eq!(changed.status(), StatusCode::OK);
        let same_origin = [("Origin", stale.url.clone()), ("Sec-Fetch-Site", "same-origin".to_owned())];
        let refused = stale.post_raw("/admin/login/code", &[("token", &token), ("code", &recovery[0])], &same_origin).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(stale.cookie.is_none());

        // The code was not spent on the refused step.
        let mut owner = Browser::new(&app);
        let step = owner.sign_in(ADMIN, "a-new-password").await.text().await.unwrap();
        let token = between(&step, "name=\"token\" value=\"", "\"");
        let signed_in = owner.post_raw("/admin/login/code", &[("token", &token), ("code", &recovery[0])], &same_origin).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    }
}

on_both_backends! {
    async fn two_admins_demoting_each_other_at_once_leave_one_admin(app) {
        add_user(&app, "ikinci-yonetici", "admin", "ikinci-yonetici-parolasi");
        let users: serde_json::Value = app.get("/api/users").await.json().await.unwrap();
        let id = |name: &str| users["data"].as_array().unwrap().iter().find(|u| u["username"] == name).unwrap()["id"].as_i64().unwrap();
        let demote = |user: i64| app.request(Method::PUT, &format!("/api/users/{user}")).json(&json!({"role": "editor", "status": "enabled"})).send();
        let (first, second) = tokio::join!(demote(id(ADMIN)), demote(id("ikinci-yonetici")));
        let mut statuses = [first.unwrap().status(), second.unwrap().status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
        let users: serde_json::Value = app.get("/api/users").await.json().await.unwrap();
        let admins = users["data"].as_array().unwrap().iter().filter(|u| u["role"] == "admin").count();
        assert_eq!(admins, 1);
    }
}
