//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Migration N (1-based) brings the database from version N-1 to N. Each runs
//! in its own transaction together with the version bump, so a crash leaves
//! the database at a whole version. Never edit a released migration; append one.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StorageError;

/// The migrations, oldest first. Timestamps are unix seconds.
const MIGRATIONS: &[&str] = &[
    // 1: CAs, issued certificates, bootstrap tokens and admin credentials.
    r#"
    CREATE TABLE cas (
        id          INTEGER PRIMARY KEY,
        sha256      TEXT    NOT NULL UNIQUE,
        subject     TEXT    NOT NULL,
        not_before  INTEGER NOT NULL,
        not_after   INTEGER NOT NULL,
        cert_der    BLOB    NOT NULL,
        root_der    BLOB    NOT NULL,
        key_path    TEXT    NOT NULL,
        active      INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
        imported_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX cas_one_active ON cas (active) WHERE active = 1;

    CREATE TABLE certificates (
        serial     TEXT    PRIMARY KEY,
        ca_id      INTEGER NOT NULL REFERENCES cas (id),
        subject    TEXT    NOT NULL,
        names      TEXT    NOT NULL,
        not_before INTEGER NOT NULL,
        not_after  INTEGER NOT NULL,
        cert_der   BLOB    NOT NULL,
        sha256     TEXT    NOT NULL UNIQUE,
        kind       TEXT    NOT NULL CHECK (kind IN ('leaf', 'server', 'admin')),
        token_id   TEXT,
        request_id TEXT,
        issued_at  INTEGER NOT NULL
    );
    CREATE INDEX certificates_not_after ON certificates (not_after);

    CREATE TABLE tokens (
        token_hash     TEXT    PRIMARY KEY,
        token_id       TEXT    NOT NULL,
        names          TEXT    NOT NULL,
        created_at     INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL,
        created_by     TEXT    NOT NULL,
        used_at        INTEGER,
        used_by_serial TEXT
    );
    CREATE INDEX tokens_expires_at ON tokens (expires_at);

    CREATE TABLE admin_credentials (
        sha256     TEXT    PRIMARY KEY,
        name       TEXT    NOT NULL,
        serial     TEXT    NOT NULL REFERENCES certificates (serial),
        not_after  INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    "#,
    // 2: the tamper-evident audit log.
    include_str!("migrations/0002_audit.sql"),
    // 3: revocations, CRL numbering and several intermediates.
    include_str!("migrations/0003_revocation.sql"),
    // 4: policy profiles and renewal lineage.
    include_str!("migrations/0004_policy.sql"),
];

/// Returns the schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies every migration the database has not seen yet. A database written
/// by a newer build is rejected rather than guessed at.
pub fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StorageError> {
    let found: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let supported = current_version();
    if found > supported {
        return Err(StorageError::NewerSchema {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated between the read above and this lock.
        let now: i64 = transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if now >= version {
            continue;
        }
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", version)?;
        transaction.commit()?;
        tracing::debug!(version, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.db");
        let mut connection = Connection::open(&path).unwrap();
        migrate(&mut connection, &path).unwrap();
        migrate(&mut connection, &path).unwrap();
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, current_version());
    }

    #[test]
    fn migrate_rejects_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.db");
        let mut connection = Connection::open(&path).unwrap();
        connection
            .pragma_update(None, "user_version", current_version() + 1)
            .unwrap();
        let error = migrate(&mut connection, &path).unwrap_err();
        assert!(matches!(error, StorageError::NewerSchema { .. }), "{error}");
        assert!(error.to_string().contains("newer"), "{error}");
    }
}
