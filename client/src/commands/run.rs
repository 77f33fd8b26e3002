//! `ironroot-client run`: keeps a certificate fresh. It renews at a fraction
//! of the lifetime with ±10% jitter, retries with exponential backoff while
//! the issuer is unreachable or fails (5xx), waits `retry-after` on 429, runs
//! a reload command after each renewal, and exits non-zero when the issuer
//! rejects the renewal permanently (other 4xx) or the certificate has expired.

use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use super::renew::{check_fraction, due_time, format_time, load_current, renew_now};
use crate::cli::RunArgs;
use crate::error::CliError;

/// Jitter of the renewal point, as a fraction of the lifetime (±10%).
const JITTER: f64 = 0.1;
/// First retry delay after a failed renewal.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// Runs until the certificate expires without a successful renewal.
pub(crate) async fn run(args: RunArgs) -> Result<(), CliError> {
    check_fraction(args.files.renew_at)?;
    let reload = match &args.reload_command {
        Some(command) => Some(split_command(command)?),
        None => None,
    };
    let max_backoff = Duration::from_secs(args.max_backoff_seconds.max(1));
    loop {
        let current = load_current(&args.files)?;
        let not_after = current.validity.not_after;
        let due = due_time(
            &current,
            args.files.renew_at,
            JITTER * (2.0 * random_unit() - 1.0),
        );
        eprintln!(
            "certificate {} is valid until {}; next renewal at {}",
            current.serial_hex(),
            format_time(not_after),
            format_time(due)
        );
        sleep_until(due).await;

        let mut backoff = FIRST_BACKOFF;
        loop {
            let now = OffsetDateTime::now_utc();
            if now >= not_after {
                return Err(expired(&current.serial_hex(), not_after));
            }
            match renew_now(&args.files, &current).await {
                Ok(renewed) => {
                    eprintln!(
                        "renewed certificate {} as {} (valid until {})",
                        current.serial_hex(),
                        renewed.serial_hex(),
                        format_time(renewed.validity.not_after)
                    );
                    if let Some(argv) = &reload {
                        run_reload(argv).await;
                    }
                    // Never renew twice within a second, even for a lifetime
                    // shorter than the issuer's backdate.
                    tokio::time::sleep(FIRST_BACKOFF).await;
                    break;
                }
                Err(error) => {
                    let wait = match classify(&error) {
                        Failure::Permanent => {
                            return Err(permanent(&current.serial_hex(), &error));
                        }
                        Failure::RateLimited(Some(seconds)) => Duration::from_secs(seconds),
                        Failure::RateLimited(None) | Failure::Transient => {
                            // Full jitter between half the backoff and the whole of it.
                            let wait = backoff.mul_f64(0.5 + 0.5 * random_unit());
                            backoff = (backoff * 2).min(max_backoff);
                            wait
                        }
                    };
                    eprintln!(
                        "renewal failed: {}; retrying in {:.1} s",
                        error.message(),
                        wait.as_secs_f64()
                    );
                    tracing::warn!(error = %error.message(), retry_in_ms = wait.as_millis() as u64, "renewal failed");
                    let remaining = not_after - OffsetDateTime::now_utc();
                    let remaining = Duration::try_from(remaining).unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait.min(remaining)).await;
                }
            }
        }
    }
}

/// How `run` treats a failed renewal.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// An HTTP 4xx other than 408 and 429: the issuer will reject the same
    /// certificate again (revoked, superseded, unknown, name not allowed).
    Permanent,
    /// HTTP 429, with the `retry-after` seconds when the issuer sent them.
    RateLimited(Option<u64>),
    /// 408, 5xx, connection and TLS failures, and local errors: retried with backoff.
    Transient,
}

fn classify(error: &CliError) -> Failure {
    match error.server_status() {
        Some((429, retry_after)) => Failure::RateLimited(retry_after),
        Some((408, _)) => Failure::Transient,
        Some((status, _)) if (400..500).contains(&status) => Failure::Permanent,
        _ => Failure::Transient,
    }
}

fn permanent(serial: &str, error: &CliError) -> CliError {
    CliError::runtime(format!(
        "the issuer rejected the renewal of certificate {serial} for good, so run stops: {}",
        error.message()
    ))
    .with_hint(
        "retrying cannot succeed; fix the cause the issuer names, or enroll again with a new bootstrap token (`ironroot-client enroll`)",
    )
}

fn expired(serial: &str, not_after: OffsetDateTime) -> CliError {
    CliError::runtime(format!(
        "certificate {serial} expired at {} before it could be renewed",
        format_time(not_after)
    ))
    .with_hint("enroll again with a new bootstrap token (`ironroot-client enroll`)")
}

async fn sleep_until(at: OffsetDateTime) {
    let wait = at - OffsetDateTime::now_utc();
    if let Ok(wait) = Duration::try_from(wait) {
        tokio::time::sleep(wait).await;
    }
}

/// Splits the reload command with POSIX shell quoting rules.
fn split_command(command: &str) -> Result<Vec<String>, CliError> {
    let argv = shell_words::split(command).map_err(|error| {
        CliError::usage(format!(
            "--reload-command `{command}` cannot be split into words ({error})"
        ))
    })?;
    if argv.is_empty() {
        return Err(CliError::usage("--reload-command is empty"));
    }
    Ok(argv)
}

/// Runs the reload command and logs its exit status; a failure does not stop
/// the loop, because the new certificate is already in place.
async fn run_reload(argv: &[String]) {
    let argv = argv.to_vec();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .status()
    })
    .await;
    match status {
        Ok(Ok(status)) if status.success() => {
            eprintln!("reload command exited with {status}");
            tracing::info!(%status, "reload command finished");
        }
        Ok(Ok(status)) => {
            eprintln!("warning: reload command exited with {status}");
            tracing::warn!(%status, "reload command failed");
        }
        Ok(Err(error)) => {
            eprintln!("warning: reload command could not start: {error}");
            tracing::warn!(%error, "reload command could not start");
        }
        Err(error) => tracing::error!(%error, "reload task failed"),
    }
}

/// Returns a uniformly distributed number in [0, 1).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    // Jitter only spreads load; without the system RNG there is no jitter.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_be_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}
