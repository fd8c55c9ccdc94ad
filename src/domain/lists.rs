//! Lists: the topics a reader picks and the audiences an editor sends to.

use super::{Invalid, status_enum};

const MAX_LIST_NAME_CHARS: usize = 200;
const MAX_TAG_CHARS: usize = 100;
const MAX_TAGS: usize = 50;

status_enum!(
    /// Public lists appear on subscription forms; private ones only in the admin.
    ListType, "list type" {
        Public => "public",
        Private => "private",
        Temporary => "temporary",
    }
);

status_enum!(
    /// Whether joining the list needs a confirmation by mail.
    OptinKind, "opt-in kind" {
        Single => "single",
        Double => "double",
    }
);

status_enum!(
    /// Archived lists keep their subscribers but are hidden from forms.
    ListStatus, "list status" {
        Active => "active",
        Archived => "archived",
    }
);

/// A list's name: trimmed, single-line, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListName(String);

impl ListName {
    /// # Errors
    /// When the name is empty, too long or holds control characters.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Invalid("the list name is empty".into()));
        }
        if name.chars().count() > MAX_LIST_NAME_CHARS {
            return Err(Invalid(format!(
                "the list name is longer than {MAX_LIST_NAME_CHARS} characters"
            )));
        }
        if super::has_control_characters(name) {
            return Err(Invalid("the list name contains a control character".into()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A list's tags: trimmed, non-empty, unique, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    /// # Errors
    /// When a tag is too long or holds control characters, or there are too many.
    pub fn parse(raw: &[String]) -> Result<Self, Invalid> {
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        for tag in raw.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            if tag.chars().count() > MAX_TAG_CHARS || tag.chars().any(char::is_control) {
                return Err(Invalid(format!("the tag '{tag}' is not valid")));
            }
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(Invalid(format!("a list has at most {MAX_TAGS} tags")));
        }
        Ok(Self(tags))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let tags = Tags::parse(&[" news ".into(), "".into(), "news".into(), "dünya".into()]);
        assert_eq!(tags.unwrap().as_slice(), ["news", "dünya"]);
    }

    #[test]
    fn list_names_must_not_be_blank() {
        assert!(ListName::parse("  ").is_err());
        assert_eq!(ListName::parse(" Türkiye ").unwrap().as_str(), "Türkiye");
    }
}

/// A list as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct List {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub name: String,
    pub list_type: ListType,
    pub optin: OptinKind,
    pub status: ListStatus,
    pub tags: Vec<String>,
    pub description: String,
    /// The language the list's pages and mail are in, whatever the reader's browser asks.
    pub language: Option<super::Lang>,
    pub created_at: super::Timestamp,
    pub updated_at: super::Timestamp,
}

impl List {
    /// The status a new subscription to this list starts in: single opt-in lists need no
    /// confirmation, double opt-in ones do unless the caller vouches for it.
    pub fn initial_subscription_status(&self, preconfirm: bool) -> super::SubscriptionStatus {
        match (self.optin, preconfirm) {
            (OptinKind::Single, _) | (OptinKind::Double, true) => {
                super::SubscriptionStatus::Confirmed
            }
            (OptinKind::Double, false) => super::SubscriptionStatus::Unconfirmed,
        }
    }
}
