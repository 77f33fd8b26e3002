//! `ironroot-issuer backup`, `restore` and `audit verify`.

use ironroot_core::agefile;
use ironroot_core::files::{self, PRIVATE_FILE};
use rusqlite::TransactionBehavior;
use serde_json::json;
use zeroize::Zeroizing;

use crate::audit::{self, AuditEvent, CLI_ACTOR};
use crate::backup::{self, Archive};
use crate::cli::{AuditVerifyArgs, BackupArgs, RestoreArgs};
use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage;

/// Verifies the audit chain of the database file offline.
pub fn audit_verify(args: &AuditVerifyArgs) -> Result<(), Error> {
    let data_dir = DataDir::new(&args.data.data_dir);
    let path = data_dir.database_path();
    if !path.exists() {
        return Err(Error::NoIntermediate {
            path: data_dir.root().to_owned(),
        });
    }
    let connection = storage::open_read_only(&path)?;
    let verification = audit::verify(&connection)?.into_response();
    if args.json {
        let text = serde_json::to_string_pretty(&verification)
            .map_err(|error| Error::Issue(format!("the result does not serialise: {error}")))?;
        println!("{text}");
    }
    match verification.broken {
        None => {
            if !args.json {
                println!(
                    "audit chain valid: {} rows, head seq {} hash {}",
                    verification.rows, verification.head_seq, verification.head_hash
                );
            }
            Ok(())
        }
        Some(broken) => Err(Error::AuditBroken {
            path,
            seq: broken.seq,
            problem: broken.problem,
            message: broken.message,
        }),
    }
}

/// Writes an encrypted backup archive.
pub fn backup(args: &BackupArgs) -> Result<(), Error> {
    let data_dir = DataDir::new(&args.data.data_dir);
    data_dir.require_initialised()?;
    if args.out.symlink_metadata().is_ok() {
        return Err(ironroot_core::Error::AlreadyExists {
            path: args.out.clone(),
        }
        .into());
    }
    let recipients = recipients(args)?;
    let database = data_dir.database_path();
    if !database.exists() {
        return Err(Error::NoIntermediate {
            path: data_dir.root().to_owned(),
        });
    }
    record_backup(&data_dir, args, &recipients)?;

    let config = args
        .config
        .clone()
        .or_else(|| Some(data_dir.root().join("issuer.toml")).filter(|path| path.exists()));
    let plaintext = backup::create(&data_dir, config.as_deref())?;
    let recipient_refs: Vec<&dyn age::Recipient> = recipients
        .iter()
        .map(|recipient| recipient as &dyn age::Recipient)
        .collect();
    let ciphertext = agefile::encrypt_to_recipients(&plaintext, &recipient_refs)
        .map_err(|error| Error::Issue(format!("failed to encrypt the backup: {error}")))?;
    files::write_new(&args.out, &ciphertext, PRIVATE_FILE)?;
    let archive = Archive::parse(&plaintext, &args.out)?;
    tracing::info!(
        target: "ironroot::audit",
        out = %args.out.display(),
        members = archive.manifest.members.len(),
        audit.head = archive.manifest.audit_head_seq,
        "backup written"
    );
    println!("wrote backup {}", args.out.display());
    for member in &archive.manifest.members {
        println!(
            "  {:<40} {:>10} bytes  {}",
            member.name, member.size, member.sha256
        );
    }
    println!(
        "  audit head: seq {} hash {}",
        archive.manifest.audit_head_seq, archive.manifest.audit_head_hash
    );
    Ok(())
}

/// Appends the `backup` audit row before the snapshot, so the archive contains
/// it. A running daemon notices the foreign commit and reloads its chain head.
fn record_backup(
    data_dir: &DataDir,
    args: &BackupArgs,
    recipients: &[age::x25519::Recipient],
) -> Result<(), Error> {
    let mut connection = storage::open_read_write(&data_dir.database_path())?;
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(storage::StorageError::from)?;
    let event = AuditEvent::new(
        "backup",
        CLI_ACTOR,
        None,
        json!({
            "out": args.out.display().to_string(),
            "recipients": recipients.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    );
    audit::append_cli(&transaction, &event)?;
    transaction.commit().map_err(storage::StorageError::from)?;
    Ok(())
}

fn recipients(args: &BackupArgs) -> Result<Vec<age::x25519::Recipient>, Error> {
    let mut values: Vec<String> = args.recipient.clone();
    if let Some(path) = &args.recipient_file {
        let text = files::read(path)?;
        let text = String::from_utf8(text).map_err(|_| {
            Error::Usage(format!(
                "--recipient-file {} is not UTF-8 text",
                path.display()
            ))
        })?;
        values.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if values.is_empty() {
        return Err(Error::Usage(
            "no recipient given; pass --recipient age1... or a non-empty --recipient-file"
                .to_owned(),
        ));
    }
    values
        .iter()
        .map(|value| {
            agefile::parse_recipient(value)
                .map_err(|error| Error::Usage(format!("--recipient: {error}")))
        })
        .collect()
}

/// Checks an archive, and restores it when `--data-dir` is given.
pub fn restore(args: &RestoreArgs) -> Result<(), Error> {
    let target = args.data_dir.as_ref().map(DataDir::new);
    if let Some(target) = &target {
        // Fail early, before decrypting, and again right before writing.
        backup::check_restore_target(target)?;
    }
    files::check_private(&args.identity)?;
    let identity_text = Zeroizing::new(files::read(&args.identity)?);
    let identity_text = std::str::from_utf8(&identity_text).map_err(|_| {
        Error::Usage(format!(
            "--identity {} is not UTF-8 text",
            args.identity.display()
        ))
    })?;
    let identity = agefile::parse_identity(identity_text, &args.identity.display().to_string())
        .map_err(|error| Error::Usage(format!("--identity: {error}")))?;
    let ciphertext = files::read(&args.archive)?;
    let plaintext =
        agefile::decrypt_with_identity(&ciphertext, &identity, &args.archive.display().to_string())
            .map_err(|error| Error::BackupInvalid {
                path: args.archive.clone(),
                reason: error.to_string(),
            })?;
    let archive = Archive::parse(&plaintext, &args.archive)?;
    let report = backup::check(&archive, &args.archive, &args.root_fingerprint)?;
    println!(
        "backup {} is valid: files {}, certificates {}, intermediates with matching keys {}, audit rows verified {}",
        args.archive.display(),
        report.members,
        report.certificates,
        report.intermediates,
        report.audit_rows
    );
    println!("  root:    SHA-256 {}", args.root_fingerprint);
    println!(
        "  created: {} (restoring an older archive rolls the issuer back to that time)",
        time::OffsetDateTime::from_unix_timestamp(archive.manifest.created_at)
            .ok()
            .and_then(|at| at
                .format(&time::format_description::well_known::Rfc3339)
                .ok())
            .unwrap_or_else(|| archive.manifest.created_at.to_string())
    );
    let Some(target) = target else {
        return Ok(());
    };
    backup::restore(&archive, &target)?;
    tracing::info!(
        target: "ironroot::audit",
        archive = %args.archive.display(),
        data_dir = %target.root().display(),
        "backup restored"
    );
    println!("restored into {}", target.root().display());
    Ok(())
}
