//! Restart intensity: how many restarts a supervisor tolerates in a window.
//!
//! OTP's rule: each restart is recorded; if more than `restarts_max` restarts fall within the
//! last `period`, the supervisor gives up. With the default (1 in 5 s) a second crash within
//! five seconds of the first ends the supervisor. The clock is an input, so the rule is tested
//! without sleeping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The record of recent restarts.
#[derive(Clone, Debug)]
pub struct RestartIntensity {
    restarts_max: u32,
    period: Duration,
    recent: VecDeque<Instant>,
}

/// More restarts than allowed happened in the period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntensityReached;

impl RestartIntensity {
    /// Allows `restarts_max` restarts in any window of `period`.
    pub fn new(restarts_max: u32, period: Duration) -> Self {
        RestartIntensity {
            restarts_max,
            period,
            recent: VecDeque::new(),
        }
    }

    /// The restarts allowed in a period.
    pub fn restarts_max(&self) -> u32 {
        self.restarts_max
    }

    /// The window restarts are counted in.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Records a restart at `now`; `Err` when it is one too many.
    pub fn record(&mut self, now: Instant) -> Result<(), IntensityReached> {
        self.recent.push_back(now);
        while let Some(&oldest) = self.recent.front() {
            if now.saturating_duration_since(oldest) > self.period {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        // The queue never holds more than restarts_max + 1 entries: past that we give up.
        if self.recent.len() > self.restarts_max as usize {
            Err(IntensityReached)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otp_default_allows_one_restart_in_five_seconds() {
        let start = Instant::now();
        let mut intensity = RestartIntensity::new(1, Duration::from_secs(5));
        assert_eq!(intensity.record(start), Ok(()));
        assert_eq!(
            intensity.record(start + Duration::from_secs(4)),
            Err(IntensityReached)
        );
    }

    #[test]
    fn old_restarts_fall_out_of_the_window() {
        let start = Instant::now();
        let mut intensity = RestartIntensity::new(2, Duration::from_secs(1));
        for step in 0..10 {
            assert_eq!(
                intensity.record(start + Duration::from_millis(600 * step)),
                Ok(())
            );
        }
    }

    #[test]
    fn zero_intensity_gives_up_on_the_first_restart() {
        let mut intensity = RestartIntensity::new(0, Duration::from_secs(5));
        assert_eq!(intensity.record(Instant::now()), Err(IntensityReached));
    }
}
