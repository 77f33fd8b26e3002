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
        let not_after = not_before.checked_add(duration).ok_or_else(|| {
            Error::InvalidValidity(format!(
                "a validity of {} days from {not_before} ends after the year 9999",
                duration.whole_days()
            ))
        })?;
        Self::new(not_before, not_after)
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

/// An IP address range of a name constraint, written in CIDR form
/// (`10.0.0.0/8`, `fd00::/8`). The address has no bits set beyond the prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpRange {
    /// Network address.
    pub address: std::net::IpAddr,
    /// Prefix length in bits: at most 32 for IPv4 and 128 for IPv6.
    pub prefix_len: u8,
}

impl IpRange {
    /// Returns the address followed by the mask, the encoding of an iPAddress
    /// name constraint (RFC 5280 section 4.2.1.10): 8 octets for IPv4, 32 for IPv6.
    pub fn to_constraint_bytes(&self) -> Vec<u8> {
        let mut bytes = match self.address {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        let total = bytes.len();
        for index in 0..total {
            let bits_before = index * 8;
            let prefix = usize::from(self.prefix_len);
            let mask = if prefix >= bits_before + 8 {
                0xff
            } else if prefix <= bits_before {
                0
            } else {
                0xffu8 << (8 - (prefix - bits_before))
            };
            bytes.push(mask);
        }
        bytes
    }
}

impl std::str::FromStr for IpRange {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidName {
            name: value.to_owned(),
            reason: reason.to_owned(),
        };
        let (address, prefix) = value
            .split_once('/')
            .ok_or_else(|| invalid("is not in CIDR form such as `10.0.0.0/8` or `fd00::/8`"))?;
        let address: std::net::IpAddr = address
            .parse()
            .map_err(|_| invalid("does not start with an IPv4 or IPv6 address"))?;
        let prefix_len: u8 = prefix
            .parse()
            .map_err(|_| invalid("has a prefix length that is not a number"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(invalid(&format!(
                "has a prefix length above {max}, the address length"
            )));
        }
        let range = Self {
            address,
            prefix_len,
        };
        let bytes = range.to_constraint_bytes();
        let (address_bytes, mask) = bytes.split_at(bytes.len() / 2);
        if address_bytes.iter().zip(mask).any(|(a, m)| a & !m != 0) {
            return Err(invalid(
                "has address bits set beyond the prefix; write the network address",
            ));
        }
        Ok(range)
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// One side (permitted or excluded) of a name constraints extension.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameSubtrees {
    /// DNS name subtrees (`example.com` covers the name and every name below it).
    pub dns: Vec<String>,
    /// IP address ranges.
    pub ip: Vec<IpRange>,
    /// Email domains (`example.com` covers every mailbox at that domain).
    pub email: Vec<String>,
    /// URI host subtrees (`example.com` is that host only, `.example.com`
    /// every host below it, as RFC 5280 section 4.2.1.10 defines).
    pub uri: Vec<String>,
}

impl NameSubtrees {
    /// Returns whether no subtree is listed.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ip.is_empty() && self.email.is_empty() && self.uri.is_empty()
    }
}

/// A name constraints extension (RFC 5280 section 4.2.1.10), always critical.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameConstraints {
    /// Names the CA may certify.
    pub permitted: NameSubtrees,
    /// Names the CA may not certify, even inside a permitted subtree.
    pub excluded: NameSubtrees,
}

/// Optional extensions of an intermediate CA certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntermediateOptions {
    /// Name constraints, or `None` for none.
    pub name_constraints: Option<NameConstraints>,
    /// pathLenConstraint, or `None` for no limit. The default is `Some(0)`: the
    /// intermediate may issue only end-entity certificates.
    pub path_len: Option<u8>,
    /// Certificate policy OIDs in dotted form (`2.23.140.1.2.1`), written as a
    /// non-critical certificatePolicies extension without qualifiers.
    pub policy_oids: Vec<String>,
    /// CRL distribution point URLs (`http://` or `ldap://`), non-critical.
    pub crl_distribution_points: Vec<String>,
    /// AIA caIssuers URLs, where the issuer's certificate can be fetched.
    pub aia_ca_issuers: Vec<String>,
    /// AIA OCSP responder URLs.
    pub aia_ocsp: Vec<String>,
}

impl Default for IntermediateOptions {
    fn default() -> Self {
        Self {
            name_constraints: None,
            path_len: Some(0),
            policy_oids: Vec::new(),
            crl_distribution_points: Vec::new(),
            aia_ca_issuers: Vec::new(),
            aia_ocsp: Vec::new(),
        }
    }
}

/// Builds the parameters of an intermediate CA certificate like
/// [`intermediate`], with the extensions of `options`. Every name, OID and URL
/// is checked first, and the error names the one that is invalid.
pub fn intermediate_with(
    subject: &Subject,
    validity: Validity,
    options: &IntermediateOptions,
) -> Result<CertificateParams, Error> {
    let mut params = intermediate(subject, validity, 0)?;
    params.is_ca = match options.path_len {
        Some(path_len) => IsCa::Ca(BasicConstraints::Constrained(path_len)),
        None => IsCa::Ca(BasicConstraints::Unconstrained),
    };
    if let Some(constraints) = &options.name_constraints {
        params
            .custom_extensions
            .push(crate::extensions::name_constraints(constraints)?);
    }
    if !options.policy_oids.is_empty() {
        params
            .custom_extensions
            .push(crate::extensions::certificate_policies(
                &options.policy_oids,
            )?);
    }
    for url in &options.crl_distribution_points {
        crate::extensions::check_url(url, "CRL distribution point")?;
    }
    if !options.crl_distribution_points.is_empty() {
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: options.crl_distribution_points.clone(),
        }];
    }
    if !options.aia_ca_issuers.is_empty() || !options.aia_ocsp.is_empty() {
        params
            .custom_extensions
            .push(crate::extensions::authority_info_access(
                &options.aia_ca_issuers,
                &options.aia_ocsp,
            )?);
    }
    Ok(params)
}

/// Builds the parameters of a cross-signed certificate for root rollover: the
/// subject, public key, SKI and basic constraints of `new_root`, keyUsage
/// keyCertSign and cRLSign, and an AKI that the signing (old) root fills in
/// with its own SKI. Sign it with [`crate::signing::sign_checked`] and the old
/// root, passing `new_root.public_key_der`.
pub fn cross_signed(
    new_root: &crate::cert::CertificateInfo,
    validity: Validity,
) -> Result<CertificateParams, Error> {
    let invalid = |reason: String| Error::InvalidCertificate {
        what: format!("new root `{}`", new_root.subject),
        reason,
    };
    if !new_root.is_ca {
        return Err(invalid(
            "is not a CA certificate, so it cannot be cross-signed".to_owned(),
        ));
    }
    let key_id = new_root.subject_key_id.clone().ok_or_else(|| {
        invalid("has no subject key identifier, which the cross-signed copy must repeat".to_owned())
    })?;
    let mut params = base_params(validity)?;
    params.distinguished_name = crate::extensions::distinguished_name_of(&new_root.der)?;
    params.is_ca = match new_root.path_len {
        Some(path_len) => IsCa::Ca(BasicConstraints::Constrained(
            u8::try_from(path_len).unwrap_or(u8::MAX),
        )),
        None => IsCa::Ca(BasicConstraints::Unconstrained),
    };
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_past_year_9999_is_an_error() {
        let error = Validity::starting_at(OffsetDateTime::now_utc(), Duration::days(4_294_967_295))
            .unwrap_err()
            .to_string();
        assert!(error.contains("9999"), "{error}");
    }
}
