//! Opening what a command needs: the store, the rules in force, the audit
//! log and its signing key.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use custodia_engine::audit::{
    AuditConfig, AuditEvent, AuditLog, EventKind, Signer, default_key_path,
};
use custodia_engine::exchange::ImportSummary;
use custodia_engine::rules::Rules;
use custodia_engine::{AccessControl, OrgSlug, Store, WorkerLogin};

use crate::cli::Global;

/// Where rule packs are read from: `--packs`, else `plugins/packs` in the
/// current directory, else the packs shipped with this source tree.
pub fn packs_dir(g: &Global) -> PathBuf {
    if let Some(dir) = &g.packs {
        return dir.clone();
    }
    let local = PathBuf::from("plugins/packs");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/plugins/packs"))
}

/// The audit signing key's path.
pub fn key_path(g: &Global) -> PathBuf {
    g.audit_key
        .clone()
        .unwrap_or_else(|| default_key_path(&g.db))
}

/// Store, rules and audit log, opened together.
pub struct App {
    pub access: AccessControl,
}

impl App {
    /// Opens everything; the audit writer runs until [`App::close`].
    pub async fn open(g: &Global) -> anyhow::Result<Self> {
        let store = Store::init(&g.db).await?;
        let packs = packs_dir(g);
        let rules = Rules::load(&packs)
            .with_context(|| format!("cannot load rule packs from `{}`", packs.display()))?;
        let signer = Arc::new(Signer::load_or_create(&key_path(g))?);
        let audit = AuditLog::spawn(store.clone(), Some(signer), AuditConfig::default());
        Ok(Self {
            access: AccessControl::new(store, Arc::new(rules), audit),
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.access.store()
    }

    /// Flushes the audit log, signs final checkpoints, closes the store.
    pub async fn close(self) -> anyhow::Result<()> {
        self.access.audit().shutdown().await?;
        self.access.store().close().await;
        Ok(())
    }
}

/// The organisation a worker belongs to: `--org` when given, else the only
/// organisation that has this login.
pub async fn org_of(
    store: &Store,
    org: Option<OrgSlug>,
    worker: &WorkerLogin,
) -> anyhow::Result<OrgSlug> {
    if let Some(org) = org {
        return Ok(org);
    }
    let mut found = Vec::new();
    for o in store.organisations().await? {
        if store.org(&o.slug).await?.worker(worker).await.is_ok() {
            found.push(o.slug);
        }
    }
    match found.len() {
        0 => anyhow::bail!("worker `{worker}` not found in any organisation"),
        1 => Ok(found.remove(0)),
        _ => anyhow::bail!("worker `{worker}` exists in several organisations: pass --org"),
    }
}

/// Records one event and waits for it to be durable (for commands that do
/// not otherwise run the audit writer).
pub async fn audit_once(
    g: &Global,
    store: &Store,
    org: &OrgSlug,
    kind: EventKind,
    detail: String,
) -> anyhow::Result<()> {
    let signer = Arc::new(Signer::load_or_create(&key_path(g))?);
    let log = AuditLog::spawn(store.clone(), Some(signer), AuditConfig::default());
    let mut event = AuditEvent::new(kind, chrono::Utc::now());
    event.channel = Some("cli".into());
    event.detail = Some(detail);
    log.append(org, event).await?;
    log.shutdown().await?;
    Ok(())
}

/// Records an organisation import in its chain.
pub async fn audit_import(
    g: &Global,
    store: &Store,
    summary: &ImportSummary,
    source: &str,
) -> anyhow::Result<()> {
    let org = OrgSlug::new(summary.organisation.clone())?;
    let detail = format!(
        "{source}: {} workers, {} customers, {} documents, {} register entries",
        summary.workers, summary.customers, summary.documents, summary.register_entries
    );
    audit_once(g, store, &org, EventKind::Import, detail).await
}
