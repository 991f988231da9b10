//! Retention: old events may be pruned, but only up to a signed
//! checkpoint, so that what remains still verifies from that checkpoint.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::chain::Stamp;
use super::event::{AuditEvent, EventKind, MIN_RETENTION_DAYS, PruneRecord, micros};
use super::lookup;
use super::writer::append_locked;
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::store::Store;

/// What a prune removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub org: String,
    /// Events up to and including this sequence were removed; the signed
    /// checkpoint at this sequence anchors the chain from now on.
    pub anchor_seq: i64,
    pub removed: u64,
}

impl Store {
    /// Removes events older than `keep_days` (at least two years) at `now`
    /// up to the newest signed checkpoint that covers only such events, and
    /// records it as a prune event in the same transaction. The anchor
    /// checkpoint stays, so `verify` starts from it; the event, stamped
    /// with the writer's clock whatever `now` says, lets `verify` check
    /// that the removed events were old enough.
    pub async fn prune_audit(
        &self,
        org: &OrgSlug,
        keep_days: i64,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<PruneReport> {
        if keep_days < MIN_RETENTION_DAYS {
            return Err(Error::InvalidValue {
                kind: "retention",
                value: format!("{keep_days} days"),
                reason: "must be at least 730 days (two years)",
            });
        }
        let cutoff = micros(now - Duration::days(keep_days));
        let mut tx = self.begin_write().await?;
        // The last event older than the cutoff...
        let (last_old,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(seq) FROM audit_events WHERE org = $1 AND at < $2")
                .bind(org.as_str())
                .bind(cutoff)
                .fetch_one(&mut *tx)
                .await?;
        // ...and the newest checkpoint at or before it.
        let (anchor,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(seq) FROM audit_checkpoints WHERE org = $1 AND seq <= $2")
                .bind(org.as_str())
                .bind(last_old.unwrap_or(0))
                .fetch_one(&mut *tx)
                .await?;
        let Some(anchor) = anchor else {
            return Ok(PruneReport {
                org: org.to_string(),
                anchor_seq: 0,
                removed: 0,
            });
        };
        let (last_removed_at,): (i64,) =
            sqlx::query_as("SELECT at FROM audit_events WHERE org = $1 AND seq = $2")
                .bind(org.as_str())
                .bind(anchor)
                .fetch_one(&mut *tx)
                .await?;
        let record = PruneRecord {
            removed_to: anchor,
            last_removed_at: DateTime::from_timestamp_micros(last_removed_at)
                .ok_or_else(|| Error::corrupt(format!("audit time {last_removed_at}")))?,
            keep_days,
            reason: reason.to_owned(),
        };
        let mut event = AuditEvent::new(EventKind::Prune, Utc::now());
        event.detail = Some(
            serde_json::to_string(&record)
                .map_err(|e| Error::Audit(format!("cannot encode a prune record: {e}")))?,
        );
        // INVARIANT: the removal and its record commit together.
        append_locked(
            &mut tx,
            self.backend(),
            org.as_str(),
            &mut [event],
            Stamp::Now(Utc::now()),
        )
        .await?;
        let done = sqlx::query("DELETE FROM audit_events WHERE org = $1 AND seq <= $2")
            .bind(org.as_str())
            .bind(anchor)
            .execute(&mut *tx)
            .await?;
        if lookup::kept_apart(self.backend()) {
            lookup::prune(&mut tx, org.as_str(), anchor).await?;
        }
        // Checkpoints before the anchor certify nothing that remains.
        sqlx::query("DELETE FROM audit_checkpoints WHERE org = $1 AND seq < $2")
            .bind(org.as_str())
            .bind(anchor)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(PruneReport {
            org: org.to_string(),
            anchor_seq: anchor,
            removed: done.rows_affected(),
        })
    }
}
