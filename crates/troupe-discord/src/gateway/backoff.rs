//! The wait between reconnect attempts: doubling from half a second, capped (10 s by default),
//! with jitter so a fleet's shards do not knock on Discord's door in step. twilight's own
//! backoff doubles up to 128 s; the shard loop replaces the shard after a failed attempt so
//! this one applies instead.

use std::time::Duration;

/// The first wait.
const FIRST: Duration = Duration::from_millis(500);

/// The wait before attempt `failures + 1` after `failures` failed attempts (at least 1): a
/// random duration between half and all of `min(cap, FIRST × 2^(failures-1))`.
pub(crate) fn delay(failures: u32, cap: Duration, random: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let full = FIRST.saturating_mul(1 << exponent).min(cap);
    full.mul_f64(0.5 + random.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_and_never_exceeds_the_cap() {
        let cap = Duration::from_secs(10);
        assert_eq!(delay(1, cap, 1.0), Duration::from_millis(500));
        assert_eq!(delay(2, cap, 1.0), Duration::from_secs(1));
        assert_eq!(delay(5, cap, 1.0), Duration::from_secs(8));
        assert_eq!(delay(6, cap, 1.0), cap);
        assert_eq!(delay(200, cap, 1.0), cap);
    }

    #[test]
    fn jitter_spreads_the_wait_over_its_upper_half() {
        let cap = Duration::from_secs(10);
        assert_eq!(delay(10, cap, 0.0), Duration::from_secs(5));
        assert_eq!(delay(10, cap, 0.5), Duration::from_millis(7500));
        assert_eq!(delay(0, cap, 0.0), Duration::from_millis(250));
    }
}
