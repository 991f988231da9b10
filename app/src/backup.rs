//! Backups: a consistent snapshot of the store and the blobs it refers
//! to, sealed under a key derived from the master key; a restore into an
//! empty store of either backend; and a check that restores into a scratch
//! store, verifies the audit chains, opens a sample of sealed data and
//! compares counts, then records the result as the dossier's backup
//! evidence.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use custodia_engine::store::backup::Snapshot;
use custodia_engine::vault::blob::BlobStore;
use custodia_engine::{Backup, EntryId, OrgSlug, RegisterEntry, Store, Vault};
use serde::{Deserialize, Serialize};

use crate::Custodia;
use crate::error::{Error, Result};

const HEADER: &str = "custodia backup v1";

/// What a backup holds once opened: the rows and the sealed blobs.
#[derive(Debug, Serialize, Deserialize)]
struct Contents {
    snapshot: Snapshot,
    /// Blob address to its sealed bytes (base64).
    blobs: BTreeMap<String, String>,
}

/// What `backup` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    pub file: String,
    pub bytes: u64,
    pub taken_at: chrono::DateTime<chrono::Utc>,
    pub master_key: String,
    pub rows: i64,
    pub blobs: usize,
    pub seconds: f64,
}

/// What `backup check` found.
#[derive(Debug, Clone, Serialize)]
pub struct BackupCheck {
    pub ok: bool,
    /// Why the check failed.
    pub reason: Option<String>,
    pub taken_at: Option<chrono::DateTime<chrono::Utc>>,
    pub organisations: Vec<String>,
    pub rows: i64,
    pub audit_events_verified: i64,
    pub records_opened: usize,
    pub documents_opened: usize,
    pub seconds: f64,
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::Backup(reason.into())
}

/// Reads a backup file and opens it with `vault`'s master keys.
fn open_file(vault: &Vault, path: &Path) -> Result<Contents> {
    let bytes = std::fs::read(path).map_err(|source| custodia_engine::Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut parts = bytes.splitn(3, |&b| b == b'\n');
    let header = parts.next().unwrap_or_default();
    if header != HEADER.as_bytes() {
        return Err(corrupt(format!(
            "`{}` is not a Custodia backup",
            path.display()
        )));
    }
    let master = parts
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.strip_prefix("master "))
        .ok_or_else(|| corrupt("the backup's header names no master key (truncated?)"))?;
    let sealed = parts
        .next()
        .ok_or_else(|| corrupt("the backup is truncated"))?;
    let plain = vault.open_backup(master, sealed)?;
    serde_json::from_slice(&plain)
        .map_err(|e| corrupt(format!("the backup's contents do not parse: {e}")))
}

