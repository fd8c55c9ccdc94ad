//! Building a message's bytes (RFC 5322 with MIME) from its parts, with the headers a bulk
//! sender owes mailbox providers. MIME, header encoding (RFC 2047) and folding are
//! mail-builder's; this module decides what goes in.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::headers::url::URL;

use crate::domain::{EmailAddress, Invalid};

/// A mailbox as headers show it: an optional display name and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mailbox {
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl Mailbox {
    /// Parses `Name <addr@host>` or a bare address.
    ///
    /// # Errors
    /// When the address is invalid or the name holds a line break.
    pub(crate) fn parse(text: &str) -> Result<Self, Invalid> {
        let text = text.trim();
        let (name, address) = match (text.rfind('<'), text.ends_with('>')) {
            (Some(open), true) => {
                let name = text[..open].trim().trim_matches('"').trim();
                (
                    (!name.is_empty()).then(|| name.to_owned()),
                    &text[open + 1..text.len() - 1],
                )
            }
            _ => (None, text),
        };
        if name
            .as_deref()
            .is_some_and(crate::domain::has_control_characters)
        {
            return Err(Invalid("the sender name holds a control character".into()));
        }
        let address = EmailAddress::parse(address)
            .map_err(|e| Invalid(format!("invalid sender address '{address}': {e}")))?;
        Ok(Self { name, address })
    }

    /// The address for headers and the envelope: the domain as an A-label.
    pub(crate) fn ascii_address(&self) -> String {
        ascii_address(&self.address)
    }
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.address.as_str()),
            None => f.write_str(self.address.as_str()),
        }
    }
}

/// An address with its domain as an A-label (mail-builder writes domains as given).
pub(crate) fn ascii_address(address: &EmailAddress) -> String {
    if address.as_str().is_ascii() {
        address.as_str().to_owned()
    } else {
        address.to_ascii()
    }
}

/// A `List-Id` value (RFC 2919): the list's name as a phrase, then `<key>`. A name that is
/// not plain ASCII goes in RFC 2047 encoded words, each under the 75-character limit.
pub(crate) fn list_id(name: &str, key: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).take(60).collect();
    let name = name.trim();
    if name.is_empty() {
        return format!("<{key}>");
    }
    if name.is_ascii() {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        return format!("\"{quoted}\" <{key}>");
    }
    use base64::Engine as _;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in name.chars() {
        // 45 bytes of UTF-8 make 60 of base64: with `=?utf-8?B?` and `?=`, 72 characters.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    let encoded: Vec<String> = words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect();
    format!("{} <{key}>", encoded.join(" "))
}

/// The bulk-mail headers of a campaign message.
#[derive(Debug, Clone)]
pub(crate) struct ListHeaders<'a> {
    /// The https one-click URL (first) and any others, for `List-Unsubscribe`.
    pub unsubscribe: &'a [String],
    /// `List-Id` (RFC 2919), e.g. `Daily News <daily.news.example>`.
    pub list_id: &'a str,
    /// `Feedback-ID` (no per-recipient values).
    pub feedback_id: &'a str,
}

/// Everything one message is made of.
#[derive(Debug, Clone)]
pub(crate) struct Parts<'a> {
    pub from: &'a Mailbox,
    pub to_name: &'a str,
    pub to: &'a str,
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    /// Without angle brackets.
    pub message_id: &'a str,
    /// Seconds since the epoch.
    pub date: i64,
    pub html: Option<&'a str>,
    pub text: &'a str,
    /// Campaign mail: the List-* and bulk headers. Transactional mail: `None`.
    pub list: Option<ListHeaders<'a>>,
    /// Extra headers from the campaign, already checked.
    pub extra: &'a [(String, String)],
    /// Files attached (transactional mail).
    pub attachments: &'a [Attachment],
}

