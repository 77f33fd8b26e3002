//! `ironroot-issuer activate`: switch the active intermediate while the
//! daemon is stopped. The data-directory lock keeps it from running beside a
//! daemon, which would keep signing with the intermediate it loaded.

use rusqlite::TransactionBehavior;
use time::OffsetDateTime;

use crate::api::normalise_sha256;
use crate::audit::{self, AuditEvent, CLI_ACTOR};
use crate::authority::ActiveCa;
use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage::{self, queries};

/// Makes the intermediate with SHA-256 `sha256` the active one.
pub fn run(data_dir: &DataDir, sha256: &str) -> Result<(), Error> {
    data_dir.require_initialised()?;
    let _lock = data_dir.lock()?;
    let sha256 = normalise_sha256(sha256).ok_or_else(|| {
        Error::Usage(format!(
            "`{sha256}` is not a SHA-256 fingerprint (64 hex digits, colons allowed)"
        ))
    })?;
    let mut connection = storage::open_read_write(&data_dir.database_path())?;
    let record = queries::find_ca(&connection, &sha256)?.ok_or_else(|| {
        Error::Usage(format!(
            "no intermediate with SHA-256 {sha256} is imported in {}; run `ironroot-issuer import` with its bundle first",
            data_dir.root().display()
        ))
    })?;
    if record.active {
        println!(
            "intermediate `{}` (SHA-256 {sha256}) is already active; nothing changed",
            record.subject
        );
        return Ok(());
    }
    // Loading checks the key file, its permissions and the validity now.
    let ca = ActiveCa::load_record(data_dir, record, OffsetDateTime::now_utc())?;
    let previous = queries::active_ca(&connection)?.map(|previous| previous.sha256);
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(storage::StorageError::from)?;
    queries::set_active_ca(&transaction, ca.id)?;
    let event = AuditEvent::new(
        "activate",
        CLI_ACTOR,
        None,
        serde_json::json!({
            "sha256": sha256,
            "subject": ca.certificate().subject,
            "previous": previous,
        }),
    );
    audit::append_cli(&transaction, &event)?;
    transaction.commit().map_err(storage::StorageError::from)?;
    let subject = &ca.certificate().subject;
    tracing::info!(target: "ironroot::audit", activated = true, ca.sha256 = %sha256, ca.subject = %subject, "intermediate activated");
    println!(
        "activated intermediate `{subject}` (SHA-256 {sha256}); `serve` signs with it from its next start"
    );
    Ok(())
}
