//! The HTTPS API: routing, request ids, JSON errors and the body limit. One
//! file per endpoint; `docs/api.md` documents them.

mod admin;
mod admin_tokens;
mod certs;
mod health;
mod intermediates;
mod policy_gate;
mod renew;
mod revocation;
mod revoke;
mod sign;

pub use intermediates::{log_expiry_warnings, normalise_sha256, statuses as intermediate_statuses};

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use ironroot_core::api::{
    ADMIN_ACTIVATE_PATH, ADMIN_INTERMEDIATES_PATH, ADMIN_REVOKE_PATH, ADMIN_TOKENS_PATH,
    CHAIN_PATH, CRL_PATH, ErrorResponse, HEALTH_PATH, OCSP_PATH, RENEW_PATH, REQUEST_ID_HEADER,
    ROOT_PATH, SIGN_PATH,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::CertificateDer;
use tracing::Instrument;

use crate::authority::registry::Intermediates;
use crate::config::Config;
use crate::revocation::crl::CrlStore;
use crate::storage::writer::Writer;
use crate::storage::{ReadPool, StorageError};

/// How long a client may take to send a request body once the headers arrived.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a request handler needs, shared by all connections.
pub struct AppState {
    /// Every loaded intermediate and the active one. Read the active one
    /// once per request with `intermediates.active()`.
    pub intermediates: Intermediates,
    /// The newest CRL of each loaded intermediate.
    pub crls: CrlStore,
    /// The validated configuration.
    pub config: Config,
    /// Rate limiters from `rate_limit_per_profile` and `rate_limit_per_name`.
    pub limits: crate::authority::ratelimit::Limits,
    /// Handle of the group-commit writer.
    pub writer: Writer,
    /// Read-only connections for lookups.
    pub readers: ReadPool,
    /// The data directory, for loading an intermediate imported while the
    /// daemon runs.
    pub data_dir: crate::datadir::DataDir,
}

impl AppState {
    /// Bundles the parts.
    pub fn new(
        intermediates: Intermediates,
        config: Config,
        writer: Writer,
        readers: ReadPool,
        data_dir: crate::datadir::DataDir,
    ) -> Self {
        let crls = CrlStore::new(config.crl_validity);
        let limits = crate::authority::ratelimit::Limits::new(&config);
        Self {
            limits,
            intermediates,
            crls,
            config,
            writer,
            readers,
            data_dir,
        }
    }
}

/// Maximum length, in characters, of a request path repeated in an error message.
const MAX_ECHOED_PATH_CHARS: usize = 128;

/// Cuts a client-supplied path for an error message, so a huge path is not
/// echoed into responses and logs in full.
pub(super) fn shorten(path: &str) -> String {
    match path.char_indices().nth(MAX_ECHOED_PATH_CHARS) {
        Some((end, _)) => format!("{}...", &path[..end]),
        None => path.to_owned(),
    }
}

/// Listener a connection arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The API listener (`listen`): every endpoint.
    Api,
    /// The plain-HTTP `crl_listen` listener: only the CRL and OCSP paths.
    Public,
}

/// Facts about the connection a request arrived on.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// The client's address.
    pub remote: SocketAddr,
    /// The client's end-entity certificate, which rustls verified against the
    /// root during the handshake. `None` when the client presented none.
    pub peer_certificate: Option<CertificateDer<'static>>,
    /// The listener the connection arrived on.
    pub listener: Listener,
}

/// The response body type of every endpoint.
pub type Body = Full<Bytes>;

