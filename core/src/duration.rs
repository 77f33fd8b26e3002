//! Human-friendly durations on command lines and in configuration: `90s`, `10m`,
//! `24h`, `30d`.

use time::Duration;

/// Parses a whole number followed by `s`, `m`, `h` or `d`.
pub fn parse(value: &str) -> Result<Duration, String> {
    let trimmed = value.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
        format!("invalid duration `{value}`: add a unit, as in `10m` (s, m, h or d)")
    })?;
    let (digits, unit) = trimmed.split_at(split);
    let amount: i64 = digits.parse().map_err(|_| {
        format!("invalid duration `{value}`: expected a whole number before the unit, as in `10m`")
    })?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "invalid duration `{value}`: the unit `{}` is unknown; use a whole number followed by s, m, h or d, such as `10m`",
                unit.trim()
            ));
        }
    };
    let seconds = amount
        .checked_mul(seconds_per_unit)
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| {
            format!("invalid duration `{value}`: use a whole number of at least 1 followed by s, m, h or d, such as `10m`")
        })?;
    Ok(Duration::seconds(seconds))
}

/// Formats a point in time as RFC 3339 in UTC with whole seconds
/// (`2026-12-04T16:54:03Z`), the form every IronRoot message and log uses.
pub fn format_time(at: time::OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    let whole = utc.replace_nanosecond(0).unwrap_or(utc);
    whole
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| whole.unix_timestamp().to_string())
}

/// Formats a duration in the largest unit that divides it, the inverse of [`parse`].
pub fn format(duration: Duration) -> String {
    let seconds = duration.whole_seconds();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds != 0 && seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_each_unit() {
        assert_eq!(parse("90s").unwrap(), Duration::seconds(90));
        assert_eq!(parse("10m").unwrap(), Duration::minutes(10));
        assert_eq!(parse("24h").unwrap(), Duration::hours(24));
        assert_eq!(parse("30d").unwrap(), Duration::days(30));
    }

    #[test]
    fn invalid_durations_are_rejected() {
        for bad in ["", "10", "m", "-5m", "0s", "10w", "1.5h"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn time_formats_as_rfc3339_utc() {
        let at = time::OffsetDateTime::from_unix_timestamp(1_796_400_000).unwrap();
        assert_eq!(format_time(at), "2026-12-04T16:00:00Z");
    }

    #[test]
    fn durations_format_in_largest_unit() {
        assert_eq!(format(Duration::hours(48)), "2d");
        assert_eq!(format(Duration::minutes(90)), "90m");
        assert_eq!(format(Duration::seconds(61)), "61s");
    }
}
