//! Bringing organisations in: a whole organisation file, or a CSV of
//! customers or workers. Checked whole first, then written with its audit
//! event in one transaction (by the engine).

use std::collections::BTreeSet;
use std::path::Path;

use custodia_engine::OrgSlug;
use custodia_engine::exchange::{self, ImportSummary, OrgFile};

use crate::Custodia;
use crate::error::Result;

/// What a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    Customers,
    Workers,
}

impl CsvKind {
    /// The plural noun, as printed.
    pub fn noun(self) -> &'static str {
        match self {
            CsvKind::Customers => "customers",
            CsvKind::Workers => "workers",
        }
    }
}

impl Custodia {
    /// Imports an organisation file (all or nothing), audited in the
    /// organisation's chain in the same transaction.
    pub async fn import_org(
        &self,
        file: &OrgFile,
        replace: bool,
        source: &str,
    ) -> Result<ImportSummary> {
        let rules = self.rules();
        let sectors = &file.organisation.sectors;
        crate::record::check_contents(&file.customers, |area| rules.area_fields(sectors, area))
            .map_err(|e| crate::Error::Field {
                field: source.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(self.store().import(file, replace, source).await?)
    }

    /// Exports a whole organisation, sealed contents included, as one file:
    /// personal data leaving Custodia, so recorded as an `export` event
    /// naming the destination before the caller writes it.
    pub async fn export_org(&self, org: &OrgSlug, destination: &str) -> Result<OrgFile> {
        let file = self.store().export(org).await?;
        let mut event = custodia_engine::audit::AuditEvent::new(
            custodia_engine::audit::EventKind::Export,
            chrono::Utc::now(),
        );
        event.resource = Some(format!("organisation:{org}"));
        event.detail = Some(format!(
            "organisation file with {} customers to {destination}",
            file.customers.len()
        ));
        self.audit().append(org, event).await?;
        Ok(file)
    }

    /// Imports a CSV of customers or workers into `org`: all or none.
    /// Returns how many rows were added.
    pub async fn import_csv(&self, org: &OrgSlug, kind: CsvKind, path: &Path) -> Result<usize> {
        let scope = self.store().org(org).await?;
        let text = exchange::read_text(path)?;
        let workers: BTreeSet<_> = scope
            .workers()
            .await?
            .into_iter()
            .map(|w| w.login)
            .collect();
        let source = path.display().to_string();
        Ok(match kind {
            CsvKind::Customers => {
                let existing: BTreeSet<_> =
                    scope.customers().await?.into_iter().map(|c| c.id).collect();
                let rows = exchange::parse_customers_csv(path, &text, &workers, &existing)?;
                scope.import_customers(&rows, &source).await?
            }
            CsvKind::Workers => {
                let rows = exchange::parse_workers_csv(path, &text, &workers)?;
                scope.import_workers(&rows, &source).await?
            }
        })
    }
}
