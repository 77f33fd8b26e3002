//! RFC 5280 CRLReason codes (section 5.3.1) by their ASN.1 names.

/// The reasons an operator may give, with their codes. certificateHold (6)
/// is left out because IronRoot has no way to release a hold, and
/// removeFromCRL (8) and aACompromise (10) do not apply to these certificates.
pub const REASONS: &[(&str, u8)] = &[
    ("unspecified", 0),
    ("keyCompromise", 1),
    ("cACompromise", 2),
    ("affiliationChanged", 3),
    ("superseded", 4),
    ("cessationOfOperation", 5),
    ("privilegeWithdrawn", 9),
];

/// Returns the code of a reason name, comparing without regard to case.
pub fn code(name: &str) -> Option<u8> {
    REASONS
        .iter()
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
        .map(|(_, code)| *code)
}

/// Returns the name of a reason code, or `code N` for one not in [`REASONS`].
pub fn name(code: u8) -> String {
    REASONS
        .iter()
        .find(|(_, candidate)| *candidate == code)
        .map_or_else(|| format!("code {code}"), |(name, _)| (*name).to_owned())
}

/// Returns the allowed names, comma-separated, for error messages.
pub fn allowed() -> String {
    REASONS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns rcgen's value for a code. Unknown codes become `unspecified`.
pub fn to_rcgen(code: u8) -> rcgen::RevocationReason {
    use rcgen::RevocationReason as R;
    match code {
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        9 => R::PrivilegeWithdrawn,
        _ => R::Unspecified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_round_trip() {
        for (reason, value) in REASONS {
            assert_eq!(code(reason), Some(*value));
            assert_eq!(name(*value), *reason);
        }
        assert_eq!(code("KEYCOMPROMISE"), Some(1));
        assert_eq!(code("certificateHold"), None);
        assert_eq!(name(6), "code 6");
    }
}
