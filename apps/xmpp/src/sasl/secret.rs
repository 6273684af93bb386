//! Stored credentials: SCRAM secrets derived from a password, and their
//! serialisation in MongooseIM's `pass_details` format.
//!
//! The server never stores a password. For each hash function it stores what
//! RFC 5802 §3 calls the authentication information: a random salt, an
//! iteration count, `StoredKey = H(HMAC(SaltedPassword, "Client Key"))` and
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`, where
//! `SaltedPassword = PBKDF2-HMAC(password, salt, iteration count)`. That is
//! enough to verify a SCRAM client proof and to prove the server's own
//! knowledge back, and, with a PBKDF2 run, to check a PLAIN password; it is
//! not enough to log in as the user.
//!
//! ```
//! use bream_xmpp::sasl::secret::{PassDetails, ScramHash};
//!
//! let details = PassDetails::derive("secret", &ScramHash::DEFAULT_SET, 4096).expect("valid password");
//! assert!(details.verify_password("secret"));
//! assert!(!details.verify_password("Secret"));
//! let stored = details.to_string(); // "==MULTI_SCRAM==,4096,===SHA1===...|...|...,==SHA256==..."
//! assert_eq!(stored.parse::<PassDetails>(), Ok(details));
//! ```
//!
//! # The `pass_details` format
//!
//! As MongooseIM writes its `users.pass_details` column (`mongoose_scram`),
//! so that rows can move between the two servers:
//!
//! ```text
//! ==MULTI_SCRAM==,<iteration count>,<entry>[,<entry>...]
//! entry = <prefix><salt>|<stored key>|<server key>
//! ```
//!
//! The iteration count is decimal and shared by every entry; salt and keys are
//! standard base64 with padding; each hash function has its own random salt.
//! Prefixes are exactly ten characters: `===SHA1===`, `==SHA224==`,
//! `==SHA256==`, `==SHA384==`, `==SHA512==`; entries are written in that
//! order. MongooseIM's older single-hash form
//! `==SCRAM==,<stored key>,<server key>,<salt>,<iteration count>` (SHA-1) is
//! read too, never written.
//!
//! Passwords are prepared with the PRECIS `OpaqueString` profile (RFC 8265,
//! the successor of the SASLprep that RFC 5802 names) before hashing; for
//! ASCII passwords that changes nothing. A password the profile refuses
//! (empty, or with control characters) cannot be stored.
//!
//! Defaults follow MongooseIM: 10000 iterations, 16-byte salts. We derive
//! SHA-1, SHA-256 and SHA-512 entries by default (the mechanisms offered);
//! SHA-224 and SHA-384 entries are read, kept and written when present.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use precis_profiles::precis_core::profile::PrecisFastInvocation;
use precis_profiles::OpaqueString;
use rand::RngCore;
use sha1::Digest;
use subtle::ConstantTimeEq;

/// The iteration count used when none is configured (MongooseIM's default).
pub const ITERATION_COUNT_DEFAULT: u32 = 10_000;
/// Bytes of a freshly generated salt (MongooseIM's `SALT_LENGTH`).
pub const SALT_BYTES: usize = 16;

const MULTI_SCRAM_PREFIX: &str = "==MULTI_SCRAM==,";
const LEGACY_SCRAM_PREFIX: &str = "==SCRAM==,";

/// A hash function SCRAM secrets can be derived with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramHash {
    /// SHA-1 (SCRAM-SHA-1, RFC 5802).
    Sha1,
    /// SHA-224 (stored for MongooseIM compatibility; no mechanism offered).
    Sha224,
    /// SHA-256 (SCRAM-SHA-256, RFC 7677).
    Sha256,
    /// SHA-384 (stored for MongooseIM compatibility; no mechanism offered).
    Sha384,
    /// SHA-512 (SCRAM-SHA-512).
    Sha512,
}

