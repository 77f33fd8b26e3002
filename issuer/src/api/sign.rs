//! `POST /v1/sign`: a bootstrap token and a CSR in, a certificate out.
//!
//! The order of checks keeps the cheap ones first and the token unconsumed
//! until a certificate exists: header, body, token state, CSR signature, name
//! scope, profile, signature, and finally one writer job that consumes the
//! token and stores the certificate together. The response is sent only after that job
//! has committed.

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Request, Response, StatusCode};
use ironroot_core::api::SignRequest;
use ironroot_core::csr;
use ironroot_core::names::NamePattern;
use time::OffsetDateTime;

use super::{ApiError, AppState, Body, json_response, parse_json, policy_gate, read_body};
use crate::audit;
use crate::authority::tokens::{self, BearerError, TokenHash};
use crate::storage::queries::{self, TokenRecord};
use crate::storage::writer::{Job, WriteError};

pub(super) async fn sign(
    state: &AppState,
    request_id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| value.as_bytes());
    let token = tokens::parse_bearer(header).map_err(bearer_error)?;
    let token_id = token.token_id();
    tracing::Span::current().record("token.id", token_id.as_str());

    let body = read_body(request, state.config.max_body_bytes).await?;
    let sign_request: SignRequest = parse_json(&body)?;

    // The token is looked up before the CSR is verified, so a request with an
    // unknown, used or expired token costs no signature check.
    let now = OffsetDateTime::now_utc();
    let record = usable_token(state, &token, &token_id, now)?;
    let csr = csr::parse_and_verify(sign_request.csr.as_bytes()).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_csr", error.to_string())
    })?;
    check_scope(&record, &csr.names)?;
    let profile = policy_gate::profile(state, record.profile.as_deref())?;
    let policy_gate::Signed {
        mut issued,
        response,
    } = policy_gate::sign_under_profile(state, profile, &csr, sign_request.validity_seconds, now)?;
    issued.record.token_id = Some(token_id.clone());
    issued.record.request_id = Some(request_id.to_owned());

    let subject = issued.record.subject.clone();
    let names = issued.record.names.join(",");
    let events = audit::issued_events(&issued.record, Some(request_id), Some(&profile.name));
    let job = Job::StoreIssued {
        certificate: issued.record,
        token_hash: Some(token.to_hex()),
        profile: profile.name.clone(),
        supersedes: None,
    };
    match state.writer.submit(job.audited(events)).await {
        Ok(()) => {}
        Err(WriteError::TokenUnavailable) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_used",
                format!(
                    "token {token_id} was used by a concurrent request; ask an operator for a new token"
                ),
            ));
        }
        Err(error) => return Err(ApiError::internal("storing the certificate", &error)),
    }
    tracing::info!(
        target: "ironroot::audit",
        serial = %response.serial,
        subject = %subject,
        names = %names,
        token.id = %token_id,
        request.id = %request_id,
        not_after = %ironroot_core::duration::format_time(response.not_after),
        profile = %profile.name,
        "certificate issued"
    );
    Ok(json_response(StatusCode::OK, &response))
}

fn bearer_error(error: BearerError) -> ApiError {
    match error {
        BearerError::Missing => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_missing",
            "send the bootstrap token as `Authorization: Bearer irt_...`",
        ),
        BearerError::Malformed => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_invalid",
            "the bearer token is not an IronRoot bootstrap token (`irt_` followed by 43 base64url characters)",
        ),
    }
}

/// Looks the token up and rejects it when unknown, used or expired. The
/// writer checks used and expired again atomically when it consumes the token.
fn usable_token(
    state: &AppState,
    token: &TokenHash,
    token_id: &str,
    now: OffsetDateTime,
) -> Result<TokenRecord, ApiError> {
    let hash = token.to_hex();
    let record = state
        .readers
        .with(|connection| queries::find_token(connection, &hash))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_invalid",
                format!(
                    "token {token_id} is not known to this issuer; ask an operator for a token"
                ),
            )
        })?;
    if let Some(revoked_at) = record.revoked_at {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_revoked",
            format!(
                "token {token_id} was revoked by an operator at {}; ask an operator for a new token",
                format_time(revoked_at)
            ),
        ));
    }
    if let Some(used_at) = record.used_at {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_used",
            format!(
                "token {token_id} was already used at {}; tokens are single-use, so ask an operator for a new one",
                format_time(used_at)
            ),
        ));
    }
    if now.unix_timestamp() >= record.expires_at {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            format!(
                "token {token_id} expired at {}; ask an operator for a new token",
                format_time(record.expires_at)
            ),
        ));
    }
    Ok(record)
}

fn check_scope(
    record: &TokenRecord,
    names: &[ironroot_core::names::SubjectName],
) -> Result<(), ApiError> {
    let patterns = record
        .names
        .iter()
        .map(|name| NamePattern::parse_normalized(name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::internal("reading the token's name patterns", &error))?;
    match tokens::first_disallowed(&patterns, names) {
        None => Ok(()),
        Some(name) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "name_not_allowed",
            format!(
                "the name `{name}` is not allowed by token {}, which allows: {}",
                record.token_id,
                record.names.join(", ")
            ),
        )),
    }
}

/// Formats unix seconds as RFC 3339, falling back to the number itself.
pub(super) fn format_time(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|time| {
            time.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix_seconds.to_string())
}
