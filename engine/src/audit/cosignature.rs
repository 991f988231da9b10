//! Witnesses' cosignatures on signed checkpoints (C2SP `tlog-cosignature`,
//! Ed25519): a witness outside the firm checks that the log only grew and
//! adds its own signature line to the checkpoint's note. Stored with the
//! checkpoint it signs, a cosignature is an anchor that nobody who can
//! rewrite the database can forge: `verify` treats a checkpoint cosigned
//! by a trusted witness as witnessed.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use sha2::{Digest as _, Sha256};

use super::chain::{SELECT_CHECKPOINT, one_checkpoint};
use super::checkpoint::Checkpoint;
use super::merkle::{KEY_NAME, TreeHead};
use super::verify::{Break, BreakKind};
use crate::domain::OrgSlug;
use crate::error::{Error, Result};
use crate::store::Store;

/// The signature type byte of an Ed25519 cosigner key (key IDs and vkeys).
const COSIGNATURE_V1: u8 = 0x04;

/// A witness trusted to cosign, as a C2SP vkey names it:
/// `name+hex key ID+base64(0x04 || Ed25519 public key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigner {
    name: String,
    key: VerifyingKey,
}

/// One cosignature: whose, when (POSIX seconds, as the witness stated),
/// and its note signature line as the witness wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub cosigner: String,
    pub at: u64,
    pub line: String,
}

