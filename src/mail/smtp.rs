//! The SMTP transport: connections to the configured relays, each carrying many messages.
//!
//! mail-send speaks the protocol (replies, EHLO, STARTTLS, AUTH); this module owns the socket
//! so it can set TCP_NODELAY (without it every message waits out a delayed ACK, about 40 ms),
//! and pipelines each envelope (RFC 2920): `MAIL FROM`, `RCPT TO` and `DATA` go in one write
//! when the server offers PIPELINING, so a message costs two round trips instead of four.

use std::time::Duration;

use mail_send::{Credentials, SmtpClient};
use serde::Deserialize;
use smtp_proto::{EXT_PIPELINING, EXT_SMTP_UTF8, EXT_START_TLS};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::domain::Secret;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text: only for a relay on the same machine or network.
    None,
    /// Plain, upgraded with STARTTLS before anything else is said (and refused without it).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// One `[[smtp]]` table of the configuration.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SmtpServerConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Connections kept open to this server, i.e. messages in flight at once.
    pub pool_size: usize,
    /// The name said in EHLO. Defaults to the host name of `root_url`.
    pub hello_name: Option<String>,
    /// Seconds to wait for any one reply.
    pub timeout_secs: u64,
    /// Accept any certificate (a test relay with a self-signed one). Never in production.
    pub allow_invalid_certs: bool,
    /// Messages per connection before it is closed and opened anew.
    pub max_messages_per_connection: u64,
    /// Messages per second this relay may send to one recipient domain.
    pub domain_limit: Vec<DomainLimit>,
}

/// A rate limit for one recipient domain.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct DomainLimit {
    pub domain: String,
    pub per_second: u32,
}

impl Default for SmtpServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 25,
            tls: TlsMode::Starttls,
            username: None,
            password: None,
            pool_size: 10,
            hello_name: None,
            timeout_secs: 30,
            allow_invalid_certs: false,
            max_messages_per_connection: 10_000,
            domain_limit: Vec::new(),
        }
    }
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendError {
    /// Try again later: a 4xx reply, a dropped or timed-out connection.
    Temporary(String),
    /// Do not try again: a 5xx reply.
    Permanent(String),
}

impl SendError {
    fn from_reply(what: &str, code: u16, message: &str) -> Self {
        let text = format!("{what}: {code} {}", message.trim());
        if (500..600).contains(&code) {
            SendError::Permanent(text)
        } else {
            SendError::Temporary(text)
        }
    }

