//! The keys that make Custodia's proofs hold: the audit signing key and
//! the unsubscribe-token key. Created once, never silently replaced.

use std::path::Path;

use custodia_engine::Store;
use custodia_engine::audit::Signer;
use custodia_engine::vault::{MasterRing, MasterSource, Vault};
use custodia_mailguard::TokenKey;

use crate::error::{Error, Result};

/// One kind of key file: how to load and create it, and how to tell that
/// a creation lost a race with another server.
struct KeyKind<K, E> {
    what: &'static str,
    /// Why a missing file is an error once the key was used.
    why: &'static str,
    load: fn(&Path) -> std::result::Result<K, E>,
    create: fn(&Path) -> std::result::Result<K, E>,
    already_exists: fn(&E) -> bool,
}

// INVARIANT: a key is created only when `used` says nothing it signs
// exists yet; otherwise a missing file is an error naming it.
impl<K, E> KeyKind<K, E>
where
    Error: From<E>,
{
    fn open(&self, path: &Path, used: bool) -> Result<K> {
        if path.exists() {
            return Ok((self.load)(path)?);
        }
        if used {
            return Err(Error::KeyMissing {
                what: self.what,
                path: path.to_owned(),
                why: self.why,
            });
        }
        match (self.create)(path) {
            // Another server on the same store made it a moment ago.
            Err(e) if (self.already_exists)(&e) => Ok((self.load)(path)?),
            other => Ok(other?),
        }
    }
}

/// Whether `sql` finds a row.
async fn any_row(store: &Store, sql: &str) -> Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(sql)
        .fetch_optional(store.pool())
        .await
        .map_err(custodia_engine::Error::from)?;
    Ok(row.is_some())
}

/// Loads the audit signing key, or creates it for a store that has never
/// recorded an event.
pub async fn audit_signer(store: &Store, path: &Path) -> Result<Signer> {
    let used = any_row(store, "SELECT seq FROM audit_events LIMIT 1").await?;
    KeyKind {
        what: "audit signing key",
        why: "the store already has audit events signed with it",
        load: Signer::load,
        create: Signer::create,
        already_exists: |e| {
            matches!(e, custodia_engine::Error::Io { source, .. }
                if source.kind() == std::io::ErrorKind::AlreadyExists)
        },
    }
    .open(path, used)
}

/// Loads the unsubscribe-token key, or creates it while no campaign has
/// sent anything: once messages went out, their links must keep working.
pub async fn token_key(store: &Store, path: &Path) -> Result<TokenKey> {
    let used = any_row(
        store,
        "SELECT position FROM outbox WHERE state IN ('sending', 'sent', 'failed', 'uncertain') LIMIT 1",
    )
    .await?;
    KeyKind {
        what: "unsubscribe-token key",
        why: "campaigns were sent with links signed by it",
        load: TokenKey::load,
        create: TokenKey::create,
        already_exists: |e| {
            matches!(e, custodia_mailguard::Error::Engine(custodia_engine::Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists)
        },
    }
    .open(path, used)
}

/// Loads the vault's master key: from `CUSTODIA_MASTER_KEY` when set, else
/// from the key file, created while the store has sealed nothing. The key
/// must open every organisation key the store holds: a wrong one is an
/// error here, before anything is written.
pub async fn vault(store: &Store, path: &Path) -> Result<Vault> {
    let vault = match MasterRing::from_env()? {
        Some(ring) => Vault::new(MasterSource::Env, ring),
        None => {
            let used = any_row(store, "SELECT version FROM vault_org_keys LIMIT 1").await?;
            let ring = KeyKind {
                what: "vault master key",
                why: "the store holds data sealed under it",
                load: MasterRing::load,
                create: MasterRing::create,
                already_exists: |e| {
                    matches!(e, custodia_engine::Error::Io { source, .. }
                        if source.kind() == std::io::ErrorKind::AlreadyExists)
                },
            }
            .open(path, used)?;
            Vault::new(MasterSource::File(path.to_owned()), ring)
        }
    };
    vault.check(store.pool()).await?;
    Ok(vault)
}

/// The vault's master key for a store that is not opened (a restore):
/// from `CUSTODIA_MASTER_KEY`, else the key file, which must exist.
pub fn existing_vault(path: &Path) -> Result<Vault> {
    if let Some(ring) = MasterRing::from_env()? {
        return Ok(Vault::new(MasterSource::Env, ring));
    }
    if !path.exists() {
        return Err(Error::KeyMissing {
            what: "vault master key",
            path: path.to_owned(),
            why: "the backup is sealed under it",
        });
    }
    Ok(Vault::new(
        MasterSource::File(path.to_owned()),
        MasterRing::load(path)?,
    ))
}
