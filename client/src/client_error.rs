//! The error type of the client library.

use std::path::PathBuf;

use ironroot_core::Fingerprint;

/// Errors from talking to an IronRoot issuer. Messages name the server, the
/// path or the file involved; [`Error::hint`] suggests what a person can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server URL does not have the form `https://HOST:PORT`.
    #[error("invalid server URL `{url}`: {reason}")]
    InvalidServerUrl {
        /// The rejected URL.
        url: String,
        /// Reason the URL is invalid.
        reason: String,
    },
    /// A plain `http://` URL resolved to an address that is not loopback.
    #[error(
        "refusing plain HTTP to {server}: it resolved to {address}, which is not a loopback address"
    )]
    PlainHttpNotLoopback {
        /// The server URL.
        server: String,
        /// The non-loopback address.
        address: std::net::SocketAddr,
    },
    /// The host name did not resolve or no address accepted the connection.
    #[error("failed to connect to {server}: {source}")]
    Connect {
        /// The server URL.
        server: String,
        /// The last socket or resolver error.
        source: std::io::Error,
    },
    /// Connecting (TCP and TLS handshake) took longer than the connect timeout.
    #[error("connecting to {server} timed out after {seconds} s")]
    ConnectTimeout {
        /// The server URL.
        server: String,
        /// The connect timeout in seconds.
        seconds: u64,
    },
    /// The TLS handshake failed, for example because the server's certificate
    /// does not chain to the trusted root or does not name the host.
    #[error("TLS handshake with {server} failed: {source}")]
    Tls {
        /// The server URL.
        server: String,
        /// The handshake error; its inner error is a `rustls::Error`.
        source: std::io::Error,
    },
    /// The TLS configuration could not be built.
    #[error("invalid TLS configuration: {0}")]
    TlsConfig(String),
    /// A request could not be built from the caller's input.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A request did not complete within the request timeout.
    #[error("{method} {server}{path} timed out after {seconds} s")]
    RequestTimeout {
        /// The HTTP method.
        method: String,
        /// The server URL.
        server: String,
        /// The request path.
        path: String,
        /// The request timeout in seconds.
        seconds: u64,
    },
    /// The HTTP exchange failed at the protocol level.
    #[error("{method} {server}{path} failed: {}", render_chain(.source))]
    Http {
        /// The HTTP method.
        method: String,
        /// The server URL.
        server: String,
        /// The request path.
        path: String,
        /// The hyper error.
        source: hyper::Error,
    },
    /// The response body was larger than the client accepts.
    #[error("the response to {path} is larger than {limit} bytes")]
    ResponseTooLarge {
        /// The request path.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The server returned an `ErrorResponse` body.
    #[error(
        "the server rejected the request: {message} (HTTP {status}, error `{code}`, request id {request_id})"
    )]
    Server {
        /// HTTP status code.
        status: u16,
        /// Machine-readable error code, such as `token_expired`.
        code: String,
        /// The server's explanation, with control characters replaced.
        message: String,
        /// The request id to look up in the daemon's log.
        request_id: String,
        /// The `retry-after` header in seconds (sent with 429), when present.
        retry_after_seconds: Option<u64>,
    },
    /// The server returned a status or body that this client does not understand.
    #[error("unexpected response to {path}: HTTP {status}, {detail} (request id {request_id})")]
    UnexpectedResponse {
        /// The request path.
        path: String,
        /// HTTP status code.
        status: u16,
        /// Description of the problem with the response.
        detail: String,
        /// The `x-request-id` header, or `none`.
        request_id: String,
    },
    /// The root certificate served by the server is not the one the caller expected.
    #[error(
        "the root certificate served by {server} has SHA-256 fingerprint {actual}, but the expected fingerprint is {expected}"
    )]
    FingerprintMismatch {
        /// The server URL.
        server: String,
        /// The fingerprint the caller gave.
        expected: Fingerprint,
        /// The fingerprint of the certificate the server sent.
        actual: Fingerprint,
    },
    /// The certificate returned by the server failed local verification.
    #[error("the certificate issued by the server failed local verification: {0}")]
    IssuedCertificateInvalid(String),
    /// A credential file could not be used.
    #[error("invalid credential {path}: {reason}")]
    InvalidCredential {
        /// The file at fault.
        path: PathBuf,
        /// Reason the credential is unusable.
        reason: String,
    },
    /// An error from the shared library (files, PEM, keys, CSRs).
    #[error(transparent)]
    Core(#[from] ironroot_core::Error),
}

