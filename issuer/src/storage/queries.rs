//! Rows of the issuer's tables and the statements that read and write them.
//! Every function takes a plain connection, so the same code runs inside the
//! writer's savepoints, in command-line transactions and on read-only connections.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StorageError;

/// A CA certificate imported from a bundle.
#[derive(Clone, Debug)]
pub struct CaRecord {
    /// Row id, referenced by `certificates.ca_id`.
    pub id: i64,
    /// SHA-256 of the certificate DER, lower-case hex.
    pub sha256: String,
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// notBefore, unix seconds.
    pub not_before: i64,
    /// notAfter, unix seconds.
    pub not_after: i64,
    /// The intermediate certificate DER.
    pub cert_der: Vec<u8>,
    /// The root certificate DER from the same bundle.
    pub root_der: Vec<u8>,
    /// Path of the PKCS#8 PEM key file.
    pub key_path: PathBuf,
    /// Whether the daemon signs with this CA.
    pub active: bool,
    /// When the CA was imported, unix seconds.
    pub imported_at: i64,
}

/// The kind of an issued certificate, stored in `certificates.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateKind {
    /// A workload certificate signed for a CSR.
    Leaf,
    /// The daemon's own TLS server certificate.
    Server,
    /// An operator's admin client certificate.
    Admin,
}

impl CertificateKind {
    /// Returns the value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leaf => "leaf",
            Self::Server => "server",
            Self::Admin => "admin",
        }
    }
}

/// An issued certificate.
#[derive(Clone, Debug)]
pub struct CertificateRecord {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Issuing CA, `cas.id`.
    pub ca_id: i64,
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// Subject alternative names, in the certificate's order.
    pub names: Vec<String>,
    /// notBefore, unix seconds.
    pub not_before: i64,
    /// notAfter, unix seconds.
    pub not_after: i64,
    /// The certificate DER.
    pub cert_der: Vec<u8>,
    /// SHA-256 of the DER, lower-case hex.
    pub sha256: String,
    /// What the certificate is for.
    pub kind: CertificateKind,
    /// Public id of the bootstrap token that authorised it, if any.
    pub token_id: Option<String>,
    /// Id of the HTTP request that issued it, if any.
    pub request_id: Option<String>,
    /// When it was issued, unix seconds.
    pub issued_at: i64,
}

/// A bootstrap token. Only the SHA-256 of the token is stored.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    /// SHA-256 of the token text, lower-case hex.
    pub token_hash: String,
    /// Public id, `tok_` and the first 16 hex digits of the hash.
    pub token_id: String,
    /// Name patterns the token allows.
    pub names: Vec<String>,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry time, unix seconds; the token is rejected from this second on.
    pub expires_at: i64,
    /// Admin credential name that created the token.
    pub created_by: String,
    /// When the token was used, unix seconds.
    pub used_at: Option<i64>,
    /// Serial of the certificate issued with the token.
    pub used_by_serial: Option<String>,
    /// Policy profile the token is bound to; `None` means the default profile.
    pub profile: Option<String>,
    /// When an operator revoked the token, unix seconds.
    pub revoked_at: Option<i64>,
}

/// An operator's admin client certificate.
#[derive(Clone, Debug)]
pub struct AdminCredentialRecord {
    /// SHA-256 of the certificate DER, lower-case hex.
    pub sha256: String,
    /// Operator name from `urn:ironroot:admin:NAME`.
    pub name: String,
    /// Serial of the certificate, `certificates.serial`.
    pub serial: String,
    /// notAfter, unix seconds.
    pub not_after: i64,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

const CA_COLUMNS: &str =
    "id, sha256, subject, not_before, not_after, cert_der, root_der, key_path, active, imported_at";

fn ca_from_row(row: &Row<'_>) -> rusqlite::Result<CaRecord> {
    Ok(CaRecord {
        id: row.get(0)?,
        sha256: row.get(1)?,
        subject: row.get(2)?,
        not_before: row.get(3)?,
        not_after: row.get(4)?,
        cert_der: row.get(5)?,
        root_der: row.get(6)?,
        key_path: PathBuf::from(row.get::<_, String>(7)?),
        active: row.get(8)?,
        imported_at: row.get(9)?,
    })
}

/// Inserts a CA and returns its id.
pub fn insert_ca(connection: &Connection, ca: &CaRecord) -> Result<i64, StorageError> {
    let key_path = ca.key_path.to_str().ok_or_else(|| {
        StorageError::InvalidRow(format!(
            "the key path {} is not valid UTF-8",
            ca.key_path.display()
        ))
    })?;
    connection.execute(
        "INSERT INTO cas (sha256, subject, not_before, not_after, cert_der, root_der, key_path, active, imported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            ca.sha256,
            ca.subject,
            ca.not_before,
            ca.not_after,
            ca.cert_der,
            ca.root_der,
            key_path,
            ca.active,
            ca.imported_at
        ],
    )?;
    Ok(connection.last_insert_rowid())
}

