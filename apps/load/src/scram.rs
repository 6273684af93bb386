//! The client side of SCRAM (RFC 5802; SHA-256 from RFC 7677, SHA-512 as in
//! draft-melnikov-scram-sha-512), as a plain state machine: the caller moves messages between
//! it and the socket. The server's own SASL tests drive it too: it shares no code with the
//! server's side, so the two check each other.
//!
//! ```
//! use bream_load::scram::{ScramClient, ScramHash, SaltedPasswordCache};
//!
//! let cache = SaltedPasswordCache::new(16);
//! let mut client = ScramClient::with_nonce(ScramHash::Sha1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
//! assert_eq!(client.client_first(), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
//! let server_first = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
//! let client_final = client.client_final(server_first, &cache).unwrap();
//! assert!(client_final.ends_with(",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
//! client.verify_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").unwrap();
//! ```
//!
//! # Edges
//!
//! - No SASLprep: user names and passwords are used as given (load-test accounts are ASCII).
//! - No channel binding: the gs2 header is `n,,`, or what [`ScramClient::gs2_header`]
//!   is given (an authzid, the `y` flag); `c=` is that header's base64 with no binding data.
//! - A server asking for more than [`ITERATIONS_MAX`] iterations, a nonce that does not extend
//!   ours, bad base64 or a wrong server signature is an error, never a panic.
//! - Salted passwords are cached per (hash, password, salt, iterations), as RFC 5802 §5.1
//!   allows clients to do, in a [`SaltedPasswordCache`] bounded by entry count. This keeps the
//!   load generator's PBKDF2 out of login-rate measurements after a warm-up pass.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// The most PBKDF2 iterations a server may ask for: far above any real setting (MongooseIM and
/// Bream use 10000, ejabberd 4096), and it keeps a hostile server from pinning a core.
pub const ITERATIONS_MAX: u32 = 1_000_000;

/// Bytes of random client nonce, before base64.
const CLIENT_NONCE_BYTES: usize = 18;

/// The hash of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScramHash {
    /// SCRAM-SHA-1.
    Sha1,
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    /// The SASL mechanism name.
    pub fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SCRAM-SHA-1",
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => hmac_bytes::<Hmac<Sha1>>(key, data),
            ScramHash::Sha256 => hmac_bytes::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => hmac_bytes::<Hmac<Sha512>>(key, data),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                pbkdf2::pbkdf2_hmac_array::<Sha1, 20>(password, salt, iterations).to_vec()
            }
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
            ScramHash::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec()
            }
        }
    }
}

fn hmac_bytes<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <M as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// What went wrong in a SCRAM exchange: the server's message was bad or did not check out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramError(pub String);

impl fmt::Display for ScramError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SCRAM: {}", self.0)
    }
}

impl std::error::Error for ScramError {}

fn error(text: &str) -> ScramError {
    ScramError(text.to_string())
}

type CacheKey = (ScramHash, String, Vec<u8>, u32);

/// Salted passwords already computed, shared by every session of a run. At most `entries_max`
/// entries; past that, new results are not kept (the run still works, only slower).
pub struct SaltedPasswordCache {
    entries: Mutex<HashMap<CacheKey, Vec<u8>>>,
    entries_max: usize,
}

impl SaltedPasswordCache {
    /// An empty cache keeping at most `entries_max` salted passwords.
    pub fn new(entries_max: usize) -> Self {
        SaltedPasswordCache {
            entries: Mutex::new(HashMap::new()),
            entries_max,
        }
    }

    fn get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        entries.get(key).cloned()
    }

    fn put(&self, key: CacheKey, value: Vec<u8>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if entries.len() < self.entries_max {
            entries.insert(key, value);
        }
    }

    /// How many salted passwords are kept.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One SCRAM exchange, client side: [`client_first`](Self::client_first), then
/// [`client_final`](Self::client_final) with the server's challenge, then
/// [`verify_server_final`](Self::verify_server_final) with the server's success data.
pub struct ScramClient {
    hash: ScramHash,
    password: String,
    client_nonce: String,
    /// `n,,` unless the caller chose another.
    gs2_header: String,
    client_first_bare: String,
    /// Set by `client_final`: the signature the server must prove.
    server_signature_expected: Option<Vec<u8>>,
}

impl ScramClient {
    /// A client with a fresh random nonce.
    pub fn new(hash: ScramHash, username: &str, password: &str) -> Self {
        let nonce_bytes: [u8; CLIENT_NONCE_BYTES] = rand::random();
        Self::with_nonce(hash, username, password, &BASE64.encode(nonce_bytes))
    }

    /// A client with the given nonce (tests use RFC 5802's).
    pub fn with_nonce(hash: ScramHash, username: &str, password: &str, nonce: &str) -> Self {
        let escaped = username.replace('=', "=3D").replace(',', "=2C");
        ScramClient {
            hash,
            password: password.to_string(),
            client_nonce: nonce.to_string(),
            gs2_header: "n,,".to_string(),
            client_first_bare: format!("n={escaped},r={nonce}"),
            server_signature_expected: None,
        }
    }

    /// Opens with `gs2_header` (`y,,`, or `n,a=AUTHZID,`) instead of `n,,`: what a server
    /// must accept or refuse beyond the plain case.
    pub fn gs2_header(mut self, gs2_header: &str) -> Self {
        self.gs2_header = gs2_header.to_string();
        self
    }

