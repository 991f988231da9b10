//! A chain's events read in order, a page at a time, beside the caller's
//! task: on SQLite by one `rusqlite` reader per core, each in its own read
//! transaction and hashing its own pages (sqlx's SQLite driver hands every
//! row across threads, ~15 µs a row against ~1.5 µs here); on PostgreSQL
//! by one connection of the typed driver per core. Also every event hash
//! of a chain, for Merkle proofs.

use std::collections::BTreeSet;
use std::sync::Arc;

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Connection as _, Row as _};
use tokio::sync::mpsc;

use super::chain::{Link, PAGE_COLUMNS, link_of_row, mark_tree, on_all_cores};
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
/// the typed driver of its own (the `Any` driver decodes a row far more
/// slowly, and a page of JSON built by the server took 124 ms for 16,384
/// events here, against 25 ms for the rows): each page's rows are hashed
/// from their own buffers on the blocking pool.
async fn read_postgres(
    options: PgOptions,
    org: &str,
    ranges: impl Iterator<Item = (i64, i64)>,
    tx: &mpsc::Sender<Result<Page>>,
    finish: impl Fn(&mut [Link], i64) + Clone + Send + 'static,
) -> Result<()> {
    let mut conn = PgConnection::connect_with(&options.0).await?;
    let sql = format!(
        "SELECT {PAGE_COLUMNS} FROM audit_events WHERE org = $1 AND seq > $2 AND seq <= $3 ORDER BY seq"
    );
    for (lo, hi) in ranges {
        let rows = sqlx::query(&sql)
            .bind(org)
            .bind(lo)
            .bind(hi)
            .fetch_all(&mut conn)
            .await?;
        let (org, finish) = (org.to_owned(), finish.clone());
        let page = tokio::task::spawn_blocking(move || {
            let mut links = pg_links(&org, &rows)?;
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

/// The links of a page of rows from the typed driver, hashed from the
/// rows' own buffers ([`link_of_row`]) on all cores.
fn pg_links(org: &str, rows: &[PgRow]) -> Result<Vec<Link>> {
    on_all_cores(rows, |row| {
        let text = |i: usize| -> Result<Option<&str>> { Ok(row.try_get(i)?) };
        let numbers = (row.try_get(0)?, row.try_get(1)?, row.try_get(16)?);
        link_of_row(org, numbers, text)
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
