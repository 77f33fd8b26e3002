//! The issuer's SQLite database: schema, the single writer thread and read-only
//! connections for lookups.
//!
//! Only one read-write connection exists while the daemon runs; it belongs to
//! the [`writer`] thread, which batches commits. Request handlers read through
//! a [`ReadPool`] of read-only connections, which WAL mode lets run beside the writer.

pub mod admin_queries;
pub mod lineage;
pub mod queries;
pub mod schema;
pub mod writer;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a connection waits for a lock held by another process (a backup
/// or an operator's `sqlite3` shell) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Failures of the database layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("failed to create database file {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than version {supported} that this build understands; run the newer ironroot-issuer or restore a backup"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("database query failed: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("database row is invalid: {0}")]
    InvalidRow(String),
    #[error("the database writer has stopped")]
    WriterStopped,
}

/// Opens the read-write connection, creating the file with mode 0600 if it
/// does not exist, and applies the schema migrations.
pub fn open_read_write(path: &Path) -> Result<Connection, StorageError> {
    create_private_file(path)?;
    let open_error = |source| StorageError::Open {
        path: path.to_owned(),
        source,
    };
    let mut connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_error)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    // WAL lets readers run beside the writer; FULL syncs the WAL on every
    // commit, so a certificate that was returned survives a power loss.
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(open_error)?;
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(open_error)?;
    connection
        .pragma_update(None, "foreign_keys", "ON")
        .map_err(open_error)?;
    schema::migrate(&mut connection, path)?;
    Ok(connection)
}

/// Opens a read-only connection to an existing, migrated database.
pub fn open_read_only(path: &Path) -> Result<Connection, StorageError> {
    let open_error = |source| StorageError::Open {
        path: path.to_owned(),
        source,
    };
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_error)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    Ok(connection)
}

/// Creates the database file with mode 0600 if it is missing. SQLite itself
/// would create it 0644 (less the umask), and its WAL files copy that mode.
fn create_private_file(path: &Path) -> Result<(), StorageError> {
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(ironroot_core::files::PRIVATE_FILE)
        .open(path);
    match result {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StorageError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

/// A pool of read-only connections. A connection is taken out for one
/// synchronous lookup and put back afterwards, so no lock is held while a
/// query runs, and never across an await.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl ReadPool {
    /// Creates a pool that keeps at most `max_idle` idle connections.
    pub fn new(path: &Path, max_idle: usize) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// Runs `query` on an idle connection, opening one if none is idle.
    pub fn with<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let connection = match self.take_idle() {
            Some(connection) => connection,
            None => open_read_only(&self.path)?,
        };
        let result = query(&connection);
        self.put_back(connection);
        result
    }

    fn take_idle(&self) -> Option<Connection> {
        // A poisoned lock only means another thread panicked while pushing or
        // popping; the vector itself is still consistent.
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        idle.pop()
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if idle.len() < self.max_idle {
            idle.push(connection);
        }
    }
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadPool({})", self.path.display())
    }
}
