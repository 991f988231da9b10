//! What the audit writer ([`super::writer`]) answers its callers, and
//! its batches in flight: a batch chained ahead on PostgreSQL is landed by
//! a task of its own ([`fly`]) while the writer chains the next, and gives
//! back its connection and what is left to do.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::chain::Receipt;
use super::checkpoint::{Checkpoint, Signer};
use super::event::AuditEvent;
use super::postgres;
use crate::error::Error;

/// What the writer tells a caller: an audit error's own message (the
/// caller wraps it in [`Error::Audit`] again), anything else in full.
pub(super) fn message(e: &Error) -> String {
    match e {
        Error::Audit(message) => message.clone(),
        other => other.to_string(),
    }
}

/// Where a caller learns that its event is durable, or why not.
pub(super) type Ack = oneshot::Sender<Result<Receipt, String>>;

/// One chain's events of a batch, in order, with their callers.
pub(super) struct Chain {
    pub(super) org: String,
    pub(super) events: Vec<AuditEvent>,
    pub(super) acks: Vec<Ack>,
}

/// A batch chained ahead ([`postgres::land`]), on its way to PostgreSQL
/// while the writer gathers and chains the next.
pub(super) struct Flight {
    pub(super) task: tokio::task::JoinHandle<Landed>,
    /// Answered once the batch holds its heads: the batch after it may
    /// then move them on from where this one leaves them. Taken by that
    /// batch.
    pub(super) holds_heads: Option<oneshot::Receiver<()>>,
}

/// What a flight gives back: its connection (none after a failure) and
/// what is left to do.
pub(super) struct Landed {
    pub(super) conn: Option<sqlx::postgres::PgConnection>,
    pub(super) outcome: Outcome,
}

/// What is left to do once a flight landed.
pub(super) enum Outcome {
    /// Nothing: its callers have their answers.
    Done,
    /// Committed with checkpoints: answered once they are witnessed.
    Signed(Vec<Checkpoint>, Vec<Chain>, Vec<Vec<Receipt>>),
    /// Another appender came first: chain them again.
    Again(Vec<Chain>),
    /// A chain does not extend its witnessed checkpoint (org, detail);
    /// nothing was committed.
    Refused(String, String, Vec<Chain>),
}

/// Lands a batch chained ahead on `conn` and answers its callers, unless
/// it must be chained again.
pub(super) async fn fly(
    mut conn: sqlx::postgres::PgConnection,
    ahead: postgres::Ahead,
    turn: postgres::Turn,
    signer: Option<Arc<Signer>>,
    chains: Vec<Chain>,
    receipts: Vec<Vec<Receipt>>,
) -> Landed {
    let outcome = match postgres::land(&mut conn, ahead, turn, signer.as_deref()).await {
        Ok(postgres::Landing::Landed(signed)) if signed.checkpoints.is_empty() => {
            durable(chains, receipts);
            Outcome::Done
        }
        Ok(postgres::Landing::Landed(signed)) => {
            Outcome::Signed(signed.checkpoints, chains, receipts)
        }
        Ok(postgres::Landing::Conflict) => Outcome::Again(chains),
        Ok(postgres::Landing::Refused(org, detail)) => Outcome::Refused(org, detail, chains),
        Err(e) => {
            // The connection is dropped: a transaction that failed leaves
            // it in a state not worth trusting.
            fail(chains, &e);
            return Landed {
                conn: None,
                outcome: Outcome::Done,
            };
        }
    };
    Landed {
        conn: Some(conn),
        outcome,
    }
}

/// Tells every caller of `chains` its event is durable, with its receipt.
pub(super) fn durable(chains: Vec<Chain>, receipts: Vec<Vec<Receipt>>) {
    for (chain, receipts) in chains.into_iter().zip(receipts) {
        for (ack, receipt) in chain.acks.into_iter().zip(receipts) {
            let _ = ack.send(Ok(receipt));
        }
    }
}

/// Tells every caller of `chains` that its event was not written.
pub(super) fn fail(chains: Vec<Chain>, e: &Error) {
    refuse(chains.into_iter().flat_map(|c| c.acks), e);
}

/// Tells every caller of a batch that failed why; none is told "durable".
pub(super) fn refuse(acks: impl IntoIterator<Item = Ack>, e: &Error) -> String {
    let message = message(e);
    tracing::error!(error = %message, "audit batch failed");
    for ack in acks {
        let _ = ack.send(Err(message.clone()));
    }
    message
}
