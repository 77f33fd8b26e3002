//! Staged outputs: every output is first written into a private temporary
//! directory beside its final path (so on the same filesystem), and moved into
//! place only when the whole ceremony succeeded. A failed ceremony removes the
//! staging directories and leaves no output behind.

use std::fs;
use std::path::{Path, PathBuf};

use ironroot_core::{Fingerprint, files};

use crate::error::CeremonyError;

/// One output waiting in a staging directory.
#[derive(Debug)]
pub(crate) struct Staged {
    /// Field of the ceremony file that names the output, such as `outputs.bundle`.
    pub(crate) field: String,
    pub(crate) staged: PathBuf,
    pub(crate) target: PathBuf,
    pub(crate) sha256: Fingerprint,
    pub(crate) len: usize,
    pub(crate) mode: u32,
}

/// The staging area of one ceremony. Dropping it without [`Staging::commit`]
/// removes everything staged.
#[derive(Debug, Default)]
pub(crate) struct Staging {
    dirs: Vec<tempfile::TempDir>,
    staged: Vec<Staged>,
}

impl Staging {
    /// Stages `bytes` for `target` with file `mode`.
    pub(crate) fn add(
        &mut self,
        field: &str,
        target: &Path,
        bytes: &[u8],
        mode: u32,
    ) -> Result<&Staged, CeremonyError> {
        if fs::symlink_metadata(target).is_ok() {
            return Err(CeremonyError::OutputFieldExists {
                field: field.to_owned(),
                path: target.to_owned(),
            });
        }
        let parent = target
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = self.dir_in(parent)?;
        let name = format!("{}.{}", self.staged.len(), file_name(target));
        let staged = dir.join(name);
        files::write_new(&staged, bytes, mode)?;
        self.staged.push(Staged {
            field: field.to_owned(),
            staged,
            target: target.to_owned(),
            sha256: Fingerprint::of(bytes),
            len: bytes.len(),
            mode,
        });
        Ok(self
            .staged
            .last()
            .expect("an entry was pushed on the line above"))
    }

    /// Outputs staged so far.
    pub(crate) fn staged(&self) -> &[Staged] {
        &self.staged
    }

    /// Moves every staged file into place. A hard link creates the target
    /// exclusively (it fails if the target appeared meanwhile); if any link
    /// fails, the targets already linked are removed again.
    pub(crate) fn commit(self) -> Result<Vec<Staged>, CeremonyError> {
        let mut linked: Vec<&Path> = Vec::new();
        for entry in &self.staged {
            if let Err(error) = fs::hard_link(&entry.staged, &entry.target) {
                for path in &linked {
                    let _ = fs::remove_file(path);
                }
                return Err(match error.kind() {
                    std::io::ErrorKind::AlreadyExists => CeremonyError::OutputFieldExists {
                        field: entry.field.clone(),
                        path: entry.target.clone(),
                    },
                    _ => CeremonyError::Core(ironroot_core::Error::Write {
                        path: entry.target.clone(),
                        source: error,
                    }),
                });
            }
            linked.push(&entry.target);
        }
        let Self { dirs, staged } = self;
        drop(dirs);
        Ok(staged)
    }

    /// Returns a staging directory inside `parent`, creating it on first use.
    fn dir_in(&mut self, parent: &Path) -> Result<PathBuf, CeremonyError> {
        let canonical = parent.canonicalize().map_err(|source| {
            CeremonyError::Core(ironroot_core::Error::Read {
                path: parent.to_owned(),
                source,
            })
        })?;
        if let Some(dir) = self
            .dirs
            .iter()
            .find(|dir| dir.path().parent() == Some(&canonical))
        {
            return Ok(dir.path().to_owned());
        }
        let dir = tempfile::Builder::new()
            .prefix(".ironroot-staging-")
            .tempdir_in(&canonical)
            .map_err(|source| {
                CeremonyError::Core(ironroot_core::Error::Write {
                    path: canonical.clone(),
                    source,
                })
            })?;
        let path = dir.path().to_owned();
        self.dirs.push(dir);
        Ok(path)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || "output".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn staging_drop_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = Staging::default();
        staging
            .add("outputs.crl", &dir.path().join("a.pem"), b"x", 0o644)
            .unwrap();
        drop(staging);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn staging_commit_refuses_existing_target() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = Staging::default();
        staging
            .add("outputs.key", &dir.path().join("a"), b"x", 0o600)
            .unwrap();
        staging
            .add("outputs.crl", &dir.path().join("b"), b"y", 0o644)
            .unwrap();
        fs::write(dir.path().join("b"), b"old").unwrap();
        let error = staging.commit().unwrap_err();
        assert!(error.to_string().contains("outputs.crl"), "{error}");
        assert!(!dir.path().join("a").exists());
        assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"old");
    }

    #[test]
    fn staging_commit_moves_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut staging = Staging::default();
        staging
            .add("outputs.key", &dir.path().join("a"), b"x", 0o600)
            .unwrap();
        staging.commit().unwrap();
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"x");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
