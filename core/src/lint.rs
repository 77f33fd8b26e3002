//! RFC 5280 profile linter for certificates and CRLs.
//!
//! The ceremony lints every certificate and CRL signed with a throwaway key
//! before the real key signs it (see [`crate::signing`]). The issuer lints each
//! certificate it signs before storing or returning it.
//! Each finding carries a stable code (`cert.serial.too_short`) that tests and
//! transcripts can match on.

use std::collections::HashSet;
use std::fmt;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, NameConstraints, ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::cert::CertificateInfo;
use crate::names::SubjectName;

/// Severity of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A violation of an RFC 5280 MUST, or of IronRoot's profile; never signed.
    Error,
    /// A violation of a SHOULD; reported but not blocking.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One problem found by the linter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Stable identifier of the rule, such as `cert.serial.too_short`.
    pub code: &'static str,
    /// Description of the problem, with the offending value.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.severity, self.code, self.message)
    }
}

/// Returns whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings
        .iter()
        .any(|finding| finding.severity == Severity::Error)
}

/// Formats findings one per line, each line starting with a newline and two
/// spaces, for error messages.
pub fn format_findings(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|finding| format!("\n  {finding}"))
        .collect()
}

/// Lints a DER certificate. Pass the issuer's certificate to check the AKI
/// against its SKI; with `None` the AKI is only required to be present, unless
/// the certificate is self-signed.
pub fn lint_certificate(der: &[u8], issuer: Option<&CertificateInfo>) -> Vec<Finding> {
    let mut findings = Findings::default();
    match raw_certificate_fields(der) {
        Some(raw) => {
            check_serial(&mut findings, "cert.serial", raw.serial);
            check_time(
                &mut findings,
                "cert.validity.not_before",
                "notBefore",
                raw.not_before,
            );
            check_time(
                &mut findings,
                "cert.validity.not_after",
                "notAfter",
                raw.not_after,
            );
            if raw.tbs_signature != raw.outer_signature {
                findings.error(
                    "cert.signature_algorithm.mismatch",
                    "the signature algorithm inside the TBSCertificate differs from the outer signatureAlgorithm".to_owned(),
                );
            }
        }
        None => findings.error(
            "cert.der.invalid",
            "the TBSCertificate fields could not be read".to_owned(),
        ),
    }
    let certificate = match X509Certificate::from_der(der) {
        Ok(([], certificate)) => certificate,
        Ok((rest, _)) => {
            findings.error(
                "cert.der.trailing_data",
                format!("{} bytes follow the certificate", rest.len()),
            );
            return findings.0;
        }
        Err(error) => {
            findings.error(
                "cert.der.invalid",
                format!("not a DER X.509 certificate ({error})"),
            );
            return findings.0;
        }
    };
    let validity = certificate.validity();
    if validity.not_after <= validity.not_before {
        findings.error(
            "cert.validity.not_after_before_not_before",
            format!(
                "notAfter {} is not after notBefore {}",
                validity.not_after, validity.not_before
            ),
        );
    }
    if certificate.version().0 != 2 && !certificate.extensions().is_empty() {
        findings.error(
            "cert.version.not_v3",
            "the certificate has extensions but is not version 3".to_owned(),
        );
    }
    check_extensions(&mut findings, &certificate, issuer);
    findings.0
}