/// An error response: status, stable code and a message for the caller.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    allow: Option<&'static str>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// Creates an error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            allow: None,
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header with `seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Creates a 500 response. The details go to the log, not to the caller.
    pub fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "{what} failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!(
                "{what} failed on the server; the daemon's log has the details under this request id"
            ),
        )
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        Self::internal("a database lookup", &error)
    }
}

/// Handles one request: assigns a request id, opens the request span, routes,
/// and turns every error into a JSON [`ErrorResponse`].
pub async fn handle(
    state: Arc<AppState>,
    connection: Arc<ConnectionInfo>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let request_id = new_request_id();
    let span = tracing::info_span!(
        "request",
        request.id = %request_id,
        http.method = %request.method(),
        http.path = %request.uri().path(),
        client.addr = %connection.remote,
        token.id = tracing::field::Empty,
    );
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let actor = request_actor(&request);
    let response = async {
        let result = route(&state, &connection, &request_id, request).await;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                // The public CRL and OCSP listener may face untrusted networks and
                // carries no authority, so its rejections are logged but not
                // written to the database.
                if error.status.is_client_error() && connection.listener == Listener::Api {
                    admin::audit_rejection(
                        &state,
                        &connection,
                        &request_id,
                        &actor,
                        &method,
                        &path,
                        &error,
                    )
                    .await;
                }
                error_response(&error, &request_id)
            }
        };
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "request finished"
        );
        response
    }
    .instrument(span)
    .await;
    Ok(with_request_id(response, &request_id))
}

async fn route(
    state: &AppState,
    connection: &ConnectionInfo,
    request_id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = request.uri().path();
    if revocation::is_public_path(path) {
        return revocation::route(state, request).await;
    }
    if connection.listener == Listener::Public {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no endpoint at `{}` on this plain-HTTP listener, which serves only {CRL_PATH} and {OCSP_PATH}; use the HTTPS listener",
                shorten(path)
            ),
        ));
    }
    if path.starts_with(admin::ADMIN_PREFIX) {
        admin::audit_admin_request(state, connection, request_id, request.method(), path).await;
        if let Some(result) = admin::route(state, connection, request_id, &request).await {
            return result;
        }
    }
    let allowed = match path {
        HEALTH_PATH | ROOT_PATH | CHAIN_PATH => Method::GET,
        SIGN_PATH | RENEW_PATH | ADMIN_TOKENS_PATH | ADMIN_REVOKE_PATH | ADMIN_ACTIVATE_PATH => {
            Method::POST
        }
        ADMIN_INTERMEDIATES_PATH => Method::GET,
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!(
                    "no endpoint at `{}`; see docs/api.md for the API",
                    shorten(path)
                ),
            ));
        }
    };
    if request.method() != allowed {
        return Err(method_not_allowed(path, request.method(), &allowed));
    }
    match path {
        HEALTH_PATH => Ok(health::health()),
        ROOT_PATH => Ok(certs::pem_chain(Bytes::from(
            state.intermediates.active().root_pem.clone(),
        ))),
        CHAIN_PATH => Ok(certs::pem_chain(Bytes::from(
            state.intermediates.active().chain_pem(),
        ))),
        SIGN_PATH => sign::sign(state, request_id, request).await,
        RENEW_PATH => renew::renew(state, connection, request_id, request).await,
        ADMIN_REVOKE_PATH => revoke::revoke(state, connection, request_id, request).await,
        ADMIN_INTERMEDIATES_PATH => intermediates::list(state, connection),
        ADMIN_ACTIVATE_PATH => {
            intermediates::activate(state, connection, request_id, request).await
        }
        _ => admin_tokens::create(state, connection, request_id, request).await,
    }
}

/// Returns the audit actor of a request: the token id of a well-formed bearer
/// token, or `anonymous`. Admin requests record the admin name in their own row.
fn request_actor(request: &Request<Incoming>) -> String {
    let header = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|value| value.as_bytes());
    match header {
        Some(_) => crate::authority::tokens::parse_bearer(header)
            .map(|token| token.token_id())
            .unwrap_or_else(|_| "anonymous".to_owned()),
        None => "anonymous".to_owned(),
    }
}

fn method_not_allowed(path: &str, method: &Method, allowed: &Method) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("`{path}` does not accept {method}; use {allowed}"),
    );
    error.allow = Some(if *allowed == Method::POST {
        "POST"
    } else {
        "GET"
    });
    error
}

/// Reads the whole request body, at most `limit` bytes.
pub async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let collected = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(request.into_body(), limit).collect(),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "the request body did not arrive within {} seconds",
                BODY_READ_TIMEOUT.as_secs()
            ),
        )
    })?;
    match collected {
        Ok(body) => Ok(body.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(error) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("failed to read the request body: {error}"),
        )),
    }
}

/// Parses a JSON body into `T`, or returns 400 `invalid_request` on failure.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the request body is not valid JSON for this endpoint: {error}"),
        )
    })
}

/// Builds a JSON response.
pub fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "response body does not serialise");
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

fn error_response(error: &ApiError, request_id: &str) -> Response<Body> {
    if error.status.is_server_error() {
        tracing::error!(status = error.status.as_u16(), error = error.code, reason = ?error.message, "request failed");
    } else {
        tracing::info!(status = error.status.as_u16(), error = error.code, reason = ?error.message, "request rejected");
    }
    let body = ErrorResponse {
        error: error.code.to_owned(),
        message: error.message.clone(),
        request_id: request_id.to_owned(),
    };
    let mut response = json_response(error.status, &body);
    if error.status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
    }
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(allow) = error.allow {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    response
}

fn with_request_id(mut response: Response<Body>, request_id: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Returns 16 random hex digits.
fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // The request id only correlates log lines; a clock-derived id is an
        // acceptable fallback when the system RNG is unavailable.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as u64)
            .unwrap_or(0);
        bytes = nanos.to_be_bytes();
    }
    ironroot_core::fingerprint::hex(&bytes)
}
