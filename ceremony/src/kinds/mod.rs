//! The five ceremony kinds, and what several of them share: reading the root
//! certificate, unlocking the root key, generating and sealing keys.

mod crl;
mod intermediate;
mod keys;
mod rollover;
mod root;

use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::keys::KeyAlgorithm;
use ironroot_core::profile::{Subject, Validity};
use time::Duration;

use crate::ceremony_file::{Kind, SubjectSpec};
use crate::engine::{Engine, Signer};
use crate::error::CeremonyError;
use crate::report::timestamp;

/// Runs the ceremony of the file's kind and returns the key that signs the transcript.
pub(crate) fn run(engine: &mut Engine<'_>) -> Result<Signer, CeremonyError> {
    match engine.loaded.spec.kind {
        Kind::Root => root::run(engine),
        Kind::Intermediate => intermediate::run(engine, intermediate::KeySource::Generated),
        Kind::IntermediateFromCsr => intermediate::run(engine, intermediate::KeySource::Csr),
        Kind::Crl => crl::run(engine),
        Kind::RootRollover => rollover::run(engine),
    }
}

/// The subject of the new certificate. Validation guarantees it is present
/// for every kind that calls this.
fn subject(engine: &Engine<'_>) -> Result<Subject, CeremonyError> {
    let spec: &SubjectSpec = engine
        .loaded
        .spec
        .subject
        .as_ref()
        .ok_or_else(|| missing("subject"))?;
    Ok(Subject {
        common_name: spec.common_name.clone(),
        organization: spec.organization.clone(),
        organizational_unit: spec.organizational_unit.clone(),
        country: spec.country.clone(),
    })
}

/// The validity of the new certificate from the ceremony's clock.
fn validity(engine: &Engine<'_>) -> Result<Validity, CeremonyError> {
    let days = engine
        .loaded
        .spec
        .validity
        .as_ref()
        .ok_or_else(|| missing("validity.days"))?
        .days;
    Ok(Validity::starting_at(
        engine.now,
        Duration::days(i64::from(days)),
    )?)
}

/// The key algorithm of `[key]`.
fn algorithm(engine: &Engine<'_>) -> Result<KeyAlgorithm, CeremonyError> {
    let key = engine
        .loaded
        .spec
        .key
        .as_ref()
        .ok_or_else(|| missing("key.algorithm"))?;
    key.algorithm
        .parse()
        .map_err(|message: String| CeremonyError::Ceremony(format!("key.algorithm: {message}")))
}

/// Fails unless `root` is valid now and `validity` ends no later than it.
fn check_inside(
    root: &CertificateInfo,
    engine: &Engine<'_>,
    validity: Validity,
) -> Result<(), CeremonyError> {
    if !root.is_valid_at(engine.now) {
        return Err(CeremonyError::RootNotValidNow {
            root: root.subject.clone(),
            now: timestamp(engine.now),
            not_before: timestamp(root.validity.not_before),
            not_after: timestamp(root.validity.not_after),
        });
    }
    if validity.not_after > root.validity.not_after {
        return Err(CeremonyError::BeyondRoot {
            root: root.subject.clone(),
            requested_not_after: timestamp(validity.not_after),
            root_not_after: timestamp(root.validity.not_after),
            days_left: (root.validity.not_after - validity.not_before).whole_days(),
        });
    }
    Ok(())
}

/// Loads the root certificate, checks it is valid now, and unlocks its key
/// (or, in a dry run, makes a throwaway root like it).
fn root_authority(engine: &mut Engine<'_>) -> Result<Authority, CeremonyError> {
    keys::root_authority(engine)
}

fn missing(field: &str) -> CeremonyError {
    CeremonyError::Ceremony(format!("{field} is missing from the ceremony file"))
}