/// Lints a DER CRL issued by `issuer`.
pub fn lint_crl(der: &[u8], issuer: &CertificateInfo) -> Vec<Finding> {
    let mut findings = Findings::default();
    let crl = match CertificateRevocationList::from_der(der) {
        Ok(([], crl)) => crl,
        Ok((rest, _)) => {
            findings.error(
                "crl.der.trailing_data",
                format!("{} bytes follow the CRL", rest.len()),
            );
            return findings.0;
        }
        Err(error) => {
            findings.error("crl.der.invalid", format!("not a DER CRL ({error})"));
            return findings.0;
        }
    };
    if crl.version().map(|version| version.0) != Some(1) {
        findings.error(
            "crl.version.not_v2",
            "the CRL is not version 2, which RFC 5280 requires for CRLs with extensions".to_owned(),
        );
    }
    match raw_crl_fields(der) {
        Some(raw) => {
            check_time(
                &mut findings,
                "crl.this_update",
                "thisUpdate",
                raw.this_update,
            );
            match raw.next_update {
                Some(next_update) => {
                    check_time(&mut findings, "crl.next_update", "nextUpdate", next_update);
                }
                None => findings.error(
                    "crl.next_update.missing",
                    "the CRL has no nextUpdate, which RFC 5280 requires of conforming CAs"
                        .to_owned(),
                ),
            }
            for (index, date) in raw.revocation_dates.into_iter().enumerate() {
                check_time(
                    &mut findings,
                    "crl.entry.revocation_date",
                    &format!("revocationDate of entry {index}"),
                    date,
                );
            }
            if raw.tbs_signature != raw.outer_signature {
                findings.error(
                    "crl.signature_algorithm.mismatch",
                    "the signature algorithm inside the TBSCertList differs from the outer signatureAlgorithm".to_owned(),
                );
            }
        }
        None => findings.error(
            "crl.der.invalid",
            "the TBSCertList fields could not be read".to_owned(),
        ),
    }
    if let Some(next_update) = crl.next_update()
        && next_update <= crl.last_update()
    {
        findings.error(
            "crl.next_update.not_after_this_update",
            format!(
                "nextUpdate {next_update} is not after thisUpdate {}",
                crl.last_update()
            ),
        );
    }
    check_crl_extensions(&mut findings, &crl, issuer);
    for (index, entry) in crl.iter_revoked_certificates().enumerate() {
        check_serial_sign(&mut findings, "crl.entry.serial", entry.raw_serial(), index);
        for extension in entry.extensions() {
            if extension.oid.to_id_string() != OID_REASON_CODE {
                continue;
            }
            match extension.parsed_extension() {
                ParsedExtension::ReasonCode(code) => {
                    if code.0 == 7 || code.0 > 10 {
                        findings.error(
                            "crl.entry.reason.invalid",
                            format!("entry {index} has the undefined reason code {}", code.0),
                        );
                    } else if code.0 == 0 {
                        findings.warning(
                            "crl.entry.reason.unspecified",
                            format!("entry {index} has reason code unspecified (0); RFC 5280 says to omit the reason instead"),
                        );
                    }
                }
                _ => findings.error(
                    "crl.entry.reason.invalid",
                    format!("entry {index} has a reason code that does not parse"),
                ),
            }
        }
    }
    findings.0
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn error(&mut self, code: &'static str, message: String) {
        self.0.push(Finding {
            severity: Severity::Error,
            code,
            message,
        });
    }

    fn warning(&mut self, code: &'static str, message: String) {
        self.0.push(Finding {
            severity: Severity::Warning,
            code,
            message,
        });
    }
}

const OID_SUBJECT_KEY_ID: &str = "2.5.29.14";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_SUBJECT_ALT_NAME: &str = "2.5.29.17";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_REASON_CODE: &str = "2.5.29.21";
const OID_NAME_CONSTRAINTS: &str = "2.5.29.30";
const OID_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
const OID_CERTIFICATE_POLICIES: &str = "2.5.29.32";
const OID_AUTHORITY_KEY_ID: &str = "2.5.29.35";
const OID_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
const OID_AUTHORITY_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.1";

/// Extensions that RFC 5280 defines and a path validator is expected to
/// process, so they may be critical.
const KNOWN_CRITICAL_EXTENSIONS: [&str; 9] = [
    OID_KEY_USAGE,
    OID_SUBJECT_ALT_NAME,
    OID_BASIC_CONSTRAINTS,
    OID_NAME_CONSTRAINTS,
    OID_CERTIFICATE_POLICIES,
    OID_EXTENDED_KEY_USAGE,
    "2.5.29.33", // policyMappings
    "2.5.29.36", // policyConstraints
    "2.5.29.54", // inhibitAnyPolicy
];

