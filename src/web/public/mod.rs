//! What readers touch: the signup paths, the pages behind links in mail, the preference
//! centre. No login and no cookies; links carry signed tokens. A GET only shows; every
//! change is a POST. Every text is in the reader's language ([`crate::i18n`]).

pub(crate) mod confirm;
pub(crate) mod manage;
pub(crate) mod reader;
pub(crate) mod signup;
pub(crate) mod unsubscribe;
