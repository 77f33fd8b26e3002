//! `POST /v1/admin/tokens`: an operator with an admin credential creates a
//! single-use bootstrap token.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use ironroot_core::Fingerprint;
use ironroot_core::api::{CreateTokenRequest, CreateTokenResponse};
use ironroot_core::csr::MAX_NAMES;
use ironroot_core::names::NamePattern;
use time::{Duration, OffsetDateTime};

use super::sign::format_time;
use super::{ApiError, AppState, Body, ConnectionInfo, json_response, parse_json, read_body};
use crate::audit::AuditEvent;
use crate::authority::tokens;
use crate::storage::queries::{self, AdminCredentialRecord, TokenRecord};
use crate::storage::writer::Job;

pub(super) async fn create(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(state, connection)?;
    let body = read_body(request, state.config.max_body_bytes).await?;
    let create: CreateTokenRequest = parse_json(&body)?;
    let patterns = parse_patterns(&create.names)?;
    let ttl = token_ttl(state, create.ttl_seconds)?;
    let profile = token_profile(state, create.profile.as_deref(), &patterns)?;

    let now = OffsetDateTime::now_utc();
    let expires_at = now + ttl;
    let (token, hash) =
        tokens::generate().map_err(|error| ApiError::internal("generating the token", &error))?;
    let token_id = hash.token_id();
    let names: Vec<String> = patterns.iter().map(ToString::to_string).collect();
    let record = TokenRecord {
        token_hash: hash.to_hex(),
        token_id: token_id.clone(),
        names: names.clone(),
        created_at: now.unix_timestamp(),
        expires_at: expires_at.unix_timestamp(),
        created_by: admin.name.clone(),
        used_at: None,
        used_by_serial: None,
        profile: Some(profile.clone()),
        revoked_at: None,
    };
    let event = AuditEvent::new(
        "token_create",
        admin.name.clone(),
        Some(request_id),
        serde_json::json!({
            "token_id": token_id,
            "names": names,
            "expires_at": expires_at.unix_timestamp(),
            "profile": profile,
        }),
    );
    state
        .writer
        .submit(
            Job::StoreTokenWithProfile {
                token: record,
                profile: profile.clone(),
            }
            .audited(vec![event]),
        )
        .await
        .map_err(|error| ApiError::internal("storing the token", &error))?;
    tracing::info!(
        target: "ironroot::audit",
        admin = %admin.name,
        token.id = %token_id,
        names = %names.join(","),
        profile = %profile,
        expires_at = %format_time(expires_at.unix_timestamp()),
        "token created"
    );
    // NOTE: serde_json copies the token into the response buffer, which is not
    // wiped after it is sent; the `Zeroizing` original is.
    let response = CreateTokenResponse {
        id: token_id,
        token: token.as_str().to_owned(),
        names,
        profile: Some(profile),
        expires_at: expires_at.replace_nanosecond(0).unwrap_or(expires_at),
    };
    Ok(json_response(StatusCode::CREATED, &response))
}

/// Returns the admin credential of the client certificate, or 403.
pub(super) fn authenticate(
    state: &AppState,
    connection: &ConnectionInfo,
) -> Result<AdminCredentialRecord, ApiError> {
    let forbidden = |reason: &str| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_required",
            format!(
                "{reason}; connect with an admin credential from `ironroot-issuer admin-credential`"
            ),
        )
    };
    let certificate = connection
        .peer_certificate
        .as_ref()
        .ok_or_else(|| forbidden("this endpoint requires a TLS client certificate"))?;
    let sha256 = Fingerprint::of(certificate.as_ref()).to_hex();
    let credential = state
        .readers
        .with(|connection| queries::find_admin_credential(connection, &sha256))?
        .ok_or_else(|| forbidden("the client certificate is not a registered admin credential"))?;
    if credential.not_after <= OffsetDateTime::now_utc().unix_timestamp() {
        return Err(forbidden(&format!(
            "the admin credential `{}` expired at {}",
            credential.name,
            format_time(credential.not_after)
        )));
    }
    // Revoking the credential's certificate is how an operator withdraws it.
    let revoked_at = state
        .readers
        .with(|connection| queries::revoked_at(connection, &credential.serial))?;
    if let Some(revoked_at) = revoked_at {
        return Err(forbidden(&format!(
            "the admin credential `{}` (serial {}) was revoked at {}",
            credential.name,
            credential.serial,
            format_time(revoked_at)
        )));
    }
    Ok(credential)
}

fn parse_patterns(names: &[String]) -> Result<Vec<NamePattern>, ApiError> {
    let invalid =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
    if names.is_empty() {
        return Err(invalid(
            "`names` is empty; list the DNS names, `*.suffix` patterns or IP addresses the token allows"
                .to_owned(),
        ));
    }
    if names.len() > MAX_NAMES {
        return Err(invalid(format!(
            "`names` lists {} entries; the limit is {MAX_NAMES}",
            names.len()
        )));
    }
    let mut patterns: Vec<NamePattern> = Vec::with_capacity(names.len());
    for name in names {
        let pattern =
            NamePattern::parse_normalized(name).map_err(|error| invalid(error.to_string()))?;
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }
    Ok(patterns)
}

fn token_ttl(state: &AppState, requested: Option<u64>) -> Result<Duration, ApiError> {
    let Some(seconds) = requested else {
        return Ok(state.config.token_ttl);
    };
    let max = state.config.max_token_ttl;
    let ttl = i64::try_from(seconds)
        .ok()
        .map(Duration::seconds)
        .filter(|ttl| *ttl <= max && seconds > 0);
    ttl.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "`ttl_seconds` is {seconds}; it must be between 1 and {} (max_token_ttl = {})",
                max.whole_seconds(),
                ironroot_core::duration::format(max)
            ),
        )
    })
}

/// Returns the profile a new token is bound to (`default` when the request
/// names none), after checking that the profile allows every token name.
fn token_profile(
    state: &AppState,
    requested: Option<&str>,
    patterns: &[NamePattern],
) -> Result<String, ApiError> {
    let name = requested.unwrap_or(crate::authority::policy::DEFAULT_PROFILE);
    let profile = state.config.profiles.get(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "`profile` is `{name}`, which is not configured; configured profiles: {}",
                super::policy_gate::configured(state)
            ),
        )
    })?;
    let names: Vec<_> = patterns
        .iter()
        .map(|pattern| pattern.name().clone())
        .collect();
    profile
        .check_names(&names)
        .map_err(super::policy_gate::policy_error)?;
    Ok(profile.name.clone())
}
