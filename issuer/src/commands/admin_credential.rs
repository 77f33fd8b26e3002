//! `ironroot-issuer admin-credential`: mints an operator's client certificate
//! (URI SAN `urn:ironroot:admin:NAME`, EKU clientAuth) and registers it as an
//! admin credential.

use ironroot_core::duration::format_time;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use ironroot_core::files::{self, PRIVATE_FILE, PUBLIC_FILE};
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::pemfile;
use rusqlite::TransactionBehavior;
use time::OffsetDateTime;

use crate::audit::{self, AuditEvent, CLI_ACTOR};
use crate::authority::{ActiveCa, issue};
use crate::cli::AdminCredentialArgs;
use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage::{self, StorageError, queries};

/// Maximum length of an operator name.
const MAX_NAME_LEN: usize = 64;

/// Mints the credential described by `args`.
pub fn run(args: &AdminCredentialArgs) -> Result<(), Error> {
    check_name(&args.name)?;
    let lifetime = ironroot_core::duration::parse(&args.validity)
        .map_err(|reason| Error::Usage(format!("--validity: {reason}")))?;
    let outputs = Outputs::new(args.out_dir.clone());
    outputs.check_absent()?;

    let data_dir = DataDir::new(&args.data.data_dir);
    data_dir.require_initialised()?;
    let mut connection = storage::open_read_write(&data_dir.database_path())?;
    let now = OffsetDateTime::now_utc();
    let ca = ActiveCa::load(&data_dir, &connection, now)?;
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
    let validity = issue::clamp_validity(ca.certificate(), now, lifetime)?;
    let issued = issue::sign_admin(&ca, &args.name, &key, validity, now)?;
    let record = issued.record;
    let chain = pemfile::encode_certificates([record.cert_der.as_slice(), &ca.certificate().der]);
    let key_pem = key.to_pkcs8_pem();
    let contents: [(PathBuf, &[u8], u32); 3] = [
        (outputs.key(), key_pem.as_bytes(), PRIVATE_FILE),
        (outputs.certificate(), chain.as_bytes(), PUBLIC_FILE),
        (outputs.root(), ca.root_pem.as_bytes(), PUBLIC_FILE),
    ];
    store(&mut connection, &args.name, &record, || {
        outputs.write(&contents)
    })?;

    tracing::info!(
        target: "ironroot::audit",
        admin = %args.name,
        serial = %record.serial,
        sha256 = %record.sha256,
        not_after = %format_time(validity.not_after),
        "admin credential created"
    );
    println!("admin credential `{}` created", args.name);
    println!("  certificate: {}", outputs.certificate().display());
    println!("  key:         {}", outputs.key().display());
    println!("  root:        {}", outputs.root().display());
    println!("  serial:      {}", record.serial);
    println!("  valid until: {}", format_time(validity.not_after));
    Ok(())
}

fn check_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--name `{name}` must be 1 to {MAX_NAME_LEN} characters from a-z, 0-9, `.`, `_` and `-`"
        )))
    }
}

/// Registers the credential and calls `write_files` inside one transaction,
/// so the credential exists exactly when its files do: a failed write rolls
/// the transaction back, and a failed COMMIT removes the written files.
fn store(
    connection: &mut rusqlite::Connection,
    name: &str,
    record: &queries::CertificateRecord,
    write_files: impl FnOnce() -> Result<Written, Error>,
) -> Result<(), Error> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StorageError::from)?;
    insert(&transaction, name, record)?;
    // Dropping the transaction on an error rolls it back.
    let written = write_files()?;
    if let Err(error) = transaction.commit() {
        written.remove();
        return Err(StorageError::from(error).into());
    }
    Ok(())
}

fn insert(
    transaction: &rusqlite::Transaction<'_>,
    name: &str,
    record: &queries::CertificateRecord,
) -> Result<(), StorageError> {
    queries::insert_certificate(transaction, record)?;
    queries::insert_admin_credential(
        transaction,
        &queries::AdminCredentialRecord {
            sha256: record.sha256.clone(),
            name: name.to_owned(),
            serial: record.serial.clone(),
            not_after: record.not_after,
            created_at: record.issued_at,
        },
    )?;
    let event = AuditEvent::new(
        "admin_credential",
        CLI_ACTOR,
        None,
        serde_json::json!({
            "name": name,
            "serial": record.serial,
            "sha256": record.sha256,
            "not_after": record.not_after,
        }),
    );
    audit::append_cli(transaction, &event)?;
    Ok(())
}

struct Outputs {
    dir: PathBuf,
}

impl Outputs {
    fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn certificate(&self) -> PathBuf {
        self.dir.join("admin.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("admin.key")
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root.pem")
    }

    /// Fails before anything is signed if an output already exists. A
    /// symbolic link counts as existing even when its target does not.
    fn check_absent(&self) -> Result<(), Error> {
        for path in [self.certificate(), self.key(), self.root()] {
            match std::fs::symlink_metadata(&path) {
                Ok(_) => return Err(ironroot_core::Error::AlreadyExists { path }.into()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(Error::Io {
                        what: "checking the output path",
                        path,
                        reason: error.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Creates the directory if needed and writes each `(path, bytes, mode)`
    /// as a new file. On a failure it removes the files it wrote.
    fn write(&self, contents: &[(PathBuf, &[u8], u32)]) -> Result<Written, Error> {
        // A new directory is private because it contains the operator's key.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|error| Error::Io {
                what: "creating the output directory",
                path: self.dir.clone(),
                reason: error.to_string(),
            })?;
        let mut written = Written(Vec::new());
        for (path, bytes, mode) in contents {
            if let Err(error) = files::write_new(path, bytes, *mode) {
                written.remove();
                return Err(error.into());
            }
            written.0.push(path.clone());
        }
        Ok(written)
    }
}

/// Files this command created, removed again when the credential is not
/// registered.
struct Written(Vec<PathBuf>);

impl Written {
    fn remove(&self) {
        for path in &self.0 {
            if let Err(error) = std::fs::remove_file(path) {
                tracing::warn!(path = %path.display(), %error, "failed to remove an output file of the failed command; delete it by hand");
            }
        }
    }
}
