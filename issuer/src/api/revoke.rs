//! `POST /v1/admin/revoke`: an operator revokes a certificate by serial.
//!
//! The revocation and its audit row are one writer job, so they commit
//! together. The CRL of the issuing intermediate is regenerated before the
//! response, so the response names the CRL number that lists the serial.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use ironroot_core::api::{RevokeRequest, RevokeResponse};
use time::OffsetDateTime;

use super::admin_tokens::authenticate;
use super::sign::format_time;
use super::{ApiError, AppState, Body, ConnectionInfo, json_response, parse_json, read_body};
use crate::audit::AuditEvent;
use crate::revocation::{parse_serial, reason};
use crate::storage::queries::{self, RevocationRecord};
use crate::storage::writer::{Job, WriteError};

pub(super) async fn revoke(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(state, connection)?;
    let body = read_body(request, state.config.max_body_bytes).await?;
    let revoke: RevokeRequest = parse_json(&body)?;
    let invalid =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
    let (serial, _) = parse_serial(&revoke.serial).map_err(invalid)?;
    let code = reason::code(&revoke.reason).ok_or_else(|| {
        invalid(format!(
            "`{}` is not a revocation reason this issuer accepts; use one of: {}",
            revoke.reason,
            reason::allowed()
        ))
    })?;
    let reason_name = reason::name(code);

    let status = state
        .readers
        .with(|connection| queries::certificate_status(connection, &serial))?
        .ok_or_else(|| not_found(&serial))?;
    let now = OffsetDateTime::now_utc();
    let revocation = RevocationRecord {
        serial: serial.clone(),
        revoked_at: now.unix_timestamp(),
        reason: code,
        request_id: Some(request_id.to_owned()),
    };
    let event = AuditEvent::new(
        "revoke",
        admin.name.clone(),
        Some(request_id),
        serde_json::json!({
            "serial": serial,
            "subject": status.subject,
            "reason": reason_name,
        }),
    );
    match state
        .writer
        .submit(Job::Revoke(revocation).audited(vec![event]))
        .await
    {
        Ok(()) => {}
        Err(WriteError::CertificateNotFound) => return Err(not_found(&serial)),
        Err(WriteError::AlreadyRevoked(existing)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_revoked",
                format!(
                    "certificate {serial} was already revoked at {} with reason {}; nothing changed",
                    format_time(existing.revoked_at),
                    reason::name(existing.reason)
                ),
            ));
        }
        Err(WriteError::CertificateExpired(not_after)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "certificate_expired",
                format!(
                    "certificate {serial} expired at {}; relying parties already reject it, and expired certificates are not added to CRLs",
                    format_time(not_after)
                ),
            ));
        }
        Err(error) => return Err(ApiError::internal("recording the revocation", &error)),
    }
    tracing::info!(
        target: "ironroot::audit",
        %serial,
        subject = %status.subject,
        reason = %reason_name,
        admin = %admin.name,
        request.id = %request_id,
        "certificate revoked"
    );

    let ca = state.intermediates.by_id(status.ca_id);
    let (crl_number, intermediate_sha256) = match ca {
        Some(ca) => {
            let crl = state
                .crls
                .regenerate(&ca, &state.readers, &state.writer)
                .await
                .map_err(|error| ApiError::internal("regenerating the CRL", &error))?;
            (crl.number, ca.sha256.clone())
        }
        None => {
            // The issuing intermediate is not loaded (expired or its key is
            // missing), so no CRL of it is published.
            tracing::warn!(%serial, ca.id = status.ca_id, "the revoked certificate's intermediate is not loaded; no CRL lists it");
            (0, String::new())
        }
    };
    let response = RevokeResponse {
        serial,
        subject: status.subject,
        reason: reason_name,
        revoked_at: now.replace_nanosecond(0).unwrap_or(now),
        intermediate_sha256,
        crl_number: u64::try_from(crl_number).unwrap_or(0),
    };
    Ok(json_response(StatusCode::OK, &response))
}

fn not_found(serial: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "certificate_not_found",
        format!(
            "no certificate with serial {serial} was issued by this issuer; check the serial (hex, as the sign response shows it)"
        ),
    )
}
