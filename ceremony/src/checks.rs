//! Self-checks of a freshly signed certificate, run before anything is written:
//! parse the DER back, verify the signature against the issuer, and compare the
//! profile fields with what the command asked for.

use ironroot_core::cert::{CertificateInfo, verify_issued_by};
use ironroot_core::profile::Validity;
use ironroot_core::serial::SERIAL_LEN;

use crate::error::CeremonyError;

/// Checks a new self-signed root certificate and returns it parsed.
pub(crate) fn root(der: &[u8], expected: Validity) -> Result<CertificateInfo, CeremonyError> {
    let info = CertificateInfo::parse(der, "new root certificate")?;
    verify_issued_by(&info, &info).map_err(|error| fail(error.to_string()))?;
    check_common(&info, expected)?;
    if info.path_len.is_some() {
        return Err(fail(
            "the root certificate carries a pathLenConstraint".to_owned(),
        ));
    }
    if info.authority_key_id.is_some() && info.authority_key_id != info.subject_key_id {
        return Err(fail(
            "the root's authority key identifier differs from its subject key identifier"
                .to_owned(),
        ));
    }
    Ok(info)
}

/// Checks a new intermediate certificate issued by `root` and returns it parsed.
pub(crate) fn intermediate(
    der: &[u8],
    root: &CertificateInfo,
    expected: Validity,
    path_len: u8,
) -> Result<CertificateInfo, CeremonyError> {
    let info = CertificateInfo::parse(der, "new intermediate certificate")?;
    verify_issued_by(&info, root).map_err(|error| fail(error.to_string()))?;
    check_common(&info, expected)?;
    if info.path_len != Some(u32::from(path_len)) {
        return Err(fail(format!(
            "pathLenConstraint is {:?}, expected {path_len}",
            info.path_len
        )));
    }
    if info.authority_key_id.is_none() || info.authority_key_id != root.subject_key_id {
        return Err(fail(
            "the authority key identifier does not equal the root's subject key identifier"
                .to_owned(),
        ));
    }
    if !info.validity.is_within(&root.validity) {
        return Err(fail(
            "the validity is not inside the root's validity".to_owned(),
        ));
    }
    Ok(info)
}

/// Checks what every CA certificate of the ceremony has: CA:true, a subject key
/// identifier, a positive serial of [`SERIAL_LEN`] bytes and the requested validity.
fn check_common(info: &CertificateInfo, expected: Validity) -> Result<(), CeremonyError> {
    if !info.is_ca {
        return Err(fail("basicConstraints does not say CA:true".to_owned()));
    }
    if info.subject_key_id.is_none() {
        return Err(fail("the subject key identifier is missing".to_owned()));
    }
    let serial_is_positive = info.serial.first().is_some_and(|byte| byte & 0x80 == 0)
        && info.serial.iter().any(|byte| *byte != 0);
    if info.serial.len() != SERIAL_LEN || !serial_is_positive {
        return Err(fail(format!(
            "the serial {} is not a positive {SERIAL_LEN}-byte number",
            info.serial_hex()
        )));
    }
    if info.validity != expected {
        return Err(fail(format!(
            "the validity {} to {} differs from the requested {} to {}",
            info.validity.not_before,
            info.validity.not_after,
            expected.not_before,
            expected.not_after
        )));
    }
    Ok(())
}

fn fail(reason: String) -> CeremonyError {
    CeremonyError::SelfCheck(reason)
}