/// A file attached to a message.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The message bytes, CRLF line ends, ready to sign and send.
pub(crate) fn build(parts: &Parts<'_>) -> Vec<u8> {
    let from = Address::new_address(parts.from.name.as_deref(), parts.from.ascii_address());
    let to_name = parts.to_name.trim();
    let to = Address::new_address((!to_name.is_empty()).then_some(to_name), parts.to);
    let mut builder = MessageBuilder::new()
        .from(from)
        .to(to)
        .subject(parts.subject)
        .message_id(parts.message_id)
        .date(parts.date)
        .header("Auto-Submitted", Raw::new("auto-generated"));
    if let Some(reply_to) = parts.reply_to {
        builder = builder.reply_to(reply_to);
    }
    if let Some(list) = &parts.list {
        builder = builder
            .header("List-Id", Raw::new(list.list_id))
            .header(
                "List-Unsubscribe",
                URL::new_list(list.unsubscribe.iter().map(String::as_str)),
            )
            .header(
                "List-Unsubscribe-Post",
                Raw::new("List-Unsubscribe=One-Click"),
            )
            .header("Precedence", Raw::new("bulk"))
            .header("X-Auto-Response-Suppress", Raw::new("OOF, AutoReply"))
            .header("Feedback-ID", Raw::new(list.feedback_id));
    }
    // Unstructured text: folded to the line limit, RFC 2047-encoded when not plain ASCII.
    for (name, value) in parts.extra {
        builder = builder.header(name.as_str(), Text::new(value.as_str()));
    }
    builder = builder.text_body(parts.text);
    if let Some(html) = parts.html {
        builder = builder.html_body(html);
    }
    for file in parts.attachments {
        builder = builder.attachment(
            file.content_type.as_str(),
            file.filename.as_str(),
            file.bytes.as_slice(),
        );
    }
    builder.write_to_vec().unwrap_or_default()
}

/// Headers an editor may not set on a campaign: bulten owns them, and a second copy would
/// break DKIM or confuse receivers.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-id",
    "dkim-signature",
    "return-path",
    "feedback-id",
    "precedence",
    "auto-submitted",
];

/// The longest custom header value; folded, it still fits any receiver's header limits.
const MAX_HEADER_VALUE: usize = 8 * 1024;

