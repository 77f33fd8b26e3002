//! Errors of the ceremony commands, with the hint and exit code shown for each.

use std::path::PathBuf;

use ironroot_core::agefile::AgeError;

/// Exit code of a runtime failure.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage or configuration error: the arguments, or the files they
/// name, must change before the command can succeed.
pub(crate) const EXIT_USAGE: u8 = 2;

/// Shortest accepted root key passphrase, in characters.
pub(crate) const MIN_PASSPHRASE_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CeremonyError {
    #[error("--validity-days must be at least 1")]
    ValidityZero,

    #[error(
        "--validity-days {requested} is above the maximum of {max} days ({years} years) for {kind}"
    )]
    ValidityTooLong {
        requested: u32,
        max: u32,
        years: u32,
        kind: &'static str,
    },

    #[error(
        "the intermediate would be valid until {requested_not_after}, after the root certificate `{root}` expires at {root_not_after}"
    )]
    BeyondRoot {
        root: String,
        requested_not_after: String,
        root_not_after: String,
        days_left: i64,
    },

    #[error(
        "the root certificate `{root}` is not valid now ({now}): it is valid from {not_before} to {not_after}"
    )]
    RootNotValidNow {
        root: String,
        now: String,
        not_before: String,
        not_after: String,
    },

    #[error(
        "the passphrase {source_name} has {length} characters; it must have at least {MIN_PASSPHRASE_CHARS}"
    )]
    PassphraseTooShort { source_name: String, length: usize },

    #[error("the passphrase file '{path}' is empty")]
    PassphraseFileEmpty { path: PathBuf },

    #[error("the passphrase file '{path}' is not valid UTF-8")]
    PassphraseFileNotUtf8 { path: PathBuf },

    #[error(
        "the passphrase file '{path}' is readable or writable by group or others (mode {mode:04o})"
    )]
    PassphraseFileTooOpen { path: PathBuf, mode: u32 },

    #[error("no passphrase: --passphrase-file is not given and standard input is not a terminal")]
    NoTerminal,

    #[error("reading the passphrase from the terminal failed: {0}")]
    Prompt(String),

    #[error("the recipient file '{path}' contains no `age1...` line")]
    RecipientFileEmpty { path: PathBuf },

    #[error("no recipient: pass --recipient or --recipient-file")]
    RecipientMissing,

    #[error(transparent)]
    InvalidRecipient(AgeError),

    #[error("the recipient file '{path}': {source}")]
    InvalidRecipientFile {
        path: PathBuf,
        #[source]
        source: AgeError,
    },

    #[error("the passphrase is wrong for the root key '{path}'")]
    WrongPassphrase { path: PathBuf },

    #[error("decrypting the root key '{path}' failed: {source}")]
    RootKeyUnreadable {
        path: PathBuf,
        #[source]
        source: AgeError,
    },

    #[error("encrypting the root key failed: {0}")]
    Encrypt(AgeError),

    #[error("sealing the bundle failed: {0}")]
    Seal(ironroot_core::bundle::BundleError),

    #[error("'{path}' exists and is not a directory")]
    NotADirectory { path: PathBuf },

    #[error("output '{path}' already exists")]
    OutputExists { path: PathBuf },

    #[error("two outputs name the same file '{path}'")]
    DuplicateOutput { path: PathBuf },

    #[error("the directory '{directory}' of the output '{path}' does not exist")]
    OutputDirectoryMissing { path: PathBuf, directory: PathBuf },

    #[error(
        "writing '{path}' failed ({cause}), and removing the already written '{written}' failed too ({cleanup})"
    )]
    PartialWrite {
        path: PathBuf,
        cause: String,
        written: PathBuf,
        cleanup: std::io::Error,
    },

    #[error("writing the transcript to standard output failed: {0}")]
    Transcript(std::io::Error),

    #[error("self-check of the new certificate failed: {0}")]
    SelfCheck(String),

    #[error(transparent)]
    Core(#[from] ironroot_core::Error),

    #[error(transparent)]
    Custody(#[from] crate::custody::CustodyError),

    #[error("invalid ceremony file '{}':{}", path.display(), format_field_errors(errors))]
    InvalidCeremonyFile {
        path: PathBuf,
        errors: Vec<crate::ceremony_file::FieldError>,
    },

    #[error("{field} '{}' already exists", path.display())]
    OutputFieldExists { field: String, path: PathBuf },

    #[error("{0}")]
    Ceremony(String),

    #[error("the ceremony was stopped at step `{step}`; nothing was written")]
    Aborted { step: String },

    #[error("{}: {reason}", transcript_location(*seq, *line))]
    TranscriptTampered {
        line: usize,
        seq: Option<u64>,
        reason: String,
    },

    #[error(
        "transcript entry seq {seq} (line {line}) was altered: its SHA-256 no longer matches the `prev` of entry seq {next_seq} (line {next_line})"
    )]
    TranscriptEntryAltered {
        seq: u64,
        line: usize,
        next_seq: u64,
        next_line: usize,
    },

    #[error(
        "the transcript was signed by the public key with SHA-256 {found}, not by the --signer-cert key {expected}"
    )]
    TranscriptSigner { expected: String, found: String },
}

