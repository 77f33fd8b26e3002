//! Errors of the `ironroot-client` command line and their exit codes.

use std::process::ExitCode;

/// Exit code of a runtime failure.
const EXIT_RUNTIME: u8 = 1;
/// Exit code of a usage or configuration error (clap uses 2 as well).
const EXIT_USAGE: u8 = 2;

/// A failure to show the user: `error: <message>`, then `hint: <hint>` when
/// there is something to do.
#[derive(Debug)]
pub(crate) struct CliError {
    exit_code: u8,
    message: String,
    hint: Option<String>,
    /// HTTP status and `retry-after` seconds when the issuer rejected the request.
    server_status: Option<(u16, Option<u64>)>,
}

impl CliError {
    /// Creates a usage or configuration error (exit code 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            exit_code: EXIT_USAGE,
            message: message.into(),
            hint: None,
            server_status: None,
        }
    }

    /// Creates a runtime failure (exit code 1).
    pub(crate) fn runtime(message: impl Into<String>) -> Self {
        Self {
            exit_code: EXIT_RUNTIME,
            message: message.into(),
            hint: None,
            server_status: None,
        }
    }

    /// Adds a hint line.
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Returns the HTTP status and the `retry-after` seconds when the issuer
    /// rejected the request with an error body.
    pub(crate) fn server_status(&self) -> Option<(u16, Option<u64>)> {
        self.server_status
    }

    /// Returns the message without the hint.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Prints the error to stderr and returns the exit code.
    pub(crate) fn report(&self) -> ExitCode {
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(self.exit_code)
    }
}

impl From<ironroot_client::Error> for CliError {
    fn from(error: ironroot_client::Error) -> Self {
        let hint = error.hint();
        let mut cli_error = Self::runtime(error.to_string());
        cli_error.server_status = error.server_status();
        match hint {
            Some(hint) => cli_error.with_hint(hint),
            None => cli_error,
        }
    }
}

impl From<ironroot_core::Error> for CliError {
    fn from(error: ironroot_core::Error) -> Self {
        Self::runtime(error.to_string())
    }
}
