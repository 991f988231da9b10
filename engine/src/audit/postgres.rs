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
    Batch, CREATE_HEAD, MOVED_HEADS, PAGE_COLUMNS, Receipt, Row, SELECT_HEAD, Stamp, Value,
    Written, chain_rows, columns_of, event_columns, extends_locked, from_columns, move_head, stamp,
    store_checkpoint,
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
    let mut to_sign = batch.to_sign;
    if batch.due {
        // Changes append under the head lock in their own transactions,
        // and other servers append too: sign whatever moved.
        let moved: Vec<(String,)> = sqlx::query_as(MOVED_HEADS).fetch_all(&mut *tx).await?;
        to_sign.extend(moved.into_iter().map(|(org,)| org));
    }
    let mut signed = Vec::new();
    if let Some(signer) = signer {
        for org in &to_sign {
            if let Some((seq, hash)) = batch.witnessed.get(org) {
                if let Err(detail) =
                    extends(&mut tx, &signer.verifying_key(), org, *seq, hash).await?
                {
                    return Ok(Err((org.clone(), detail)));
                }
            }
            match checkpoint(&mut tx, signer, org, now).await? {
                Ok(cp) => signed.extend(cp),
                Err(detail) => return Ok(Err((org.clone(), detail))),
            }
        }
    }
    tx.commit().await?;
    Ok(Ok(Written {
        receipts,
        signed,
        signed_orgs: to_sign,
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
    let conn = tx.acquire().await?;
    let mut sink = conn.copy_in_raw(COPY_IN).await?;
    sink.send(copy.finish()).await?;
    let copied = sink.finish().await?;
    if usize::try_from(copied).ok() != Some(rows.len()) {
        return Err(Error::Audit(format!(
            "PostgreSQL took {copied} of {} audit events",
            rows.len()
        )));
    }
    move_head::<Postgres>(&mut **tx, org, last.seq, &last.hash).await
}

/// [`super::writer::extends`], inside this transaction.
async fn extends(
    tx: &mut Transaction<'_, Postgres>,
    key: &ed25519_dalek::VerifyingKey,
    org: &str,
    seq: i64,
    hash: &str,
) -> Result<std::result::Result<(), String>> {
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
) -> Result<std::result::Result<Option<Checkpoint>, String>> {
    let head = lock_head(tx, org).await?;
    store_checkpoint::<Postgres>(&mut **tx, signer, org, head, now).await
}
