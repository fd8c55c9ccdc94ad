//! The reader's side: where a signup came from, what a preference page asks, what a
//! single-use link is for.

use super::status_enum;

status_enum!(
    /// Where a signup came from, kept on its consent record.
    SignupSource, "signup source" {
        Form => "form",
        Embed => "embed",
        Api => "api",
    }
);

status_enum!(
    /// The buttons of the preference centre (`action` of its form).
    PreferenceAction, "preference action" {
        Save => "save",
        UnsubscribeAll => "unsubscribe_all",
        ChangeEmail => "change_email",
        Export => "export",
        Erase => "erase",
    }
);

status_enum!(
    /// What a single-use link is for; its use is recorded under this name, so a link made
    /// for one purpose is spent only for that one.
    TokenPurpose, "token purpose" {
        Confirm => "confirm",
        Change => "change",
    }
);
