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

#[cfg(test)]
mod tests {
    use custodia_engine::audit::BreakKind;

    use super::*;

    /// The demo law firm in a fresh store, its import's events signed and
    /// witnessed.
    async fn witnessed_firm(dir: &std::path::Path) -> (Custodia, OrgSlug) {
        let (app, file) = crate::demo::open_with_law_firm(dir).await;
        app.import_org(&file, false, "test").await.expect("import");
        app.import_org(&file, true, "again")
            .await
            .expect("import again");
        app.audit().checkpoint().await.expect("sign and witness");
        (app, file.organisation.slug)
    }

    #[tokio::test]
    async fn the_dossiers_verify_catches_a_tail_cut_that_fools_the_database_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let (app, org) = witnessed_firm(dir.path()).await;
        let head = app.store().audit_head(&org).await.expect("head");
        assert!(head >= 2, "the imports wrote events: {head}");
        let witnessed = app.audit().status(&org).await.expect("status").witnessed;
        assert_eq!(witnessed.as_ref().map(|cp| cp.seq), Some(head));
        // The attacker cuts the last event and rewrites the head row and
        // the checkpoints to match.
        let pool = app.store().pool();
        let cut = head - 1;
        let (hash,): (String,) =
            sqlx::query_as("SELECT hash FROM audit_events WHERE org = $1 AND seq = $2")
                .bind(org.as_str())
                .bind(cut)
                .fetch_one(pool)
                .await
                .expect("hash");
        for sql in [
            "DELETE FROM audit_events WHERE org = $1 AND seq > $2",
            "DELETE FROM audit_checkpoints WHERE org = $1 AND seq > $2",
        ] {
            sqlx::query(sql)
                .bind(org.as_str())
                .bind(cut)
                .execute(pool)
                .await
                .expect("tamper");
        }
        sqlx::query("UPDATE audit_heads SET seq = $2, hash = $3 WHERE org = $1")
            .bind(org.as_str())
            .bind(cut)
            .bind(hash)
            .execute(pool)
            .await
            .expect("forge the head");
        let key = app.audit().verifying_key().expect("key");
        let alone = app
            .store()
            .verify_audit(&org, Some(&key), None, |_| {})
            .await
            .expect("verify");
        assert!(alone.ok(), "the database alone is fooled: {alone:?}");
        let broken = |r: VerifyReport| r.broken.map(|b| (b.kind, b.seq));
        let dossier = app.verify_audit(&org).await.expect("verify");
        assert_eq!(broken(dossier), Some((BreakKind::Truncated, head)));
        let everyday = app
            .check_audit(&org, witnessed.as_ref())
            .await
            .expect("check");
        assert_eq!(broken(everyday), Some((BreakKind::Truncated, head)));
    }
}
