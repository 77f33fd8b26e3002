//! Backup archives: a consistent database snapshot and the data directory's
//! files, with a manifest of SHA-256 hashes, encrypted with age.
//!
//! Plaintext layout (`docs/backup.md` is the reference):
//!
//! ```text
//! IRONROOT-BACKUP 1\n
//! <manifest length in bytes, decimal>\n
//! <manifest JSON>
//! <member 1 bytes><member 2 bytes>...   in manifest order, no separators
//! ```

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ironroot_core::Fingerprint;
use ironroot_core::cert::Authority;
use ironroot_core::files::{self, PRIVATE_DIR, PRIVATE_FILE};
use ironroot_core::keys::PrivateKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit;
use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage;

/// First line of every archive.
const MAGIC: &[u8] = b"IRONROOT-BACKUP 1\n";
/// Name of the database member.
pub const DATABASE_MEMBER: &str = "issuer.db";
/// Files of the data directory that are never archived: the live database
/// (it is snapshotted instead), its journal files and the daemon's lock.
const SKIPPED: &[&str] = &["issuer.db", "issuer.db-wal", "issuer.db-shm", "issuer.lock"];

/// The archive's table of contents.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `ironroot-backup`.
    pub format: String,
    /// Format version, 1.
    pub version: u32,
    /// When the snapshot was taken, unix seconds.
    pub created_at: i64,
    /// Audit chain head in the snapshot.
    pub audit_head_seq: i64,
    /// Hash of that head row.
    pub audit_head_hash: String,
    /// The members, in the order their bytes follow the manifest.
    pub members: Vec<Member>,
}

/// One archived file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Member {
    /// Path relative to the data directory, `/`-separated.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Unix permission bits to restore.
    pub mode: u32,
}

