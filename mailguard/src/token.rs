//! Signed unsubscribe tokens: HMAC-SHA256 over (organisation, campaign,
//! address), so nobody can forge a link for someone else's address.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// What an unsubscribe token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub org: String,
    pub campaign: String,
    pub address: String,
}

/// The secrets that sign tokens, kept in a 0600 file: one hex key per
/// line, the last one signs and every one verifies, so a key can be
/// rotated while links already sent keep working. Tokens name their key.
#[derive(Clone)]
pub struct TokenKey {
    /// (key id, key), oldest first; never empty.
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(redacted)")
    }
}

/// A key's id: the first 8 hex digits of SHA-256 over it (not secret).
fn key_id(key: &[u8; 32]) -> String {
    use sha2::Digest;
    hex::encode(&Sha256::digest(key)[..4])
}

fn fresh_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
    key
}

impl TokenKey {
    /// Loads the key file, refusing one that others can read.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |message: String| Error::KeyFile {
            path: path.to_owned(),
            message,
        };
        let text = custodia_engine::keyfile::read_private(path, "unsubscribe-token key")?;
        let mut keys = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let bytes = hex::decode(line.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| bad(format!("line {}: not a 32-byte hex key", i + 1)))?;
            keys.push((key_id(&bytes), bytes));
        }
        if keys.is_empty() {
            return Err(bad("holds no key".into()));
        }
        Ok(Self { keys })
    }

    /// Creates a new key file (mode 0600); refuses to overwrite one.
    pub fn create(path: &Path) -> Result<Self> {
        let key = fresh_key();
        custodia_engine::keyfile::create_private(path, &format!("{}\n", hex::encode(key)))?;
        Ok(Self {
            keys: vec![(key_id(&key), key)],
        })
    }

    /// Adds a new signing key to the file; the old ones keep verifying.
    pub fn rotate(path: &Path) -> Result<Self> {
        let mut keys = Self::load(path)?;
        let key = fresh_key();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
        std::io::Write::write_all(&mut file, format!("{}\n", hex::encode(key)).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
        keys.keys.push((key_id(&key), key));
        Ok(keys)
    }

    /// A key from raw bytes (tests and benchmarks).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            keys: vec![(key_id(&bytes), bytes)],
        }
    }

    fn mac(key: &[u8; 32], payload: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length; 32 bytes never fails.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        mac.update(payload);
        mac
    }

    /// A token for one recipient of one campaign: `KEYID.PAYLOAD.TAG`.
    pub fn sign(&self, claims: &TokenClaims) -> String {
        let payload = format!("{}\n{}\n{}", claims.org, claims.campaign, claims.address);
        let Some((id, key)) = self.keys.last() else {
            unreachable!("a TokenKey always holds a key")
        };
        let tag = Self::mac(key, payload.as_bytes()).finalize().into_bytes();
        format!("{id}.{}.{}", hex::encode(payload), hex::encode(tag))
    }

    /// Checks a token in constant time and returns what it stands for.
    pub fn verify(&self, token: &str) -> Result<TokenClaims> {
        let mut parts = token.splitn(3, '.');
        let (Some(id), Some(payload), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::BadToken);
        };
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or(Error::BadToken)?;
        let payload = hex::decode(payload).map_err(|_| Error::BadToken)?;
        let tag = hex::decode(tag).map_err(|_| Error::BadToken)?;
        // verify_slice compares in constant time.
        Self::mac(key, &payload)
            .verify_slice(&tag)
            .map_err(|_| Error::BadToken)?;
        let text = String::from_utf8(payload).map_err(|_| Error::BadToken)?;
        let mut parts = text.splitn(3, '\n');
        let (Some(org), Some(campaign), Some(address)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::BadToken);
        };
        Ok(TokenClaims {
            org: org.to_owned(),
            campaign: campaign.to_owned(),
            address: address.to_owned(),
        })
    }
}

/// The default key file: beside a SQLite database, else in the current directory.
pub fn default_key_path(db_url: &str) -> std::path::PathBuf {
    custodia_engine::keyfile::beside_store(db_url, "mail-key", "custodia-mail.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            org: "bufete-ruiz".into(),
            campaign: "news".into(),
            address: "ana@x.example".into(),
        }
    }

    #[test]
    fn tokens_round_trip_and_resist_tampering() {
        let key = TokenKey::from_bytes([7; 32]);
        let token = key.sign(&claims());
        assert_eq!(key.verify(&token).expect("valid"), claims());
        // Someone else's address with the same tag.
        let other = TokenClaims {
            address: "eve@x.example".into(),
            ..claims()
        };
        let forged = format!(
            "{}.{}",
            key.sign(&other).rsplit_once('.').expect("dot").0,
            token.rsplit_once('.').expect("dot").1
        );
        assert!(key.verify(&forged).is_err());
        assert!(TokenKey::from_bytes([8; 32]).verify(&token).is_err());
        assert!(key.verify("garbage").is_err());
    }

    #[test]
    fn a_rotated_key_signs_while_the_old_one_still_verifies() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("mail.key");
        let old = TokenKey::create(&path).expect("create");
        let old_token = old.sign(&claims());
        let new = TokenKey::rotate(&path).expect("rotate");
        let new_token = new.sign(&claims());
        assert_ne!(old_token.split('.').next(), new_token.split('.').next());
        assert_eq!(new.verify(&old_token).expect("old link works"), claims());
        assert!(
            old.verify(&new_token).is_err(),
            "the old key does not know the new one"
        );
        assert_eq!(
            TokenKey::load(&path)
                .expect("load")
                .verify(&new_token)
                .expect("new"),
            claims()
        );
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("mail.key");
        TokenKey::create(&path).expect("create");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = TokenKey::load(&path).expect_err("refused").to_string();
        assert!(e.contains("accessible to others"), "{e}");
    }
}
