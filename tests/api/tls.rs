//! SMTP over TLS with authentication, against an aiosmtpd server written for the tests
//! (`smtpd.py`): STARTTLS and implicit TLS, AUTH, and SMTPUTF8 used only for the address
//! whose local part needs it.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulten::mail::smtp::{SmtpServerConfig, TlsMode};
use serde_json::json;

use crate::campaigns::{create_campaign, set_status, wait_campaign};
use crate::helpers::{Backend, expect_status, on_both_backends, spawn_app_with};

struct Smtpd {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Smtpd {
    fn start(mode: &str) -> Smtpd {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ])
            .args([
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/smtpd.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&mail)
            .arg(&cert)
            .arg(&key)
            .args([mode, "bulten", "s3cret-pass"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (with aiosmtpd, which .ci/run installs)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "smtpd.py did not start");
        Smtpd { port, dir, child }
    }

    /// The stored messages: their envelope and session lines, and the content.
    fn received(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect()
    }

    fn config(&self, tls: TlsMode, password: &str) -> SmtpServerConfig {
        SmtpServerConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            tls,
            username: Some("bulten".into()),
            password: Some(bulten::config::Secret::new(password)),
            pool_size: 2,
            // The test server's certificate is self-signed.
            allow_invalid_certs: true,
            timeout_secs: 10,
            ..SmtpServerConfig::default()
        }
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send_over(backend: Backend, mode: &str, tls: TlsMode) {
    let server = Smtpd::start(mode);
    let relay = server.config(tls, "s3cret-pass");
    let app = spawn_app_with(backend, move |s| s.smtp = vec![relay]).await;
    let list = app.create_list("Daily", "single").await;
    app.create_subscriber(json!({"email": "okur@example.com", "name": "Okur", "lists": [list]}))
        .await;
    app.create_subscriber(json!({"email": "ayşe@örnek.example", "name": "Ayşe", "lists": [list]}))
        .await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    let done = wait_campaign(&app, id, Duration::from_secs(30), |c| {
        c["status"] == "finished"
    })
    .await;
    assert_eq!(done["sent"], 2, "{done}");
    let received = server.received();
    assert_eq!(received.len(), 2);
    for message in &received {
        assert!(message.contains("TLS True"), "{message}");
        assert!(message.contains("AUTH True"), "{message}");
    }
    let ascii = received
        .iter()
        .find(|m| m.contains("RCPT TO okur@example.com"))
        .unwrap();
    assert!(
        ascii.contains("SMTPUTF8 False"),
        "SMTPUTF8 only when needed: {ascii}"
    );
    // The domain goes as an A-label; only the local part needs SMTPUTF8.
    let utf8 = received
        .iter()
        .find(|m| m.contains("RCPT TO ayşe@xn--rnek-4qa.example"))
        .unwrap();
    assert!(utf8.contains("SMTPUTF8 True"), "{utf8}");
}

async fn campaigns_go_out_over_starttls_with_auth(backend: Backend) {
    send_over(backend, "starttls", TlsMode::Starttls).await;
}
on_both_backends! { backend campaigns_go_out_over_starttls_with_auth; }

async fn campaigns_go_out_over_implicit_tls_with_auth(backend: Backend) {
    send_over(backend, "tls", TlsMode::Tls).await;
}
on_both_backends! { backend campaigns_go_out_over_implicit_tls_with_auth; }

async fn a_refused_login_holds_the_mail_instead_of_bouncing_it(backend: Backend) {
    let server = Smtpd::start("starttls");
    let relay = server.config(TlsMode::Starttls, "wrong-password");
    let app = spawn_app_with(backend, move |s| s.smtp = vec![relay]).await;
    let list = app.create_list("Daily", "single").await;
    app.create_subscriber(json!({"email": "okur@example.com", "name": "Okur", "lists": [list]}))
        .await;
    let id = create_campaign(&app, &[list], json!({})).await;
    expect_status(set_status(&app, id, "running").await, 200).await;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        let campaign = expect_status(app.get(&format!("/api/campaigns/{id}")).await, 200).await;
        assert_eq!(
            campaign["data"]["bounced"], 0,
            "a relay's refusal is not the reader's bounce"
        );
        assert_eq!(campaign["data"]["sent"], 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.received().is_empty());
}
on_both_backends! { backend a_refused_login_holds_the_mail_instead_of_bouncing_it; }
