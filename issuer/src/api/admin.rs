//! Admin listing, search, status and audit endpoints, the `admin_request`
//! audit row of every admin request, and the `reject` row of every rejected
//! request. Every endpoint here needs an admin client certificate.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use ironroot_core::admin_api::{
    ADMIN_AUDIT_PATH, ADMIN_AUDIT_VERIFY_PATH, ADMIN_CERTIFICATE_PREFIX, ADMIN_CERTIFICATES_PATH,
    ADMIN_STATUS_PATH, ADMIN_TOKEN_PREFIX, ADMIN_TOKENS_PATH, AuditEntry, AuditList,
    CertificateDetail, CertificateList, DEFAULT_PAGE, MAX_PAGE, REVOKE_SUFFIX, RevokeTokenResponse,
    StatusResponse, TokenList,
};
use ironroot_core::cert::CertificateInfo;
use ironroot_core::{Fingerprint, pemfile};
use serde_json::json;
use time::OffsetDateTime;

use super::admin_tokens::authenticate;
use super::{ApiError, AppState, Body, ConnectionInfo, json_response};
use crate::audit::{self, AuditEvent};
use crate::storage::admin_queries::{self, CertificateFilter};
use crate::storage::queries;
use crate::storage::writer::{Job, WriteError};

/// Prefix shared by every admin path.
pub(super) const ADMIN_PREFIX: &str = "/v1/admin/";

/// Routes the endpoints of this module; `None` means the path is not one of them.
pub(super) async fn route(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    request: &Request<Incoming>,
) -> Option<Result<Response<Body>, ApiError>> {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    let method = request.method();
    let endpoint = match path {
        ADMIN_TOKENS_PATH if method == Method::GET => Endpoint::ListTokens,
        ADMIN_CERTIFICATES_PATH => Endpoint::SearchCertificates,
        ADMIN_STATUS_PATH => Endpoint::Status,
        ADMIN_AUDIT_PATH => Endpoint::AuditShow,
        ADMIN_AUDIT_VERIFY_PATH => Endpoint::AuditVerify,
        _ => {
            if let Some(id) = path
                .strip_prefix(ADMIN_TOKEN_PREFIX)
                .and_then(|rest| rest.strip_suffix(REVOKE_SUFFIX))
            {
                Endpoint::RevokeToken(id.to_owned())
            } else if let Some(serial) = path.strip_prefix(ADMIN_CERTIFICATE_PREFIX) {
                Endpoint::ShowCertificate(serial.to_owned())
            } else {
                return None;
            }
        }
    };
    let expected = match endpoint {
        Endpoint::RevokeToken(_) => Method::POST,
        _ => Method::GET,
    };
    if *method != expected {
        return Some(Err(super::method_not_allowed(path, method, &expected)));
    }
    Some(dispatch(state, connection, request_id, endpoint, query).await)
}

enum Endpoint {
    ListTokens,
    RevokeToken(String),
    SearchCertificates,
    ShowCertificate(String),
    Status,
    AuditShow,
    AuditVerify,
}

async fn dispatch(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    endpoint: Endpoint,
    query: &str,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(state, connection)?;
    let params = Query::parse(query)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    match endpoint {
        Endpoint::ListTokens => list_tokens(state, &params, now),
        Endpoint::RevokeToken(id) => revoke_token(state, &admin.name, request_id, &id, now).await,
        Endpoint::SearchCertificates => search_certificates(state, &params, now),
        Endpoint::ShowCertificate(serial) => show_certificate(state, &serial, now),
        Endpoint::Status => status(state, now),
        Endpoint::AuditShow => audit_show(state, &params),
        Endpoint::AuditVerify => audit_verify(state),
    }
}