/// Extensions that RFC 5280 requires to be non-critical.
const NON_CRITICAL_EXTENSIONS: [(&str, &str, &str); 5] = [
    (
        OID_SUBJECT_KEY_ID,
        "cert.ski.critical",
        "subjectKeyIdentifier",
    ),
    (
        OID_AUTHORITY_KEY_ID,
        "cert.aki.critical",
        "authorityKeyIdentifier",
    ),
    (
        OID_EXTENDED_KEY_USAGE,
        "cert.eku.critical",
        "extendedKeyUsage",
    ),
    (
        OID_CRL_DISTRIBUTION_POINTS,
        "cert.crldp.critical",
        "cRLDistributionPoints",
    ),
    (
        OID_AUTHORITY_INFO_ACCESS,
        "cert.aia.critical",
        "authorityInfoAccess",
    ),
];

fn check_extensions(
    findings: &mut Findings,
    certificate: &X509Certificate<'_>,
    issuer: Option<&CertificateInfo>,
) {
    let mut seen = HashSet::new();
    for extension in certificate.extensions() {
        let oid = extension.oid.to_id_string();
        if !seen.insert(oid.clone()) {
            findings.error(
                "cert.extension.duplicate",
                format!("the extension {oid} appears more than once"),
            );
        }
        if extension.critical
            && !KNOWN_CRITICAL_EXTENSIONS.contains(&oid.as_str())
            && !NON_CRITICAL_EXTENSIONS
                .iter()
                .any(|(known, ..)| *known == oid)
        {
            findings.error(
                "cert.extension.unknown_critical",
                format!(
                    "the unknown extension {oid} is critical, so validators reject the certificate"
                ),
            );
        }
        if let Some((_, code, name)) = NON_CRITICAL_EXTENSIONS
            .iter()
            .find(|(known, ..)| *known == oid)
            && extension.critical
        {
            findings.error(
                code,
                format!("{name} is critical; RFC 5280 requires it to be non-critical"),
            );
        }
        if let ParsedExtension::ParseError { error } = extension.parsed_extension() {
            findings.error(
                "cert.extension.invalid",
                format!("the extension {oid} does not parse ({error})"),
            );
        }
    }

    let find = |oid: &str| -> Option<&X509Extension<'_>> {
        certificate
            .extensions()
            .iter()
            .find(|extension| extension.oid.to_id_string() == oid)
    };
    let basic_constraints =
        find(OID_BASIC_CONSTRAINTS).and_then(|extension| match extension.parsed_extension() {
            ParsedExtension::BasicConstraints(constraints) => Some((
                extension.critical,
                constraints.ca,
                constraints.path_len_constraint,
            )),
            _ => None,
        });
    let is_ca = basic_constraints.is_some_and(|(_, ca, _)| ca);
    let key_usage = find(OID_KEY_USAGE).and_then(|extension| match extension.parsed_extension() {
        ParsedExtension::KeyUsage(usage) => Some((extension.critical, *usage)),
        _ => None,
    });
    let key_cert_sign = key_usage.is_some_and(|(_, usage)| usage.key_cert_sign());

    check_key_usage(findings, is_ca, key_usage);
    check_basic_constraints(findings, basic_constraints, key_cert_sign);
    check_key_identifiers(findings, certificate, is_ca, issuer);
    check_subject_alt_name(findings, certificate, find(OID_SUBJECT_ALT_NAME));
    if let Some(extension) = find(OID_NAME_CONSTRAINTS) {
        if !is_ca {
            findings.error(
                "cert.name_constraints.not_ca",
                "nameConstraints appears in a certificate that is not a CA".to_owned(),
            );
        }
        if !extension.critical {
            findings.error(
                "cert.name_constraints.not_critical",
                "nameConstraints is not critical; RFC 5280 requires it to be critical".to_owned(),
            );
        }
        if let ParsedExtension::NameConstraints(constraints) = extension.parsed_extension() {
            check_name_constraints(findings, constraints);
        }
    }
}

