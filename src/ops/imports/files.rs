//! CSV in and out: reading a file into checked batches (the header, the delimiter, each
//! row's checks) and writing the export that reads back the same.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};

use tokio::sync::mpsc;

use super::*;

/// A parsed, checked batch from the reader thread.
pub(super) struct Batch {
    pub(super) rows: Vec<ImportRow>,
    pub(super) errors: Vec<RowError>,
    pub(super) bytes_read: u64,
}

/// Which columns hold what.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    email: usize,
    name: Vec<usize>,
    attribs: Option<usize>,
    /// Columns kept as string attributes, with their header.
    extra: Vec<(usize, String)>,
    has_header: bool,
}

/// Columns of bulten's and listmonk's exports that are not imported.
const IGNORED_COLUMNS: &[&str] = &["id", "uuid", "status", "created_at", "updated_at"];

impl Layout {
    fn detect(first: &[&str]) -> anyhow::Result<Self> {
        if first.iter().any(|cell| EmailAddress::parse(cell).is_ok()) {
            let email = first
                .iter()
                .position(|cell| EmailAddress::parse(cell).is_ok())
                .unwrap_or(0);
            return Ok(Self {
                email,
                name: if first.len() > email + 1 {
                    vec![email + 1]
                } else {
                    vec![]
                },
                attribs: (first.len() > email + 2).then_some(email + 2),
                extra: vec![],
                has_header: false,
            });
        }
        let norm: Vec<String> = first
            .iter()
            .map(|h| h.trim().to_lowercase().replace(['-', '_'], " "))
            .collect();
        let find = |names: &[&str]| norm.iter().position(|h| names.contains(&h.as_str()));
        let email = find(&["email", "e mail", "email address", "mail"]).context(
            "the file has no email column: name one 'email' in a header row, or put addresses \
             in the first column",
        )?;
        let name = match find(&["name", "full name"]) {
            Some(i) => vec![i],
            None => [find(&["first name"]), find(&["last name"])]
                .into_iter()
                .flatten()
                .collect(),
        };
        let attribs = find(&["attributes", "attribs"]);
        let extra = first
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != email && !name.contains(i) && Some(*i) != attribs)
            .filter(|(i, _)| !IGNORED_COLUMNS.contains(&norm[*i].replace(' ', "_").as_str()))
            .filter(|(_, h)| !h.trim().is_empty())
            .map(|(i, h)| (i, h.trim().to_owned()))
            .collect();
        Ok(Self {
            email,
            name,
            attribs,
            extra,
            has_header: true,
        })
    }

    /// Checks one record and turns it into a row, or says why not.
    fn row(&self, cells: &[&str]) -> Result<ImportRow, String> {
        let cell = |i: usize| formula_unquoted(cells[i]);
        let email = EmailAddress::parse(cell(self.email)).map_err(|e| e.to_string())?;
        let name: Vec<&str> = self
            .name
            .iter()
            .map(|i| cell(*i).trim())
            .filter(|s| !s.is_empty())
            .collect();
        let name = SubscriberName::parse_or_default(Some(&name.join(" ")), &email)
            .map_err(|e| e.to_string())?;
        let mut attribs = match self.attribs {
            Some(i) => Attribs::parse_json_text(cell(i)).map_err(|e| e.to_string())?,
            None => Attribs::default(),
        };
        if !self.extra.is_empty() {
            let mut map = serde_json::Map::new();
            for (i, key) in &self.extra {
                if !cells[*i].is_empty() {
                    map.insert(key.clone(), serde_json::Value::String(cell(*i).to_owned()));
                }
            }
            attribs = attribs
                .merged(Attribs::from_trusted(map))
                .map_err(|e| e.to_string())?;
        }
        Ok(ImportRow::new(email, name, &attribs))
    }
}

