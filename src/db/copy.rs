//! Rows in PostgreSQL's binary `COPY` format, the cheapest way into a table: the server
//! stores a page of rows with one WAL record instead of one per row, and reads each value in
//! its binary form without parsing text (JSON apart).
//!
//! Values are encoded by sqlx's own `Encode` implementations, which write the binary forms
//! that `COPY` reads as well; this module adds only the framing the `COPY` reference gives
//! for binary files: a header, then per row a field count and per field a length, then a
//! trailer.

use sqlx::Encode;
use sqlx::Postgres;
use sqlx::encode::IsNull;
use sqlx::postgres::PgArgumentBuffer;

/// The file header: the signature, then no flags and no header extension.
const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The version byte that opens a `JSONB` value in binary form, followed by the JSON text.
const JSONB_VERSION: u8 = 1;

/// A buffer of rows for `COPY … FROM STDIN (FORMAT binary)`.
///
/// Only for values whose sqlx encoding is final when written: numbers, text, UUIDs and
/// times. JSON and arrays are patched by sqlx once a statement's parameter types are known,
/// which never happens here; write JSONB with [`BinaryRows::jsonb`].
pub(super) struct BinaryRows {
    buf: PgArgumentBuffer,
}

impl BinaryRows {
    /// An empty file with room for about `bytes` of rows.
    pub(super) fn with_capacity(bytes: usize) -> Self {
        let mut buf = PgArgumentBuffer::default();
        buf.reserve(bytes + HEADER.len() + 2);
        buf.extend_from_slice(HEADER);
        Self { buf }
    }

    /// Starts a row of `fields` values, which the next as many `field` or `jsonb` calls write.
    pub(super) fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    /// Writes one value of the current row.
    ///
    /// # Errors
    /// When sqlx cannot encode the value, or its encoding passes the 1 GiB a field may hold.
    pub(super) fn field<'q, T: Encode<'q, Postgres>>(
        &mut self,
        value: T,
    ) -> Result<(), sqlx::Error> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        let length = match value.encode(&mut self.buf).map_err(sqlx::Error::Encode)? {
            IsNull::No => i32::try_from(self.buf.len() - start - 4).map_err(|_| {
                sqlx::Error::Encode("a value is too long for a PostgreSQL field".into())
            })?,
            IsNull::Yes => -1,
        };
        self.buf[start..start + 4].copy_from_slice(&length.to_be_bytes());
        Ok(())
    }

    /// Writes one `JSONB` value of the current row from its JSON text.
    ///
    /// # Errors
    /// When the text passes the 1 GiB a field may hold.
    pub(super) fn jsonb(&mut self, json: &str) -> Result<(), sqlx::Error> {
        let length = i32::try_from(json.len() + 1)
            .map_err(|_| sqlx::Error::Encode("a JSON value is too long for PostgreSQL".into()))?;
        self.buf.extend_from_slice(&length.to_be_bytes());
        self.buf.push(JSONB_VERSION);
        self.buf.extend_from_slice(json.as_bytes());
        Ok(())
    }

    /// The whole file, trailer included.
    pub(super) fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1_i16).to_be_bytes());
        std::mem::take(&mut *self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_framed_as_the_copy_reference_describes() {
        let mut rows = BinaryRows::with_capacity(0);
        rows.row(3);
        rows.field(7_i64).unwrap();
        rows.field("ab").unwrap();
        rows.jsonb("{}").unwrap();
        let file = rows.finish();

        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0, 3]);
        expected.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&[0, 0, 0, 2, b'a', b'b']);
        expected.extend_from_slice(&[0, 0, 0, 3, 1, b'{', b'}']);
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(file, expected);
    }

    #[test]
    fn a_missing_value_is_written_as_null() {
        let mut rows = BinaryRows::with_capacity(0);
        rows.row(1);
        rows.field(None::<i64>).unwrap();
        let file = rows.finish();
        assert_eq!(
            &file[HEADER.len()..],
            &[0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }
}
