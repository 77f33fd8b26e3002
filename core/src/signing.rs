//! Lint before sign: every certificate and CRL is first signed with a
//! throwaway key of the issuer's algorithm and linted, then signed with the
//! real key, parsed back, its signature verified and linted again.

use std::sync::OnceLock;

use rcgen::{CertificateParams, CertificateRevocationListParams, Issuer, KeyIdMethod};
use rustls_pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::Error;
use crate::cert::{Authority, CertificateInfo};
use crate::keys::{KeyAlgorithm, PrivateKey};
use crate::lint::{Finding, has_errors, lint_certificate, lint_crl};

/// Signs `params` for `public_key_der` (a DER SubjectPublicKeyInfo) with
/// `issuer` after the throwaway-key lint, and returns the DER. `what` names
/// the certificate in errors. A preset subject key identifier in `params`
/// (as [`crate::profile::cross_signed`] sets) is kept; otherwise the SKI is
/// computed with RFC 7093 method 1.
pub fn sign_checked(
    issuer: &Authority,
    params: &CertificateParams,
    public_key_der: &[u8],
    what: &str,
) -> Result<Vec<u8>, Error> {
    let mut params = params.clone();
    if !matches!(params.key_identifier_method, KeyIdMethod::PreSpecified(_)) {
        crate::profile::set_key_identifier(&mut params, public_key_der)?;
    }
    let public_key = rcgen::SubjectPublicKeyInfo::from_der(public_key_der)?;
    let issuer_info = issuer.certificate();

    let throwaway = throwaway_key(issuer.key().algorithm())?;
    let rehearsal_issuer =
        Issuer::from_ca_cert_der(&CertificateDer::from(issuer_info.der.as_slice()), throwaway)?;
    let rehearsal = params.signed_by(&public_key, &rehearsal_issuer)?;
    reject_errors(what, lint_certificate(rehearsal.der(), Some(issuer_info)))?;

    let real_issuer = Issuer::from_ca_cert_der(
        &CertificateDer::from(issuer_info.der.as_slice()),
        issuer.key(),
    )?;
    let der = params.signed_by(&public_key, &real_issuer)?.der().to_vec();
    let info = CertificateInfo::parse(&der, what)?;
    crate::cert::verify_issued_by(&info, issuer_info)?;
    reject_errors(what, lint_certificate(&der, Some(issuer_info)))?;
    Ok(der)
}

/// Self-signs a root certificate from `params` after the throwaway-key lint
/// and returns it as an [`Authority`] with `key`.
pub fn self_signed_checked(
    params: &CertificateParams,
    key: PrivateKey,
    what: &str,
) -> Result<Authority, Error> {
    let throwaway = throwaway_key(key.algorithm())?;
    let mut rehearsal_params = params.clone();
    crate::profile::set_key_identifier(&mut rehearsal_params, &throwaway.public_key_der())?;
    let rehearsal = rehearsal_params.self_signed(&throwaway)?;
    reject_errors(what, lint_certificate(rehearsal.der(), None))?;

    let mut params = params.clone();
    crate::profile::set_key_identifier(&mut params, &key.public_key_der())?;
    let der = params.self_signed(&key)?.der().to_vec();
    let info = CertificateInfo::parse(&der, what)?;
    crate::cert::verify_issued_by(&info, &info)?;
    reject_errors(what, lint_certificate(&der, None))?;
    Authority::new(&der, key, what)
}

/// Signs a CRL with `issuer` after the throwaway-key lint, parses it back,
/// verifies its signature and lints it again. Returns the DER.
pub fn crl_checked(
    issuer: &Authority,
    params: &CertificateRevocationListParams,
    what: &str,
) -> Result<Vec<u8>, Error> {
    let issuer_info = issuer.certificate();
    let throwaway = throwaway_key(issuer.key().algorithm())?;
    let rehearsal_issuer =
        Issuer::from_ca_cert_der(&CertificateDer::from(issuer_info.der.as_slice()), throwaway)?;
    let rehearsal = params.signed_by(&rehearsal_issuer)?;
    reject_errors(what, lint_crl(rehearsal.der(), issuer_info))?;

    let real_issuer = Issuer::from_ca_cert_der(
        &CertificateDer::from(issuer_info.der.as_slice()),
        issuer.key(),
    )?;
    let der = params.signed_by(&real_issuer)?.der().to_vec();
    verify_crl_signature(&der, issuer_info, what)?;
    reject_errors(what, lint_crl(&der, issuer_info))?;
    Ok(der)
}

/// Verifies that the DER CRL `der` is signed by the key of `issuer`.
pub fn verify_crl_signature(der: &[u8], issuer: &CertificateInfo, what: &str) -> Result<(), Error> {
    use x509_parser::prelude::FromDer;

    let invalid = |reason: String| Error::InvalidCertificate {
        what: what.to_owned(),
        reason,
    };
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(der)
        .map_err(|error| invalid(format!("the CRL does not parse ({error})")))?;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&issuer.public_key_der)
        .map_err(|error| invalid(format!("the issuer's public key does not parse ({error})")))?;
    crl.verify_signature(&spki).map_err(|_| {
        invalid(format!(
            "the CRL signature does not verify with the public key of `{}`",
            issuer.subject
        ))
    })
}

fn reject_errors(what: &str, findings: Vec<Finding>) -> Result<(), Error> {
    if has_errors(&findings) {
        return Err(Error::Lint {
            what: what.to_owned(),
            findings,
        });
    }
    Ok(())
}

/// Returns a throwaway key of `algorithm`. RSA keys take up to a second to
/// generate, so one throwaway key per RSA size is generated once per process
/// and reused; elliptic-curve keys are fresh on every call.
pub fn throwaway_key(algorithm: KeyAlgorithm) -> Result<PrivateKey, Error> {
    static RSA_3072: OnceLock<Zeroizing<Vec<u8>>> = OnceLock::new();
    static RSA_4096: OnceLock<Zeroizing<Vec<u8>>> = OnceLock::new();
    let cache = match algorithm {
        KeyAlgorithm::Rsa3072 => &RSA_3072,
        KeyAlgorithm::Rsa4096 => &RSA_4096,
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::Ed25519 => {
            return PrivateKey::generate(algorithm);
        }
    };
    if let Some(pkcs8) = cache.get() {
        return PrivateKey::from_pkcs8_der(pkcs8, "throwaway key");
    }
    let key = PrivateKey::generate(algorithm)?;
    // Another thread may have filled the cache meanwhile; either key serves.
    let pkcs8 = cache.get_or_init(|| key.to_pkcs8_der());
    PrivateKey::from_pkcs8_der(pkcs8, "throwaway key")
}
