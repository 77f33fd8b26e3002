-- Migration 3: revocation, CRL state and intermediate rotation.

-- One row per revoked certificate. `reason` is the RFC 5280 CRLReason code.
CREATE TABLE revocations (
    serial     TEXT    PRIMARY KEY REFERENCES certificates (serial),
    revoked_at INTEGER NOT NULL,
    reason     INTEGER NOT NULL,
    request_id TEXT
);

-- The newest CRL of each intermediate. `crl_number` only grows, so a
-- restarted daemon continues after the last number it published.
CREATE TABLE crls (
    ca_id       INTEGER PRIMARY KEY REFERENCES cas (id),
    crl_number  INTEGER NOT NULL,
    this_update INTEGER NOT NULL,
    next_update INTEGER NOT NULL,
    der         BLOB    NOT NULL
);

CREATE INDEX certificates_ca_id ON certificates (ca_id);
