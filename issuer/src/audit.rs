//! The tamper-evident audit log: one row per important action in the
//! `audit_log` table, each row hashing the one before it.
//!
//! Row hash = SHA-256 over a canonical encoding of (seq, at, action, actor,
//! request_id, details, prev_hash), described in `docs/audit.md`. The first
//! row's `prev_hash` is 64 zeros. [`verify`] walks the table and reports the
//! first row that was changed, removed or reordered.

use ironroot_core::admin_api::{AuditBreak, AuditVerifyResponse};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::storage::StorageError;
use crate::storage::queries::CertificateRecord;

/// `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separator that starts every hashed encoding.
const HASH_DOMAIN: &[u8] = b"ironroot-audit-v1\0";

/// Actor of rows written by `ironroot-issuer` commands run on the host.
pub const CLI_ACTOR: &str = "cli";

/// One action to record. `details` must never hold a secret: token ids, not
/// tokens; serials, names and reasons.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// One of `import`, `issue`, `renew`, `revoke`, `token_create`,
    /// `token_use`, `token_revoke`, `admin_request`, `reject`, `activate`,
    /// `admin_credential`, `backup`.
    pub action: &'static str,
    /// Admin name, token id, `cli`, or `anonymous` for a request without one.
    pub actor: String,
    /// Id of the HTTP request, when the action came from one.
    pub request_id: Option<String>,
    /// JSON object with the facts of the action.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// Creates an event.
    pub fn new(
        action: &'static str,
        actor: impl Into<String>,
        request_id: Option<&str>,
        details: serde_json::Value,
    ) -> Self {
        Self {
            action,
            actor: actor.into(),
            request_id: request_id.map(str::to_owned),
            details,
        }
    }
}

/// Builds the rows of a certificate issued with a bootstrap token: `issue`
/// and, when a token authorised it, `token_use`. Both carry the token id as
/// the actor, never the token.
pub fn issued_events(
    certificate: &CertificateRecord,
    request_id: Option<&str>,
    profile: Option<&str>,
) -> Vec<AuditEvent> {
    let actor = certificate
        .token_id
        .clone()
        .unwrap_or_else(|| CLI_ACTOR.to_owned());
    let mut events = vec![AuditEvent::new(
        "issue",
        actor.clone(),
        request_id,
        json!({
            "serial": certificate.serial,
            "subject": certificate.subject,
            "names": certificate.names,
            "kind": certificate.kind.as_str(),
            "not_after": certificate.not_after,
            "profile": profile,
        }),
    )];
    if let Some(token_id) = &certificate.token_id {
        events.push(AuditEvent::new(
            "token_use",
            actor,
            request_id,
            json!({ "token_id": token_id, "serial": certificate.serial }),
        ));
    }
    events
}

/// The head of the chain: the next sequence number and the last row's hash.
/// The writer thread keeps one in memory so appending needs no extra query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditChain {
    /// Sequence number of the next row.
    pub next_seq: i64,
    /// Hash of the last row, or [`GENESIS_HASH`] for an empty log.
    pub head_hash: String,
    /// `PRAGMA data_version` of the connection when the head was loaded;
    /// a different value means another connection committed since.
    pub data_version: i64,
}

impl AuditChain {
    /// Reads the head from the last row of the table.
    pub fn load(connection: &Connection) -> Result<Self, StorageError> {
        let data_version: i64 =
            connection.pragma_query_value(None, "data_version", |row| row.get(0))?;
        let last = connection
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
            )
            .optional()?;
        Ok(match last {
            Some((seq, hash)) => Self {
                next_seq: seq + 1,
                head_hash: hash,
                data_version,
            },
            None => Self {
                next_seq: 1,
                head_hash: GENESIS_HASH.to_owned(),
                data_version,
            },
        })
    }
}