fn check_key_usage(
    findings: &mut Findings,
    is_ca: bool,
    key_usage: Option<(bool, x509_parser::extensions::KeyUsage)>,
) {
    match key_usage {
        None if is_ca => findings.error(
            "cert.key_usage.missing",
            "a CA certificate has no keyUsage extension".to_owned(),
        ),
        None => {}
        Some((critical, usage)) => {
            if usage.flags == 0 {
                findings.error("cert.key_usage.empty", "keyUsage has no bit set".to_owned());
            }
            if is_ca {
                if !critical {
                    findings.error(
                        "cert.key_usage.not_critical",
                        "keyUsage of a CA certificate is not critical".to_owned(),
                    );
                }
                if !usage.key_cert_sign() {
                    findings.error(
                        "cert.key_usage.no_key_cert_sign",
                        "a CA certificate lacks keyUsage keyCertSign".to_owned(),
                    );
                }
                if !usage.crl_sign() {
                    findings.warning(
                        "cert.key_usage.no_crl_sign",
                        "a CA certificate lacks keyUsage cRLSign, so it cannot sign CRLs"
                            .to_owned(),
                    );
                }
            } else if usage.key_cert_sign() {
                findings.error(
                    "cert.key_usage.key_cert_sign_on_end_entity",
                    "an end-entity certificate (not CA in basicConstraints) has keyUsage keyCertSign".to_owned(),
                );
            }
        }
    }
}

fn check_basic_constraints(
    findings: &mut Findings,
    basic_constraints: Option<(bool, bool, Option<u32>)>,
    key_cert_sign: bool,
) {
    match basic_constraints {
        Some((critical, true, _)) if !critical => findings.error(
            "cert.basic_constraints.not_critical",
            "basicConstraints of a CA certificate is not critical".to_owned(),
        ),
        None | Some((_, false, _)) if key_cert_sign => findings.error(
            "cert.basic_constraints.not_ca",
            "keyUsage keyCertSign is set but basicConstraints does not say CA:true".to_owned(),
        ),
        _ => {}
    }
    if let Some((_, ca, Some(path_len))) = basic_constraints
        && !(ca && key_cert_sign)
    {
        findings.error(
            "cert.basic_constraints.path_len_without_ca",
            format!("pathLenConstraint {path_len} is set but the certificate is not a CA with keyCertSign"),
        );
    }
}

fn check_key_identifiers(
    findings: &mut Findings,
    certificate: &X509Certificate<'_>,
    is_ca: bool,
    issuer: Option<&CertificateInfo>,
) {
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    let mut has_aki = false;
    for extension in certificate.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                has_aki = true;
                authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
            }
            _ => {}
        }
    }
    if is_ca && subject_key_id.is_none() {
        findings.error(
            "cert.ski.missing",
            "a CA certificate has no subjectKeyIdentifier".to_owned(),
        );
    }
    let same_name = certificate.subject().as_raw() == certificate.issuer().as_raw();
    let self_signed =
        same_name && (authority_key_id.is_none() || authority_key_id == subject_key_id);
    if self_signed {
        return;
    }
    if !has_aki {
        findings.error(
            "cert.aki.missing",
            "the certificate is not self-signed but has no authorityKeyIdentifier".to_owned(),
        );
        return;
    }
    let Some(authority_key_id) = authority_key_id else {
        findings.error(
            "cert.aki.no_key_identifier",
            "authorityKeyIdentifier has no keyIdentifier".to_owned(),
        );
        return;
    };
    if let Some(issuer) = issuer {
        match &issuer.subject_key_id {
            Some(issuer_key_id) if *issuer_key_id == authority_key_id => {}
            Some(issuer_key_id) => findings.error(
                "cert.aki.mismatch",
                format!(
                    "authorityKeyIdentifier {} differs from the issuer's subjectKeyIdentifier {}",
                    crate::fingerprint::hex(&authority_key_id),
                    crate::fingerprint::hex(issuer_key_id)
                ),
            ),
            None => findings.error(
                "cert.aki.issuer_has_no_ski",
                format!(
                    "the issuer `{}` has no subjectKeyIdentifier to match",
                    issuer.subject
                ),
            ),
        }
    }
}