impl Custodia {
    /// Writes a consistent, sealed snapshot of the whole store and its
    /// blobs to `path` while the store stays in use.
    pub async fn backup(&self, path: &Path) -> Result<BackupSummary> {
        let started = std::time::Instant::now();
        let snapshot = self.store().snapshot().await?;
        let blobs_store = self.config().blob_store()?;
        let mut blobs = BTreeMap::new();
        for address in held_blobs(&snapshot) {
            let sealed = blobs_store.get(&address).await?;
            blobs.insert(address, b64(&sealed));
        }
        let rows = snapshot.counts().values().sum();
        let taken_at = snapshot.taken_at;
        let blob_count = blobs.len();
        let contents = Contents { snapshot, blobs };
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(&contents).map_err(|e| corrupt(format!("cannot encode: {e}")))?,
        );
        let (master, sealed) = self.store().vault()?.seal_backup(&plain)?;
        let mut file = format!("{HEADER}\nmaster {master}\n").into_bytes();
        file.extend_from_slice(&sealed);
        // Everything the firm holds leaves in it: an export in every
        // organisation's log, recorded before the file exists.
        for org in organisations(&contents.snapshot) {
            let mut event = custodia_engine::audit::AuditEvent::new(
                custodia_engine::audit::EventKind::Export,
                chrono::Utc::now(),
            );
            event.action = Some("backup".into());
            event.detail = Some(format!(
                "sealed backup taken at {taken_at} ({rows} rows, {blob_count} blobs) to `{}`",
                path.display()
            ));
            let slug: OrgSlug = org.parse()?;
            self.audit().append(&slug, event).await?;
        }
        // Private like a key file: sealed, but still everything the firm holds.
        custodia_engine::keyfile::replace_private(path, &file)?;
        Ok(BackupSummary {
            file: path.display().to_string(),
            bytes: file.len() as u64,
            taken_at,
            master_key: master,
            rows,
            blobs: blob_count,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Restores a backup into a scratch store, verifies every audit chain
    /// in it, opens sealed records and documents, compares counts, and
    /// records the outcome as a backup entry (with its restore check) in
    /// each organisation it holds. A backup that fails is an error only
    /// when nothing in it can be read; otherwise the failure is the answer.
    pub async fn check_backup(&self, path: &Path) -> Result<BackupCheck> {
        let started = std::time::Instant::now();
        let contents = open_file(self.store().vault()?, path)?;
        let mut check = BackupCheck {
            ok: false,
            reason: None,
            taken_at: Some(contents.snapshot.taken_at),
            organisations: organisations(&contents.snapshot),
            rows: contents.snapshot.counts().values().sum(),
            audit_events_verified: 0,
            records_opened: 0,
            documents_opened: 0,
            seconds: 0.0,
        };
        if let Err(reason) = self.scratch_check(&contents, &mut check).await {
            check.reason = Some(reason);
        } else {
            check.ok = true;
        }
        check.seconds = started.elapsed().as_secs_f64();
        self.record_check(path, &check).await?;
        Ok(check)
    }

    async fn scratch_check(
        &self,
        contents: &Contents,
        check: &mut BackupCheck,
    ) -> std::result::Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| format!("no scratch folder: {e}"))?;
        let url = format!("sqlite://{}", dir.path().join("check.db").display());
        let vault = self
            .store()
            .vault()
            .map_err(|e| e.to_string())?
            .sibling()
            .map_err(|e| e.to_string())?;
        let scratch = Store::init(&url)
            .await
            .map_err(|e| e.to_string())?
            .with_vault(Arc::new(vault));
        let blobs = BlobStore::folder(dir.path().join("blobs"));
        let outcome = self.verify_scratch(&scratch, contents, &blobs, check).await;
        scratch.close().await;
        outcome
    }

    async fn verify_scratch(
        &self,
        scratch: &Store,
        contents: &Contents,
        blobs: &BlobStore,
        check: &mut BackupCheck,
    ) -> std::result::Result<(), String> {
        restore_into(scratch, contents, blobs)
            .await
            .map_err(|e| format!("restore failed: {e}"))?;
        let restored = scratch.table_counts().await.map_err(|e| e.to_string())?;
        let expected = contents.snapshot.counts();
        if restored != expected {
            return Err(format!(
                "row counts differ after restore: {restored:?} against {expected:?}"
            ));
        }
        let key = custodia_engine::audit::Signer::load(&self.config().audit_key_path())
            .map_err(|e| format!("cannot check checkpoint signatures: {e}"))?
            .verifying_key();
        for org in &check.organisations {
            let slug: OrgSlug = org
                .parse()
                .map_err(|e: custodia_engine::Error| e.to_string())?;
            let report = scratch
                .verify_audit(&slug, Some(&key), None, |_| {})
                .await
                .map_err(|e| format!("audit chain of `{org}`: {e}"))?;
            if let Some(broken) = &report.broken {
                return Err(format!(
                    "audit chain of `{org}` is broken at event {}: {}",
                    broken.seq, broken.detail
                ));
            }
            check.audit_events_verified += report.events;
            let scope = scratch.org(&slug).await.map_err(|e| e.to_string())?;
            // A sample: the first records of each organisation, whole.
            for mut customer in scope
                .customers()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .take(25)
            {
                scope
                    .unseal(&mut customer, &[])
                    .await
                    .map_err(|e| format!("sealed data does not open: {e}"))?;
                check.records_opened += 1;
            }
            let documents = scope.documents().await.map_err(|e| e.to_string())?;
            for document in documents.iter().filter(|d| d.held.is_some()).take(10) {
                scope
                    .document_bytes(document, blobs)
                    .await
                    .map_err(|e| format!("document `{}` does not open: {e}", document.id))?;
                check.documents_opened += 1;
            }
        }
        Ok(())
    }