/// A stored row of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// Sequence number, 1 for the first row.
    pub seq: i64,
    /// When the action happened, unix seconds.
    pub at: i64,
    /// The action name.
    pub action: String,
    /// Who acted.
    pub actor: String,
    /// Id of the HTTP request, if any.
    pub request_id: Option<String>,
    /// The details as stored JSON text.
    pub details: String,
    /// Hash of the previous row.
    pub prev_hash: String,
    /// Hash of this row.
    pub hash: String,
}

impl AuditRow {
    /// Computes the hash the row should carry.
    pub fn expected_hash(&self) -> String {
        row_hash(
            self.seq,
            self.at,
            &self.action,
            &self.actor,
            self.request_id.as_deref(),
            &self.details,
            &self.prev_hash,
        )
    }
}

/// Computes a row hash: SHA-256 over the domain separator, then each field as
/// an 8-byte big-endian length and its bytes. `request_id` is preceded by one
/// byte, 0 when absent and 1 when present, so absent and empty differ.
pub fn row_hash(
    seq: i64,
    at: i64,
    action: &str,
    actor: &str,
    request_id: Option<&str>,
    details: &str,
    prev_hash: &str,
) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(HASH_DOMAIN);
    let mut field = |bytes: &[u8]| {
        context.update(&(bytes.len() as u64).to_be_bytes());
        context.update(bytes);
    };
    field(&seq.to_be_bytes());
    field(&at.to_be_bytes());
    field(action.as_bytes());
    field(actor.as_bytes());
    match request_id {
        None => field(&[0]),
        Some(id) => {
            field(&[1]);
            field(id.as_bytes());
        }
    }
    field(details.as_bytes());
    field(prev_hash.as_bytes());
    ironroot_core::fingerprint::hex(context.finish().as_ref())
}

/// Appends `event` at the head of `chain` inside the caller's open
/// transaction and advances `chain`. If the transaction rolls back, the
/// caller must restore the `chain` value it had before.
pub fn append(
    connection: &Connection,
    chain: &mut AuditChain,
    event: &AuditEvent,
) -> Result<(), StorageError> {
    append_at(
        connection,
        chain,
        event,
        OffsetDateTime::now_utc().unix_timestamp(),
    )
}

fn append_at(
    connection: &Connection,
    chain: &mut AuditChain,
    event: &AuditEvent,
    at: i64,
) -> Result<(), StorageError> {
    let details = serde_json::to_string(&event.details)
        .map_err(|error| StorageError::InvalidRow(format!("audit details: {error}")))?;
    let seq = chain.next_seq;
    let hash = row_hash(
        seq,
        at,
        event.action,
        &event.actor,
        event.request_id.as_deref(),
        &details,
        &chain.head_hash,
    );
    connection
        .prepare_cached(
            "INSERT INTO audit_log (seq, at, action, actor, request_id, details, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            seq,
            at,
            event.action,
            event.actor,
            event.request_id,
            details,
            chain.head_hash,
            hash
        ])?;
    chain.next_seq = seq + 1;
    chain.head_hash = hash;
    Ok(())
}

/// Appends one event for a command-line command: loads the head from the
/// table, then appends. Call it inside the command's write transaction, which
/// serialises it against the daemon's writer.
///
/// NOTE: a daemon serving the same database keeps its own head in memory, so
/// a CLI row written beside a running daemon breaks the chain at the daemon's
/// next row. The data-directory lock keeps the two apart.
pub fn append_cli(connection: &Connection, event: &AuditEvent) -> Result<(), StorageError> {
    let mut chain = AuditChain::load(connection)?;
    append(connection, &mut chain, event)
}

/// Reads the newest `limit` rows, oldest first, optionally only those with
/// `seq < before`.
pub fn recent(
    connection: &Connection,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<AuditRow>, StorageError> {
    let mut statement = connection.prepare(
        "SELECT seq, at, action, actor, request_id, details, prev_hash, hash FROM audit_log
         WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(params![before.unwrap_or(i64::MAX), limit], row_from_sql)?;
    let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    Ok(rows)
}

fn row_from_sql(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: row.get(0)?,
        at: row.get(1)?,
        action: row.get(2)?,
        actor: row.get(3)?,
        request_id: row.get(4)?,
        details: row.get(5)?,
        prev_hash: row.get(6)?,
        hash: row.get(7)?,
    })
}

