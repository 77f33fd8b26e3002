//! `GET /v1/admin/intermediates` and `POST /v1/admin/intermediates/activate`:
//! list the imported intermediates and switch the one that signs, without a
//! restart.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use ironroot_core::api::{ActivateRequest, IntermediateStatus, IntermediatesResponse};
use time::{Duration, OffsetDateTime};

use super::admin_tokens::authenticate;
use super::sign::format_time;
use super::{ApiError, AppState, Body, ConnectionInfo, json_response, parse_json, read_body};
use crate::audit::AuditEvent;
use crate::authority::ActiveCa;
use crate::authority::registry;
use crate::storage::queries::{self, CaRecord};
use crate::storage::writer::Job;

pub(super) fn list(
    state: &AppState,
    connection: &ConnectionInfo,
) -> Result<Response<Body>, ApiError> {
    authenticate(state, connection)?;
    let intermediates = statuses(state, OffsetDateTime::now_utc())?;
    Ok(json_response(
        StatusCode::OK,
        &IntermediatesResponse { intermediates },
    ))
}

/// Returns the status of every imported intermediate at `now`, newest import
/// first, with an expiry warning for those within `expiry_warning` of notAfter.
pub fn statuses(
    state: &AppState,
    now: OffsetDateTime,
) -> Result<Vec<IntermediateStatus>, ApiError> {
    let records = state.readers.with(queries::list_cas)?;
    let active = state.intermediates.active();
    Ok(records
        .into_iter()
        .map(|record| {
            status(
                &record,
                record.sha256 == active.sha256,
                state.intermediates.by_sha256(&record.sha256).is_some(),
                state.config.expiry_warning,
                now,
            )
        })
        .collect())
}

/// Logs a warning for each imported intermediate within `expiry_warning` of
/// its notAfter. The daemon calls it at start-up and then daily.
pub fn log_expiry_warnings(state: &AppState) {
    let now = OffsetDateTime::now_utc();
    let records = match state.readers.with(queries::list_cas) {
        Ok(records) => records,
        Err(error) => {
            tracing::error!(%error, "cannot read the intermediates to check their expiry");
            return;
        }
    };
    for record in records {
        if record.not_after <= now.unix_timestamp() {
            continue;
        }
        if let Some(warning) = expiry_warning(&record, state.config.expiry_warning, now) {
            tracing::warn!(
                ca.sha256 = %record.sha256,
                ca.subject = %record.subject,
                "intermediate {warning}"
            );
        }
    }
}

/// Describes one intermediate.
fn status(
    record: &CaRecord,
    active: bool,
    loaded: bool,
    warning_window: Duration,
    now: OffsetDateTime,
) -> IntermediateStatus {
    let left = record.not_after - now.unix_timestamp();
    let days_left = left.div_euclid(86_400);
    let expiry_warning = expiry_warning(record, warning_window, now);
    IntermediateStatus {
        sha256: record.sha256.clone(),
        subject: record.subject.clone(),
        not_before: timestamp(record.not_before),
        not_after: timestamp(record.not_after),
        active,
        loaded,
        days_left,
        expiry_warning,
    }
}

/// Returns a warning when `record` expires within `window` of `now`.
fn expiry_warning(record: &CaRecord, window: Duration, now: OffsetDateTime) -> Option<String> {
    let left = record.not_after - now.unix_timestamp();
    if left <= 0 {
        return Some(format!(
            "expired at {}; certificates it issued have expired too",
            format_time(record.not_after)
        ));
    }
    if left > window.whole_seconds() {
        return None;
    }
    Some(format!(
        "expires at {} (in {} days); import a new intermediate and activate it before then",
        format_time(record.not_after),
        left / 86_400
    ))
}

fn timestamp(unix_seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(super) async fn activate(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let admin = authenticate(state, connection)?;
    let body = read_body(request, state.config.max_body_bytes).await?;
    let activate: ActivateRequest = parse_json(&body)?;
    let sha256 = normalise_sha256(&activate.sha256).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "`{}` is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
                activate.sha256
            ),
        )
    })?;
    let record = state
        .readers
        .with(|connection| queries::find_ca(connection, &sha256))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "intermediate_not_found",
                format!(
                    "no intermediate with SHA-256 {sha256} is imported; import its bundle with `ironroot-issuer import` first"
                ),
            )
        })?;
    let previous = state.intermediates.active();
    if previous.sha256 == sha256 {
        let intermediates = statuses(state, OffsetDateTime::now_utc())?;
        return Ok(json_response(
            StatusCode::OK,
            &IntermediatesResponse { intermediates },
        ));
    }
    let ca = load(state, record)?;
    let event = AuditEvent::new(
        "activate",
        admin.name.clone(),
        Some(request_id),
        serde_json::json!({
            "sha256": ca.sha256,
            "subject": ca.certificate().subject,
            "previous": previous.sha256,
        }),
    );
    state
        .writer
        .submit(Job::ActivateCa(ca.id).audited(vec![event]))
        .await
        .map_err(|error| ApiError::internal("recording the activation", &error))?;
    state.intermediates.set_active(ca.clone());
    let subject = &ca.certificate().subject;
    let sha256 = &ca.sha256;
    let previous_sha256 = &previous.sha256;
    tracing::info!(
        target: "ironroot::audit",
        admin = %admin.name,
        ca.sha256 = %sha256,
        ca.subject = %subject,
        previous.sha256 = %previous_sha256,
        request.id = %request_id,
        "intermediate activated"
    );
    if state.crls.current(ca.id).is_none()
        && let Err(error) = state
            .crls
            .regenerate(&ca, &state.readers, &state.writer)
            .await
    {
        tracing::error!(ca.sha256 = %sha256, %error, "failed to publish the first CRL of the activated intermediate");
    }
    let intermediates = statuses(state, OffsetDateTime::now_utc())?;
    Ok(json_response(
        StatusCode::OK,
        &IntermediatesResponse { intermediates },
    ))
}

/// Returns the loaded CA for `record`, loading its key when it was imported
/// after start-up, and checks that it is valid now.
fn load(state: &AppState, record: CaRecord) -> Result<Arc<ActiveCa>, ApiError> {
    let now = OffsetDateTime::now_utc();
    if let Some(ca) = state.intermediates.by_sha256(&record.sha256) {
        if !ca.certificate().is_valid_at(now) {
            return Err(unusable(&record));
        }
        return Ok(ca);
    }
    if record.not_before > now.unix_timestamp() || record.not_after <= now.unix_timestamp() {
        return Err(unusable(&record));
    }
    let mut ca = ActiveCa::load_record(&state.data_dir, record, now)
        .map_err(|error| ApiError::internal("loading the intermediate", &error))?;
    registry::configure(&mut ca, &state.config);
    let ca = Arc::new(ca);
    state.intermediates.insert(ca.clone());
    Ok(ca)
}

fn unusable(record: &CaRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "intermediate_unusable",
        format!(
            "intermediate {} is valid from {} to {}, which does not include now; it cannot sign",
            record.sha256,
            format_time(record.not_before),
            format_time(record.not_after)
        ),
    )
}

/// Normalises a SHA-256 fingerprint to 64 lower-case hex digits.
pub fn normalise_sha256(text: &str) -> Option<String> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digits)
}