    /// The check's outcome as a backup register entry in each organisation
    /// the backup holds and this store knows (audited like any entry).
    async fn record_check(&self, path: &Path, check: &BackupCheck) -> Result<()> {
        let Some(taken_at) = check.taken_at else {
            return Ok(());
        };
        let id = EntryId::new(format!("backup-{}", taken_at.format("%Y%m%dT%H%M%S")))?;
        let known: Vec<OrgSlug> = self
            .store()
            .organisations()
            .await?
            .into_iter()
            .map(|o| o.slug)
            .collect();
        for org in known
            .iter()
            .filter(|o| check.organisations.contains(&o.to_string()))
        {
            let entry = RegisterEntry::Backup(Backup {
                id: id.clone(),
                taken_at,
                location: path.display().to_string(),
                encrypted: true,
                restore_checked: Some(chrono::Utc::now().date_naive()),
                restore_ok: Some(check.ok),
            });
            self.store()
                .org(org)
                .await?
                .add_register_entry(&entry, true)
                .await?;
        }
        Ok(())
    }
}

/// Restores a backup into the empty store `config.db` (either backend),
/// its blobs into the configured blob folder. Opens no core on the target:
/// the master key must already exist (file or environment) and is never
/// created here, and no key of the target is made up.
pub async fn restore(config: &crate::Config, path: &Path) -> Result<BTreeMap<String, i64>> {
    let vault = crate::keys::existing_vault(&config.master_key_path())?;
    let contents = open_file(&vault, path)?;
    let target = Store::init(&config.db).await?;
    let counts = restore_into(&target, &contents, &config.blob_store()?).await;
    target.close().await;
    counts
}

/// The organisations a snapshot holds.
fn organisations(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .tables
        .iter()
        .find(|t| t.name == "organisations")
        .map(|t| {
            let slug = t.columns.iter().position(|c| c.name == "slug").unwrap_or(0);
            t.rows
                .iter()
                .filter_map(|r| r.get(slug).and_then(|v| v.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The blob addresses the snapshot's documents refer to.
fn held_blobs(snapshot: &Snapshot) -> Vec<String> {
    let Some(table) = snapshot.tables.iter().find(|t| t.name == "documents") else {
        return Vec::new();
    };
    let Some(column) = table.columns.iter().position(|c| c.name == "blob") else {
        return Vec::new();
    };
    let mut blobs: Vec<String> = table
        .rows
        .iter()
        .filter_map(|r| r.get(column).and_then(|v| v.as_str()).map(str::to_owned))
        .collect();
    blobs.sort();
    blobs.dedup();
    blobs
}

/// Writes the rows, then the blobs (each checked against its address).
async fn restore_into(
    target: &Store,
    contents: &Contents,
    blobs: &BlobStore,
) -> Result<BTreeMap<String, i64>> {
    let counts = target.restore(&contents.snapshot).await?;
    for (address, text) in &contents.blobs {
        let sealed =
            unb64(text).ok_or_else(|| corrupt(format!("blob `{address}` is not base64")))?;
        if BlobStore::address(&sealed) != *address {
            return Err(corrupt(format!(
                "blob `{address}` does not match its address"
            )));
        }
        blobs.put(sealed).await?;
    }
    Ok(counts)
}
