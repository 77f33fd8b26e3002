//! Helpers shared by the integration tests: running the binary, private
//! passphrase files and snapshots of a directory.

#![allow(dead_code, clippy::unwrap_used)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Passphrase used by the tests' root keys.
pub(crate) const PASSPHRASE: &str = "correct horse battery staple";

/// Result of one run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts that the run succeeded, printing its output otherwise.
    pub(crate) fn assert_success(&self) {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }

    /// Asserts exit code `code` and an `error:` line on stderr containing every
    /// string of `needles`.
    pub(crate) fn assert_error(&self, code: i32, needles: &[&str]) {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.starts_with("error: "),
            "stderr:\n{}",
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr lacks `{needle}`:\n{}",
                self.stderr
            );
        }
    }
}

/// Runs the ceremony binary with `args`, standard input closed and logging off.
pub(crate) fn ceremony(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_ironroot-ceremony"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Returns `path` as `&str`; test paths are ASCII.
pub(crate) fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Writes `text` and a newline to a new file with `mode`.
pub(crate) fn write_file(path: &Path, text: &str, mode: u32) -> PathBuf {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .unwrap();
    file.set_permissions(fs::Permissions::from_mode(mode))
        .unwrap();
    writeln!(file, "{text}").unwrap();
    path.to_owned()
}

/// Writes a passphrase file with mode 0600.
pub(crate) fn passphrase_file(dir: &Path, name: &str, passphrase: &str) -> PathBuf {
    write_file(&dir.join(name), passphrase, 0o600)
}

/// Returns the permission bits of `path`.
pub(crate) fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Lists the file names in `dir`, sorted, to show that a failed run wrote nothing.
pub(crate) fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs `init-root` into `out_dir` with `extra` arguments and asserts success.
pub(crate) fn init_root(out_dir: &Path, passphrase: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "init-root",
        "--out-dir",
        s(out_dir),
        "--passphrase-file",
        s(passphrase),
    ];
    args.extend_from_slice(extra);
    let run = ceremony(&args);
    run.assert_success();
    run
}
