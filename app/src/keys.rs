//! The keys that make Custodia's proofs hold: the audit signing key and
//! the unsubscribe-token key. Created once, never silently replaced.

use std::path::Path;

use custodia_engine::Store;
use custodia_engine::audit::Signer;
use custodia_mailguard::TokenKey;

use crate::error::{Error, Result};

/// Loads the audit signing key, or creates it for a store that has never
/// recorded an event.
// INVARIANT: once a store has audit events, a missing key is an error that
// names the file; a new key would sign a history it never saw.
pub async fn audit_signer(store: &Store, path: &Path) -> Result<Signer> {
    if path.exists() {
        return Ok(Signer::load(path)?);
    }
    let used: Option<(i64,)> = sqlx::query_as("SELECT seq FROM audit_events LIMIT 1")
        .fetch_optional(store.pool())
        .await
        .map_err(custodia_engine::Error::from)?;
    if used.is_some() {
        return Err(Error::KeyMissing {
            what: "audit signing key",
            path: path.to_owned(),
            why: "the store already has audit events signed with it",
        });
    }
    match Signer::create(path) {
        // Another server on the same store made it a moment ago.
        Err(custodia_engine::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            Ok(Signer::load(path)?)
        }
        other => Ok(other?),
    }
}

/// Loads the unsubscribe-token key, or creates it while no campaign has
/// sent anything.
// INVARIANT: once messages went out, their links must keep working: a
// missing key is an error, never a new key.
pub async fn token_key(store: &Store, path: &Path) -> Result<TokenKey> {
    if path.exists() {
        return Ok(TokenKey::load(path)?);
    }
    let sent: Option<(String,)> =
        sqlx::query_as("SELECT campaign FROM outbox WHERE state IN ('sending', 'sent', 'failed', 'uncertain') LIMIT 1")
            .fetch_optional(store.pool())
            .await
            .map_err(custodia_engine::Error::from)?;
    if sent.is_some() {
        return Err(Error::KeyMissing {
            what: "unsubscribe-token key",
            path: path.to_owned(),
            why: "campaigns were sent with links signed by it",
        });
    }
    match TokenKey::create(path) {
        Err(custodia_mailguard::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            Ok(TokenKey::load(path)?)
        }
        other => Ok(other?),
    }
}
