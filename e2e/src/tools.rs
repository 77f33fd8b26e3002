//! External programs the tests use as independent checkers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Finds an executable: first in the workspace's `.venv/bin` (where
/// `scripts/test.sh` installs pkilint), then on `PATH`.
pub fn find(name: &str) -> Option<PathBuf> {
    let venv = crate::workspace_root().join(".venv/bin").join(name);
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Finds an executable or panics with the install hint.
pub fn require(name: &str) -> PathBuf {
    find(name).unwrap_or_else(|| {
        panic!("`{name}` is not installed; run scripts/test.sh, which installs openssl and pkilint")
    })
}

/// Runs a command and returns its output, panicking if it cannot start.
pub fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("failed to run {}: {error}", program.display()))
}