/// Checks a custom header: a token name, a single-line value, not one bulten sets itself.
///
/// # Errors
/// When the header is reserved or malformed.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(String, String), Invalid> {
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(Invalid(format!("invalid header name '{name}'")));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(Invalid(format!("the {name} header is set by bulten")));
    }
    if value.contains(['\r', '\n']) {
        return Err(Invalid(format!(
            "the {name} header value holds a line break"
        )));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Invalid(format!(
            "the {name} header value holds a control character"
        )));
    }
    if value.len() > MAX_HEADER_VALUE {
        return Err(Invalid(format!(
            "the {name} header value is longer than {MAX_HEADER_VALUE} bytes"
        )));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(text: &str) -> Mailbox {
        Mailbox::parse(text).unwrap()
    }

    #[test]
    fn senders_parse_with_and_without_a_name() {
        let m = mailbox("Haber Merkezi <bulten@haber.example>");
        assert_eq!(m.name.as_deref(), Some("Haber Merkezi"));
        assert_eq!(m.address.as_str(), "bulten@haber.example");
        assert_eq!(mailbox("news@x.example").name, None);
        assert!(Mailbox::parse("Bad\r\nName <a@b.example>").is_err());
        assert!(Mailbox::parse("nobody").is_err());
    }

    #[test]
    fn list_ids_keep_their_names_in_any_script() {
        assert_eq!(
            list_id("Daily", "list-1.x.example"),
            "\"Daily\" <list-1.x.example>"
        );
        assert_eq!(
            list_id("Türkiye", "list-3.x.example"),
            "=?utf-8?B?VMO8cmtpeWU=?= <list-3.x.example>"
        );
        let long = list_id(&"Gündem ".repeat(8), "k");
        assert!(long.split(' ').all(|w| w.len() <= 75), "{long}");
        assert_eq!(list_id("", "k"), "<k>");
    }

    #[test]
    fn reserved_and_multiline_headers_are_refused() {
        assert!(check_header("X-Campaign", "daily").is_ok());
        assert!(check_header("List-Unsubscribe", "<https://evil>").is_err());
        assert!(check_header("X-A", "a\r\nBcc: victim@example.com").is_err());
        assert!(check_header("Bad Name", "x").is_err());
        assert!(check_header("X-A", "a\0b").is_err(), "NUL");
        assert!(check_header("X-A", &"x".repeat(9_000)).is_err(), "too long");
    }

    #[test]
    fn custom_headers_are_folded_and_encoded() {
        let from = mailbox("news@haber.example");
        let long = "x".repeat(5_008);
        let bytes = build(&Parts {
            from: &from,
            to_name: "",
            to: "a@haber.example",
            reply_to: None,
            subject: "s",
            message_id: "1.a@haber.example",
            date: 1_795_000_000,
            html: None,
            text: "t",
            list: None,
            extra: &[
                ("X-Long".into(), long.clone()),
                ("X-Turkish".into(), "Günaydın İzmir".into()),
            ],
            attachments: &[],
        });
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.is_ascii(), "8-bit header text is encoded: {text}");
        assert!(
            text.lines().all(|l| l.len() <= 998),
            "every line within RFC 5322's limit"
        );
        let parsed = mail_parser::MessageParser::new()
            .with_mime_headers()
            .default_header_text()
            .parse(&bytes)
            .unwrap();
        assert_eq!(
            parsed.header("X-Turkish").unwrap().as_text(),
            Some("Günaydın İzmir")
        );
        let unfolded: String = parsed
            .header("X-Long")
            .unwrap()
            .as_text()
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(unfolded, long, "folding loses nothing");
    }

    #[test]
    fn a_campaign_message_has_every_bulk_header_and_encodes_what_needs_it() {
        let from = mailbox("Haber Merkezi <bulten@haber.example>");
        let unsubscribe = vec!["https://haber.example/u/TOKEN".to_owned()];
        let bytes = build(&Parts {
            from: &from,
            to_name: "Ayşe Yılmaz",
            to: "ayse@xn--trkiye-3ya.example",
            reply_to: None,
            subject: "Günün özeti: İzmir",
            message_id: "42.abc@haber.example",
            date: 1_795_000_000,
            html: Some("<p>Merhaba</p>"),
            text: "Merhaba",
            list: Some(ListHeaders {
                unsubscribe: &unsubscribe,
                list_id: "Daily <daily.haber.example>",
                feedback_id: "42:daily:bulten",
            }),
            extra: &[("X-Edition".into(), "morning".into())],
            attachments: &[],
        });
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.is_ascii(), "headers and parts are 7-bit: {text}");
        for header in [
            "Subject: =?utf-8?",
            "List-Unsubscribe: <https://haber.example/u/TOKEN>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "List-Id: Daily <daily.haber.example>",
            "Precedence: bulk",
            "Auto-Submitted: auto-generated",
            "Feedback-ID: 42:daily:bulten",
            "Message-ID: <42.abc@haber.example>",
            "X-Edition: morning",
            "multipart/alternative",
            "ayse@xn--trkiye-3ya.example",
        ] {
            assert!(text.contains(header), "missing {header} in {text}");
        }
        assert!(text.contains("\r\n\r\n"));
    }

    proptest::proptest! {
        /// Whatever a subject, a reader's name or a custom header holds (any script, quotes,
        /// long runs), the message is 7-bit, no line passes RFC 5322's limit, and a mail
        /// reader decodes exactly what was written.
        #[test]
        fn any_header_text_is_encoded_and_decodes_back(
            subject in "\\PC{1,200}",
            name in "[^\\p{C}<>\"]{0,60}",
            value in "\\PC{1,300}",
        ) {
            let from = mailbox("news@haber.example");
            let extra = [("X-Edition".to_owned(), value.trim().to_owned())];
            proptest::prop_assume!(!extra[0].1.is_empty());
            let bytes = build(&Parts {
                from: &from,
                to_name: &name,
                to: "okur@haber.example",
                reply_to: None,
                subject: &subject,
                message_id: "1.a@haber.example",
                date: 1_795_000_000,
                html: None,
                text: "t",
                list: None,
                extra: &extra,
                attachments: &[],
            });
            proptest::prop_assert!(bytes.is_ascii());
            let text = String::from_utf8(bytes.clone()).unwrap();
            proptest::prop_assert!(text.lines().all(|l| l.len() <= 998));
            let parsed = mail_parser::MessageParser::new()
                .with_mime_headers()
                .default_header_text()
                .parse(&bytes)
                .unwrap();
            proptest::prop_assert_eq!(parsed.subject(), Some(subject.as_str()));
            proptest::prop_assert_eq!(
                parsed.header("X-Edition").and_then(|h| h.as_text()),
                Some(extra[0].1.as_str())
            );
        }
    }
}
