//! Bounded exponential backoff with full jitter for transient failures (timeouts, 5xx, garbled replies).

use std::time::Duration;

/// How often and how patiently a transient failure is retried.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Total attempts including the first (>= 1).
    pub attempts: u32,
    pub initial: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 3,
            initial: Duration::from_millis(500),
            cap: Duration::from_secs(4),
        }
    }
}

impl Backoff {
    /// No retries at all (used where a repeat would not be safe or useful).
    pub const fn once() -> Self {
        Self {
            attempts: 1,
            initial: Duration::ZERO,
            cap: Duration::ZERO,
        }
    }

    /// Upper bound of the wait before attempt `attempt` (1-based; attempt 0 never waits).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry number `retry` (1-based): uniform in [ceiling/2, ceiling] so a fleet does not retry in step.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        if ceiling.is_zero() {
            return ceiling;
        }
        let half = ceiling / 2;
        let jitter = rand::random::<f64>() * half.as_secs_f64();
        half + Duration::from_secs_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_and_caps() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(1), Duration::from_millis(500));
        assert_eq!(b.ceiling(2), Duration::from_secs(1));
        assert_eq!(b.ceiling(4), Duration::from_secs(4));
        assert_eq!(b.ceiling(40), Duration::from_secs(4));
    }

    #[test]
    fn delay_stays_within_half_and_full_ceiling() {
        let b = Backoff::default();
        for retry in 1..6 {
            for _ in 0..50 {
                let d = b.delay(retry);
                assert!(
                    d >= b.ceiling(retry) / 2 && d <= b.ceiling(retry),
                    "{d:?} for retry {retry}"
                );
            }
        }
    }
}
