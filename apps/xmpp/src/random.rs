//! Where the stream and SASL state machines get their random bytes (stream ids, generated
//! resources, SCRAM nonces, the unknown-user key): an input given with their configuration,
//! like the clock, so that a test can replay a stream or an exchange byte for byte with
//! [`Randomness::seeded`]. Servers use [`Randomness::system`], the thread-local CSPRNG
//! seeded from the OS.
//!
//! Shared by pointer in the configurations (one per server, not one per session), so it costs
//! a session nothing.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use rand::{RngCore, SeedableRng};

/// A source of random bytes. Cheap to clone.
#[derive(Clone)]
pub struct Randomness(Source);

#[derive(Clone)]
enum Source {
    System,
    Seeded(Arc<Mutex<rand::rngs::StdRng>>),
}

impl Randomness {
    /// The operating system's randomness, through the thread-local CSPRNG.
    pub fn system() -> Randomness {
        Randomness(Source::System)
    }

    /// A reproducible sequence from `seed`, for tests (never for a server: anyone who knows
    /// the seed knows every nonce).
    pub fn seeded(seed: u64) -> Randomness {
        Randomness(Source::Seeded(Arc::new(Mutex::new(
            rand::rngs::StdRng::seed_from_u64(seed),
        ))))
    }

    /// Fills `bytes`.
    pub fn fill(&self, bytes: &mut [u8]) {
        match &self.0 {
            Source::System => rand::rng().fill_bytes(bytes),
            Source::Seeded(random) => random.lock().fill_bytes(bytes),
        }
    }
}

impl Default for Randomness {
    fn default() -> Self {
        Randomness::system()
    }
}

impl PartialEq for Randomness {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Source::System, Source::System) => true,
            (Source::Seeded(left), Source::Seeded(right)) => Arc::ptr_eq(left, right),
            _ => false,
        }
    }
}

impl Eq for Randomness {}

impl fmt::Debug for Randomness {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self.0 {
            Source::System => "Randomness::system",
            Source::Seeded(_) => "Randomness::seeded",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Randomness;

    #[test]
    fn a_seed_replays_its_sequence_and_the_system_source_does_not_repeat() {
        let (mut first, mut second) = ([0u8; 16], [0u8; 16]);
        Randomness::seeded(7).fill(&mut first);
        Randomness::seeded(7).fill(&mut second);
        assert_eq!(first, second);
        Randomness::seeded(8).fill(&mut second);
        assert_ne!(first, second);
        Randomness::system().fill(&mut first);
        Randomness::system().fill(&mut second);
        assert_ne!(first, second);
    }
}
