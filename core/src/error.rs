use std::path::PathBuf;

/// Errors from the shared library. Each message names the value that failed and,
/// where a person can act, what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} already exists; IronRoot never overwrites this file, so choose a new path or move the old file away"
    )]
    AlreadyExists { path: PathBuf },
    #[error(
        "{path} is readable or writable by group or others (mode {mode:o}); it must be private to its owner (mode 600)"
    )]
    PermissionsTooOpen { path: PathBuf, mode: u32 },
    #[error("invalid PEM in {what}: {reason}")]
    InvalidPem { what: String, reason: String },
    #[error("invalid certificate {what}: {reason}")]
    InvalidCertificate { what: String, reason: String },
    #[error("invalid private key {what}: {reason}")]
    InvalidKey { what: String, reason: String },
    #[error("invalid CSR: {0}")]
    InvalidCsr(String),
    /// The name is printed with Rust's debug escaping, because it comes from a
    /// network peer and must not inject line breaks or control characters into logs.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("invalid fingerprint `{value}`: {reason}")]
    InvalidFingerprint { value: String, reason: String },
    #[error("invalid subject: {0}")]
    InvalidSubject(String),
    #[error("invalid validity: {0}")]
    InvalidValidity(String),
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("key generation failed: the system random number generator is unavailable")]
    Random,
    #[error(
        "{what} fails the RFC 5280 profile checks, so it was not signed with the real key:{}",
        crate::lint::format_findings(findings)
    )]
    Lint {
        what: String,
        findings: Vec<crate::lint::Finding>,
    },
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
}