fn check_subject_alt_name(
    findings: &mut Findings,
    certificate: &X509Certificate<'_>,
    san: Option<&X509Extension<'_>>,
) {
    let subject_empty = certificate.subject().iter().next().is_none();
    match san {
        Some(extension) if extension.critical && !subject_empty => findings.error(
            "cert.san.critical_with_subject",
            "subjectAltName is critical although the subject is not empty".to_owned(),
        ),
        Some(extension) if !extension.critical && subject_empty => findings.error(
            "cert.san.not_critical_with_empty_subject",
            "the subject is empty but subjectAltName is not critical".to_owned(),
        ),
        None if subject_empty => findings.error(
            "cert.subject.empty_without_san",
            "the subject is empty and there is no subjectAltName".to_owned(),
        ),
        _ => {}
    }
}

fn check_name_constraints(findings: &mut Findings, constraints: &NameConstraints<'_>) {
    let permitted = constraints
        .permitted_subtrees
        .as_deref()
        .unwrap_or_default();
    let excluded = constraints.excluded_subtrees.as_deref().unwrap_or_default();
    if permitted.is_empty() && excluded.is_empty() {
        findings.error(
            "cert.name_constraints.empty",
            "nameConstraints lists neither permitted nor excluded subtrees".to_owned(),
        );
    }
    for subtree in permitted.iter().chain(excluded) {
        match &subtree.base {
            GeneralName::DNSName(name) => {
                if name.contains('*') {
                    findings.error(
                        "cert.name_constraints.dns_wildcard",
                        format!("the DNS name constraint `{name}` contains a wildcard"),
                    );
                } else if !name.is_empty() && SubjectName::parse_dns(name.trim_start_matches('.')).is_err() {
                    findings.error(
                        "cert.name_constraints.dns_invalid",
                        format!("the DNS name constraint `{name}` is not a valid DNS name"),
                    );
                }
            }
            GeneralName::IPAddress(bytes) => check_ip_constraint(findings, bytes),
            GeneralName::RFC822Name(name) => {
                let domain = name.rsplit_once('@').map_or(*name, |(_, domain)| domain);
                if domain.contains('*') || SubjectName::parse_dns(domain.trim_start_matches('.')).is_err() {
                    findings.error(
                        "cert.name_constraints.email_invalid",
                        format!("the email name constraint `{name}` has no valid domain"),
                    );
                }
            }
            GeneralName::URI(host) => {
                if host.contains("://")
                    || host.contains('*')
                    || SubjectName::parse_dns(host.trim_start_matches('.')).is_err()
                {
                    findings.error(
                        "cert.name_constraints.uri_invalid",
                        format!("the URI name constraint `{host}` is not a host or `.domain`"),
                    );
                }
            }
            GeneralName::DirectoryName(_) => {}
            other => findings.warning(
                "cert.name_constraints.unsupported_form",
                format!("the name constraint {other:?} uses a name form that most validators do not support"),
            ),
        }
    }
}

