//! Checked types with no I/O.
//!
//! Raw strings from the API, the CLI and CSV files become these types through a `parse` that can
//! fail, once, at the edge; everything behind the edge trusts them. Statuses are enums stored as
//! text ([`status_enum!`] gives each `as_str`, `FromStr` and serde in one place).

mod campaigns;
mod email;
pub(crate) mod filter;
mod imports;
mod lang;
mod lists;
mod reader;
mod secret;
mod subscribers;
mod time;

pub use campaigns::{
    CampaignStatus, CampaignType, ContentType, DeliveryStatus, Messenger, TemplateType,
};
pub use email::{EmailAddress, EmailError};
pub use imports::{ImportMode, ImportRunStatus};
pub use lang::Lang;
pub use lists::{List, ListName, ListStatus, ListType, OptinKind, Tags};
pub use reader::{PreferenceAction, SignupSource, TokenPurpose};
pub use secret::Secret;
pub use subscribers::{
    Attribs, IdCursor, ListAction, Subscriber, SubscriberName, SubscriberOrder, SubscriberQuery,
    SubscriberStatus, Subscription, SubscriptionStatus, has_control_characters,
};
pub use time::Timestamp;

/// A value that does not pass a domain check, with a message fit for an API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Declares a status enum stored as lowercase text.
macro_rules! status_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialized text.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::Invalid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::domain::Invalid(format!(
                        concat!("unknown ", $what, " '{}' (expected one of: {})"),
                        other,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        /// For columns decoded straight into the enum (`#[sqlx(try_from = "String")]`).
        impl TryFrom<String> for $name {
            type Error = $crate::domain::Invalid;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use status_enum;
