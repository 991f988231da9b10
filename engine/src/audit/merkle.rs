//! An RFC 9162 Merkle tree over a chain's event hashes, its inclusion and
//! consistency proofs, and C2SP `tlog-checkpoint` signed notes, so that
//! one event can be shown to be in the log, and a log to only have grown,
//! to someone holding only the public key.
//!
//! Leaves are the events' 32-byte chain hashes in sequence order (event
//! `seq` is leaf `seq - 1`). Hashes follow RFC 9162 section 2.1.1:
//! `SHA-256(0x00 || leaf)` and `SHA-256(0x01 || left || right)`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tree_hash::empty_root;
pub use super::tree_hash::{Hash, decode_hash, leaf_hash, node_hash};
use crate::error::{Error, Result};

/// The name checkpoints are signed under in notes.
pub const KEY_NAME: &str = "custodia-audit";

/// The origin line of an organisation's log.
pub fn origin(org: &str) -> String {
    format!("custodia/audit/{org}")
}

/// The leaf hashes of a chain's event hashes.
fn leaves_of(events: &[Hash]) -> Vec<Hash> {
    events.iter().map(|e| leaf_hash(e)).collect()
}

/// The signed tree head (C2SP tlog-checkpoint note) of `org`'s log of
/// `size` leaves under `root`, signed now.
fn signed_head(org: &str, size: usize, root: Hash, signer: &super::Signer) -> String {
    let head = TreeHead {
        origin: origin(org),
        size: size as u64,
        root,
    };
    signer.sign_note(&head, KEY_NAME)
}

/// A proof file with its signed tree head.
fn proof_file(checkpoint: String, proof: Proof) -> ProofFile {
    ProofFile {
        key_name: KEY_NAME.to_owned(),
        checkpoint,
        proof,
    }
}

/// Builds a proof that event `seq` is in `org`'s log as it is now (`events`:
/// its event hashes from the first), with the tree head signed by `signer`.
pub fn prove_inclusion(
    org: &str,
    events: &[Hash],
    seq: i64,
    signer: &super::Signer,
) -> Result<ProofFile> {
    let tree = Tree::of_events(events);
    let proof = tree.prove(org, seq, events)?;
    Ok(proof_file(tree.signed_head(org, signer), proof))
}

