//! `ironroot-issuer import`: decrypts an intermediate bundle with the host
//! identity, checks it and stores the key and the CA record.
//!
//! Nothing is written unless every check passes. The key file is written
//! first, then the database row in a transaction; if the row fails, the key
//! file is removed again.

use ironroot_core::duration::format_time;
use std::path::Path;

use ironroot_core::Fingerprint;
use ironroot_core::agefile::AgeError;
use ironroot_core::bundle::{Bundle, BundleError};
use ironroot_core::cert::Authority;
use ironroot_core::files::{self, PRIVATE_FILE};
use rusqlite::TransactionBehavior;
use time::OffsetDateTime;

use crate::audit::{self, AuditEvent, CLI_ACTOR};
use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage::{self, StorageError, queries};

/// Imports the bundle at `bundle_path` into `data_dir`, accepting it only if
/// its root has the fingerprint `expected_root`.
pub fn run(
    data_dir: &DataDir,
    bundle_path: &Path,
    expected_root: &Fingerprint,
) -> Result<(), Error> {
    let identity = data_dir.load_identity()?;
    let ciphertext = files::read(bundle_path)?;
    let rejected = |reason: String| Error::BundleRejected {
        path: bundle_path.to_owned(),
        reason,
    };
    check_armor_complete(&ciphertext).map_err(rejected)?;
    let bundle = Bundle::open(&ciphertext, &identity).map_err(|error| match error {
        BundleError::Age(AgeError::NotForThisIdentity { .. }) => Error::BundleForAnotherHost {
            recipient: identity.to_public().to_string(),
        },
        other => rejected(other.to_string()),
    })?;
    let now = OffsetDateTime::now_utc();
    bundle
        .verify(now)
        .map_err(|error| rejected(error.to_string()))?;
    if bundle.root.fingerprint != *expected_root {
        return Err(rejected(format!(
            "its root `{}` has SHA-256 {}, not the expected {expected_root}; the bundle was made by another CA, so do not import it, and compare --root-fingerprint with the fingerprint the ceremony printed",
            bundle.root.subject, bundle.root.fingerprint
        )));
    }
    let Bundle {
        intermediate,
        root,
        key,
        ..
    } = bundle;
    // A bundle without a key answers a CSR from `ironroot-issuer csr`: its key
    // waits in the pending directory under the public key's SHA-256.
    let (key, pending_path) = match key {
        Some(key) => (key, None),
        None => {
            let path = data_dir.pending_key_path(
                &ironroot_core::Fingerprint::of(&intermediate.public_key_der).to_hex(),
            );
            (load_pending_key(&path).map_err(rejected)?, Some(path))
        }
    };
    let key_pem = key.to_pkcs8_pem();
    Authority::new(&intermediate.der, key, "bundled intermediate")
        .map_err(|error| rejected(error.to_string()))?;

    let sha256 = intermediate.fingerprint.to_hex();
    let mut connection = storage::open_read_write(&data_dir.database_path())?;
    if let Some(other_root) = queries::other_root(&connection, &root.der)? {
        return Err(rejected(format!(
            "this data directory already holds intermediates of the root with SHA-256 {}; an issuer serves one root, so import this bundle into a new data directory",
            Fingerprint::of(&other_root)
        )));
    }
    if let Some(existing) = queries::find_ca(&connection, &sha256)? {
        println!(
            "intermediate `{}` (SHA-256 {}) is already imported; nothing changed",
            existing.subject, intermediate.fingerprint
        );
        tracing::info!(ca.sha256 = %sha256, "intermediate already imported; nothing changed");
        return Ok(());
    }

    files::create_private_dir(&data_dir.intermediates_dir())?;
    let key_path = data_dir.intermediate_key_path(&sha256);
    files::write_new(&key_path, key_pem.as_bytes(), PRIVATE_FILE)?;
    let record = queries::CaRecord {
        id: 0,
        sha256: sha256.clone(),
        subject: intermediate.subject.clone(),
        not_before: intermediate.validity.not_before.unix_timestamp(),
        not_after: intermediate.validity.not_after.unix_timestamp(),
        cert_der: intermediate.der.clone(),
        root_der: root.der.clone(),
        key_path: Path::new("intermediates").join(format!("{sha256}.key.pem")),
        active: false,
        imported_at: now.unix_timestamp(),
    };
    let active = match insert(&mut connection, record) {
        Ok(active) => active,
        Err(error) => {
            if let Err(remove_error) = std::fs::remove_file(&key_path) {
                tracing::error!(path = %key_path.display(), error = %remove_error, "failed to remove the key file of a failed import; delete it by hand");
            }
            return Err(error.into());
        }
    };

    if let Some(path) = &pending_path
        && let Err(error) = std::fs::remove_file(path)
    {
        tracing::error!(path = %path.display(), error = %error, "failed to remove the pending key after the import; delete it by hand");
    }

    tracing::info!(
        target: "ironroot::audit",
        active,
        ca.subject = %intermediate.subject,
        ca.sha256 = %sha256,
        root.sha256 = %root.fingerprint.to_hex(),
        "intermediate imported"
    );
    println!("imported intermediate `{}`", intermediate.subject);
    println!("  SHA-256:    {}", intermediate.fingerprint);
    println!(
        "  valid:      {} to {}",
        format_time(intermediate.validity.not_before),
        format_time(intermediate.validity.not_after)
    );
    println!(
        "  root:       `{}` (SHA-256 {})",
        root.subject, root.fingerprint
    );
    if active {
        println!("  status:     active (serve signs with it)");
    } else {
        println!("  status:     inactive; another intermediate is active");
        println!(
            "  activate:   `ironroot-admin intermediates activate {sha256}` while the daemon runs,"
        );
        println!(
            "              or `ironroot-issuer activate --data-dir {} {sha256}` while it is stopped",
            data_dir.root().display()
        );
    }
    Ok(())
}