/// Description of the first broken row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The row's contents no longer match its hash.
    Changed,
    /// Rows before this one are missing: a gap in seq, or a `prev_hash` that
    /// does not match the row before.
    Removed,
    /// The row's hash matches its contents only under another seq, so rows
    /// were moved.
    Reordered,
}

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Number of rows read.
    pub rows: u64,
    /// Hash of the last row, or [`GENESIS_HASH`] for an empty log.
    pub head_hash: String,
    /// Seq of the last row, 0 for an empty log.
    pub head_seq: i64,
    /// The first broken row, if any.
    pub broken: Option<BrokenRow>,
}

impl Verification {
    /// Converts the result into the admin API's JSON shape.
    pub fn into_response(self) -> AuditVerifyResponse {
        AuditVerifyResponse {
            valid: self.broken.is_none(),
            rows: self.rows,
            head_seq: self.head_seq,
            head_hash: self.head_hash,
            broken: self.broken.map(|broken| AuditBreak {
                seq: broken.seq,
                problem: match broken.problem {
                    Problem::Changed => "changed",
                    Problem::Removed => "removed",
                    Problem::Reordered => "reordered",
                }
                .to_owned(),
                message: broken.message,
            }),
        }
    }
}

/// The first row where the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BrokenRow {
    /// Seq of the row as stored.
    pub seq: i64,
    /// Kind of tampering the row shows.
    pub problem: Problem,
    /// A sentence that explains the finding.
    pub message: String,
}

/// Walks the whole log in seq order and reports the first broken row.
///
/// NOTE: rows removed from the end of the log leave a valid shorter chain;
/// compare `head_seq` and `head_hash` with a value noted earlier to detect that.
pub fn verify(connection: &Connection) -> Result<Verification, StorageError> {
    let mut statement = connection.prepare(
        "SELECT seq, at, action, actor, request_id, details, prev_hash, hash FROM audit_log ORDER BY seq",
    )?;
    let rows = statement.query_map([], row_from_sql)?;
    let mut count = 0u64;
    let mut previous_seq = 0i64;
    let mut previous_hash = GENESIS_HASH.to_owned();
    for row in rows {
        let row = row?;
        count += 1;
        if let Some(problem) = check_row(connection, &row, previous_seq, &previous_hash)? {
            return Ok(Verification {
                rows: count,
                head_hash: previous_hash,
                head_seq: previous_seq,
                broken: Some(problem),
            });
        }
        previous_seq = row.seq;
        previous_hash = row.hash;
    }
    Ok(Verification {
        rows: count,
        head_hash: previous_hash,
        head_seq: previous_seq,
        broken: None,
    })
}

fn check_row(
    connection: &Connection,
    row: &AuditRow,
    previous_seq: i64,
    previous_hash: &str,
) -> Result<Option<BrokenRow>, StorageError> {
    let broken = |problem, message: String| {
        Ok(Some(BrokenRow {
            seq: row.seq,
            problem,
            message,
        }))
    };
    if row.expected_hash() != row.hash {
        if let Some(original) = original_seq(connection, row)? {
            return broken(
                Problem::Reordered,
                format!(
                    "row {} holds the entry written as row {original}; rows were reordered",
                    row.seq
                ),
            );
        }
        return broken(
            Problem::Changed,
            format!(
                "row {} was changed: its contents do not match its hash",
                row.seq
            ),
        );
    }
    if row.seq != previous_seq + 1 {
        let missing = if row.seq == previous_seq + 2 {
            format!("row {} is missing", previous_seq + 1)
        } else {
            format!("rows {} to {} are missing", previous_seq + 1, row.seq - 1)
        };
        return broken(
            Problem::Removed,
            format!("{missing} before row {}", row.seq),
        );
    }
    if row.prev_hash != previous_hash {
        return broken(
            Problem::Removed,
            format!(
                "row {}'s prev_hash does not match the hash of row {previous_seq}; a row was removed or replaced there",
                row.seq
            ),
        );
    }
    Ok(None)
}

