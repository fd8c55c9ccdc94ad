//! What an operator checks when setting up sending: the DNS records to publish (each DKIM
//! key's, and SPF and DMARC advice for the sending domains) and a relay's answer to a test
//! connection. Both are admins' business (`settings:manage`).

use serde::Serialize;

use super::OpsResult;
use super::access::{Caller, Permission};
use crate::mail::dkim::{self, DkimKeyConfig};
use crate::mail::smtp::{Connection, SmtpServerConfig};

/// What sending is set up with, as the settings give it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sending<'a> {
    pub(crate) dkim: &'a [DkimKeyConfig],
    pub(crate) relays: &'a [SmtpServerConfig],
    /// The domain of the default From address.
    pub(crate) from_domain: &'a str,
    /// The envelope sender of campaigns, if set (else `bounces@` the From domain).
    pub(crate) bounce_address: Option<&'a str>,
}

/// One record to publish.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Record {
    /// `dkim`, `spf` or `dmarc`.
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    /// The TXT value; empty when it could not be made (see `problem`).
    pub(crate) value: String,
    /// The value as a zone file writes it: strings of at most 255 characters.
    pub(crate) zone: String,
    /// Why the value could not be made (the key's fault, in the crypto library's words).
    pub(crate) problem: Option<String>,
    /// What to check about it: a text of the catalog (`desk.settings.advice_*`), with the
    /// values its placeholders take.
    pub(crate) advice: Option<Advice>,
}

/// A note on a record, said in the reader's language by the page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Advice {
    pub(crate) key: &'static str,
    pub(crate) values: Vec<(&'static str, String)>,
}

fn advice(key: &'static str, values: &[(&'static str, &str)]) -> Option<Advice> {
    Some(Advice {
        key,
        values: values.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    })
}

impl Record {
    fn new(kind: &'static str, name: String, value: String) -> Self {
        Self {
            kind,
            zone: zone_strings(&value),
            name,
            value,
            problem: None,
            advice: None,
        }
    }
}

/// A TXT value as quoted strings of at most 255 characters, since DNS caps each string
/// there and a 2048-bit key's record is longer.
fn zone_strings(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    chars
        .chunks(255)
        .map(|chunk| format!("\"{}\"", chunk.iter().collect::<String>()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Loopback, private and link-local addresses.
fn is_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local()
        }
    }
}

/// Whether `domain` is `parent` or under it: relaxed DMARC alignment (the organisational
/// domain is approximated by the From domain itself).
fn aligned(domain: &str, parent: &str) -> bool {
    let (domain, parent) = (domain.to_ascii_lowercase(), parent.to_ascii_lowercase());
    domain == parent
        || domain.ends_with(&format!(".{parent}"))
        || parent.ends_with(&format!(".{domain}"))
}

/// The records to publish: each DKIM key's, SPF for the envelope sender's domain, DMARC
/// for the From domain.
///
/// # Errors
/// `Forbidden` without `settings:manage`.
pub(crate) fn dns_records(by: &Caller, sending: Sending<'_>) -> OpsResult<Vec<Record>> {
    by.require(Permission::SettingsManage)?;
    let from = sending.from_domain;
    let mut records = Vec::new();
    for key in sending.dkim {
        let mut record = match dkim::dns_record(key) {
            Ok(r) => Record::new("dkim", r.name, r.value),
            Err(err) => Record {
                problem: Some(format!("{err:#}")),
                ..Record::new(
                    "dkim",
                    format!("{}._domainkey.{}", key.selector, key.domain),
                    String::new(),
                )
            },
        };
        if record.problem.is_none() && !aligned(&key.domain, from) {
            record.advice = advice(
                "desk.settings.advice_dkim_unaligned",
                &[("domain", &key.domain), ("from", from)],
            );
        }
        records.push(record);
    }
    let envelope_domain = sending
        .bounce_address
        .and_then(|a| a.rsplit_once('@').map(|(_, d)| d.to_owned()))
        .unwrap_or_else(|| from.to_owned());
    // A relay on this machine or a private network is not where mail meets the world:
    // receivers see the public address it leaves from, which only the operator knows.
    let relays: Vec<String> = sending
        .relays
        .iter()
        .filter_map(|r| match r.host.parse::<std::net::IpAddr>() {
            Ok(ip) if is_local(ip) => None,
            Ok(std::net::IpAddr::V4(ip)) => Some(format!("ip4:{ip}")),
            Ok(std::net::IpAddr::V6(ip)) => Some(format!("ip6:{ip}")),
            Err(_) if r.host.eq_ignore_ascii_case("localhost") => None,
            Err(_) => Some(format!("a:{}", r.host)),
        })
        .collect();
    let mut spf = Record::new(
        "spf",
        envelope_domain.clone(),
        format!("v=spf1 {} ~all", relays.join(" ")).replace("  ", " "),
    );
    spf.advice = if !aligned(&envelope_domain, from) {
        advice(
            "desk.settings.advice_spf_unaligned",
            &[("domain", &envelope_domain), ("from", from)],
        )
    } else if sending.relays.is_empty() {
        advice("desk.settings.advice_spf_no_relay", &[])
    } else if relays.is_empty() {
        advice("desk.settings.advice_spf_local", &[])
    } else {
        advice("desk.settings.advice_spf_relays", &[])
    };
    records.push(spf);
    let mut dmarc = Record::new(
        "dmarc",
        format!("_dmarc.{from}"),
        format!("v=DMARC1; p=none; rua=mailto:dmarc-reports@{from}; adkim=r; aspf=r"),
    );
    dmarc.advice = advice("desk.settings.advice_dmarc", &[]);
    records.push(dmarc);
    Ok(records)
}

/// What a relay answered to a test connection.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RelayTest {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) ok: bool,
    /// What the relay said at each step, up to the one that failed.
    pub(crate) said: Vec<String>,
    /// The step that failed, with the relay's answer.
    pub(crate) error: Option<String>,
}

/// Connects to relay `index` (its place among the configured ones, from 0) as sending
/// opens a connection (greeting, EHLO, TLS, AUTH), and says QUIT. Only configured relays
/// are reached, with their own settings.
///
/// # Errors
/// `Forbidden` without `settings:manage`; `NotFound` for a relay that is not configured.
pub(crate) async fn test_relay(
    by: &Caller,
    relays: &[SmtpServerConfig],
    index: usize,
    hello: &str,
) -> OpsResult<RelayTest> {
    by.require(Permission::SettingsManage)?;
    let relay = relays
        .get(index)
        .ok_or(super::OpsError::NotFound("relay"))?;
    let hello = relay.hello_name.as_deref().unwrap_or(hello);
    let (said, outcome) = Connection::check(relay, hello).await;
    Ok(RelayTest {
        host: relay.host.clone(),
        port: relay.port,
        ok: outcome.is_ok(),
        said,
        error: outcome.err().map(|e| e.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_split_into_strings_of_255() {
        let value = "x".repeat(600);
        let zone = zone_strings(&value);
        assert_eq!(zone.matches('"').count(), 6);
        assert!(zone.starts_with(&format!("\"{}\" \"", "x".repeat(255))));
    }

    #[test]
    fn a_subdomain_aligns_with_its_parent() {
        assert!(aligned("bounce.haber.example", "haber.example"));
        assert!(aligned("haber.example", "haber.example"));
        assert!(!aligned("other.example", "haber.example"));
        assert!(!aligned("xhaber.example", "haber.example"));
    }
}