impl Cosigner {
    /// A cosigner named `name` with `key`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self> {
        if name.is_empty() || name.contains(['+', ' ', '\n']) {
            return Err(bad_vkey(
                name,
                "the name is empty or holds `+`, a space or a newline",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses a vkey, checking its key ID against its name and key.
    pub fn parse(vkey: &str) -> Result<Self> {
        let vkey = vkey.trim();
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(blob)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad_vkey(vkey, "expected name+keyid+key"));
        };
        let blob = B64
            .decode(blob)
            .map_err(|_| bad_vkey(vkey, "the key is not base64"))?;
        let Some((&COSIGNATURE_V1, key)) = blob.split_first() else {
            return Err(bad_vkey(vkey, "not an Ed25519 cosignature key (type 0x04)"));
        };
        let key = <[u8; 32]>::try_from(key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| bad_vkey(vkey, "the key is not 32 bytes of Ed25519"))?;
        let cosigner = Self::new(name, key)?;
        if hex::encode(cosigner.key_id()) != id.to_ascii_lowercase() {
            return Err(bad_vkey(vkey, "the key ID does not match the name and key"));
        }
        Ok(cosigner)
    }

    /// The cosigner's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The vkey that [`Cosigner::parse`] reads.
    pub fn vkey(&self) -> String {
        let mut blob = vec![COSIGNATURE_V1];
        blob.extend_from_slice(&self.key.to_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            B64.encode(blob)
        )
    }

    /// `SHA-256(name || 0x0A || 0x04 || key)[:4]`.
    fn key_id(&self) -> [u8; 4] {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update([0x0A, COSIGNATURE_V1]);
        h.update(self.key.to_bytes());
        let digest = h.finalize();
        [digest[0], digest[1], digest[2], digest[3]]
    }

    /// This cosigner's valid signature line in a signed `note`, if any.
    pub fn find(&self, note: &str) -> Option<Cosignature> {
        let (body, lines) = note.split_once("\n\n")?;
        let body = format!("{body}\n");
        lines.lines().find_map(|line| {
            let at = self.check_line(&body, line)?;
            Some(Cosignature {
                cosigner: self.name.clone(),
                at,
                line: line.to_owned(),
            })
        })
    }

    /// The time a signature line states, if it is this cosigner's valid
    /// `cosignature/v1` over the note body `body`.
    pub fn check_line(&self, body: &str, line: &str) -> Option<u64> {
        let rest = line.strip_prefix("\u{2014} ")?;
        let (who, blob) = rest.split_once(' ')?;
        let blob = B64.decode(blob).ok()?;
        if who != self.name || blob.len() != 4 + 8 + 64 || blob[..4] != self.key_id() {
            return None;
        }
        let at = u64::from_be_bytes(blob[4..12].try_into().ok()?);
        let signature = Signature::from_slice(&blob[12..]).ok()?;
        let message = format!("cosignature/v1\ntime {at}\n{body}");
        self.key
            .verify(message.as_bytes(), &signature)
            .ok()
            .map(|()| at)
    }
}

fn bad_vkey(value: &str, reason: &'static str) -> Error {
    Error::InvalidValue {
        kind: "cosigner key",
        value: value.to_owned(),
        reason,
    }
}

/// The note body of a signed note (its text before the blank line, with
/// its final newline).
fn body_of(note: &str) -> Option<String> {
    note.split_once("\n\n").map(|(body, _)| format!("{body}\n"))
}

/// What checking the stored cosignatures of a chain found.
#[derive(Debug, Clone, Default)]
pub struct Cosigned {
    /// Checkpoints cosigned by a trusted witness, by sequence: anchors
    /// like witnessed ones.
    pub checkpoints: BTreeMap<i64, Checkpoint>,
    /// How many cosignatures were checked.
    pub checked: usize,
    /// Stored cosignatures of a trusted witness that do not hold: someone
    /// edited them, or the checkpoint stored with them.
    pub invalid: Vec<Break>,
}

impl Store {
    /// Stores `cosigner`'s cosignature on a checkpoint of this log: `note`
    /// is the checkpoint's note as the witness returned it, with the
    /// witness's signature line added. The note must be one this log
    /// signed with `key` and still holds; the line must be the cosigner's.
    pub async fn add_cosignature(
        &self,
        note: &str,
        cosigner: &Cosigner,
        key: &VerifyingKey,
    ) -> Result<(OrgSlug, i64)> {
        let head = TreeHead::open(note, KEY_NAME, key)?;
        let org = head
            .origin
            .strip_prefix("custodia/audit/")
            .ok_or_else(|| Error::Audit(format!("`{}` is not a Custodia log", head.origin)))?;
        let org = OrgSlug::new(org.to_owned())?;
        let seq = i64::try_from(head.size)
            .map_err(|_| Error::Audit(format!("tree size {} is too large", head.size)))?;
        let stored = one_checkpoint(self.pool(), SELECT_CHECKPOINT, org.as_str(), seq).await?;
        let Some(checkpoint) = stored.filter(|cp| {
            cp.verify(key)
                && cp.root == hex::encode(head.root)
                && body_of(&cp.note) == body_of(note)
        }) else {
            return Err(Error::Audit(format!(
                "the cosigned checkpoint of `{org}` at {seq} is not a checkpoint this log holds"
            )));
        };
        let Some(cosignature) = cosigner.find(note) else {
            return Err(Error::Audit(format!(
                "the note carries no valid cosignature by `{}`",
                cosigner.name()
            )));
        };
        let json = serde_json::to_string(&checkpoint)
            .map_err(|e| Error::Audit(format!("cannot encode a checkpoint: {e}")))?;
        sqlx::query(
            "INSERT INTO audit_cosignatures (org, seq, cosigner, at, checkpoint, line) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (org, seq, cosigner) DO UPDATE SET at = excluded.at, checkpoint = excluded.checkpoint, line = excluded.line",
        )
        .bind(org.as_str())
        .bind(seq)
        .bind(&cosignature.cosigner)
        .bind(i64::try_from(cosignature.at).unwrap_or(i64::MAX))
        .bind(json)
        .bind(&cosignature.line)
        .execute(self.pool())
        .await?;
        Ok((org, seq))
    }