/// Finds a CA by the SHA-256 of its certificate.
pub fn find_ca(connection: &Connection, sha256: &str) -> Result<Option<CaRecord>, StorageError> {
    let sql = format!("SELECT {CA_COLUMNS} FROM cas WHERE sha256 = ?1");
    Ok(connection
        .query_row(&sql, [sha256], ca_from_row)
        .optional()?)
}

/// Returns the root certificate of an imported CA whose root differs from
/// `root_der`, if there is one.
pub fn other_root(
    connection: &Connection,
    root_der: &[u8],
) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(connection
        .query_row(
            "SELECT root_der FROM cas WHERE root_der != ?1 LIMIT 1",
            [root_der],
            |row| row.get(0),
        )
        .optional()?)
}

/// Returns when the certificate with `serial` was revoked, if it was.
pub fn revoked_at(connection: &Connection, serial: &str) -> Result<Option<i64>, StorageError> {
    Ok(connection
        .prepare_cached("SELECT revoked_at FROM revocations WHERE serial = ?1")?
        .query_row([serial], |row| row.get(0))
        .optional()?)
}

/// Returns the active CA, if one is imported.
pub fn active_ca(connection: &Connection) -> Result<Option<CaRecord>, StorageError> {
    let sql = format!("SELECT {CA_COLUMNS} FROM cas WHERE active = 1");
    Ok(connection.query_row(&sql, [], ca_from_row).optional()?)
}

/// Inserts an issued certificate.
pub fn insert_certificate(
    connection: &Connection,
    certificate: &CertificateRecord,
) -> Result<(), StorageError> {
    let names = serde_json::to_string(&certificate.names)
        .map_err(|error| StorageError::InvalidRow(format!("names do not serialise: {error}")))?;
    connection
        .prepare_cached(
            "INSERT INTO certificates (serial, ca_id, subject, names, not_before, not_after,
                 cert_der, sha256, kind, token_id, request_id, issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            certificate.serial,
            certificate.ca_id,
            certificate.subject,
            names,
            certificate.not_before,
            certificate.not_after,
            certificate.cert_der,
            certificate.sha256,
            certificate.kind.as_str(),
            certificate.token_id,
            certificate.request_id,
            certificate.issued_at
        ])?;
    Ok(())
}

/// Returns whether a certificate with `serial` is stored.
pub fn certificate_exists(connection: &Connection, serial: &str) -> Result<bool, StorageError> {
    Ok(connection
        .prepare_cached("SELECT 1 FROM certificates WHERE serial = ?1")?
        .exists([serial])?)
}

/// Inserts a new bootstrap token.
pub fn insert_token(connection: &Connection, token: &TokenRecord) -> Result<(), StorageError> {
    let names = serde_json::to_string(&token.names)
        .map_err(|error| StorageError::InvalidRow(format!("names do not serialise: {error}")))?;
    connection
        .prepare_cached(
            "INSERT INTO tokens (token_hash, token_id, names, created_at, expires_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            token.token_hash,
            token.token_id,
            names,
            token.created_at,
            token.expires_at,
            token.created_by
        ])?;
    Ok(())
}

