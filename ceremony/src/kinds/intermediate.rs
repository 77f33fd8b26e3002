//! Kinds `intermediate` (key generated in the ceremony) and
//! `intermediate-from-csr` (key generated on the issuing host): the root signs
//! the intermediate certificate and the result is sealed into a bundle for the
//! issuing host. A bundle made from a CSR carries no private key.

use ironroot_core::bundle::Bundle;
use ironroot_core::cert::CertificateInfo;
use ironroot_core::files::{PRIVATE_FILE, PUBLIC_FILE};
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::profile;
use ironroot_core::signing;
use x509_parser::prelude::{FromDer, X509CertificationRequest};

use super::{algorithm, check_inside, keys, root_authority, subject, validity};
use crate::ceremony_file::ExtensionsSpec;
use crate::checks;
use crate::cli::RecipientArgs;
use crate::engine::{Engine, Signer};
use crate::error::CeremonyError;
use crate::recipient;
use crate::runbook::with_progress;

/// Source of the intermediate's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeySource {
    Generated,
    Csr,
}

pub(super) fn run(engine: &mut Engine<'_>, source: KeySource) -> Result<Signer, CeremonyError> {
    let subject = subject(engine)?;
    let validity = validity(engine)?;
    let options = ExtensionsSpec::to_options(engine.loaded.spec.extensions.as_ref())?;
    let recipient = recipient::resolve(&RecipientArgs {
        recipient: engine.loaded.spec.inputs.recipient.clone(),
        recipient_file: engine
            .loaded
            .spec
            .inputs
            .recipient_file
            .as_ref()
            .map(|path| engine.loaded.resolve(path)),
    })?;
    let csr_key = match source {
        KeySource::Csr => Some(read_csr(engine)?),
        KeySource::Generated => None,
    };
    // The root's dates are checked before its key is unlocked.
    check_root_dates(engine, validity)?;

    let authority = root_authority(engine)?;
    let root = authority.certificate().clone();
    check_inside(&root, engine, validity)?;

    let (public_key_der, key) = match csr_key {
        Some(der) => (der, None),
        None => {
            engine.step("Generate the intermediate key")?;
            let key = keys::generate(engine, algorithm(engine)?, "intermediate")?;
            (key.public_key_der(), Some(key))
        }
    };

    engine.step(
        "Sign the intermediate certificate with the root key (linted with a throwaway key first)",
    )?;
    let params = profile::intermediate_with(&subject, validity, &options)?;
    let der = with_progress("Signing the intermediate certificate", || {
        signing::sign_checked(
            &authority,
            &params,
            &public_key_der,
            "new intermediate certificate",
        )
    })?;
    let path_len = options.path_len.unwrap_or(0);
    let intermediate = checks::intermediate(&der, &root, validity, path_len)?;
    engine.note("parsed the certificate back: the root's signature verifies and the lints pass");
    engine.certificate("intermediate", &intermediate)?;

    engine.step("Seal the bundle for the issuing host")?;
    stage_bundle(engine, intermediate, root, key, &recipient)?;
    Ok(Signer::Authority(authority))
}

/// Checks the root certificate's dates against the new validity before the
/// root key is unlocked; a dry run with a missing root certificate skips this.
fn check_root_dates(engine: &Engine<'_>, validity: profile::Validity) -> Result<(), CeremonyError> {
    let Some(path) = &engine.loaded.spec.inputs.root_cert else {
        return Ok(());
    };
    let Ok(bytes) = ironroot_core::files::read(&engine.loaded.resolve(path)) else {
        return Ok(());
    };
    let root = CertificateInfo::parse_pem(&bytes, "inputs.root_cert")?;
    check_inside(&root, engine, validity)
}

fn stage_bundle(
    engine: &mut Engine<'_>,
    intermediate: CertificateInfo,
    root: CertificateInfo,
    key: Option<PrivateKey>,
    recipient: &age::x25519::Recipient,
) -> Result<(), CeremonyError> {
    let carries_key = key.is_some();
    let bundle = Bundle::new(intermediate, root, key, engine.now);
    let sealed = bundle.seal(recipient).map_err(CeremonyError::Seal)?;
    engine.note(&format!(
        "sealed the bundle to {recipient}; it {} the intermediate's private key",
        if carries_key { "carries" } else { "carries no" }
    ));
    let outputs = &engine.loaded.spec.outputs;
    let bundle_path = outputs
        .bundle
        .clone()
        .ok_or_else(|| CeremonyError::Ceremony("outputs.bundle is missing".to_owned()))?;
    let certificate_path = outputs.certificate.clone();
    engine.write_output("outputs.bundle", &bundle_path, &sealed, PRIVATE_FILE)?;
    if let Some(path) = certificate_path {
        let pem = bundle.intermediate.to_pem();
        engine.write_output("outputs.certificate", &path, pem.as_bytes(), PUBLIC_FILE)?;
    }
    Ok(())
}

/// Reads and verifies the CSR and returns its public key (DER SPKI). The key
/// must be one the CA key policy accepts; a dry run without the CSR file uses
/// a throwaway ECDSA P-256 key.
fn read_csr(engine: &mut Engine<'_>) -> Result<Vec<u8>, CeremonyError> {
    let path = engine
        .loaded
        .spec
        .inputs
        .csr
        .clone()
        .ok_or_else(|| CeremonyError::Ceremony("inputs.csr is missing".to_owned()))?;
    let resolved = engine.loaded.resolve(&path);
    if engine.options.dry_run && !resolved.is_file() {
        engine.note("dry run: inputs.csr is missing, so a throwaway ECDSA P-256 key stands in");
        return Ok(PrivateKey::generate(KeyAlgorithm::EcdsaP256)?.public_key_der());
    }
    let bytes = engine.read_input("inputs.csr", &path)?;
    let der = ironroot_core::pemfile::parse_single(&bytes, "CERTIFICATE REQUEST", "inputs.csr")?;
    let invalid = |reason: String| {
        CeremonyError::Ceremony(format!("inputs.csr '{}': {reason}", resolved.display()))
    };
    let (rest, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|error| invalid(format!("not a PKCS#10 request ({error})")))?;
    if !rest.is_empty() {
        return Err(invalid("trailing data after the request".to_owned()));
    }
    csr.verify_signature()
        .map_err(|_| invalid("its signature does not verify with its own public key".to_owned()))?;
    let spki = csr.certification_request_info.subject_pki.raw.to_vec();
    let algorithm = KeyAlgorithm::ca_allowed(&spki, "the key in inputs.csr")?;
    engine.note(&format!(
        "the CSR's signature verifies; its key is {algorithm}"
    ));
    engine.transcript.record(
        "public-key",
        serde_json::json!({
            "role": "intermediate (from CSR)",
            "algorithm": algorithm.name(),
            "sha256": ironroot_core::Fingerprint::of(&spki).to_hex(),
        }),
    );
    let fingerprint = ironroot_core::Fingerprint::of(&spki);
    engine
        .runbook
        .witness_fingerprint("CSR public key", &fingerprint, &mut engine.transcript)?;
    Ok(spki)
}
