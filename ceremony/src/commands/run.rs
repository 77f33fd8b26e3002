//! `run FILE`: validates a ceremony file completely, then runs its runbook,
//! stages every output, signs the transcript and moves the outputs into place.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ironroot_core::Fingerprint;
use ironroot_core::agefile;
use ironroot_core::files::{PRIVATE_DIR, PUBLIC_FILE};
use ironroot_core::keys::PrivateKey;
use serde_json::json;
use time::OffsetDateTime;

use crate::ceremony_file::input_files::{self, InputFile};
use crate::ceremony_file::{self, FieldError, Loaded, validate};
use crate::cli::RunArgs;
use crate::engine::{Engine, RunOptions, Signer};
use crate::error::CeremonyError;
use crate::kinds;
use crate::passphrase;
use crate::report::timestamp;
use crate::runbook::Runbook;
use crate::staging::Staging;
use crate::transcript::TranscriptWriter;

/// Runs `run`.
pub(crate) fn run(args: &RunArgs) -> Result<(), CeremonyError> {
    let bytes = ironroot_core::files::read(&args.file)?;
    println!("Ceremony file: {}", args.file.display());
    println!(
        "Ceremony file SHA-256: {}",
        Fingerprint::of(&bytes).to_hex()
    );
    let loaded = Loaded::parse(&args.file, &bytes)?;

    let options = RunOptions {
        yes: args.yes,
        dry_run: args.dry_run,
        allow_long_validity: args.allow_long_validity,
        passphrase_file: args.passphrase_file.clone(),
    };
    let mut errors = validate(
        &loaded,
        ceremony_file::validate::Options {
            yes: options.yes,
            dry_run: options.dry_run,
            allow_long_validity: options.allow_long_validity,
            passphrase_override: options.passphrase_file.is_some(),
        },
    );
    if let Some(path) = &options.passphrase_file {
        errors.extend(passphrase_file_problem(&loaded, path));
    }
    if !errors.is_empty() {
        return Err(CeremonyError::InvalidCeremonyFile {
            path: args.file.clone(),
            errors,
        });
    }

    // The scratch directory is removed when it is dropped, so a failed dry run
    // leaves nothing behind; a successful one keeps it below.
    let scratch_dir = if options.dry_run {
        let dir = tempfile::Builder::new()
            .prefix("ironroot-dry-run-")
            .permissions(std::fs::Permissions::from_mode(PRIVATE_DIR))
            .tempdir()
            .map_err(|source| {
                CeremonyError::Core(ironroot_core::Error::Write {
                    path: std::env::temp_dir(),
                    source,
                })
            })?;
        println!(
            "Dry run: throwaway keys; every output goes to the scratch directory {}",
            dir.path().display()
        );
        Some(dir)
    } else {
        None
    };
    let scratch = scratch_dir.as_ref().map(|dir| dir.path().to_path_buf());

    let runbook = Runbook::new(options.yes, &loaded.spec.witnesses)?;
    let mut engine = Engine {
        loaded: &loaded,
        options,
        runbook,
        transcript: TranscriptWriter::default(),
        staging: Staging::default(),
        now: OffsetDateTime::now_utc(),
        scratch,
    };
    record_start(&mut engine)?;
    let signer = kinds::run(&mut engine)?;
    let signer = match &loaded.spec.signer {
        Some(_) => dedicated_signer(&mut engine)?,
        None => signer,
    };
    finish(engine, &signer)?;
    if let Some(dir) = scratch_dir {
        let kept = dir.keep();
        tracing::debug!(path = %kept.display(), "kept the dry-run scratch directory");
    }
    println!("Ceremony file SHA-256: {}", loaded.sha256.to_hex());
    Ok(())
}

/// Checks the `--passphrase-file` file as strictly as the step that reads it:
/// as a new passphrase when it protects a new root key in custody mode
/// `passphrase` without `custody.passphrase_file`, else as an existing one.
fn passphrase_file_problem(loaded: &Loaded, path: &Path) -> Option<FieldError> {
    let spec = &loaded.spec;
    let protects_new_key = spec.kind.creates_root()
        && spec.custody.as_ref().is_some_and(|custody| {
            custody.mode == "passphrase" && custody.passphrase_file.is_none()
        });
    let kind = if protects_new_key {
        InputFile::NewPassphrase
    } else {
        InputFile::ExistingPassphrase
    };
    input_files::problem(path, kind).map(|problem| FieldError::new("--passphrase-file", problem))
}

