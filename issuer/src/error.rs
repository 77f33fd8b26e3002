//! Errors of the issuer's commands. Each message names the value that failed;
//! [`Error::hint`] adds what the operator can do next.

use std::path::PathBuf;

use crate::storage::StorageError;

/// A failure of an `ironroot-issuer` command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid configuration in {path}: {reason}")]
    ConfigSyntax { path: PathBuf, reason: String },
    #[error("invalid configuration: `{key}` {reason}")]
    ConfigValue { key: &'static str, reason: String },
    #[error(
        "`plain_http = true` with `listen = {listen}`: TLS is required beyond loopback, so plain HTTP may only listen on 127.0.0.0/8 or ::1"
    )]
    PlainHttpNotLoopback { listen: String },
    #[error("invalid argument: {0}")]
    Usage(String),
    #[error("the data directory {path} is in use: another ironroot-issuer daemon holds {lock}")]
    DataDirLocked { path: PathBuf, lock: PathBuf },
    #[error("the data directory {path} is not initialised ({missing} is missing)")]
    NotInitialised { path: PathBuf, missing: PathBuf },
    #[error("the data directory {path} holds no imported intermediate CA")]
    NoIntermediate { path: PathBuf },
    #[error(
        "this bundle was encrypted for another issuing host; ask the ceremony to re-run sign-intermediate with this host's recipient {recipient}"
    )]
    BundleForAnotherHost { recipient: String },
    #[error("the bundle {path} was rejected: {reason}")]
    BundleRejected { path: PathBuf, reason: String },
    #[error("the active intermediate `{subject}` is unusable: {reason}")]
    IntermediateUnusable { subject: String, reason: String },
    #[error("{what} {path} failed: {reason}")]
    Io {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("failed to listen on {address}: {reason}")]
    Bind { address: String, reason: String },
    #[error("{0}")]
    Issue(String),
    #[error("the backup archive {path} is invalid: {reason}")]
    BackupInvalid { path: PathBuf, reason: String },
    #[error("the restore target {path} is not empty")]
    RestoreTargetNotEmpty { path: PathBuf },
    #[error("the audit log of {path} is broken at row {seq} ({problem}): {message}")]
    AuditBroken {
        path: PathBuf,
        seq: i64,
        problem: String,
        message: String,
    },
    #[error(transparent)]
    Core(#[from] ironroot_core::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Error {
    /// Returns the process exit code: 2 for usage and configuration errors, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::ConfigSyntax { .. }
            | Self::ConfigValue { .. }
            | Self::PlainHttpNotLoopback { .. }
            | Self::Usage(_)
            | Self::DataDirLocked { .. } => 2,
            _ => 1,
        }
    }

    /// Returns what the operator can do about this error, when there is something.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotInitialised { path, .. } => Some(format!(
                "run `ironroot-issuer init --data-dir {}` first",
                path.display()
            )),
            Self::NoIntermediate { path } => Some(format!(
                "run ironroot-issuer import first: `ironroot-issuer import --data-dir {} BUNDLE`",
                path.display()
            )),
            Self::DataDirLocked { lock, .. } => Some(format!(
                "stop the daemon that holds {} first, because two processes must never write one database; to change a running daemon (for example to activate an intermediate) use `ironroot-admin`, and restore only into a new, empty directory",
                lock.display()
            )),
            Self::Bind { address, .. } => Some(format!(
                "another process (perhaps another ironroot-issuer) may be using {address}; stop it or pass --listen with a free address"
            )),
            Self::PlainHttpNotLoopback { .. } => Some(
                "remove `plain_http` to serve TLS, or set `listen` to a loopback address such as 127.0.0.1:8080"
                    .to_owned(),
            ),
            Self::Core(ironroot_core::Error::PermissionsTooOpen { path, .. }) => Some(format!(
                "run `chmod 600 {}`; the daemon does not start while a secret is readable by others",
                path.display()
            )),
            Self::RestoreTargetNotEmpty { .. } => Some(
                "restore writes only into a new or empty directory; choose another --data-dir"
                    .to_owned(),
            ),
            Self::AuditBroken { .. } => Some(
                "restore the database from a backup whose audit chain verifies, and investigate who changed the file"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}
