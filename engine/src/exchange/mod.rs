//! Moving organisations in and out of the store: one TOML file per
//! organisation, and CSV files of customers or workers.
//!
//! Every import is checked whole before anything is written and then
//! written in one transaction: a malformed file changes nothing.

mod csv_import;
mod org_file;
mod register_toml;

pub use crate::source::read_text;
pub use csv_import::{CsvKind, parse_customers_csv, parse_workers_csv};
pub use org_file::{FORMAT_VERSION, OrgFile};
pub use register_toml::{register_entry_from_toml, register_entry_to_toml};

use crate::audit::{AuditEvent, Change, EventKind};
use crate::domain::{Customer, OrgSlug, Worker};
use crate::error::{Error, Result};
use crate::store::{OrgStore, Store, rows};
use crate::vault::Vault;

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub organisation: String,
    pub workers: usize,
    pub customers: usize,
    pub documents: usize,
    pub register_entries: usize,
}

/// The audit event of an import.
fn import_event(detail: String) -> AuditEvent {
    let mut event = AuditEvent::new(EventKind::Import, chrono::Utc::now());
    event.detail = Some(detail);
    event
}

impl Store {
    /// Imports a whole organisation, all or nothing, with its audit event
    /// in the same transaction. With `replace`, an existing organisation of
    /// the same slug is deleted first. `source` says where it came from.
    pub async fn import(
        &self,
        file: &OrgFile,
        replace: bool,
        source: &str,
    ) -> Result<ImportSummary> {
        let mut change = Change::begin(self, &file.organisation.slug).await?;
        let summary = write_org(&mut change, file, replace, self.vault_opt()).await?;
        change.record(import_event(format!(
            "{source} (replace: {replace}): {} workers, {} customers, {} documents, {} register entries",
            summary.workers, summary.customers, summary.documents, summary.register_entries
        )));
        change.commit().await?;
        Ok(summary)
    }
}

async fn write_org(
    change: &mut Change,
    file: &OrgFile,
    replace: bool,
    vault: Option<&Vault>,
) -> Result<ImportSummary> {
    let slug = &file.organisation.slug;
    let tx = change.tx();
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT slug FROM organisations WHERE slug = $1")
            .bind(slug.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    let mut kept_opt_outs: Vec<(String, String, String)> = Vec::new();
    let mut kept_restrictions: Vec<(String, String, i64)> = Vec::new();
    if exists.is_some() {
        if !replace {
            return Err(Error::OrganisationExists(slug.to_string()));
        }
        // Opt-outs are absolute (GDPR art. 21(3)): a re-import never lifts one.
        kept_opt_outs = sqlx::query_as(
                "SELECT id, opt_out_date, opt_out_channel FROM customers WHERE org = $1 AND opt_out_date IS NOT NULL",
            )
            .bind(slug.as_str())
            .fetch_all(&mut **tx)
            .await?;
        // Nor does it lift a blocking or a restriction (LOPDGDD art. 32,
        // GDPR art. 18): only a rights request does.
        kept_restrictions = sqlx::query_as(
            "SELECT id, restriction, restricted_at FROM customers WHERE org = $1 AND restriction IS NOT NULL",
        )
        .bind(slug.as_str())
        .fetch_all(&mut **tx)
        .await?;
        rows::delete_organisation(tx, slug).await?;
    }
    rows::insert_organisation(tx, &file.organisation).await?;
    for worker in &file.workers {
        rows::insert_worker(tx, slug, worker).await?;
    }
    for customer in &file.customers {
        rows::insert_customer(tx, slug, customer, vault).await?;
    }
    for document in &file.documents {
        rows::insert_document(tx, slug, document).await?;
    }
    rows::insert_registers(tx, slug, &file.registers).await?;
    for (id, date, channel) in &kept_opt_outs {
        sqlx::query(
                "UPDATE customers SET opt_out_date = $3, opt_out_channel = $4 WHERE org = $1 AND id = $2 AND opt_out_date IS NULL",
            )
            .bind(slug.as_str())
            .bind(id)
            .bind(date)
            .bind(channel)
            .execute(&mut **tx)
            .await?;
    }
    for (id, restriction, at) in &kept_restrictions {
        sqlx::query(
            "UPDATE customers SET restriction = $3, restricted_at = $4 WHERE org = $1 AND id = $2",
        )
        .bind(slug.as_str())
        .bind(id)
        .bind(restriction)
        .bind(*at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(file.summary())
}

impl Store {
    /// Exports an organisation; sorted so that the same data gives the same file.
    pub async fn export(&self, slug: &OrgSlug) -> Result<OrgFile> {
        let org = self.org(slug).await?;
        let mut file = OrgFile {
            format: FORMAT_VERSION,
            organisation: org.organisation().clone(),
            workers: org.workers().await?,
            customers: org.customers_unsealed().await?,
            documents: org.documents().await?,
            registers: org.registers().await?,
        };
        file.normalise();
        Ok(file)
    }
}

impl OrgStore {
    /// Adds workers from a CSV import, all or none, audited. Logins must be new.
    pub async fn import_workers(&self, workers: &[Worker], source: &str) -> Result<usize> {
        let mut change = Change::begin(self.store(), self.slug()).await?;
        for worker in workers {
            rows::insert_worker(change.tx(), self.slug(), worker).await?;
        }
        change.record(import_event(format!("{source}: {} workers", workers.len())));
        change.commit().await?;
        Ok(workers.len())
    }

    /// Adds customers from a CSV import, all or none, audited. Ids must be new.
    pub async fn import_customers(&self, customers: &[Customer], source: &str) -> Result<usize> {
        let mut change = Change::begin(self.store(), self.slug()).await?;
        for customer in customers {
            rows::insert_customer(change.tx(), self.slug(), customer, self.store().vault_opt())
                .await?;
        }
        change.record(import_event(format!(
            "{source}: {} customers",
            customers.len()
        )));
        change.commit().await?;
        Ok(customers.len())
    }
}
