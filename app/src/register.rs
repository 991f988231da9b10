//! The dossier's registers: providers, processing activities, measures,
//! training, backups, breaches. One entry at a time, audited.

use custodia_engine::{OrgSlug, RegisterEntry};

use crate::Custodia;
use crate::error::Result;

impl Custodia {
    /// Adds a register entry, or replaces one with `replace`; the entry and
    /// its audit event commit together. Returns whether one was replaced.
    pub async fn add_register_entry(
        &self,
        org: &OrgSlug,
        entry: &RegisterEntry,
        replace: bool,
    ) -> Result<bool> {
        let scope = self.store().org(org).await?;
        Ok(scope.add_register_entry(entry, replace).await?)
    }
}
