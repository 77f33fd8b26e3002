//! Test support for IronRoot's end-to-end tests: locating the built binaries,
//! the rehearsal PKI fixture (`pki`) and the independent verifiers (openssl,
//! pkilint, rustls-webpki).
//!
//! The tests in `e2e/tests/` drive the real binaries. `scripts/test.sh` builds
//! them and installs the external tools first; a missing tool fails the test
//! with a message that says how to install it, because a skipped check would
//! hide a broken profile.

#![forbid(unsafe_code)]

pub mod pki;
pub mod run;
pub mod tools;
pub mod verify;

use std::path::PathBuf;

/// Returns the workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// Returns the path of a workspace binary built in the same profile as the
/// running test (`target/debug/NAME` for `cargo test`).
///
/// Panics with a hint when the binary has not been built, because
/// `cargo test -p ironroot-e2e` does not build other packages' binaries.
pub fn binary(name: &str) -> PathBuf {
    let current = std::env::current_exe().expect("the test binary knows its own path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let profile_dir = current
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing; build the binaries first with `cargo build --workspace --bins` (scripts/test.sh does this)",
        path.display()
    );
    path
}
