//! `POST /v1/renew`: a workload presents its current certificate as the TLS
//! client certificate and sends a CSR for the same key or a new one; no token
//! is needed.
//!
//! The TLS layer has verified the chain to the root (tolerating only expiry,
//! see `tls.rs`). Here the certificate must also be a workload certificate
//! stored by this issuer and signed by one of its intermediates, unrevoked,
//! not yet renewed, and unexpired or within `renewal_grace`. The new
//! certificate is stored and the old one marked `superseded_by` in one
//! writer transaction, so a certificate renews at most once.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use ironroot_core::api::RenewRequest;
use ironroot_core::cert::{self, CertificateInfo};
use ironroot_core::{Fingerprint, csr};
use time::OffsetDateTime;

use super::sign::format_time;
use super::{
    ApiError, AppState, Body, ConnectionInfo, json_response, parse_json, policy_gate, read_body,
};
use crate::audit::{self, AuditEvent};
use crate::storage::lineage::{self, RenewalState};
use crate::storage::writer::{Job, WriteError};

pub(super) async fn renew(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let (current, stored) = current_certificate(state, connection, now)?;

    let body = read_body(request, state.config.max_body_bytes).await?;
    let renew_request: RenewRequest = parse_json(&body)?;
    let csr = csr::parse_and_verify(renew_request.csr.as_bytes()).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_csr", error.to_string())
    })?;
    let profile = policy_gate::profile(state, stored.profile.as_deref())?;
    check_names_unchanged(&stored, &csr.names, profile.allow_name_change_on_renew)?;
    let policy_gate::Signed {
        mut issued,
        response,
    } = policy_gate::sign_under_profile(state, profile, &csr, renew_request.validity_seconds, now)?;
    issued.record.request_id = Some(request_id.to_owned());
    let rekeyed = csr.public_key_der != current.public_key_der;

    let subject = issued.record.subject.clone();
    let names = issued.record.names.join(",");
    let mut events = audit::issued_events(&issued.record, Some(request_id), Some(&profile.name));
    events.push(AuditEvent::new(
        "renew",
        format!("serial:{}", stored.serial),
        Some(request_id),
        serde_json::json!({
            "serial": issued.record.serial,
            "old_serial": stored.serial,
            "subject": subject,
            "names": issued.record.names,
            "rekeyed": rekeyed,
            "profile": profile.name,
        }),
    ));
    let job = Job::StoreIssued {
        certificate: issued.record,
        token_hash: None,
        profile: profile.name.clone(),
        supersedes: Some(stored.serial.clone()),
    };
    match state.writer.submit(job.audited(events)).await {
        Ok(()) => {}
        Err(WriteError::AlreadySuperseded) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "certificate_superseded",
                format!(
                    "certificate {} was renewed or revoked by a concurrent request; use the newest certificate",
                    stored.serial
                ),
            ));
        }
        Err(error) => return Err(ApiError::internal("storing the certificate", &error)),
    }
    tracing::info!(
        target: "ironroot::audit",
        serial = %response.serial,
        old_serial = %stored.serial,
        subject = %subject,
        names = %names,
        rekeyed,
        profile = %profile.name,
        request.id = %request_id,
        not_after = %ironroot_core::duration::format_time(response.not_after),
        "certificate renewed"
    );
    Ok(json_response(StatusCode::OK, &response))
}

/// Identifies the client certificate and checks that it may renew.
fn current_certificate(
    state: &AppState,
    connection: &ConnectionInfo,
    now: OffsetDateTime,
) -> Result<(CertificateInfo, RenewalState), ApiError> {
    let forbidden =
        |code: &'static str, message: String| ApiError::new(StatusCode::FORBIDDEN, code, message);
    let der = connection.peer_certificate.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "client_certificate_required",
            "renewal requires the current certificate as the TLS client certificate",
        )
    })?;
    let current = CertificateInfo::parse(der.as_ref(), "client certificate")
        .map_err(|error| forbidden("certificate_unknown", error.to_string()))?;
    let sha256 = Fingerprint::of(der.as_ref()).to_hex();
    let stored = state
        .readers
        .with(|connection| lineage::renewal_state(connection, &sha256))?
        .ok_or_else(|| {
            forbidden(
                "certificate_unknown",
                format!(
                    "the client certificate (serial {}) was not issued by this issuer",
                    current.serial_hex()
                ),
            )
        })?;
    if stored.kind != "leaf" {
        return Err(forbidden(
            "certificate_unknown",
            format!(
                "certificate {} is a `{}` certificate; only workload certificates renew",
                stored.serial, stored.kind
            ),
        ));
    }
    let issuer = state.intermediates.by_id(stored.ca_id).ok_or_else(|| {
        forbidden(
            "certificate_unknown",
            format!(
                "the intermediate that issued certificate {} is no longer loaded; enroll again with a token",
                stored.serial
            ),
        )
    })?;
    cert::verify_issued_by(&current, issuer.certificate())
        .map_err(|error| forbidden("certificate_unknown", error.to_string()))?;
    if let Some(revoked_at) = stored.revoked_at {
        return Err(forbidden(
            "certificate_revoked",
            format!(
                "certificate {} was revoked at {}; a revoked certificate cannot renew, so enroll again with a token",
                stored.serial,
                format_time(revoked_at)
            ),
        ));
    }
    if let Some(successor) = &stored.superseded_by {
        return Err(forbidden(
            "certificate_superseded",
            format!(
                "certificate {} was already renewed (by serial {successor}); renew with the newest certificate",
                stored.serial
            ),
        ));
    }
    check_expiry(state, &stored, now)?;
    Ok((current, stored))
}

fn check_expiry(
    state: &AppState,
    stored: &RenewalState,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let now = now.unix_timestamp();
    if now <= stored.not_after {
        return Ok(());
    }
    let expired = |detail: String| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "certificate_expired",
            format!(
                "certificate {} expired at {}; {detail}",
                stored.serial,
                format_time(stored.not_after)
            ),
        )
    };
    match state.config.renewal_grace {
        None => Err(expired(
            "renewing an expired certificate is not allowed (no renewal_grace is configured), so enroll again with a token".to_owned(),
        )),
        Some(grace) if now > stored.not_after + grace.whole_seconds() => Err(expired(format!(
            "the renewal grace of {} ended at {}, so enroll again with a token",
            ironroot_core::duration::format(grace),
            format_time(stored.not_after + grace.whole_seconds())
        ))),
        Some(grace) => {
            tracing::info!(
                serial = %stored.serial,
                grace = %ironroot_core::duration::format(grace),
                "renewing an expired certificate within renewal_grace"
            );
            Ok(())
        }
    }
}

fn check_names_unchanged(
    stored: &RenewalState,
    requested: &[ironroot_core::names::SubjectName],
    allow_change: bool,
) -> Result<(), ApiError> {
    if allow_change {
        return Ok(());
    }
    let mut old = stored.names.clone();
    old.sort();
    let mut new: Vec<String> = requested.iter().map(ToString::to_string).collect();
    new.sort();
    if old == new {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "name_not_allowed",
        format!(
            "a renewal must request the same names as certificate {} ({}), but the CSR requests {}; the profile does not set allow_name_change_on_renew",
            stored.serial,
            old.join(", "),
            new.join(", ")
        ),
    ))
}
