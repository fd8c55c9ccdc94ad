//! A value that must never be printed.

/// A password, key or token: `Debug` shows `****`, so a struct holding one can derive
/// `Debug` and be logged whole. The value is read with [`Secret::expose`] where it is used.
#[derive(Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("****")
    }
}
