//! Logins and API sessions: argon2id verification, failures counted per
//! account and per client address with back-off, a cap on concurrent
//! hashes, random session tokens stored only as SHA-256 hashes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Duration, Utc};
use rand_core::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::audit::{AuditEvent, Change, EventKind};
use crate::domain::{OrgSlug, PasswordHash, WorkerLogin, computations_on_this_thread};
use crate::error::{Error, Result};
use crate::rules::Effect;
use crate::store::{Backend, Store};

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::hours(8);
/// Failures are counted over this window, then forgotten (and purged).
pub const FAILURE_WINDOW: Duration = Duration::hours(1);
/// Failed logins per account allowed before back-off starts.
pub const FREE_ACCOUNT_FAILURES: i64 = 5;
/// Failed logins per client address before back-off (an office shares one).
pub const FREE_ADDRESS_FAILURES: i64 = 20;
/// The first back-off once the free failures are spent; it doubles with
/// each further failure.
pub const FIRST_BACKOFF: Duration = Duration::seconds(30);
/// The longest back-off: nobody can lock a worker out for longer.
pub const MAX_BACKOFF: Duration = Duration::minutes(15);

/// The result of a login attempt. Wrong login and wrong password look the
/// same from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    LoggedIn {
        org: OrgSlug,
        token: String,
        expires_at: DateTime<Utc>,
    },
    Refused,
    /// Too many recent failures for this account or address.
    RateLimited {
        retry_after: DateTime<Utc>,
    },
    /// Too many password checks under way: try again shortly.
    Busy,
}

/// One login attempt as the caller presents it.
#[derive(Clone)]
pub struct LoginAttempt<'a> {
    /// The organisation, when the caller names it.
    pub org: Option<&'a OrgSlug>,
    pub login: &'a WorkerLogin,
    pub password: &'a str,
    /// The client address (as trusted by the server), if known.
    pub address: Option<&'a str>,
    pub channel: &'a str,
}

impl std::fmt::Debug for LoginAttempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("login", &self.login)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// A cap on concurrent argon2 computations for logins: each takes 19 MiB,
/// so an unbounded flood would exhaust memory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HashGate {
    permits: Arc<Semaphore>,
    /// The argon2 computations run for the logins let through.
    computations: Arc<AtomicU64>,
}

impl HashGate {
    /// At most `n` password checks at once (0 refuses every login: a
    /// closed gate, for tests and maintenance).
    pub fn new(n: usize) -> Self {
        // Make the dummy hash now, so the first unknown login does not
        // cost one hash more than a known one.
        LazyLock::force(&DUMMY);
        Self {
            permits: Arc::new(Semaphore::new(n)),
            computations: Arc::default(),
        }
    }

    /// How many argon2 computations the logins let through have run: an
    /// unknown login must cost as many as a known one, and a login held
    /// back must cost none.
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::Relaxed)
    }
}

impl Default for HashGate {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores * 2)
    }
}

/// The hash an unknown login is checked against, so that it costs the
/// same argon2 work as a known one.
static DUMMY: LazyLock<Option<PasswordHash>> =
    LazyLock::new(|| PasswordHash::create("custodia-unknown-login").ok());

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The back-off for `failures` recent failures of which `free` are free:
/// 30 s, 1 min, 2 min ... up to [`MAX_BACKOFF`].
fn backoff(failures: i64, free: i64) -> Option<Duration> {
    let over = failures - free;
    if over < 0 {
        return None;
    }
    let factor = 1i32 << over.min(10);
    Some((FIRST_BACKOFF * factor).min(MAX_BACKOFF))
}

impl Store {
    /// The organisation of `login`: `org` when given and the worker is in
    /// it, else the only one that has this worker. `None` when unknown or
    /// ambiguous.
    async fn login_org(
        &self,
        org: Option<&OrgSlug>,
        login: &WorkerLogin,
    ) -> Result<Option<OrgSlug>> {
        let mut orgs = self.organisations_of(login).await?;
        Ok(match org {
            Some(org) => orgs.contains(org).then(|| org.clone()),
            None if orgs.len() == 1 => orgs.pop(),
            None => None,
        })
    }

