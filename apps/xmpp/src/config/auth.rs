//! `[auth]`: who may log in, with which SASL mechanisms, and how passwords are stored.
//!
//! ```toml
//! [auth]
//! methods = ["rdbms"]
//! sasl_mechanisms = ["scram_sha512", "scram_sha256", "scram_sha1", "plain"]
//! max_failed_attempts = 3
//!
//! [auth.password]
//! hash = ["sha", "sha256", "sha512"]
//! scram_iterations = 10000
//! ```

use serde::Deserialize;

use super::Invalid;
use crate::sasl::secret::{PassDetails, PasswordError, ScramHash, ITERATION_COUNT_DEFAULT};
use crate::sasl::Mechanism;

/// Failed SASL attempts on one connection before it is closed.
pub const MAX_FAILED_ATTEMPTS_DEFAULT: u32 = 3;

/// `[auth]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    /// Where accounts live. Default `["rdbms"]`, the only method Bream has.
    pub methods: Vec<AuthMethod>,
    /// Mechanisms offered, in this order. Default every one Bream has, strongest first:
    /// `scram_sha512`, `scram_sha256`, `scram_sha1`, `plain`. Not empty.
    pub sasl_mechanisms: Vec<SaslMechanism>,
    /// Failed SASL attempts on one connection before it is closed. Default
    /// [`MAX_FAILED_ATTEMPTS_DEFAULT`] (3); at least 1.
    pub max_failed_attempts: u32,
    /// `[auth.password]`.
    pub password: Password,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            methods: vec![AuthMethod::Rdbms],
            sasl_mechanisms: vec![
                SaslMechanism::ScramSha512,
                SaslMechanism::ScramSha256,
                SaslMechanism::ScramSha1,
                SaslMechanism::Plain,
            ],
            max_failed_attempts: MAX_FAILED_ATTEMPTS_DEFAULT,
            password: Password::default(),
        }
    }
}

impl Auth {
    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        if self.methods.is_empty() {
            return Err(Invalid::new(
                "auth.methods",
                "[]",
                "name at least one method",
            ));
        }
        if self.sasl_mechanisms.is_empty() {
            return Err(Invalid::new(
                "auth.sasl_mechanisms",
                "[]",
                "name at least one mechanism",
            ));
        }
        if self.max_failed_attempts == 0 {
            return Err(Invalid::new(
                "auth.max_failed_attempts",
                "0",
                "must be at least 1",
            ));
        }
        if self.password.hash.is_empty() {
            return Err(Invalid::new(
                "auth.password.hash",
                "[]",
                "name at least one hash",
            ));
        }
        if self.password.scram_iterations == 0 {
            return Err(Invalid::new(
                "auth.password.scram_iterations",
                "0",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The mechanisms to offer, in the configured order, without duplicates.
    pub fn mechanisms(&self) -> Vec<Mechanism> {
        let mut mechanisms: Vec<Mechanism> = Vec::new();
        for mechanism in self.sasl_mechanisms.iter().map(|name| name.mechanism()) {
            if !mechanisms.contains(&mechanism) {
                mechanisms.push(mechanism);
            }
        }
        mechanisms
    }
}

/// An authentication method (MongooseIM's `auth.methods`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Accounts in the SQL database (`users`).
    Rdbms,
}

/// A SASL mechanism, by MongooseIM's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaslMechanism {
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-1`.
    ScramSha1,
    /// `PLAIN`.
    Plain,
}

impl SaslMechanism {
    /// The mechanism the SASL state machines implement.
    pub fn mechanism(self) -> Mechanism {
        match self {
            SaslMechanism::ScramSha512 => Mechanism::ScramSha512,
            SaslMechanism::ScramSha256 => Mechanism::ScramSha256,
            SaslMechanism::ScramSha1 => Mechanism::ScramSha1,
            SaslMechanism::Plain => Mechanism::Plain,
        }
    }
}

/// `[auth.password]`: how passwords become stored SCRAM secrets. Passwords themselves are
/// never stored (MongooseIM's `format = "scram"`, the only format here).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Password {
    /// Hashes to derive secrets for. Default `["sha", "sha256", "sha512"]`, the hashes of the
    /// mechanisms offered; `sha224` and `sha384` are accepted too (MongooseIM's names).
    pub hash: Vec<PasswordHash>,
    /// PBKDF2 iterations. Default 10000 ([`ITERATION_COUNT_DEFAULT`], as MongooseIM); at least
    /// 1. Changing it affects passwords set afterwards.
    pub scram_iterations: u32,
}

impl Default for Password {
    fn default() -> Self {
        Password {
            hash: vec![
                PasswordHash::Sha,
                PasswordHash::Sha256,
                PasswordHash::Sha512,
            ],
            scram_iterations: ITERATION_COUNT_DEFAULT,
        }
    }
}

impl Password {
    /// The stored form of `password` under these settings.
    ///
    /// Errors: the password is refused by the PRECIS `OpaqueString` profile (empty, or with
    /// control characters).
    pub fn derive(&self, password: &str) -> Result<PassDetails, PasswordError> {
        let hashes: Vec<ScramHash> = self.hash.iter().map(|hash| hash.scram_hash()).collect();
        PassDetails::derive(password, &hashes, self.scram_iterations)
    }
}

/// A hash function for stored secrets, by MongooseIM's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordHash {
    /// SHA-1.
    Sha,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl PasswordHash {
    /// The hash as the secrets know it.
    pub fn scram_hash(self) -> ScramHash {
        match self {
            PasswordHash::Sha => ScramHash::Sha1,
            PasswordHash::Sha224 => ScramHash::Sha224,
            PasswordHash::Sha256 => ScramHash::Sha256,
            PasswordHash::Sha384 => ScramHash::Sha384,
            PasswordHash::Sha512 => ScramHash::Sha512,
        }
    }
}
