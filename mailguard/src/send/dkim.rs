//! DKIM signing of outgoing messages.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
// Tokio's clock, so the pacing can be tested with paused time.

use rsa::pkcs1::der::zeroize::Zeroizing;

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
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, what `openssl genrsa`
    /// writes) or PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), or a
    /// base64 Ed25519 secret key.
    pub fn new(selector: &str, domain: &str, key: &str) -> Result<Self> {
        let (key, algorithm) = if key.contains("-----BEGIN RSA PRIVATE KEY-----") {
            (
                Zeroizing::new(key.trim().to_owned()),
                DkimSigningAlgorithm::Rsa,
            )
        } else if key.contains("-----BEGIN PRIVATE KEY-----") {
            (pkcs8_to_pkcs1(key)?, DkimSigningAlgorithm::Rsa)
        } else if key.contains("-----BEGIN") {
            return Err(Error::Dkim(
                "expected an RSA key in PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM, or a base64 Ed25519 key".into(),
            ));
        } else {
            (
                Zeroizing::new(key.trim().to_owned()),
                DkimSigningAlgorithm::Ed25519,
            )
        };
        let key = DkimSigningKey::new(&key, algorithm)
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

/// lettre reads RSA keys as PKCS#1 only; a PKCS#8 key is the same key
/// wrapped with its algorithm, so unwrap it (in memory, wiped on drop).
fn pkcs8_to_pkcs1(pem: &str) -> Result<Zeroizing<String>> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem.trim())
        .map_err(|e| Error::Dkim(format!("unreadable PKCS#8 RSA key: {e}")))?;
    key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .map_err(|e| Error::Dkim(format!("cannot re-encode the RSA key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssl_key(args: &[&str]) -> String {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("PEM")
    }

    #[test]
    fn rsa_keys_are_read_in_pkcs8_and_pkcs1_and_sign_alike() {
        let pkcs8 = openssl_key(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ]);
        assert!(pkcs8.contains("BEGIN PRIVATE KEY"));
        let pkcs1 = pkcs8_to_pkcs1(&pkcs8).expect("unwrapped");
        assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
        for key in [pkcs8.as_str(), pkcs1.as_str()] {
            DkimSigner::new("s1", "example.com", key).expect("a signer");
        }
        let err = DkimSigner::new(
            "s1",
            "example.com",
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
        )
        .expect_err("not RSA");
        assert!(err.to_string().contains("PKCS#8"), "{err}");
    }
}
