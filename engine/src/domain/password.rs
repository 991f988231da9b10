//! Password hashes. Custodia never stores, logs or exports a plaintext
//! password: only argon2id PHC strings cross its boundaries.

use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use std::cell::Cell;

use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;

use crate::error::Error;

thread_local! {
    /// Every argon2 computation (hash or verify) run on this thread, so
    /// that a login can count its own work ([`crate::HashGate`]) whatever
    /// else the process hashes meanwhile.
    static COMPUTATIONS: Cell<u64> = const { Cell::new(0) };
}

/// How many argon2 computations this thread has run.
pub(crate) fn computations_on_this_thread() -> u64 {
    COMPUTATIONS.with(Cell::get)
}

fn count_computation() {
    COMPUTATIONS.with(|n| n.set(n.get() + 1));
}

/// The weakest parameters accepted: OWASP's lightest argon2id setting
/// (7 MiB x 5 passes); memory x passes must reach 7 MiB x 5.
const MIN_MEMORY_KIB: u32 = 7 * 1024;
const MIN_WORK_KIB: u64 = 7 * 1024 * 5;
/// The heaviest accepted: a login flood must not exhaust memory or time.
const MAX_MEMORY_KIB: u32 = 256 * 1024;
const MAX_PASSES: u32 = 10;
const MAX_LANES: u32 = 8;

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
fn hasher() -> Result<Argon2<'static>, Error> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| Error::Password(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
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
        count_computation();
        let phc = hasher()?
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
        count_computation();
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
        let params =
            Params::try_from(&phc).map_err(|_| invalid("has unreadable argon2 parameters"))?;
        check_bounds(&params).map_err(invalid)?;
        Ok(Self(value))
    }
}

/// Refuses parameters weaker than OWASP's floor (guessable offline) or
/// heavier than a login may cost (a denial of service on every login).
fn check_bounds(p: &Params) -> Result<(), &'static str> {
    if p.m_cost() < MIN_MEMORY_KIB || u64::from(p.m_cost()) * u64::from(p.t_cost()) < MIN_WORK_KIB {
        return Err(
            "uses argon2 parameters weaker than allowed (at least m=7168 KiB and m x t >= 35840); rehash it",
        );
    }
    if p.m_cost() > MAX_MEMORY_KIB || p.t_cost() > MAX_PASSES || p.p_cost() > MAX_LANES {
        return Err(
            "uses argon2 parameters heavier than allowed (at most m=262144 KiB, t=10, p=8)",
        );
    }
    Ok(())
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
    fn hashes_outside_the_parameter_bounds_are_refused_with_the_reason() {
        let weak = "$argon2id$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$Ohh7w2SQbQ4zF0wR1bpQ4A".to_string();
        let e = PasswordHash::try_from(weak)
            .expect_err("too weak")
            .to_string();
        assert!(e.contains("weaker than allowed"), "{e}");
        let heavy =
            "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHQ$Ohh7w2SQbQ4zF0wR1bpQ4A".to_string();
        let e = PasswordHash::try_from(heavy)
            .expect_err("too heavy")
            .to_string();
        assert!(e.contains("heavier than allowed"), "{e}");
        let owasp = PasswordHash::create("correct horse").expect("hash");
        assert!(PasswordHash::try_from(owasp.as_str().to_owned()).is_ok());
    }

    #[test]
    fn debug_output_redacts_the_hash() {
        let hash = PasswordHash::create("correct horse").expect("hash");
        assert!(!format!("{hash:?}").contains("argon2id$v"));
    }
}
