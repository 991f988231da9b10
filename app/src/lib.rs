//! Custodia's application core: one type, [`Custodia`], that opens the
//! store, the rule packs and the keys, and offers every operation a person
//! can do. The CLI and the HTTP server are thin adapters over it.
//!
//! Every change goes through here and commits with its audit event in one
//! transaction ([`custodia_engine::audit::Change`]); decisions go through
//! the group-commit writer and are answered only once durable.
//!
//! ```no_run
//! # async fn demo() -> custodia_app::Result<()> {
//! use custodia_app::{Config, Custodia};
//! use custodia_engine::rules::{Action, Context, Request};
//!
//! let app = Custodia::open(&Config::new("sqlite://custodia.db")).await?;
//! let worker: custodia_engine::WorkerLogin = "luis".parse()?;
//! let org = app.org_of(None, &worker).await?;
//! let request = Request {
//!     worker,
//!     action: Action::View,
//!     resource: "customer:C-1001".parse()?,
//!     context: Context::new(chrono::Utc::now(), "example"),
//! };
//! println!("{}", app.decide(&org, &request).await?.answer.effect);
//! app.close().await
//! # }
//! ```

mod audit;
mod backup;
mod bench;
mod breach;
mod config;
mod dashboard;
#[cfg(test)]
mod demo;
mod documents;
mod error;
mod export;
mod import;
mod keys;
mod listing;
mod marketing;
mod people;
mod record;
mod register;
mod rights;
mod synthetic;
mod vault;

use std::sync::Arc;

use custodia_engine::audit::{AuditConfig, AuditEvent, AuditLog, EventKind, Pseudonyms};
use custodia_engine::rules::{Decision, Effect, Explanation, Request, RuleSet, Rules};
use custodia_engine::session::HashGate;
use custodia_engine::{AccessControl, Audited, OrgSlug, Store, WorkerLogin};

pub use backup::{BackupCheck, BackupSummary, restore};
pub use bench::DecisionTimings;
pub use config::{Config, ROBINSON_MAX_AGE_DAYS};
pub use dashboard::{ChainStatus, Dashboard, OpenBreach};
pub use documents::{DocumentImport, Mapping};
pub use error::{Error, Result};
pub use export::{DataExport, DocumentExport, ExportFormat, ExportTable};
pub use import::CsvKind;
pub use listing::{
    CustomerList, CustomerRow, DocumentRow, ListQuery, ListScope, MAX_SCAN, SCAN_BUDGET,
};
pub use people::UnlockRequest;
pub use record::{
    AreaEdit, AreaState, AreaView, FieldView, PendingArea, Reader, RecordView, Shown,
};
pub use rights::{Access, DataItem, PurgeReport, Purpose, RightsPackage};
pub use synthetic::SyntheticSummary;

/// Longest client-supplied free text (`purpose`, `channel`) recorded.
pub const MAX_FREE_TEXT: usize = 200;

/// The application: store, rules in force, audit log, keys.
#[derive(Debug, Clone)]
pub struct Custodia {
    access: AccessControl,
    config: Config,
    gate: HashGate,
}

impl Custodia {
    /// Opens everything; the audit writer runs until [`Custodia::close`].
    /// A missing key for a store that already used it is an error.
    pub async fn open(config: &Config) -> Result<Self> {
        let started = std::time::Instant::now();
        config.apply_plugin_cache()?;
        let store = Store::init(&config.db).await?;
        let vault = keys::vault(&store, &config.master_key_path()).await?;
        let store = store.with_vault(Arc::new(vault));
        tracing::debug!(store = store.display_url(), "store opened");
        let packs = config.packs_dir();
        let rules = Rules::load(&packs).map_err(|source| Error::Packs {
            path: packs.clone(),
            source,
        })?;
        tracing::debug!(
            packs = %packs.display(),
            loaded = rules.current().packs().len(),
            elapsed_ms = started.elapsed().as_millis(),
            "rule packs loaded"
        );
        let signer = Arc::new(keys::audit_signer(&store, &config.audit_key_path()).await?);
        let audit_config = AuditConfig {
            witness: Some(Arc::new(config.witness())),
            ..AuditConfig::default()
        };
        let audit = AuditLog::spawn(store.clone(), Some(signer), audit_config);
        // Fail closed before anything is written: every chain must still
        // extend the checkpoint its witness last saw.
        audit.guard().await?;
        Ok(Self {
            access: AccessControl::new(store, Arc::new(rules), audit),
            config: config.clone(),
            gate: HashGate::default(),
        })
    }

    /// Flushes the audit log, signs final checkpoints, closes the store.
    pub async fn close(self) -> Result<()> {
        self.access.audit().shutdown().await?;
        self.access.store().close().await;
        Ok(())
    }

    /// Removes the start of `org`'s audit chain older than `keep_days`,
    /// recorded by a prune event. Through the core, so that a log that no
    /// longer extends its witnessed checkpoint was refused at
    /// [`Custodia::open`], before anything is removed.
    pub async fn prune_audit(
        &self,
        org: &OrgSlug,
        keep_days: i64,
        reason: &str,
    ) -> Result<custodia_engine::audit::PruneReport> {
        self.store().org(org).await?;
        Ok(self
            .store()
            .prune_audit(org, keep_days, chrono::Utc::now(), reason)
            .await?)
    }