/// Runs `$body` with `$digest` bound to the digest type of `$hash`.
macro_rules! with_digest {
    ($hash:expr, $digest:ident => $body:expr) => {
        match $hash {
            ScramHash::Sha1 => {
                type $digest = sha1::Sha1;
                $body
            }
            ScramHash::Sha224 => {
                type $digest = sha2::Sha224;
                $body
            }
            ScramHash::Sha256 => {
                type $digest = sha2::Sha256;
                $body
            }
            ScramHash::Sha384 => {
                type $digest = sha2::Sha384;
                $body
            }
            ScramHash::Sha512 => {
                type $digest = sha2::Sha512;
                $body
            }
        }
    };
}

impl ScramHash {
    /// Every hash, in the order the `pass_details` format lists them.
    pub const ALL: [ScramHash; 5] = [
        ScramHash::Sha1,
        ScramHash::Sha224,
        ScramHash::Sha256,
        ScramHash::Sha384,
        ScramHash::Sha512,
    ];

    /// The hashes derived by default: those of the SCRAM mechanisms offered.
    pub const DEFAULT_SET: [ScramHash; 3] = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512];

    /// Bytes of this hash's output, and so of its keys.
    pub fn output_bytes(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha224 => 28,
            ScramHash::Sha256 => 32,
            ScramHash::Sha384 => 48,
            ScramHash::Sha512 => 64,
        }
    }

    /// The ten-character `pass_details` prefix.
    fn prefix(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "===SHA1===",
            ScramHash::Sha224 => "==SHA224==",
            ScramHash::Sha256 => "==SHA256==",
            ScramHash::Sha384 => "==SHA384==",
            ScramHash::Sha512 => "==SHA512==",
        }
    }

    /// `H(data)`.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        with_digest!(self, D => D::digest(data).to_vec())
    }

    /// `HMAC(key, data)`. `None` only if the HMAC could not be keyed, which
    /// HMAC's definition rules out (any key length is valid); callers fail
    /// closed on it.
    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        with_digest!(self, D => {
            let mut mac = <Hmac<D> as Mac>::new_from_slice(key).ok()?;
            mac.update(data);
            Some(mac.finalize().into_bytes().to_vec())
        })
    }

    /// `Hi(password, salt, i)` of RFC 5802: PBKDF2 with HMAC, one block.
    pub(crate) fn salted_password(
        self,
        password: &[u8],
        salt: &[u8],
        iteration_count: u32,
    ) -> Option<Vec<u8>> {
        let mut output = vec![0u8; self.output_bytes()];
        with_digest!(self, D => pbkdf2::pbkdf2::<Hmac<D>>(password, salt, iteration_count, &mut output).ok()?);
        Some(output)
    }
}

impl fmt::Display for ScramHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ScramHash::Sha1 => "SHA-1",
            ScramHash::Sha224 => "SHA-224",
            ScramHash::Sha256 => "SHA-256",
            ScramHash::Sha384 => "SHA-384",
            ScramHash::Sha512 => "SHA-512",
        })
    }
}

/// Why a password cannot be turned into stored credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The PRECIS `OpaqueString` profile refuses the password (it is empty,
    /// or contains control or unassigned characters).
    #[error("password refused by the OpaqueString profile: {0}")]
    Refused(String),
    /// No hash function was asked for.
    #[error("no hash function given")]
    NoHash,
    /// The iteration count is zero.
    #[error("iteration count must be at least 1")]
    ZeroIterations,
    /// HMAC could not be keyed; not expected to happen.
    #[error("HMAC could not be keyed")]
    Crypto,
}

/// Prepares a password with the `OpaqueString` profile, as it is hashed.
pub fn prepare_password(password: &str) -> Result<String, PasswordError> {
    OpaqueString::enforce(password)
        .map(|prepared| prepared.into_owned())
        .map_err(|error| PasswordError::Refused(error.to_string()))
}

