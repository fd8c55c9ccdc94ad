//! A value that must never be printed.

/// A password, key or token: `Debug` and `Serialize` show `****`, so a struct holding one
/// can derive both and be logged or shown whole (the settings page shows the effective
/// configuration that way). The value is read with [`Secret::expose`] where it is used.
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

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("****")
    }
}
