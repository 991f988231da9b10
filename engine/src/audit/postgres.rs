//! The audit writer's batches on PostgreSQL, through a connection of the
//! typed driver of its own: each chain's rows go in as one binary `COPY`
//! (the `Any` driver has none; unpacking its JSON array cost the server
//! about 5 µs a row: BENCHMARKS.md, "The audit writer at its batch
//! sizes"), in the same transaction as the head it moves and the
//! checkpoints that are due.
//!
//! The head and checkpoint statements are the `Any` path's own text, and
//! `COPY` fills the columns its row insert fills, so both write the same
//! rows.

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Acquire as _, Connection as _, Postgres, Row as _, Transaction};

use super::chain::{
    Batch, CREATE_HEAD, Checked, MOVED_HEADS, PAGE_COLUMNS, Receipt, Row, SELECT_HEAD, Signed,
    Signing, Stamp, Value, Written, chain_rows, columns_of, event_columns, extends_locked,
    from_columns, move_head, stamp, store_checkpoint,
};
use super::checkpoint::{Checkpoint, Signer};
use super::copy::Encoder;
use super::event::{ChainedEvent, GENESIS};
use crate::error::{Error, Result};
use crate::store::PgOptions;

/// Opens the writer's connection.
pub(crate) async fn connect(options: &PgOptions) -> Result<PgConnection> {
    Ok(PgConnection::connect_with(&options.0).await?)
}

/// Writes `batch` and the due checkpoints in one transaction. A chain
/// that does not extend its witnessed checkpoint rolls everything back and
/// comes back as `Ok(Err((org, detail)))`.
pub(crate) async fn write(
    conn: &mut PgConnection,
    batch: Batch,
    now: chrono::DateTime<chrono::Utc>,
    signer: Option<&Signer>,
) -> Result<std::result::Result<Written, (String, String)>> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let mut receipts: Vec<Option<Receipt>> = vec![None; batch.len];
    for (org, indexes, mut events) in batch.chains {
        let head = lock_head(&mut tx, &org).await?;
        stamp(&mut events, Stamp::Now(now));
        let (rows, written) = chain_rows(&org, head, &events);
        insert(&mut tx, &org, &rows).await?;
        for (&i, receipt) in indexes.iter().zip(written) {
            receipts[i] = Some(receipt);
        }
    }
    let signed = match sign(&mut tx, batch.signing, signer, now).await? {
        Ok(signed) => signed,
        Err(refused) => return Ok(Err(refused)),
    };
    tx.commit().await?;
    Ok(Ok(Written { receipts, signed }))
}

/// Signs and stores the checkpoints `signing` asks for, inside `tx`,
/// each chain first checked against its witnessed checkpoint. A chain
/// that does not extend it comes back as `Ok(Err((org, detail)))`.
async fn sign(
    tx: &mut Transaction<'_, Postgres>,
    signing: Signing,
    signer: Option<&Signer>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<std::result::Result<Signed, (String, String)>> {
    let Signing {
        mut to_sign,
        due,
        witnessed,
    } = signing;
    if due {
        // Changes append under the head lock in their own transactions,
        // and other servers append too: sign whatever moved.
        let moved: Vec<(String,)> = sqlx::query_as(MOVED_HEADS).fetch_all(&mut **tx).await?;
        to_sign.extend(moved.into_iter().map(|(org,)| org));
    }
    let mut checkpoints = Vec::new();
    if let Some(signer) = signer {
        for org in &to_sign {
            let checked = match witnessed.get(org) {
                Some((seq, hash)) => {
                    match extends(tx, &signer.verifying_key(), org, *seq, hash).await? {
                        Ok(checked) => Some(checked),
                        Err(detail) => return Ok(Err((org.clone(), detail))),
                    }
                }
                None => None,
            };
            match checkpoint(tx, signer, org, now, checked).await? {
                Ok(cp) => checkpoints.extend(cp),
                Err(detail) => return Ok(Err((org.clone(), detail))),
            }
        }
    }
    Ok(Ok(Signed {
        checkpoints,
        orgs: to_sign,
    }))
}

/// A chain's head, created at the genesis if it has none, locked until
/// the transaction ends.
async fn lock_head(tx: &mut Transaction<'_, Postgres>, org: &str) -> Result<(i64, String)> {
    sqlx::query(CREATE_HEAD)
        .bind(org)
        .bind(GENESIS)
        .execute(&mut **tx)
        .await?;
    let head = sqlx::query_as(&format!("{SELECT_HEAD} FOR UPDATE"))
        .bind(org)
        .fetch_one(&mut **tx)
        .await?;
    Ok(head)
}

/// The columns [`insert`] copies, in its order.
const COPY_IN: &str = concat!(
    "COPY audit_events (org, ",
    event_columns!(),
    ") FROM STDIN (FORMAT binary)"
);

/// Appends `rows` to `org`'s chain and moves its head to the last.
async fn insert(tx: &mut Transaction<'_, Postgres>, org: &str, rows: &[Row<'_>]) -> Result<()> {
    let Some(last) = rows.last() else {
        return Ok(());
    };
    let mut copy = Encoder::new();
    encode(&mut copy, org, rows)?;
    copy_in(tx, copy.finish(), rows.len()).await?;
    move_head::<Postgres>(&mut **tx, org, last.seq, &last.hash).await
}