/// The SCRAM authentication information for one hash function.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramSecret {
    /// The hash function.
    pub hash: ScramHash,
    /// The salt, raw bytes.
    pub salt: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iteration_count: u32,
    /// `H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl fmt::Debug for ScramSecret {
    /// Keys are secrets: they are not printed.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ScramSecret")
            .field("hash", &self.hash)
            .field("iteration_count", &self.iteration_count)
            .finish_non_exhaustive()
    }
}

impl ScramSecret {
    /// Derives the secret for `password` with a given salt.
    pub fn derive(
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iteration_count: u32,
    ) -> Result<ScramSecret, PasswordError> {
        if iteration_count == 0 {
            return Err(PasswordError::ZeroIterations);
        }
        let prepared = prepare_password(password)?;
        let keys = Self::keys_from_prepared(hash, prepared.as_bytes(), salt, iteration_count)
            .ok_or(PasswordError::Crypto)?;
        Ok(ScramSecret {
            hash,
            salt: salt.to_vec(),
            iteration_count,
            stored_key: keys.0,
            server_key: keys.1,
        })
    }

    /// `(StoredKey, ServerKey)` for an already prepared password.
    fn keys_from_prepared(
        hash: ScramHash,
        password: &[u8],
        salt: &[u8],
        iteration_count: u32,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let salted_password = hash.salted_password(password, salt, iteration_count)?;
        let client_key = hash.hmac(&salted_password, b"Client Key")?;
        let server_key = hash.hmac(&salted_password, b"Server Key")?;
        Some((hash.digest(&client_key), server_key))
    }

    /// Whether `password` is the one this secret was derived from (for
    /// PLAIN). Costs one PBKDF2 run; compares in constant time.
    pub fn verify_password(&self, password: &str) -> bool {
        let Ok(prepared) = prepare_password(password) else {
            return false;
        };
        match Self::keys_from_prepared(
            self.hash,
            prepared.as_bytes(),
            &self.salt,
            self.iteration_count,
        ) {
            Some((stored_key, _)) => stored_key.ct_eq(&self.stored_key).into(),
            None => false,
        }
    }
}

/// A user's stored credentials: SCRAM secrets for one or more hash
/// functions, with one iteration count. See the module docs for the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassDetails {
    iteration_count: u32,
    /// One per hash, in [`ScramHash::ALL`] order.
    secrets: Vec<ScramSecret>,
}

impl PassDetails {
    /// Derives secrets for `password` for each of `hashes` (duplicates
    /// ignored), each with its own random salt of [`SALT_BYTES`].
    pub fn derive(
        password: &str,
        hashes: &[ScramHash],
        iteration_count: u32,
    ) -> Result<PassDetails, PasswordError> {
        let mut random = rand::rng();
        let mut secrets = Vec::new();
        for hash in ScramHash::ALL
            .into_iter()
            .filter(|hash| hashes.contains(hash))
        {
            let mut salt = [0u8; SALT_BYTES];
            random.fill_bytes(&mut salt);
            secrets.push(ScramSecret::derive(hash, password, &salt, iteration_count)?);
        }
        PassDetails::from_secrets(secrets).ok_or(PasswordError::NoHash)
    }

    /// Derives secrets for [`ScramHash::DEFAULT_SET`] with
    /// [`ITERATION_COUNT_DEFAULT`].
    pub fn derive_default(password: &str) -> Result<PassDetails, PasswordError> {
        PassDetails::derive(password, &ScramHash::DEFAULT_SET, ITERATION_COUNT_DEFAULT)
    }

    /// Groups secrets made elsewhere. `None` if there are none, if two are
    /// for the same hash, or if their iteration counts differ (the format has
    /// one count).
    pub fn from_secrets(mut secrets: Vec<ScramSecret>) -> Option<PassDetails> {
        secrets.sort_by_key(|secret| secret.hash);
        let iteration_count = secrets.first()?.iteration_count;
        let consistent = secrets
            .iter()
            .all(|secret| secret.iteration_count == iteration_count)
            && secrets.windows(2).all(|pair| pair[0].hash != pair[1].hash);
        consistent.then_some(PassDetails {
            iteration_count,
            secrets,
        })
    }

