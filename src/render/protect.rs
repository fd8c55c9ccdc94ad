//! Keeps template tags intact through HTML tools that know nothing of them.
//!
//! CSS inlining and the plain-text conversion parse the campaign as HTML. Run once per
//! campaign on the template source (rather than once per recipient on its output), they must
//! not mangle `{{ … }}` and `{% … %}`: each tag is swapped for an inert word such as
//! `BULTENTAG12X`, the tool runs, and the words are swapped back. A tool that drops or doubles
//! a word (a tag inside `<style>`, say) is detected, and the caller falls back to running the
//! tool on each rendered message instead.

use std::collections::HashMap;

const PREFIX: &str = "BULTENTAG";
const SUFFIX: char = 'X';

/// A source whose tags were replaced by placeholder words.
#[derive(Debug, Clone)]
pub(crate) struct Protected {
    pub(crate) text: String,
    tags: Vec<String>,
}

/// Replaces every tag in `source` (`{{ }}`, `{% %}`, a whole `{% raw %}` block) with a
/// placeholder word; comments `{# #}` are dropped.
pub(crate) fn protect(source: &str) -> Protected {
    let mut text = String::with_capacity(source.len());
    let mut tags = Vec::new();
    let mut rest = source;
    while let Some(start) = find_tag_start(rest) {
        text.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(len) = tag_len(after) else {
            // An unterminated tag: leave the remainder for the template compiler to report.
            text.push_str(after);
            rest = "";
            break;
        };
        let tag = &after[..len];
        if !tag.starts_with("{#") {
            text.push_str(&placeholder(tags.len()));
            tags.push(tag.to_owned());
        }
        rest = &after[len..];
    }
    text.push_str(rest);
    Protected { text, tags }
}

impl Protected {
    /// Puts the tags back into `processed` (the output of a tool run on `self.text`).
    /// `None` when the tool lost or repeated a placeholder.
    pub(crate) fn restore(&self, processed: &str) -> Option<String> {
        self.restore_with(processed, false)
    }

    /// As [`Protected::restore`], but output tags (`{{ … }}`) may be missing: the plain-text
    /// conversion drops the head (a `<title>`, say), and a value nobody sees is no loss.
    /// Statements (`{% … %}`) must still all be there, once.
    pub(crate) fn restore_dropping_outputs(&self, processed: &str) -> Option<String> {
        self.restore_with(processed, true)
    }

    fn restore_with(&self, processed: &str, outputs_may_drop: bool) -> Option<String> {
        let mut seen: HashMap<usize, usize> = HashMap::new();
        let mut out = String::with_capacity(processed.len() + self.tags.len() * 16);
        let mut rest = processed;
        while let Some(pos) = rest.find(PREFIX) {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + PREFIX.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let index = after[..digits].parse::<usize>().ok();
            match (index, after[digits..].starts_with(SUFFIX)) {
                (Some(i), true) if i < self.tags.len() => {
                    *seen.entry(i).or_default() += 1;
                    out.push_str(&self.tags[i]);
                    rest = &after[digits + 1..];
                }
                _ => {
                    out.push_str(PREFIX);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        let intact = seen.values().all(|n| *n == 1)
            && self.tags.iter().enumerate().all(|(i, tag)| {
                seen.contains_key(&i) || (outputs_may_drop && tag.starts_with("{{"))
            });
        intact.then_some(out)
    }
}

fn placeholder(index: usize) -> String {
    format!("{PREFIX}{index}{SUFFIX}")
}

fn find_tag_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1))
        .find(|&i| bytes[i] == b'{' && matches!(bytes[i + 1], b'{' | b'%' | b'#'))
}

/// The length of the tag at the start of `text`, string literals inside it respected.
fn tag_len(text: &str) -> Option<usize> {
    let close = match &text[..2] {
        "{{" => "}}",
        "{%" => "%}",
        _ => "#}",
    };
    if close == "#}" {
        return text[2..].find(close).map(|p| p + 4);
    }
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 2;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if text[i..].starts_with(close) => {
                let len = i + 2;
                return Some(extend_raw_block(text, len));
            }
            None => {}
        }
        i += 1;
    }
    None
}

/// A `{% raw %}` block is one unit: its content must reach the template as it is.
fn extend_raw_block(text: &str, tag_len: usize) -> usize {
    let tag =
        text[2..tag_len - 2].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
    if tag != "raw" {
        return tag_len;
    }
    let mut search = tag_len;
    while let Some(pos) = text[search..].find("{%") {
        let start = search + pos;
        if let Some(len) = tag_len_plain(&text[start..]) {
            let inner = text[start + 2..start + len - 2]
                .trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
            if inner == "endraw" {
                return start + len;
            }
            search = start + len;
        } else {
            break;
        }
    }
    tag_len
}

fn tag_len_plain(text: &str) -> Option<usize> {
    text[2..].find("%}").map(|p| p + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_words_and_come_back() {
        let source = "<p>Hi {{ subscriber.name }}</p>{% if x %}<a href=\"{{ url() }}\">u</a>{% endif %}{# note #}";
        let protected = protect(source);
        assert!(!protected.text.contains("{{"));
        assert!(!protected.text.contains("note"));
        let restored = protected.restore(&protected.text).unwrap();
        assert_eq!(
            restored,
            "<p>Hi {{ subscriber.name }}</p>{% if x %}<a href=\"{{ url() }}\">u</a>{% endif %}"
        );
    }

    #[test]
    fn closing_braces_inside_strings_do_not_end_a_tag() {
        let protected = protect("{{ \"}}\" ~ a }}tail");
        assert_eq!(protected.tags, vec!["{{ \"}}\" ~ a }}"]);
        assert!(protected.text.ends_with("tail"));
    }

    #[test]
    fn a_raw_block_is_kept_whole() {
        let protected = protect("a{% raw %}{{ x }}{% endraw %}b");
        assert_eq!(protected.tags, vec!["{% raw %}{{ x }}{% endraw %}"]);
    }

    #[test]
    fn only_outputs_may_be_dropped_when_allowed() {
        let protected = protect("{{ a }}{% if b %}{% endif %}");
        assert!(protected.restore("BULTENTAG1X BULTENTAG2X").is_none());
        assert_eq!(
            protected
                .restore_dropping_outputs("BULTENTAG1X BULTENTAG2X")
                .as_deref(),
            Some("{% if b %} {% endif %}")
        );
        assert!(
            protected
                .restore_dropping_outputs("BULTENTAG0X BULTENTAG2X")
                .is_none()
        );
    }

    #[test]
    fn a_lost_or_doubled_placeholder_is_detected() {
        let protected = protect("{{ a }} {{ b }}");
        assert!(protected.restore("BULTENTAG0X").is_none());
        assert!(
            protected
                .restore("BULTENTAG0X BULTENTAG1X BULTENTAG1X")
                .is_none()
        );
        assert_eq!(
            protected.restore("BULTENTAG1X BULTENTAG0X").as_deref(),
            Some("{{ b }} {{ a }}")
        );
    }
}
