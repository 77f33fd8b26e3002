//! File helpers: exclusive and atomic writes with explicit modes, and checks that
//! secret files are private to their owner.
//!
//! Every write goes to a temporary file in the target directory first, is synced,
//! and only then appears under its final name, so a crash never leaves a
//! half-written certificate or key behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::Error;

/// Mode of private keys, identities, tokens and databases.
pub const PRIVATE_FILE: u32 = 0o600;
/// Mode of certificates and other public files.
pub const PUBLIC_FILE: u32 = 0o644;
/// Mode of directories that hold secrets.
pub const PRIVATE_DIR: u32 = 0o700;

/// Reads a whole file, naming the path on error.
pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes `bytes` to a new file at `path` with `mode`. An existing file is an
/// error and is left untouched.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let temporary = write_temporary(path, bytes, mode)?;
    // A hard link fails if `path` exists, which makes the exclusive create atomic.
    let linked = fs::hard_link(&temporary, path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => sync_parent(path),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::AlreadyExists {
                path: path.to_owned(),
            })
        }
        Err(source) => Err(Error::Write {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `bytes` to `path` with `mode`, atomically replacing any existing file.
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let temporary = write_temporary(path, bytes, mode)?;
    fs::rename(&temporary, path).map_err(|source| {
        let _ = fs::remove_file(&temporary);
        Error::Write {
            path: path.to_owned(),
            source,
        }
    })?;
    sync_parent(path)
}

/// Fails unless `path` exists with no permission bits for group or others.
pub fn check_private(path: &Path) -> Result<(), Error> {
    let metadata = fs::metadata(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = metadata.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::PermissionsTooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Creates `path` (and missing parents) with mode 0700, or checks that an
/// existing directory is private.
pub fn create_private_dir(path: &Path) -> Result<(), Error> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(path)
    {
        Ok(()) => {
            // `recursive` leaves an existing directory's mode alone, so check it.
            check_private(path)
        }
        Err(source) => Err(Error::Write {
            path: path.to_owned(),
            source,
        }),
    }
}

fn write_temporary(path: &Path, bytes: &[u8], mode: u32) -> Result<PathBuf, Error> {
    let temporary = temporary_path(path)?;
    let write_error = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let result = (|| {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        // The process umask may have cleared bits of `mode`; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&temporary);
        return Err(write_error(source));
    }
    Ok(temporary)
}

fn temporary_path(path: &Path) -> Result<PathBuf, Error> {
    let name = path.file_name().ok_or_else(|| Error::Write {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name"),
    })?;
    let mut random = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| Error::Random)?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".{}.tmp", crate::fingerprint::hex(&random)));
    Ok(path.with_file_name(temporary_name))
}

fn sync_parent(path: &Path) -> Result<(), Error> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| Error::Write {
            path: parent.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_refuses_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_new(&path, b"first", PRIVATE_FILE).unwrap();
        let error = write_new(&path, b"second", PRIVATE_FILE).unwrap_err();
        assert!(matches!(error, Error::AlreadyExists { .. }), "{error}");
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_sets_exact_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_replace(&path, b"secret", PRIVATE_FILE).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        check_private(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            check_private(&path),
            Err(Error::PermissionsTooOpen { mode: 0o640, .. })
        ));
    }
}
