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

/// The secret that signs tokens. Kept in a 0600 file beside the database.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(redacted)")
    }
}

impl TokenKey {
    /// Loads the key file, creating it (mode 0600) if missing.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        if let Ok(text) = std::fs::read_to_string(path) {
            let bytes = hex::decode(text.trim()).map_err(|_| Error::BadToken)?;
            return Ok(Self(bytes.try_into().map_err(|_| Error::BadToken)?));
        }
        let mut key = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        std::io::Write::write_all(&mut file, hex::encode(key).as_bytes()).map_err(io)?;
        Ok(Self(key))
    }

    /// A key from raw bytes (tests).
    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(payload);
        mac
    }

    /// A token for one recipient of one campaign.
    pub fn sign(&self, claims: &TokenClaims) -> String {
        let payload = format!("{}\n{}\n{}", claims.org, claims.campaign, claims.address);
        let tag = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!("{}.{}", hex::encode(payload), hex::encode(tag))
    }

    /// Checks a token in constant time and returns what it stands for.
    pub fn verify(&self, token: &str) -> Result<TokenClaims> {
        let (payload, tag) = token.split_once('.').ok_or(Error::BadToken)?;
        let payload = hex::decode(payload).map_err(|_| Error::BadToken)?;
        let tag = hex::decode(tag).map_err(|_| Error::BadToken)?;
        // verify_slice compares in constant time.
        self.mac(&payload)
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
    let audit = custodia_engine::audit::default_key_path(db_url);
    audit.with_file_name(
        audit
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .replace("audit-key", "mail-key")
                    .replace("custodia-audit.key", "custodia-mail.key")
            })
            .unwrap_or_else(|| "custodia-mail.key".into()),
    )
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
            key.sign(&other).split_once('.').expect("dot").0,
            token.split_once('.').expect("dot").1
        );
        assert!(key.verify(&forged).is_err());
        assert!(TokenKey::from_bytes([8; 32]).verify(&token).is_err());
        assert!(key.verify("garbage").is_err());
    }
}
