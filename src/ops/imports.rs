//! CSV import and export of subscribers.
//!
//! An import streams the file: a reader thread parses and checks rows and hands batches
//! through a small bounded channel to the loader, which commits each batch in one
//! transaction (`db::imports::load_batch`). Memory holds two batches and one 8-byte hash per
//! address seen (to report duplicates within the file), whatever the file's size.
//!
//! Accepted files: listmonk's `email,name,attributes` (attributes as a JSON object), with or
//! without a header row; Mailchimp's export (`Email Address`, `First Name`, `Last Name`, other
//! columns become attributes); bulten's own export. A UTF-8 byte-order mark is skipped, and
//! the delimiter (`,`, `;` or tab) is detected unless given.

use std::collections::HashSet;
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use super::{OpsError, OpsResult, lists::require_all};
use crate::db::imports::{self, BatchPlan, ImportMode, ImportRow, RowError};
use crate::db::{Backend, Db};
use crate::domain::{Attribs, EmailAddress, SubscriberName, SubscriptionStatus};

/// Rows per transaction. Large enough to amortise a commit, small enough that a stop request
/// or a kill loses little work.
pub const DEFAULT_BATCH_SIZE: usize = 10_000;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub mode: ImportMode,
    pub list_ids: Vec<i64>,
    pub overwrite: bool,
    /// The field delimiter; detected from the first line when `None`.
    pub delimiter: Option<u8>,
    /// The status of new subscriptions; by default each list's own (confirmed on single
    /// opt-in lists, unconfirmed on double opt-in ones).
    pub subscription_status: Option<SubscriptionStatus>,
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            mode: ImportMode::Subscribe,
            list_ids: Vec::new(),
            overwrite: false,
            delimiter: None,
            subscription_status: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// Told after each committed batch; the CLI draws a progress bar from it.
pub trait Progress: Send + Sync {
    /// `bytes` of `total_bytes` read, `rows` imported and `failed` refused so far.
    fn advance(&self, bytes: u64, total_bytes: u64, rows: u64, failed: u64);
}

/// A progress sink that ignores everything.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _: u64, _: u64, _: u64, _: u64) {}
}

/// How an import ended.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    pub run_id: i64,
    pub status: String,
    pub imported: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

/// A parsed, checked batch from the reader thread.
struct Batch {
    rows: Vec<ImportRow>,
    errors: Vec<RowError>,
    bytes_read: u64,
}

/// Starts a run record and imports `path` into it. See the module docs for the formats.
///
/// # Errors
/// When a list does not exist, the file cannot be read or has no email column, or the
/// database fails. Bad rows are not errors: they are logged with their line and skipped.
pub async fn import_file(
    db: &Db,
    path: &Path,
    name: &str,
    options: &ImportOptions,
    progress: &dyn Progress,
) -> OpsResult<ImportSummary> {
    let plan = plan(db, options).await?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let run =
        imports::start_run(db, name, options.mode, options.overwrite, &options.list_ids).await?;
    run_import(db, run.id, file, options, plan, progress).await
}

/// Imports into an already started run with a plan made when it started (the API starts
/// the run and checks the lists before the upload is imported).
pub async fn import_into_run(
    db: &Db,
    run_id: i64,
    path: &Path,
    options: &ImportOptions,
    plan: BatchPlan,
    progress: &dyn Progress,
) -> OpsResult<ImportSummary> {
    match File::open(path).with_context(|| format!("cannot open {}", path.display())) {
        Ok(file) => run_import(db, run_id, file, options, plan, progress).await,
        Err(err) => {
            imports::finish_run(db, run_id, "failed", 0, Some(&format!("{err:#}"))).await?;
            Err(err.into())
        }
    }
}

/// Checks the lists and decides the status of new subscriptions on each.
pub async fn plan(db: &Db, options: &ImportOptions) -> OpsResult<BatchPlan> {
    if options.mode == ImportMode::Subscribe && options.list_ids.is_empty() {
        return Err(OpsError::Invalid(
            "choose at least one list to import into".into(),
        ));
    }
    let lists = require_all(db, &options.list_ids).await?;
    let subscriptions = lists
        .iter()
        .map(|l| {
            (
                l.id,
                options
                    .subscription_status
                    .unwrap_or(l.initial_subscription_status(false)),
            )
        })
        .collect();
    Ok(BatchPlan::new(
        options.mode,
        options.overwrite,
        subscriptions,
    ))
}

