//! The transcript on standard output: one line per step, then the facts that the
//! witnesses compare and an auditor records.

use std::fmt::Display;
use std::io::{self, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ironroot_core::Fingerprint;
use ironroot_core::cert::CertificateInfo;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::CeremonyError;
use crate::outputs::OutputFile;

/// Width of the label column.
const LABEL_WIDTH: usize = 22;

/// Writes the transcript to standard output. Write errors are kept until
/// [`Transcript::finish`], so a closed pipe does not interrupt a ceremony step.
pub(crate) struct Transcript {
    stdout: io::Stdout,
    error: Option<io::Error>,
}

impl Transcript {
    /// Starts the transcript of `command` with the time the ceremony uses as "now".
    pub(crate) fn start(command: &str, now: OffsetDateTime) -> Self {
        let mut transcript = Self {
            stdout: io::stdout(),
            error: None,
        };
        transcript.line(format_args!(
            "IronRoot ceremony {}: {command}",
            env!("CARGO_PKG_VERSION")
        ));
        transcript.field("Clock (UTC)", timestamp(now));
        transcript.line(format_args!(""));
        transcript
    }

    /// Records a completed step.
    pub(crate) fn step(&mut self, text: impl Display) {
        self.line(format_args!("  ok  {text}"));
    }

    /// Prints a labelled value.
    pub(crate) fn field(&mut self, label: &str, value: impl Display) {
        self.line(format_args!("{:<LABEL_WIDTH$}{value}", format!("{label}:")));
    }

    /// Prints a heading that starts a new section.
    pub(crate) fn heading(&mut self, text: &str) {
        self.line(format_args!("\n{text}"));
    }

    /// Prints subject, serial, validity and both forms of the fingerprint.
    pub(crate) fn certificate(&mut self, info: &CertificateInfo) {
        self.field("Subject", &info.subject);
        self.field("Issuer", &info.issuer);
        self.field("Serial", info.serial_hex());
        self.field("Not before", timestamp(info.validity.not_before));
        self.field("Not after", timestamp(info.validity.not_after));
        self.fingerprint(&info.fingerprint);
    }

    /// Prints a SHA-256 fingerprint in colon form and in groups to read aloud.
    pub(crate) fn fingerprint(&mut self, fingerprint: &Fingerprint) {
        self.field("SHA-256 fingerprint", fingerprint);
        self.line(format_args!("Read aloud, group by group:"));
        for line in fingerprint.to_spoken_groups().lines() {
            self.line(format_args!("    {line}"));
        }
    }

    /// Prints a written file with its mode and SHA-256.
    pub(crate) fn written(&mut self, output: &OutputFile<'_>) {
        self.line(format_args!("  {}", output.path.display()));
        self.line(format_args!(
            "      mode {:04o}, {} bytes, SHA-256 {}",
            output.mode,
            output.bytes.len(),
            output.sha256_hex()
        ));
    }

    /// Prints text as it is, such as a JSON document.
    pub(crate) fn block(&mut self, text: &str) {
        for line in text.lines() {
            self.line(format_args!("  {line}"));
        }
    }

    /// Ends the transcript. Fails if standard output could not be written, unless
    /// it was a closed pipe (the reader chose to stop reading).
    pub(crate) fn finish(mut self) -> Result<(), CeremonyError> {
        if self.error.is_none() {
            self.error = self.stdout.flush().err();
        }
        match self.error {
            Some(error) if error.kind() != io::ErrorKind::BrokenPipe => {
                Err(CeremonyError::Transcript(error))
            }
            _ => Ok(()),
        }
    }

    fn line(&mut self, arguments: std::fmt::Arguments<'_>) {
        if self.error.is_some() {
            return;
        }
        if let Err(error) = writeln!(self.stdout, "{arguments}") {
            self.error = Some(error);
        }
    }
}

/// Formats a time as RFC 3339 in UTC to the second, such as `2026-08-21T09:30:00Z`.
pub(crate) fn timestamp(value: OffsetDateTime) -> String {
    let utc = value.to_offset(time::UtcOffset::UTC);
    let utc = utc.replace_nanosecond(0).unwrap_or(utc);
    utc.format(&Rfc3339).unwrap_or_else(|_| utc.to_string())
}

/// Runs `work` while a spinner with `message` turns on standard error. The
/// spinner stays hidden when standard error is not a terminal.
pub(crate) fn with_spinner<T>(message: &str, work: impl FnOnce() -> T) -> T {
    let spinner = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.set_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(120));
    let result = work();
    spinner.finish_and_clear();
    result
}

/// Prints an error and its hint on standard error.
pub(crate) fn error(error: &CeremonyError) {
    let mut stderr = io::stderr().lock();
    // Nothing is left to report to if standard error itself fails.
    let _ = writeln!(stderr, "error: {error}");
    if let Some(hint) = error.hint() {
        let _ = writeln!(stderr, "hint: {hint}");
    }
}