    fn io(err: impl std::fmt::Display) -> Self {
        SendError::Temporary(format!("connection failed: {err}"))
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open, greeted (and, as configured, encrypted and authenticated) connection.
pub(crate) struct Connection {
    client: SmtpClient<Box<dyn Io>>,
    pipelining: bool,
    smtputf8: bool,
    /// Set after an error that leaves the conversation in an unknown state.
    broken: bool,
    sent: u64,
    max_messages: u64,
    /// Reused for each envelope's commands.
    buf: Vec<u8>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("pipelining", &self.pipelining)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

/// A connection could not be opened: the relay is unreachable, refuses to talk, or the
/// configuration cannot work with it (no STARTTLS offered, credentials refused). Never a
/// recipient's bounce: the messages wait for the relay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ConnectError(pub String);

impl From<SendError> for ConnectError {
    fn from(err: SendError) -> Self {
        match err {
            SendError::Permanent(text) | SendError::Temporary(text) => ConnectError(text),
        }
    }
}

impl Connection {
    /// # Errors
    /// When the relay cannot be reached, greeted, encrypted to or logged in to.
    pub(crate) async fn open(config: &SmtpServerConfig, hello: &str) -> Result<Self, ConnectError> {
        Self::connect(config, hello, &mut Vec::new())
            .await
            .map_err(ConnectError::from)
    }

    /// Opens a connection, writing what the relay says at each step into `said`.
    async fn connect(
        config: &SmtpServerConfig,
        hello: &str,
        said: &mut Vec<String>,
    ) -> Result<Self, SendError> {
        let timeout = Duration::from_secs(config.timeout_secs.max(1));
        said.push(format!("connecting to {}:{}", config.host, config.port));
        let stream = tokio::time::timeout(
            timeout,
            TcpStream::connect((config.host.as_str(), config.port)),
        )
        .await
        .map_err(|_| SendError::io("timed out connecting"))?
        .map_err(SendError::io)?;
        stream.set_nodelay(true).map_err(SendError::io)?;
        let mut plain = SmtpClient { stream, timeout };
        let connector = || {
            mail_send::smtp::tls::build_tls_connector(config.allow_invalid_certs)
                .map_err(|e| SendError::Permanent(format!("TLS set-up failed: {e}")))
        };
        let mut client: SmtpClient<Box<dyn Io>> = match config.tls {
            TlsMode::Tls => {
                let tls = plain
                    .into_tls(&connector()?, &config.host)
                    .await
                    .map_err(SendError::io)?;
                said.push("TLS established".to_owned());
                boxed(tls)
            }
            TlsMode::Starttls => {
                said.push(greet(&mut plain).await?);
                let ehlo = plain.ehlo(hello).await.map_err(SendError::io)?;
                said.push(describe_ehlo(&ehlo));
                if !ehlo.has_capability(EXT_START_TLS) {
                    return Err(SendError::Permanent(format!(
                        "{}:{} does not offer STARTTLS (set tls = \"none\" to send in plain text)",
                        config.host, config.port
                    )));
                }
                let tls = plain
                    .start_tls(&connector()?, &config.host)
                    .await
                    .map_err(SendError::io)?;
                said.push("STARTTLS: TLS established".to_owned());
                boxed(tls)
            }
            TlsMode::None => boxed(plain),
        };
        if config.tls == TlsMode::Tls || config.tls == TlsMode::None {
            said.push(greet(&mut client).await?);
        }
        let ehlo = client.ehlo(hello).await.map_err(|e| match e {
            mail_send::Error::UnexpectedReply(r) => {
                SendError::from_reply("EHLO", r.code, &r.message)
            }
            other => SendError::io(other),
        })?;
        said.push(describe_ehlo(&ehlo));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            let credentials = Credentials::new(user.as_str(), password.expose());
            client
                .authenticate(&credentials, &ehlo)
                .await
                .map_err(|e| match e {
                    mail_send::Error::AuthenticationFailed(r) => SendError::Permanent(format!(
                        "authentication failed: {} {}",
                        r.code, r.message
                    )),
                    other => SendError::Temporary(format!("authentication failed: {other}")),
                })?;
            said.push(format!("AUTH: accepted for {user}"));
        }
        Ok(Self {
            client,
            pipelining: ehlo.has_capability(EXT_PIPELINING),
            smtputf8: ehlo.has_capability(EXT_SMTP_UTF8),
            broken: false,
            sent: 0,
            max_messages: config.max_messages_per_connection.max(1),
            buf: Vec::with_capacity(512),
        })
    }

    /// Opens a connection as sending would (greeting, EHLO, TLS, AUTH) and says QUIT: the
    /// settings page's "test connection". Returns what the relay answered at each step,
    /// and the step that failed, if one did.
    pub(crate) async fn check(
        config: &SmtpServerConfig,
        hello: &str,
    ) -> (Vec<String>, Result<(), ConnectError>) {
        let mut said = Vec::new();
        let opened = Self::connect(config, hello, &mut said).await;
        match opened {
            Ok(connection) => {
                connection.close().await;
                (said, Ok(()))
            }
            Err(err) => (said, Err(err.into())),
        }
    }

    /// Whether the connection can take another message.
    pub(crate) fn is_usable(&self) -> bool {
        !self.broken && self.sent < self.max_messages
    }

    /// Sends one message to one recipient. `message` is the raw message; dot-stuffing and
    /// the final `.` are done here.
    ///
    /// # Errors
    /// The server's refusal, or a connection failure (after which the connection is broken).
    pub(crate) async fn send(
        &mut self,
        mail_from: &str,
        rcpt: &str,
        message: &[u8],
    ) -> Result<(), SendError> {
        let utf8 = !mail_from.is_ascii() || !rcpt.is_ascii();
        if utf8 && !self.smtputf8 {
            return Err(SendError::Permanent(
                "the address needs SMTPUTF8, which the server does not offer (5.6.7)".into(),
            ));
        }
        let result = tokio::time::timeout(
            self.client.timeout * 2,
            self.transaction(mail_from, rcpt, message, utf8),
        )
        .await
        .unwrap_or_else(|_| Err(SendError::io("timed out")));
        if let Err(SendError::Temporary(_)) = &result {
            self.broken = true;
        }
        self.sent += 1;
        result
    }

    async fn transaction(
        &mut self,
        mail_from: &str,
        rcpt: &str,
        message: &[u8],
        utf8: bool,
    ) -> Result<(), SendError> {
        let param = if utf8 { " SMTPUTF8" } else { "" };
        self.buf.clear();
        self.buf
            .extend_from_slice(format!("MAIL FROM:<{mail_from}>{param}\r\n").as_bytes());
        let rcpt_at = self.buf.len();
        self.buf
            .extend_from_slice(format!("RCPT TO:<{rcpt}>\r\n").as_bytes());
        let data_at = self.buf.len();
        self.buf.extend_from_slice(b"DATA\r\n");
        let replies = if self.pipelining {
            let stream = &mut self.client.stream;
            stream.write_all(&self.buf).await.map_err(SendError::io)?;
            stream.flush().await.map_err(SendError::io)?;
            self.client.read_many(3).await.map_err(SendError::io)?
        } else {
            let mut replies = Vec::with_capacity(3);
            for range in [0..rcpt_at, rcpt_at..data_at, data_at..self.buf.len()] {
                let reply = self
                    .client
                    .cmd(&self.buf[range])
                    .await
                    .map_err(SendError::io)?;
                let ok = reply.code < 400;
                replies.push(reply);
                if !ok {
                    break;
                }
            }
            replies
        };
        let refused = replies
            .iter()
            .zip(["MAIL FROM", "RCPT TO", "DATA"])
            .find(|(r, what)| {
                if *what == "DATA" {
                    r.code != 354
                } else {
                    r.code >= 300
                }
            })
            .map(|(r, what)| SendError::from_reply(what, r.code, &r.message));
        let data_accepted = replies.get(2).is_some_and(|r| r.code == 354);
        if let Some(err) = refused {
            if data_accepted {
                // The server wants a message although the envelope failed: give it an empty
                // one, which it will refuse for want of a recipient.
                self.client
                    .stream
                    .write_all(b".\r\n")
                    .await
                    .map_err(SendError::io)?;
                self.client.stream.flush().await.map_err(SendError::io)?;
                self.client.read().await.map_err(SendError::io)?;
            }
            self.reset().await;
            return Err(err);
        }
        write_dot_stuffed(&mut self.client.stream, message)
            .await
            .map_err(SendError::io)?;
        let reply = self.client.read().await.map_err(SendError::io)?;
        if reply.code >= 300 {
            return Err(SendError::from_reply(
                "end of data",
                reply.code,
                &reply.message,
            ));
        }
        Ok(())
    }

    async fn reset(&mut self) {
        if self
            .client
            .cmd(b"RSET\r\n")
            .await
            .map(|r| r.code >= 300)
            .unwrap_or(true)
        {
            self.broken = true;
        }
    }

    /// Says goodbye; errors do not matter any more.
    pub(crate) async fn close(mut self) {
        let _ = self.client.cmd(b"QUIT\r\n").await;
    }
}

fn boxed<T: Io + 'static>(client: SmtpClient<T>) -> SmtpClient<Box<dyn Io>> {
    SmtpClient {
        stream: Box::new(client.stream),
        timeout: client.timeout,
    }
}

/// Reads the relay's greeting; returns it as it was said.
async fn greet<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
) -> Result<String, SendError> {
    let greeting = client.read().await.map_err(SendError::io)?;
    if greeting.code >= 300 {
        return Err(SendError::from_reply(
            "greeting",
            greeting.code,
            &greeting.message,
        ));
    }
    Ok(format!("{} {}", greeting.code, greeting.message))
}

