//! DKIM signing of outgoing messages.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
// Tokio's clock, so the pacing can be tested with paused time.

use crate::error::{Error, Result};

/// A DKIM key and selector; signs `From`, `To`, `Subject`, `Date`,
/// `Message-ID`, `Reply-To`, both `List-Unsubscribe` headers and
/// `MIME-Version`.
pub struct DkimSigner {
    pub(super) config: DkimConfig,
    pub(super) domain: String,
}

impl std::fmt::Debug for DkimSigner {
    // The key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// Headers the DKIM signature covers; RFC 8058 asks for both
/// `List-Unsubscribe` headers to be signed. Not `Content-Type`: lettre
/// writes a multipart body's `Content-Type` with the body, outside the
/// headers it signs, so listing it would give a signature no one verifies.
const DKIM_HEADERS: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
];

impl DkimSigner {
    /// A signer for `domain` with the key published at
    /// `selector._domainkey.domain`. The key is an RSA private key in
    /// PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`) or a base64 Ed25519
    /// secret key.
    pub fn new(selector: &str, domain: &str, key: &str) -> Result<Self> {
        let algorithm = if key.contains("-----BEGIN RSA PRIVATE KEY-----") {
            DkimSigningAlgorithm::Rsa
        } else if key.contains("-----BEGIN") {
            return Err(Error::Dkim(
                "the RSA key must be PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`); convert it with `openssl rsa -traditional`".into(),
            ));
        } else {
            DkimSigningAlgorithm::Ed25519
        };
        let key = DkimSigningKey::new(key.trim(), algorithm)
            .map_err(|e| Error::Dkim(format!("unreadable private key: {e}")))?;
        let headers = DKIM_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        let canonicalization = DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        };
        Ok(Self {
            config: DkimConfig::new(
                selector.to_owned(),
                domain.to_owned(),
                key,
                headers,
                canonicalization,
            ),
            domain: domain.to_owned(),
        })
    }

    /// The signing domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}