    /// The shared iteration count.
    pub fn iteration_count(&self) -> u32 {
        self.iteration_count
    }

    /// The secret for `hash`, if stored.
    pub fn secret(&self, hash: ScramHash) -> Option<&ScramSecret> {
        self.secrets.iter().find(|secret| secret.hash == hash)
    }

    /// All stored secrets, in [`ScramHash::ALL`] order.
    pub fn secrets(&self) -> &[ScramSecret] {
        &self.secrets
    }

    /// Whether `password` matches, checked against the strongest stored hash.
    pub fn verify_password(&self, password: &str) -> bool {
        self.secrets
            .last()
            .is_some_and(|secret| secret.verify_password(password))
    }
}

impl fmt::Display for PassDetails {
    /// The MongooseIM `pass_details` text.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{MULTI_SCRAM_PREFIX}{}", self.iteration_count)?;
        for secret in &self.secrets {
            write!(
                formatter,
                ",{}{}|{}|{}",
                secret.hash.prefix(),
                BASE64.encode(&secret.salt),
                BASE64.encode(&secret.stored_key),
                BASE64.encode(&secret.server_key)
            )?;
        }
        Ok(())
    }
}

/// Why a `pass_details` text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PassDetailsError {
    /// Neither `==MULTI_SCRAM==,` nor `==SCRAM==,` starts the text.
    #[error("not a SCRAM pass_details value")]
    UnknownFormat,
    /// The iteration count is not a positive decimal number.
    #[error("invalid iteration count")]
    IterationCount,
    /// An entry starts with no known hash prefix.
    #[error("unknown hash prefix in entry {0}")]
    UnknownHash(usize),
    /// An entry does not have exactly salt, stored key and server key.
    #[error("entry {0} does not have three fields")]
    Fields(usize),
    /// A field is not valid base64, or a key has the wrong length.
    #[error("invalid value in entry {0}")]
    Value(usize),
    /// Two entries for one hash, or none at all.
    #[error("no entries, or two for the same hash")]
    Entries,
}

impl FromStr for PassDetails {
    type Err = PassDetailsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = text.strip_prefix(MULTI_SCRAM_PREFIX) {
            let mut fields = rest.split(',');
            let iteration_count = parse_iteration_count(fields.next().unwrap_or_default())?;
            let secrets = fields
                .enumerate()
                .map(|(index, entry)| parse_entry(index, entry, iteration_count))
                .collect::<Result<Vec<_>, _>>()?;
            return PassDetails::from_secrets(secrets).ok_or(PassDetailsError::Entries);
        }
        if let Some(rest) = text.strip_prefix(LEGACY_SCRAM_PREFIX) {
            let fields: Vec<&str> = rest.split(',').collect();
            let [stored_key, server_key, salt, iteration_count] = fields[..] else {
                return Err(PassDetailsError::Fields(0));
            };
            let secret = ScramSecret {
                hash: ScramHash::Sha1,
                salt: decode_field(0, salt, None)?,
                iteration_count: parse_iteration_count(iteration_count)?,
                stored_key: decode_field(0, stored_key, Some(ScramHash::Sha1))?,
                server_key: decode_field(0, server_key, Some(ScramHash::Sha1))?,
            };
            return PassDetails::from_secrets(vec![secret]).ok_or(PassDetailsError::Entries);
        }
        Err(PassDetailsError::UnknownFormat)
    }
}

fn parse_iteration_count(text: &str) -> Result<u32, PassDetailsError> {
    match text.parse::<u32>() {
        Ok(count) if count > 0 && text.bytes().all(|byte| byte.is_ascii_digit()) => Ok(count),
        _ => Err(PassDetailsError::IterationCount),
    }
}

