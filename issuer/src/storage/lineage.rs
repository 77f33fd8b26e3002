//! Statements for policy profiles and renewal lineage: the profile columns of
//! `certificates` and `tokens`, and `certificates.superseded_by`.

use rusqlite::{Connection, OptionalExtension, params};

use super::StorageError;

/// What renewal needs to know about a stored certificate.
#[derive(Clone, Debug)]
pub struct RenewalState {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// `certificates.kind`.
    pub kind: String,
    /// `cas.id` of the issuing CA.
    pub ca_id: i64,
    /// Names as stored, in the certificate's order.
    pub names: Vec<String>,
    /// notAfter, unix seconds.
    pub not_after: i64,
    /// The profile it was issued under; `None` means `default`.
    pub profile: Option<String>,
    /// Serial of the certificate that renewed it.
    pub superseded_by: Option<String>,
    /// When it was revoked, unix seconds.
    pub revoked_at: Option<i64>,
}

/// Finds a certificate by the SHA-256 of its DER, with its revocation and
/// renewal state.
pub fn renewal_state(
    connection: &Connection,
    sha256: &str,
) -> Result<Option<RenewalState>, StorageError> {
    let revocations = revocations_table_exists(connection)?;
    // The revocations table comes from migration 3; without it nothing is revoked.
    let sql = if revocations {
        "SELECT c.serial, c.kind, c.ca_id, c.names, c.not_after, c.profile, c.superseded_by, r.revoked_at
         FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial
         WHERE c.sha256 = ?1"
    } else {
        "SELECT serial, kind, ca_id, names, not_after, profile, superseded_by, NULL
         FROM certificates WHERE sha256 = ?1"
    };
    let row = connection
        .prepare_cached(sql)?
        .query_row([sha256], |row| {
            Ok((
                RenewalState {
                    serial: row.get(0)?,
                    kind: row.get(1)?,
                    ca_id: row.get(2)?,
                    names: Vec::new(),
                    not_after: row.get(4)?,
                    profile: row.get(5)?,
                    superseded_by: row.get(6)?,
                    revoked_at: row.get(7)?,
                },
                row.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    let Some((mut state, names)) = row else {
        return Ok(None);
    };
    state.names = serde_json::from_str(&names).map_err(|error| {
        StorageError::InvalidRow(format!(
            "certificate {} has invalid names JSON: {error}",
            state.serial
        ))
    })?;
    Ok(Some(state))
}

fn revocations_table_exists(connection: &Connection) -> Result<bool, StorageError> {
    Ok(connection
        .prepare_cached(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'revocations'",
        )?
        .exists([])?)
}

/// Returns whether `serial` is revoked.
pub fn is_revoked(connection: &Connection, serial: &str) -> Result<bool, StorageError> {
    if !revocations_table_exists(connection)? {
        return Ok(false);
    }
    Ok(connection
        .prepare_cached("SELECT 1 FROM revocations WHERE serial = ?1")?
        .exists([serial])?)
}

/// Sets the profile of a stored certificate.
pub fn set_certificate_profile(
    connection: &Connection,
    serial: &str,
    profile: &str,
) -> Result<(), StorageError> {
    connection
        .prepare_cached("UPDATE certificates SET profile = ?1 WHERE serial = ?2")?
        .execute(params![profile, serial])?;
    Ok(())
}

/// Marks `old_serial` superseded by `new_serial` if it is neither superseded
/// nor revoked yet, and returns whether it did.
pub fn supersede(
    connection: &Connection,
    old_serial: &str,
    new_serial: &str,
) -> Result<bool, StorageError> {
    if is_revoked(connection, old_serial)? {
        return Ok(false);
    }
    let changed = connection
        .prepare_cached(
            "UPDATE certificates SET superseded_by = ?1 WHERE serial = ?2 AND superseded_by IS NULL",
        )?
        .execute(params![new_serial, old_serial])?;
    Ok(changed == 1)
}

/// Sets the profile a token is bound to.
pub fn set_token_profile(
    connection: &Connection,
    token_hash: &str,
    profile: &str,
) -> Result<(), StorageError> {
    connection
        .prepare_cached("UPDATE tokens SET profile = ?1 WHERE token_hash = ?2")?
        .execute(params![profile, token_hash])?;
    Ok(())
}
