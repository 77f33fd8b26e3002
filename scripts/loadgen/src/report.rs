//! Results of each concurrency level: table and JSON.

use std::time::Duration;

use serde::Serialize;

use crate::drive::Outcome;

/// The figures of one concurrency level.
#[derive(Debug, Serialize)]
pub(crate) struct Level {
    concurrency: usize,
    succeeded: usize,
    failed: usize,
    seconds: f64,
    certificates_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Daemon CPU time per certificate in milliseconds, when its pid was given.
    daemon_cpu_ms_per_certificate: Option<f64>,
}

impl Level {
    pub(crate) fn new(concurrency: usize, outcome: &Outcome, daemon_cpu: Option<Duration>) -> Self {
        let mut latencies = outcome.latencies.clone();
        latencies.sort_unstable();
        let succeeded = latencies.len();
        let seconds = outcome.elapsed.as_secs_f64();
        Self {
            concurrency,
            succeeded,
            failed: outcome.failures,
            seconds,
            certificates_per_second: if seconds > 0.0 {
                succeeded as f64 / seconds
            } else {
                0.0
            },
            p50_ms: percentile_ms(&latencies, 0.50),
            p99_ms: percentile_ms(&latencies, 0.99),
            daemon_cpu_ms_per_certificate: daemon_cpu
                .filter(|_| succeeded > 0)
                .map(|cpu| cpu.as_secs_f64() * 1000.0 / succeeded as f64),
        }
    }
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
fn percentile_ms(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

/// Prints the levels as an aligned table on stdout.
pub(crate) fn print_table(levels: &[Level]) {
    println!(
        "{:>11} {:>9} {:>6} {:>12} {:>9} {:>9} {:>16}",
        "concurrency", "succeeded", "failed", "certs/s", "p50 ms", "p99 ms", "daemon CPU ms/cert"
    );
    for level in levels {
        let cpu = level
            .daemon_cpu_ms_per_certificate
            .map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.3}"));
        println!(
            "{:>11} {:>9} {:>6} {:>12.1} {:>9.2} {:>9.2} {:>16}",
            level.concurrency,
            level.succeeded,
            level.failed,
            level.certificates_per_second,
            level.p50_ms,
            level.p99_ms,
            cpu
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_uses_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&sorted, 0.50), 50.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }
}
