//! Certificate profiles: the exact extensions and validity rules of root,
//! intermediate and end-entity certificates.
//!
//! Every profile sets a random serial, UTCTime or GeneralizedTime by year
//! (rcgen switches at 2050 as RFC 5280 section 4.1.2.5 requires), a subject key
//! identifier (set by [`crate::cert::Authority`] when it signs) and, below the
//! root, an authority key identifier equal to the issuer's subject key identifier.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyUsagePurpose, string::PrintableString,
};
use time::{Duration, OffsetDateTime};

use crate::Error;
use crate::names::SubjectName;
use crate::serial::random_serial;

/// Longest accepted subject attribute, matching the RFC 5280 upper bound for
/// commonName and organizationName (ub-common-name, ub-organization-name).
const MAX_ATTRIBUTE_LEN: usize = 64;

/// A certificate subject. Only the attributes IronRoot writes are modelled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// commonName.
    pub common_name: String,
    /// organizationName, if any.
    pub organization: Option<String>,
    /// organizationalUnitName, if any.
    pub organizational_unit: Option<String>,
    /// Two-letter ISO 3166 countryName, if any.
    pub country: Option<String>,
}

impl Subject {
    /// Creates a subject with only a common name.
    pub fn common_name(common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            ..Self::default()
        }
    }

    /// Checks lengths and character sets, naming the attribute that fails.
    pub fn validate(&self) -> Result<(), Error> {
        let attributes = [
            ("common name", Some(&self.common_name)),
            ("organization", self.organization.as_ref()),
            ("organizational unit", self.organizational_unit.as_ref()),
        ];
        for (label, value) in attributes {
            let Some(value) = value else { continue };
            if value.trim().is_empty() {
                return Err(Error::InvalidSubject(format!("the {label} is empty")));
            }
            if value.chars().count() > MAX_ATTRIBUTE_LEN {
                return Err(Error::InvalidSubject(format!(
                    "the {label} `{value}` is longer than {MAX_ATTRIBUTE_LEN} characters"
                )));
            }
            if value.chars().any(char::is_control) {
                return Err(Error::InvalidSubject(format!(
                    "the {label} contains a control character"
                )));
            }
        }
        if let Some(country) = &self.country
            && (country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(Error::InvalidSubject(format!(
                "the country `{country}` is not a two-letter upper-case ISO 3166 code such as `DE`"
            )));
        }
        Ok(())
    }

    fn to_distinguished_name(&self) -> Result<DistinguishedName, Error> {
        self.validate()?;
        let mut name = DistinguishedName::new();
        if let Some(country) = &self.country {
            let printable = PrintableString::try_from(country.as_str())
                .map_err(|_| Error::InvalidSubject(format!("invalid country `{country}`")))?;
            name.push(DnType::CountryName, DnValue::PrintableString(printable));
        }
        if let Some(organization) = &self.organization {
            name.push(DnType::OrganizationName, organization.as_str());
        }
        if let Some(unit) = &self.organizational_unit {
            name.push(DnType::OrganizationalUnitName, unit.as_str());
        }
        name.push(DnType::CommonName, self.common_name.as_str());
        Ok(name)
    }
}

/// A validity period. Both ends are whole seconds in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Creates a validity of `duration` starting at `start`, truncated to seconds.
    pub fn starting_at(start: OffsetDateTime, duration: Duration) -> Result<Self, Error> {
        let not_before = truncate_to_seconds(start);
        Self::new(not_before, not_before + duration)
    }

    /// Creates a validity, checking that it is not empty.
    pub fn new(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<Self, Error> {
        let not_before = truncate_to_seconds(not_before);
        let not_after = truncate_to_seconds(not_after);
        if not_after <= not_before {
            return Err(Error::InvalidValidity(format!(
                "notAfter {not_after} is not after notBefore {not_before}"
            )));
        }
        Ok(Self {
            not_before,
            not_after,
        })
    }

    /// Returns whether `self` lies entirely within `outer`.
    pub fn is_within(&self, outer: &Validity) -> bool {
        self.not_before >= outer.not_before && self.not_after <= outer.not_after
    }
}

fn truncate_to_seconds(value: OffsetDateTime) -> OffsetDateTime {
    let utc = value.to_offset(time::UtcOffset::UTC);
    utc.replace_nanosecond(0).unwrap_or(utc)
}

fn base_params(validity: Validity) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    params.serial_number = Some(random_serial()?);
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    Ok(params)
}

