//! Issuing certificates with the active intermediate: validity clamping, the
//! signature, and the database row that records the result.

use ironroot_core::cert::CertificateInfo;
use ironroot_core::fingerprint::hex;
use ironroot_core::lint;
use ironroot_core::names::SubjectName;
use ironroot_core::profile::{self, LeafUsage, Validity};
use ironroot_core::{Error as CoreError, Fingerprint};
use rcgen::{CertificateParams, PublicKeyData};
use time::{Duration, OffsetDateTime};

use super::{ActiveCa, LeafUrls};
use crate::storage::queries::{CertificateKind, CertificateRecord};

/// How far notBefore is backdated, so clients with a slightly slow clock
/// accept a certificate issued a moment ago.
const BACKDATE: Duration = Duration::seconds(60);

/// A freshly signed certificate and the row that records it.
#[derive(Clone, Debug)]
pub struct IssuedCertificate {
    /// The row for the `certificates` table; its `cert_der` is the certificate.
    pub record: CertificateRecord,
    /// The validity actually used.
    pub validity: Validity,
}

/// Returns the validity of a certificate issued at `now` for `lifetime`:
/// notBefore = now - 60 s and notAfter = now + `lifetime`, both clamped to the
/// CA's own validity.
pub fn clamp_validity(
    ca: &CertificateInfo,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<Validity, CoreError> {
    let not_before = (now - BACKDATE).max(ca.validity.not_before);
    let not_after = (now + lifetime).min(ca.validity.not_after);
    Validity::new(not_before, not_after)
}

/// Signs a workload certificate for a CSR's public key and names, with the
/// extended key usages (serverAuth, clientAuth) a policy profile chose.
pub fn sign_leaf_with_usages(
    ca: &ActiveCa,
    names: &[SubjectName],
    public_key_der: &[u8],
    validity: Validity,
    issued_at: OffsetDateTime,
    usages: (bool, bool),
) -> Result<IssuedCertificate, CoreError> {
    let (server_auth, client_auth) = usages;
    let mut params = profile::leaf_with_usages(names, validity, server_auth, client_auth)?;
    add_revocation_urls(&mut params, &ca.leaf_urls)?;
    let der = ca.authority.sign(&params, public_key_der)?;
    let names = names.iter().map(ToString::to_string).collect();
    record(
        ca,
        &params,
        der,
        CertificateKind::Leaf,
        names,
        validity,
        issued_at,
    )
}

/// Signs the daemon's own TLS server certificate for `key`.
pub fn sign_server(
    ca: &ActiveCa,
    names: &[SubjectName],
    key: &impl PublicKeyData,
    validity: Validity,
    issued_at: OffsetDateTime,
) -> Result<IssuedCertificate, CoreError> {
    let params = profile::leaf(names, validity, LeafUsage::ServerAndClient)?;
    let der = ca.authority.sign_for(&params, key)?;
    let names = names.iter().map(ToString::to_string).collect();
    record(
        ca,
        &params,
        der,
        CertificateKind::Server,
        names,
        validity,
        issued_at,
    )
}

/// Signs an operator's admin client certificate with the URI SAN
/// `urn:ironroot:admin:NAME`.
pub fn sign_admin(
    ca: &ActiveCa,
    name: &str,
    key: &impl PublicKeyData,
    validity: Validity,
    issued_at: OffsetDateTime,
) -> Result<IssuedCertificate, CoreError> {
    let uri = admin_uri(name);
    let params = profile::client_with_uri(name, &uri, validity)?;
    let der = ca.authority.sign_for(&params, key)?;
    record(
        ca,
        &params,
        der,
        CertificateKind::Admin,
        vec![uri],
        validity,
        issued_at,
    )
}

/// Adds the CRL distribution point and the authorityInfoAccess OCSP URL of
/// `urls` to a leaf profile. Either is left out when it is not configured.
pub fn add_revocation_urls(
    params: &mut CertificateParams,
    urls: &LeafUrls,
) -> Result<(), CoreError> {
    if let Some(crl) = &urls.crl {
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec![crl.clone()],
        }];
    }
    if let Some(ocsp) = &urls.ocsp {
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                AUTHORITY_INFO_ACCESS,
                authority_info_access(ocsp),
            ));
    }
    Ok(())
}

/// id-pe-authorityInfoAccess (1.3.6.1.5.5.7.1.1).
const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
/// id-ad-ocsp (1.3.6.1.5.5.7.48.1).
const ACCESS_METHOD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];

/// Encodes AuthorityInfoAccessSyntax with one OCSP AccessDescription whose
/// accessLocation is a uniformResourceIdentifier ([6] IMPLICIT IA5String).
fn authority_info_access(url: &str) -> Vec<u8> {
    yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer.next().write_sequence(|writer| {
                writer
                    .next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(
                        ACCESS_METHOD_OCSP,
                    ));
                writer
                    .next()
                    .write_tagged_implicit(yasna::Tag::context(6), |writer| {
                        writer.write_ia5_string(url);
                    });
            });
        });
    })
}

/// Returns the URI SAN of the admin credential `name`.
pub fn admin_uri(name: &str) -> String {
    format!("urn:ironroot:admin:{name}")
}

/// Lints the new certificate against its issuer with the shared RFC 5280
/// linter, then builds the row from the parameters that were signed. A
/// certificate with an error finding is never stored or returned.
fn record(
    ca: &ActiveCa,
    params: &CertificateParams,
    der: Vec<u8>,
    kind: CertificateKind,
    names: Vec<String>,
    validity: Validity,
    issued_at: OffsetDateTime,
) -> Result<IssuedCertificate, CoreError> {
    let findings = lint::lint_certificate(&der, Some(ca.certificate()));
    if lint::has_errors(&findings) {
        return Err(CoreError::Lint {
            what: format!("{kind:?} certificate"),
            findings,
        });
    }
    let serial = params
        .serial_number
        .as_ref()
        .map(|serial| hex(serial.as_ref()))
        .ok_or_else(|| CoreError::InvalidValidity("the profile set no serial number".to_owned()))?;
    let subject = params
        .distinguished_name
        .get(&rcgen::DnType::CommonName)
        .map(|value| match value {
            rcgen::DnValue::Utf8String(text) => format!("CN={text}"),
            other => format!("CN={other:?}"),
        })
        .unwrap_or_default();
    let record = CertificateRecord {
        serial,
        ca_id: ca.id,
        subject,
        names,
        not_before: validity.not_before.unix_timestamp(),
        not_after: validity.not_after.unix_timestamp(),
        sha256: Fingerprint::of(&der).to_hex(),
        cert_der: der,
        kind,
        token_id: None,
        request_id: None,
        issued_at: issued_at.unix_timestamp(),
    };
    Ok(IssuedCertificate { record, validity })
}