    /// client-first-message.
    pub fn client_first(&self) -> String {
        format!("{}{}", self.gs2_header, self.client_first_bare)
    }

    /// Parses server-first-message and returns client-final-message. PBKDF2 runs here unless
    /// `cache` has the result: callers on an async runtime run this on a blocking thread.
    pub fn client_final(
        &mut self,
        server_first: &[u8],
        cache: &SaltedPasswordCache,
    ) -> Result<String, ScramError> {
        let text = std::str::from_utf8(server_first)
            .map_err(|_| error("server-first-message is not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in text.split(',') {
            if let Some(value) = attribute.strip_prefix("r=") {
                nonce = Some(value);
            } else if let Some(value) = attribute.strip_prefix("s=") {
                salt = Some(
                    BASE64
                        .decode(value)
                        .map_err(|_| error("salt is not base64"))?,
                );
            } else if let Some(value) = attribute.strip_prefix("i=") {
                iterations = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| error("iteration count is not a number"))?,
                );
            } else if attribute.starts_with("m=") {
                return Err(error("server requires an unsupported extension"));
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(error("server-first-message lacks r=, s= or i="));
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(error("server nonce does not extend the client nonce"));
        }
        if iterations == 0 || iterations > ITERATIONS_MAX {
            return Err(ScramError(format!(
                "iteration count {iterations} outside 1..={ITERATIONS_MAX}"
            )));
        }
        let key = (self.hash, self.password.clone(), salt, iterations);
        let salted_password = match cache.get(&key) {
            Some(salted) => salted,
            None => {
                let salted =
                    self.hash
                        .salted_password(self.password.as_bytes(), &key.2, iterations);
                cache.put(key, salted.clone());
                salted
            }
        };
        // "c=biws" for the usual "n,,".
        let without_proof = format!("c={},r={nonce}", BASE64.encode(&self.gs2_header));
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_key = self.hash.hmac(&salted_password, b"Client Key");
        let stored_key = self.hash.hash(&client_key);
        let client_signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(key_byte, signature_byte)| key_byte ^ signature_byte)
            .collect();
        let server_key = self.hash.hmac(&salted_password, b"Server Key");
        self.server_signature_expected = Some(self.hash.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)))
    }

    /// Checks server-final-message (`v=...`) against what the password implies.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let Some(expected) = &self.server_signature_expected else {
            return Err(error("server-final-message before client-final-message"));
        };
        let text = std::str::from_utf8(server_final)
            .map_err(|_| error("server-final-message is not UTF-8"))?;
        if let Some(condition) = text.strip_prefix("e=") {
            return Err(ScramError(format!("server error {condition}")));
        }
        let Some(value) = text.split(',').find_map(|part| part.strip_prefix("v=")) else {
            return Err(error("server-final-message lacks v="));
        };
        let signature = BASE64
            .decode(value)
            .map_err(|_| error("server signature is not base64"))?;
        if &signature != expected {
            return Err(error("server signature does not match"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5802_sha1_example() {
        let cache = SaltedPasswordCache::new(4);
        let mut client = ScramClient::with_nonce(
            ScramHash::Sha1,
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL",
        );
        assert_eq!(
            client.client_first(),
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let client_final = client
            .client_final(
                b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
                &cache,
            )
            .unwrap();
        assert_eq!(
            client_final,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert_eq!(
            client.verify_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
            Ok(())
        );
        assert!(client.verify_server_final(b"v=AAAA").is_err());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn rfc_7677_sha256_example_and_cache_hit() {
        let cache = SaltedPasswordCache::new(4);
        for _ in 0..2 {
            let mut client = ScramClient::with_nonce(
                ScramHash::Sha256,
                "user",
                "pencil",
                "rOprNGfwEbeRWgbNEkqO",
            );
            let client_final = client
                .client_final(
                    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                    &cache,
                )
                .unwrap();
            assert_eq!(
                client_final,
                "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
            );
            client
                .verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
                .unwrap();
        }
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn bad_server_messages_are_errors() {
        let cache = SaltedPasswordCache::new(0);
        let first = |message: &[u8]| {
            ScramClient::with_nonce(ScramHash::Sha1, "a,b=c", "p", "abc")
                .client_final(message, &cache)
        };
        assert!(
            first(b"r=xyz123,s=QSXCR+Q6sek8bf92,i=4096").is_err(),
            "foreign nonce"
        );
        assert!(
            first(b"r=abc,s=QSXCR+Q6sek8bf92,i=4096").is_err(),
            "nonce not extended"
        );
        assert!(first(b"r=abcd,s=***,i=4096").is_err(), "salt");
        assert!(
            first(b"r=abcd,s=QSXCR+Q6sek8bf92,i=0").is_err(),
            "zero iterations"
        );
        assert!(
            first(b"r=abcd,s=QSXCR+Q6sek8bf92,i=99999999").is_err(),
            "too many"
        );
        assert!(first(b"r=abcd,s=QSXCR+Q6sek8bf92").is_err(), "no i=");
        assert!(first(&[0xff, 0xfe]).is_err(), "not UTF-8");
        let client = ScramClient::with_nonce(ScramHash::Sha1, "a,b=c", "p", "abc");
        assert_eq!(client.client_first(), "n,,n=a=2Cb=3Dc,r=abc");
        assert!(
            client.verify_server_final(b"v=AAAA").is_err(),
            "before final"
        );
        assert_eq!(cache.len(), 0, "a zero-entry cache keeps nothing");
    }
}