/// Looks for the seq under which the row's stored hash was computed, which
/// identifies a row moved to another position.
fn original_seq(connection: &Connection, row: &AuditRow) -> Result<Option<i64>, StorageError> {
    let max: Option<i64> =
        connection.query_row("SELECT MAX(seq) FROM audit_log", [], |r| r.get(0))?;
    let Some(max) = max else {
        return Ok(None);
    };
    for seq in 1..=max.max(row.seq) {
        if seq == row.seq {
            continue;
        }
        let candidate = AuditRow { seq, ..row.clone() };
        if candidate.expected_hash() == row.hash {
            return Ok(Some(seq));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.db");
        let connection = crate::storage::open_read_write(&path).unwrap();
        (dir, connection)
    }

    fn fill(connection: &Connection, rows: i64) {
        let mut chain = AuditChain::load(connection).unwrap();
        for index in 0..rows {
            let event = AuditEvent::new("issue", "cli", None, json!({ "serial": index }));
            append(connection, &mut chain, &event).unwrap();
        }
    }

    #[test]
    fn empty_log_verifies() {
        let (_dir, connection) = database();
        let verification = verify(&connection).unwrap();
        assert_eq!(verification.rows, 0);
        assert_eq!(verification.broken, None);
        assert_eq!(verification.head_hash, GENESIS_HASH);
    }

    #[test]
    fn intact_chain_verifies() {
        let (_dir, connection) = database();
        fill(&connection, 5);
        let verification = verify(&connection).unwrap();
        assert_eq!(verification.rows, 5);
        assert_eq!(verification.head_seq, 5);
        assert_eq!(verification.broken, None);
        assert_eq!(AuditChain::load(&connection).unwrap().next_seq, 6);
    }

    #[test]
    fn edited_row_is_changed() {
        let (_dir, connection) = database();
        fill(&connection, 5);
        connection
            .execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", [])
            .unwrap();
        let broken = verify(&connection).unwrap().broken.unwrap();
        assert_eq!(broken.seq, 3);
        assert_eq!(broken.problem, Problem::Changed);
    }

    #[test]
    fn deleted_row_is_removed() {
        let (_dir, connection) = database();
        fill(&connection, 5);
        connection
            .execute("DELETE FROM audit_log WHERE seq = 2", [])
            .unwrap();
        let broken = verify(&connection).unwrap().broken.unwrap();
        assert_eq!(broken.seq, 3);
        assert_eq!(broken.problem, Problem::Removed);
        assert!(
            broken.message.contains("row 2 is missing"),
            "{}",
            broken.message
        );
    }

    #[test]
    fn swapped_rows_are_reordered() {
        let (_dir, connection) = database();
        fill(&connection, 5);
        connection
            .execute_batch(
                "UPDATE audit_log SET seq = -1 WHERE seq = 2;
                 UPDATE audit_log SET seq = 2 WHERE seq = 4;
                 UPDATE audit_log SET seq = 4 WHERE seq = -1;",
            )
            .unwrap();
        let broken = verify(&connection).unwrap().broken.unwrap();
        assert_eq!(broken.seq, 2);
        assert_eq!(broken.problem, Problem::Reordered);
        assert!(
            broken.message.contains("written as row 4"),
            "{}",
            broken.message
        );
    }

    #[test]
    fn rehashed_row_breaks_link() {
        let (_dir, connection) = database();
        fill(&connection, 4);
        let mut row = recent(&connection, 1, Some(3)).unwrap().remove(0);
        row.actor = "mallory".to_owned();
        row.hash = row.expected_hash();
        connection
            .execute(
                "UPDATE audit_log SET actor = ?1, hash = ?2 WHERE seq = 2",
                params![row.actor, row.hash],
            )
            .unwrap();
        let broken = verify(&connection).unwrap().broken.unwrap();
        assert_eq!(broken.seq, 3);
        assert_eq!(broken.problem, Problem::Removed);
    }
}