fn list_tokens(state: &AppState, params: &Query, now: i64) -> Result<Response<Body>, ApiError> {
    params.allow(&["limit", "offset", "state"])?;
    let (limit, offset) = params.page()?;
    let token_state = params.one_of("state", &["active", "used", "expired", "revoked"])?;
    let mut tokens = state.readers.with(|connection| {
        admin_queries::list_tokens(connection, now, token_state, limit + 1, offset)
    })?;
    let next_offset = next_page(&mut tokens, limit, offset);
    Ok(json_response(
        StatusCode::OK,
        &TokenList {
            tokens,
            next_offset,
        },
    ))
}

async fn revoke_token(
    state: &AppState,
    admin: &str,
    request_id: &str,
    token_id: &str,
    now: i64,
) -> Result<Response<Body>, ApiError> {
    let token = state
        .readers
        .with(|connection| admin_queries::find_token_by_id(connection, now, token_id))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "token_not_found",
                format!("no token with id `{token_id}`; `ironroot-admin token list` shows the ids"),
            )
        })?;
    match token.state.as_str() {
        "used" => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "token_used",
                format!(
                    "token {token_id} was already used for certificate {}; revoke that certificate instead",
                    token.used_by_serial.as_deref().unwrap_or("(unknown)")
                ),
            ));
        }
        "revoked" => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "token_revoked",
                format!("token {token_id} is already revoked; nothing changed"),
            ));
        }
        _ => {}
    }
    let event = AuditEvent::new(
        "token_revoke",
        admin,
        Some(request_id),
        json!({ "token_id": token_id, "state_before": token.state }),
    );
    let job = Job::RevokeToken {
        token_id: token_id.to_owned(),
        at: now,
    };
    match state.writer.submit(job.audited(vec![event])).await {
        Ok(()) => {}
        Err(WriteError::TokenUnavailable) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "token_used",
                format!(
                    "token {token_id} was used or revoked by a concurrent request; nothing changed"
                ),
            ));
        }
        Err(error) => return Err(ApiError::internal("revoking the token", &error)),
    }
    tracing::info!(target: "ironroot::audit", admin, token.id = %token_id, "token revoked");
    let token = state
        .readers
        .with(|connection| admin_queries::find_token_by_id(connection, now, token_id))?
        .ok_or_else(|| ApiError::internal("reading the revoked token", &"the row is gone"))?;
    Ok(json_response(
        StatusCode::OK,
        &RevokeTokenResponse { token },
    ))
}

fn search_certificates(
    state: &AppState,
    params: &Query,
    now: i64,
) -> Result<Response<Body>, ApiError> {
    params.allow(&[
        "limit",
        "offset",
        "serial",
        "name",
        "name_contains",
        "profile",
        "expiring_before",
        "status",
        "kind",
    ])?;
    let (limit, offset) = params.page()?;
    let expiring_before = match params.get("expiring_before") {
        None => None,
        Some(value) => Some(parse_time("expiring_before", value)?),
    };
    let filter = CertificateFilter {
        serial: params.get("serial").map(normalise_serial),
        name: params.get("name").map(|name| name.to_ascii_lowercase()),
        name_contains: params
            .get("name_contains")
            .map(|name| name.to_ascii_lowercase()),
        profile: params.get("profile").map(str::to_owned),
        expiring_before,
        status: params
            .one_of("status", &["valid", "expired", "revoked", "superseded"])?
            .map(str::to_owned),
        kind: params
            .one_of("kind", &["leaf", "server", "admin"])?
            .map(str::to_owned),
    };
    let mut certificates = state.readers.with(|connection| {
        admin_queries::search_certificates(connection, now, &filter, limit + 1, offset)
    })?;
    let next_offset = next_page(&mut certificates, limit, offset);
    Ok(json_response(
        StatusCode::OK,
        &CertificateList {
            certificates,
            next_offset,
        },
    ))
}