/// A decrypted archive: the manifest and each member's bytes.
pub struct Archive {
    /// The manifest.
    pub manifest: Manifest,
    members: Vec<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    ironroot_core::fingerprint::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

fn invalid(path: &Path, reason: impl Into<String>) -> Error {
    Error::BackupInvalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io_error(what: &'static str, path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Io {
        what,
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

/// Takes a consistent snapshot of the live database with SQLite's online
/// backup API (safe while the daemon writes) and collects the other files.
/// Returns the plaintext archive.
pub fn create(data_dir: &DataDir, config: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, Error> {
    let snapshot_dir = tempfile::Builder::new()
        .prefix("ironroot-backup")
        .tempdir()
        .map_err(|error| io_error("creating a temporary directory", Path::new("/tmp"), error))?;
    let snapshot = snapshot_dir.path().join(DATABASE_MEMBER);
    snapshot_database(&data_dir.database_path(), &snapshot)?;
    let database = Zeroizing::new(files::read(&snapshot)?);
    let connection = storage::open_read_only(&snapshot)?;
    let verification = audit::verify(&connection)?;
    drop(connection);

    let mut members = vec![(DATABASE_MEMBER.to_owned(), PRIVATE_FILE, database)];
    collect_files(data_dir.root(), data_dir.root(), &mut members)?;
    if let Some(config) = config
        && !members.iter().any(|(name, _, _)| name == "issuer.toml")
    {
        let bytes = Zeroizing::new(files::read(config)?);
        members.push(("issuer.toml".to_owned(), PRIVATE_FILE, bytes));
    }
    let manifest = Manifest {
        format: "ironroot-backup".to_owned(),
        version: 1,
        created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
        audit_head_seq: verification.head_seq,
        audit_head_hash: verification.head_hash,
        members: members
            .iter()
            .map(|(name, mode, bytes)| Member {
                name: name.clone(),
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
                mode: *mode,
            })
            .collect(),
    };
    let manifest_json = serde_json::to_vec(&manifest).map_err(|error| {
        Error::Issue(format!("the backup manifest does not serialise: {error}"))
    })?;
    let total: usize = members.iter().map(|(_, _, bytes)| bytes.len()).sum();
    let mut plaintext = Zeroizing::new(Vec::with_capacity(total + manifest_json.len() + 64));
    plaintext.extend_from_slice(MAGIC);
    plaintext.extend_from_slice(format!("{}\n", manifest_json.len()).as_bytes());
    plaintext.extend_from_slice(&manifest_json);
    for (_, _, bytes) in &members {
        plaintext.extend_from_slice(bytes);
    }
    Ok(plaintext)
}

/// Copies the database page by page with the online backup API. Other
/// connections may keep writing; the copy restarts on their commits and ends
/// as one consistent state.
fn snapshot_database(source: &Path, target: &Path) -> Result<(), Error> {
    let from = storage::open_read_only(source)?;
    let mut to = rusqlite::Connection::open(target)
        .map_err(|error| io_error("creating the snapshot", target, error))?;
    let backup = rusqlite::backup::Backup::new(&from, &mut to)
        .map_err(|error| io_error("starting the online backup of", source, error))?;
    backup
        .run_to_completion(256, std::time::Duration::from_millis(5), None)
        .map_err(|error| io_error("copying the database", source, error))?;
    drop(backup);
    // The snapshot is a single file without a WAL, so the archive member
    // opens on its own.
    to.pragma_update(None, "journal_mode", "DELETE")
        .map_err(|error| io_error("finishing the snapshot", target, error))?;
    Ok(())
}

fn collect_files(
    root: &Path,
    dir: &Path,
    members: &mut Vec<(String, u32, Zeroizing<Vec<u8>>)>,
) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|error| io_error("reading", dir, error))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .map_err(|error| io_error("reading", dir, error))?;
    paths.sort();
    for path in paths {
        let metadata =
            std::fs::symlink_metadata(&path).map_err(|error| io_error("reading", &path, error))?;
        let relative = path
            .strip_prefix(root)
            .map_err(|error| io_error("reading", &path, error))?;
        let name = relative.to_string_lossy().into_owned();
        if metadata.is_dir() {
            collect_files(root, &path, members)?;
        } else if metadata.is_file() && !SKIPPED.contains(&name.as_str()) {
            let bytes = Zeroizing::new(files::read(&path)?);
            members.push((name, metadata.permissions().mode() & 0o777, bytes));
        }
    }
    Ok(())
}

impl Archive {
    /// Parses a decrypted archive and checks every member's size and hash.
    pub fn parse(plaintext: &[u8], path: &Path) -> Result<Self, Error> {
        let rest = plaintext
            .strip_prefix(MAGIC)
            .ok_or_else(|| invalid(path, "it does not start with `IRONROOT-BACKUP 1`"))?;
        let newline = rest
            .iter()
            .position(|byte| *byte == b'\n')
            .ok_or_else(|| invalid(path, "the manifest length line is missing"))?;
        let length: usize = std::str::from_utf8(&rest[..newline])
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| invalid(path, "the manifest length is not a number"))?;
        let rest = &rest[newline + 1..];
        let manifest_bytes = rest
            .get(..length)
            .ok_or_else(|| invalid(path, "the archive ends inside the manifest"))?;
        let manifest: Manifest = serde_json::from_slice(manifest_bytes)
            .map_err(|error| invalid(path, format!("the manifest is not valid JSON: {error}")))?;
        if manifest.format != "ironroot-backup" || manifest.version != 1 {
            return Err(invalid(
                path,
                format!(
                    "unsupported format `{}` version {}",
                    manifest.format, manifest.version
                ),
            ));
        }
        let mut offset = length;
        let mut members = Vec::with_capacity(manifest.members.len());
        let mut names = BTreeSet::new();
        for member in &manifest.members {
            check_member_name(&member.name).map_err(|reason| invalid(path, reason))?;
            if !names.insert(member.name.as_str()) {
                return Err(invalid(
                    path,
                    format!("member `{}` appears twice", member.name),
                ));
            }
            let end = usize::try_from(member.size)
                .ok()
                .and_then(|size| offset.checked_add(size))
                .filter(|end| *end <= rest.len())
                .ok_or_else(|| {
                    invalid(
                        path,
                        format!("the archive ends inside member `{}`", member.name),
                    )
                })?;
            let bytes = &rest[offset..end];
            let actual = sha256_hex(bytes);
            if actual != member.sha256 {
                return Err(invalid(
                    path,
                    format!(
                        "member `{}` has SHA-256 {actual}, but the manifest lists {}",
                        member.name, member.sha256
                    ),
                ));
            }
            members.push(Zeroizing::new(bytes.to_vec()));
            offset = end;
        }
        if offset != rest.len() {
            return Err(invalid(
                path,
                format!("{} bytes follow the last member", rest.len() - offset),
            ));
        }
        if !names.contains(DATABASE_MEMBER) {
            return Err(invalid(path, "the archive holds no issuer.db"));
        }
        Ok(Self { manifest, members })
    }

    /// Returns the bytes of member `name`.
    pub fn member(&self, name: &str) -> Option<&[u8]> {
        self.manifest
            .members
            .iter()
            .position(|member| member.name == name)
            .map(|index| self.members[index].as_slice())
    }

    /// Writes every member below `dir` with its recorded mode, directories 0700.
    pub fn write_to(&self, dir: &Path) -> Result<(), Error> {
        for (member, bytes) in self.manifest.members.iter().zip(&self.members) {
            let path = dir.join(&member.name);
            if let Some(parent) = path.parent()
                && !parent.exists()
            {
                files::create_private_dir(parent)?;
            }
            // A member never gets wider permissions than its owner had, and
            // secrets stay private.
            files::write_new(&path, bytes, member.mode & 0o755)?;
        }
        Ok(())
    }
}

fn check_member_name(name: &str) -> Result<(), String> {
    // SQLite replays a journal or WAL file beside the database when it opens it,
    // so such a member would change the database after it was checked.
    if ["-wal", "-shm", "-journal"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
    {
        return Err(format!(
            "member `{name}` is an SQLite journal file; a backup holds only the consistent snapshot `{DATABASE_MEMBER}`"
        ));
    }
    let path = Path::new(name);
    let safe = !name.is_empty()
        && path.is_relative()
        && path
            .components()
            .all(|component| matches!(component, std::path::Component::Normal(_)));
    if safe {
        Ok(())
    } else {
        Err(format!(
            "member name `{name}` is not a plain relative path inside the data directory"
        ))
    }
}

/// Summary of a backup archive that passed [`check`].
#[derive(Debug)]
pub struct CheckReport {
    /// Number of archived files.
    pub members: usize,
    /// Certificates in the database.
    pub certificates: i64,
    /// Audit rows that verified.
    pub audit_rows: u64,
    /// Intermediates whose keys matched.
    pub intermediates: usize,
}

/// Checks an archive without touching any data directory: opens the database
/// copy in a temporary directory, runs `PRAGMA integrity_check`, verifies the
/// audit chain and checks each intermediate key against its certificate.
pub fn check(
    archive: &Archive,
    path: &Path,
    expected_root: &Fingerprint,
) -> Result<CheckReport, Error> {
    let scratch = tempfile::Builder::new()
        .prefix("ironroot-restore-check")
        .tempdir()
        .map_err(|error| io_error("creating a temporary directory", Path::new("/tmp"), error))?;
    let database = scratch.path().join(DATABASE_MEMBER);
    let bytes = archive
        .member(DATABASE_MEMBER)
        .ok_or_else(|| invalid(path, "the archive holds no issuer.db"))?;
    files::write_new(&database, bytes, PRIVATE_FILE)?;
    let connection = storage::open_read_only(&database)?;
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(storage::StorageError::from)?;
    if integrity != "ok" {
        return Err(invalid(
            path,
            format!("the database fails PRAGMA integrity_check: {integrity}"),
        ));
    }
    let verification = audit::verify(&connection)?;
    if let Some(broken) = verification.broken {
        return Err(invalid(
            path,
            format!("the audit chain is broken: {}", broken.message),
        ));
    }
    if verification.head_seq != archive.manifest.audit_head_seq
        || verification.head_hash != archive.manifest.audit_head_hash
    {
        return Err(invalid(
            path,
            "the audit head in the database differs from the manifest",
        ));
    }
    let certificates: i64 = connection
        .query_row("SELECT COUNT(*) FROM certificates", [], |row| row.get(0))
        .map_err(storage::StorageError::from)?;
    let cas = crate::storage::queries::list_cas(&connection)?;
    if cas.is_empty() {
        return Err(invalid(
            path,
            "the archive holds no intermediate, so nothing ties it to your root",
        ));
    }
    for ca in &cas {
        let root = Fingerprint::of(&ca.root_der);
        if root != *expected_root {
            return Err(invalid(
                path,
                format!(
                    "intermediate `{}` chains to the root with SHA-256 {root}, not the expected {expected_root}; this archive comes from another CA, so do not restore it",
                    ca.subject
                ),
            ));
        }
    }
    for ca in &cas {
        let name = format!("intermediates/{}.key.pem", ca.sha256);
        let key_bytes = archive.member(&name).ok_or_else(|| {
            invalid(
                path,
                format!(
                    "the key of intermediate `{}` ({name}) is missing",
                    ca.subject
                ),
            )
        })?;
        let key_text = std::str::from_utf8(key_bytes)
            .map_err(|_| invalid(path, format!("{name} is not PEM text")))?;
        let key = PrivateKey::from_pkcs8_pem(key_text, &name)?;
        Authority::new(&ca.cert_der, key, &name).map_err(|error| {
            invalid(
                path,
                format!(
                    "{name} does not match intermediate `{}`: {error}",
                    ca.subject
                ),
            )
        })?;
    }
    for required in ["host.identity"] {
        if archive.member(required).is_none() {
            return Err(invalid(path, format!("the archive holds no {required}")));
        }
    }
    Ok(CheckReport {
        members: archive.manifest.members.len(),
        certificates,
        audit_rows: verification.rows,
        intermediates: cas.len(),
    })
}

/// Fails when `dir` is locked by a running daemon or holds any file.
pub fn check_restore_target(dir: &DataDir) -> Result<(), Error> {
    let root = dir.root();
    if !root.exists() {
        return Ok(());
    }
    let lock = dir.lock_path();
    if lock.exists() {
        // Taking the lock proves no daemon holds it; it is released at once.
        let _held = dir.lock()?;
    }
    let mut entries = std::fs::read_dir(root).map_err(|error| io_error("reading", root, error))?;
    if entries.next().is_some() {
        return Err(Error::RestoreTargetNotEmpty {
            path: root.to_owned(),
        });
    }
    Ok(())
}

/// Restores `archive` into `dir`, which must be missing or empty.
pub fn restore(archive: &Archive, dir: &DataDir) -> Result<(), Error> {
    check_restore_target(dir)?;
    let root = dir.root();
    if !root.exists() {
        std::fs::create_dir_all(root).map_err(|error| io_error("creating", root, error))?;
    }
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(PRIVATE_DIR))
        .map_err(|error| io_error("setting the mode of", root, error))?;
    archive.write_to(root)
}
