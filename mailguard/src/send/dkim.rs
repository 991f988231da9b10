//! DKIM signing of outgoing messages (RFC 6376, relaxed/relaxed), with
//! RSA-SHA256 or Ed25519-SHA256 (RFC 8463) keys held by AWS-LC.
//!
//! Our own signer over the formatted bytes, not lettre's: lettre signs RSA
//! with the RustCrypto `rsa` crate, about 4x slower than AWS-LC here, and
//! signing is most of the cost of a signed message (BENCHMARKS.md).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A DKIM key and selector; signs `From`, `To`, `Subject`, `Date`,
/// `Message-ID`, `Reply-To`, both `List-Unsubscribe` headers and
/// `MIME-Version`.
pub struct DkimSigner {
    selector: String,
    domain: String,
    key: Key,
    random: SystemRandom,
}

enum Key {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for DkimSigner {
    // The key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

/// Headers the DKIM signature covers; RFC 8058 asks for both
/// `List-Unsubscribe` headers to be signed. A listed header the message
/// lacks is signed as absent (RFC 6376 5.4), so it cannot be added later.
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
        let key = if key.contains("-----BEGIN RSA PRIVATE KEY-----") {
            let der = pem_body(key, "RSA PRIVATE KEY")?;
            Key::Rsa(
                RsaKeyPair::from_der(&der)
                    .map_err(|e| Error::Dkim(format!("unreadable PKCS#1 RSA key: {e}")))?,
            )
        } else if key.contains("-----BEGIN PRIVATE KEY-----") {
            let der = pem_body(key, "PRIVATE KEY")?;
            Key::Rsa(
                RsaKeyPair::from_pkcs8(&der)
                    .map_err(|e| Error::Dkim(format!("unreadable PKCS#8 RSA key: {e}")))?,
            )
        } else if key.contains("-----BEGIN") {
            return Err(Error::Dkim(
                "expected an RSA key in PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM, or a base64 Ed25519 key".into(),
            ));
        } else {
            let seed = Zeroizing::new(
                BASE64
                    .decode(key.trim())
                    .map_err(|e| Error::Dkim(format!("unreadable Ed25519 key: {e}")))?,
            );
            Key::Ed25519(Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|e| {
                Error::Dkim(format!(
                    "unreadable Ed25519 key (expected 32 bytes in base64): {e}"
                ))
            })?)
        };
        Ok(Self {
            selector: selector.to_owned(),
            domain: domain.to_owned(),
            key,
            random: SystemRandom::new(),
        })
    }

    /// The signing domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `message` (formatted, CRLF line ends) with a `DKIM-Signature`
    /// header in front, signed at `time` (seconds since the epoch).
    pub fn sign(&self, message: &[u8], time: u64) -> Result<Vec<u8>> {
        let (headers, body) = split(message);
        let body_hash = BASE64.encode(Sha256::digest(relaxed_body(body)));
        let algorithm = match self.key {
            Key::Rsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        };
        let names = DKIM_HEADERS.join(":").to_ascii_lowercase();
        // Tags as signed; the header written folds before `bh=` and `b=`,
        // which relaxed canonicalisation turns back into these spaces.
        let tags = format!(
            "v=1; a={algorithm}; c=relaxed/relaxed; d={}; s={}; q=dns/txt; t={time}; h={names}; bh={body_hash}; b=",
            self.domain, self.selector
        );
        let mut signed = Vec::with_capacity(1024);
        let fields = fields(headers);
        for name in DKIM_HEADERS {
            if let Some(field) = fields.iter().rev().find(|f| is_named(f, name)) {
                relaxed_header(field, &mut signed);
            }
        }
        relaxed_header(format!("DKIM-Signature: {tags}").as_bytes(), &mut signed);
        // The signature header itself is hashed without its final CRLF.
        signed.truncate(signed.len() - 2);
        let signature = BASE64.encode(self.signature(&signed)?);
        let folded = tags
            .replace("; bh=", ";\r\n\tbh=")
            .replace("; b=", ";\r\n\tb=");
        let mut out = Vec::with_capacity(message.len() + folded.len() + signature.len() + 20);
        out.extend_from_slice(b"DKIM-Signature: ");
        out.extend_from_slice(folded.as_bytes());
        out.extend_from_slice(signature.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(message);
        Ok(out)
    }

    fn signature(&self, data: &[u8]) -> Result<Vec<u8>> {
        match &self.key {
            Key::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &self.random, data, &mut signature)
                    .map_err(|e| Error::Dkim(format!("RSA signing failed: {e}")))?;
                Ok(signature)
            }
            // RFC 8463: Ed25519 signs the SHA-256 hash of the data.
            Key::Ed25519(key) => Ok(key.sign(&Sha256::digest(data)).as_ref().to_vec()),
        }
    }
}

