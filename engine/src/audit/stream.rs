//! A chain's events read in order, a page at a time, beside the caller's
//! task: on SQLite by one `rusqlite` reader per core, each in its own read
//! transaction and hashing its own pages (sqlx's SQLite driver hands every
//! row across threads, ~15 µs a row against ~1.5 µs here); on PostgreSQL
//! as pages of JSON the server builds. Also every event hash of a chain,
//! for Merkle proofs.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::chain::{EventColumns, Link, PAGE_COLUMNS, from_columns, links_of, mark_tree};
use super::event::ChainedEvent;
use super::tree_hash::{Hash, decode_hash};
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
    let Some(file) = store.sqlite_file() else {
        let (tx, rx) = mpsc::channel(2);
        let (store, org) = (store.clone(), org.clone());
        tokio::spawn(async move {
            if let Err(e) = read_postgres(&store, &org, after, &marks, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        return Pages {
            readers: vec![rx],
            next: 0,
        };
    };
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
    let readers = (0..threads)
        .map(|k| {
            // Two pages in flight per reader: one being walked, one read.
            let (tx, rx) = mpsc::channel(2);
            let (file, org, marks) = (file.to_owned(), org.to_string(), marks.clone());
            let k = i64::try_from(k).unwrap_or(0);
            let stride = i64::try_from(threads).unwrap_or(1);
            tokio::task::spawn_blocking(move || {
                let pages = (k..=last_page).step_by(usize::try_from(stride).unwrap_or(1));
                let ranges = pages.map(|j| {
                    let hi = if j == last_page {
                        i64::MAX
                    } else {
                        boundary(j + 1)
                    };
                    (boundary(j), hi)
                });
                let read = super::sqlite::read_pages(&file, &org, ranges, &tx, |page, lo| {
                    mark_tree(page, lo, span, &marks);
                });
                if let Err(e) = read {
                    let _ = tx.blocking_send(Err(e));
                }
            });
            rx
        })
        .collect();
    Pages { readers, next: 0 }
}

async fn read_postgres(
    store: &Store,
    org: &OrgSlug,
    mut after: i64,
    marks: &BTreeSet<i64>,
    tx: &mpsc::Sender<Result<Page>>,
) -> Result<()> {
    let span = i64::try_from(PAGE).unwrap_or(i64::MAX);
    loop {
        let page = fetch_page(store, org, after, PAGE).await?;
        let done = page.len() < PAGE;
        let lo = after;
        after = page.last().map_or(after, |e| e.seq);
        if page.is_empty() {
            return Ok(());
        }
        let links = links_of(page).map(|mut links| {
            mark_tree(&mut links, lo, span, marks);
            links
        });
        if tx.send(links).await.is_err() || done {
            return Ok(());
        }
    }
}

/// The leading columns of a page row; the chain fields follow, nested.
const PAGE_ROW: &str = "seq, at, kind, worker, action, resource, customer, area, document, decision, rules, address, channel, detail";

/// Reads up to `limit` events after `after` as one JSON value built by
/// PostgreSQL: decoding one text is far cheaper than decoding the rows
/// one by one through the `Any` driver.
pub(crate) async fn fetch_page(
    store: &Store,
    org: &OrgSlug,
    after: i64,
    limit: usize,
) -> Result<Vec<ChainedEvent>> {
    let sql = format!(
        "SELECT COALESCE(json_agg(json_build_array({PAGE_ROW}, json_build_array(prev_hash, hash, request_time)) ORDER BY seq), '[]')::text FROM (SELECT {PAGE_COLUMNS} FROM audit_events WHERE org = $1 AND seq > $2 ORDER BY seq LIMIT {limit}) AS page"
    );
    let (text,): (String,) = sqlx::query_as(&sql)
        .bind(org.as_str())
        .bind(after)
        .fetch_one(store.pool())
        .await?;
    let rows: Vec<EventColumns> =
        serde_json::from_str(&text).map_err(|e| Error::corrupt(format!("audit page: {e}")))?;
    rows.into_iter()
        .map(|r| from_columns(org.as_str(), r))
        .collect()
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
