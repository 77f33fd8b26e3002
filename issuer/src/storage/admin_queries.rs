//! Read queries behind the admin API: token and certificate listings, one
//! certificate, and the status counts.
//!
//! The `revocations` table and the `certificates.profile`,
//! `certificates.superseded_by` and `tokens.profile` columns come from later
//! migrations; each query checks whether they exist, so these functions also
//! work on a database that predates them.

use ironroot_core::admin_api::{CertificateSummary, MAX_PAGE, TokenSummary};
use rusqlite::{Connection, OptionalExtension, params};

use super::StorageError;

/// Optional tables and columns present in the database.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    revocations: bool,
    certificate_profile: bool,
    superseded_by: bool,
    token_profile: bool,
}

impl Schema {
    /// Inspects the database.
    pub fn inspect(connection: &Connection) -> Result<Self, StorageError> {
        let revocations = connection
            .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
            .exists(["revocations"])?;
        Ok(Self {
            revocations,
            certificate_profile: has_column(connection, "certificates", "profile")?,
            superseded_by: has_column(connection, "certificates", "superseded_by")?,
            token_profile: has_column(connection, "tokens", "profile")?,
        })
    }

    fn status_sql(&self) -> String {
        let revoked = if self.revocations {
            "WHEN EXISTS (SELECT 1 FROM revocations r WHERE r.serial = c.serial) THEN 'revoked' "
        } else {
            ""
        };
        let superseded = if self.superseded_by {
            "WHEN c.superseded_by IS NOT NULL THEN 'superseded' "
        } else {
            ""
        };
        format!(
            "CASE {revoked}{superseded}WHEN c.not_after <= :now THEN 'expired' ELSE 'valid' END"
        )
    }
}

