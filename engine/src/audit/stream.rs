//! A chain's events read in order, a page at a time, beside the caller's
//! task: on SQLite by one `rusqlite` reader per core, each in its own read
//! transaction and hashing its own pages (sqlx's SQLite driver hands every
//! row across threads, ~15 µs a row against ~1.5 µs here); on PostgreSQL
//! by one connection of the typed driver per core. Also every event hash
//! of a chain, for Merkle proofs.

use std::collections::BTreeSet;
use std::sync::Arc;

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use tokio::sync::mpsc;

use super::chain::{Link, PAGE_COLUMNS, link_of_row, mark_tree, on_all_cores};
use super::copy;
use super::tree_hash::{Hash, decode_hash};
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::store::{PgOptions, Store};

/// Events per page.
pub(crate) const PAGE: usize = 16_384;

/// A page of events in chain order, as links computed by the reader (so
/// that hashing runs on every core).
pub(crate) type Page = Vec<Link>;

/// The pages of a chain, in order, from readers running beside the caller.
#[derive(Debug)]
pub(crate) struct Pages {
    /// Page `j` comes from reader `j % readers.len()`.
    readers: Vec<mpsc::Receiver<Result<Page>>>,
    next: usize,
}

impl Pages {
    /// The next page; `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Page>> {
        let count = self.readers.len();
        let Some(reader) = self.readers.get_mut(self.next % count) else {
            return Ok(None);
        };
        self.next += 1;
        reader.recv().await.transpose()
    }
}

/// Pages of `org`'s events after `after`, in order; `head` is the head
/// sequence read before, which splits the work between readers (events
/// appended beyond it are read too, by the reader of the last page).
/// Pages end at multiples of [`PAGE`], so that each reader can build its
/// pages' Merkle trees ([`mark_tree`], snapshots at the sequences in
/// `marks`). Readers stop when [`Pages`] is dropped; an error is the last
/// item.
pub(crate) fn events_after(
    store: &Store,
    org: &OrgSlug,
    after: i64,
    head: i64,
    marks: Arc<BTreeSet<i64>>,
) -> Pages {
    let span = i64::try_from(PAGE).unwrap_or(i64::MAX);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // Page `j` is (boundary(j), boundary(j + 1)]; the last one runs on.
    let boundary = move |j: i64| {
        if j == 0 {
            after
        } else {
            (after / span + j) * span
        }
    };
    let last_page = ((head - 1) / span - after / span).max(0);
    // On PostgreSQL the server reads while we hash: twice the readers keep
    // both busy.
    let per_core = if store.sqlite_file().is_some() { 1 } else { 2 };
    let stride = i64::try_from(threads * per_core).unwrap_or(1);
    // Reader `k` reads pages k, k + stride, ...
    let ranges = move |k: i64| {
        (k..=last_page)
            .step_by(usize::try_from(stride).unwrap_or(1))
            .map(move |j| {
                let hi = if j == last_page {
                    i64::MAX
                } else {
                    boundary(j + 1)
                };
                (boundary(j), hi)
            })
    };
    let readers = (0..stride)
        .map(|k| {
            // Two pages in flight per reader: one being walked, one read.
            let (tx, rx) = mpsc::channel(2);
            let (org, marks) = (org.to_string(), marks.clone());
            let finish = move |page: &mut [Link], lo: i64| mark_tree(page, lo, span, &marks);
            match (store.sqlite_file(), store.postgres()) {
                (Some(file), _) => {
                    let file = file.to_owned();
                    tokio::task::spawn_blocking(move || {
                        let read = super::sqlite::read_pages(&file, &org, ranges(k), &tx, finish);
                        if let Err(e) = read {
                            let _ = tx.blocking_send(Err(e));
                        }
                    });
                }
                (None, Some(options)) => {
                    let options = options.clone();
                    tokio::spawn(async move {
                        let read = read_postgres(options, &org, ranges(k), &tx, finish).await;
                        if let Err(e) = read {
                            let _ = tx.send(Err(e)).await;
                        }
                    });
                }
                (None, None) => {
                    let _ = tx.try_send(Err(Error::Audit(
                        "the store has no database to read".into(),
                    )));
                }
            }
            rx
        })
        .collect();
    Pages { readers, next: 0 }
}

/// [`super::sqlite::read_pages`] on PostgreSQL, through a connection of
/// the typed driver of its own: each page comes as one binary `COPY` (the
/// `Any` driver decodes a row far more slowly; a page of JSON built by the
/// server took 124 ms for 16,384 events here, 25 ms as rows; sqlx's
/// per-row decoding and per-value type checks were a fifth of the client's
/// time) and is hashed from its own buffer on the blocking pool.
async fn read_postgres(
    options: PgOptions,
    org: &str,
    ranges: impl Iterator<Item = (i64, i64)>,
    tx: &mpsc::Sender<Result<Page>>,
    finish: impl Fn(&mut [Link], i64) + Clone + Send + 'static,
) -> Result<()> {
    let mut conn = PgConnection::connect_with(&options.0).await?;
    for (lo, hi) in ranges {
        // INVARIANT: `COPY` takes no bind parameters, so the page's bounds
        // go into the text: two integers and the organisation as a quoted
        // literal (a slug cannot hold a quote; `literal` doubles any).
        let sql = format!(
            "COPY (SELECT {PAGE_COLUMNS} FROM audit_events WHERE org = {} AND seq > {lo} AND seq <= {hi} ORDER BY seq) TO STDOUT (FORMAT binary)",
            literal(org)
        );
        let mut data = Vec::new();
        let mut chunks = conn.copy_out_raw(&sql).await?;
        while let Some(chunk) = std::future::poll_fn(|cx| chunks.as_mut().poll_next(cx)).await {
            data.extend_from_slice(&chunk?);
        }
        drop(chunks);
        let (org, finish) = (org.to_owned(), finish.clone());
        let page = tokio::task::spawn_blocking(move || {
            let mut links = copy_links(&org, &data)?;
            finish(&mut links, lo);
            Ok(links)
        })
        .await
        .map_err(|e| Error::Audit(format!("hashing an audit page failed: {e}")))?;
        if tx.send(page).await.is_err() {
            return Ok(());
        }
    }
    conn.close().await?;
    Ok(())
}

