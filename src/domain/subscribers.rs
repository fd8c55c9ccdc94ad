//! A subscriber's name, attributes and statuses.

use super::{EmailAddress, Invalid, status_enum};

/// Attributes are free-form JSON; this bounds one subscriber's share of a row.
const MAX_ATTRIBS_BYTES: usize = 64 * 1024;

status_enum!(
    /// Whether a subscriber may receive mail at all.
    SubscriberStatus, "subscriber status" {
        Enabled => "enabled",
        Disabled => "disabled",
        Blocklisted => "blocklisted",
    }
);

status_enum!(
    /// A subscriber's standing on one list.
    SubscriptionStatus, "subscription status" {
        Unconfirmed => "unconfirmed",
        Confirmed => "confirmed",
        Unsubscribed => "unsubscribed",
    }
);

/// A display name: trimmed, single-line, at most 256 characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubscriberName(String);

impl SubscriberName {
    /// The longest name, in characters; the signup form's field says the same.
    pub const MAX_CHARS: usize = 256;

    /// # Errors
    /// When the name is empty after trimming, too long, or holds control characters.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Invalid("the name is empty".into()));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "the name is longer than {} characters",
                Self::MAX_CHARS
            )));
        }
        if has_control_characters(name) {
            return Err(Invalid(
                "the name contains a control character or a line break".into(),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name to use when none was given: the address's local part, as listmonk does.
    pub fn from_email(email: &EmailAddress) -> Self {
        Self(email.local_part().chars().take(Self::MAX_CHARS).collect())
    }

    /// `raw` when it is a usable name, else the name derived from `email`.
    ///
    /// # Errors
    /// When `raw` is non-empty but not a valid name.
    pub fn parse_or_default(raw: Option<&str>, email: &EmailAddress) -> Result<Self, Invalid> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Self::from_email(email)),
            Some(name) => Self::parse(name),
        }
    }

    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `text` holds a control character, or a character that reorders the text around
/// it (bidirectional overrides, embeddings and isolates, and the invisible direction marks):
/// a name with U+202E shows an address other than the one it sits beside in `To:`.
pub fn has_control_characters(text: &str) -> bool {
    text.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// Whether a JSON value holds a NUL character in any string or key. Parsed JSON nests at
/// most 128 levels (serde_json's limit), which bounds the recursion.
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// A subscriber's attributes: a JSON object of bounded size.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Attribs(serde_json::Map<String, serde_json::Value>);

impl Attribs {
    /// # Errors
    /// When the value is not a JSON object or is larger than 64 KiB serialized.
    pub fn parse(value: serde_json::Value) -> Result<Self, Invalid> {
        match value {
            serde_json::Value::Object(map) => Self::from_map(map),
            serde_json::Value::Null => Ok(Self::default()),
            _ => Err(Invalid("attribs must be a JSON object".into())),
        }
    }

    /// Parses the attributes column of listmonk's CSV format; an empty cell is no attributes.
    ///
    /// # Errors
    /// When the text is not a JSON object.
    pub fn parse_json_text(text: &str) -> Result<Self, Invalid> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Invalid(format!("the attributes are not valid JSON: {e}")))?;
        Self::parse(value)
    }

    fn from_map(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, Invalid> {
        if map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)) {
            // PostgreSQL cannot store it in JSONB; SQLite would keep what PostgreSQL refuses.
            return Err(Invalid(
                "attribs may not contain NUL characters (\\u0000)".into(),
            ));
        }
        let attribs = Self(map);
        if attribs.to_json_text().len() > MAX_ATTRIBS_BYTES {
            return Err(Invalid(format!(
                "attribs are larger than {MAX_ATTRIBS_BYTES} bytes"
            )));
        }
        Ok(attribs)
    }

    pub fn from_trusted(map: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(map)
    }

    /// Merges `other` into these attributes, its keys winning (PATCH semantics).
    ///
    /// # Errors
    /// When the merged attributes grow past the size limit.
    pub fn merged(mut self, other: Attribs) -> Result<Self, Invalid> {
        self.0.extend(other.0);
        Self::from_map(self.0)
    }

    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    pub fn into_map(self) -> serde_json::Map<String, serde_json::Value> {
        self.0
    }

    pub fn to_json_text(&self) -> String {
        serde_json::to_string(&self.0).expect("a JSON map always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_may_not_reorder_the_text_around_them() {
        for name in [
            "Ali\u{202E}moc.live@",
            "a\u{2066}b",
            "x\u{200F}",
            "tab\there",
        ] {
            assert!(SubscriberName::parse(name).is_err(), "{name:?}");
        }
        assert!(SubscriberName::parse("Ayşe Yılmaz").is_ok());
        assert!(
            SubscriberName::parse("محمد").is_ok(),
            "right-to-left letters are fine"
        );
    }

    #[test]
    fn attributes_holding_a_nul_anywhere_are_refused() {
        for text in [
            r#"{"a": "x\u0000"}"#,
            r#"{"a\u0000": 1}"#,
            r#"{"a": [{"b": "\u0000"}]}"#,
        ] {
            assert!(Attribs::parse_json_text(text).is_err(), "{text}");
        }
        assert!(Attribs::parse_json_text(r#"{"a": "\\u0000 is text"}"#).is_ok());
    }

    #[test]
    fn names_default_to_the_local_part() {
        let email = EmailAddress::parse("ayse@example.com").unwrap();
        assert_eq!(
            SubscriberName::parse_or_default(None, &email)
                .unwrap()
                .as_str(),
            "ayse"
        );
        assert_eq!(
            SubscriberName::parse_or_default(Some("  "), &email)
                .unwrap()
                .as_str(),
            "ayse"
        );
        assert_eq!(
            SubscriberName::parse_or_default(Some(" Ayşe Yılmaz "), &email)
                .unwrap()
                .as_str(),
            "Ayşe Yılmaz"
        );
    }

    #[test]
    fn names_with_line_breaks_or_too_long_are_refused() {
        assert!(SubscriberName::parse("a\nb").is_err());
        assert!(SubscriberName::parse(&"x".repeat(257)).is_err());
        assert!(SubscriberName::parse(&"ş".repeat(256)).is_ok());
    }

    #[test]
    fn attribs_must_be_an_object() {
        assert!(Attribs::parse(serde_json::json!([1, 2])).is_err());
        assert!(Attribs::parse_json_text("{\"city\": \"İzmir\"}").is_ok());
        assert!(Attribs::parse_json_text("{broken").is_err());
        assert_eq!(Attribs::parse_json_text("").unwrap(), Attribs::default());
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for status in SubscriberStatus::ALL {
            assert_eq!(
                status.as_str().parse::<SubscriberStatus>().unwrap(),
                *status
            );
        }
        let err = "gone".parse::<SubscriptionStatus>().unwrap_err();
        assert!(
            err.0.contains("unconfirmed, confirmed, unsubscribed"),
            "{err}"
        );
    }
}

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Subscriber {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub email: EmailAddress,
    pub name: SubscriberName,
    pub attribs: Attribs,
    pub status: SubscriberStatus,
    pub created_at: super::Timestamp,
    pub updated_at: super::Timestamp,
}

/// One subscriber's standing on one list.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub subscriber_id: i64,
    pub list: super::List,
    pub status: SubscriptionStatus,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub created_at: super::Timestamp,
    pub updated_at: super::Timestamp,
}

/// The order subscriber searches return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubscriberOrder {
    #[default]
    Id,
    Email,
    Name,
    Status,
    CreatedAt,
    UpdatedAt,
}

