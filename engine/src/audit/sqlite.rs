//! The audit log's SQLite I/O through `rusqlite` connections of its own:
//! the group-commit writer's batches (prepared inserts of many rows each,
//! no rows crossing threads: sqlx's SQLite driver costs ~15 µs a row, and
//! its `Any` driver cannot prepare once and bind many times), the page
//! readers of `verify`, and the event hashes of Merkle proofs.
//!
//! Apart from the inserts, the SQL is the same text the `Any` path runs
//! (`$1`... named parameters, bound by name here); the inserts bind the
//! same [`Row::values`], so both drivers write the same rows.

use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Transaction, TransactionBehavior, named_params};

use super::chain::{
    Batch, CREATE_HEAD, Checked, INSERT_CHECKPOINT, LINKS_AFTER, Link, MOVED_HEADS,
    NEWEST_CHECKPOINT, PAGE_COLUMNS, Receipt, Row, RowNumbers, SELECT_CHECKPOINT, SELECT_HEAD,
    SET_HEAD, Signed, Signing, Stamp, Value, Written, behind, chain_rows, checkpoint_from,
    columns_of, event_columns, extension, from_columns, link_of_row, next_checkpoint, prune_anchor,
    stamp,
};
use super::checkpoint::{Checkpoint, Signer};
use super::event::{ChainedEvent, GENESIS, micros};
use super::lookup;
use super::tree_hash::{Hash, decode_hash};
use crate::error::{Error, Result};
use crate::store::open_sqlite;

/// Opens the writer's connection: durable commits, as the pool's; a 32 MB
/// page cache for the indexes' hot pages (SQLite's 2 MB default re-read
/// them from the OS every batch; a much larger one costs more to reset at
/// each commit than it saves); and WAL checkpoints every 64 MB instead of
/// 4 MB, so that a page every batch touches is copied back once per
/// checkpoint (BENCHMARKS.md).
pub(crate) fn open(file: &Path) -> Result<Connection> {
    let conn = open_sqlite(file)?;
    conn.execute_batch(WRITER_PRAGMAS)?;
    // Room for an insert of every size up to a chunk's, and the rest.
    conn.set_prepared_statement_cache_capacity(ROWS_PER_INSERT + 16);
    Ok(conn)
}

/// The writer connection's settings ([`open`]); public so that the audit
/// bench measures the database's own rate under the same ones.
pub const WRITER_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 16384;";

/// Writes `batch` and the due checkpoints in one transaction. A chain
/// that does not extend its witnessed checkpoint rolls everything back and
/// comes back as `Ok(Err((org, detail)))`.
pub(crate) fn write(
    conn: &mut Connection,
    batch: Batch,
    now: chrono::DateTime<chrono::Utc>,
    signer: Option<&Signer>,
) -> Result<std::result::Result<Written, (String, String)>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut receipts: Vec<Option<Receipt>> = vec![None; batch.len];
    for (org, indexes, mut events) in batch.chains {
        let head = lock_head(&tx, &org)?;
        stamp(&mut events, Stamp::Now(now));
        let (rows, written) = chain_rows(&org, head, &events);
        insert(&tx, &org, &rows)?;
        for (&i, receipt) in indexes.iter().zip(written) {
            receipts[i] = Some(receipt);
        }
    }
    let Signing {
        mut to_sign,
        due,
        witnessed,
    } = batch.signing;
    if due {
        let mut statement = tx.prepare_cached(MOVED_HEADS)?;
        let moved = statement.query_map([], |r| r.get::<_, String>(0))?;
        for org in moved {
            to_sign.insert(org?);
        }
    }
    let mut signed = Vec::new();
    if let Some(signer) = signer {
        for org in &to_sign {
            let checked = match witnessed.get(org) {
                Some((seq, hash)) => {
                    match extends(&tx, &signer.verifying_key(), org, *seq, hash)? {
                        Ok(checked) => Some(checked),
                        Err(detail) => return Ok(Err((org.clone(), detail))),
                    }
                }
                None => None,
            };
            match checkpoint(&tx, signer, org, now, checked)? {
                Ok(cp) => signed.extend(cp),
                Err(detail) => return Ok(Err((org.clone(), detail))),
            }
        }
    }
    tx.commit()?;
    let signed = Signed {
        checkpoints: signed,
        orgs: to_sign,
    };
    Ok(Ok(Written { receipts, signed }))
}