/// Picks the delimiter that occurs most in the first line, outside quotes.
fn detect_delimiter(first_line: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &byte in first_line {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (delimiter, count) in &mut counts {
                if byte == *delimiter {
                    *count += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| *d)
}

/// The reader thread: parse, check, batch, send. Stops early when the receiver is gone.
pub(super) fn read_batches(
    file: File,
    delimiter: Option<u8>,
    batch_size: usize,
    tx: &mpsc::Sender<Batch>,
) -> anyhow::Result<()> {
    let mut input = BufReader::with_capacity(256 * 1024, file);
    let head = input.fill_buf().context("cannot read the file")?;
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let head = if bom { &head[3..] } else { head };
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(first_line));
    if bom {
        input.consume(3);
    }
    let counted = CountingReader {
        inner: input,
        bytes: 0,
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(counted);

    let hasher = std::collections::hash_map::RandomState::new();
    let mut seen: HashSet<u64, BuildHasherDefault<PassThrough>> = HashSet::default();
    let mut layout: Option<Layout> = None;
    let mut width = 0;
    let mut record = csv::ByteRecord::new();
    let mut batch = Batch {
        rows: Vec::with_capacity(batch_size),
        errors: Vec::new(),
        bytes_read: 0,
    };
    loop {
        let more = match csv.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(err) => {
                if let csv::ErrorKind::Io(_) = err.kind() {
                    return Err(err).context("cannot read the file");
                }
                let line = err.position().map_or(0, |p| p.line());
                batch.errors.push(RowError {
                    line,
                    reason: format!("unreadable row: {err}"),
                });
                continue;
            }
        };
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let mut bad_utf8 = false;
        let cells: Vec<&str> = record
            .iter()
            .filter_map(|field| {
                let text = std::str::from_utf8(field).ok();
                bad_utf8 |= text.is_none();
                text
            })
            .collect();
        if layout.is_none() {
            let detected = Layout::detect(&cells)?;
            width = cells.len();
            let has_header = detected.has_header;
            layout = Some(detected);
            if has_header {
                continue;
            }
        }
        let layout = layout.as_ref().expect("set above");
        let outcome = if bad_utf8 {
            Err("the row is not valid UTF-8".to_owned())
        } else if cells.len() != width {
            Err(format!("expected {width} columns, found {}", cells.len()))
        } else {
            layout.row(&cells)
        };
        match outcome {
            Ok(row) => {
                if seen.insert(hasher.hash_one(row.email.as_str())) {
                    batch.rows.push(row);
                } else {
                    batch.errors.push(RowError {
                        line,
                        reason: format!("{} appears earlier in the file", row.email),
                    });
                }
            }
            Err(reason) => batch.errors.push(RowError { line, reason }),
        }
        if batch.rows.len() + batch.errors.len() >= batch_size {
            batch.bytes_read = csv.get_ref().bytes;
            let full = std::mem::replace(
                &mut batch,
                Batch {
                    rows: Vec::with_capacity(batch_size),
                    errors: Vec::new(),
                    bytes_read: 0,
                },
            );
            if tx.blocking_send(full).is_err() {
                return Ok(());
            }
        }
    }
    if layout.is_none() {
        anyhow::bail!("the file is empty");
    }
    batch.bytes_read = csv.get_ref().bytes;
    let _ = tx.blocking_send(batch);
    Ok(())
}

/// The hasher of the set of addresses seen: its keys are already keyed hashes of the
/// addresses, so hashing them again would only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Counts the bytes the CSV parser has taken, for progress.
struct CountingReader<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Whether a spreadsheet would run `cell` as a formula (OWASP's list of leading characters),
/// or it starts with the quote that marks such a cell as text, followed by one.
fn reads_as_formula(cell: &str) -> bool {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => true,
        Some('\'') => reads_as_formula(&cell[1..]),
        _ => false,
    }
}

/// A cell as exported: one a spreadsheet would run as a formula gets a leading `'`, which
/// spreadsheets show as text. A name like `=HYPERLINK(…)` planted through the public form
/// then stays a name when staff open the file.
fn formula_quoted(cell: &str) -> std::borrow::Cow<'_, str> {
    if reads_as_formula(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The inverse of [`formula_quoted`], so export → import gives back the same values.
fn formula_unquoted(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if reads_as_formula(rest) => rest,
        _ => cell,
    }
}

/// A field delimiter as the CLI's `--delimiter` and the API's `delim` give it: one ASCII
/// character, `\t` or `tab` for a tab, or nothing to detect it from the first line.
///
/// # Errors
/// For anything else.
pub(crate) fn parse_delimiter(text: &str) -> OpsResult<Option<u8>> {
    match text {
        "" => Ok(None),
        "\\t" | "tab" | "\t" => Ok(Some(b'\t')),
        one if one.len() == 1 && one.is_ascii() && one != "\n" && one != "\r" && one != "\"" => {
            Ok(Some(one.as_bytes()[0]))
        }
        other => Err(OpsError::Invalid(format!(
            "invalid delimiter '{other}': give one ASCII character, or \\t for a tab"
        ))),
    }
}

/// The header of bulten's export; import reads it back.
pub(crate) const EXPORT_HEADER: [&str; 7] = [
    "uuid",
    "email",
    "name",
    "attributes",
    "status",
    "created_at",
    "updated_at",
];

/// One subscriber as a row of the export, in [`EXPORT_HEADER`]'s order; cells a
/// spreadsheet would run as a formula are quoted.
fn export_record(s: &crate::domain::Subscriber) -> [String; 7] {
    [
        s.uuid.to_string(),
        formula_quoted(s.email.as_str()).into_owned(),
        formula_quoted(s.name.as_str()).into_owned(),
        formula_quoted(&s.attribs.to_json_text()).into_owned(),
        s.status.as_str().to_owned(),
        s.created_at.to_string(),
        s.updated_at.to_string(),
    ]
}

/// Subscribers as lines of the export, [`EXPORT_HEADER`] first when `header`: for exports
/// written a batch at a time (the API's and the desk's download).
///
/// # Errors
/// Never in practice: the writer writes to memory.
pub(crate) fn export_lines<'a>(
    subscribers: impl IntoIterator<Item = &'a crate::domain::Subscriber>,
    header: bool,
) -> OpsResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer
            .write_record(EXPORT_HEADER)
            .context("cannot write the export")?;
    }
    for s in subscribers {
        writer
            .write_record(export_record(s))
            .context("cannot write the export")?;
    }
    writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write the export: {e}").into())
}

