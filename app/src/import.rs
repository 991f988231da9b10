//! Bringing organisations in: a whole organisation file, or a CSV of
//! customers or workers. Checked whole first, then written with its audit
//! event in one transaction (by the engine).

use std::collections::BTreeSet;
use std::path::Path;

use custodia_engine::exchange::{self, ImportSummary, OrgFile};
use custodia_engine::{AreaName, CustomerId, OrgSlug};

use crate::Custodia;
use crate::error::Result;
use crate::record::AreaEdit;

fn bad_csv(path: &Path, line: usize, message: String) -> crate::Error {
    custodia_engine::Error::Input {
        path: path.to_owned(),
        line,
        message,
    }
    .into()
}

/// What a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    Customers,
    Workers,
    /// Area contents: `customer,area,field,value` (field `notes` for notes).
    Contents,
}

impl CsvKind {
    /// The plural noun, as printed.
    pub fn noun(self) -> &'static str {
        match self {
            CsvKind::Customers => "customers",
            CsvKind::Workers => "workers",
            CsvKind::Contents => "area contents",
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
            CsvKind::Contents => self.import_contents(&scope, path, &text).await?,
        })
    }

    /// Area contents from CSV: every row checked (customer, area, declared
    /// field, typed value; errors name the line), then every area touched
    /// resealed with the fields given, in one transaction with one event.
    async fn import_contents(
        &self,
        scope: &custodia_engine::OrgStore,
        path: &Path,
        text: &str,
    ) -> Result<usize> {
        let rules = self.rules();
        let sectors = scope.organisation().sectors.clone();
        let customers: std::collections::BTreeMap<_, _> = scope
            .customers()
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        let mut edits: std::collections::BTreeMap<(CustomerId, AreaName), AreaEdit> =
            std::collections::BTreeMap::new();
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| bad_csv(path, 1, e.to_string()))?
            .clone();
        if headers.iter().collect::<Vec<_>>() != ["customer", "area", "field", "value"] {
            return Err(bad_csv(
                path,
                1,
                "the header must be `customer,area,field,value`".into(),
            ));
        }
        for (i, row) in reader.records().enumerate() {
            let line = i + 2;
            let row = row.map_err(|e| bad_csv(path, line, e.to_string()))?;
            let cell = |n: usize| row.get(n).unwrap_or_default();
            let customer: CustomerId = cell(0)
                .parse()
                .map_err(|e: custodia_engine::Error| bad_csv(path, line, e.to_string()))?;
            let area: AreaName = cell(1)
                .parse()
                .map_err(|e: custodia_engine::Error| bad_csv(path, line, e.to_string()))?;
            let record = customers.get(&customer).ok_or_else(|| {
                bad_csv(path, line, format!("customer `{customer}` does not exist"))
            })?;
            if record.area(&area).is_none() {
                return Err(bad_csv(
                    path,
                    line,
                    format!("customer `{customer}` has no area `{area}`"),
                ));
            }
            let edit = edits.entry((customer, area.clone())).or_default();
            let (field, value) = (cell(2), cell(3));
            if field == "notes" {
                edit.notes = Some(value.to_owned());
                continue;
            }
            let declared = rules.area_fields(&sectors, area.as_str());
            let kind = declared.get(field).ok_or_else(|| {
                bad_csv(
                    path,
                    line,
                    format!("field `{field}` is not declared by the packs for `{area}`"),
                )
            })?;
            kind.parse(value)
                .map_err(|reason| bad_csv(path, line, format!("field `{field}`: {reason}")))?;
            edit.set.push((field.to_owned(), value.to_owned()));
        }
        let mut change = custodia_engine::audit::Change::begin(self.store(), scope.slug()).await?;
        for ((customer, area), edit) in &edits {
            let mut record = customers.get(customer).cloned().ok_or_else(|| {
                custodia_engine::Error::NotFound {
                    org: scope.slug().to_string(),
                    kind: "customer",
                    id: customer.to_string(),
                }
            })?;
            scope
                .unseal(
                    &mut record,
                    &[custodia_engine::vault::Slot::Area(area.clone())],
                )
                .await?;
            let old = record
                .area(area)
                .and_then(|a| a.content.clone())
                .unwrap_or_default();
            let declared = rules.area_fields(&sectors, area.as_str());
            let new = crate::record::apply_edit(&old, edit, &declared, area)?;
            scope.seal_area(&mut change, &record, area, &new).await?;
        }
        let mut event = custodia_engine::audit::AuditEvent::new(
            custodia_engine::audit::EventKind::Import,
            chrono::Utc::now(),
        );
        event.detail = Some(format!(
            "{}: contents of {} areas",
            path.display(),
            edits.len()
        ));
        change.record(event);
        change.commit().await?;
        Ok(edits.len())
    }
}