/// The DER inside a PEM block labelled `label`, wiped on drop.
fn pem_body(pem: &str, label: &str) -> Result<Zeroizing<Vec<u8>>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = pem
        .split_once(begin.as_str())
        .and_then(|(_, rest)| rest.split_once(end.as_str()))
        .map(|(body, _)| body)
        .ok_or_else(|| Error::Dkim(format!("no `{begin}` … `{end}` block in the key")))?;
    let text: Zeroizing<String> = Zeroizing::new(body.split_whitespace().collect());
    BASE64
        .decode(text.as_bytes())
        .map(Zeroizing::new)
        .map_err(|e| Error::Dkim(format!("unreadable PEM body of the key: {e}")))
}

/// The header block (each field ending in CRLF) and the body.
fn split(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&message[..at + 2], &message[at + 4..]),
        None => (message, &[]),
    }
}

/// The header fields, each with its continuation lines and final CRLF.
fn fields(headers: &[u8]) -> Vec<&[u8]> {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(offset) = headers[at..].windows(2).position(|w| w == b"\r\n") {
        let line_end = at + offset + 2;
        let continues = matches!(headers.get(line_end), Some(b' ' | b'\t'));
        if !continues {
            fields.push(&headers[start..line_end]);
            start = line_end;
        }
        at = line_end;
    }
    if start < headers.len() {
        fields.push(&headers[start..]);
    }
    fields
}

