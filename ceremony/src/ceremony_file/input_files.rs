//! Checks of the files a ceremony reads, run during validation so that a
//! missing, unreadable or group-readable file stops the ceremony before any key
//! is generated or unlocked. The steps later read the same files again.

use std::path::Path;

use crate::error::CeremonyError;
use crate::passphrase;

/// What a ceremony does with an input file, which decides how it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InputFile {
    /// A public file such as a certificate, CSR or encrypted key: it must be a
    /// readable regular file.
    Public,
    /// A secret such as an age identity: also not accessible to group or others.
    Secret,
    /// The passphrase of an existing key: a secret whose first line is not empty.
    ExistingPassphrase,
    /// A passphrase that protects a new key or share: an existing passphrase
    /// of at least 12 characters.
    NewPassphrase,
}

/// Checks `path` as `kind` and returns what is wrong with it, with what to do.
pub(crate) fn problem(path: &Path, kind: InputFile) -> Option<String> {
    if let Some(problem) = unreadable(path) {
        return Some(problem);
    }
    let result = match kind {
        InputFile::Public => return None,
        InputFile::Secret => return private_problem(path),
        // Reading the passphrase applies every rule the ceremony step applies
        // later; the secret is wiped when the result is dropped here.
        InputFile::ExistingPassphrase => passphrase::read_existing(Some(path)).map(drop),
        InputFile::NewPassphrase => passphrase::read_new(Some(path)).map(drop),
    };
    result.err().map(|error| with_hint(&error))
}

/// Returns why `path` cannot be opened for reading as a regular file.
fn unreadable(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!("'{}' does not exist", path.display()));
        }
        Err(error) => return Some(format!("'{}' cannot be read: {error}", path.display())),
        Ok(metadata) if !metadata.is_file() => {
            return Some(format!("'{}' is not a regular file", path.display()));
        }
        Ok(_) => {}
    }
    std::fs::File::open(path)
        .err()
        .map(|error| format!("'{}' cannot be read: {error}", path.display()))
}

/// Returns why `path`, which contains a secret, is not private to its owner.
fn private_problem(path: &Path) -> Option<String> {
    match ironroot_core::files::check_private(path) {
        Ok(()) => None,
        Err(ironroot_core::Error::PermissionsTooOpen { mode, .. }) => Some(format!(
            "'{}' is readable or writable by group or others (mode {mode:04o}); it contains a secret, so run `chmod 600 '{}'`",
            path.display(),
            path.display()
        )),
        Err(other) => Some(other.to_string()),
    }
}

fn with_hint(error: &CeremonyError) -> String {
    match error.hint() {
        Some(hint) => format!("{error}; {hint}"),
        None => error.to_string(),
    }
}