/// Records the ceremony file, the binary and the clock as the first entry.
fn record_start(engine: &mut Engine<'_>) -> Result<(), CeremonyError> {
    let (binary, binary_sha256) = own_binary()?;
    let spec = &engine.loaded.spec;
    engine.transcript.record(
        "ceremony-start",
        json!({
            "id": spec.id,
            "kind": spec.kind.name(),
            "description": spec.description,
            "file": engine.loaded.path.display().to_string(),
            "file_sha256": engine.loaded.sha256.to_hex(),
            "binary": binary,
            "binary_sha256": binary_sha256,
            "version": env!("CARGO_PKG_VERSION"),
            "clock": timestamp(engine.now),
            "dry_run": engine.options.dry_run,
            "unattended": engine.options.yes,
            "witnesses": spec.witnesses,
        }),
    );
    engine.runbook.say(&format!(
        "Ceremony `{}` ({}): {}",
        spec.id,
        spec.kind.name(),
        spec.description
    ));
    engine.runbook.say(&format!(
        "Clock (UTC): {}; compare it with a trusted clock",
        timestamp(engine.now)
    ));
    engine
        .runbook
        .say(&format!("Binary SHA-256: {binary_sha256}"));
    Ok(())
}

/// Returns the path and SHA-256 of the running binary.
fn own_binary() -> Result<(String, String), CeremonyError> {
    let path = std::env::current_exe().map_err(|source| {
        CeremonyError::Core(ironroot_core::Error::Read {
            path: "the running binary".into(),
            source,
        })
    })?;
    let bytes = ironroot_core::files::read(&path)?;
    Ok((path.display().to_string(), Fingerprint::of(&bytes).to_hex()))
}

/// Loads the dedicated transcript signer of `[signer]`.
fn dedicated_signer(engine: &mut Engine<'_>) -> Result<Signer, CeremonyError> {
    let Some(spec) = &engine.loaded.spec.signer else {
        return Err(CeremonyError::Ceremony("signer is missing".to_owned()));
    };
    let sealed = engine.read_input("signer.key", &spec.key)?;
    let certificate = match &spec.certificate {
        Some(path) => {
            let bytes = engine.read_input("signer.certificate", path)?;
            Some(ironroot_core::cert::CertificateInfo::parse_pem(
                &bytes,
                "signer.certificate",
            )?)
        }
        None => None,
    };
    let passphrase =
        passphrase::read_existing(Some(&engine.loaded.resolve(&spec.passphrase_file)))?;
    let label = format!("signer.key '{}'", spec.key.display());
    let pem = agefile::decrypt_with_passphrase(&sealed, passphrase.secret, &label)
        .map_err(|error| CeremonyError::Ceremony(format!("{label}: {error}")))?;
    let text = std::str::from_utf8(&pem).map_err(|_| {
        CeremonyError::Ceremony(format!("{label}: the decrypted key is not PEM text"))
    })?;
    let key = PrivateKey::from_pkcs8_pem(text, &label)?;
    if let Some(certificate) = &certificate
        && certificate.public_key_der != key.public_key_der()
    {
        return Err(CeremonyError::Ceremony(
            "signer.key does not belong to signer.certificate".to_owned(),
        ));
    }
    engine.public_key("transcript signer", &key)?;
    Ok(Signer::Key { key, certificate })
}

/// Signs and stages the transcript, then moves every output into place.
fn finish(mut engine: Engine<'_>, signer: &Signer) -> Result<(), CeremonyError> {
    engine.step("Sign the transcript and write the outputs")?;
    engine.transcript.record(
        "ceremony-end",
        json!({
            "file_sha256": engine.loaded.sha256.to_hex(),
            "outputs": engine.staging.staged().len(),
        }),
    );
    let transcript_path = engine.loaded.spec.transcript.clone();
    let target = engine.output_path("transcript", &transcript_path);
    let transcript = std::mem::take(&mut engine.transcript);
    let bytes = transcript.sign(signer.key(), signer.certificate_pem())?;
    engine
        .staging
        .add("transcript", &target, &bytes, PUBLIC_FILE)?;
    let committed = engine.staging.commit()?;

    println!("\nFiles written:");
    for output in &committed {
        print_output(&output.target, output.mode, output.len, &output.sha256);
    }
    if let Some(scratch) = &engine.scratch {
        println!(
            "Dry run finished; nothing was written outside {}",
            scratch.display()
        );
    }
    println!(
        "Transcript signer public key SHA-256: {}",
        signer.key().public_key_fingerprint().to_hex()
    );
    Ok(())
}

fn print_output(path: &Path, mode: u32, len: usize, sha256: &Fingerprint) {
    println!("  {}", path.display());
    println!(
        "      mode {mode:04o}, {len} bytes, SHA-256 {}",
        sha256.to_hex()
    );
}