/// An EHLO answer in a line: the name the relay gave and the extensions bulten cares about.
fn describe_ehlo(ehlo: &smtp_proto::EhloResponse<String>) -> String {
    use smtp_proto::{
        EXT_8BIT_MIME, EXT_AUTH, EXT_CHUNKING, EXT_DSN, EXT_ENHANCED_STATUS_CODES, EXT_REQUIRE_TLS,
        EXT_SIZE,
    };
    let extensions: Vec<&str> = [
        (EXT_PIPELINING, "PIPELINING"),
        (EXT_START_TLS, "STARTTLS"),
        (EXT_SMTP_UTF8, "SMTPUTF8"),
        (EXT_8BIT_MIME, "8BITMIME"),
        (EXT_AUTH, "AUTH"),
        (EXT_SIZE, "SIZE"),
        (EXT_DSN, "DSN"),
        (EXT_ENHANCED_STATUS_CODES, "ENHANCEDSTATUSCODES"),
        (EXT_CHUNKING, "CHUNKING"),
        (EXT_REQUIRE_TLS, "REQUIRETLS"),
    ]
    .into_iter()
    .filter(|(bit, _)| ehlo.has_capability(*bit))
    .map(|(_, name)| name)
    .collect();
    format!("250 {} ({})", ehlo.hostname, extensions.join(" "))
}

/// Writes `message` with SMTP transparency (a `.` starting a line is doubled) and the end of
/// data, in as few writes as possible.
async fn write_dot_stuffed<W: AsyncWrite + Unpin + ?Sized>(
    out: &mut W,
    message: &[u8],
) -> std::io::Result<()> {
    let stuffed = dot_stuff(message);
    out.write_all(&stuffed).await?;
    out.flush().await
}

fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_at_line_starts_are_doubled_and_data_ends_with_a_dot_line() {
        assert_eq!(
            dot_stuff(b".a\r\nb\r\n.\r\n"),
            b"..a\r\nb\r\n..\r\n.\r\n".to_vec()
        );
        assert_eq!(dot_stuff(b"x"), b"x\r\n.\r\n".to_vec());
    }

    #[test]
    fn replies_classify_as_temporary_or_permanent() {
        assert!(matches!(
            SendError::from_reply("RCPT TO", 451, "later"),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            SendError::from_reply("RCPT TO", 550, "no such user"),
            SendError::Permanent(_)
        ));
    }
}
