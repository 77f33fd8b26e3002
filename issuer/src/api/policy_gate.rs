//! Policy checks shared by `POST /v1/sign` and `POST /v1/renew`: the profile
//! of a request, its names and key, rate limits and the validity period.

use std::time::Instant;

use hyper::StatusCode;
use ironroot_core::api::SignResponse;
use ironroot_core::cert::CertificateInfo;
use ironroot_core::csr::VerifiedCsr;
use ironroot_core::names::SubjectName;
use ironroot_core::pemfile;
use ironroot_core::profile::Validity;
use time::{Duration, OffsetDateTime};

use super::sign::format_time;
use super::{ApiError, AppState};
use crate::authority::issue::{self, IssuedCertificate};
use crate::authority::policy::{DEFAULT_PROFILE, PolicyError, Profile};

/// Returns the configured profile `name` (`default` when `None`).
pub(super) fn profile<'a>(
    state: &'a AppState,
    name: Option<&str>,
) -> Result<&'a Profile, ApiError> {
    let name = name.unwrap_or(DEFAULT_PROFILE);
    state.config.profiles.get(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "profile_not_configured",
            format!(
                "the profile `{name}` is no longer configured on this issuer (configured: {}); ask an operator",
                configured(state)
            ),
        )
    })
}

/// Returns the configured profile names, comma-separated.
pub(super) fn configured(state: &AppState) -> String {
    let names: Vec<&str> = state.config.profiles.keys().map(String::as_str).collect();
    names.join(", ")
}

/// Turns a policy rejection into the API error.
pub(super) fn policy_error(error: PolicyError) -> ApiError {
    match error {
        PolicyError::NameNotAllowed { name, rule } => ApiError::new(
            StatusCode::FORBIDDEN,
            "name_not_allowed",
            format!("the name `{name}` is not allowed by {rule}"),
        ),
        PolicyError::KeyNotAllowed(message) => {
            ApiError::new(StatusCode::FORBIDDEN, "key_not_allowed", message)
        }
        PolicyError::LifetimeTooLong(message) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
    }
}

/// Checks the CSR's names and key against `profile`.
fn check_csr(profile: &Profile, csr: &VerifiedCsr) -> Result<(), ApiError> {
    profile.check_names(&csr.names).map_err(policy_error)?;
    profile.check_key(csr.key_type).map_err(policy_error)
}

/// Takes one request from the profile's bucket and from each name's bucket.
fn check_rate_limits(
    state: &AppState,
    profile: &Profile,
    names: &[SubjectName],
) -> Result<(), ApiError> {
    let now = Instant::now();
    let limited = |limited: crate::authority::ratelimit::Limited| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            limited.message,
        )
        .with_retry_after(limited.retry_after)
    };
    if let Some(limiter) = &state.limits.per_profile {
        limiter
            .check(&[profile.name.as_str()], now)
            .map_err(limited)?;
    }
    if let Some(limiter) = &state.limits.per_name {
        let keys: Vec<String> = names.iter().map(ToString::to_string).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        limiter.check(&keys, now).map_err(limited)?;
    }
    Ok(())
}

/// Chooses the validity of a certificate signed at `now`: notBefore is `now`
/// less the configured backdate (never before the CA's notBefore), notAfter
/// is `now + lifetime`. When that outlives the CA, the profile either cuts it
/// to the CA's notAfter and returns a notice, or rejects it with 409.
fn choose_validity(
    state: &AppState,
    ca: &CertificateInfo,
    profile: &Profile,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<(Validity, Option<String>), ApiError> {
    let not_before = (now - state.config.backdate).max(ca.validity.not_before);
    let wanted = now + lifetime;
    let ca_end = ca.validity.not_after;
    let (not_after, notice) = if wanted <= ca_end {
        (wanted, None)
    } else if profile.clamp_to_issuer {
        let notice = format!(
            "the lifetime was cut to end at {}, the notAfter of the intermediate; the request asked for {}",
            format_time(ca_end.unix_timestamp()),
            format_time(wanted.unix_timestamp())
        );
        (ca_end, Some(notice))
    } else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "validity_exceeds_issuer",
            format!(
                "the certificate would end at {}, after the intermediate's notAfter {}; profile `{}` sets clamp_to_issuer = false, so request a shorter validity_seconds",
                format_time(wanted.unix_timestamp()),
                format_time(ca_end.unix_timestamp()),
                profile.name
            ),
        ));
    };
    let validity = Validity::new(not_before, not_after)
        .map_err(|error| ApiError::internal("choosing the certificate validity", &error))?;
    Ok((validity, notice))
}

/// A certificate signed under a profile and the response body that returns it.
pub(super) struct Signed {
    /// The certificate and its database row.
    pub(super) issued: IssuedCertificate,
    /// The body of a successful sign or renew response, with the chain of the
    /// intermediate that signed and the notice when the lifetime was cut.
    pub(super) response: SignResponse,
}

/// Applies `profile` to a verified CSR (key, lifetime, rate limits, validity)
/// and signs it with the active intermediate. Shared by sign and renew.
pub(super) fn sign_under_profile(
    state: &AppState,
    profile: &Profile,
    csr: &VerifiedCsr,
    validity_seconds: Option<u64>,
    now: OffsetDateTime,
) -> Result<Signed, ApiError> {
    check_csr(profile, csr)?;
    let lifetime = profile.lifetime(validity_seconds).map_err(policy_error)?;
    check_rate_limits(state, profile, &csr.names)?;

    let ca = state.intermediates.active();
    let (validity, notice) = choose_validity(state, ca.certificate(), profile, now, lifetime)?;
    let usages = (profile.server_auth, profile.client_auth);
    let issued =
        issue::sign_leaf_with_usages(&ca, &csr.names, &csr.public_key_der, validity, now, usages)
            .map_err(|error| ApiError::internal("signing the certificate", &error))?;
    let response = SignResponse {
        serial: issued.record.serial.clone(),
        certificate: pemfile::encode(pemfile::CERTIFICATE, &issued.record.cert_der),
        chain: ca.intermediate_pem.clone(),
        root: ca.root_pem.clone(),
        not_before: validity.not_before,
        not_after: validity.not_after,
        notice,
    };
    Ok(Signed { issued, response })
}