fn show_certificate(state: &AppState, serial: &str, now: i64) -> Result<Response<Body>, ApiError> {
    let serial = normalise_serial(serial);
    let row = state
        .readers
        .with(|connection| admin_queries::certificate_detail(connection, now, &serial))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "certificate_not_found",
                format!(
                    "no certificate with serial `{serial}` was issued here; `ironroot-admin cert list` searches them"
                ),
            )
        })?;
    let parsed = CertificateInfo::parse(&row.cert_der, &format!("certificate {serial}"))
        .map_err(|error| ApiError::internal("parsing the stored certificate", &error))?;
    let detail = CertificateDetail {
        summary: row.summary,
        issuer: parsed.issuer,
        is_ca: parsed.is_ca,
        pem: pemfile::encode(pemfile::CERTIFICATE, &row.cert_der),
        request_id: row.request_id,
        superseded_by: row.superseded_by,
        revoked_at: row.revoked_at,
        revocation_reason: row.revocation_reason,
    };
    Ok(json_response(StatusCode::OK, &detail))
}

fn status(state: &AppState, now: i64) -> Result<Response<Body>, ApiError> {
    let intermediates = super::intermediate_statuses(state, OffsetDateTime::now_utc())?;
    let (counts, tokens_active, audit_rows) = state.readers.with(|connection| {
        let counts = admin_queries::certificate_counts(connection, now)?;
        let tokens = admin_queries::active_token_count(connection, now)?;
        let rows: i64 =
            connection.query_row("SELECT COUNT(*) FROM audit_log", [], |row| row.get(0))?;
        Ok((counts, tokens, rows))
    })?;
    let mut certificates: BTreeMap<String, i64> = ["valid", "expired", "revoked", "superseded"]
        .into_iter()
        .map(|status| (status.to_owned(), 0))
        .collect();
    certificates.extend(counts);
    Ok(json_response(
        StatusCode::OK,
        &StatusResponse {
            intermediates,
            certificates,
            tokens_active,
            audit_rows,
        },
    ))
}

fn audit_show(state: &AppState, params: &Query) -> Result<Response<Body>, ApiError> {
    params.allow(&["limit", "before"])?;
    let (limit, _) = params.page()?;
    let before = match params.get("before") {
        None => None,
        Some(value) => Some(value.parse::<i64>().map_err(|_| {
            invalid(format!(
                "`before` is `{value}`; it must be an audit seq number"
            ))
        })?),
    };
    let rows = state
        .readers
        .with(|connection| audit::recent(connection, limit, before))?;
    let entries = rows
        .into_iter()
        .map(|row| AuditEntry {
            seq: row.seq,
            at: row.at,
            action: row.action,
            actor: row.actor,
            request_id: row.request_id,
            details: serde_json::from_str(&row.details)
                .unwrap_or(serde_json::Value::String(row.details)),
            prev_hash: row.prev_hash,
            hash: row.hash,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &AuditList { entries }))
}

fn audit_verify(state: &AppState) -> Result<Response<Body>, ApiError> {
    let verification = state.readers.with(audit::verify)?;
    Ok(json_response(StatusCode::OK, &verification.into_response()))
}

/// Appends the `admin_request` row of a request from an authenticated admin.
/// A request without a valid admin credential is rejected by its endpoint
/// and recorded by [`audit_rejection`] instead.
pub(super) async fn audit_admin_request(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    method: &Method,
    path: &str,
) {
    let Some(certificate) = &connection.peer_certificate else {
        return;
    };
    let sha256 = Fingerprint::of(certificate.as_ref()).to_hex();
    let admin = match state
        .readers
        .with(|connection| queries::find_admin_credential(connection, &sha256))
    {
        Ok(Some(admin)) => admin,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(%error, "cannot look up the admin credential for the audit log");
            return;
        }
    };
    let event = AuditEvent::new(
        "admin_request",
        admin.name,
        Some(request_id),
        json!({ "method": method.as_str(), "path": path }),
    );
    if let Err(error) = state.writer.submit(Job::Audit(event)).await {
        tracing::error!(%error, "failed to append the admin_request audit row");
    }
}

