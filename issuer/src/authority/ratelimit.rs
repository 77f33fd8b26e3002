//! In-memory token buckets for `rate_limit_per_profile` and
//! `rate_limit_per_name`. The buckets live only as long as the process, so a
//! restart refills them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most buckets kept per limiter; full buckets are dropped when it is reached.
const MAX_BUCKETS: usize = 100_000;

/// A rate of `count` events per `period`, with a burst of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed per period.
    pub count: u32,
    /// The period.
    pub period: Duration,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by a string (a profile name or a requested name).
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    what: &'static str,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// A request over a limit: the message names the limit, and `retry_after`
/// is when one more request fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Explanation naming the limit and the key.
    pub message: String,
    /// Whole seconds until a retry can succeed, at least 1.
    pub retry_after: u64,
}

impl RateLimiter {
    /// Creates a limiter; `what` names the configuration key in messages.
    pub fn new(what: &'static str, rate: Rate) -> Self {
        Self {
            rate,
            what,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from the bucket of each key, or none at all when one of
    /// them is empty.
    pub fn check(&self, keys: &[&str], now: Instant) -> Result<(), Limited> {
        let capacity = f64::from(self.rate.count);
        let per_second = capacity / self.rate.period.as_secs_f64().max(0.001);
        // A poisoned lock only means a panic elsewhere; the map stays usable.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if buckets.len() > MAX_BUCKETS {
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second
                    < capacity
            });
        }
        for key in keys {
            let bucket = buckets.entry((*key).to_owned()).or_insert(Bucket {
                tokens: capacity,
                updated: now,
            });
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
            bucket.updated = now;
            if bucket.tokens < 1.0 {
                let wait = ((1.0 - bucket.tokens) / per_second).ceil().max(1.0);
                return Err(Limited {
                    message: format!(
                        "rate limit exceeded for `{key}`: {} allows {} requests per {}; retry in {} s",
                        self.what,
                        self.rate.count,
                        ironroot_core::duration::format(time::Duration::seconds(
                            self.rate.period.as_secs() as i64
                        )),
                        wait as u64
                    ),
                    retry_after: wait as u64,
                });
            }
        }
        for key in keys {
            if let Some(bucket) = buckets.get_mut(*key) {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

/// The daemon's limiters; `None` where the configuration sets no limit.
#[derive(Debug)]
pub struct Limits {
    /// Per token profile.
    pub per_profile: Option<RateLimiter>,
    /// Per requested name.
    pub per_name: Option<RateLimiter>,
}

impl Limits {
    /// Builds the limiters the configuration asks for.
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            per_profile: config
                .rate_limit_per_profile
                .map(|rate| RateLimiter::new("rate_limit_per_profile", rate)),
            per_name: config
                .rate_limit_per_name
                .map(|rate| RateLimiter::new("rate_limit_per_name", rate)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills() {
        let limiter = RateLimiter::new(
            "rate_limit_per_name",
            Rate {
                count: 2,
                period: Duration::from_secs(10),
            },
        );
        let start = Instant::now();
        assert!(limiter.check(&["a"], start).is_ok());
        assert!(limiter.check(&["a"], start).is_ok());
        let limited = limiter.check(&["a"], start).unwrap_err();
        assert_eq!(limited.retry_after, 5);
        assert!(
            limited.message.contains("rate_limit_per_name"),
            "{limited:?}"
        );
        assert!(limiter.check(&["b"], start).is_ok());
        assert!(
            limiter
                .check(&["a"], start + Duration::from_secs(5))
                .is_ok()
        );
    }
}