/// Writes every subscriber (or a list's) as CSV in the import format, in pages, so memory
/// stays flat. Returns how many rows were written.
pub(crate) async fn export_csv<W: std::io::Write>(
    db: &Db,
    list_id: Option<i64>,
    out: W,
) -> OpsResult<u64> {
    const PAGE: i64 = 5_000;
    if let Some(id) = list_id {
        require_all(db, &[id]).await?;
    }
    let mut writer = csv::Writer::from_writer(out);
    writer
        .write_record(EXPORT_HEADER)
        .context("cannot write the export")?;
    let (mut after, mut written) = (0i64, 0u64);
    loop {
        let page = crate::db::subscribers::page_after(db, after, PAGE, list_id).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for s in &page {
            writer
                .write_record(export_record(s))
                .context("cannot write the export")?;
        }
        written += page.len() as u64;
    }
    writer.flush().context("cannot write the export")?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_read_the_same_from_the_cli_and_the_api() {
        assert_eq!(parse_delimiter("").unwrap(), None);
        assert_eq!(parse_delimiter(";").unwrap(), Some(b';'));
        assert_eq!(parse_delimiter("\\t").unwrap(), Some(b'\t'));
        assert_eq!(parse_delimiter("tab").unwrap(), Some(b'\t'));
        assert_eq!(parse_delimiter("\t").unwrap(), Some(b'\t'));
        for bad in ["ab", "ş", "\n", "\""] {
            assert!(parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formulas_are_quoted_on_export_and_read_back_as_written() {
        let cases = [
            (
                "=HYPERLINK(\"http://evil.example\")",
                "'=HYPERLINK(\"http://evil.example\")",
            ),
            ("+1", "'+1"),
            ("-Ali", "'-Ali"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=x", "''=x"),
            ("Ayşe", "Ayşe"),
            ("'Tis", "'Tis"),
            ("", ""),
        ];
        for (value, exported) in cases {
            assert_eq!(formula_quoted(value), exported, "{value:?}");
            assert_eq!(formula_unquoted(exported), value, "{exported:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn export_then_import_gives_back_any_value(value in "\\PC{0,12}") {
            let exported = formula_quoted(&value);
            proptest::prop_assert_eq!(formula_unquoted(&exported), value.as_str());
        }
    }

    #[test]
    fn the_delimiter_is_the_most_frequent_outside_quotes() {
        assert_eq!(detect_delimiter(b"email;name;attributes"), b';');
        assert_eq!(detect_delimiter(b"email,name,\"a;b;c\""), b',');
        assert_eq!(detect_delimiter(b"email"), b',');
    }

    #[test]
    fn headers_are_recognised_in_listmonk_and_mailchimp_files() {
        let listmonk = Layout::detect(&["email", "name", "attributes"]).unwrap();
        assert_eq!(
            (listmonk.email, listmonk.name.clone(), listmonk.attribs),
            (0, vec![1], Some(2))
        );
        let mailchimp =
            Layout::detect(&["Email Address", "First Name", "Last Name", "CITY"]).unwrap();
        assert_eq!(mailchimp.name, vec![1, 2]);
        assert_eq!(mailchimp.extra, vec![(3, "CITY".to_owned())]);
        let exported = Layout::detect(&EXPORT_HEADER).unwrap();
        assert_eq!(
            (exported.email, exported.attribs, exported.extra.len()),
            (1, Some(3), 0)
        );
    }

    #[test]
    fn a_file_without_header_starts_with_data() {
        let layout = Layout::detect(&["ali@example.com", "Ali", "{}"]).unwrap();
        assert!(!layout.has_header);
        assert!(Layout::detect(&["foo", "bar"]).is_err());
    }

    #[test]
    fn rows_are_checked_with_reasons() {
        let layout = Layout::detect(&["email", "name", "attributes"]).unwrap();
        assert!(
            layout
                .row(&["ali@example.com", "", "{\"city\":\"İzmir\"}"])
                .is_ok()
        );
        let bad_json = layout
            .row(&["ali@example.com", "Ali", "{nope"])
            .unwrap_err();
        assert!(bad_json.contains("not valid JSON"), "{bad_json}");
        let bad_email = layout.row(&["ali-at-example", "Ali", ""]).unwrap_err();
        assert!(bad_email.contains("@"), "{bad_email}");
    }

    proptest::proptest! {
        /// A whole exported row reads back through the importer as the same reader: the
        /// address, the name and every attribute, whatever they hold (commas, quotes, line
        /// breaks, formula signs, any script).
        #[test]
        fn an_exported_row_imports_as_the_same_reader(
            local in "[a-z0-9][a-z0-9._+-]{0,20}",
            name in "[^\\p{C}]{1,40}",
            attribute in "\\PC{0,40}",
            number in proptest::prelude::any::<i32>(),
        ) {
            let email = EmailAddress::parse(&format!("{local}@haber.example"));
            proptest::prop_assume!(email.is_ok());
            let email = email.unwrap();
            let name = SubscriberName::parse(&name);
            proptest::prop_assume!(name.is_ok());
            let name = name.unwrap();
            let attribs = Attribs::parse(serde_json::json!({
                "şehir": attribute, "n": number, "=formül": "+1"
            }))
            .unwrap();
            let at = crate::domain::Timestamp::now();
            let subscriber = crate::domain::Subscriber {
                id: 1,
                uuid: uuid::Uuid::now_v7(),
                email: email.clone(),
                name: name.clone(),
                attribs: attribs.clone(),
                status: crate::domain::SubscriberStatus::Enabled,
                created_at: at,
                updated_at: at,
            };
            let mut out = Vec::new();
            {
                let mut writer = csv::Writer::from_writer(&mut out);
                writer.write_record(EXPORT_HEADER).unwrap();
                writer.write_record(export_record(&subscriber)).unwrap();
                writer.flush().unwrap();
            }
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(out.as_slice());
            let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
            let header: Vec<&str> = records[0].iter().collect();
            let cells: Vec<&str> = records[1].iter().collect();
            let row = Layout::detect(&header).unwrap().row(&cells).unwrap();
            proptest::prop_assert_eq!(&row.email, &email);
            proptest::prop_assert_eq!(row.name.as_str(), name.as_str().trim());
            proptest::prop_assert_eq!(
                Attribs::parse_json_text(row.attribs_json()).unwrap(),
                attribs
            );
        }
    }
}