/// Appends the `reject` row of a request that got a 4xx error. `actor`
/// is the token id of a well-formed bearer token, or `anonymous`.
pub(super) async fn audit_rejection(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    actor: &str,
    method: &Method,
    path: &str,
    error: &ApiError,
) {
    let event = AuditEvent::new(
        "reject",
        actor,
        Some(request_id),
        json!({
            "method": method.as_str(),
            "path": truncate_for_audit(path),
            "status": error.status.as_u16(),
            "error": error.code,
            "reason": truncate_for_audit(&error.message),
            "client": connection.remote.ip().to_string(),
        }),
    );
    if let Err(error) = state.writer.submit(Job::Audit(event)).await {
        tracing::error!(%error, "failed to append the reject audit row");
    }
}

/// Longest path or reason, in characters, that a `reject` audit row keeps, so
/// an unauthenticated client cannot grow the database by kilobytes per request.
const MAX_AUDIT_TEXT_CHARS: usize = 256;

/// Cuts `text` to [`MAX_AUDIT_TEXT_CHARS`] characters, marking the cut.
fn truncate_for_audit(text: &str) -> String {
    match text.char_indices().nth(MAX_AUDIT_TEXT_CHARS) {
        Some((end, _)) => format!("{}... ({} bytes in all)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}

fn next_page<T>(rows: &mut Vec<T>, limit: u32, offset: u32) -> Option<u32> {
    if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        Some(offset + limit)
    } else {
        None
    }
}

fn normalise_serial(serial: &str) -> String {
    serial.replace(':', "").to_ascii_lowercase()
}

fn parse_time(key: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(seconds) = value.parse::<i64>() {
        return Ok(seconds);
    }
    let format = time::format_description::well_known::Rfc3339;
    if let Ok(time) = OffsetDateTime::parse(value, &format) {
        return Ok(time.unix_timestamp());
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &date_format)
        .map(|date| date.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            invalid(format!(
                "`{key}` is `{value}`; use a date (2026-12-31), RFC 3339 time or unix seconds"
            ))
        })
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// Decoded query parameters; each key at most once.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in query.split('&').filter(|part| !part.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = percent_decode(key)?;
            let value = percent_decode(value)?;
            if pairs.iter().any(|(existing, _)| *existing == key) {
                return Err(invalid(format!("query parameter `{key}` is given twice")));
            }
            pairs.push((key, value));
        }
        Ok(Self { pairs })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    fn allow(&self, keys: &[&str]) -> Result<(), ApiError> {
        match self
            .pairs
            .iter()
            .find(|(key, _)| !keys.contains(&key.as_str()))
        {
            None => Ok(()),
            Some((key, _)) => Err(invalid(format!(
                "unknown query parameter `{key}`; this endpoint accepts {}",
                keys.join(", ")
            ))),
        }
    }

    fn one_of<'a>(&'a self, key: &str, allowed: &[&str]) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) if allowed.contains(&value) => Ok(Some(value)),
            Some(value) => Err(invalid(format!(
                "`{key}` is `{value}`; use one of {}",
                allowed.join(", ")
            ))),
        }
    }

    fn page(&self) -> Result<(u32, u32), ApiError> {
        let number = |key: &str, default: u32| -> Result<u32, ApiError> {
            match self.get(key) {
                None => Ok(default),
                Some(value) => value.parse::<u32>().map_err(|_| {
                    invalid(format!("`{key}` is `{value}`; it must be a whole number"))
                }),
            }
        };
        let limit = number("limit", DEFAULT_PAGE)?;
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid(format!(
                "`limit` is {limit}; it must be between 1 and {MAX_PAGE}"
            )));
        }
        Ok((limit, number("offset", 0)?))
    }
}

fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| invalid(format!("invalid percent-encoding in `{text}`")))?;
                decoded.push(hex);
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded)
        .map_err(|_| invalid(format!("query value `{text}` is not UTF-8 after decoding")))
}
