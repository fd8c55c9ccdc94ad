//! The `bulten` command line against the same databases as the server.

use std::io::Write as _;
use std::time::Duration;

use crate::helpers::{expect_status, on_both_backends, temp_file};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn generated_csv(rows: usize) -> String {
    let mut csv = String::from("email,name,attributes\n");
    for n in 0..rows {
        csv.push_str(&format!(
            "reader{n}@example.com,Reader {n},\"{{\"\"n\"\": {n}}}\"\n"
        ));
    }
    csv
}

on_both_backends! {
    async fn a_cli_import_then_export_round_trips(app) {
        let list = app.create_list("Türkiye", "single").await;
        let (_dir, file) = temp_file("people.csv", generated_csv(2_500).as_bytes());
        let import = app.cli(&["subscribers", "import", file.to_str().unwrap(), "--list", &list.to_string()]);
        assert!(import.status.success(), "{}", stderr(&import));
        assert!(stdout(&import).contains("2500 rows imported, 0 refused"), "{}", stdout(&import));
        assert_eq!(app.count("attribs->>'n' >= 0").await, 2_500);

        let export = app.cli(&["subscribers", "export", "--list", &list.to_string()]);
        assert!(export.status.success(), "{}", stderr(&export));
        let exported = stdout(&export);
        assert_eq!(exported.lines().count(), 2_501);
        assert!(exported.starts_with("uuid,email,name,attributes,status,created_at,updated_at"));

        // Importing the export into a second list gives the same people, unchanged.
        let other = app.create_list("Copy", "single").await;
        let (_dir2, copy) = temp_file("export.csv", exported.as_bytes());
        let again = app.cli(&["subscribers", "import", copy.to_str().unwrap(), "--list", &other.to_string(), "--overwrite"]);
        assert!(again.status.success(), "{}", stderr(&again));
        let on_copy = expect_status(app.get(&format!("/api/subscribers?list_id={other}&per_page=all&order_by=id")).await, 200).await;
        let on_first = expect_status(app.get(&format!("/api/subscribers?list_id={list}&per_page=all&order_by=id")).await, 200).await;
        let strip = |v: &serde_json::Value| -> Vec<(String, String, serde_json::Value)> {
            v["data"]["results"].as_array().unwrap().iter()
                .map(|s| (s["email"].as_str().unwrap().into(), s["name"].as_str().unwrap().into(), s["attribs"].clone()))
                .collect()
        };
        assert_eq!(strip(&on_copy), strip(&on_first));
    }
}

on_both_backends! {
    async fn importing_the_same_file_twice_gives_the_same_result(app) {
        let list = app.create_list("L", "double").await;
        let (_dir, file) = temp_file("twice.csv", generated_csv(300).as_bytes());
        for _ in 0..2 {
            let out = app.cli(&["subscribers", "import", file.to_str().unwrap(), "--list", &list.to_string()]);
            assert!(out.status.success(), "{}", stderr(&out));
        }
        assert_eq!(app.count("id > 0").await, 300);
        let unconfirmed = expect_status(app.get(&format!("/api/subscribers?list_id={list}&subscription_status=unconfirmed&per_page=1")).await, 200).await;
        assert_eq!(unconfirmed["data"]["total"], 300, "double opt-in imports wait for confirmation");
    }
}