/// Loads the pending key for a bundle that carries none.
fn load_pending_key(path: &Path) -> Result<ironroot_core::keys::PrivateKey, String> {
    if !path.exists() {
        return Err(format!(
            "the bundle carries no intermediate private key and no pending key {} matches its certificate's public key; import the bundle on the host that ran `ironroot-issuer csr`, or ask for a bundle with the key",
            path.display()
        ));
    }
    files::check_private(path).map_err(|error| error.to_string())?;
    let pem = zeroize::Zeroizing::new(
        String::from_utf8(files::read(path).map_err(|error| error.to_string())?)
            .map_err(|_| format!("the pending key {} is not UTF-8 PEM", path.display()))?,
    );
    ironroot_core::keys::PrivateKey::from_pkcs8_pem(&pem, &path.display().to_string())
        .map_err(|error| error.to_string())
}

/// Detects an armored bundle cut short, which age reports only as invalid
/// armor. A binary age file is left to age's own truncation check.
fn check_armor_complete(ciphertext: &[u8]) -> Result<(), String> {
    const BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
    const END: &[u8] = b"-----END AGE ENCRYPTED FILE-----";
    let text = ciphertext.trim_ascii();
    if text.starts_with(BEGIN) && !text.ends_with(END) {
        return Err(format!(
            "the bundle is truncated: it has no `{}` line; copy the whole file again",
            String::from_utf8_lossy(END)
        ));
    }
    Ok(())
}

/// Inserts the CA, making it active when no CA is active yet. Returns whether it is active.
fn insert(
    connection: &mut rusqlite::Connection,
    mut record: queries::CaRecord,
) -> Result<bool, StorageError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    record.active = queries::active_ca(&transaction)?.is_none();
    queries::insert_ca(&transaction, &record)?;
    let event = AuditEvent::new(
        "import",
        CLI_ACTOR,
        None,
        serde_json::json!({
            "sha256": record.sha256,
            "subject": record.subject,
            "not_after": record.not_after,
            "active": record.active,
        }),
    );
    audit::append_cli(&transaction, &event)?;
    transaction.commit()?;
    Ok(record.active)
}
