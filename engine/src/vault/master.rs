//! The master key: the one secret that opens every organisation's key.
//! It comes from a key file (mode 0600) or from an environment variable
//! and is never stored in the database; the database only holds its id
//! beside each key it wrapped, so a wrong master key is named, not tried.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::cipher::{KEY_LEN, Key};
use crate::error::{Error, Result};
use crate::keyfile;

const HEADER: &str = "custodia master key v1";

/// The environment variable that may hold the master key as 64 hex digits.
pub const MASTER_KEY_VAR: &str = "CUSTODIA_MASTER_KEY";

/// One master key and its public id.
#[derive(Debug, Clone)]
pub struct MasterKey {
    id: String,
    key: Key,
}

impl MasterKey {
    /// A fresh master key.
    pub fn random() -> Self {
        Self::from_key(Key::random())
    }

    fn from_key(key: Key) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"custodia/vault/master-id\0");
        hash.update(key.bytes());
        let id = hex::encode(&hash.finalize()[..8]);
        Self { id, key }
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes: [u8; KEY_LEN] = hex::decode(text.trim()).ok()?.try_into().ok()?;
        Some(Self::from_key(Key::from_bytes(bytes)))
    }

    /// The id stored beside every key this one wraps (not secret).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn key(&self) -> &Key {
        &self.key
    }

    fn line(&self) -> String {
        format!("{} {}\n", self.id, hex::encode(self.key.bytes()))
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterSource {
    /// A key file: the first key is current, later ones are older keys
    /// kept while a rotation re-wraps the organisations' keys.
    File(PathBuf),
    /// [`MASTER_KEY_VAR`]; cannot be rotated by Custodia.
    Env,
    /// Given by the caller (tests and benchmarks).
    Fixed,
}

/// The master keys in force, current first.
#[derive(Debug, Clone)]
pub struct MasterRing {
    pub(super) keys: Vec<MasterKey>,
}

impl MasterRing {
    /// One key, current.
    pub fn single(key: MasterKey) -> Self {
        Self { keys: vec![key] }
    }

    /// The key new wraps use.
    pub fn current(&self) -> &MasterKey {
        // INVARIANT: a ring is never empty (`load` refuses an empty file).
        &self.keys[0]
    }

    /// The key with this id, if the ring holds it.
    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = keyfile::read_private(path, "master key")?;
        let bad = |line: usize, message: &str| Error::Input {
            path: path.to_owned(),
            line,
            message: message.to_owned(),
        };
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, l)| l.trim()) != Some(HEADER) {
            return Err(bad(1, "not a Custodia master key file"));
        }
        let mut keys = Vec::new();
        for (i, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
            let (id, hex_key) = line.trim().split_once(' ').unwrap_or(("", line));
            let key = MasterKey::from_hex(hex_key)
                .ok_or_else(|| bad(i + 1, "expected `ID HEX`: a key of 64 hex digits"))?;
            if key.id != id {
                return Err(bad(i + 1, "the key does not match its id (altered file?)"));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(bad(2, "the file holds no key"));
        }
        Ok(Self { keys })
    }

    /// Creates a key file with one fresh key; refuses to overwrite one.
    pub fn create(path: &Path) -> Result<Self> {
        let ring = Self::single(MasterKey::random());
        keyfile::create_private(path, &ring.text())?;
        Ok(ring)
    }

    /// Writes the ring over its file, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        keyfile::replace_private(path, self.text().as_bytes())
    }

    fn text(&self) -> String {
        let mut text = format!("{HEADER}\n");
        for key in &self.keys {
            text.push_str(&key.line());
        }
        text
    }

    /// Reads [`MASTER_KEY_VAR`]; `None` when unset.
    pub fn from_env() -> Result<Option<Self>> {
        let Ok(text) = std::env::var(MASTER_KEY_VAR) else {
            return Ok(None);
        };
        let key = MasterKey::from_hex(&text).ok_or(Error::InvalidValue {
            kind: "master key",
            value: format!("${MASTER_KEY_VAR}"),
            reason: "expected 64 hex digits (32 bytes)",
        })?;
        Ok(Some(Self::single(key)))
    }
}

/// The default master key file: beside a SQLite database, else in the
/// current directory. The README tells operators to keep it elsewhere.
pub fn default_path(db_url: &str) -> PathBuf {
    crate::keyfile::beside_store(db_url, "master-key", "custodia-master.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_key_file_round_trips_and_names_a_bad_line() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("master");
        let ring = MasterRing::create(&path).expect("create");
        let again = MasterRing::load(&path).expect("load");
        assert_eq!(again.current().id(), ring.current().id());
        let mut text = std::fs::read_to_string(&path).expect("read");
        text = text.replace(ring.current().id(), "0000000000000000");
        keyfile::replace_private(&path, text.as_bytes()).expect("write");
        let err = MasterRing::load(&path).expect_err("altered");
        assert!(err.to_string().contains("line 2"), "{err}");
        assert_eq!(
            default_path("sqlite://data/c.db"),
            PathBuf::from("data/c.db.master-key")
        );
    }
}