impl SubscriberOrder {
    /// listmonk's `order_by` values, with or without the `subscribers.` prefix.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim_start_matches("subscribers.") {
            "id" => Some(Self::Id),
            "email" => Some(Self::Email),
            "name" => Some(Self::Name),
            "status" => Some(Self::Status),
            "created_at" => Some(Self::CreatedAt),
            "updated_at" => Some(Self::UpdatedAt),
            _ => None,
        }
    }
}

/// A subscriber search: which readers, in which order, which page. `db` compiles the
/// filter for the connected backend.
#[derive(Debug, Clone, Default)]
pub struct SubscriberQuery {
    pub filter: Option<super::filter::Filter>,
    /// Only readers on one of these lists (in any status): the lists a caller limited to
    /// some lists may see. `None`: every reader.
    pub within_lists: Option<Vec<i64>>,
    pub list_id: Option<i64>,
    pub subscription_status: Option<SubscriptionStatus>,
    pub order_by: SubscriberOrder,
    pub descending: bool,
    pub limit: Option<i64>,
    pub offset: i64,
    /// Count at most this many (a page then says "more than"): bounds the cost of a filter
    /// that must read every reader's attributes. `None`: an exact count.
    pub count_up_to: Option<i64>,
    /// Keyset paging in the ID order, instead of an offset: the page after this ID, or
    /// before it. An offset of half a million rows reads them all; a keyset reads a page.
    pub past_id: Option<IdCursor>,
}

/// Where a keyset page starts: past `id` in the order asked, or (`back`) before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdCursor {
    pub id: i64,
    pub back: bool,
}

/// What to do to subscribers' memberships of some lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListAction {
    /// Subscribe, in the given status (existing subscriptions take it too).
    Add(SubscriptionStatus),
    Remove,
    Unsubscribe,
}

impl ListAction {
    /// listmonk's `action` of `PUT /api/subscribers/lists`; `add` takes `status`
    /// (confirmed when absent).
    ///
    /// # Errors
    /// For any other action.
    pub fn parse(action: &str, status: Option<SubscriptionStatus>) -> Result<Self, Invalid> {
        match action {
            "add" => Ok(Self::Add(status.unwrap_or(SubscriptionStatus::Confirmed))),
            "remove" => Ok(Self::Remove),
            "unsubscribe" => Ok(Self::Unsubscribe),
            other => Err(Invalid(format!(
                "invalid action '{other}': use add, remove or unsubscribe"
            ))),
        }
    }
}