/// Builds a proof that `org`'s log now extends the older signed tree head
/// `older` (checked with `signer`'s key first).
pub fn prove_consistency(
    org: &str,
    events: &[Hash],
    older: &str,
    signer: &super::Signer,
) -> Result<ProofFile> {
    let old = TreeHead::open(older, KEY_NAME, &signer.verifying_key())?;
    let m = usize::try_from(old.size).unwrap_or(usize::MAX);
    if old.origin != origin(org) || m > events.len() {
        return Err(Error::Audit(format!(
            "the older checkpoint is of `{}` at {} events; the log of `{org}` has {}",
            old.origin,
            old.size,
            events.len()
        )));
    }
    let leaves = leaves_of(events);
    let proof = Proof::Consistency {
        older: older.to_owned(),
        path: encode_path(&consistency_proof(&leaves, m)),
    };
    let head = signed_head(org, leaves.len(), root(&leaves), signer);
    Ok(proof_file(head, proof))
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH of already hashed leaves (RFC 9162 2.1.1); the empty tree hashes "".
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// A tree whose perfect subtrees are kept, level by level: many inclusion
/// proofs of one tree cost O(log² n) each instead of O(n) (an access
/// package proves thousands of events of a log of millions).
#[derive(Debug, Clone)]
pub struct Tree {
    /// `levels[j][i]`: the root of leaves `i·2^j .. (i+1)·2^j`.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree over a chain's event hashes, from the first.
    pub fn of_events(events: &[Hash]) -> Tree {
        let mut levels = vec![leaves_of(events)];
        while let Some(below) = levels.last().filter(|l| l.len() > 1) {
            let above = below
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(above);
        }
        Tree { levels }
    }

    /// How many leaves.
    pub fn size(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// MTH of leaves `start .. start + len`, from the kept subtrees.
    fn range_root(&self, start: usize, len: usize) -> Hash {
        if len == 0 {
            return empty_root();
        }
        let level = len.trailing_zeros() as usize;
        if len.is_power_of_two() && start % len == 0 {
            if let Some(hash) = self.levels.get(level).and_then(|l| l.get(start / len)) {
                return *hash;
            }
        }
        let k = split(len);
        node_hash(
            &self.range_root(start, k),
            &self.range_root(start + k, len - k),
        )
    }

    /// The tree's root (RFC 9162 MTH).
    pub fn root(&self) -> Hash {
        self.range_root(0, self.size())
    }

    /// PATH(m, D[n]), the inclusion proof of leaf `m` (RFC 9162 2.1.3.1).
    pub fn inclusion(&self, m: usize) -> Vec<Hash> {
        self.path(0, self.size(), m)
    }

    fn path(&self, start: usize, n: usize, m: usize) -> Vec<Hash> {
        if n <= 1 || m >= n {
            return Vec::new();
        }
        let k = split(n);
        if m < k {
            let mut path = self.path(start, k, m);
            path.push(self.range_root(start + k, n - k));
            path
        } else {
            let mut path = self.path(start + k, n - k, m - k);
            path.push(self.range_root(start, k));
            path
        }
    }

    /// The signed tree head (C2SP tlog-checkpoint note) of `org`'s log as
    /// this tree holds it, signed now.
    pub fn signed_head(&self, org: &str, signer: &super::Signer) -> String {
        signed_head(org, self.size(), self.root(), signer)
    }

    /// The inclusion proof of event `seq` (from 1) of the chain whose
    /// event hashes, from the first, are `events` (the tree's own).
    pub fn prove(&self, org: &str, seq: i64, events: &[Hash]) -> Result<Proof> {
        let index = usize::try_from(seq - 1)
            .ok()
            .filter(|i| *i < self.size())
            .and_then(|i| Some((i, events.get(i)?)));
        let Some((index, event)) = index else {
            return Err(Error::Audit(format!("`{org}` has no event {seq}")));
        };
        Ok(Proof::Inclusion {
            seq,
            event_hash: hex::encode(event),
            path: encode_path(&self.inclusion(index)),
        })
    }
}

/// Right-shifts both until `f_n`'s lowest bit is set or it is 0: the
/// step both verifications take after hashing a sibling from the left.
fn skip_right_edges(f_n: &mut u64, s_n: &mut u64) {
    while *f_n & 1 == 0 && *f_n != 0 {
        *f_n >>= 1;
        *s_n >>= 1;
    }
}

/// Verifies an inclusion proof (RFC 9162 2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            skip_right_edges(&mut f_n, &mut s_n);
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// PROOF(m, D[n]): the consistency proof from size `m` (RFC 9162 2.1.4.1).
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    if m == 0 || m >= leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete {
            Vec::new()
        } else {
            vec![root(leaves)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut proof = subproof(m, &leaves[..k], complete);
        proof.push(root(&leaves[k..]));
        proof
    } else {
        let mut proof = subproof(m - k, &leaves[k..], false);
        proof.push(root(&leaves[..k]));
        proof
    }
}

/// Verifies a consistency proof between two tree heads (RFC 9162 2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 || proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let Some((first_hash, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (first - 1, second - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first_hash, *first_hash);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            skip_right_edges(&mut f_n, &mut s_n);
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *first_root && s_r == *second_root && s_n == 0
}

/// A C2SP `tlog-checkpoint`: origin, tree size, root hash, signed as a
/// C2SP `signed-note` with an Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl TreeHead {
    /// The note body: three lines, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// The signed note, with one signature line by `key` named `name`.
    pub fn sign(&self, name: &str, key: &SigningKey) -> String {
        sign_note(&self.body(), name, key)
    }

    /// Parses a signed note and checks the signature line by `name` with
    /// `key`; other signature lines (witness cosignatures) are ignored.
    pub fn open(note: &str, name: &str, key: &VerifyingKey) -> Result<Self> {
        let bad = |why: &str| Error::Audit(format!("not a valid signed checkpoint: {why}"));
        let (body, signatures) = note
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the signatures"))?;
        let body = format!("{body}\n");
        let id = key_id(name, key);
        let signed = signatures.lines().any(|line| {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return false;
            };
            let Some((who, blob)) = rest.split_once(' ') else {
                return false;
            };
            let Ok(blob) = B64.decode(blob) else {
                return false;
            };
            who == name
                && blob.len() == 68
                && blob[..4] == id
                && Signature::from_slice(&blob[4..])
                    .is_ok_and(|s| key.verify(body.as_bytes(), &s).is_ok())
        });
        if !signed {
            return Err(bad(&format!("no valid signature by `{name}`")));
        }
        let mut lines = body.lines();
        let origin = lines.next().unwrap_or_default().to_owned();
        let size = lines
            .next()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad("the tree size is not a number"))?;
        let root = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|b| Hash::try_from(b).ok())
            .ok_or_else(|| bad("the root hash is not 32 bytes of base64"))?;
        Ok(Self { origin, size, root })
    }
}