/// A chain's head, created at the genesis if it has none. (The
/// transaction is `IMMEDIATE`: it holds the write lock already.)
fn lock_head(tx: &Transaction<'_>, org: &str) -> Result<(i64, String)> {
    tx.prepare_cached(CREATE_HEAD)?
        .execute(named_params! {"$1": org, "$2": GENESIS})?;
    let head = tx
        .prepare_cached(SELECT_HEAD)?
        .query_row(named_params! {"$1": org}, |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(head)
}

/// How many rows one insert statement writes: one run of a statement
/// (its program started, its cursors opened) then serves this many rows,
/// not one (BENCHMARKS.md, "The worker index too, and 32 rows per
/// insert").
const ROWS_PER_INSERT: usize = 32;

/// `INSERTS[n - 1]` inserts `n` rows, each `org` and its
/// [`Row::values`], bound in that order.
static INSERTS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let row = format!("({})", ["?"; 18].join(", "));
    (1..=ROWS_PER_INSERT)
        .map(|n| {
            format!(
                "INSERT INTO audit_events (org, {}) VALUES {}",
                event_columns!(),
                vec![row.as_str(); n].join(", ")
            )
        })
        .collect()
});

/// Appends `rows` to `org`'s chain and moves its head to the last,
/// bringing its lookup entries up when that is due (as
/// [`super::writer::append_locked`] does on the sqlx drivers).
fn insert(tx: &Transaction<'_>, org: &str, rows: &[Row<'_>]) -> Result<()> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(());
    };
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values = chunk
            .iter()
            .flat_map(|row| std::iter::once(Value::Text(Some(org.into()))).chain(row.values()));
        tx.prepare_cached(&INSERTS[chunk.len() - 1])?
            .execute(rusqlite::params_from_iter(values))?;
    }
    tx.prepare_cached(SET_HEAD)?
        .execute(named_params! {"$1": org, "$2": last.seq, "$3": last.hash})?;
    if lookup::due(first.seq - 1, last.seq) {
        for statement in lookup::CATCH_UP_TO.iter() {
            tx.prepare_cached(statement)?
                .execute(named_params! {"$1": org, "$2": last.seq})?;
        }
    }
    Ok(())
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Text(Some(text)) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Int(Some(int)) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*int)),
            Value::Text(None) | Value::Int(None) => {
                ToSqlOutput::Owned(rusqlite::types::Value::Null)
            }
        })
    }
}

/// [`super::writer::extends`], inside this transaction.
fn extends(
    tx: &Transaction<'_>,
    key: &ed25519_dalek::VerifyingKey,
    org: &str,
    seq: i64,
    hash: &str,
) -> Result<std::result::Result<Checked, String>> {
    let head = lock_head(tx, org)?;
    if head.0 < seq {
        return Ok(Err(behind(head.0, seq)));
    }
    let events = events_after(tx, org, seq)?;
    let anchor = match prune_anchor(&events, seq) {
        Some(at) => one_checkpoint(tx, SELECT_CHECKPOINT, org, at)?,
        None => None,
    };
    Ok(extension(key, seq, hash, &head, &events, anchor.as_ref())
        .map(|()| Checked::of(seq, events)))
}

/// A chain's events after `seq`, in order.
fn events_after(tx: &Transaction<'_>, org: &str, seq: i64) -> Result<Vec<ChainedEvent>> {
    let mut statement = tx.prepare_cached(&format!(
        "SELECT {PAGE_COLUMNS} FROM audit_events WHERE org = ?1 AND seq > ?2 ORDER BY seq"
    ))?;
    let mut rows = statement.query(rusqlite::params![org, seq])?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        events.push(from_columns(org, columns_of(numbers(row)?, &text(row))?)?);
    }
    Ok(events)
}

/// The integer columns of a row in [`PAGE_COLUMNS`] order.
fn numbers(row: &rusqlite::Row<'_>) -> Result<RowNumbers> {
    Ok((row.get(0)?, row.get(1)?, row.get(16)?))
}

