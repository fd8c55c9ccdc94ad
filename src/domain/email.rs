//! Email addresses as bulten stores and compares them.
//!
//! An address is parsed once at the edge (API body, CSV row, form field) and is canonical from
//! then on: the local part lowercased, the domain processed by UTS #46 and stored in its Unicode
//! form, so `Ali@XN--Mnchen-3ya.de` and `ali@münchen.de` are the same subscriber. The ASCII
//! (A-label) form that SMTP needs is derived on demand.

use std::fmt;

/// RFC 5321 limits: 64 octets of local part, 254 for the whole path.
const MAX_LOCAL_LEN: usize = 64;
const MAX_ADDRESS_LEN: usize = 254;

/// A syntactically valid, canonical email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct EmailAddress(String);

/// Why a string is not an acceptable email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the e-mail address is empty")]
    Empty,
    #[error("the e-mail address is longer than {MAX_ADDRESS_LEN} characters")]
    TooLong,
    #[error("the e-mail address contains a control character or a line break")]
    ControlCharacter,
    #[error("the e-mail address has no @ or nothing before it")]
    MissingLocalPart,
    #[error("the part before @ is longer than {MAX_LOCAL_LEN} characters")]
    LocalPartTooLong,
    #[error("the domain of the e-mail address is not valid")]
    InvalidDomain,
    #[error("'{0}' is not a valid e-mail address")]
    Invalid(String),
}

impl EmailAddress {
    /// Parses user input into a canonical address.
    ///
    /// Surrounding whitespace is ignored. IP-literal domains (`a@[127.0.0.1]`), display names
    /// (`Ali <ali@x.tr>`) and single-label domains are refused: none of them belong on a
    /// mailing list.
    ///
    /// # Errors
    /// An [`EmailError`] naming the first problem found.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(EmailError::Empty);
        }
        if raw.chars().any(char::is_control) {
            return Err(EmailError::ControlCharacter);
        }
        if raw.len() > MAX_ADDRESS_LEN * 4 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = match raw.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() => (local, domain),
            _ => return Err(EmailError::MissingLocalPart),
        };
        if local.len() > MAX_LOCAL_LEN {
            return Err(EmailError::LocalPartTooLong);
        }
        if domain.starts_with('[') {
            return Err(EmailError::InvalidDomain);
        }
        // Letters, digits, hyphens and dots without A-labels are their own UTS #46 form once
        // lowercased; only other domains need the IDNA mapping (most of a large import).
        let plain = domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !domain.split('.').any(|label| {
                label
                    .get(..4)
                    .is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
            });
        let ascii_domain = if plain {
            domain.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(domain).map_err(|_| EmailError::InvalidDomain)?
        };
        if ascii_domain.is_empty() || !ascii_domain.contains('.') {
            return Err(EmailError::InvalidDomain);
        }
        let mut address = String::with_capacity(local.len() + 1 + ascii_domain.len());
        address.push_str(local);
        address.push('@');
        address.push_str(&ascii_domain);
        if address.len() > MAX_ADDRESS_LEN {
            return Err(EmailError::TooLong);
        }
        let options = email_address::Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            allow_long_local_parts: false,
        };
        email_address::EmailAddress::parse_with_options(&address, options)
            .map_err(|_| EmailError::Invalid(raw.to_owned()))?;
        address.clear();
        if local.is_ascii() {
            address.push_str(&local.to_ascii_lowercase());
        } else {
            address.push_str(&local.to_lowercase());
        }
        address.push('@');
        if plain {
            address.push_str(&ascii_domain);
        } else {
            let (unicode_domain, result) = idna::domain_to_unicode(&ascii_domain);
            result.map_err(|_| EmailError::InvalidDomain)?;
            address.push_str(&unicode_domain);
        }
        Ok(Self(address))
    }

    /// Wraps a value read back from the database, where only parsed addresses are written.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The canonical form, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The local part, before the last `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }

    /// The domain in its Unicode form.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The address with its domain as A-labels, the form SMTP and most headers need.
    pub fn to_ascii(&self) -> String {
        let domain = idna::domain_to_ascii(self.domain()).unwrap_or_else(|_| self.domain().into());
        format!("{}@{domain}", self.local_part())
    }

    /// True when the local part is not ASCII, so delivery needs a server offering SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        !self.local_part().is_ascii()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_form_lowercases_and_trims() {
        let a = EmailAddress::parse("  Ali.Veli@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "ali.veli@example.com");
    }

    #[test]
    fn idn_domains_in_either_form_are_the_same_address() {
        let unicode = EmailAddress::parse("okur@Türkiye.example").unwrap();
        let ascii = EmailAddress::parse("okur@xn--trkiye-3ya.example").unwrap();
        assert_eq!(unicode, ascii);
        assert_eq!(unicode.as_str(), "okur@türkiye.example");
        assert_eq!(unicode.to_ascii(), "okur@xn--trkiye-3ya.example");
        assert!(!unicode.needs_smtputf8());
    }

    #[test]
    fn non_ascii_local_parts_need_smtputf8() {
        let a = EmailAddress::parse("çiğdem@example.com").unwrap();
        assert!(a.needs_smtputf8());
    }

    #[test]
    fn hostile_and_malformed_addresses_are_refused() {
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("a@b.c\r\nBcc: x@y.z", EmailError::ControlCharacter),
            ("no-at-sign", EmailError::MissingLocalPart),
            ("@example.com", EmailError::MissingLocalPart),
            ("a@[127.0.0.1]", EmailError::InvalidDomain),
            ("a@localhost", EmailError::InvalidDomain),
        ];
        for (input, expected) in cases {
            assert_eq!(EmailAddress::parse(input), Err(expected), "input {input:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(EmailAddress::parse(&format!("a@{}.com", "b".repeat(250))).is_err());
        assert!(EmailAddress::parse("Ali <ali@example.com>").is_err());
        assert!(EmailAddress::parse("a b@example.com").is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,80}") {
            let _ = EmailAddress::parse(&s);
        }

        #[test]
        fn the_ascii_shortcut_agrees_with_uts46(domain in "[a-zA-Z0-9-]{1,12}(\\.[a-zA-Z0-9-]{1,8}){1,3}") {
            if let Ok(address) = EmailAddress::parse(&format!("a@{domain}")) {
                let ascii = idna::domain_to_ascii(&domain).unwrap();
                let (unicode, result) = idna::domain_to_unicode(&ascii);
                prop_assert!(result.is_ok());
                prop_assert_eq!(address.domain(), unicode.as_str());
            }
        }

        #[test]
        fn canonical_form_is_a_fixed_point(local in "[a-zA-Z0-9._+-]{1,20}", domain in "[a-zA-Z0-9]{1,15}\\.(com|tr|example)") {
            if let Ok(first) = EmailAddress::parse(&format!("{local}@{domain}")) {
                let again = EmailAddress::parse(first.as_str()).unwrap();
                prop_assert_eq!(first, again);
            }
        }
    }
}
