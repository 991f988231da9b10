//! TLS certificates as dossier evidence: when each one configured for
//! the organisation (web site, mail server) stops being valid.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use x509_cert::Certificate;
use x509_cert::der::DecodePem;

use crate::i18n::Lang;
use crate::{Error, Result};

/// Certificates expiring within this many days are flagged.
pub const RENEW_WITHIN_DAYS: i64 = 30;

/// The leaf certificate of one configured file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsCertificate {
    pub path: PathBuf,
    /// The subject, e.g. `CN=www.example.com`.
    pub subject: String,
    pub not_after: DateTime<Utc>,
}

impl TlsCertificate {
    /// Reads the first certificate of a PEM file (a `fullchain.pem` starts
    /// with the server's own certificate, the one that expires first to
    /// matter).
    pub fn read(path: &Path) -> Result<Self> {
        let problem = |message: String| Error::Certificate {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
        let first =
            first_pem_block(&text).ok_or_else(|| problem("no `BEGIN CERTIFICATE` block".into()))?;
        let cert = Certificate::from_pem(first).map_err(|e| problem(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let not_after = DateTime::<Utc>::from(tbs.validity.not_after.to_system_time());
        Ok(TlsCertificate {
            path: path.to_owned(),
            subject: tbs.subject.to_string(),
            not_after,
        })
    }

    /// Whole days left at `now`; negative once expired.
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_days()
    }

    /// Valid for longer than [`RENEW_WITHIN_DAYS`] at `now`.
    pub fn is_healthy(&self, now: DateTime<Utc>) -> bool {
        self.not_after - now > Duration::days(RENEW_WITHIN_DAYS)
    }

    /// "expires on 01/03/2027 (98 days)" or "EXPIRED on 01/01/2021".
    pub(crate) fn expiry(&self, lang: Lang, now: DateTime<Utc>) -> String {
        let t = lang.catalogue();
        let day = lang.date(self.not_after.date_naive());
        if self.not_after <= now {
            return format!("{} {day}", t.expired);
        }
        format!(
            "{} {day} ({} {})",
            t.expires,
            lang.number(self.days_left(now)),
            t.days_left
        )
    }
}

/// The first PEM certificate block of `text`, markers included.
fn first_pem_block(text: &str) -> Option<&str> {
    const END: &str = "-----END CERTIFICATE-----";
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let end = text[start..].find(END)? + start + END.len();
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/tls")
            .join(name)
    }

    #[test]
    fn a_certificate_file_gives_its_subject_and_expiry() {
        let cert = TlsCertificate::read(&fixture("www-valid.pem")).expect("reads");
        assert_eq!(cert.subject, "CN=www.bufete-ruiz.example");
        assert_eq!(cert.not_after.to_rfc3339(), "2027-03-01T00:00:00+00:00");
        let now = DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .expect("time")
            .to_utc();
        assert_eq!(cert.days_left(now), 98);
        assert!(cert.is_healthy(now));
        let expiring = TlsCertificate::read(&fixture("mail-expiring.pem")).expect("reads");
        assert_eq!(expiring.days_left(now), 12);
        assert!(!expiring.is_healthy(now));
    }

    #[test]
    fn a_file_without_a_certificate_is_named_in_the_error() {
        let path = fixture("../../../Cargo.toml");
        let err = TlsCertificate::read(&path).expect_err("not a certificate");
        assert!(err.to_string().contains("Cargo.toml"), "{err}");
        assert!(
            err.to_string().contains("no `BEGIN CERTIFICATE` block"),
            "{err}"
        );
        let missing = TlsCertificate::read(&fixture("absent.pem")).expect_err("absent");
        assert!(missing.to_string().contains("absent.pem"), "{missing}");
    }
}