/// `text` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The columns of a [`PAGE_COLUMNS`] row.
const COLUMNS: usize = 17;

/// The links of a page of `COPY` output, hashed from its own buffer
/// ([`link_of_row`]) on all cores. A value that is not what its column
/// should hold (text not UTF-8, an integer not 8 bytes) is an error.
fn copy_links(org: &str, data: &[u8]) -> Result<Vec<Link>> {
    let rows = copy::rows::<COLUMNS>(data)?;
    on_all_cores(&rows, |row| {
        let text = |i: usize| -> Result<Option<&str>> {
            row[i]
                .clone()
                .map(|r| {
                    std::str::from_utf8(&data[r])
                        .map_err(|_| Error::corrupt(format!("audit column {i} is not UTF-8")))
                })
                .transpose()
        };
        let int = |i: usize| -> Result<Option<i64>> {
            row[i]
                .clone()
                .map(|r| {
                    data[r]
                        .try_into()
                        .map(i64::from_be_bytes)
                        .map_err(|_| Error::corrupt(format!("audit column {i} is not an integer")))
                })
                .transpose()
        };
        let required =
            |i: usize| int(i)?.ok_or_else(|| Error::corrupt(format!("audit column {i} is empty")));
        link_of_row(org, (required(0)?, required(1)?, int(16)?), text)
    })
}

impl Store {
    /// Every event hash of `org`'s chain, in order from the first: the data
    /// of the Merkle leaves. A pruned chain has lost its first ones.
    pub async fn audit_event_hashes(&self, org: &OrgSlug) -> Result<Vec<Hash>> {
        let rows: Vec<(i64, Hash)> = match self.sqlite_file() {
            Some(file) => super::sqlite::event_hashes(file, org.as_str()).await?,
            None => {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT seq, hash FROM audit_events WHERE org = $1 ORDER BY seq",
                )
                .bind(org.as_str())
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|(seq, hash)| Ok((*seq, decode_hash(hash)?)))
                    .collect::<Result<_>>()?
            }
        };
        let first = rows.first().map_or(0, |r| r.0);
        if rows
            .iter()
            .enumerate()
            .any(|(i, (seq, _))| usize::try_from(*seq - 1).ok() != Some(i))
        {
            return Err(Error::Audit(format!(
                "proofs need the chain of `{org}` from its first event; it starts at {first}"
            )));
        }
        Ok(rows.into_iter().map(|(_, hash)| hash).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary `COPY` of `rows` (each column's bytes, `None` for null),
    /// as PostgreSQL writes it.
    fn copy_of(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = copy::Encoder::new();
        for row in rows {
            out.row(i16::try_from(row.len()).unwrap());
            for field in row {
                out.bytes(field.as_deref()).unwrap();
            }
        }
        out.finish()
    }

    fn row(seq: i64) -> Vec<Option<Vec<u8>>> {
        let mut row: Vec<Option<Vec<u8>>> = vec![None; COLUMNS];
        row[0] = Some(seq.to_be_bytes().to_vec());
        row[1] = Some(1_700_000_000_000_000_i64.to_be_bytes().to_vec());
        row[2] = Some(b"decision".to_vec());
        row[3] = Some(b"ana".to_vec());
        row[14] = Some(b"00".repeat(32));
        row[15] = Some(b"ab".repeat(32));
        row
    }

    #[test]
    fn a_page_in_binary_copy_reads_back_as_its_links() {
        let data = copy_of(&[row(1), row(2)]);
        let links = copy_links("bufete-ruiz", &data).unwrap();
        assert_eq!(links.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(links[0].hash, "ab".repeat(32));
        assert!(!links[0].holds, "a made-up hash does not hold");
    }

    #[test]
    fn a_cut_or_malformed_copy_is_an_error_never_fewer_rows() {
        let data = copy_of(&[row(1), row(2)]);
        for cut in [5, 19, data.len() / 2, data.len() - 2] {
            let err = copy::rows::<COLUMNS>(&data[..cut]).unwrap_err();
            assert!(err.to_string().contains("binary COPY"), "{err}");
        }
        let mut short = row(1);
        short.pop();
        let err = copy::rows::<COLUMNS>(&copy_of(&[short])).unwrap_err();
        assert!(err.to_string().contains("16 columns"), "{err}");
        let mut wide_int = row(1);
        wide_int[0] = Some(vec![0; 4]);
        let err = copy_links("bufete-ruiz", &copy_of(&[wide_int])).unwrap_err();
        assert!(err.to_string().contains("not an integer"), "{err}");
        let mut bad_text = row(1);
        bad_text[3] = Some(vec![0xff, 0xfe]);
        let err = copy_links("bufete-ruiz", &copy_of(&[bad_text])).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn a_literal_cannot_end_its_quotes() {
        assert_eq!(literal("bufete-ruiz"), "'bufete-ruiz'");
        assert_eq!(literal("a'b"), "'a''b'");
    }
}
