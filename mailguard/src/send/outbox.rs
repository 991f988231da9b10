//! The outbox: one row per recipient, pending -> sending -> sent | failed
//! | uncertain, or excluded with a reason; claims atomic with the opt-out
//! check, outcomes group-committed.

use chrono::Utc;
use custodia_engine::{OrgSlug, Store};
use serde::Serialize;
use tokio::sync::mpsc;
// Tokio's clock, so the pacing can be tested with paused time.

use crate::error::Result;
use crate::plan::Plan;
use crate::suppression;

/// Whether a campaign's plan is in its outbox already: a resume.
pub(super) async fn written<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    org: &OrgSlug,
    campaign: &str,
) -> Result<bool> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE org = $1 AND campaign = $2")
            .bind(org.as_str())
            .bind(campaign)
            .fetch_one(db)
            .await?;
    Ok(n > 0)
}

/// Writes the plan into the outbox, once. Returns false if it was there.
pub(super) async fn write_outbox(store: &Store, org: &OrgSlug, plan: &Plan) -> Result<bool> {
    let mut tx = store.begin_write().await?;
    if written(&mut *tx, org, &plan.summary.campaign).await? {
        return Ok(false);
    }
    let now = Utc::now().timestamp();
    for (i, r) in plan.recipients.iter().enumerate() {
        let (state, reason) = match r.excluded {
            Some(e) => ("excluded", Some(e.as_str())),
            None => ("pending", None),
        };
        sqlx::query(
            "INSERT INTO outbox (org, campaign, address, position, customer, name, state, reason, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (org, campaign, address) DO NOTHING",
        )
        .bind(org.as_str())
        .bind(&plan.summary.campaign)
        .bind(&r.address)
        .bind(i64::try_from(i).unwrap_or(i64::MAX))
        .bind(r.customer.clone())
        .bind(&r.name)
        .bind(state)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE campaigns SET robinson_downloaded = $3, robinson_entries = $4 WHERE org = $1 AND id = $2",
    )
    .bind(org.as_str())
    .bind(&plan.summary.campaign)
    .bind(plan.summary.robinson.downloaded.to_string())
    .bind(i64::try_from(plan.summary.robinson.entries).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A message claimed for sending.
pub(super) struct Claimed {
    pub(super) address: String,
    pub(super) name: Option<String>,
    pub(super) customer: Option<String>,
}

/// Claims the next `limit` pending messages, in order, atomically with the
/// opt-out check: those suppressed by now are excluded instead. Returns
/// the claimed messages and how many were stopped by an opt-out.
// INVARIANT: a message leaves `pending` for `sending` only here, and only
// if its address is not suppressed when the claim commits (the claim and
// every opt-out begin with `begin_suppressing`); `sending` is committed before
// any SMTP traffic, so a crash can never cause a second copy.
pub(super) async fn claim_batch(
    store: &Store,
    org: &OrgSlug,
    campaign: &str,
    limit: usize,
) -> Result<(Vec<Claimed>, usize)> {
    let last: Option<(i64,)> = sqlx::query_as(
        "SELECT position FROM outbox WHERE org = $1 AND campaign = $2 AND state = 'pending'
         ORDER BY position LIMIT 1 OFFSET $3",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(i64::try_from(limit.saturating_sub(1)).unwrap_or(i64::MAX))
    .fetch_optional(store.pool())
    .await?;
    let last = last.map_or(i64::MAX, |(p,)| p);
    let now = Utc::now().timestamp();
    let mut tx = suppression::begin_suppressing(store, org).await?;
    let stopped = sqlx::query(
        "UPDATE outbox SET state = 'excluded', reason = 'opted out during the campaign', updated_at = $4
         WHERE org = $1 AND campaign = $2 AND state = 'pending' AND position <= $3
           AND (EXISTS (SELECT 1 FROM opt_outs o WHERE o.org = $1 AND o.address = lower(outbox.address))
             OR EXISTS (SELECT 1 FROM customers c WHERE c.org = $1 AND c.id = outbox.customer AND c.opt_out_date IS NOT NULL))",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(last)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let mut rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "UPDATE outbox SET state = 'sending', updated_at = $4
         WHERE org = $1 AND campaign = $2 AND state = 'pending' AND position <= $3
         RETURNING position, address, name, customer",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(last)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.sort_by_key(|r| r.0);
    let claimed = rows
        .into_iter()
        .map(|(_, address, name, customer)| Claimed {
            address,
            name,
            customer,
        })
        .collect();
    Ok((claimed, usize::try_from(stopped).unwrap_or(usize::MAX)))
}

/// Puts claimed messages that never reached SMTP back to `pending`
/// (a pause stops the loop between claim and send).
pub(super) async fn release(
    store: &Store,
    org: &OrgSlug,
    campaign: &str,
    unsent: &[Claimed],
) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    for c in unsent {
        sqlx::query("UPDATE outbox SET state = 'pending' WHERE org = $1 AND campaign = $2 AND address = $3 AND state = 'sending'")
            .bind(org.as_str())
            .bind(campaign)
            .bind(&c.address)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A message's final state, to record.
#[derive(Debug)]
pub(super) struct Mark {
    pub(super) address: String,
    pub(super) state: &'static str,
    pub(super) reason: Option<String>,
    pub(super) message_id: Option<String>,
}

/// Records outcomes as they come, many per transaction (one commit per
/// message would cap a campaign at the disk's commit rate). A message
/// whose mark was not committed before a crash stays `sending` and is
/// reported uncertain by the next run, never resent.
pub(super) fn spawn_recorder(
    store: Store,
    org: OrgSlug,
    campaign: String,
) -> (
    mpsc::UnboundedSender<Mark>,
    tokio::task::JoinHandle<Result<()>>,
) {
    let (sender, mut marks) = mpsc::unbounded_channel::<Mark>();
    let task = tokio::spawn(async move {
        let mut batch = Vec::new();
        while marks.recv_many(&mut batch, 512).await > 0 {
            let mut tx = store.pool().begin().await?;
            let now = Utc::now().timestamp();
            for m in batch.drain(..) {
                sqlx::query("UPDATE outbox SET state = $4, reason = $5, message_id = $6, updated_at = $7 WHERE org = $1 AND campaign = $2 AND address = $3")
                    .bind(org.as_str())
                    .bind(&campaign)
                    .bind(&m.address)
                    .bind(m.state)
                    .bind(m.reason)
                    .bind(m.message_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    });
    (sender, task)
}

/// Marks messages caught mid-send by a crash as uncertain: they may have
/// been delivered, so they are reported and never resent.
pub(super) async fn settle_interrupted(
    store: &Store,
    org: &OrgSlug,
    campaign: &str,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "UPDATE outbox SET state = 'uncertain', reason = 'interrupted while sending: delivery unknown, not resent', updated_at = $3
         WHERE org = $1 AND campaign = $2 AND state = 'sending' RETURNING address",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(Utc::now().timestamp())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(|(a,)| a).collect())
}

pub(super) async fn count_state(
    store: &Store,
    org: &OrgSlug,
    campaign: &str,
    state: &str,
) -> Result<usize> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM outbox WHERE org = $1 AND campaign = $2 AND state = $3",
    )
    .bind(org.as_str())
    .bind(campaign)
    .bind(state)
    .fetch_one(store.pool())
    .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Where every recipient of a campaign stands.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutboxStatus {
    pub campaign: String,
    /// Recipients per state: pending, sending, sent, failed, excluded, uncertain.
    pub states: std::collections::BTreeMap<String, usize>,
    pub uncertain: Vec<String>,
}

/// The outbox of a campaign, summarised.
pub async fn status(store: &Store, org: &OrgSlug, campaign: &str) -> Result<OutboxStatus> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT address, state FROM outbox WHERE org = $1 AND campaign = $2 ORDER BY position",
    )
    .bind(org.as_str())
    .bind(campaign)
    .fetch_all(store.pool())
    .await?;
    let mut status = OutboxStatus {
        campaign: campaign.to_owned(),
        ..OutboxStatus::default()
    };
    for (address, state) in rows {
        if state == "uncertain" {
            status.uncertain.push(address);
        }
        *status.states.entry(state).or_default() += 1;
    }
    Ok(status)
}
