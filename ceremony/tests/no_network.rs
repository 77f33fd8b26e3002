//! The ceremony runs on an air-gapped machine, so its dependency graph must not
//! contain an async runtime, a socket library, TLS or an HTTP stack.

use std::path::Path;
use std::process::Command;

/// Crates whose presence would mean network code in the ceremony binary.
const NETWORK_CRATES: &[&str] = &[
    "tokio",
    "hyper",
    "hyper-util",
    "rustls",
    "tokio-rustls",
    "mio",
    "socket2",
    "h2",
    "http",
    "http-body",
    "reqwest",
    "ureq",
    "isahc",
    "curl",
    "attohttpc",
    "surf",
];

#[test]
fn ceremony_links_no_network_crates() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "ironroot-ceremony",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(&workspace)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "`cargo tree --offline` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("ironroot-ceremony ")),
        "cargo tree did not list the ceremony crate:\n{stdout}"
    );

    let found: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| NETWORK_CRATES.contains(name))
        .collect();
    assert!(
        found.is_empty(),
        "network crates in the ceremony's dependencies: {found:?}"
    );
}
