//! The public revocation endpoints, served on the HTTPS listener and on the
//! plain-HTTP `crl_listen` listener: `GET /v1/crl`, `GET /v1/crl/<sha256>`,
//! `POST /v1/ocsp` and `GET /v1/ocsp/<base64 request>`.
//!
//! CRLs and OCSP responses are signed by the intermediate, so they need no
//! TLS: a relying party checks the signature, not the transport.

use std::sync::Arc;

use base64::Engine;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use ironroot_core::api::{CRL_PATH, OCSP_PATH};
use time::OffsetDateTime;

use super::{ApiError, AppState, Body, method_not_allowed, read_body};
use crate::authority::ActiveCa;
use crate::revocation::crl::Crl;
use crate::revocation::ocsp::{self, CertStatus, ErrorStatus, ResponseTimes};
use crate::storage::queries;

/// Largest OCSP request body accepted, in bytes; a request for 32
/// certificates with a nonce is far smaller.
const MAX_OCSP_REQUEST: usize = 16 * 1024;

/// Returns whether `path` is one of the public revocation paths.
pub(super) fn is_public_path(path: &str) -> bool {
    path == CRL_PATH
        || path == OCSP_PATH
        || path.starts_with("/v1/crl/")
        || path.starts_with("/v1/ocsp/")
}

pub(super) async fn route(
    state: &AppState,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = request.uri().path().to_owned();
    if path == CRL_PATH || path.starts_with("/v1/crl/") {
        if request.method() != Method::GET {
            return Err(method_not_allowed(&path, request.method(), &Method::GET));
        }
        return crl(state, &path).await;
    }
    if path == OCSP_PATH {
        if request.method() != Method::POST {
            return Err(method_not_allowed(&path, request.method(), &Method::POST));
        }
        let body = read_body(request, MAX_OCSP_REQUEST).await?;
        return Ok(ocsp_response(state, &body));
    }
    if request.method() != Method::GET {
        return Err(method_not_allowed(&path, request.method(), &Method::GET));
    }
    let encoded = path.trim_start_matches("/v1/ocsp/");
    match decode_get_request(encoded) {
        Some(der) => Ok(ocsp_response(state, &der)),
        None => {
            tracing::info!("OCSP GET request is not base64");
            Ok(der_response(
                ocsp::error_response(ErrorStatus::MalformedRequest),
                "application/ocsp-response",
            ))
        }
    }
}

async fn crl(state: &AppState, path: &str) -> Result<Response<Body>, ApiError> {
    let ca = match path.strip_prefix("/v1/crl/") {
        None => state.intermediates.active(),
        Some(sha256) => {
            let normalised = super::intermediates::normalise_sha256(sha256).unwrap_or_default();
            state
                .intermediates
                .by_sha256(&normalised)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        format!(
                            "no loaded intermediate has SHA-256 `{}`; expired intermediates have no CRL",
                            super::shorten(sha256)
                        ),
                    )
                })?
        }
    };
    let crl = current_crl(state, &ca).await?;
    let mut response = der_response(crl.der.clone(), "application/pkix-crl");
    let max_age = (crl.next_update - OffsetDateTime::now_utc())
        .whole_seconds()
        .clamp(0, 3600);
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    Ok(response)
}

/// Returns the CA's CRL, generating one when none exists yet or the cached
/// one is past nextUpdate (the refresh task replaces CRLs earlier than that).
async fn current_crl(state: &AppState, ca: &ActiveCa) -> Result<Arc<Crl>, ApiError> {
    match state.crls.current(ca.id) {
        Some(crl) if crl.next_update > OffsetDateTime::now_utc() => Ok(crl),
        _ => state
            .crls
            .regenerate(ca, &state.readers, &state.writer)
            .await
            .map_err(|error| ApiError::internal("generating the CRL", &error)),
    }
}

/// Decodes the GET form of RFC 6960 appendix A.1: the DER request in base64,
/// then URL-encoded. The URL-safe alphabet is accepted as well.
fn decode_get_request(encoded: &str) -> Option<Vec<u8>> {
    let mut text = String::with_capacity(encoded.len());
    let mut bytes = encoded.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let high = bytes.next()?;
            let low = bytes.next()?;
            let pair = [high, low];
            let hex = std::str::from_utf8(&pair).ok()?;
            text.push(char::from(u8::from_str_radix(hex, 16).ok()?));
        } else {
            text.push(char::from(byte));
        }
    }
    let trimmed = text.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .ok()
}

/// Answers one OCSP request. Every outcome is an OCSP response with HTTP 200,
/// as RFC 6960 appendix A.1 expects; errors use the response status.
fn ocsp_response(state: &AppState, der: &[u8]) -> Response<Body> {
    let body = match answer(state, der) {
        Ok(body) => body,
        Err(status) => ocsp::error_response(status),
    };
    der_response(body, "application/ocsp-response")
}

fn answer(state: &AppState, der: &[u8]) -> Result<Vec<u8>, ErrorStatus> {
    let request = ocsp::parse_request(der).map_err(|reason| {
        tracing::info!(%reason, "malformed OCSP request");
        ErrorStatus::MalformedRequest
    })?;
    let mut signer: Option<Arc<ActiveCa>> = None;
    let mut answers = Vec::with_capacity(request.cert_ids.len());
    for cert_id in request.cert_ids {
        let ca = state
            .intermediates
            .by_cert_id(cert_id.hash, &cert_id.issuer_name_hash, &cert_id.issuer_key_hash)
            .ok_or_else(|| {
                tracing::info!(serial = %cert_id.serial, "OCSP request names an issuer this responder does not serve");
                ErrorStatus::Unauthorized
            })?;
        if signer.as_ref().is_some_and(|signer| signer.id != ca.id) {
            tracing::info!("OCSP request names certificates of several intermediates");
            return Err(ErrorStatus::Unauthorized);
        }
        let status = certificate_status(state, &ca, &cert_id.serial)?;
        tracing::debug!(serial = %cert_id.serial, ?status, "OCSP status");
        answers.push((cert_id, status));
        signer = Some(ca);
    }
    let Some(ca) = signer else {
        return Err(ErrorStatus::MalformedRequest);
    };
    let now = OffsetDateTime::now_utc();
    let times = ResponseTimes {
        now,
        next_update: now + state.config.crl_validity,
    };
    ocsp::signed_response(&ca, &answers, request.nonce.as_deref(), times).map_err(|error| {
        tracing::error!(%error, "failed to sign an OCSP response");
        ErrorStatus::InternalError
    })
}

fn certificate_status(
    state: &AppState,
    ca: &ActiveCa,
    serial: &str,
) -> Result<CertStatus, ErrorStatus> {
    let status = state
        .readers
        .with(|connection| queries::certificate_status(connection, serial))
        .map_err(|error| {
            tracing::error!(%error, "OCSP status lookup failed");
            ErrorStatus::InternalError
        })?;
    let Some(status) = status.filter(|status| status.ca_id == ca.id) else {
        return Ok(CertStatus::Unknown);
    };
    match status.revocation {
        None => Ok(CertStatus::Good),
        Some(revocation) => Ok(CertStatus::Revoked {
            at: OffsetDateTime::from_unix_timestamp(revocation.revoked_at)
                .map_err(|_| ErrorStatus::InternalError)?,
            reason: revocation.reason,
        }),
    }
}

fn der_response(der: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(der)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
