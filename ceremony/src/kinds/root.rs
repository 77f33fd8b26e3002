//! Kind `root`: a new root CA key, its self-signed certificate, and the key
//! sealed for its custodians.

use ironroot_core::files::PUBLIC_FILE;
use ironroot_core::profile;
use ironroot_core::signing;

use super::{algorithm, keys, subject, validity};
use crate::checks;
use crate::engine::{Engine, Signer};
use crate::error::CeremonyError;
use crate::runbook::with_progress;

pub(super) fn run(engine: &mut Engine<'_>) -> Result<Signer, CeremonyError> {
    let subject = subject(engine)?;
    let validity = validity(engine)?;
    let algorithm = algorithm(engine)?;

    engine.step("Generate the root key")?;
    let key = keys::generate(engine, algorithm, "root")?;

    engine.step("Self-sign the root certificate (linted with a throwaway key first)")?;
    let params = profile::root(&subject, validity)?;
    let authority = with_progress("Signing the root certificate", || {
        signing::self_signed_checked(&params, key, "new root certificate")
    })?;
    let info = checks::root(&authority.certificate().der, validity)?;
    engine.note("parsed the certificate back: the self-signature verifies and the lints pass");
    engine.certificate("root", &info)?;

    engine.step("Encrypt the root key for its custody")?;
    keys::seal_root_key(engine, authority.key())?;

    engine.step("Stage the root certificate")?;
    let path = certificate_path(engine)?;
    engine.write_output(
        "outputs.certificate",
        &path,
        info.to_pem().as_bytes(),
        PUBLIC_FILE,
    )?;
    Ok(Signer::Authority(authority))
}

pub(super) fn certificate_path(engine: &Engine<'_>) -> Result<std::path::PathBuf, CeremonyError> {
    engine
        .loaded
        .spec
        .outputs
        .certificate
        .clone()
        .ok_or_else(|| CeremonyError::Ceremony("outputs.certificate is missing".to_owned()))
}