fn is_named(field: &[u8], name: &str) -> bool {
    field.iter().position(|&b| b == b':').is_some_and(|colon| {
        field[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(name.as_bytes())
    })
}

/// RFC 6376 3.4.2: name in lower case, no whitespace around the colon,
/// the value unfolded with each run of whitespace one space, none at
/// either end.
fn relaxed_header(field: &[u8], out: &mut Vec<u8>) {
    let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    out.extend(
        field[..colon]
            .trim_ascii()
            .iter()
            .map(u8::to_ascii_lowercase),
    );
    out.push(b':');
    let (mut started, mut space) = (false, false);
    for &b in field.get(colon + 1..).unwrap_or_default() {
        match b {
            // Folding: a CRLF inside a field is always followed by WSP.
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && started {
                    out.push(b' ');
                }
                (started, space) = (true, false);
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// RFC 6376 3.4.4: no whitespace at line ends, each run of whitespace one
/// space, no empty lines at the end, and a non-empty body ends in CRLF.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut lines = body.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if last && line.is_empty() {
            break;
        }
        // A space is written only before what follows it: none at the end.
        let mut space = false;
        for &b in line {
            if matches!(b, b' ' | b'\t') {
                space = true;
                continue;
            }
            if space {
                out.push(b' ');
                space = false;
            }
            out.push(b);
        }
        out.extend_from_slice(b"\r\n");
    }
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    if out == b"\r\n" {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        use std::io::Write;
        let mut child = std::process::Command::new("openssl")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("openssl");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input)
                .expect("write");
        }
        let out = child.wait_with_output().expect("openssl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    const MESSAGE: &[u8] = b"From: Shop <news@shop.example>\r\n\
To: maria@example.com\r\n\
Subject: Autumn  offers,\r\n\tfolded\r\n\
List-Unsubscribe: <https://shop.example/u/t>\r\n\
MIME-Version: 1.0\r\n\
\r\n\
Hello  Maria, \r\n\
\r\n\
Two lines.\r\n\
\r\n\
\r\n";

    /// The `b=` value of a signature header on [`MESSAGE`], and the data a
    /// verifier checks it against, written out by hand: the signed headers
    /// in relaxed form, then the signature header without its value or
    /// its final CRLF, unfolded.
    fn verified_data(header: &str) -> (&str, Vec<u8>) {
        let b = header.rsplit("b=").next().expect("b=");
        let unsigned = header.replace(b, "").replace("\r\n\t", " ");
        let mut data = b"from:Shop <news@shop.example>\r\nto:maria@example.com\r\nsubject:Autumn offers, folded\r\nlist-unsubscribe:<https://shop.example/u/t>\r\nmime-version:1.0\r\n".to_vec();
        data.extend_from_slice(
            unsigned
                .replacen("DKIM-Signature: ", "dkim-signature:", 1)
                .as_bytes(),
        );
        (b, data)
    }

    #[test]
    fn headers_and_body_are_canonicalised_as_rfc_6376_relaxed_says() {
        let mut out = Vec::new();
        relaxed_header(b"SubJect :  Autumn  offers,\r\n\tfolded \r\n", &mut out);
        assert_eq!(out, b"subject:Autumn offers, folded\r\n");
        assert_eq!(
            relaxed_body(b"Hello  Maria, \r\n\r\nTwo\t lines.\r\n\r\n\r\n"),
            b"Hello Maria,\r\n\r\nTwo lines.\r\n"
        );
        assert_eq!(relaxed_body(b"no final line end"), b"no final line end\r\n");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(
            relaxed_body(b"  indented\r\n \t\r\nend"),
            b" indented\r\n\r\nend\r\n"
        );
        let (headers, body) = split(MESSAGE);
        assert!(body.starts_with(b"Hello"));
        let fields = fields(headers);
        assert_eq!(fields.len(), 5);
        assert_eq!(fields[2], b"Subject: Autumn  offers,\r\n\tfolded\r\n");
    }

    #[test]
    fn an_rsa_signature_is_the_one_openssl_makes_over_the_same_canonical_headers() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key.pem");
        let path = path.to_str().expect("path");
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                path,
            ],
            None,
        );
        let pem = std::fs::read_to_string(path).expect("key");
        assert!(
            pem.contains("BEGIN PRIVATE KEY"),
            "PKCS#8 as openssl writes it"
        );
        let pkcs1 =
            String::from_utf8(openssl(&["rsa", "-traditional", "-in", path], None)).expect("PEM");
        assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
        for key in [pem.as_str(), pkcs1.as_str()] {
            let signer = DkimSigner::new("s1", "shop.example", key).expect("signer");
            let signed = signer.sign(MESSAGE, 1_764_000_000).expect("signed");
            let text = String::from_utf8(signed.clone()).expect("text");
            assert!(signed.ends_with(MESSAGE));
            let header = text.split("\r\nFrom:").next().expect("header");
            assert!(header.starts_with(
                "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=shop.example; s=s1;"
            ));
            assert!(header.contains("t=1764000000; h=from:to:subject:date:message-id:reply-to:list-unsubscribe:list-unsubscribe-post:mime-version;"));
            // PKCS#1 v1.5 is deterministic: openssl, given the same data,
            // must produce the same bytes.
            let (b, data) = verified_data(header);
            let expected = openssl(&["dgst", "-sha256", "-sign", path], Some(&data));
            assert_eq!(BASE64.decode(b).expect("base64"), expected);
            let bh = header
                .split("bh=")
                .nth(1)
                .and_then(|s| s.split(';').next())
                .expect("bh");
            let body = b"Hello Maria,\r\n\r\nTwo lines.\r\n";
            assert_eq!(bh, BASE64.encode(Sha256::digest(body)));
        }
    }

    #[test]
    fn an_ed25519_signature_verifies_with_the_public_key_over_the_hashed_headers() {
        use aws_lc_rs::signature::{ED25519, KeyPair, UnparsedPublicKey};
        let seed = [7u8; 32];
        let signer = DkimSigner::new("s2", "shop.example", &BASE64.encode(seed)).expect("signer");
        let signed = String::from_utf8(signer.sign(MESSAGE, 1).expect("signed")).expect("text");
        let header = signed.split("\r\nFrom:").next().expect("header");
        assert!(header.contains("a=ed25519-sha256;"));
        let (b, data) = verified_data(header);
        let public = Ed25519KeyPair::from_seed_unchecked(&seed).expect("key");
        let public = UnparsedPublicKey::new(&ED25519, public.public_key().as_ref().to_vec());
        let signature = BASE64.decode(b).expect("base64");
        public
            .verify(&Sha256::digest(&data), &signature)
            .expect("signature over the SHA-256 of the canonical headers");
        assert!(public.verify(&data, &signature).is_err());
    }

    #[test]
    fn unreadable_keys_are_refused_with_what_was_expected() {
        for (key, expected) in [
            (
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
                "PKCS#8",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                "unreadable PKCS#8 RSA key",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\n!!\n-----END RSA PRIVATE KEY-----",
                "PEM body",
            ),
            ("c2hvcnQ=", "32 bytes"),
        ] {
            let err = DkimSigner::new("s1", "example.com", key).expect_err(key);
            assert!(err.to_string().contains(expected), "{err}");
        }
    }
}