/// Finds a token by the hex SHA-256 of its text.
pub fn find_token(
    connection: &Connection,
    token_hash: &str,
) -> Result<Option<TokenRecord>, StorageError> {
    let row = connection
        .prepare_cached(
            "SELECT token_hash, token_id, names, created_at, expires_at, created_by, used_at, used_by_serial,
                    profile, revoked_at
             FROM tokens WHERE token_hash = ?1",
        )?
        .query_row([token_hash], |row| {
            Ok((
                TokenRecord {
                    token_hash: row.get(0)?,
                    token_id: row.get(1)?,
                    names: Vec::new(),
                    created_at: row.get(3)?,
                    expires_at: row.get(4)?,
                    created_by: row.get(5)?,
                    used_at: row.get(6)?,
                    used_by_serial: row.get(7)?,
                    profile: row.get(8)?,
                    revoked_at: row.get(9)?,
                },
                row.get::<_, String>(2)?,
            ))
        })
        .optional()?;
    let Some((mut token, names)) = row else {
        return Ok(None);
    };
    token.names = serde_json::from_str(&names).map_err(|error| {
        StorageError::InvalidRow(format!(
            "token {} has invalid names JSON: {error}",
            token.token_id
        ))
    })?;
    Ok(Some(token))
}

/// Marks a token used by `serial` if it is unused and unexpired at `now`, and
/// returns whether it did. A `false` means another request consumed it first
/// or it expired in the meantime.
pub fn consume_token(
    connection: &Connection,
    token_hash: &str,
    serial: &str,
    now: i64,
) -> Result<bool, StorageError> {
    let changed = connection
        .prepare_cached(
            "UPDATE tokens SET used_at = ?1, used_by_serial = ?2
             WHERE token_hash = ?3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1",
        )?
        .execute(params![now, serial, token_hash])?;
    Ok(changed == 1)
}

/// Inserts an admin credential.
pub fn insert_admin_credential(
    connection: &Connection,
    credential: &AdminCredentialRecord,
) -> Result<(), StorageError> {
    connection.execute(
        "INSERT INTO admin_credentials (sha256, name, serial, not_after, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            credential.sha256,
            credential.name,
            credential.serial,
            credential.not_after,
            credential.created_at
        ],
    )?;
    Ok(())
}

/// Finds an admin credential by the SHA-256 of its certificate.
pub fn find_admin_credential(
    connection: &Connection,
    sha256: &str,
) -> Result<Option<AdminCredentialRecord>, StorageError> {
    Ok(connection
        .prepare_cached(
            "SELECT sha256, name, serial, not_after, created_at FROM admin_credentials WHERE sha256 = ?1",
        )?
        .query_row([sha256], |row| {
            Ok(AdminCredentialRecord {
                sha256: row.get(0)?,
                name: row.get(1)?,
                serial: row.get(2)?,
                not_after: row.get(3)?,
                created_at: row.get(4)?,
            })
        })
        .optional()?)
}