fn check_ip_constraint(findings: &mut Findings, bytes: &[u8]) {
    if bytes.len() != 8 && bytes.len() != 32 {
        findings.error(
            "cert.name_constraints.ip_length",
            format!(
                "an iPAddress name constraint has {} octets; it needs 8 (IPv4 address and mask) or 32 (IPv6)",
                bytes.len()
            ),
        );
        return;
    }
    let (address, mask) = bytes.split_at(bytes.len() / 2);
    // Left-align the mask in 128 bits: a contiguous mask is all leading ones.
    let mask_bits: u128 = mask
        .iter()
        .fold(0, |bits, &byte| (bits << 8) | u128::from(byte));
    let mask_bits = mask_bits << (128 - mask.len() * 8);
    let contiguous = mask_bits.count_ones() == mask_bits.leading_ones();
    if !contiguous {
        findings.error(
            "cert.name_constraints.ip_mask_not_contiguous",
            format!(
                "the iPAddress name constraint mask {} is not a contiguous prefix",
                crate::fingerprint::hex(mask)
            ),
        );
    } else if address.iter().zip(mask).any(|(a, m)| a & !m != 0) {
        findings.warning(
            "cert.name_constraints.ip_host_bits",
            format!(
                "the iPAddress name constraint address {} has bits set beyond its mask",
                crate::fingerprint::hex(address)
            ),
        );
    }
}

fn check_crl_extensions(
    findings: &mut Findings,
    crl: &CertificateRevocationList<'_>,
    issuer: &CertificateInfo,
) {
    let mut seen = HashSet::new();
    let mut crl_number = None;
    let mut authority_key_id = None;
    for extension in crl.extensions() {
        let oid = extension.oid.to_id_string();
        if !seen.insert(oid.clone()) {
            findings.error(
                "crl.extension.duplicate",
                format!("the CRL extension {oid} appears more than once"),
            );
        }
        match extension.parsed_extension() {
            ParsedExtension::CRLNumber(number) => {
                crl_number = Some((extension.critical, number.clone()))
            }
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = Some(aki.key_identifier.as_ref().map(|id| id.0.to_vec()));
            }
            ParsedExtension::IssuingDistributionPoint(_) => {}
            _ if extension.critical => findings.error(
                "crl.extension.unknown_critical",
                format!("the unknown CRL extension {oid} is critical"),
            ),
            _ => {}
        }
    }
    match crl_number {
        None => findings.error(
            "crl.number.missing",
            "the CRL has no cRLNumber extension".to_owned(),
        ),
        Some((true, _)) => findings.error(
            "crl.number.critical",
            "cRLNumber is critical; RFC 5280 requires it to be non-critical".to_owned(),
        ),
        Some(_) => {}
    }
    match authority_key_id {
        None => findings.error(
            "crl.aki.missing",
            "the CRL has no authorityKeyIdentifier".to_owned(),
        ),
        Some(key_id) if key_id != issuer.subject_key_id => findings.error(
            "crl.aki.mismatch",
            format!(
                "the CRL's authorityKeyIdentifier does not equal the subjectKeyIdentifier of `{}`",
                issuer.subject
            ),
        ),
        Some(_) => {}
    }
    if crl.issuer().to_string() != issuer.subject {
        findings.error(
            "crl.issuer.mismatch",
            format!(
                "the CRL issuer `{}` is not `{}`",
                crl.issuer(),
                issuer.subject
            ),
        );
    }
    match X509Certificate::from_der(&issuer.der) {
        Ok((_, certificate)) => {
            let crl_sign = certificate
                .key_usage()
                .ok()
                .flatten()
                .map(|usage| usage.value.crl_sign());
            if crl_sign == Some(false) {
                findings.error(
                    "crl.issuer.no_crl_sign",
                    format!("the issuer `{}` lacks keyUsage cRLSign", issuer.subject),
                );
            }
        }
        Err(error) => findings.error(
            "crl.issuer.invalid",
            format!("the issuer certificate does not parse ({error})"),
        ),
    }
}

