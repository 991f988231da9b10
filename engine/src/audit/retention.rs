//! Retention: old events may be pruned, but only up to a signed
//! checkpoint, so that what remains still verifies from that checkpoint.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::event::micros;
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::store::Store;

/// The shortest retention Custodia accepts: two years.
pub const MIN_RETENTION_DAYS: i64 = 730;

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
    /// Removes events older than `keep_days` (at least two years) up to the
    /// newest signed checkpoint that covers only such events. The
    /// checkpoints stay, so `verify` starts from the anchor.
    pub async fn prune_audit(
        &self,
        org: &OrgSlug,
        keep_days: i64,
        now: DateTime<Utc>,
    ) -> Result<PruneReport> {
        if keep_days < MIN_RETENTION_DAYS {
            return Err(Error::InvalidValue {
                kind: "retention",
                value: format!("{keep_days} days"),
                reason: "must be at least 730 days (two years)",
            });
        }
        let cutoff = micros(now - Duration::days(keep_days));
        let mut tx = self.pool().begin().await?;
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
        let done = sqlx::query("DELETE FROM audit_events WHERE org = $1 AND seq <= $2")
            .bind(org.as_str())
            .bind(anchor)
            .execute(&mut *tx)
            .await?;
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
