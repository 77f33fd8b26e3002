//! The data directory: where the host identity, the intermediate keys and the
//! database live, and the permission checks on them.
//!
//! ```text
//! DIR/                      0700
//!   host.identity           0600  age X25519 identity that opens bundles
//!   host.recipient          0644  the matching age1... recipient
//!   issuer.db               0600  SQLite database (plus -wal and -shm files)
//!   issuer.toml             optional configuration
//!   intermediates/          0700
//!     <sha256>.key.pem      0600  PKCS#8 key of an imported intermediate
//! ```

use std::path::{Path, PathBuf};

use ironroot_core::agefile;
use ironroot_core::files;
use zeroize::Zeroizing;

use crate::error::Error;

/// Paths inside a data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Wraps `root` without touching the file system.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Returns the directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Returns the path of the age identity.
    pub fn identity_path(&self) -> PathBuf {
        self.root.join("host.identity")
    }

    /// Returns the path of the age recipient.
    pub fn recipient_path(&self) -> PathBuf {
        self.root.join("host.recipient")
    }

    /// Returns the path of the SQLite database.
    pub fn database_path(&self) -> PathBuf {
        self.root.join("issuer.db")
    }

    /// Returns the path of the lock file that `serve` holds.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("issuer.lock")
    }

    /// Takes the exclusive lock on the data directory, so a second daemon
    /// (or an offline command that writes) on the same directory fails
    /// instead of writing the same database. The lock lasts as long as the
    /// returned file is open; the operating system drops it when the process ends.
    pub fn lock(&self) -> Result<std::fs::File, Error> {
        let path = self.lock_path();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| Error::Io {
                what: "opening the lock file",
                path: path.clone(),
                reason: error.to_string(),
            })?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::DataDirLocked {
                path: self.root.clone(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(error)) => Err(Error::Io {
                what: "locking",
                path,
                reason: error.to_string(),
            }),
        }
    }

    /// Returns the directory of intermediate keys.
    pub fn intermediates_dir(&self) -> PathBuf {
        self.root.join("intermediates")
    }

    /// Returns the key path of the intermediate whose certificate has SHA-256 `sha256_hex`.
    pub fn intermediate_key_path(&self, sha256_hex: &str) -> PathBuf {
        self.intermediates_dir()
            .join(format!("{sha256_hex}.key.pem"))
    }

    /// Fails unless `init` has run: the identity file must exist.
    pub fn require_initialised(&self) -> Result<(), Error> {
        let identity = self.identity_path();
        if identity.exists() {
            Ok(())
        } else {
            Err(Error::NotInitialised {
                path: self.root.clone(),
                missing: identity,
            })
        }
    }

    /// Reads the host identity after checking that only the owner can read it.
    pub fn load_identity(&self) -> Result<age::x25519::Identity, Error> {
        self.require_initialised()?;
        let path = self.identity_path();
        files::check_private(&path)?;
        let bytes = Zeroizing::new(files::read(&path)?);
        let text = std::str::from_utf8(&bytes).map_err(|_| Error::Io {
            what: "reading the host identity",
            path: path.clone(),
            reason: "the file is not UTF-8 text".to_owned(),
        })?;
        agefile::parse_identity(text, &path.display().to_string()).map_err(|error| Error::Io {
            what: "reading the host identity",
            path,
            reason: error.to_string(),
        })
    }

    /// Returns the recipient matching the host identity.
    pub fn recipient(&self) -> Result<String, Error> {
        Ok(self.load_identity()?.to_public().to_string())
    }

    /// Checks the files `serve` depends on: the identity, the database and the
    /// active intermediate's key must be private to the daemon's user.
    pub fn check_private_files(&self, intermediate_key: &Path) -> Result<(), Error> {
        self.require_initialised()?;
        files::check_private(&self.identity_path())?;
        files::check_private(&self.database_path())?;
        files::check_private(intermediate_key)?;
        Ok(())
    }
}