on_both_backends! {
    async fn a_killed_import_leaves_whole_batches_and_a_rerun_completes_it(app) {
        let list = app.create_list("L", "single").await;
        let (_dir, file) = temp_file("big.csv", generated_csv(60_000).as_bytes());
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bulten"))
            .args(app.cli_args())
            .args(["subscribers", "import", file.to_str().unwrap(), "--list", &list.to_string()])
            .env("BULTEN_IMPORT_BATCH_SIZE", "500")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut seen = 0;
        for _ in 0..400 {
            seen = app.count("id > 0").await;
            if seen > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(seen > 0, "the import started");

        // On PostgreSQL a batch whose COMMIT was already sent still lands after the kill, on
        // its own server process: count once the database has settled.
        let mut total = app.count("id > 0").await;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = app.count("id > 0").await;
            if now == total {
                break;
            }
            total = now;
        }
        assert_eq!(total % 500, 0, "only whole batches were committed ({total})");
        let subscribed = expect_status(app.get(&format!("/api/subscribers?list_id={list}&per_page=1")).await, 200).await;
        assert_eq!(subscribed["data"]["total"], total, "every stored subscriber has its subscription");

        let rerun = app.cli(&["subscribers", "import", file.to_str().unwrap(), "--list", &list.to_string()]);
        assert!(rerun.status.success(), "{}", stderr(&rerun));
        assert_eq!(app.count("id > 0").await, 60_000);
        let subscribed = expect_status(app.get(&format!("/api/subscribers?list_id={list}&per_page=1")).await, 200).await;
        assert_eq!(subscribed["data"]["total"], 60_000);
    }
}

on_both_backends! {
    async fn cli_errors_name_their_cause_and_exit_non_zero(app) {
        let (_dir, file) = temp_file("x.csv", b"email\na@example.com\n");
        let unknown = app.cli(&["subscribers", "import", file.to_str().unwrap(), "--list", "4242"]);
        assert!(!unknown.status.success());
        assert!(stderr(&unknown).contains("unknown list ID(s): 4242"), "{}", stderr(&unknown));
        let missing = app.cli(&["subscribers", "import", "/nonexistent/file.csv", "--list", "1"]);
        assert!(!missing.status.success());
        let text = stderr(&missing);
        assert!(text.contains("error:"), "{text}");
    }
}

on_both_backends! {
    async fn an_api_user_made_on_the_cli_can_call_the_api(app) {
        let out = app.cli(&["api-user", "add", "newsroom"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let line = stdout(&out);
        let (name, token) = line.trim().split_once(':').unwrap();
        assert_eq!(name, "newsroom");
        assert_eq!(token.len(), 64);
        let response = app
            .client
            .get(format!("{}/api/lists", app.url))
            .header("Authorization", format!("token newsroom:{token}"))
            .send()
            .await
            .unwrap();
        expect_status(response, 200).await;
        let again = app.cli(&["api-user", "add", "newsroom"]);
        assert!(!again.status.success(), "names are unique");
    }
}

on_both_backends! {
    async fn a_user_is_added_with_a_password_from_stdin(app) {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bulten"))
            .args(app.cli_args())
            .args(["user", "add", "editor1", "--role", "editor"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("editor1"));
        let short = std::process::Command::new(env!("CARGO_BIN_EXE_bulten"))
            .args(app.cli_args())
            .args(["user", "add", "editor2", "--role", "viewer"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!short.status.success());
        assert!(stderr(&short).contains("at least 8 characters"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_import_keeps_the_wal_to_about_one_batch() {
    // Batches are checkpointed while the next one is staged; the WAL must restart from its
    // start each batch rather than grow with the import.
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let list = app.create_list("L", "single").await;
    let (_dir, file) = temp_file("big.csv", generated_csv(60_000).as_bytes());
    let import = app.cli(&[
        "subscribers",
        "import",
        file.to_str().unwrap(),
        "--list",
        &list.to_string(),
    ]);
    assert!(import.status.success(), "{}", stderr(&import));
    assert!(
        stdout(&import).contains("60000 rows imported"),
        "{}",
        stdout(&import)
    );
    let size = |name: &str| std::fs::metadata(app.data_dir.join(name)).map_or(0, |m| m.len());
    let (database, wal) = (size("bulten.db"), size("bulten.db-wal"));
    assert!(
        wal < database / 3,
        "the WAL grew to {wal} bytes beside a {database}-byte database"
    );
    assert_eq!(app.count("id > 0").await, 60_000);
}