/// Adds `org`'s `rows` to a binary copy in [`COPY_IN`]'s column order.
pub(crate) fn encode(copy: &mut Encoder, org: &str, rows: &[Row<'_>]) -> Result<()> {
    for row in rows {
        copy.row(18);
        copy.text(Some(org))?;
        for value in row.values() {
            match value {
                Value::Text(text) => copy.text(text.as_deref())?,
                Value::Int(int) => copy.int(int)?,
            }
        }
    }
    Ok(())
}

/// Sends a whole binary copy of `rows` events; the server must take them all.
async fn copy_in(tx: &mut Transaction<'_, Postgres>, data: Vec<u8>, rows: usize) -> Result<()> {
    let conn = tx.acquire().await?;
    let mut sink = conn.copy_in_raw(COPY_IN).await?;
    sink.send(data).await?;
    let copied = sink.finish().await?;
    if usize::try_from(copied).ok() != Some(rows) {
        return Err(Error::Audit(format!(
            "PostgreSQL took {copied} of {rows} audit events"
        )));
    }
    Ok(())
}

/// A batch chained ahead, on the heads the writer expects rather than on
/// heads it read under lock: what [`land`] writes.
pub(crate) struct Ahead {
    /// Every chain's rows, in one binary copy.
    pub copy: Vec<u8>,
    pub rows: usize,
    /// Each chain's head as the batch expects to find it, and where the
    /// batch leaves it.
    pub heads: Vec<HeadMove>,
    /// The checkpoints it signs once its heads are moved.
    pub signing: Signing,
    /// The time its events were stamped with, and its checkpoints get.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A chain's head (sequence, hash) before and after a batch.
pub(crate) struct HeadMove {
    pub org: String,
    pub from: (i64, String),
    pub to: (i64, String),
}

/// How a batch chained ahead ended, when nothing failed.
#[derive(Debug)]
pub(crate) enum Landing {
    /// Committed, with the checkpoints it signed.
    Landed(Signed),
    /// A chain does not extend its witnessed checkpoint (org, detail):
    /// nothing was committed.
    Refused(String, String),
    /// Another appender moved a head first (a change through the pool,
    /// another server), or the batch before it did not commit: nothing of
    /// this batch was committed, and it can be chained again.
    Conflict,
}

/// Waiting longer than this for a head (or a sequence) another
/// transaction holds ends the batch as a [`Landing::Conflict`]. It is
/// below PostgreSQL's `deadlock_timeout` (1 s by default), so that in a
/// deadlock with a change through the pool this batch gives way, not the
/// change.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '300ms'";

/// Writes a batch chained ahead, in one transaction: its rows first, then
/// each head, moved only from where the batch expects it. Rows go in
/// before any head is locked, so that a batch's `COPY` runs while the
/// batch before it still commits; the head update then waits for that
/// commit, and finds the head where it expects only if that batch
/// committed.
// INVARIANT: a batch chained ahead commits only on top of the heads it
// was chained on; otherwise it rolls back whole and is chained again.
pub(crate) async fn land(
    conn: &mut PgConnection,
    ahead: Ahead,
    turn: Turn,
    signer: Option<&Signer>,
) -> Result<Landing> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    sqlx::query(LOCK_TIMEOUT).execute(&mut *tx).await?;
    match land_in(&mut tx, ahead, turn, signer).await {
        Ok(Landing::Landed(signed)) => {
            tx.commit().await?;
            Ok(Landing::Landed(signed))
        }
        Ok(other) => {
            tx.rollback().await?;
            Ok(other)
        }
        Err(Error::Database(sqlx::Error::Database(e))) if conflict(e.code().as_deref()) => {
            tx.rollback().await?;
            Ok(Landing::Conflict)
        }
        Err(e) => Err(e),
    }
}

/// The rows, the heads and the checkpoints of [`land`], not committed.
async fn land_in(
    tx: &mut Transaction<'_, Postgres>,
    ahead: Ahead,
    turn: Turn,
    signer: Option<&Signer>,
) -> Result<Landing> {
    copy_in(tx, ahead.copy, ahead.rows).await?;
    if let Some(after) = turn.after {
        // The batch before gave up its turn without holding its heads:
        // it failed, and this one, chained on it, cannot land.
        if after.await.is_err() {
            return Ok(Landing::Conflict);
        }
    }
    for HeadMove { org, from, to } in &ahead.heads {
        // Locked first, then compared: an `UPDATE … WHERE seq = …` would
        // test the head as its snapshot saw it, before the batch ahead of
        // it committed, and give up without waiting.
        if lock_head(tx, org).await? != *from {
            return Ok(Landing::Conflict);
        }
        move_head::<Postgres>(&mut **tx, org, to.0, &to.1).await?;
    }
    let _ = turn.held.send(());
    Ok(match sign(tx, ahead.signing, signer, ahead.now).await? {
        Ok(signed) => Landing::Landed(signed),
        Err((org, detail)) => Landing::Refused(org, detail),
    })
}

/// A batch's place among the batches chained ahead: its head updates
/// must come after those of the batch before it, or they would find the
/// heads not yet moved and give up.
pub(crate) struct Turn {
    /// Answered once the batch before holds its heads.
    pub after: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Answered once this batch holds its own.
    pub held: tokio::sync::oneshot::Sender<()>,
}

/// Whether a database error means another appender came first: a
/// sequence taken (`23505`), a lock not granted in time (`55P03`), a
/// deadlock (`40P01`).
fn conflict(code: Option<&str>) -> bool {
    matches!(code, Some("23505" | "55P03" | "40P01"))
}

/// [`super::writer::extends`], inside this transaction.
async fn extends(
    tx: &mut Transaction<'_, Postgres>,
    key: &ed25519_dalek::VerifyingKey,
    org: &str,
    seq: i64,
    hash: &str,
) -> Result<std::result::Result<Checked, String>> {
    let head = lock_head(tx, org).await?;
    let events =
        format!("SELECT {PAGE_COLUMNS} FROM audit_events WHERE org = $1 AND seq > $2 ORDER BY seq");
    let decode = |row: &PgRow| event(org, row);
    extends_locked::<Postgres>(&mut **tx, head, key, org, (seq, hash), &events, decode).await
}

/// The event of a row in [`PAGE_COLUMNS`] order.
fn event(org: &str, row: &PgRow) -> Result<ChainedEvent> {
    let numbers = (row.try_get(0)?, row.try_get(1)?, row.try_get(16)?);
    let text = |i: usize| -> Result<Option<&str>> { Ok(row.try_get(i)?) };
    from_columns(org, columns_of(numbers, &text)?)
}

/// Signs and stores a checkpoint of `org`'s head, locked here
/// ([`store_checkpoint`]).
async fn checkpoint(
    tx: &mut Transaction<'_, Postgres>,
    signer: &Signer,
    org: &str,
    now: chrono::DateTime<chrono::Utc>,
    checked: Option<Checked>,
) -> Result<std::result::Result<Option<Checkpoint>, String>> {
    let head = lock_head(tx, org).await?;
    store_checkpoint::<Postgres>(&mut **tx, signer, org, head, now, checked).await
}
