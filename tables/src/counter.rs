//! Counters for `Table::update_counter`: which values can count, and how an
//! update is computed.
//!
//! ETS updates an integer at a tuple position, with arbitrary precision. A
//! typed table updates a value that implements [`Counter`] (the integer
//! types do; a struct can, for one of its fields), in `i64` arithmetic:
//! a result that does not fit the value's type is an error, not a bignum.

/// A value holding a counter that `update_counter` can read and set.
///
/// Implemented for `i8`..`i64`, `u8`..`u64`, `isize` and `usize`. Implement
/// it for a struct to count in one of its fields:
///
/// ```
/// #[derive(Clone, PartialEq)]
/// struct Visits { page: String, count: i64 }
///
/// impl bream_tables::Counter for Visits {
///     fn counter(&self) -> Option<i64> { Some(self.count) }
///     fn set_counter(&mut self, value: i64) -> bool { self.count = value; true }
/// }
/// ```
pub trait Counter {
    /// The counter, or `None` if it does not fit an `i64`.
    fn counter(&self) -> Option<i64>;
    /// Sets the counter; false (leaving it unchanged) if `value` does not
    /// fit the counter's type.
    fn set_counter(&mut self, value: i64) -> bool;
}

macro_rules! integer_counter {
    ($($integer:ty),*) => {$(
        impl Counter for $integer {
            fn counter(&self) -> Option<i64> {
                i64::try_from(*self).ok()
            }
            fn set_counter(&mut self, value: i64) -> bool {
                match <$integer>::try_from(value) {
                    Ok(value) => {
                        *self = value;
                        true
                    }
                    Err(_) => false,
                }
            }
        }
    )*};
}

integer_counter!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// One counter update: add `increment`, and optionally wrap at a threshold,
/// as ETS's `{Pos, Incr, Threshold, SetValue}`.
///
/// `CounterUpdate::from(5)` (or just `5` where `impl Into<CounterUpdate>` is
/// taken) adds 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterUpdate {
    /// Added to the counter; may be negative.
    pub increment: i64,
    /// If set, `(threshold, set_value)`: when `increment >= 0` and the sum
    /// is above `threshold`, or `increment < 0` and the sum is below it, the
    /// counter becomes `set_value` instead.
    pub wrap: Option<(i64, i64)>,
}

impl CounterUpdate {
    /// Adds `increment`.
    pub fn add(increment: i64) -> Self {
        Self {
            increment,
            wrap: None,
        }
    }

    /// Adds `increment`; past `threshold` the counter becomes `set_value`.
    pub fn add_wrapping(increment: i64, threshold: i64, set_value: i64) -> Self {
        Self {
            increment,
            wrap: Some((threshold, set_value)),
        }
    }

    /// The new counter value, or `None` if it does not fit an `i64`.
    pub fn apply(self, current: i64) -> Option<i64> {
        let sum = i128::from(current) + i128::from(self.increment);
        let result = match self.wrap {
            Some((threshold, set_value))
                if (self.increment >= 0 && sum > i128::from(threshold))
                    || (self.increment < 0 && sum < i128::from(threshold)) =>
            {
                i128::from(set_value)
            }
            _ => sum,
        };
        i64::try_from(result).ok()
    }
}

impl From<i64> for CounterUpdate {
    fn from(increment: i64) -> Self {
        Self::add(increment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_follows_ets() {
        // ets:update_counter(T, K, {2, 1, 10, 0}) on 10 gives 0.
        assert_eq!(CounterUpdate::add_wrapping(1, 10, 0).apply(10), Some(0));
        assert_eq!(CounterUpdate::add_wrapping(1, 10, 0).apply(9), Some(10));
        assert_eq!(CounterUpdate::add_wrapping(-1, 0, 5).apply(0), Some(5));
        assert_eq!(CounterUpdate::add(1).apply(i64::MAX), None);
        assert_eq!(
            CounterUpdate::add_wrapping(1, 100, 0).apply(i64::MAX),
            Some(0)
        );
    }

    #[test]
    fn integer_counters_refuse_what_does_not_fit() {
        let mut small: u8 = 250;
        assert!(!small.set_counter(256));
        assert_eq!(small, 250);
        assert!(!small.set_counter(-1));
        assert_eq!(u64::MAX.counter(), None);
    }
}
