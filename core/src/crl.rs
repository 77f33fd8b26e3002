//! Certificate revocation lists signed by a root, revoking intermediates.

use std::fmt;
use std::str::FromStr;

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;

use crate::Error;
use crate::cert::Authority;

/// Reason codes of RFC 5280 section 5.3.1 that a root CRL may carry.
/// certificateHold and removeFromCRL are left out: a root never suspends an
/// intermediate, and IronRoot writes no delta CRLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// unspecified (0). RFC 5280 recommends omitting the reason instead.
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// All reasons, in the order they are listed in messages.
    pub const ALL: [RevocationReason; 7] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::PrivilegeWithdrawn,
    ];

    /// Returns the name used in ceremony files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "key-compromise",
            Self::CaCompromise => "ca-compromise",
            Self::AffiliationChanged => "affiliation-changed",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessation-of-operation",
            Self::PrivilegeWithdrawn => "privilege-withdrawn",
        }
    }

    fn to_rcgen(self) -> rcgen::RevocationReason {
        match self {
            Self::Unspecified => rcgen::RevocationReason::Unspecified,
            Self::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
            Self::CaCompromise => rcgen::RevocationReason::CaCompromise,
            Self::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
            Self::Superseded => rcgen::RevocationReason::Superseded,
            Self::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
            Self::PrivilegeWithdrawn => rcgen::RevocationReason::PrivilegeWithdrawn,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RevocationReason {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.name() == value)
            .ok_or_else(|| {
                let allowed: Vec<&str> = Self::ALL.iter().map(|reason| reason.name()).collect();
                format!(
                    "unknown revocation reason `{value}`; expected one of: {}",
                    allowed.join(", ")
                )
            })
    }
}

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number as unsigned big-endian bytes ([`crate::cert::CertificateInfo::serial`]).
    pub serial: Vec<u8>,
    /// When the revocation took effect, whole seconds in UTC.
    pub revoked_at: OffsetDateTime,
    /// The reason code, or `None` to omit the extension.
    pub reason: Option<RevocationReason>,
}

/// Builds, lints and signs a version 2 CRL with `issuer` (normally the root)
/// and returns its DER. The CRL carries the CRL number `crl_number`, an AKI
/// equal to the issuer's SKI, and one entry per revoked certificate.
pub fn root_crl(
    issuer: &Authority,
    revoked: &[RevokedEntry],
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    crl_number: u64,
) -> Result<Vec<u8>, Error> {
    let what = format!(
        "CRL number {crl_number} of `{}`",
        issuer.certificate().subject
    );
    let params = root_crl_params(issuer, revoked, this_update, next_update, crl_number)?;
    crate::signing::crl_checked(issuer, &params, &what)
}

/// Builds the parameters of [`root_crl`] without signing them.
pub fn root_crl_params(
    issuer: &Authority,
    revoked: &[RevokedEntry],
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    crl_number: u64,
) -> Result<CertificateRevocationListParams, Error> {
    let this_update = truncate(this_update);
    let next_update = truncate(next_update);
    if next_update <= this_update {
        return Err(Error::InvalidValidity(format!(
            "the CRL's nextUpdate {next_update} is not after its thisUpdate {this_update}"
        )));
    }
    let key_id =
        issuer
            .certificate()
            .subject_key_id
            .clone()
            .ok_or_else(|| Error::InvalidCertificate {
                what: format!("CRL issuer `{}`", issuer.certificate().subject),
                reason: "has no subject key identifier for the CRL's authority key identifier"
                    .to_owned(),
            })?;
    let mut revoked_certs = Vec::with_capacity(revoked.len());
    for entry in revoked {
        let serial = entry
            .serial
            .iter()
            .position(|&byte| byte != 0)
            .map(|first| &entry.serial[first..])
            .ok_or_else(|| Error::InvalidCertificate {
                what: "revoked certificate".to_owned(),
                reason: "its serial number is zero; give the serial of the certificate to revoke"
                    .to_owned(),
            })?;
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(serial),
            revocation_time: truncate(entry.revoked_at),
            reason_code: entry.reason.map(RevocationReason::to_rcgen),
            invalidity_date: None,
        });
    }
    Ok(CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from(crl_number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::PreSpecified(key_id),
    })
}

fn truncate(value: OffsetDateTime) -> OffsetDateTime {
    let utc = value.to_offset(time::UtcOffset::UTC);
    utc.replace_nanosecond(0).unwrap_or(utc)
}
