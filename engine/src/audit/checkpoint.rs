//! Ed25519-signed checkpoints of a chain's head, and the key that signs them.
//!
//! The signing key lives in a file outside the database (mode 0600), so
//! that someone who can rewrite the database cannot re-sign its chain.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::frontier::Frontier;
use super::merkle::{KEY_NAME, TreeHead, origin};
use crate::error::{Error, Result};

const KEY_HEADER: &str = "custodia-audit-signing-key-v1";

/// A signed statement: chain `org` had head `head_hash` at `seq`, at time
/// `at`, and the Merkle tree over its first `seq` event hashes had root
/// `root` (signed again as a C2SP `tlog-checkpoint` note, `note`, so that
/// transparency-log tools and witnesses can check and cosign it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub org: String,
    pub seq: i64,
    pub head_hash: String,
    pub at: DateTime<Utc>,
    /// Hex Ed25519 public key that signed it.
    pub public_key: String,
    /// Hex Ed25519 signature over [`Checkpoint::message`].
    pub signature: String,
    /// Hex RFC 9162 root of the tree of the chain's first `seq` events.
    pub root: String,
    /// The tree head as a signed note (`tlog-checkpoint`), by the same key
    /// under [`KEY_NAME`].
    pub note: String,
    /// The tree's right edge, as the database stores it: not signed, so
    /// used only after [`Checkpoint::holds_edge`] checked it against `root`.
    #[serde(skip)]
    pub edge: Option<Frontier>,
}

impl Checkpoint {
    /// The bytes that are signed.
    pub fn message(org: &str, seq: i64, head_hash: &str, at: DateTime<Utc>) -> Vec<u8> {
        format!(
            "custodia-checkpoint-v1\n{org}\n{seq}\n{head_hash}\n{}",
            at.timestamp_micros()
        )
        .into_bytes()
    }

    /// Whether both signatures are valid for `key`: the chain head's, and
    /// the note's over this organisation's tree of `seq` leaves at `root`.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        let linear = key.verify(
            &Self::message(&self.org, self.seq, &self.head_hash, self.at),
            &signature,
        );
        linear.is_ok() && self.note_holds(key)
    }

    fn note_holds(&self, key: &VerifyingKey) -> bool {
        TreeHead::open(&self.note, KEY_NAME, key).is_ok_and(|head| {
            head.origin == origin(&self.org)
                && i64::try_from(head.size).is_ok_and(|size| size == self.seq)
                && hex::encode(head.root) == self.root
        })
    }

    /// The right edge as the database stores it (empty when there is none).
    pub fn edge_text(&self) -> String {
        self.edge
            .as_ref()
            .map_or_else(String::new, Frontier::encode)
    }

    /// The stored right edge, if it is the edge of the signed tree: its
    /// size is `seq` and it folds to `root` (forging another edge with the
    /// same root would take a SHA-256 collision).
    pub fn holds_edge(&self) -> Option<&Frontier> {
        self.edge.as_ref().filter(|edge| {
            i64::try_from(edge.size()).is_ok_and(|size| size == self.seq)
                && hex::encode(edge.root()) == self.root
        })
    }
}

/// The signing key.
pub struct Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(public {})", self.public_hex())
    }
}

impl Signer {
    /// Creates a new key file with mode 0600; refuses to overwrite one.
    pub fn create(path: &Path) -> Result<Self> {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        crate::keyfile::create_private(
            path,
            &format!("{KEY_HEADER}\n{}\n", hex::encode(key.to_bytes())),
        )?;
        Ok(Self { key })
    }

