//! Checks of the audit chain for the officer's pages, both anchored by the
//! newest checkpoint the writer's witness holds, outside the database.
//!
//! - The everyday check (the dashboard) reads only the events since that
//!   checkpoint: at most one checkpoint's worth (`checkpoint_every`, 10,000
//!   by default, or `checkpoint_interval`).
//! - The full verify (the dossier, `custodia audit verify`) reads every
//!   event: only it sees an event edited before the witnessed checkpoint,
//!   which is what an inspector's evidence must cover.

use std::collections::BTreeMap;

use custodia_engine::OrgSlug;
use custodia_engine::audit::{Checkpoint, VerifyReport};

use crate::Custodia;
use crate::error::Result;

impl Custodia {
    /// The everyday check of `org`'s chain: the events since `witnessed`,
    /// the writer's newest witnessed checkpoint ([`AuditLog::status`]), and
    /// the chain against it ([`custodia_engine::Store::check_audit_since`]).
    /// A chain nothing has witnessed yet is verified in full; so is one
    /// that shows any doubt, to name its first break.
    ///
    /// [`AuditLog::status`]: custodia_engine::audit::AuditLog::status
    pub(crate) async fn check_audit(
        &self,
        org: &OrgSlug,
        witnessed: Option<&Checkpoint>,
    ) -> Result<VerifyReport> {
        let key = self.audit().verifying_key()?;
        let report = match witnessed {
            Some(cp) => self.store().check_audit_since(org, &key, cp).await?,
            None => {
                self.store()
                    .verify_audit(org, Some(&key), None, |_| {})
                    .await?
            }
        };
        Ok(report)
    }

    /// Verifies all of `org`'s chain, and that it extends the newest
    /// witnessed checkpoint: a tail cut with its head row and checkpoints
    /// rewritten to match fails here, though it would pass a verify that
    /// trusted the database alone.
    pub async fn verify_audit(&self, org: &OrgSlug) -> Result<VerifyReport> {
        let key = self.audit().verifying_key()?;
        let witnessed: BTreeMap<_, _> = self
            .audit()
            .status(org)
            .await?
            .witnessed
            .map(|cp| (cp.seq, cp))
            .into_iter()
            .collect();
        Ok(self
            .store()
            .verify_audit_witnessed(org, Some(&key), None, &witnessed, |_| {})
            .await?)
    }
}