/// Text column `i` of a row, borrowed from the row (none for null).
fn text<'r>(row: &'r rusqlite::Row<'_>) -> impl Fn(usize) -> Result<Option<&'r str>> {
    move |i| {
        row.get_ref(i)?
            .as_str_or_null()
            .map_err(|e| Error::corrupt(format!("audit column {i}: {e}")))
    }
}

/// The checkpoint of `org` that `sql` selects with `seq` as `$2`:
/// [`SELECT_CHECKPOINT`] (at `seq`) or [`NEWEST_CHECKPOINT`] (at or before).
fn one_checkpoint(
    tx: &Transaction<'_>,
    sql: &str,
    org: &str,
    seq: i64,
) -> Result<Option<Checkpoint>> {
    let mut statement = tx.prepare_cached(sql)?;
    let mut rows = statement.query(named_params! {"$1": org, "$2": seq})?;
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let row = (
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    );
    Ok(Some(checkpoint_from(org, row)?))
}

/// Signs and stores a checkpoint of `org`'s head (none for an empty
/// chain), its tree grown from the links `checked` holds when they start at
/// the newest checkpoint, else from the stored ones; `Ok(Err(detail))`
/// when its tree cannot be grown from a signed one (see
/// [`super::chain::next_checkpoint`]).
fn checkpoint(
    tx: &Transaction<'_>,
    signer: &Signer,
    org: &str,
    now: chrono::DateTime<chrono::Utc>,
    checked: Option<Checked>,
) -> Result<std::result::Result<Option<Checkpoint>, String>> {
    let (seq, hash) = lock_head(tx, org)?;
    if seq == 0 {
        return Ok(Ok(None));
    }
    let base = one_checkpoint(tx, NEWEST_CHECKPOINT, org, seq)?;
    let after = base.as_ref().map_or(0, |cp| cp.seq);
    let links = match Checked::links_after(checked, after) {
        Some(links) => links,
        None => tx
            .prepare_cached(LINKS_AFTER)?
            .query_map(named_params! {"$1": org, "$2": after}, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    let cp = match next_checkpoint(signer, org, base.as_ref(), links, (seq, &hash), now) {
        Ok(Some(cp)) => cp,
        other => return Ok(other),
    };
    tx.prepare_cached(INSERT_CHECKPOINT)?
        .execute(named_params! {
            "$1": org,
            "$2": cp.seq,
            "$3": cp.head_hash,
            "$4": micros(cp.at),
            "$5": cp.public_key,
            "$6": cp.signature,
            "$7": cp.root,
            "$8": cp.note,
            "$9": cp.edge_text(),
        })?;
    Ok(Ok(Some(cp)))
}

/// Reads the pages whose sequence ranges (`lo`, `hi`] are given, in one
/// read transaction, and sends each with its hash checks, after `finish`
/// (given the page and its `lo`) is done with it.
pub(crate) fn read_pages(
    file: &Path,
    org: &str,
    ranges: impl Iterator<Item = (i64, i64)>,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<Link>>>,
    finish: impl Fn(&mut [Link], i64),
) -> Result<()> {
    let mut conn = open_sqlite(file)?;
    let snapshot = conn.transaction()?;
    let mut statement = snapshot.prepare(&format!(
        "SELECT {PAGE_COLUMNS} FROM audit_events WHERE org = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq"
    ))?;
    for (lo, hi) in ranges {
        let mut page = Vec::new();
        let mut rows = statement.query(rusqlite::params![org, lo, hi])?;
        while let Some(row) = rows.next()? {
            page.push(link(org, row)?);
        }
        finish(&mut page, lo);
        if tx.blocking_send(Ok(page)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The link of a row in [`PAGE_COLUMNS`] order ([`link_of_row`]).
fn link(org: &str, row: &rusqlite::Row<'_>) -> Result<Link> {
    link_of_row(org, numbers(row)?, text(row))
}

/// Every (sequence, hash) of a chain, in order, read on a blocking thread.
pub(crate) async fn event_hashes(file: &Path, org: &str) -> Result<Vec<(i64, Hash)>> {
    let (file, org) = (file.to_owned(), org.to_owned());
    let read = move || -> Result<Vec<(i64, Hash)>> {
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
            hashes.push((row.get(0)?, decode_hash(hash)?));
        }
        Ok(hashes)
    };
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| Error::Audit(format!("reading the audit hashes stopped: {e}")))?
}