/// Checks an INTEGER serial: positive, at most 20 octets, and at least 64 bits
/// of which the first octet is non-zero (CA/Browser Forum practice).
fn check_serial(findings: &mut Findings, prefix: &'static str, content: &[u8]) {
    if !check_serial_sign(findings, prefix, content, usize::MAX) {
        return;
    }
    if content.len() > 20 {
        findings.error(
            code(prefix, "too_long"),
            format!(
                "the serial number has {} octets; RFC 5280 allows at most 20",
                content.len()
            ),
        );
    }
    let magnitude = content
        .iter()
        .position(|&byte| byte != 0)
        .map_or(&[][..], |first| &content[first..]);
    if magnitude.len() < 8 {
        findings.error(
            code(prefix, "too_short"),
            format!(
                "the serial number has {} significant octets; use at least 8 (64 bits) of random data",
                magnitude.len()
            ),
        );
    }
}

/// Checks that INTEGER content is positive. `index` names a CRL entry, or is
/// `usize::MAX` for a certificate serial. Returns whether it is positive.
fn check_serial_sign(
    findings: &mut Findings,
    prefix: &'static str,
    content: &[u8],
    index: usize,
) -> bool {
    let place = if index == usize::MAX {
        "the serial number".to_owned()
    } else {
        format!("the serial number of entry {index}")
    };
    let positive = match content.first() {
        Some(first) => first & 0x80 == 0 && content.iter().any(|&byte| byte != 0),
        None => false,
    };
    if !positive {
        findings.error(
            code(prefix, "not_positive"),
            format!(
                "{place} ({}) is zero or negative",
                crate::fingerprint::hex(content)
            ),
        );
    }
    positive
}

/// Returns the code `prefix.suffix` for the rules that share a check.
fn code(prefix: &'static str, suffix: &'static str) -> &'static str {
    const CODES: [&str; 14] = [
        "cert.serial.not_positive",
        "cert.serial.too_long",
        "cert.serial.too_short",
        "crl.entry.serial.not_positive",
        "cert.validity.not_before.encoding",
        "cert.validity.not_after.encoding",
        "crl.this_update.encoding",
        "crl.next_update.encoding",
        "crl.entry.revocation_date.encoding",
        "cert.validity.not_before.utctime_required",
        "cert.validity.not_after.utctime_required",
        "crl.this_update.utctime_required",
        "crl.next_update.utctime_required",
        "crl.entry.revocation_date.utctime_required",
    ];
    CODES
        .iter()
        .find(|candidate| {
            candidate
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(suffix)
        })
        .copied()
        .unwrap_or("lint.unknown_rule")
}

const TAG_INTEGER: u8 = 0x02;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0: u8 = 0xa0;

/// A DER element: its tag, its content and the whole encoding.
#[derive(Clone, Copy)]
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
    encoded: &'a [u8],
}

/// Reads one DER element with a one-octet tag; returns it and the rest.
fn read_element(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
        (length, rest)
    };
    if rest.len() < length {
        return None;
    }
    let header_len = input.len() - rest.len();
    let (content, rest) = rest.split_at(length);
    Some((
        Element {
            tag,
            content,
            encoded: &input[..header_len + length],
        },
        rest,
    ))
}

fn expect(input: &[u8], tag: u8) -> Option<(Element<'_>, &[u8])> {
    let (element, rest) = read_element(input)?;
    (element.tag == tag).then_some((element, rest))
}

struct RawCertificate<'a> {
    serial: &'a [u8],
    tbs_signature: &'a [u8],
    outer_signature: &'a [u8],
    not_before: Element<'a>,
    not_after: Element<'a>,
}

/// Reads the fields whose exact encoding x509-parser does not expose.
fn raw_certificate_fields(der: &[u8]) -> Option<RawCertificate<'_>> {
    let (certificate, _) = expect(der, TAG_SEQUENCE)?;
    let (tbs, rest) = expect(certificate.content, TAG_SEQUENCE)?;
    let (outer_signature, _) = expect(rest, TAG_SEQUENCE)?;
    let mut fields = tbs.content;
    if fields.first() == Some(&TAG_CONTEXT_0) {
        fields = read_element(fields)?.1;
    }
    let (serial, fields) = expect(fields, TAG_INTEGER)?;
    let (tbs_signature, fields) = expect(fields, TAG_SEQUENCE)?;
    let (_issuer, fields) = expect(fields, TAG_SEQUENCE)?;
    let (validity, _) = expect(fields, TAG_SEQUENCE)?;
    let (not_before, rest) = read_element(validity.content)?;
    let (not_after, _) = read_element(rest)?;
    Some(RawCertificate {
        serial: serial.content,
        tbs_signature: tbs_signature.encoded,
        outer_signature: outer_signature.encoded,
        not_before,
        not_after,
    })
}

