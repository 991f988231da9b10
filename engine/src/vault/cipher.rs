//! XChaCha20-Poly1305 under 256-bit keys, with the associated data that
//! binds a ciphertext to its place. The 24-byte nonce is random: with
//! XChaCha's nonce size, random nonces never repeat in practice, so a key
//! can seal any number of items without a counter to keep.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, AeadInPlace, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand_core::RngCore;
use zeroize::Zeroizing;

/// Length of every key in the vault.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The format byte in front of every sealed value.
const FORMAT: u8 = 1;

/// A 256-bit key, wiped from memory when dropped, never printed.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A fresh key from the operating system's generator.
    pub fn random() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand_core::OsRng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The raw bytes (for HMAC keys and wrapping).
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Encrypts `plaintext` bound to `aad`: format byte, nonce, ciphertext
    /// and tag, encrypted in place in the one buffer returned.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand_core::OsRng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        // Encryption fails only for inputs beyond 256 GiB, which no caller
        // builds; a missing tag then makes `open` fail loudly.
        if let Ok(tag) = cipher.encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            aad,
            &mut out[1 + NONCE_LEN..],
        ) {
            out.extend_from_slice(&tag);
        }
        out
    }

    /// Decrypts what [`Key::seal`] made with the same `aad`; `None` when
    /// the key, the place or a single byte differs.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (&format, rest) = sealed.split_first()?;
        if format != FORMAT || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
            .ok()
            .map(Zeroizing::new)
    }

    /// Wraps another key under this one, as text for a database column.
    pub fn wrap(&self, key: &Key, aad: &[u8]) -> String {
        B64.encode(self.seal(key.bytes(), aad))
    }

    /// Unwraps what [`Key::wrap`] made; `None` on any mismatch.
    pub fn unwrap_key(&self, wrapped: &str, aad: &[u8]) -> Option<Key> {
        let sealed = B64.decode(wrapped).ok()?;
        let plain = self.open(&sealed, aad)?;
        let bytes: [u8; KEY_LEN] = plain.as_slice().try_into().ok()?;
        Some(Key::from_bytes(bytes))
    }
}

/// Sealed bytes as text for a database column.
pub fn to_text(sealed: &[u8]) -> String {
    B64.encode(sealed)
}

/// Text from a database column back to sealed bytes.
pub fn from_text(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ciphertext_opens_only_with_its_key_and_its_place() {
        let key = Key::random();
        let sealed = key.seal(b"divorced", b"org|C-1|area/personal");
        assert_eq!(
            key.open(&sealed, b"org|C-1|area/personal").as_deref(),
            Some(&b"divorced".to_vec())
        );
        assert!(key.open(&sealed, b"org|C-2|area/personal").is_none());
        assert!(
            Key::random()
                .open(&sealed, b"org|C-1|area/personal")
                .is_none()
        );
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert!(key.open(&flipped, b"org|C-1|area/personal").is_none());
        assert!(key.open(&sealed[..10], b"org|C-1|area/personal").is_none());
    }

    #[test]
    fn the_same_plaintext_seals_differently_each_time() {
        let key = Key::random();
        assert_ne!(key.seal(b"x", b""), key.seal(b"x", b""));
    }

    #[test]
    fn wrapped_keys_round_trip_and_refuse_another_place() {
        let master = Key::random();
        let inner = Key::random();
        let wrapped = master.wrap(&inner, b"org-key|a|1");
        let back = master
            .unwrap_key(&wrapped, b"org-key|a|1")
            .map(|k| *k.bytes());
        assert_eq!(back, Some(*inner.bytes()));
        assert!(master.unwrap_key(&wrapped, b"org-key|b|1").is_none());
        assert!(!format!("{inner:?}").contains(&hex::encode(inner.bytes())));
    }
}
