//! Unlocking password-closed areas: argon2 verification, rate limiting,
//! and unlocks that expire.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use crate::domain::{AreaName, CustomerId, WorkerLogin};
use crate::error::{Error, Result};
use crate::store::OrgStore;

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
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT area FROM area_unlocks WHERE org = $1 AND worker = $2 AND customer = $3 AND unlocked_at <= $4 AND expires_at > $4",
        )
        .bind(self.slug().as_str())
        .bind(worker.as_str())
        .bind(customer.as_str())
        .bind(now.timestamp())
        .fetch_all(self.store().pool())
        .await?;
        rows.into_iter().map(|(a,)| AreaName::new(a)).collect()
    }

    /// Checks `password` against the area's argon2id hash. Whether the
    /// worker may try at all is the rules' business (`unlock` action);
    /// this enforces the rate limit and records the unlock or the failure.
    pub async fn unlock_area(
        &self,
        worker: &WorkerLogin,
        customer: &CustomerId,
        area: &AreaName,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<UnlockOutcome> {
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
        let since = now - FAILURE_WINDOW;
        let failures: Vec<(i64,)> = sqlx::query_as(
            "SELECT at FROM unlock_failures WHERE org = $1 AND worker = $2 AND customer = $3 AND area = $4 AND at > $5 ORDER BY at",
        )
        .bind(self.slug().as_str())
        .bind(worker.as_str())
        .bind(customer.as_str())
        .bind(area.as_str())
        .bind(since.timestamp())
        .fetch_all(self.store().pool())
        .await?;
        let count = i64::try_from(failures.len()).unwrap_or(i64::MAX);
        if count >= MAX_FAILURES {
            let oldest = failures.first().map_or(now.timestamp(), |(at,)| *at);
            let retry_after = DateTime::from_timestamp(oldest, 0).unwrap_or(now) + FAILURE_WINDOW;
            return Ok(UnlockOutcome::RateLimited { retry_after });
        }
        // argon2 is CPU-heavy: keep it off the async workers.
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || hash.verify(&password))
            .await
            .map_err(|e| Error::Password(e.to_string()))?;
        let table = if ok {
            "area_unlocks (org, worker, customer, area, unlocked_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)"
        } else {
            "unlock_failures (org, worker, customer, area, at) VALUES ($1, $2, $3, $4, $5)"
        };
        let insert = format!("INSERT INTO {table}");
        let mut q = sqlx::query(&insert)
            .bind(self.slug().as_str())
            .bind(worker.as_str())
            .bind(customer.as_str())
            .bind(area.as_str())
            .bind(now.timestamp());
        if ok {
            q = q.bind((now + UNLOCK_TTL).timestamp());
        }
        q.execute(self.store().pool()).await?;
        Ok(if ok {
            UnlockOutcome::Unlocked {
                expires_at: now + UNLOCK_TTL,
            }
        } else {
            UnlockOutcome::WrongPassword {
                attempts_left: MAX_FAILURES - count - 1,
            }
        })
    }
}