    /// The stored cosignatures of `org` by the trusted `cosigners`,
    /// checked: each must be the cosigner's over a checkpoint `key` signed.
    pub async fn cosigned_checkpoints(
        &self,
        org: &OrgSlug,
        cosigners: &[Cosigner],
        key: &VerifyingKey,
    ) -> Result<Cosigned> {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, cosigner, checkpoint, line FROM audit_cosignatures WHERE org = $1 ORDER BY seq",
        )
        .bind(org.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut found = Cosigned::default();
        for (seq, name, json, line) in rows {
            let Some(cosigner) = cosigners.iter().find(|c| c.name() == name) else {
                continue;
            };
            found.checked += 1;
            let checkpoint = serde_json::from_str::<Checkpoint>(&json)
                .ok()
                .filter(|cp| cp.seq == seq && cp.org == org.as_str() && cp.verify(key));
            let holds = checkpoint.as_ref().is_some_and(|cp| {
                body_of(&cp.note).is_some_and(|body| cosigner.check_line(&body, &line).is_some())
            });
            match checkpoint {
                Some(cp) if holds => {
                    found.checkpoints.insert(seq, cp);
                }
                _ => found.invalid.push(Break {
                    seq,
                    kind: BreakKind::BadCosignature,
                    detail: format!(
                        "the cosignature by `{name}` on the checkpoint at {seq} does not verify"
                    ),
                }),
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::cosign;
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    const NOTE: &str = "custodia/audit/a\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} custodia-audit AAAA\n";

    #[test]
    fn a_vkey_round_trips_and_a_wrong_id_or_type_is_refused() {
        let cosigner = Cosigner::new("witness.example/w1", key(1).verifying_key()).expect("name");
        let vkey = cosigner.vkey();
        assert_eq!(Cosigner::parse(&vkey).expect("parses"), cosigner);
        let other = Cosigner::new("witness.example/w2", key(1).verifying_key()).expect("name");
        let renamed = vkey.replacen("w1", "w2", 1);
        assert!(Cosigner::parse(&renamed).is_err(), "the ID binds the name");
        assert_eq!(Cosigner::parse(&other.vkey()).expect("parses"), other);
        // A signed-note verifier key (type 0x01) is not a cosigner key.
        let note_key = super::super::merkle::vkey("w", &key(1).verifying_key());
        let err = Cosigner::parse(&note_key).expect_err("type 0x01");
        assert!(err.to_string().contains("0x04"), "{err}");
    }

    #[test]
    fn the_line_layout_is_the_specifications_example() {
        // C2SP tlog-cosignature's example line, cosigned at time 1679315147.
        let blob = B64
            .decode("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==")
            .expect("base64");
        assert_eq!(blob.len(), 4 + 8 + 64);
        let at = u64::from_be_bytes(blob[4..12].try_into().expect("8 bytes"));
        assert_eq!(at, 1_679_315_147);
    }

    #[test]
    fn a_cosignature_holds_only_for_its_witness_body_and_time() {
        let cosigner = Cosigner::new("witness.example/w1", key(1).verifying_key()).expect("name");
        let cosigned = cosign(NOTE, "witness.example/w1", &key(1), 1_679_315_147);
        let found = cosigner.find(&cosigned).expect("found");
        assert_eq!(found.at, 1_679_315_147);
        assert!(found.line.starts_with("\u{2014} witness.example/w1 "));
        // Another key under the same name, another body, another time.
        let impostor = cosign(NOTE, "witness.example/w1", &key(2), 1_679_315_147);
        assert!(cosigner.find(&impostor).is_none());
        let other_body = cosigned.replacen("\n3\n", "\n4\n", 1);
        assert!(cosigner.find(&other_body).is_none());
        let body = body_of(NOTE).expect("body");
        let mut blob = B64
            .decode(found.line.rsplit(' ').next().expect("blob"))
            .expect("base64");
        blob[11] ^= 1;
        let retimed = format!("\u{2014} witness.example/w1 {}", B64.encode(blob));
        assert!(cosigner.check_line(&body, &retimed).is_none());
    }
}
