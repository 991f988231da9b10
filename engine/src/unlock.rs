//! Unlocking password-closed areas: argon2 verification, rate limiting,
//! and unlocks that expire.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use crate::audit::{AuditEvent, Change, EventKind};
use crate::domain::{AreaName, CustomerId, WorkerLogin};
use crate::error::{Error, Result};
use crate::store::{Bind, OrgStore};

/// How long an unlock lasts.
pub const UNLOCK_TTL: Duration = Duration::minutes(15);
/// Failed attempts allowed per worker and area within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: i64 = 5;
/// The window failed attempts are counted in.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);

/// The result of an unlock attempt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum UnlockOutcome {
    Unlocked { expires_at: DateTime<Utc> },
    WrongPassword { attempts_left: i64 },
    RateLimited { retry_after: DateTime<Utc> },
}

impl OrgStore {
    /// The areas of `customer` that `worker` has unlocked and that are still open at `now`.
    pub async fn active_unlocks(
        &self,
        worker: &WorkerLogin,
        customer: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<BTreeSet<AreaName>> {
        let binds = [
            Bind::Text(self.slug().as_str()),
            Bind::Text(worker.as_str()),
            Bind::Text(customer.as_str()),
            Bind::Int(now.timestamp()),
        ];
        let areas = self
            .store()
            .fetch(
                "SELECT area FROM area_unlocks WHERE org = $1 AND worker = $2 AND customer = $3 AND unlocked_at <= $4 AND expires_at > $4",
                &binds,
                |row| AreaName::new(row.text("area")?),
            )
            .await?;
        Ok(areas.into_iter().collect())
    }

    /// Checks `password` against the area's argon2id hash. Whether the
    /// worker may try at all is the rules' business (`unlock` action);
    /// this enforces the rate limit and records the unlock or the failure
    /// together with its audit event.
    pub async fn unlock_area(
        &self,
        attempt: &UnlockAttempt<'_>,
        password: &str,
    ) -> Result<UnlockOutcome> {
        let (worker, customer, area) = (attempt.worker, attempt.customer, attempt.area);
        let record = self.customer(customer).await?;
        let hash = record
            .area(area)
            .ok_or_else(|| Error::NotFound {
                org: self.slug().to_string(),
                kind: "area",
                id: format!("{customer}/{area}"),
            })?
            .password_hash
            .clone()
            .ok_or_else(|| Error::InvalidValue {
                kind: "area",
                value: format!("{customer}/{area}"),
                reason: "is not closed by a password",
            })?;
        // argon2 is CPU-heavy: keep it off the async workers, and outside
        // the write transaction, which would hold the chain head meanwhile.
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || hash.verify(&password))
            .await
            .map_err(|e| Error::Password(e.to_string()))?;
        let now = chrono::Utc::now();
        let mut change = Change::begin(self.store(), self.slug()).await?;
        // INVARIANT: failures are counted inside the write transaction that
        // records this attempt, so parallel guesses each see the others.
        let since = now - FAILURE_WINDOW;
        let failures: Vec<(i64,)> = sqlx::query_as(
            "SELECT at FROM unlock_failures WHERE org = $1 AND worker = $2 AND customer = $3 AND area = $4 AND at > $5 ORDER BY at",
        )
        .bind(self.slug().as_str())
        .bind(worker.as_str())
        .bind(customer.as_str())
        .bind(area.as_str())
        .bind(since.timestamp())
        .fetch_all(&mut **change.tx())
        .await?;
        let count = i64::try_from(failures.len()).unwrap_or(i64::MAX);
        let outcome = if count >= MAX_FAILURES {
            // A right password during the lock-out does not open the area.
            let oldest = failures.first().map_or(now.timestamp(), |(at,)| *at);
            let retry_after = DateTime::from_timestamp(oldest, 0).unwrap_or(now) + FAILURE_WINDOW;
            UnlockOutcome::RateLimited { retry_after }
        } else if ok {
            sqlx::query("INSERT INTO area_unlocks (org, worker, customer, area, unlocked_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(self.slug().as_str())
                .bind(worker.as_str())
                .bind(customer.as_str())
                .bind(area.as_str())
                .bind(now.timestamp())
                .bind((now + UNLOCK_TTL).timestamp())
                .execute(&mut **change.tx())
                .await?;
            UnlockOutcome::Unlocked {
                expires_at: now + UNLOCK_TTL,
            }
        } else {
            sqlx::query("INSERT INTO unlock_failures (org, worker, customer, area, at) VALUES ($1, $2, $3, $4, $5)")
                .bind(self.slug().as_str())
                .bind(worker.as_str())
                .bind(customer.as_str())
                .bind(area.as_str())
                .bind(now.timestamp())
                .execute(&mut **change.tx())
                .await?;
            UnlockOutcome::WrongPassword {
                attempts_left: MAX_FAILURES - count - 1,
            }
        };
        change.record(attempt.event(&outcome));
        change.commit().await?;
        Ok(outcome)
    }
}

/// Who tries to unlock which area, and through which channel.
#[derive(Debug, Clone)]
pub struct UnlockAttempt<'a> {
    pub worker: &'a WorkerLogin,
    pub customer: &'a CustomerId,
    pub area: &'a AreaName,
    pub channel: &'a str,
    pub address: Option<&'a str>,
}

impl UnlockAttempt<'_> {
    fn event(&self, outcome: &UnlockOutcome) -> AuditEvent {
        let kind = if matches!(outcome, UnlockOutcome::Unlocked { .. }) {
            EventKind::Unlock
        } else {
            EventKind::UnlockFailed
        };
        let mut event = AuditEvent::new(kind, chrono::Utc::now());
        event.worker = Some(self.worker.to_string());
        event.action = Some("unlock".into());
        event.resource = Some(format!("customer:{}/{}", self.customer, self.area));
        event.customer = Some(self.customer.to_string());
        event.area = Some(self.area.to_string());
        event.channel = Some(self.channel.to_owned());
        event.address = self.address.map(str::to_owned);
        event.detail = serde_json::to_string(outcome).ok();
        event
    }
}