    /// How audit events name people without a customer id (derived by
    /// the audit log from its signing key, which the core always has).
    pub fn pseudonyms(&self) -> Result<&Pseudonyms> {
        Ok(self.access.audit().pseudonyms()?)
    }

    /// The store (for reads).
    pub fn store(&self) -> &Store {
        self.access.store()
    }

    /// The rule set in force now.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.access.rules().current()
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The audit log (for the mail guard's own sends and opt-outs).
    pub fn audit(&self) -> &AuditLog {
        self.access.audit()
    }

    /// Caps concurrent password checks at `n` (the default is twice the cores).
    pub fn with_hash_gate(mut self, n: usize) -> Self {
        self.gate = HashGate::new(n);
        self
    }

    /// The organisation a worker belongs to: `org` when given, else the
    /// only organisation that has this login.
    pub async fn org_of(&self, org: Option<OrgSlug>, worker: &WorkerLogin) -> Result<OrgSlug> {
        if let Some(org) = org {
            return Ok(org);
        }
        let mut found = self.store().organisations_of(worker).await?;
        match found.len() {
            0 => Err(Error::UnknownWorker(worker.to_string())),
            1 => Ok(found.remove(0)),
            _ => Err(Error::AmbiguousWorker(worker.to_string())),
        }
    }

    /// Decides a request; answered only once its audit event is durable.
    pub async fn decide(&self, org: &OrgSlug, request: &Request) -> Result<Audited<Decision>> {
        check_free_text(request)?;
        Ok(self.access.decide(org, request).await?)
    }

    /// Decides and accounts for every rule (audited like a decision).
    pub async fn explain(&self, org: &OrgSlug, request: &Request) -> Result<Audited<Explanation>> {
        check_free_text(request)?;
        Ok(self.access.explain(org, request).await?)
    }

    /// Decides `request` and fails with the rules' reasons unless allowed.
    pub async fn require(&self, org: &OrgSlug, request: &Request) -> Result<Decision> {
        Ok(self.require_with_facts(org, request).await?.0)
    }

    /// Decides (and audits) `action` on one of the firm's own records
    /// (the audit log, a register, the dossier, breaches, campaigns, the
    /// opt-out list) for `reader`; an error with the rules' reasons unless
    /// allowed. The CLI and the web UI both ask here.
    pub async fn require_office(
        &self,
        org: &OrgSlug,
        reader: &Reader,
        action: custodia_engine::rules::Action,
        kind: custodia_engine::rules::ResourceKind,
        name: Option<custodia_engine::rules::OfficeName>,
    ) -> Result<Decision> {
        let resource =
            custodia_engine::rules::ResourceRef::office(kind, name).ok_or_else(|| {
                custodia_engine::Error::InvalidValue {
                    kind: "office resource",
                    value: kind.to_string(),
                    reason: "is part of a customer's record",
                }
            })?;
        let request = Request {
            worker: reader.worker.clone(),
            action,
            resource,
            context: reader.context.clone(),
        };
        self.require(org, &request).await
    }

    /// [`Custodia::require`], giving back the facts the decision was made
    /// on, so that the caller acting on it does not read them again.
    pub(crate) async fn require_with_facts(
        &self,
        org: &OrgSlug,
        request: &Request,
    ) -> Result<(Decision, custodia_engine::rules::Facts)> {
        check_free_text(request)?;
        let (decided, facts) = self.access.decide_with_facts(org, request).await?;
        let decision = decided.answer;
        match facts {
            Some(facts) if decision.is_allowed() => Ok((decision, facts)),
            _ => Err(Error::Denied {
                worker: request.worker.to_string(),
                action: request.action.to_string(),
                resource: request.resource.to_string(),
                why: decision
                    .reasons
                    .iter()
                    .map(|r| r.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }

    /// Reloads the rule packs. A pack that fails to compile or to pass its
    /// tests leaves the packs in force untouched. Every attempt is audited
    /// in every organisation's chain; returns the new set or the refusal.
    pub async fn reload(&self, channel: &str) -> Result<std::result::Result<Arc<RuleSet>, String>> {
        let outcome = self.access.rules().reload().map_err(|e| e.to_string());
        let (detail, decision) = match &outcome {
            Ok(set) => {
                let packs: Vec<String> = set
                    .packs()
                    .iter()
                    .map(|p| format!("{} {}", p.name(), p.manifest.version))
                    .collect();
                (format!("reloaded: {}", packs.join(", ")), Effect::Allow)
            }
            Err(e) => (format!("refused, previous packs kept: {e}"), Effect::Deny),
        };
        for org in self.store().organisations().await? {
            let mut event = AuditEvent::new(EventKind::RulesReload, chrono::Utc::now());
            event.decision = Some(decision);
            event.channel = Some(channel.to_owned());
            event.detail = Some(detail.clone());
            self.audit().append(&org.slug, event).await?;
        }
        Ok(outcome)
    }
}

/// Refuses client-supplied free text longer than [`MAX_FREE_TEXT`].
pub(crate) fn check_free_text(request: &Request) -> Result<()> {
    let fields = [
        ("purpose", request.context.purpose.as_deref()),
        ("channel", Some(request.context.channel.as_str())),
        ("address", request.context.address.as_deref()),
    ];
    for (field, value) in fields {
        if value.is_some_and(|v| v.chars().count() > MAX_FREE_TEXT) {
            return Err(Error::TooLong {
                field,
                max: MAX_FREE_TEXT,
            });
        }
    }
    Ok(())
}
