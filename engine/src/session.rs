//! Logins and API sessions: argon2id verification, rate-limited failures,
//! random session tokens stored only as SHA-256 hashes.

use chrono::{DateTime, Duration, Utc};
use rand_core::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::{OrgSlug, WorkerLogin};
use crate::error::{Error, Result};
use crate::store::{OrgStore, Store};

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::hours(8);
/// Failed logins allowed per worker within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// The window failed logins are counted in.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);

/// The result of a login attempt. Wrong login and wrong password look the
/// same from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    LoggedIn {
        token: String,
        expires_at: DateTime<Utc>,
    },
    Refused,
    RateLimited {
        retry_after: DateTime<Utc>,
    },
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl OrgStore {
    /// Checks a worker's password and opens a session.
    pub async fn login(
        &self,
        login: &WorkerLogin,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<LoginOutcome> {
        let pool = self.store().pool();
        let org = self.slug().as_str();
        let since = (now - FAILURE_WINDOW).timestamp();
        let failures: Vec<(i64,)> = sqlx::query_as(
            "SELECT at FROM login_failures WHERE org = $1 AND worker = $2 AND at > $3 ORDER BY at",
        )
        .bind(org)
        .bind(login.as_str())
        .bind(since)
        .fetch_all(pool)
        .await?;
        if failures.len() >= MAX_FAILURES {
            let oldest = failures.first().map_or(now.timestamp(), |(at,)| *at);
            let retry_after = DateTime::from_timestamp(oldest, 0).unwrap_or(now) + FAILURE_WINDOW;
            return Ok(LoginOutcome::RateLimited { retry_after });
        }
        let hash = match self.worker(login).await {
            Ok(w) if w.active => w.password_hash,
            Ok(_) | Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let password = password.to_owned();
        // argon2 is CPU-heavy: keep it off the async workers. Unknown
        // workers still cost a verification, so timing reveals nothing.
        let ok = tokio::task::spawn_blocking(move || match hash {
            Some(h) => h.verify(&password),
            None => {
                let _ = crate::domain::PasswordHash::create("timing-equaliser");
                false
            }
        })
        .await
        .map_err(|e| Error::Password(e.to_string()))?;
        if !ok {
            sqlx::query("INSERT INTO login_failures (org, worker, at) VALUES ($1, $2, $3)")
                .bind(org)
                .bind(login.as_str())
                .bind(now.timestamp())
                .execute(pool)
                .await?;
            return Ok(LoginOutcome::Refused);
        }
        let mut bytes = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let expires_at = now + SESSION_TTL;
        sqlx::query("INSERT INTO sessions (token_hash, org, worker, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash(&token))
            .bind(org)
            .bind(login.as_str())
            .bind(now.timestamp())
            .bind(expires_at.timestamp())
            .execute(pool)
            .await?;
        Ok(LoginOutcome::LoggedIn { token, expires_at })
    }
}

impl Store {
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
}