/// A C2SP signed note: `body` (newline-terminated lines), a blank line,
/// and one Ed25519 signature line by `key` named `name`.
pub fn sign_note(body: &str, name: &str, key: &SigningKey) -> String {
    let signature = key.sign(body.as_bytes());
    let mut blob = key_id(name, &key.verifying_key()).to_vec();
    blob.extend_from_slice(&signature.to_bytes());
    format!("{body}\n\u{2014} {name} {}\n", B64.encode(blob))
}

/// The C2SP signed-note key ID of an Ed25519 key:
/// `SHA-256(name || 0x0A || 0x01 || public key)[:4]`.
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, 0x01]);
    h.update(key.to_bytes());
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The C2SP vkey encoding of an Ed25519 key: `name+hexid+base64(0x01||key)`.
pub fn vkey(name: &str, key: &VerifyingKey) -> String {
    let mut blob = vec![0x01];
    blob.extend_from_slice(&key.to_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, key)),
        B64.encode(blob)
    )
}

/// A proof file: a signed tree head and either one event's inclusion in
/// it, or its consistency with an older tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofFile {
    /// The key name the notes are signed under.
    pub key_name: String,
    /// The signed tree head (C2SP tlog-checkpoint note).
    pub checkpoint: String,
    #[serde(flatten)]
    pub proof: Proof,
}

/// What a proof file proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proof {
    /// Event `seq`, whose chain hash is `event_hash`, is in the tree.
    Inclusion {
        seq: i64,
        event_hash: String,
        path: Vec<String>,
    },
    /// The tree extends the older signed tree head `older`.
    Consistency { older: String, path: Vec<String> },
}

/// Encodes the hashes of a proof as hex.
fn encode_path(path: &[Hash]) -> Vec<String> {
    path.iter().map(hex::encode).collect()
}

/// Decodes hex hashes of a proof.
pub fn decode_path(path: &[String]) -> Result<Vec<Hash>> {
    path.iter().map(|h| decode_hash(h)).collect()
}

