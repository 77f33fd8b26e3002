//! JSON bodies of the issuer's admin listing, status and audit endpoints,
//! shared by the daemon and `ironroot-admin`. Times are unix seconds.
//! `docs/api.md` documents every endpoint.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET`: list tokens. `POST`: create one (see [`crate::api`]).
pub const ADMIN_TOKENS_PATH: &str = "/v1/admin/tokens";
/// Prefix of `POST /v1/admin/tokens/{id}/revoke`.
pub const ADMIN_TOKEN_PREFIX: &str = "/v1/admin/tokens/";
/// Suffix of `POST /v1/admin/tokens/{id}/revoke`.
pub const REVOKE_SUFFIX: &str = "/revoke";
/// `GET`: search certificates.
pub const ADMIN_CERTIFICATES_PATH: &str = "/v1/admin/certificates";
/// Prefix of `GET /v1/admin/certificates/{serial}`.
pub const ADMIN_CERTIFICATE_PREFIX: &str = "/v1/admin/certificates/";
/// `GET`: intermediates, counts and outstanding tokens.
pub const ADMIN_STATUS_PATH: &str = "/v1/admin/status";
/// `GET`: the newest audit rows.
pub const ADMIN_AUDIT_PATH: &str = "/v1/admin/audit";
/// `GET`: verify the whole audit chain.
pub const ADMIN_AUDIT_VERIFY_PATH: &str = "/v1/admin/audit/verify";
/// Page size of list endpoints when `limit` is absent.
pub const DEFAULT_PAGE: u32 = 100;
/// Largest `limit` a list endpoint accepts.
pub const MAX_PAGE: u32 = 1000;

/// A bootstrap token as listed to an admin. The token itself is never stored,
/// so it is never listed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenSummary {
    /// Public id.
    pub id: String,
    /// Name patterns the token allows.
    pub names: Vec<String>,
    /// Policy profile, when one is recorded.
    pub profile: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Expiry time.
    pub expires_at: i64,
    /// Admin who created it.
    pub created_by: String,
    /// `active`, `used`, `expired` or `revoked`.
    pub state: String,
    /// Serial of the certificate issued with it.
    pub used_by_serial: Option<String>,
    /// When an admin revoked it.
    pub revoked_at: Option<i64>,
}

/// Response of `GET /v1/admin/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenList {
    /// The page of tokens, newest first.
    pub tokens: Vec<TokenSummary>,
    /// `offset` of the next page, absent on the last page.
    pub next_offset: Option<u32>,
}

/// Response of `POST /v1/admin/tokens/{id}/revoke`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RevokeTokenResponse {
    /// The token as it is now.
    pub token: TokenSummary,
}

/// A certificate in a listing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CertificateSummary {
    /// Serial, lower-case hex.
    pub serial: String,
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// Subject alternative names.
    pub names: Vec<String>,
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
    /// `leaf`, `server` or `admin`.
    pub kind: String,
    /// Policy profile, when one is recorded.
    pub profile: Option<String>,
    /// `valid`, `expired`, `revoked` or `superseded`.
    pub status: String,
    /// Id of the token that authorised it.
    pub token_id: Option<String>,
    /// Issue time.
    pub issued_at: i64,
    /// SHA-256 of the DER, lower-case hex.
    pub sha256: String,
}

/// Response of `GET /v1/admin/certificates`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CertificateList {
    /// The page of certificates, newest first.
    pub certificates: Vec<CertificateSummary>,
    /// `offset` of the next page, absent on the last page.
    pub next_offset: Option<u32>,
}

/// Response of `GET /v1/admin/certificates/{serial}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CertificateDetail {
    /// The listing fields.
    #[serde(flatten)]
    pub summary: CertificateSummary,
    /// Issuer in RFC 4514 form, parsed from the certificate.
    pub issuer: String,
    /// Whether the certificate is a CA.
    pub is_ca: bool,
    /// The certificate, PEM.
    pub pem: String,
    /// Id of the request that issued it.
    pub request_id: Option<String>,
    /// Serial of the certificate that replaced it by renewal.
    pub superseded_by: Option<String>,
    /// Revocation time.
    pub revoked_at: Option<i64>,
    /// RFC 5280 CRLReason code of the revocation.
    pub revocation_reason: Option<i64>,
}

/// Response of `GET /v1/admin/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusResponse {
    /// Every imported intermediate, newest import first.
    pub intermediates: Vec<crate::api::IntermediateStatus>,
    /// Certificates by status (`valid`, `expired`, `revoked`, `superseded`).
    pub certificates: BTreeMap<String, i64>,
    /// Tokens that are unused, unrevoked and unexpired.
    pub tokens_active: i64,
    /// Rows in the audit log.
    pub audit_rows: i64,
}

/// One audit row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number, 1 for the first row.
    pub seq: i64,
    /// When the action happened.
    pub at: i64,
    /// Action name, such as `issue` or `reject`.
    pub action: String,
    /// Admin name, token id, `cli` or `anonymous`.
    pub actor: String,
    /// Id of the HTTP request, if any.
    pub request_id: Option<String>,
    /// The details JSON object.
    pub details: serde_json::Value,
    /// Hash of the previous row.
    pub prev_hash: String,
    /// Hash of this row.
    pub hash: String,
}

/// Response of `GET /v1/admin/audit`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditList {
    /// The rows, oldest first.
    pub entries: Vec<AuditEntry>,
}

/// The first broken row found by an audit verification.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditBreak {
    /// Seq of the row as stored.
    pub seq: i64,
    /// `changed`, `removed` or `reordered`.
    pub problem: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

/// Response of `GET /v1/admin/audit/verify`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditVerifyResponse {
    /// Whether the whole chain verified.
    pub valid: bool,
    /// Rows read before the verification stopped.
    pub rows: u64,
    /// Seq of the last good row.
    pub head_seq: i64,
    /// Hash of the last good row.
    pub head_hash: String,
    /// The first broken row.
    pub broken: Option<AuditBreak>,
}
