//! Logging setup, the one way an error is written into a log line, and process
//! measurements. A leaf: every layer may use it, it uses none.

use std::fmt;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// An error with its whole cause chain, `outer: cause: root`, for a log field
/// (`error = %chain(&err)`). The outermost message alone ("error sending request") rarely
/// says what failed.
pub(crate) fn chain<'a>(err: &'a (dyn std::error::Error + 'static)) -> Chain<'a> {
    Chain(err)
}

/// See [`chain`].
pub(crate) struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Installs the global subscriber: `RUST_LOG` picks levels (default `info`), `format` the shape.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests, embedded use) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The process's peak resident memory in bytes (Linux `VmHWM`), when the platform tells.
pub(crate) fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_logged_with_every_cause() {
        let root = std::io::Error::other("connection refused");
        let outer = anyhow::Error::new(root).context("cannot reach the captcha provider");
        let err: &(dyn std::error::Error + 'static) = outer.as_ref();
        assert_eq!(
            chain(err).to_string(),
            "cannot reach the captcha provider: connection refused"
        );
    }
}
