//! A chain's events read in order, a page at a time, beside the caller's
//! task: SQLite through `rusqlite` in one read transaction (sqlx's SQLite
//! driver hands every row across threads, ~15 µs a row against ~1.5 µs
//! here), PostgreSQL as pages of JSON the server builds.

use std::path::Path;

use tokio::sync::mpsc;

use super::event::{Fields, Rules};
use super::verify::{Link, PAGE_COLUMNS, fetch_page, from_columns, links_of};
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::store::Store;

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
/// Readers stop when [`Pages`] is dropped; an error is the last item.
pub(crate) fn events_after(store: &Store, org: &OrgSlug, after: i64, head: i64) -> Pages {
    let Some(file) = store.sqlite_file() else {
        let (tx, rx) = mpsc::channel(2);
        let (store, org) = (store.clone(), org.clone());
        tokio::spawn(async move {
            if let Err(e) = read_postgres(&store, &org, after, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        return Pages {
            readers: vec![rx],
            next: 0,
        };
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let span = i64::try_from(PAGE).unwrap_or(i64::MAX);
    let last_page = (head - after).max(0) / span;
    let readers = (0..threads)
        .map(|k| {
            // Two pages in flight per reader: one being walked, one read.
            let (tx, rx) = mpsc::channel(2);
            let (file, org) = (file.to_owned(), org.to_string());
            let k = i64::try_from(k).unwrap_or(0);
            let stride = i64::try_from(threads).unwrap_or(1);
            tokio::task::spawn_blocking(move || {
                let pages = (k..=last_page).step_by(usize::try_from(stride).unwrap_or(1));
                let ranges = pages.map(|j| {
                    let hi = if j == last_page {
                        i64::MAX
                    } else {
                        after + (j + 1) * span
                    };
                    (after + j * span, hi)
                });
                if let Err(e) = read_sqlite(&file, &org, ranges, &tx) {
                    let _ = tx.blocking_send(Err(e));
                }
            });
            rx
        })
        .collect();
    Pages { readers, next: 0 }
}

/// Opens the store's SQLite file on a connection of the audit log's own.
pub(crate) fn open_sqlite(file: &Path) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Reads through a memory map, not a system call per page.
    conn.execute_batch("PRAGMA mmap_size = 1073741824;")?;
    Ok(conn)
}

/// Reads the pages whose sequence ranges (`lo`, `hi`] are given, in one
/// read transaction, and sends each with its hash checks.
fn read_sqlite(
    file: &Path,
    org: &str,
    ranges: impl Iterator<Item = (i64, i64)>,
    tx: &mpsc::Sender<Result<Page>>,
) -> Result<()> {
    let mut conn = open_sqlite(file)?;
    let snapshot = conn.transaction()?;
    let mut statement = snapshot.prepare(&format!(
        "SELECT {PAGE_COLUMNS} FROM audit_events WHERE org = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq"
    ))?;
    for (lo, hi) in ranges {
        let mut page = Vec::with_capacity(PAGE);
        let mut rows = statement.query(rusqlite::params![org, lo, hi])?;
        while let Some(row) = rows.next()? {
            page.push(link(org, row)?);
        }
        if tx.blocking_send(Ok(page)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The link of a row in [`PAGE_COLUMNS`] order, hashed from the row's own
/// memory (no copy but the two hashes kept).
fn link(org: &str, row: &rusqlite::Row<'_>) -> Result<Link> {
    let text = |i: usize| -> Result<Option<&str>> {
        row.get_ref(i)?
            .as_str_or_null()
            .map_err(|e| Error::corrupt(format!("audit column {i}: {e}")))
    };
    let required = |i: usize| -> Result<&str> {
        text(i)?.ok_or_else(|| Error::corrupt(format!("audit column {i} is empty")))
    };
    let fields = Fields {
        at: row.get(1)?,
        request_time: row.get(16)?,
        kind: required(2)?,
        worker: text(3)?,
        action: text(4)?,
        resource: text(5)?,
        customer: text(6)?,
        area: text(7)?,
        document: text(8)?,
        decision: text(9)?,
        rules: Rules::Stored(text(10)?),
        address: text(11)?,
        channel: text(12)?,
        detail: text(13)?,
    };
    let seq = row.get(0)?;
    Link::new(org, seq, &fields, required(14)?, required(15)?, || {
        Ok(from_columns(org, super::sqlite::columns(row)?)?.event)
    })
}

async fn read_postgres(
    store: &Store,
    org: &OrgSlug,
    mut after: i64,
    tx: &mpsc::Sender<Result<Page>>,
) -> Result<()> {
    loop {
        let page = fetch_page(store, org, after, PAGE).await?;
        let done = page.len() < PAGE;
        after = page.last().map_or(after, |e| e.seq);
        if !page.is_empty() && tx.send(links_of(page)).await.is_err() {
            return Ok(());
        }
        if done {
            return Ok(());
        }
    }
}

/// Every (sequence, hash) of a chain, in order, read on a blocking thread.
pub(crate) async fn event_hashes(
    file: &Path,
    org: &str,
) -> Result<Vec<(i64, super::merkle::Hash)>> {
    let (file, org) = (file.to_owned(), org.to_owned());
    let read = move || -> Result<Vec<(i64, super::merkle::Hash)>> {
        let conn = open_sqlite(&file)?;
        let mut statement =
            conn.prepare("SELECT seq, hash FROM audit_events WHERE org = ?1 ORDER BY seq")?;
        let mut rows = statement.query([&org])?;
        let mut hashes = Vec::new();
        while let Some(row) = rows.next()? {
            let hash = row
                .get_ref(1)?
                .as_str()
                .map_err(|e| Error::corrupt(format!("audit hash: {e}")))?;
            hashes.push((row.get(0)?, super::merkle::decode_hash(hash)?));
        }
        Ok(hashes)
    };
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| Error::Fault(format!("reading the audit hashes: {e}")))?
}
