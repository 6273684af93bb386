//! What a run counts: latency histograms (lock-free, bounded memory) and errors by kind.
//!
//! The histogram is exact below [`EXACT_MICROS`] µs and keeps [`SUB_BUCKETS`] buckets per
//! power of two above, so a reported percentile is within 0.1 % of the true sample; it holds
//! values up to [`MICROS_MAX`] µs (larger ones are clamped, and `max` stays exact). Percentiles
//! use the nearest-rank method: p is the smallest recorded value with at least p % of the
//! samples at or below it.
//!
//! ```
//! use bream_load::stats::Histogram;
//! let histogram = Histogram::new();
//! for micros in 1..=100 {
//!     histogram.record(micros);
//! }
//! assert_eq!(histogram.percentile(50.0), 50);
//! assert_eq!(histogram.percentile(99.0), 99);
//! assert_eq!(histogram.max(), 100);
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// Values below this many µs have a bucket each.
pub const EXACT_MICROS: u64 = 2048;
/// Buckets per power of two above [`EXACT_MICROS`].
pub const SUB_BUCKETS: u64 = 1024;
/// The largest value kept apart (about 19 hours); larger ones count as this.
pub const MICROS_MAX: u64 = (1 << 36) - 1;

const EXACT_BITS: u32 = EXACT_MICROS.trailing_zeros();
const SUB_BITS: u32 = SUB_BUCKETS.trailing_zeros();
const OCTAVES: u64 = 36 - EXACT_BITS as u64;
const BUCKETS: usize = (EXACT_MICROS + OCTAVES * SUB_BUCKETS) as usize;

const _: () = assert!(EXACT_MICROS.is_power_of_two() && SUB_BUCKETS.is_power_of_two());
const _: () = assert!(
    SUB_BUCKETS <= EXACT_MICROS,
    "an octave must hold its sub-buckets"
);

/// A latency histogram in microseconds, shared by every session of a run.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

fn bucket_of(micros: u64) -> usize {
    let value = micros.min(MICROS_MAX);
    if value < EXACT_MICROS {
        return value as usize;
    }
    let octave = 63 - value.leading_zeros(); // >= EXACT_BITS
    let shift = octave - SUB_BITS;
    let sub = (value >> shift) - SUB_BUCKETS; // 0..SUB_BUCKETS
    (EXACT_MICROS + u64::from(octave - EXACT_BITS) * SUB_BUCKETS + sub) as usize
}

/// The smallest value that falls into `bucket`.
fn bucket_low(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < EXACT_MICROS {
        return bucket;
    }
    let above = bucket - EXACT_MICROS;
    let octave = above / SUB_BUCKETS + u64::from(EXACT_BITS);
    let sub = above % SUB_BUCKETS;
    (SUB_BUCKETS + sub) << (octave - u64::from(SUB_BITS))
}

impl Histogram {
    /// An empty histogram (about 220 KB).
    pub fn new() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Adds one sample.
    pub fn record(&self, micros: u64) {
        self.buckets[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(micros, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The largest sample, exact; 0 when empty.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The mean, 0 when empty.
    pub fn mean(&self) -> f64 {
        let count = self.count();
        if count == 0 {
            return 0.0;
        }
        self.sum.load(Ordering::Relaxed) as f64 / count as f64
    }

    /// The nearest-rank percentile `p` (0 < p ≤ 100), as its bucket's lowest value (never
    /// above the exact max); 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        let count = self.count();
        if count == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * count as f64).ceil().clamp(1.0, count as f64) as u64;
        let mut seen = 0;
        for (bucket, cell) in self.buckets.iter().enumerate() {
            seen += cell.load(Ordering::Relaxed);
            if seen >= rank {
                return bucket_low(bucket).min(self.max());
            }
        }
        self.max()
    }

    /// p50, p90, p99 and max, for reports.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count(),
            mean_us: (self.mean() * 10.0).round() / 10.0,
            p50_us: self.percentile(50.0),
            p90_us: self.percentile(90.0),
            p99_us: self.percentile(99.0),
            max_us: self.max(),
        }
    }
}

/// A histogram's figures, in µs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest.
    pub max_us: u64,
}

/// Errors by kind (`connect`, `auth`, `stream_error:conflict`, `timeout:login`, ...). Errors are
/// rare, so a mutex is cheap enough; the number of kinds is bounded by the code's own names
/// plus stream-error conditions, cut at [`ERROR_KINDS_MAX`].
#[derive(Default)]
pub struct Errors {
    kinds: Mutex<BTreeMap<String, u64>>,
}

/// Distinct error kinds kept; more are counted under `other`.
pub const ERROR_KINDS_MAX: usize = 64;

impl Errors {
    /// Counts one error of `kind`.
    pub fn add(&self, kind: &str) {
        self.add_many(kind, 1);
    }

    /// Counts `count` errors of `kind`.
    pub fn add_many(&self, kind: &str, count: u64) {
        if count == 0 {
            return;
        }
        let mut kinds = self
            .kinds
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let key = if kinds.contains_key(kind) || kinds.len() < ERROR_KINDS_MAX {
            kind
        } else {
            "other"
        };
        *kinds.entry(key.to_string()).or_insert(0) += count;
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.kinds
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_reports_zero() {
        let histogram = Histogram::new();
        assert_eq!(histogram.percentile(99.0), 0);
        assert_eq!(histogram.summary(), LatencySummary::default());
    }

    #[test]
    fn nearest_rank_on_exact_values() {
        let histogram = Histogram::new();
        for micros in [5, 1, 4, 2, 3] {
            histogram.record(micros);
        }
        assert_eq!(histogram.percentile(20.0), 1);
        assert_eq!(histogram.percentile(21.0), 2);
        assert_eq!(histogram.percentile(50.0), 3);
        assert_eq!(histogram.percentile(100.0), 5);
        assert_eq!(histogram.percentile(0.001), 1);
        assert_eq!(histogram.mean(), 3.0);
        let single = Histogram::new();
        single.record(777);
        assert_eq!(single.summary().p99_us, 777);
    }

    #[test]
    fn large_values_within_a_tenth_of_a_percent() {
        let histogram = Histogram::new();
        for micros in (1..=10_000u64).map(|index| index * 1_000) {
            histogram.record(micros);
        }
        for (p, exact) in [(50.0, 5_000_000u64), (90.0, 9_000_000), (99.0, 9_900_000)] {
            let got = histogram.percentile(p);
            assert!(
                got <= exact && exact - got <= exact / 1000,
                "p{p}: {got} vs {exact}"
            );
        }
        assert_eq!(histogram.max(), 10_000_000);
        histogram.record(u64::MAX);
        assert_eq!(histogram.max(), u64::MAX);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn buckets_are_monotonic_and_round_trip() {
        let mut previous = 0;
        for value in (0..200_000u64).chain([MICROS_MAX - 1, MICROS_MAX]) {
            let bucket = bucket_of(value);
            assert!(bucket >= previous);
            assert!(bucket_low(bucket) <= value);
            assert_eq!(bucket_of(bucket_low(bucket)), bucket);
            previous = bucket;
        }
    }

    #[test]
    fn error_kinds_are_bounded() {
        let errors = Errors::default();
        for index in 0..(ERROR_KINDS_MAX + 10) {
            errors.add(&format!("kind{index}"));
        }
        errors.add_many("kind0", 2);
        let snapshot = errors.snapshot();
        assert_eq!(snapshot.len(), ERROR_KINDS_MAX + 1);
        assert_eq!(snapshot["other"], 10);
        assert_eq!(snapshot["kind0"], 3);
    }
}
