//! Kind `crl`: a CRL signed by the root that revokes intermediates by serial.

use ironroot_core::crl::{self, RevocationReason, RevokedEntry};
use ironroot_core::files::PUBLIC_FILE;
use ironroot_core::pemfile;
use serde_json::json;
use time::Duration;

use super::root_authority;
use crate::ceremony_file::rules::parse_serial;
use crate::engine::{Engine, Signer};
use crate::error::CeremonyError;
use crate::report::timestamp;
use crate::runbook::with_progress;

/// PEM label of a CRL.
const CRL_LABEL: &str = "X509 CRL";

pub(super) fn run(engine: &mut Engine<'_>) -> Result<Signer, CeremonyError> {
    let spec = engine
        .loaded
        .spec
        .crl
        .as_ref()
        .ok_or_else(|| CeremonyError::Ceremony("crl is missing".to_owned()))?;
    let mut revoked = Vec::new();
    for (index, entry) in spec.revoked.iter().enumerate() {
        let field = format!("crl.revoked[{index}]");
        let serial = parse_serial(&entry.serial)
            .map_err(|m| CeremonyError::Ceremony(format!("{field}.serial: {m}")))?;
        let reason: RevocationReason = entry
            .reason
            .parse()
            .map_err(|m: String| CeremonyError::Ceremony(format!("{field}.reason: {m}")))?;
        revoked.push(RevokedEntry {
            serial,
            revoked_at: engine.now,
            reason: Some(reason),
        });
    }
    let number = spec.number;
    let next_update = engine.now + Duration::days(i64::from(spec.next_update_days));

    let authority = root_authority(engine)?;
    engine.step("Sign the CRL with the root key (linted with a throwaway key first)")?;
    let der = with_progress("Signing the CRL", || {
        crl::root_crl(&authority, &revoked, engine.now, next_update, number)
    })?;
    engine.note("parsed the CRL back: the root's signature verifies and the lints pass");
    for entry in &revoked {
        let reason = entry.reason.map_or("none", RevocationReason::name);
        engine.transcript.record(
            "revoked",
            json!({ "serial": ironroot_core::fingerprint::hex(&entry.serial), "reason": reason }),
        );
        engine.runbook.say(&format!(
            "  revokes serial {} ({reason})",
            ironroot_core::fingerprint::hex(&entry.serial)
        ));
    }
    engine.transcript.record(
        "crl",
        json!({
            "number": number,
            "this_update": timestamp(engine.now),
            "next_update": timestamp(next_update),
            "sha256": ironroot_core::Fingerprint::of(&der).to_hex(),
        }),
    );
    let fingerprint = ironroot_core::Fingerprint::of(&der);
    engine
        .runbook
        .witness_fingerprint("CRL", &fingerprint, &mut engine.transcript)?;

    engine.step("Stage the CRL")?;
    let path = engine
        .loaded
        .spec
        .outputs
        .crl
        .clone()
        .ok_or_else(|| CeremonyError::Ceremony("outputs.crl is missing".to_owned()))?;
    let pem = pemfile::encode(CRL_LABEL, &der);
    engine.write_output("outputs.crl", &path, pem.as_bytes(), PUBLIC_FILE)?;
    Ok(Signer::Authority(authority))
}