async fn run_import(
    db: &Db,
    run_id: i64,
    file: File,
    options: &ImportOptions,
    plan: BatchPlan,
    progress: &dyn Progress,
) -> OpsResult<ImportSummary> {
    let started = Instant::now();
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (tx, mut rx) = mpsc::channel::<Batch>(2);
    let delimiter = options.delimiter;
    let batch_size = options.batch_size.max(1);
    let reader =
        tokio::task::spawn_blocking(move || read_batches(file, delimiter, batch_size, &tx));

    // PostgreSQL loads two batches at once, one server process each; SQLite has one writer.
    let concurrency = match db.backend() {
        Backend::Postgres => 2,
        Backend::Sqlite => 1,
    };
    let load = |batch: Batch| {
        let plan = &plan;
        async move {
            let result = imports::load_batch(db, run_id, &batch.rows, &batch.errors, plan).await;
            (
                batch.rows.len() as u64,
                batch.errors.len() as u64,
                batch.bytes_read,
                result,
            )
        }
    };
    let mut in_flight = FuturesUnordered::new();
    let (mut imported, mut failed, mut bytes) = (0u64, 0u64, 0u64);
    let (mut stopping, mut done_reading) = (false, false);
    let mut load_error = None;
    loop {
        let can_take =
            !done_reading && !stopping && load_error.is_none() && in_flight.len() < concurrency;
        tokio::select! {
            batch = rx.recv(), if can_take => match batch {
                Some(batch) => in_flight.push(load(batch)),
                None => done_reading = true,
            },
            Some((rows, refused, read, result)) = in_flight.next(), if !in_flight.is_empty() => {
                match result {
                    Ok(status) => {
                        stopping |= status == "stopping";
                        imported += rows;
                        failed += refused;
                        bytes = bytes.max(read);
                        progress.advance(bytes, total_bytes, imported, failed);
                    }
                    Err(err) => load_error = load_error.or(Some(OpsError::from(err))),
                }
            },
            else => break,
        }
    }
    // Dropping the receiver ends the reader at its next send.
    drop(rx);
    let read = reader.await.map_err(|e| OpsError::Internal(e.into()))?;
    let total = (imported + failed) as i64;
    let (final_status, error) = match (&load_error, read, stopping) {
        (Some(err), _, _) => ("failed", Some(err.to_string())),
        (None, _, true) => ("stopped", None),
        (None, Err(err), false) => ("failed", Some(format!("{err:#}"))),
        (None, Ok(()), false) => ("finished", None),
    };
    imports::finish_loading(db).await?;
    // Statistics before the run shows as ended: a client that sees it ended may query the
    // new rows, or start the next import, at once.
    let statistics = if imported > 0 {
        crate::db::refresh_statistics(db, &["subscribers", "subscriber_lists"]).await
    } else {
        Ok(())
    };
    imports::finish_run(db, run_id, final_status, total, error.as_deref()).await?;
    statistics?;
    if let Some(err) = load_error {
        return Err(err);
    }
    if let Some(message) = error {
        return Err(OpsError::Invalid(message));
    }
    Ok(ImportSummary {
        run_id,
        status: final_status.to_owned(),
        imported,
        failed,
        elapsed: started.elapsed(),
    })
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
fn read_batches(
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
pub fn parse_delimiter(text: &str) -> OpsResult<Option<u8>> {
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
pub const EXPORT_HEADER: [&str; 7] = [
    "uuid",
    "email",
    "name",
    "attributes",
    "status",
    "created_at",
    "updated_at",
];

/// Writes every subscriber (or a list's) as CSV in the import format, in pages, so memory
/// stays flat. Returns how many rows were written.
pub async fn export_csv<W: std::io::Write>(
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
                .write_record([
                    s.uuid.to_string().as_str(),
                    &formula_quoted(s.email.as_str()),
                    &formula_quoted(s.name.as_str()),
                    &formula_quoted(&s.attribs.to_json_text()),
                    s.status.as_str(),
                    s.created_at.to_string().as_str(),
                    s.updated_at.to_string().as_str(),
                ])
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
}