    /// Checks a worker's password and opens a session. Every attempt of a
    /// known worker is audited in its organisation's chain, together with
    /// the row it writes.
    pub async fn login(&self, gate: &HashGate, attempt: &LoginAttempt<'_>) -> Result<LoginOutcome> {
        let org = self.login_org(attempt.org, attempt.login).await?;
        let now = Utc::now();
        // Reserve the attempt as a failure before any hashing: parallel
        // guesses each see the others, so twenty count twenty.
        if let Some(retry_after) = self.reserve_attempt(org.as_ref(), attempt, now).await? {
            return self
                .record_login(
                    org.as_ref(),
                    attempt,
                    LoginOutcome::RateLimited { retry_after },
                    now,
                )
                .await;
        }
        let Ok(permit) = gate.permits.clone().try_acquire_owned() else {
            self.release_attempt(org.as_ref(), attempt, now).await?;
            return Ok(LoginOutcome::Busy);
        };
        let hash = match &org {
            Some(org) => self
                .org(org)
                .await?
                .worker(attempt.login)
                .await
                .ok()
                .filter(|w| w.active)
                .and_then(|w| w.password_hash),
            None => None,
        };
        let password = attempt.password.to_owned();
        // argon2 is CPU-heavy: keep it off the async workers. Unknown
        // workers are checked against a dummy hash: the same work.
        let computations = Arc::clone(&gate.computations);
        let ok = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // INVARIANT: a login's argon2 work runs only here, under a
            // permit of its gate, and the gate counts it.
            let before = computations_on_this_thread();
            let ok = match &hash {
                Some(h) => h.verify(&password),
                None => {
                    if let Some(dummy) = DUMMY.as_ref() {
                        let _ = dummy.verify(&password);
                    }
                    false
                }
            };
            let run = computations_on_this_thread() - before;
            computations.fetch_add(run, Ordering::Relaxed);
            ok
        })
        .await
        .map_err(|e| Error::Password(e.to_string()))?;
        let outcome = match (&org, ok) {
            (Some(org), true) => {
                let mut bytes = [0u8; 32];
                rand_core::OsRng.fill_bytes(&mut bytes);
                LoginOutcome::LoggedIn {
                    org: org.clone(),
                    token: hex::encode(bytes),
                    expires_at: now + SESSION_TTL,
                }
            }
            _ => LoginOutcome::Refused,
        };
        self.record_login(org.as_ref(), attempt, outcome, now).await
    }

    /// Counts recent failures of the account and of the address and, unless
    /// backing off, records this attempt as a failure (undone on success).
    /// Returns when to retry if backing off.
    async fn reserve_attempt(
        &self,
        org: Option<&OrgSlug>,
        attempt: &LoginAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let org_key = org.map_or("", OrgSlug::as_str);
        let since = (now - FAILURE_WINDOW).timestamp();
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Postgres {
            // INVARIANT: the count and the reservation are one step; on
            // PostgreSQL this lock makes them so (SQLite: BEGIN IMMEDIATE).
            sqlx::query("SELECT pg_advisory_xact_lock(7205759403792793)")
                .execute(&mut *tx)
                .await?;
        }
        let (account, last_account): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(at) FROM login_failures WHERE org = $1 AND worker = $2 AND at > $3",
        )
        .bind(org_key)
        .bind(attempt.login.as_str())
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        let (by_address, last_address): (i64, Option<i64>) =
            match attempt.address {
                Some(address) => sqlx::query_as(
                    "SELECT COUNT(*), MAX(at) FROM login_failures WHERE address = $1 AND at > $2",
                )
                .bind(address)
                .bind(since)
                .fetch_one(&mut *tx)
                .await?,
                None => (0, None),
            };
        let waits = [
            backoff(account, FREE_ACCOUNT_FAILURES).zip(last_account),
            backoff(by_address, FREE_ADDRESS_FAILURES).zip(last_address),
        ];
        let retry_after = waits
            .into_iter()
            .flatten()
            .filter_map(|(wait, last)| DateTime::from_timestamp(last, 0).map(|t| t + wait))
            .filter(|t| *t > now)
            .max();
        if retry_after.is_none() {
            sqlx::query(
                "INSERT INTO login_failures (org, worker, address, at) VALUES ($1, $2, $3, $4)",
            )
            .bind(org_key)
            .bind(attempt.login.as_str())
            .bind(attempt.address)
            .bind(now.timestamp())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(retry_after)
    }

    async fn release_attempt(
        &self,
        org: Option<&OrgSlug>,
        attempt: &LoginAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures WHERE org = $1 AND worker = $2 AND at = $3 LIMIT 1)"
            }
            Backend::Postgres => {
                "DELETE FROM login_failures WHERE ctid IN (SELECT ctid FROM login_failures WHERE org = $1 AND worker = $2 AND at = $3 LIMIT 1)"
            }
        };
        sqlx::query(sql)
            .bind(org.map_or("", OrgSlug::as_str))
            .bind(attempt.login.as_str())
            .bind(now.timestamp())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Writes the attempt's outcome (a session, or the failure kept) with
    /// its audit event, in one transaction.
    async fn record_login(
        &self,
        org: Option<&OrgSlug>,
        attempt: &LoginAttempt<'_>,
        outcome: LoginOutcome,
        now: DateTime<Utc>,
    ) -> Result<LoginOutcome> {
        let Some(org) = org else {
            // No chain to write to: an unknown login is only logged.
            tracing::warn!(login = %attempt.login, address = ?attempt.address, "login of an unknown worker refused");
            return Ok(outcome);
        };
        let mut change = Change::begin(self, org).await?;
        let ok = matches!(outcome, LoginOutcome::LoggedIn { .. });
        if let LoginOutcome::LoggedIn {
            token, expires_at, ..
        } = &outcome
        {
            sqlx::query("INSERT INTO sessions (token_hash, org, worker, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash(token))
                .bind(org.as_str())
                .bind(attempt.login.as_str())
                .bind(now.timestamp())
                .bind(expires_at.timestamp())
                .execute(&mut **change.tx())
                .await?;
            // A success forgets the account's failures.
            sqlx::query("DELETE FROM login_failures WHERE org = $1 AND worker = $2")
                .bind(org.as_str())
                .bind(attempt.login.as_str())
                .execute(&mut **change.tx())
                .await?;
        }
        let mut event = AuditEvent::new(
            if ok {
                EventKind::Login
            } else {
                EventKind::LoginFailed
            },
            now,
        );
        event.worker = Some(attempt.login.to_string());
        event.address = attempt.address.map(str::to_owned);
        event.channel = Some(attempt.channel.to_owned());
        event.decision = Some(if ok { Effect::Allow } else { Effect::Deny });
        if let LoginOutcome::RateLimited { .. } = outcome {
            event.detail = Some("rate limited".into());
        }
        change.record(event);
        change.commit().await?;
        Ok(outcome)
    }

    /// The worker a session token belongs to, if it is valid at `now`.
    // The lookup is by SHA-256 of a 256-bit random token: a timing
    // difference in the index search reveals nothing usable about it.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(OrgSlug, WorkerLogin)>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT org, worker FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(now.timestamp())
        .fetch_optional(self.pool())
        .await?;
        row.map(|(org, worker)| Ok((OrgSlug::new(org)?, WorkerLogin::new(worker)?)))
            .transpose()
    }

    /// Ends a session, audited. Returns whether there was one.
    pub async fn logout(&self, token: &str, channel: &str) -> Result<bool> {
        let Some((org, worker)) = self.session(token, Utc::now()).await? else {
            return Ok(false);
        };
        let mut change = Change::begin(self, &org).await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&mut **change.tx())
            .await?;
        let mut event = AuditEvent::new(EventKind::Logout, Utc::now());
        event.worker = Some(worker.to_string());
        event.channel = Some(channel.to_owned());
        change.record(event);
        change.commit().await?;
        Ok(true)
    }

    /// Deletes expired sessions and failures older than the window.
    /// Returns how many rows went.
    pub async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.timestamp())
            .execute(self.pool())
            .await?
            .rows_affected();
        let failures = sqlx::query("DELETE FROM login_failures WHERE at <= $1")
            .bind((now - FAILURE_WINDOW).timestamp())
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(sessions + failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_stops_at_its_cap() {
        assert_eq!(backoff(4, 5), None);
        assert_eq!(backoff(5, 5), Some(Duration::seconds(30)));
        assert_eq!(backoff(7, 5), Some(Duration::minutes(2)));
        assert_eq!(backoff(60, 5), Some(MAX_BACKOFF));
    }
}
