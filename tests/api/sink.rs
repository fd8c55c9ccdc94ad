//! A real SMTP server for the tests: postfix's `smtp-sink`, listening on a free loopback
//! port and writing each accepted message to a file. Flags inject failures: `-r RCPT`
//! answers RCPT TO with 4xx, `-f RCPT` with 5xx, `-q RCPT` drops the connection there.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct SmtpSink {
    pub(crate) port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) mail_from: String,
    pub(crate) rcpt: String,
    /// The name the client gave in EHLO.
    pub(crate) helo: String,
    /// Headers and body, the sink's own trace lines removed.
    pub(crate) message: String,
}

pub(crate) fn smtp_sink_binary() -> PathBuf {
    for candidate in ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("smtp-sink (Debian package postfix) is needed; .ci/run installs it")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

impl SmtpSink {
    pub(crate) async fn start(flags: &[&str]) -> SmtpSink {
        Self::start_on(free_port(), flags).await
    }

    /// A sink on a given port: a relay that restarts with other behaviour.
    pub(crate) async fn start_on(port: u16, flags: &[&str]) -> SmtpSink {
        let dir = tempfile::tempdir().expect("a dump directory");
        // The sink drops to `nobody` when run as root; it must be able to write here.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let mut command = Command::new(smtp_sink_binary());
        if nix_is_root() {
            command.args(["-u", "nobody"]);
        }
        let template = format!("{}/%H%M%S.", dir.path().display());
        let child = command
            .args(flags)
            .args(["-d", &template, &format!("127.0.0.1:{port}"), "256"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-sink starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        // The port may still be held by a sink that was just stopped: wait for it to listen.
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "smtp-sink did not start listening"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        SmtpSink { port, dir, child }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        let mut messages = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let mut mail_from = String::new();
            let mut rcpt = String::new();
            let mut helo = String::new();
            let mut rest = text.as_str();
            // The dump starts with the sink's X-… lines and a Received header.
            while let Some((line, after)) = rest.split_once('\n') {
                if let Some(v) = line.strip_prefix("X-Mail-Args: ") {
                    mail_from = v
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_matches(['<', '>'])
                        .to_owned();
                } else if let Some(v) = line.strip_prefix("X-Helo-Args: ") {
                    helo = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("X-Rcpt-Args: ") {
                    rcpt = v
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_matches(['<', '>'])
                        .to_owned();
                } else if !line.starts_with("X-") {
                    break;
                }
                rest = after;
            }
            if rcpt.is_empty() {
                continue; // still being written
            }
            messages.push(Received {
                mail_from,
                rcpt,
                helo,
                message: rest.to_owned(),
            });
        }
        messages
    }

    /// Waits until at least `count` messages arrived, or fails after `timeout`.
    pub(crate) async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the sink got {} of {count} messages",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
