//! Exclusive writes of a command's output files: all of them or none.

use std::fs;
use std::path::{Path, PathBuf};

use ironroot_core::{Error, Fingerprint, files};

use crate::error::CeremonyError;

/// A file that a command writes.
pub(crate) struct OutputFile<'a> {
    pub(crate) path: &'a Path,
    pub(crate) bytes: &'a [u8],
    pub(crate) mode: u32,
}

impl OutputFile<'_> {
    /// Returns the SHA-256 of the contents as lower-case hex, the form `sha256sum` prints.
    pub(crate) fn sha256_hex(&self) -> String {
        Fingerprint::of(self.bytes).to_hex()
    }
}

/// Fails if any of `paths` exists (a dangling symbolic link counts) or if two of
/// them are the same path.
pub(crate) fn check_absent(paths: &[&Path]) -> Result<(), CeremonyError> {
    for (index, path) in paths.iter().enumerate() {
        if paths[..index].contains(path) {
            return Err(CeremonyError::DuplicateOutput {
                path: path.to_path_buf(),
            });
        }
        if fs::symlink_metadata(path).is_ok() {
            return Err(CeremonyError::OutputExists {
                path: path.to_path_buf(),
            });
        }
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(CeremonyError::OutputDirectoryMissing {
                path: path.to_path_buf(),
                directory: parent.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Writes every file exclusively, in order. If one write fails, removes the files
/// already written, so a failed command leaves no partial output behind.
pub(crate) fn write_all(outputs: &[OutputFile<'_>]) -> Result<(), CeremonyError> {
    let paths: Vec<&Path> = outputs.iter().map(|output| output.path).collect();
    check_absent(&paths)?;

    let mut written: Vec<&Path> = Vec::new();
    for output in outputs {
        if let Err(error) = files::write_new(output.path, output.bytes, output.mode) {
            remove_written(&written, output.path, &error)?;
            return Err(match error {
                Error::AlreadyExists { path } => CeremonyError::OutputExists { path },
                other => CeremonyError::Core(other),
            });
        }
        tracing::debug!(path = %output.path.display(), mode = output.mode, "wrote output file");
        written.push(output.path);
    }
    Ok(())
}

/// Removes `written` after the write of `failed` went wrong with `cause`.
fn remove_written(written: &[&Path], failed: &Path, cause: &Error) -> Result<(), CeremonyError> {
    for path in written {
        if let Err(cleanup) = fs::remove_file(path) {
            return Err(CeremonyError::PartialWrite {
                path: failed.to_owned(),
                cause: cause.to_string(),
                written: PathBuf::from(path),
                cleanup,
            });
        }
        tracing::debug!(path = %path.display(), "removed output after a failed write");
    }
    Ok(())
}

// The workspace has no clippy.toml with `allow-unwrap-in-tests`, so allow it here.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn write_all_removes_earlier_files_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.pem");
        // A file name longer than NAME_MAX passes the checks but fails to write.
        let missing_dir = dir.path().join("x".repeat(300));
        let outputs = [
            OutputFile {
                path: &first,
                bytes: b"one",
                mode: files::PUBLIC_FILE,
            },
            OutputFile {
                path: &missing_dir,
                bytes: b"two",
                mode: files::PRIVATE_FILE,
            },
        ];
        let error = write_all(&outputs).unwrap_err();
        assert!(matches!(error, CeremonyError::Core(_)), "{error}");
        assert!(!first.exists());
    }

    #[test]
    fn check_absent_rejects_duplicates_and_existing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.age");
        let duplicate = check_absent(&[&path, &path]).unwrap_err();
        assert!(matches!(duplicate, CeremonyError::DuplicateOutput { .. }));
        fs::write(&path, b"old").unwrap();
        let existing = check_absent(&[&path]).unwrap_err();
        assert!(matches!(existing, CeremonyError::OutputExists { .. }));
    }
}