fn has_column(connection: &Connection, table: &str, column: &str) -> Result<bool, StorageError> {
    Ok(connection
        .prepare_cached("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
        .exists([table, column])?)
}

const TOKEN_STATE_SQL: &str = "CASE WHEN used_at IS NOT NULL THEN 'used' \
     WHEN revoked_at IS NOT NULL THEN 'revoked' \
     WHEN expires_at <= :now THEN 'expired' ELSE 'active' END";

/// Lists tokens, newest first, optionally only those in `state`.
pub fn list_tokens(
    connection: &Connection,
    now: i64,
    state: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<Vec<TokenSummary>, StorageError> {
    let schema = Schema::inspect(connection)?;
    let profile = if schema.token_profile {
        "profile"
    } else {
        "NULL"
    };
    let sql = format!(
        "SELECT token_id, names, {profile}, created_at, expires_at, created_by, \
         {TOKEN_STATE_SQL} AS state, used_by_serial, revoked_at FROM tokens \
         WHERE (:state IS NULL OR {TOKEN_STATE_SQL} = :state) \
         ORDER BY created_at DESC, token_id LIMIT :limit OFFSET :offset"
    );
    let mut statement = connection.prepare(&sql)?;
    let rows = statement.query_map(
        rusqlite::named_params! {
            ":now": now, ":state": state, ":limit": limit.min(MAX_PAGE), ":offset": offset
        },
        |row| {
            Ok((
                TokenSummary {
                    id: row.get(0)?,
                    names: Vec::new(),
                    profile: row.get(2)?,
                    created_at: row.get(3)?,
                    expires_at: row.get(4)?,
                    created_by: row.get(5)?,
                    state: row.get(6)?,
                    used_by_serial: row.get(7)?,
                    revoked_at: row.get(8)?,
                },
                row.get::<_, String>(1)?,
            ))
        },
    )?;
    let mut tokens = Vec::new();
    for row in rows {
        let (mut token, names) = row?;
        token.names = parse_names(&names, &token.id)?;
        tokens.push(token);
    }
    Ok(tokens)
}

/// Finds one token by its public id.
pub fn find_token_by_id(
    connection: &Connection,
    now: i64,
    token_id: &str,
) -> Result<Option<TokenSummary>, StorageError> {
    let sql = format!(
        "SELECT token_id, names, created_at, expires_at, created_by, {TOKEN_STATE_SQL}, \
         used_by_serial, revoked_at FROM tokens WHERE token_id = :id"
    );
    let row = connection
        .query_row(
            &sql,
            rusqlite::named_params! { ":now": now, ":id": token_id },
            |row| {
                Ok((
                    TokenSummary {
                        id: row.get(0)?,
                        names: Vec::new(),
                        profile: None,
                        created_at: row.get(2)?,
                        expires_at: row.get(3)?,
                        created_by: row.get(4)?,
                        state: row.get(5)?,
                        used_by_serial: row.get(6)?,
                        revoked_at: row.get(7)?,
                    },
                    row.get::<_, String>(1)?,
                ))
            },
        )
        .optional()?;
    let Some((mut token, names)) = row else {
        return Ok(None);
    };
    token.names = parse_names(&names, &token.id)?;
    Ok(Some(token))
}

/// Marks an unused, unrevoked token revoked and returns whether it did.
pub fn revoke_token(
    connection: &Connection,
    token_id: &str,
    now: i64,
) -> Result<bool, StorageError> {
    let changed = connection
        .prepare_cached(
            "UPDATE tokens SET revoked_at = ?1
             WHERE token_id = ?2 AND used_at IS NULL AND revoked_at IS NULL",
        )?
        .execute(params![now, token_id])?;
    Ok(changed == 1)
}

fn parse_names(names: &str, owner: &str) -> Result<Vec<String>, StorageError> {
    serde_json::from_str(names).map_err(|error| {
        StorageError::InvalidRow(format!("{owner} has invalid names JSON: {error}"))
    })
}

/// Filters of a certificate search; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct CertificateFilter {
    /// Exact serial, lower-case hex.
    pub serial: Option<String>,
    /// A name the certificate lists exactly.
    pub name: Option<String>,
    /// A substring of one of the certificate's names.
    pub name_contains: Option<String>,
    /// The policy profile it was issued under.
    pub profile: Option<String>,
    /// Only certificates whose notAfter is before this, unix seconds.
    pub expiring_before: Option<i64>,
    /// `valid`, `expired`, `revoked` or `superseded`.
    pub status: Option<String>,
    /// `leaf`, `server` or `admin`.
    pub kind: Option<String>,
}

/// One certificate with its DER and lifecycle facts.
#[derive(Clone, Debug)]
pub struct CertificateRow {
    /// The listing fields.
    pub summary: CertificateSummary,
    /// The certificate DER.
    pub cert_der: Vec<u8>,
    /// Id of the request that issued it.
    pub request_id: Option<String>,
    /// Serial of the certificate that replaced it.
    pub superseded_by: Option<String>,
    /// Revocation time, unix seconds.
    pub revoked_at: Option<i64>,
    /// RFC 5280 CRLReason code.
    pub revocation_reason: Option<i64>,
}

/// Searches certificates, newest first.
pub fn search_certificates(
    connection: &Connection,
    now: i64,
    filter: &CertificateFilter,
    limit: u32,
    offset: u32,
) -> Result<Vec<CertificateSummary>, StorageError> {
    let schema = Schema::inspect(connection)?;
    let profile = if schema.certificate_profile {
        "c.profile"
    } else {
        "NULL"
    };
    let status = schema.status_sql();
    let sql = format!(
        "SELECT c.serial, c.subject, c.names, c.not_before, c.not_after, c.kind, {profile}, \
         {status}, c.token_id, c.issued_at, c.sha256 FROM certificates c \
         WHERE (:serial IS NULL OR c.serial = :serial) \
         AND (:name IS NULL OR EXISTS (SELECT 1 FROM json_each(c.names) WHERE value = :name)) \
         AND (:contains IS NULL OR EXISTS (SELECT 1 FROM json_each(c.names) WHERE instr(value, :contains) > 0)) \
         AND (:profile IS NULL OR {profile} = :profile) \
         AND (:before IS NULL OR c.not_after < :before) \
         AND (:status IS NULL OR {status} = :status) \
         AND (:kind IS NULL OR c.kind = :kind) \
         ORDER BY c.issued_at DESC, c.serial LIMIT :limit OFFSET :offset"
    );
    let mut statement = connection.prepare(&sql)?;
    let rows = statement.query_map(
        rusqlite::named_params! {
            ":now": now,
            ":serial": filter.serial,
            ":name": filter.name,
            ":contains": filter.name_contains,
            ":profile": filter.profile,
            ":before": filter.expiring_before,
            ":status": filter.status,
            ":kind": filter.kind,
            ":limit": limit.min(MAX_PAGE),
            ":offset": offset,
        },
        summary_from_row,
    )?;
    let mut certificates = Vec::new();
    for row in rows {
        let (mut summary, names) = row?;
        summary.names = parse_names(&names, &summary.serial)?;
        certificates.push(summary);
    }
    Ok(certificates)
}

fn summary_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(CertificateSummary, String)> {
    Ok((
        CertificateSummary {
            serial: row.get(0)?,
            subject: row.get(1)?,
            names: Vec::new(),
            not_before: row.get(3)?,
            not_after: row.get(4)?,
            kind: row.get(5)?,
            profile: row.get(6)?,
            status: row.get(7)?,
            token_id: row.get(8)?,
            issued_at: row.get(9)?,
            sha256: row.get(10)?,
        },
        row.get(2)?,
    ))
}

/// Reads one certificate by serial.
pub fn certificate_detail(
    connection: &Connection,
    now: i64,
    serial: &str,
) -> Result<Option<CertificateRow>, StorageError> {
    let schema = Schema::inspect(connection)?;
    let profile = if schema.certificate_profile {
        "c.profile"
    } else {
        "NULL"
    };
    let superseded = if schema.superseded_by {
        "c.superseded_by"
    } else {
        "NULL"
    };
    let (revoked_at, reason) = if schema.revocations {
        (
            "(SELECT r.revoked_at FROM revocations r WHERE r.serial = c.serial)",
            "(SELECT r.reason FROM revocations r WHERE r.serial = c.serial)",
        )
    } else {
        ("NULL", "NULL")
    };
    let status = schema.status_sql();
    let sql = format!(
        "SELECT c.serial, c.subject, c.names, c.not_before, c.not_after, c.kind, {profile}, \
         {status}, c.token_id, c.issued_at, c.sha256, c.cert_der, c.request_id, {superseded}, \
         {revoked_at}, {reason} FROM certificates c WHERE c.serial = :serial"
    );
    let row = connection
        .query_row(
            &sql,
            rusqlite::named_params! { ":now": now, ":serial": serial },
            |row| {
                let (summary, names) = summary_from_row(row)?;
                Ok((
                    CertificateRow {
                        summary,
                        cert_der: row.get(11)?,
                        request_id: row.get(12)?,
                        superseded_by: row.get(13)?,
                        revoked_at: row.get(14)?,
                        revocation_reason: row.get(15)?,
                    },
                    names,
                ))
            },
        )
        .optional()?;
    let Some((mut detail, names)) = row else {
        return Ok(None);
    };
    detail.summary.names = parse_names(&names, &detail.summary.serial)?;
    Ok(Some(detail))
}

/// Counts certificates by status.
pub fn certificate_counts(
    connection: &Connection,
    now: i64,
) -> Result<Vec<(String, i64)>, StorageError> {
    let schema = Schema::inspect(connection)?;
    let sql = format!(
        "SELECT {} AS status, COUNT(*) FROM certificates c GROUP BY status ORDER BY status",
        schema.status_sql()
    );
    let mut statement = connection.prepare(&sql)?;
    let rows = statement.query_map(rusqlite::named_params! { ":now": now }, |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Counts tokens that are unused, unrevoked and unexpired.
pub fn active_token_count(connection: &Connection, now: i64) -> Result<i64, StorageError> {
    Ok(connection.query_row(
        "SELECT COUNT(*) FROM tokens WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1",
        [now],
        |row| row.get(0),
    )?)
}