impl Error {
    /// Returns a suggestion for the person running the command, when there is one.
    pub fn hint(&self) -> Option<String> {
        let text = match self {
            Self::FingerprintMismatch { .. } => {
                "do not continue: confirm the server URL and the root fingerprint with your operator; a mismatch can mean another server is answering"
            }
            Self::Tls { source, .. } if is_certificate_error(source) => {
                "the server's certificate does not chain to the trusted root or does not name this host; check the server URL and the root"
            }
            Self::Connect { .. } | Self::ConnectTimeout { .. } => {
                "check that the issuer is running and that the host and port in the server URL are right"
            }
            Self::PlainHttpNotLoopback { .. } => "use an https:// URL",
            Self::Server { code, .. } => return server_hint(code).map(str::to_owned),
            Self::Core(ironroot_core::Error::PermissionsTooOpen { path, .. }) => {
                return Some(format!("run `chmod 600 {}`", path.display()));
            }
            _ => return None,
        };
        Some(text.to_owned())
    }

    /// Returns the HTTP status and the `retry-after` seconds when the server
    /// rejected the request with an error body.
    pub fn server_status(&self) -> Option<(u16, Option<u64>)> {
        match self {
            Self::Server {
                status,
                retry_after_seconds,
                ..
            } => Some((*status, *retry_after_seconds)),
            _ => None,
        }
    }

    /// Returns the server's error code when the server rejected the request.
    pub fn server_code(&self) -> Option<&str> {
        match self {
            Self::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

fn server_hint(code: &str) -> Option<&'static str> {
    match code {
        "token_missing" | "token_invalid" | "token_expired" | "token_used" => Some(
            "bootstrap tokens are single-use and short-lived; ask your operator for a new one (`ironroot-admin token create`)",
        ),
        "name_not_allowed" => Some(
            "request only the names the token allows, or ask your operator for a token that covers every name",
        ),
        "admin_required" => Some(
            "pass --cert and --key with an admin credential made by `ironroot-issuer admin-credential`",
        ),
        "internal" => Some("look up the request id in the issuer's log"),
        _ => None,
    }
}

fn is_certificate_error(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|inner| {
            matches!(
                inner,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
        })
}

/// Renders an error and its sources on one line, because hyper's top-level
/// messages ("connection closed before message completed") omit the cause.
fn render_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Replaces control characters in text received from the server, so a
/// message cannot move the cursor or recolour the operator's terminal.
pub(crate) fn sanitize(text: &str, max_chars: usize) -> String {
    let mut clean: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > max_chars {
        clean.push_str("...");
    }
    clean
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn sanitize_replaces_control_characters() {
        assert_eq!(sanitize("bad\u{1b}[31mred\n", 100), "bad?[31mred?");
    }

    #[test]
    fn sanitize_truncates_long_text() {
        assert_eq!(sanitize("abcdef", 3), "abc...");
    }

    #[test]
    fn server_error_shows_code_status_and_request_id() {
        let error = Error::Server {
            status: 401,
            code: "token_expired".to_owned(),
            message: "token tok_1 expired".to_owned(),
            request_id: "req-1".to_owned(),
            retry_after_seconds: None,
        };
        let text = error.to_string();
        assert!(text.contains("token tok_1 expired"), "{text}");
        assert!(text.contains("HTTP 401"), "{text}");
        assert!(text.contains("token_expired"), "{text}");
        assert!(text.contains("req-1"), "{text}");
        assert!(error.hint().is_some());
    }
}
