//! Password hashes. Custodia never stores, logs or exports a plaintext
//! password: only argon2id PHC strings cross its boundaries.

use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;

use crate::error::Error;

/// An argon2id hash in PHC string format (`$argon2id$v=19$m=...`).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    // A hash is not a secret in the way a password is, but it still
    // enables offline guessing: keep it out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(argon2id, redacted)")
    }
}

/// OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl PasswordHash {
    /// Hashes a password with argon2id and a fresh random salt.
    pub fn create(password: &str) -> Result<Self, Error> {
        if password.len() < 8 {
            return Err(Error::InvalidValue {
                kind: "password",
                value: "(redacted)".into(),
                reason: "must be at least 8 characters",
            });
        }
        let salt = SaltString::generate(&mut OsRng);
        let phc = hasher()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| Error::Password(e.to_string()))?;
        Ok(Self(phc.to_string()))
    }

    /// Checks a password against the hash. The comparison inside argon2 is
    /// constant-time.
    pub fn verify(&self, password: &str) -> bool {
        let Ok(phc) = Phc::new(&self.0) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &phc)
            .is_ok()
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PasswordHash {
    type Error = Error;

    fn try_from(value: String) -> Result<Self, Error> {
        // The value may be a plaintext password pasted by mistake: never echo it.
        let invalid = |reason| Error::InvalidValue {
            kind: "password hash",
            value: "(redacted)".into(),
            reason,
        };
        let phc = Phc::new(&value).map_err(|_| {
            invalid("is not an argon2id PHC string; plaintext passwords are refused")
        })?;
        if phc.algorithm.as_str() != "argon2id" {
            return Err(invalid(
                "must be an argon2id hash; plaintext passwords are refused",
            ));
        }
        if phc.hash.is_none() || phc.salt.is_none() {
            return Err(invalid("has no salt or hash"));
        }
        Ok(Self(value))
    }
}

impl From<PasswordHash> for String {
    fn from(hash: PasswordHash) -> String {
        hash.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_right_password() {
        let hash = PasswordHash::create("correct horse").expect("hash");
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsf"));
    }

    #[test]
    fn plaintext_and_other_algorithms_are_refused() {
        assert!(PasswordHash::try_from("hunter22".to_string()).is_err());
        let argon2i = "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$Ohh7w2SQbQ4zF0wR1bpQ4A".to_string();
        assert!(PasswordHash::try_from(argon2i).is_err());
    }

    #[test]
    fn debug_output_redacts_the_hash() {
        let hash = PasswordHash::create("correct horse").expect("hash");
        assert!(!format!("{hash:?}").contains("argon2id$v"));
    }
}