impl ProofFile {
    /// Checks the proof with only the public key: the note's signature,
    /// then the path against its root. Returns what was proven, for people.
    pub fn check(&self, key: &VerifyingKey) -> Result<String> {
        let head = TreeHead::open(&self.checkpoint, &self.key_name, key)?;
        match &self.proof {
            Proof::Inclusion {
                seq,
                event_hash,
                path,
            } => {
                let index = u64::try_from(seq - 1)
                    .map_err(|_| Error::Audit(format!("sequence {seq} is not in any tree")))?;
                let leaf = leaf_hash(&decode_hash(event_hash)?);
                if !verify_inclusion(index, head.size, &leaf, &decode_path(path)?, &head.root) {
                    return Err(Error::Audit(format!(
                        "event {seq} is not in the log of size {} signed for `{}`",
                        head.size, head.origin
                    )));
                }
                Ok(format!(
                    "event {seq} ({event_hash}) is in the log `{}` of {} events",
                    head.origin, head.size
                ))
            }
            Proof::Consistency { older, path } => {
                let old = TreeHead::open(older, &self.key_name, key)?;
                if old.origin != head.origin
                    || !verify_consistency(
                        old.size,
                        head.size,
                        &old.root,
                        &head.root,
                        &decode_path(path)?,
                    )
                {
                    return Err(Error::Audit(format!(
                        "the log of {} events does not extend the one of {} events",
                        head.size, old.size
                    )));
                }
                Ok(format!(
                    "the log `{}` of {} events extends its earlier state of {} events",
                    head.origin, head.size, old.size
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PATH(m, D[n]) by the RFC's plain recursion (RFC 9162 2.1.3.1): the
    /// reference `Tree::inclusion` is checked against.
    fn inclusion_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 || m >= n {
            return Vec::new();
        }
        let k = split(n);
        if m < k {
            let mut path = inclusion_proof(&leaves[..k], m);
            path.push(root(&leaves[k..]));
            path
        } else {
            let mut path = inclusion_proof(&leaves[k..], m - k);
            path.push(root(&leaves[..k]));
            path
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&[i as u8])).collect()
    }

    #[test]
    fn the_empty_tree_and_a_single_leaf_hash_as_the_rfc_says() {
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let one = leaf_hash(b"");
        assert_eq!(root(&[one]), one);
        assert_eq!(
            hex::encode(one),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    /// The eight-leaf test tree of RFC 6962 implementations
    /// (certificate-transparency, transparency-dev): its leaves and the
    /// root of each prefix.
    const VECTOR_LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    const VECTOR_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_published_test_tree() {
        let tree: Vec<Hash> = VECTOR_LEAVES.iter().map(|l| leaf_hash(l)).collect();
        for (n, expected) in VECTOR_ROOTS.iter().enumerate() {
            assert_eq!(hex::encode(root(&tree[..=n])), *expected, "size {}", n + 1);
        }
    }

    fn hexes(path: &[Hash]) -> Vec<String> {
        path.iter().map(hex::encode).collect()
    }

    #[test]
    fn proofs_match_the_published_test_tree() {
        let tree: Vec<Hash> = VECTOR_LEAVES.iter().map(|l| leaf_hash(l)).collect();
        let leaf0 = [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ];
        assert_eq!(hexes(&inclusion_proof(&tree, 0)), leaf0);
        assert_eq!(hexes(&consistency_proof(&tree, 1)), leaf0);
        assert_eq!(
            hexes(&consistency_proof(&tree, 6)),
            [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
        assert_eq!(
            hexes(&consistency_proof(&tree[..5], 2)),
            [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]
        );
    }

    #[test]
    fn a_kept_tree_gives_the_same_roots_and_proofs_as_the_plain_recursion() {
        for n in 0..=70 {
            let events = leaves(n);
            let tree = Tree::of_events(&events);
            let plain = leaves_of(&events);
            assert_eq!(tree.root(), root(&plain), "root of {n}");
            for m in 0..n {
                assert_eq!(tree.inclusion(m), inclusion_proof(&plain, m), "{m} of {n}");
            }
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_leaf_does_not() {
        for n in 1..=33 {
            let tree = leaves(n);
            let r = root(&tree);
            for m in 0..n {
                let proof = inclusion_proof(&tree, m);
                assert!(
                    verify_inclusion(m as u64, n as u64, &tree[m], &proof, &r),
                    "{m} of {n}"
                );
                let other = leaf_hash(b"not in the tree");
                assert!(!verify_inclusion(m as u64, n as u64, &other, &proof, &r));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_changed_history_does_not() {
        for n in 1..=33 {
            let tree = leaves(n);
            for m in 1..=n {
                let proof = consistency_proof(&tree, m);
                let (old, new) = (root(&tree[..m]), root(&tree));
                assert!(
                    verify_consistency(m as u64, n as u64, &old, &new, &proof),
                    "{m} -> {n}"
                );
                if m < n {
                    let mut forged = tree.clone();
                    forged[0] = leaf_hash(b"rewritten");
                    let forged_new = root(&forged);
                    assert!(!verify_consistency(
                        m as u64,
                        n as u64,
                        &old,
                        &forged_new,
                        &proof
                    ));
                }
            }
        }
    }

    #[test]
    fn notes_and_keys_match_the_go_reference_byte_for_byte() {
        // golang.org/x/mod/sumdb/note's published example (note_test.go):
        // its signer key is base64(0x01 || Ed25519 seed).
        let skey = B64
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .expect("base64");
        let seed: [u8; 32] = skey[1..].try_into().expect("a seed");
        let key = SigningKey::from_bytes(&seed);
        assert_eq!(
            vkey("PeterNeumann", &key.verifying_key()),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        assert_eq!(
            sign_note(text, "PeterNeumann", &key),
            format!(
                "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            )
        );
    }

    #[test]
    fn a_signed_note_opens_only_with_its_key_and_name() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let head = TreeHead {
            origin: "custodia.example/audit/bufete-ruiz".into(),
            size: 3,
            root: root(&leaves(3)),
        };
        let note = head.sign("custodia.example", &key);
        assert!(note.starts_with("custodia.example/audit/bufete-ruiz\n3\n"));
        assert!(note.contains("\n\n\u{2014} custodia.example "));
        assert_eq!(
            TreeHead::open(&note, "custodia.example", &key.verifying_key()).expect("opens"),
            head
        );
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(TreeHead::open(&note, "custodia.example", &other.verifying_key()).is_err());
        assert!(TreeHead::open(&note, "someone.else", &key.verifying_key()).is_err());
        let tampered = note.replacen("\n3\n", "\n4\n", 1);
        assert!(TreeHead::open(&tampered, "custodia.example", &key.verifying_key()).is_err());
    }
}
