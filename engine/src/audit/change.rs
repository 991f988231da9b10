//! A change to the store and the audit events that record it, committed
//! in one transaction.
//!
//! Administrative changes (imports, register entries, unlocks, logins,
//! opt-outs) are rare next to decisions, so instead of queueing behind the
//! group-commit writer they take the chain head's lock in their own
//! transaction: the data rows, the events and the new head commit together
//! or not at all, and a crash at any point leaves both or neither. The
//! writer's next checkpoint covers them: it signs every chain whose head
//! moved past its last checkpoint, whoever moved it.

use sqlx::{Any, Transaction};

use super::chain::{Receipt, Stamp};
use super::event::AuditEvent;
use super::writer::append_locked;
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::fault;
use crate::store::{Backend, Store};

/// A write transaction on one organisation that can only commit together
/// with at least one audit event. Dropping it rolls everything back.
#[derive(Debug)]
pub struct Change {
    tx: Transaction<'static, Any>,
    backend: Backend,
    org: OrgSlug,
    events: Vec<AuditEvent>,
}

impl Change {
    /// Begins a write transaction for `org`.
    pub async fn begin(store: &Store, org: &OrgSlug) -> Result<Self> {
        let tx = store.begin_write().await?;
        Ok(Self::wrap(tx, store.backend(), org))
    }

    /// Adopts a write transaction begun elsewhere (the mail guard begins
    /// its own, under its opt-out lock).
    pub fn wrap(tx: Transaction<'static, Any>, backend: Backend, org: &OrgSlug) -> Self {
        Self {
            tx,
            backend,
            org: org.clone(),
            events: Vec::new(),
        }
    }

    /// The organisation this change belongs to.
    pub fn org(&self) -> &OrgSlug {
        &self.org
    }

    /// The transaction, to write the change's rows in.
    pub fn tx(&mut self) -> &mut Transaction<'static, Any> {
        &mut self.tx
    }

    /// Adds an event to commit with the change.
    pub fn record(&mut self, event: AuditEvent) {
        self.events.push(event);
    }

    /// Appends the events to the chain in this transaction and commits.
    /// Returns their receipts once both the change and its events are
    /// durable; on any error nothing was committed.
    // INVARIANT: a change commits only here, and only with its events,
    // chained under the head lock of the same transaction.
    pub async fn commit(mut self) -> Result<Vec<Receipt>> {
        if self.events.is_empty() {
            return Err(Error::Audit(format!(
                "a change to `{}` has no audit event, so it is not committed",
                self.org
            )));
        }
        fault::point(fault::BEFORE_AUDIT)?;
        let receipts = append_locked(
            &mut self.tx,
            self.backend,
            self.org.as_str(),
            &mut self.events,
            Stamp::Now(chrono::Utc::now()),
        )
        .await?;
        fault::point(fault::BEFORE_COMMIT)?;
        self.tx.commit().await?;
        let seqs: Vec<i64> = receipts.iter().map(|r| r.seq).collect();
        tracing::debug!(org = %self.org, ?seqs, "change committed with its audit events");
        Ok(receipts)
    }
}
