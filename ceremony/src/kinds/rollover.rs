//! Kind `root-rollover`: a new root CA, plus cross-signed certificates in both
//! directions so that clients trusting either root accept chains of the other.

use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::files::PUBLIC_FILE;
use ironroot_core::profile::{self, Validity};
use ironroot_core::signing;
use time::Duration;

use super::root::certificate_path;
use super::{algorithm, keys, root_authority, subject, validity};
use crate::checks;
use crate::engine::{Engine, Signer};
use crate::error::CeremonyError;
use crate::report::timestamp;
use crate::runbook::with_progress;

pub(super) fn run(engine: &mut Engine<'_>) -> Result<Signer, CeremonyError> {
    let subject = subject(engine)?;
    let validity = validity(engine)?;
    let algorithm = algorithm(engine)?;
    let cross_days = engine
        .loaded
        .spec
        .rollover
        .as_ref()
        .ok_or_else(|| CeremonyError::Ceremony("rollover is missing".to_owned()))?
        .cross_validity_days;
    let cross_validity = Validity::starting_at(engine.now, Duration::days(i64::from(cross_days)))?;

    let old = root_authority(engine)?;
    check_cross_validity(old.certificate(), cross_validity)?;

    engine.step("Generate the new root key")?;
    let key = keys::generate(engine, algorithm, "new root")?;
    engine.step("Self-sign the new root certificate (linted with a throwaway key first)")?;
    let params = profile::root(&subject, validity)?;
    let new = with_progress("Signing the new root certificate", || {
        signing::self_signed_checked(&params, key, "new root certificate")
    })?;
    let new_info = checks::root(&new.certificate().der, validity)?;
    engine.certificate("new root", &new_info)?;
    check_cross_validity(&new_info, cross_validity)?;

    engine.step("Cross-sign: the old root signs the new root")?;
    let new_by_old = cross_sign(
        &old,
        &new_info,
        cross_validity,
        "new root signed by the old root",
    )?;
    engine.certificate("new root cross-signed by the old root", &new_by_old)?;

    engine.step("Cross-sign: the new root signs the old root")?;
    let old_info = old.certificate().clone();
    let old_by_new = cross_sign(
        &new,
        &old_info,
        cross_validity,
        "old root signed by the new root",
    )?;
    engine.certificate("old root cross-signed by the new root", &old_by_new)?;

    engine.step("Encrypt the new root key for its custody")?;
    keys::seal_root_key(engine, new.key())?;

    engine.step("Stage the certificates")?;
    let outputs = &engine.loaded.spec.outputs;
    let cross_new = outputs.cross_new_by_old.clone();
    let cross_old = outputs.cross_old_by_new.clone();
    let path = certificate_path(engine)?;
    engine.write_output(
        "outputs.certificate",
        &path,
        new_info.to_pem().as_bytes(),
        PUBLIC_FILE,
    )?;
    if let Some(path) = cross_new {
        engine.write_output(
            "outputs.cross_new_by_old",
            &path,
            new_by_old.to_pem().as_bytes(),
            PUBLIC_FILE,
        )?;
    }
    if let Some(path) = cross_old {
        engine.write_output(
            "outputs.cross_old_by_new",
            &path,
            old_by_new.to_pem().as_bytes(),
            PUBLIC_FILE,
        )?;
    }
    // The old root authorised the rollover, so its key signs the transcript.
    Ok(Signer::Authority(old))
}

/// Signs a copy of `subject_root` (same subject, key and SKI) with `issuer`.
fn cross_sign(
    issuer: &Authority,
    subject_root: &CertificateInfo,
    validity: Validity,
    what: &str,
) -> Result<CertificateInfo, CeremonyError> {
    let params = profile::cross_signed(subject_root, validity)?;
    let der = with_progress(&format!("Signing the {what}"), || {
        signing::sign_checked(issuer, &params, &subject_root.public_key_der, what)
    })?;
    Ok(CertificateInfo::parse(&der, what)?)
}

/// A cross certificate must not outlive the root it chains to.
fn check_cross_validity(root: &CertificateInfo, cross: Validity) -> Result<(), CeremonyError> {
    if cross.not_after > root.validity.not_after {
        return Err(CeremonyError::Ceremony(format!(
            "rollover.cross_validity_days: the cross certificates would be valid until {}, after `{}` expires at {}; choose at most {} days",
            timestamp(cross.not_after),
            root.subject,
            timestamp(root.validity.not_after),
            (root.validity.not_after - cross.not_before).whole_days()
        )));
    }
    Ok(())
}
