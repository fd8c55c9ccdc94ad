//! The languages pages and mail are written in.

use super::status_enum;

status_enum!(
    /// A language bulten speaks to readers in.
    Lang, "language" {
        En => "en",
        Tr => "tr",
    }
);

impl Lang {
    /// The best language for an `Accept-Language` header, if it names one we speak.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        accept_language::parse(header).iter().find_map(|tag| {
            let primary = tag.split(['-', '_']).next().unwrap_or_default();
            primary.to_ascii_lowercase().parse().ok()
        })
    }

    /// Upper case by this language's rules: Turkish dots its capital i (i → İ, ı → I).
    pub fn to_uppercase(self, text: &str) -> String {
        match self {
            Lang::En => text.to_uppercase(),
            Lang::Tr => text
                .chars()
                .map(|c| match c {
                    'i' => "İ".to_owned(),
                    'ı' => "I".to_owned(),
                    c => c.to_uppercase().collect(),
                })
                .collect(),
        }
    }

    /// Lower case by this language's rules: Turkish I → ı and İ → i.
    pub fn to_lowercase(self, text: &str) -> String {
        match self {
            Lang::En => text.to_lowercase(),
            Lang::Tr => text
                .chars()
                .map(|c| match c {
                    'I' => "ı".to_owned(),
                    'İ' => "i".to_owned(),
                    c => c.to_lowercase().collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_s_first_known_language_wins() {
        assert_eq!(
            Lang::from_accept_language("tr-TR,tr;q=0.9,en;q=0.8"),
            Some(Lang::Tr)
        );
        assert_eq!(
            Lang::from_accept_language("de-DE, en-GB;q=0.7, tr;q=0.5"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn turkish_cases_its_dotted_and_dotless_i() {
        assert_eq!(Lang::Tr.to_uppercase("istanbul ılık"), "İSTANBUL ILIK");
        assert_eq!(Lang::Tr.to_lowercase("İZMİR IĞDIR"), "izmir ığdır");
        assert_eq!(Lang::En.to_uppercase("istanbul"), "ISTANBUL");
    }
}