struct RawCrl<'a> {
    tbs_signature: &'a [u8],
    outer_signature: &'a [u8],
    this_update: Element<'a>,
    next_update: Option<Element<'a>>,
    revocation_dates: Vec<Element<'a>>,
}

fn raw_crl_fields(der: &[u8]) -> Option<RawCrl<'_>> {
    let (crl, _) = expect(der, TAG_SEQUENCE)?;
    let (tbs, rest) = expect(crl.content, TAG_SEQUENCE)?;
    let (outer_signature, _) = expect(rest, TAG_SEQUENCE)?;
    let mut fields = tbs.content;
    if fields.first() == Some(&TAG_INTEGER) {
        fields = read_element(fields)?.1;
    }
    let (tbs_signature, fields) = expect(fields, TAG_SEQUENCE)?;
    let (_issuer, fields) = expect(fields, TAG_SEQUENCE)?;
    let (this_update, mut fields) = read_element(fields)?;
    let mut next_update = None;
    if matches!(fields.first(), Some(&TAG_UTC_TIME | &TAG_GENERALIZED_TIME)) {
        let (element, rest) = read_element(fields)?;
        next_update = Some(element);
        fields = rest;
    }
    let mut revocation_dates = Vec::new();
    if fields.first() == Some(&TAG_SEQUENCE) {
        let (list, _) = read_element(fields)?;
        let mut entries = list.content;
        while !entries.is_empty() {
            let (entry, rest) = expect(entries, TAG_SEQUENCE)?;
            let (_serial, entry_fields) = expect(entry.content, TAG_INTEGER)?;
            let (date, _) = read_element(entry_fields)?;
            revocation_dates.push(date);
            entries = rest;
        }
    }
    Some(RawCrl {
        tbs_signature: tbs_signature.encoded,
        outer_signature: outer_signature.encoded,
        this_update,
        next_update,
        revocation_dates,
    })
}

/// Checks a Time: UTCTime `YYMMDDHHMMSSZ` for years before 2050 and
/// GeneralizedTime `YYYYMMDDHHMMSSZ` from 2050 (RFC 5280 sections 4.1.2.5 and 5.1.2.4).
fn check_time(findings: &mut Findings, prefix: &'static str, label: &str, element: Element<'_>) {
    let text = std::str::from_utf8(element.content).unwrap_or_default();
    let digits_then_z = |len: usize| {
        text.len() == len
            && text.ends_with('Z')
            && text[..len - 1].bytes().all(|byte| byte.is_ascii_digit())
    };
    let year = match element.tag {
        TAG_UTC_TIME if digits_then_z(13) => {
            let short: u32 = text[..2].parse().unwrap_or_default();
            Some(if short >= 50 {
                1900 + short
            } else {
                2000 + short
            })
        }
        TAG_GENERALIZED_TIME if digits_then_z(15) => text[..4].parse::<u32>().ok(),
        _ => None,
    };
    let Some(year) = year else {
        findings.error(
            code(prefix, "encoding"),
            format!(
                "{label} `{text}` is not UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ"
            ),
        );
        return;
    };
    if year < 2050 && element.tag != TAG_UTC_TIME {
        findings.error(
            code(prefix, "utctime_required"),
            format!("{label} `{text}` is a GeneralizedTime before 2050; RFC 5280 requires UTCTime"),
        );
    }
    // A UTCTime cannot express 2050 or later, so only the reverse needs a check.
}

#[cfg(test)]
#[path = "lint_tests.rs"]
mod tests;