/// Returns every imported CA, newest import first.
pub fn list_cas(connection: &Connection) -> Result<Vec<CaRecord>, StorageError> {
    let sql = format!("SELECT {CA_COLUMNS} FROM cas ORDER BY imported_at DESC, id DESC");
    let mut statement = connection.prepare(&sql)?;
    let rows = statement.query_map([], ca_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Makes the CA `id` the only active one.
pub fn set_active_ca(connection: &Connection, id: i64) -> Result<(), StorageError> {
    connection.execute(
        "UPDATE cas SET active = 0 WHERE active = 1 AND id <> ?1",
        [id],
    )?;
    let changed = connection.execute("UPDATE cas SET active = 1 WHERE id = ?1", [id])?;
    if changed != 1 {
        return Err(StorageError::InvalidRow(format!("no CA with id {id}")));
    }
    Ok(())
}

/// The facts of an issued certificate that revocation and OCSP need.
#[derive(Clone, Debug)]
pub struct CertificateStatus {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Issuing CA, `cas.id`.
    pub ca_id: i64,
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// notAfter, unix seconds.
    pub not_after: i64,
    /// The revocation, if the certificate is revoked.
    pub revocation: Option<RevocationRecord>,
}

/// A row of `revocations`.
#[derive(Clone, Debug)]
pub struct RevocationRecord {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// When the certificate was revoked, unix seconds.
    pub revoked_at: i64,
    /// RFC 5280 CRLReason code.
    pub reason: u8,
    /// Id of the HTTP request that revoked it.
    pub request_id: Option<String>,
}

/// Looks up a certificate and its revocation by serial.
pub fn certificate_status(
    connection: &Connection,
    serial: &str,
) -> Result<Option<CertificateStatus>, StorageError> {
    Ok(connection
        .prepare_cached(
            "SELECT c.serial, c.ca_id, c.subject, c.not_after, r.revoked_at, r.reason, r.request_id
             FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial
             WHERE c.serial = ?1",
        )?
        .query_row([serial], |row| {
            let revoked_at: Option<i64> = row.get(4)?;
            let revocation = match revoked_at {
                Some(revoked_at) => Some(RevocationRecord {
                    serial: row.get(0)?,
                    revoked_at,
                    reason: row.get(5)?,
                    request_id: row.get(6)?,
                }),
                None => None,
            };
            Ok(CertificateStatus {
                serial: row.get(0)?,
                ca_id: row.get(1)?,
                subject: row.get(2)?,
                not_after: row.get(3)?,
                revocation,
            })
        })
        .optional()?)
}

/// Inserts a revocation.
pub fn insert_revocation(
    connection: &Connection,
    revocation: &RevocationRecord,
) -> Result<(), StorageError> {
    connection
        .prepare_cached(
            "INSERT INTO revocations (serial, revoked_at, reason, request_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            revocation.serial,
            revocation.revoked_at,
            revocation.reason,
            revocation.request_id
        ])?;
    Ok(())
}

/// Returns the revocations of certificates issued by CA `ca_id` that have
/// not expired at `now` (unix seconds), oldest first.
pub fn unexpired_revocations(
    connection: &Connection,
    ca_id: i64,
    now: i64,
) -> Result<Vec<RevocationRecord>, StorageError> {
    let mut statement = connection.prepare_cached(
        "SELECT r.serial, r.revoked_at, r.reason, r.request_id
         FROM revocations r JOIN certificates c ON c.serial = r.serial
         WHERE c.ca_id = ?1 AND c.not_after > ?2
         ORDER BY r.revoked_at, r.serial",
    )?;
    let rows = statement.query_map(params![ca_id, now], |row| {
        Ok(RevocationRecord {
            serial: row.get(0)?,
            revoked_at: row.get(1)?,
            reason: row.get(2)?,
            request_id: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest CRL of a CA.
#[derive(Clone, Debug)]
pub struct CrlRecord {
    /// Issuing CA, `cas.id`.
    pub ca_id: i64,
    /// CRL number.
    pub crl_number: i64,
    /// thisUpdate, unix seconds.
    pub this_update: i64,
    /// nextUpdate, unix seconds.
    pub next_update: i64,
    /// The CRL DER.
    pub der: Vec<u8>,
}

/// Returns the highest CRL number stored for CA `ca_id`, or 0.
pub fn last_crl_number(connection: &Connection, ca_id: i64) -> Result<i64, StorageError> {
    Ok(connection
        .prepare_cached("SELECT crl_number FROM crls WHERE ca_id = ?1")?
        .query_row([ca_id], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Stores `crl` unless a CRL with the same or a higher number is stored, and
/// returns whether it stored it.
pub fn store_crl(connection: &Connection, crl: &CrlRecord) -> Result<bool, StorageError> {
    let changed = connection
        .prepare_cached(
            "INSERT INTO crls (ca_id, crl_number, this_update, next_update, der)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (ca_id) DO UPDATE SET crl_number = excluded.crl_number,
                 this_update = excluded.this_update, next_update = excluded.next_update,
                 der = excluded.der
             WHERE excluded.crl_number > crls.crl_number",
        )?
        .execute(params![
            crl.ca_id,
            crl.crl_number,
            crl.this_update,
            crl.next_update,
            crl.der
        ])?;
    Ok(changed == 1)
}