    /// Loads a key file, refusing one that others can read.
    pub fn load(path: &Path) -> Result<Self> {
        let text = crate::keyfile::read_private(path, "audit signing key")?;
        let bad = |message: &str| Error::File {
            path: path.to_owned(),
            message: message.to_owned(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(KEY_HEADER) {
            return Err(bad("not a Custodia audit signing key"));
        }
        let bytes = hex::decode(lines.next().unwrap_or_default().trim())
            .map_err(|_| bad("the key is not hex"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("the key is not 32 bytes"))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Loads the key file, creating it first if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        if path.exists() {
            Self::load(path)
        } else {
            Self::create(path)
        }
    }

    /// Signs a checkpoint of `org`'s chain whose head is `head_hash` and
    /// whose tree's edge is `tree` (its size is the head's sequence).
    pub fn sign(
        &self,
        org: &str,
        head_hash: &str,
        tree: &Frontier,
        at: DateTime<Utc>,
    ) -> Checkpoint {
        let seq = i64::try_from(tree.size()).unwrap_or(i64::MAX);
        let signature = self.key.sign(&Checkpoint::message(org, seq, head_hash, at));
        let head = TreeHead {
            origin: origin(org),
            size: tree.size(),
            root: tree.root(),
        };
        Checkpoint {
            org: org.to_owned(),
            seq,
            head_hash: head_hash.to_owned(),
            at,
            public_key: self.public_hex(),
            signature: hex::encode(signature.to_bytes()),
            root: hex::encode(head.root),
            note: self.sign_note(&head, KEY_NAME),
            edge: Some(tree.clone()),
        }
    }

    /// Signs a Merkle tree head as a C2SP signed note under `name`.
    pub fn sign_note(&self, head: &super::merkle::TreeHead, name: &str) -> String {
        head.sign(name, &self.key)
    }

    /// The key that turns addresses into the pseudonyms events carry,
    /// derived from this key (losing one loses both, as it should).
    pub fn pseudonyms(&self) -> super::Pseudonyms {
        super::pseudonym::derive(&self.key.to_bytes())
    }

    /// The public key, for verifiers.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }
}

/// Parses a hex public key.
pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey> {
    let bad = || Error::InvalidValue {
        kind: "public key",
        value: hex_key.to_owned(),
        reason: "expected 64 hex digits (an Ed25519 public key)",
    };
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
}

/// The default key file path: beside a SQLite database, else in the
/// current directory.
pub fn default_key_path(db_url: &str) -> PathBuf {
    crate::keyfile::beside_store(db_url, "audit-key", "custodia-audit.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_verify_only_with_their_key() {
        let dir = tempfile::tempdir().expect("dir");
        let signer = Signer::create(&dir.path().join("k")).expect("create");
        let other = Signer::create(&dir.path().join("k2")).expect("create");
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let cp = signer.sign("org", "abc", &tree(10), at);
        assert!(cp.verify(&signer.verifying_key()));
        assert!(!cp.verify(&other.verifying_key()));
        let mut moved = cp.clone();
        moved.seq = 11;
        assert!(!moved.verify(&signer.verifying_key()));
        let mut elsewhere = cp.clone();
        elsewhere.org = "other".into();
        assert!(!elsewhere.verify(&signer.verifying_key()));
    }

    /// The edge of a tree of `n` made-up events.
    pub(crate) fn tree(n: u8) -> Frontier {
        let mut edge = Frontier::default();
        for i in 0..n {
            edge.push_event(&[i; 32]);
        }
        edge
    }

    #[test]
    fn a_checkpoint_signs_the_tree_root_as_a_note_too() {
        let dir = tempfile::tempdir().expect("dir");
        let signer = Signer::create(&dir.path().join("k")).expect("create");
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let cp = signer.sign("org", "abc", &tree(10), at);
        let head = TreeHead::open(&cp.note, KEY_NAME, &signer.verifying_key()).expect("note");
        assert_eq!(head.origin, "custodia/audit/org");
        assert_eq!(head.size, 10);
        assert_eq!(hex::encode(head.root), cp.root);
        assert!(cp.holds_edge().is_some());
        // Another root, even under a valid note of another tree, fails.
        let mut swapped = cp.clone();
        swapped.root = hex::encode(tree(9).root());
        assert!(!swapped.verify(&signer.verifying_key()));
        let mut grown = cp.clone();
        grown.note = signer.sign("org", "abc", &tree(11), at).note;
        assert!(!grown.verify(&signer.verifying_key()));
        // An edge that is not the tree's is not used.
        let mut other_edge = cp.clone();
        other_edge.edge = Some(tree(9));
        assert!(other_edge.holds_edge().is_none());
    }

    #[test]
    fn key_files_are_private_and_reloadable() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key");
        let signer = Signer::create(&path).expect("create");
        assert!(Signer::create(&path).is_err(), "never overwrite a key");
        assert_eq!(
            Signer::load(&path).expect("load").public_hex(),
            signer.public_hex()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let err = Signer::load(&path).expect_err("world-readable");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn default_key_sits_beside_the_sqlite_file() {
        assert_eq!(
            default_key_path("sqlite:///var/c.db?mode=rwc"),
            PathBuf::from("/var/c.db.audit-key")
        );
        assert_eq!(
            default_key_path("sqlite://custodia.db"),
            PathBuf::from("custodia.db.audit-key")
        );
        assert_eq!(
            default_key_path("postgres://x@h/db"),
            PathBuf::from("custodia-audit.key")
        );
    }
}
