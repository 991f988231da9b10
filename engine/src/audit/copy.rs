//! PostgreSQL's binary `COPY` format, both ways: the writer sends each
//! batch's rows in it and `verify` reads its pages in it. A signature,
//! flags and a header extension; then per row a field count and per field
//! a length (-1 for null) and its bytes, big-endian; then a count of -1.

use std::ops::Range;

use crate::error::{Error, Result};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

fn bad(what: &str) -> Error {
    Error::Audit(format!("PostgreSQL's binary COPY of audit events: {what}"))
}

/// Rows being written in the binary format.
pub(crate) struct Encoder(Vec<u8>);

impl Encoder {
    /// An empty copy: the header alone.
    pub(crate) fn new() -> Self {
        let mut out = SIGNATURE.to_vec();
        out.extend(0_i32.to_be_bytes());
        out.extend(0_i32.to_be_bytes());
        Self(out)
    }

    /// Starts a row of `fields` fields.
    pub(crate) fn row(&mut self, fields: i16) {
        self.0.extend(fields.to_be_bytes());
    }

    /// A field's bytes as they are, `None` for null.
    pub(crate) fn bytes(&mut self, value: Option<&[u8]>) -> Result<()> {
        let Some(value) = value else {
            self.0.extend((-1_i32).to_be_bytes());
            return Ok(());
        };
        let len = i32::try_from(value.len())
            .map_err(|_| bad(&format!("a field of {} bytes", value.len())))?;
        self.0.extend(len.to_be_bytes());
        self.0.extend_from_slice(value);
        Ok(())
    }

    /// A `text` field.
    pub(crate) fn text(&mut self, value: Option<&str>) -> Result<()> {
        self.bytes(value.map(str::as_bytes))
    }

    /// A `bigint` field.
    pub(crate) fn int(&mut self, value: Option<i64>) -> Result<()> {
        self.bytes(value.map(i64::to_be_bytes).as_ref().map(|b| b.as_slice()))
    }

    /// The whole copy, trailer included.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.0.extend((-1_i16).to_be_bytes());
        self.0
    }
}

/// A row of `N` columns read from a copy: each column's bytes as a range of
/// the copy's buffer, `None` for null.
pub(crate) type Fields<const N: usize> = [Option<Range<usize>>; N];

/// The rows of a copy whose rows all have `N` columns. A copy cut short or
/// malformed is an error, never fewer rows.
pub(crate) fn rows<const N: usize>(data: &[u8]) -> Result<Vec<Fields<N>>> {
    let mut at = 0;
    let mut take = |n: usize| -> Result<Range<usize>> {
        let range = at..at + n;
        if range.end > data.len() {
            return Err(bad("it ends inside a row"));
        }
        at = range.end;
        Ok(range)
    };
    if data.get(take(SIGNATURE.len())?) != Some(SIGNATURE) {
        return Err(bad("no signature"));
    }
    let int = |r: Range<usize>| -> i32 {
        data.get(r)
            .and_then(|b| b.try_into().ok())
            .map_or(-1, i32::from_be_bytes)
    };
    take(4)?;
    let extension =
        usize::try_from(int(take(4)?)).map_err(|_| bad("a negative header extension"))?;
    take(extension)?;
    let mut rows = Vec::new();
    loop {
        let count = data
            .get(take(2)?)
            .and_then(|b| b.try_into().ok())
            .map_or(-1, i16::from_be_bytes);
        if count == -1 {
            return Ok(rows);
        }
        if usize::try_from(count).ok() != Some(N) {
            return Err(bad(&format!("a row of {count} columns, not {N}")));
        }
        let mut row: Fields<N> = [const { None }; N];
        for field in &mut row {
            let len = int(take(4)?);
            *field = match usize::try_from(len) {
                Ok(len) => Some(take(len)?),
                Err(_) if len == -1 => None,
                Err(_) => return Err(bad(&format!("a field of length {len}"))),
            };
        }
        rows.push(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_rows_read_back_with_nulls_kept() {
        let mut copy = Encoder::new();
        for seq in [1, 2] {
            copy.row(3);
            copy.int(Some(seq)).unwrap();
            copy.text(Some("ana")).unwrap();
            copy.text(None).unwrap();
        }
        let data = copy.finish();
        let rows = rows::<3>(&data).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(&data[rows[1][0].clone().unwrap()], 2_i64.to_be_bytes());
        assert_eq!(&data[rows[0][1].clone().unwrap()], b"ana");
        assert!(rows[0][2].is_none(), "a null stays null");
    }

    #[test]
    fn an_empty_copy_is_no_rows() {
        assert!(rows::<3>(&Encoder::new().finish()).unwrap().is_empty());
    }
}
