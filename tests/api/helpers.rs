//! `spawn_app`: a real bulten on a free port, on a fresh database of either backend, with an
//! API user whose credentials every request helper sends.

use std::path::PathBuf;

use bulten::app::App;
use bulten::config::{Secret, Settings};
use bulten::db::Db;
use bulten::ops::users::{Role, add_api_user};
use reqwest::{Method, Response};
use serde_json::Value;
use tokio::sync::oneshot;

/// The server every PostgreSQL test creates its database on.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("BULTEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) struct TestApp {
    pub(crate) url: String,
    pub(crate) client: reqwest::Client,
    pub(crate) api_user: String,
    pub(crate) api_token: String,
    /// The settings the server runs with, for CLI runs against the same database.
    pub(crate) data_dir: PathBuf,
    pub(crate) database_url: Option<String>,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
}

pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// As [`spawn_app`], with settings changed by `configure` before the start.
pub(crate) async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pg_database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(create_postgres_database().await),
    };
    let database_url = pg_database.as_ref().map(|name| database_url_for(name));
    let settings = Settings {
        data_dir: dir.path().join("data"),
        database_url: database_url.clone(),
        listen: "127.0.0.1:0".into(),
        admin_password: Some(Secret::new("first-admin-password")),
        max_body_bytes: 64 * 1024,
        // Retries come quickly in tests.
        retry_base_secs: 1,
        ..Settings::default()
    };
    let mut settings = settings;
    configure(&mut settings);
    let app = App::build(settings).await.expect("the app builds");
    let url = app.url();
    let api_token = add_api_user(app.db(), "tester", Role::Admin)
        .await
        .expect("an API user");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        url,
        // The server closes a keep-alive connection idle for `http_header_timeout_secs`
        // (15 s); a client that reuses one at that moment gets it closed under its request.
        // Pooled connections are dropped well before, as a well-behaved client would.
        client: reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("an HTTP client"),
        api_user: "tester".into(),
        api_token,
        data_dir: dir.path().join("data"),
        database_url,
        _dir: dir,
        pg_database,
        shutdown: Some(tx),
    }
}

fn database_url_for(name: &str) -> String {
    let mut url = url::Url::parse(&postgres_admin_url()).expect("a valid PostgreSQL URL");
    url.set_path(name);
    url.to_string()
}

async fn create_postgres_database() -> String {
    let name = format!("bulten_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Db::connect(&postgres_admin_url()).await.expect(
        "PostgreSQL is needed for the postgres half of the suite (BULTEN_TEST_POSTGRES_URL, \
         default postgres://postgres@127.0.0.1:5432/postgres)",
    );
    let Db::Postgres(pool) = &admin else {
        panic!("the admin URL must be PostgreSQL")
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(pool)
        .await
        .expect("a test database");
    admin.close().await;
    name
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(name) = self.pg_database.take() {
            // Drop cannot await; a short-lived runtime on its own thread removes the database.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        if let Ok(Db::Postgres(pool)) = Db::connect(&postgres_admin_url()).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                            pool.close().await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

impl TestApp {
    pub(crate) fn auth_header(&self) -> String {
        format!("token {}:{}", self.api_user, self.api_token)
    }

    /// A request with the API user's credentials.
    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", self.auth_header())
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("the request is sent")
    }

    pub(crate) async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("the request is sent")
    }

    pub(crate) async fn send_json(&self, method: Method, path: &str, body: &Value) -> Response {
        self.request(method, path)
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::POST, path, body).await
    }

    pub(crate) async fn put_json(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::PUT, path, body).await
    }

    /// Creates a list and returns its ID.
    pub(crate) async fn create_list(&self, name: &str, optin: &str) -> i64 {
        let response = self
            .post_json(
                "/api/lists",
                &serde_json::json!({"name": name, "type": "public", "optin": optin}),
            )
            .await;
        let body = expect_status(response, 200).await;
        body["data"]["id"].as_i64().expect("a list ID")
    }

    /// Creates a subscriber and returns its ID.
    pub(crate) async fn create_subscriber(&self, body: Value) -> i64 {
        let body = expect_status(self.post_json("/api/subscribers", &body).await, 200).await;
        body["data"]["id"].as_i64().expect("a subscriber ID")
    }

    /// A connection pool of its own to this app's database.
    pub(crate) async fn connect_db(&self) -> Db {
        let url = self
            .database_url
            .clone()
            .unwrap_or_else(|| Db::sqlite_url_in(&self.data_dir));
        Db::connect(&url).await.expect("the app's database")
    }

    /// The global flags that point the CLI at this app's database.
    pub(crate) fn cli_args(&self) -> Vec<String> {
        match &self.database_url {
            Some(url) => vec!["--database-url".into(), url.clone()],
            None => vec!["--data-dir".into(), self.data_dir.display().to_string()],
        }
    }

    /// Runs the `bulten` binary against this app's database.
    pub(crate) fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bulten"));
        command
            .args(self.cli_args())
            .args(args)
            .env_remove("BULTEN_CONFIG");
        command.output().expect("the bulten binary runs")
    }

    /// Total subscribers matching a filter expression, through the API.
    pub(crate) async fn count(&self, query: &str) -> i64 {
        let path = format!("/api/subscribers?per_page=1&query={}", urlencode(query));
        expect_status(self.get(&path).await, 200).await["data"]["total"]
            .as_i64()
            .unwrap()
    }
}

pub(crate) fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Asserts the status and returns the JSON body, showing the body when the status is wrong.
pub(crate) async fn expect_status(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// Writes a file in a fresh temporary directory and returns both.
pub(crate) fn temp_file(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    (dir, path)
}

/// Declares a test that runs once on SQLite and once on PostgreSQL, each on a fresh app;
/// `with CONFIGURE;` first changes the settings (`CONFIGURE: FnOnce(&mut Settings)`), and
/// `backend NAME;` runs `async fn NAME(backend: Backend)`, for tests that start the app
/// themselves.
macro_rules! on_both_backends {
    (backend $name:ident;) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    };
    (with $configure:expr; $(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn scenario($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, $configure).await;
                scenario(app).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, $configure).await;
                scenario(app).await
            }
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn scenario($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                scenario($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                scenario($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await
            }
        }
    };
}
pub(crate) use on_both_backends;