/// Computes a key identifier with RFC 7093 section 2 method 1: the leftmost 160
/// bits of the SHA-256 of the subjectPublicKey BIT STRING value.
pub fn key_identifier(public_key_der: &[u8]) -> Result<Vec<u8>, Error> {
    use x509_parser::prelude::FromDer;
    let (_, spki) =
        x509_parser::x509::SubjectPublicKeyInfo::from_der(public_key_der).map_err(|error| {
            Error::InvalidKey {
                what: "public key".to_owned(),
                reason: format!("not a DER SubjectPublicKeyInfo ({error})"),
            }
        })?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &spki.subject_public_key.data);
    Ok(digest.as_ref()[..20].to_vec())
}

/// Sets the subject key identifier of `params` for the key `public_key_der`.
/// [`crate::cert::Authority`] calls this before it signs.
pub fn set_key_identifier(
    params: &mut CertificateParams,
    public_key_der: &[u8],
) -> Result<(), Error> {
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(public_key_der)?);
    Ok(())
}

/// Builds the parameters of a self-signed root CA certificate: basicConstraints
/// CA (critical, no path length), keyUsage keyCertSign and cRLSign (critical),
/// and a subject key identifier. A self-signed root carries no AKI.
pub fn root(subject: &Subject, validity: Validity) -> Result<CertificateParams, Error> {
    let mut params = base_params(validity)?;
    params.distinguished_name = subject.to_distinguished_name()?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// Builds the parameters of an intermediate CA certificate: basicConstraints CA
/// with `path_len` (critical), keyUsage digitalSignature (for OCSP responses),
/// keyCertSign and cRLSign (critical), SKI and AKI.
pub fn intermediate(
    subject: &Subject,
    validity: Validity,
    path_len: u8,
) -> Result<CertificateParams, Error> {
    let mut params = base_params(validity)?;
    params.distinguished_name = subject.to_distinguished_name()?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// Extended key usages of an end-entity certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafUsage {
    /// serverAuth and clientAuth: a workload that serves and calls over mTLS.
    ServerAndClient,
    /// clientAuth only, as for an operator's admin credential.
    ClientOnly,
}

/// Builds the parameters of an end-entity certificate: basicConstraints CA:false
/// (critical), keyUsage digitalSignature (critical), the extended key usages of
/// `usage`, the SANs, SKI and AKI. The common name repeats the first DNS name
/// for software that still reads it.
pub fn leaf(
    names: &[SubjectName],
    validity: Validity,
    usage: LeafUsage,
) -> Result<CertificateParams, Error> {
    if names.is_empty() {
        return Err(Error::InvalidCsr(
            "the request names no DNS name or IP address".to_owned(),
        ));
    }
    let mut params = base_params(validity)?;
    // The common name repeats the first DNS name that fits its 64-character
    // limit. Without one the subject stays empty and rcgen marks the SAN
    // extension critical (RFC 5280 section 4.2.1.6). An IP address or URI in
    // the CN would be checked against DNS name constraints by OpenSSL.
    let common_name = names.iter().find_map(|name| match name {
        SubjectName::Dns(dns) if dns.len() <= MAX_ATTRIBUTE_LEN => Some(dns.as_str()),
        _ => None,
    });
    if let Some(common_name) = common_name {
        params.distinguished_name = Subject::common_name(common_name).to_distinguished_name()?;
    }
    params.subject_alt_names = names
        .iter()
        .map(SubjectName::to_san)
        .collect::<Result<_, _>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = match usage {
        LeafUsage::ServerAndClient => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        LeafUsage::ClientOnly => vec![ExtendedKeyUsagePurpose::ClientAuth],
    };
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// Builds the parameters of an end-entity certificate like [`leaf`], with the
/// extended key usages chosen one by one. At least one must be set.
pub fn leaf_with_usages(
    names: &[SubjectName],
    validity: Validity,
    server_auth: bool,
    client_auth: bool,
) -> Result<CertificateParams, Error> {
    let mut params = leaf(names, validity, LeafUsage::ServerAndClient)?;
    params.extended_key_usages = Vec::new();
    if server_auth {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if client_auth {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    if params.extended_key_usages.is_empty() {
        return Err(Error::InvalidCsr(
            "the profile allows no extended key usage".to_owned(),
        ));
    }
    Ok(params)
}

/// Builds the parameters of a client certificate identified by a URI SAN, such
/// as an operator's admin credential. The common name is `common_name`.
pub fn client_with_uri(
    common_name: &str,
    uri: &str,
    validity: Validity,
) -> Result<CertificateParams, Error> {
    let mut params = base_params(validity)?;
    params.distinguished_name = Subject::common_name(common_name).to_distinguished_name()?;
    let uri = rcgen::string::Ia5String::try_from(uri).map_err(|_| Error::InvalidName {
        name: uri.to_owned(),
        reason: "a URI SAN must be ASCII".to_owned(),
    })?;
    params.subject_alt_names = vec![rcgen::SanType::URI(uri)];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}