fn parse_entry(
    index: usize,
    entry: &str,
    iteration_count: u32,
) -> Result<ScramSecret, PassDetailsError> {
    let hash = ScramHash::ALL
        .into_iter()
        .find(|hash| entry.starts_with(hash.prefix()))
        .ok_or(PassDetailsError::UnknownHash(index))?;
    let fields: Vec<&str> = entry[hash.prefix().len()..].split('|').collect();
    let [salt, stored_key, server_key] = fields[..] else {
        return Err(PassDetailsError::Fields(index));
    };
    Ok(ScramSecret {
        hash,
        salt: decode_field(index, salt, None)?,
        iteration_count,
        stored_key: decode_field(index, stored_key, Some(hash))?,
        server_key: decode_field(index, server_key, Some(hash))?,
    })
}

/// Decodes base64; a key must be as long as its hash's output.
fn decode_field(
    index: usize,
    text: &str,
    key_of: Option<ScramHash>,
) -> Result<Vec<u8>, PassDetailsError> {
    let bytes = BASE64
        .decode(text)
        .map_err(|_| PassDetailsError::Value(index))?;
    match key_of {
        Some(hash) if bytes.len() != hash.output_bytes() => Err(PassDetailsError::Value(index)),
        _ => Ok(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5802_and_7677_keys() {
        // The salts and passwords of the RFC examples; the keys follow from the
        // proofs in those examples (checked end to end in the mechanism tests).
        let salt = BASE64.decode("QSXCR+Q6sek8bf92").expect("base64");
        let secret = ScramSecret::derive(ScramHash::Sha1, "pencil", &salt, 4096).expect("derive");
        assert_eq!(secret.stored_key.len(), 20);
        assert!(secret.verify_password("pencil"));
        assert!(!secret.verify_password("pencil "));
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("base64");
        let secret = ScramSecret::derive(ScramHash::Sha256, "pencil", &salt, 4096).expect("derive");
        assert_eq!(secret.server_key.len(), 32);
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = ScramHash::Sha256
            .hmac(b"Jefe", b"what do ya want for nothing?")
            .expect("keyed");
        assert_eq!(
            mac.iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pbkdf2_matches_rfc_6070_test_case_2() {
        let output = ScramHash::Sha1
            .salted_password(b"password", b"salt", 2)
            .expect("derived");
        assert_eq!(
            output
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>(),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"
        );
    }

    #[test]
    fn derive_uses_a_salt_per_hash_and_round_trips() {
        let details = PassDetails::derive("pässword", &ScramHash::ALL, 16).expect("derive");
        assert_eq!(details.secrets().len(), 5);
        assert_eq!(details.iteration_count(), 16);
        let salts: std::collections::HashSet<_> = details
            .secrets()
            .iter()
            .map(|secret| &secret.salt)
            .collect();
        assert_eq!(salts.len(), 5);
        for secret in details.secrets() {
            assert_eq!(secret.salt.len(), SALT_BYTES);
            assert_eq!(secret.stored_key.len(), secret.hash.output_bytes());
            assert!(secret.verify_password("pässword"));
        }
        let text = details.to_string();
        assert!(text.starts_with("==MULTI_SCRAM==,16,===SHA1==="));
        assert!(text.contains(",==SHA224==") && text.contains(",==SHA512=="));
        assert_eq!(text.parse::<PassDetails>(), Ok(details));
    }

    #[test]
    fn default_derivation() {
        let details = PassDetails::derive_default("secret").expect("derive");
        assert_eq!(details.iteration_count(), ITERATION_COUNT_DEFAULT);
        let hashes: Vec<_> = details.secrets().iter().map(|secret| secret.hash).collect();
        assert_eq!(hashes, ScramHash::DEFAULT_SET);
        assert!(details.verify_password("secret"));
        assert!(!details.verify_password("wrong"));
    }

    #[test]
    fn passwords_are_prepared() {
        // Width mapping is not part of OpaqueString, but NFC is: a decomposed
        // "é" verifies against the composed one.
        let details = PassDetails::derive("caf\u{E9}", &[ScramHash::Sha256], 8).expect("derive");
        assert!(details.verify_password("cafe\u{301}"));
        assert!(matches!(
            PassDetails::derive("", &[ScramHash::Sha1], 8),
            Err(PasswordError::Refused(_))
        ));
        assert!(matches!(
            PassDetails::derive("a\u{7}", &[ScramHash::Sha1], 8),
            Err(PasswordError::Refused(_))
        ));
        assert_eq!(PassDetails::derive("a", &[], 8), Err(PasswordError::NoHash));
        assert_eq!(
            PassDetails::derive("a", &[ScramHash::Sha1], 0),
            Err(PasswordError::ZeroIterations)
        );
    }

    #[test]
    fn reads_mongooseim_formats() {
        let key20 = BASE64.encode([1u8; 20]);
        let key32 = BASE64.encode([2u8; 32]);
        let text = format!("==MULTI_SCRAM==,4096,===SHA1===c2FsdA==|{key20}|{key20},==SHA256==c2FsdDI=|{key32}|{key32}");
        let details: PassDetails = text.parse().expect("valid");
        assert_eq!(details.iteration_count(), 4096);
        assert_eq!(
            details
                .secret(ScramHash::Sha1)
                .map(|secret| secret.salt.clone()),
            Some(b"salt".to_vec())
        );
        assert_eq!(
            details
                .secret(ScramHash::Sha256)
                .map(|secret| secret.salt.clone()),
            Some(b"salt2".to_vec())
        );
        assert!(details.secret(ScramHash::Sha512).is_none());
        assert_eq!(details.to_string(), text);
        let legacy: PassDetails = format!("==SCRAM==,{key20},{key20},c2FsdA==,4096")
            .parse()
            .expect("valid");
        assert_eq!(legacy.secrets().len(), 1);
        assert_eq!(
            legacy
                .secret(ScramHash::Sha1)
                .map(|secret| secret.iteration_count),
            Some(4096)
        );
    }

    #[test]
    fn refuses_bad_pass_details() {
        let key20 = BASE64.encode([1u8; 20]);
        let cases = [
            ("plain password", PassDetailsError::UnknownFormat),
            ("==MULTI_SCRAM==,", PassDetailsError::IterationCount),
            ("==MULTI_SCRAM==,0,", PassDetailsError::IterationCount),
            ("==MULTI_SCRAM==,+5", PassDetailsError::IterationCount),
            ("==MULTI_SCRAM==,5", PassDetailsError::Entries),
            (
                "==MULTI_SCRAM==,5,==MD5=====a|b|c",
                PassDetailsError::UnknownHash(0),
            ),
            (
                "==MULTI_SCRAM==,5,===SHA1===a|b",
                PassDetailsError::Fields(0),
            ),
            (
                "==MULTI_SCRAM==,5,===SHA1===!!|b|c",
                PassDetailsError::Value(0),
            ),
            ("==SCRAM==,a,b", PassDetailsError::Fields(0)),
        ];
        for (text, error) in cases {
            assert_eq!(text.parse::<PassDetails>(), Err(error), "{text}");
        }
        // A key of the wrong length for its hash.
        let short = format!("==MULTI_SCRAM==,5,==SHA256==c2FsdA==|{key20}|{key20}");
        assert_eq!(
            short.parse::<PassDetails>(),
            Err(PassDetailsError::Value(0))
        );
        let twice = format!("==MULTI_SCRAM==,5,===SHA1===c2FsdA==|{key20}|{key20},===SHA1===c2FsdA==|{key20}|{key20}");
        assert_eq!(twice.parse::<PassDetails>(), Err(PassDetailsError::Entries));
    }

    #[test]
    fn debug_does_not_print_keys() {
        let secret = ScramSecret::derive(ScramHash::Sha1, "pencil", b"salt", 2).expect("derive");
        let printed = format!("{secret:?}");
        assert!(!printed.contains("stored_key") && !printed.contains("salt:"));
    }
}
