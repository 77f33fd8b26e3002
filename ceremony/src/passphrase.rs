//! The root key passphrase: read from a private file or typed on the terminal.
//!
//! This module keeps the passphrase in [`SecretString`] or [`Zeroizing`] buffers,
//! which wipe it on drop, and no message or log line contains it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use dialoguer::Password;
use ironroot_core::files;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{CeremonyError, MIN_PASSPHRASE_CHARS};

/// A passphrase and where it came from.
pub(crate) struct Passphrase {
    pub(crate) secret: SecretString,
    pub(crate) origin: Origin,
}

/// Source of a passphrase, for the transcript.
#[derive(Debug)]
pub(crate) enum Origin {
    File(PathBuf),
    Terminal,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "read from '{}'", path.display()),
            Self::Terminal => f.write_str("typed on the terminal"),
        }
    }
}

/// Obtains the passphrase for a new root key: from `file`, or typed twice on the
/// terminal. Rejects passphrases shorter than [`MIN_PASSPHRASE_CHARS`].
pub(crate) fn read_new(file: Option<&Path>) -> Result<Passphrase, CeremonyError> {
    let passphrase = match file {
        Some(path) => from_file(path)?,
        None => from_terminal("Passphrase for the new root key", true)?,
    };
    let length = passphrase.secret.expose_secret().chars().count();
    if length < MIN_PASSPHRASE_CHARS {
        let source_name = match &passphrase.origin {
            Origin::File(path) => format!("in '{}'", path.display()),
            Origin::Terminal => "typed on the terminal".to_owned(),
        };
        return Err(CeremonyError::PassphraseTooShort {
            source_name,
            length,
        });
    }
    Ok(passphrase)
}

/// Obtains the passphrase of an existing root key: from `file`, or typed once on
/// the terminal.
pub(crate) fn read_existing(file: Option<&Path>) -> Result<Passphrase, CeremonyError> {
    match file {
        Some(path) => from_file(path),
        None => from_terminal("Root key passphrase", false),
    }
}

/// Reads the first line of `path`, without its line ending. The file must not be
/// accessible to group or others.
fn from_file(path: &Path) -> Result<Passphrase, CeremonyError> {
    files::check_private(path).map_err(|error| match error {
        ironroot_core::Error::PermissionsTooOpen { path, mode } => {
            CeremonyError::PassphraseFileTooOpen { path, mode }
        }
        other => CeremonyError::Core(other),
    })?;
    let bytes = Zeroizing::new(files::read(path)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| CeremonyError::PassphraseFileNotUtf8 {
        path: path.to_owned(),
    })?;

    let first_line = text.split('\n').next().unwrap_or_default();
    let first_line = first_line.strip_suffix('\r').unwrap_or(first_line);
    if first_line.is_empty() {
        return Err(CeremonyError::PassphraseFileEmpty {
            path: path.to_owned(),
        });
    }
    tracing::debug!(path = %path.display(), "read the passphrase file");
    Ok(Passphrase {
        secret: SecretString::from(first_line),
        origin: Origin::File(path.to_owned()),
    })
}

/// Asks for the passphrase on the terminal, twice when `confirm` is set.
fn from_terminal(prompt: &str, confirm: bool) -> Result<Passphrase, CeremonyError> {
    if !std::io::stdin().is_terminal() {
        return Err(CeremonyError::NoTerminal);
    }
    let mut password = Password::new().with_prompt(prompt);
    if confirm {
        password = password
            .with_confirmation(
                "Type the passphrase again",
                "The two passphrases differ; start again",
            )
            .validate_with(|input: &String| {
                if input.chars().count() < MIN_PASSPHRASE_CHARS {
                    Err(format!(
                        "Use at least {MIN_PASSPHRASE_CHARS} characters, such as five random words"
                    ))
                } else {
                    Ok(())
                }
            });
    }
    let typed = Zeroizing::new(
        password
            .interact()
            .map_err(|error| CeremonyError::Prompt(error.to_string()))?,
    );
    Ok(Passphrase {
        secret: SecretString::from(typed.as_str()),
        origin: Origin::Terminal,
    })
}

// The workspace has no clippy.toml with `allow-unwrap-in-tests`, so allow it here.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn private_file(dir: &Path, contents: &str) -> PathBuf {
        let path = dir.join("passphrase");
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    #[test]
    fn passphrase_file_uses_first_line_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = private_file(dir.path(), "first line here\r\nsecond line\n");
        let passphrase = read_existing(Some(&path)).unwrap();
        assert_eq!(passphrase.secret.expose_secret(), "first line here");
    }

    #[test]
    fn passphrase_file_keeps_inner_spaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = private_file(dir.path(), " five random words here ");
        let passphrase = read_new(Some(&path)).unwrap();
        assert_eq!(
            passphrase.secret.expose_secret(),
            " five random words here "
        );
    }

    #[test]
    fn passphrase_file_empty_first_line_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = private_file(dir.path(), "\nsecond line\n");
        let error = read_existing(Some(&path)).err().unwrap();
        assert!(
            matches!(error, CeremonyError::PassphraseFileEmpty { .. }),
            "{error}"
        );
    }

    #[test]
    fn new_passphrase_counts_characters_not_bytes() {
        let dir = tempfile::tempdir().unwrap();
        // Eleven characters, but 22 bytes in UTF-8.
        let path = private_file(dir.path(), "äääääääääää");
        let error = read_new(Some(&path)).err().unwrap();
        assert!(
            matches!(error, CeremonyError::PassphraseTooShort { length: 11, .. }),
            "{error}"
        );
    }
}