fn format_field_errors(errors: &[crate::ceremony_file::FieldError]) -> String {
    errors.iter().map(|error| format!("\n  {error}")).collect()
}

/// Names where in a transcript a problem is: `transcript entry seq 4 (line 5)`,
/// `transcript line 5` when the line is no entry, or the whole file for line 0.
fn transcript_location(seq: Option<u64>, line: usize) -> String {
    match (seq, line) {
        (_, 0) => "transcript file".to_owned(),
        (Some(seq), line) => format!("transcript entry seq {seq} (line {line})"),
        (None, line) => format!("transcript line {line}"),
    }
}

impl CeremonyError {
    /// Returns the process exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::ValidityZero
            | Self::ValidityTooLong { .. }
            | Self::BeyondRoot { .. }
            | Self::RootNotValidNow { .. }
            | Self::PassphraseTooShort { .. }
            | Self::PassphraseFileEmpty { .. }
            | Self::PassphraseFileNotUtf8 { .. }
            | Self::PassphraseFileTooOpen { .. }
            | Self::NoTerminal
            | Self::RecipientFileEmpty { .. }
            | Self::RecipientMissing
            | Self::InvalidRecipient(_)
            | Self::InvalidRecipientFile { .. }
            | Self::NotADirectory { .. }
            | Self::OutputExists { .. }
            | Self::DuplicateOutput { .. }
            | Self::InvalidCeremonyFile { .. }
            | Self::OutputFieldExists { .. }
            | Self::OutputDirectoryMissing { .. } => EXIT_USAGE,
            Self::Core(ironroot_core::Error::InvalidSubject(_)) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// Returns what the person running the ceremony can do about this error.
    pub(crate) fn hint(&self) -> Option<String> {
        let hint = match self {
            Self::ValidityTooLong { .. } => "choose a shorter --validity-days, or add \
                --allow-long-validity if your certificate policy allows a longer lifetime"
                .to_owned(),
            Self::BeyondRoot { days_left, .. } if *days_left > 0 => format!(
                "choose a shorter --validity-days: at most {days_left} days fit inside the root's validity"
            ),
            Self::BeyondRoot { .. } | Self::RootNotValidNow { .. } => {
                "check the system clock; if it is right, the root must be replaced before it can sign"
                    .to_owned()
            }
            Self::PassphraseTooShort { .. } => format!(
                "choose a passphrase of {MIN_PASSPHRASE_CHARS} or more characters, such as five random words"
            ),
            Self::PassphraseFileTooOpen { path, .. } => {
                format!("run `chmod 600 '{}'` and try again", path.display())
            }
            Self::NoTerminal => "pass --passphrase-file FILE (mode 0600), or run the command \
                in a terminal to type the passphrase"
                .to_owned(),
            Self::RecipientMissing
            | Self::RecipientFileEmpty { .. }
            | Self::InvalidRecipient(_)
            | Self::InvalidRecipientFile { .. } => {
                "pass the issuing host's recipient: the `age1...` line that `ironroot-issuer init` \
                 printed, also stored in its DATA_DIR/host.recipient"
                    .to_owned()
            }
            Self::WrongPassphrase { .. } => "check the passphrase, and that --root-key names \
                the key written together with --root-cert"
                .to_owned(),
            Self::InvalidCeremonyFile { .. } => "fix the fields listed above; docs/ceremony-files.md \
                describes every field. No key was generated or unlocked"
                .to_owned(),
            Self::TranscriptTampered { .. }
            | Self::TranscriptEntryAltered { .. }
            | Self::TranscriptSigner { .. } => {
                "compare the transcript with the copy in the ceremony binder; do not trust this file"
                    .to_owned()
            }
            Self::OutputDirectoryMissing { directory, .. } => {
                format!("create the directory '{}' first, or choose another path", directory.display())
            }
            Self::OutputExists { .. } | Self::OutputFieldExists { .. } => "the ceremony never overwrites files; choose another \
                path or move the old file away"
                .to_owned(),
            Self::NotADirectory { .. } => {
                "pass a directory, or a path that does not exist yet, to --out-dir".to_owned()
            }
            Self::DuplicateOutput { .. } => "give --out and --cert-out different paths".to_owned(),
            Self::PartialWrite { written, .. } => format!(
                "delete '{}' by hand before running the ceremony again",
                written.display()
            ),
            Self::Transcript(_) => "the output files were written; read their SHA-256 \
                with `sha256sum` and the fingerprint with `openssl x509 -noout -fingerprint -sha256`"
                .to_owned(),
            Self::SelfCheck(_) => "nothing was written; report this as a bug in IronRoot".to_owned(),
            Self::Custody(error) => return error.hint(),
            _ => return None,
        };
        Some(hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_with_two() {
        let error = CeremonyError::OutputExists {
            path: PathBuf::from("root.pem"),
        };
        assert_eq!(error.exit_code(), EXIT_USAGE);
        assert!(error.hint().is_some());
    }

    #[test]
    fn wrong_passphrase_exits_with_one() {
        let error = CeremonyError::WrongPassphrase {
            path: PathBuf::from("root.key.age"),
        };
        assert_eq!(error.exit_code(), EXIT_FAILURE);
        assert!(error.to_string().contains("root.key.age"));
    }
}
