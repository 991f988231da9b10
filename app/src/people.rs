//! Workers acting in person: unlocking areas, logging in and out.

use chrono::Utc;
use custodia_engine::rules::{Action, Context, Request, ResourceRef};
use custodia_engine::session::{LoginAttempt, LoginOutcome};
use custodia_engine::unlock::{UnlockAttempt, UnlockOutcome};
use custodia_engine::{OrgSlug, WorkerLogin};

use crate::Custodia;
use crate::error::Result;

/// Who asks to unlock which area, from where.
#[derive(Debug, Clone)]
pub struct UnlockRequest<'a> {
    pub worker: &'a WorkerLogin,
    /// `customer:ID/AREA`.
    pub area: &'a ResourceRef,
    pub channel: &'a str,
    pub address: Option<&'a str>,
}

impl Custodia {
    /// Asks the rules whether the worker may unlock the area (audited),
    /// then checks the password; the unlock or the failure commits with
    /// its own audit event.
    pub async fn unlock(
        &self,
        org: &OrgSlug,
        request: &UnlockRequest<'_>,
        password: &str,
    ) -> Result<UnlockOutcome> {
        let ResourceRef::Area(customer, area) = request.area else {
            return Err(custodia_engine::Error::InvalidValue {
                kind: "area",
                value: request.area.to_string(),
                reason: "is not an area: use customer:ID/AREA",
            }
            .into());
        };
        let mut context = Context::new(Utc::now(), request.channel);
        context.address = request.address.map(str::to_owned);
        let decision_request = Request {
            worker: request.worker.clone(),
            action: Action::Unlock,
            resource: request.area.clone(),
            context,
        };
        self.require(org, &decision_request).await?;
        let attempt = UnlockAttempt {
            worker: request.worker,
            customer,
            area,
            channel: request.channel,
            address: request.address,
        };
        Ok(self
            .store()
            .org(org)
            .await?
            .unlock_area(&attempt, password)
            .await?)
    }

    /// Checks a password and opens a session, within the login limits:
    /// back-off per account and per address, a cap on concurrent hashes.
    pub async fn login(&self, attempt: &LoginAttempt<'_>) -> Result<LoginOutcome> {
        Ok(self.store().login(&self.gate, attempt).await?)
    }

    /// The worker behind a session token, if it is valid now.
    pub async fn session(&self, token: &str) -> Result<Option<(OrgSlug, WorkerLogin)>> {
        Ok(self.store().session(token, Utc::now()).await?)
    }

    /// Ends a session (audited). Returns whether there was one.
    pub async fn logout(&self, token: &str, channel: &str) -> Result<bool> {
        Ok(self.store().logout(token, channel).await?)
    }

    /// Deletes expired sessions and old login failures.
    pub async fn purge_sessions(&self) -> Result<u64> {
        Ok(self.store().purge_sessions(Utc::now()).await?)
    }
}
