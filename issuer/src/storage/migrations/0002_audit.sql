-- Migration 2: the tamper-evident audit log and token revocation.
-- Each row stores the hash of the row before it; docs/audit.md describes the
-- hashed encoding. `details` is JSON text and never holds a secret.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    action     TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    request_id TEXT,
    details    TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);

-- An operator revoked the token before it was used; the sign path rejects it.
ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
