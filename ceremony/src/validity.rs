//! Limits on certificate lifetimes chosen on the command line.

use time::Duration;

use crate::error::CeremonyError;

/// A lifetime limit for one kind of certificate.
pub(crate) struct Limit {
    /// Largest accepted `--validity-days` without `--allow-long-validity`.
    pub(crate) max_days: u32,
    /// The same limit in whole years, for messages.
    pub(crate) years: u32,
    /// Kind of certificate the limit applies to, for messages.
    pub(crate) kind: &'static str,
}

/// Root CAs: 25 years of 365.25 days, rounded down to whole days.
pub(crate) const ROOT: Limit = Limit {
    max_days: 9131,
    years: 25,
    kind: "a root CA",
};

/// Intermediate CAs: 8 years of 365.25 days.
pub(crate) const INTERMEDIATE: Limit = Limit {
    max_days: 2922,
    years: 8,
    kind: "an intermediate CA",
};

/// Checks `days` against `limit` and returns it as a duration. `allow_long`
/// lifts the maximum but not the minimum of one day.
pub(crate) fn lifetime(
    days: u32,
    limit: &Limit,
    allow_long: bool,
) -> Result<Duration, CeremonyError> {
    if days == 0 {
        return Err(CeremonyError::ValidityZero);
    }
    if days > limit.max_days && !allow_long {
        return Err(CeremonyError::ValidityTooLong {
            requested: days,
            max: limit.max_days,
            years: limit.years,
            kind: limit.kind,
        });
    }
    Ok(Duration::days(i64::from(days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_enforces_maximum_unless_allowed() {
        assert!(lifetime(ROOT.max_days, &ROOT, false).is_ok());
        assert!(matches!(
            lifetime(ROOT.max_days + 1, &ROOT, false),
            Err(CeremonyError::ValidityTooLong { max: 9131, .. })
        ));
        assert!(lifetime(ROOT.max_days + 1, &ROOT, true).is_ok());
    }

    #[test]
    fn lifetime_rejects_zero_days() {
        assert!(matches!(
            lifetime(0, &INTERMEDIATE, true),
            Err(CeremonyError::ValidityZero)
        ));
    }
}
