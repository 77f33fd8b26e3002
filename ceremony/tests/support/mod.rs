//! Helpers of the ceremony-file tests: a scratch directory holding the example
//! ceremony files and their inputs, running `ironroot-ceremony` there, and the
//! independent checkers (pkilint, OpenSSL).

#![allow(dead_code, clippy::unwrap_used)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use age::secrecy::ExposeSecret;

/// Passphrase of the example root key.
pub(crate) const PASSPHRASE: &str = "correct horse battery staple";

/// Result of one run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn assert_success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub(crate) fn assert_failure(&self, needles: &[&str]) -> &Self {
        assert_ne!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr lacks `{needle}`:\n{}",
                self.stderr
            );
        }
        self
    }
}

/// A scratch directory with every example ceremony file and the inputs they
/// name: the root passphrase, host identities and recipients, custodian
/// identities and a CSR.
pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) host: age::x25519::Identity,
    pub(crate) custodians: Vec<age::x25519::Identity>,
}

impl Workspace {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let host = age::x25519::Identity::generate();
        let custodians: Vec<_> = (0..4).map(|_| age::x25519::Identity::generate()).collect();
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let example_recipients = [
            "age1fkklztdx2vuuplgvg0gcdjwrv5dafek954huq3w6jxhd2mp5s34s8l07ve",
            "age1ufw2ugaclzjf0hfl955qcj47xs2utrj8u8fr9jk6ajzwemlzyctqt74plf",
            "age124fljchl07f6e5m5crv3unl69zet3306k5hc7pd27lpv94lr2vmqk5kz4w",
            "age1uh8dzh60a2x40npf8fpjwdj57tdx3zj5t3ee09jfgk3p8t69svlqwvlcnq",
        ];
        for entry in fs::read_dir(&examples).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                let mut text = fs::read_to_string(&path).unwrap();
                for (example, identity) in example_recipients.iter().zip(&custodians) {
                    text = text.replace(example, &identity.to_public().to_string());
                }
                fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
            }
        }
        let workspace = Self {
            dir,
            host,
            custodians,
        };
        workspace.private("root.passphrase", PASSPHRASE);
        workspace.private("erin.passphrase", "erin's share passphrase");
        let recipient = workspace.host.to_public().to_string();
        workspace.public("web-1.recipient", &recipient);
        workspace.public("web-2.recipient", &recipient);
        for (index, identity) in workspace.custodians.iter().enumerate() {
            workspace.private(
                &format!("custodian-{index}.identity"),
                identity.to_string().expose_secret(),
            );
        }
        fs::create_dir(workspace.path("shares")).unwrap();
        workspace.public("web-2.csr", &csr_pem());
        workspace
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap()
    }

    /// Writes a file with mode 0600.
    pub(crate) fn private(&self, name: &str, text: &str) {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(self.path(name))
            .unwrap();
        writeln!(file, "{text}").unwrap();
    }

    pub(crate) fn public(&self, name: &str, text: &str) {
        fs::write(self.path(name), format!("{text}\n")).unwrap();
    }

    /// Replaces `from` with `to` in the ceremony file `name` (panics if absent).
    pub(crate) fn edit(&self, name: &str, from: &str, to: &str) {
        let text = self.read(name);
        assert!(text.contains(from), "{name} lacks `{from}`");
        fs::write(self.path(name), text.replacen(from, to, 1)).unwrap();
    }

    /// Runs the ceremony binary in the workspace with standard input closed.
    pub(crate) fn ceremony(&self, args: &[&str]) -> Run {
        fs::create_dir_all(self.path("tmp")).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_ironroot-ceremony"))
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .env_remove("RUST_LOG")
            .env("TMPDIR", self.path("tmp"))
            .output()
            .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `run FILE --yes` and asserts success.
    pub(crate) fn run_yes(&self, file: &str) -> Run {
        let run = self.ceremony(&["run", file, "--yes"]);
        run.assert_success();
        run
    }

    /// File names in the workspace, sorted, without the private `tmp` directory.
    pub(crate) fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != "tmp")
            .collect();
        names.sort();
        names
    }
}

/// A CSR for an ECDSA P-256 key, as the issuing host would make it.
fn csr_pem() -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "web-2 issuing CA request");
    params.serialize_request(&key).unwrap().pem().unwrap()
}

/// pkilint findings of severity ERROR or FATAL for a PEM certificate.
pub(crate) fn pkilint_cert_errors(path: &Path) -> Vec<String> {
    ironroot_e2e::verify::pkilint_errors(path)
}

/// pkilint (RFC 5280 CRL profile) findings of severity ERROR or FATAL for a PEM CRL.
pub(crate) fn pkilint_crl_errors(path: &Path) -> Vec<String> {
    let linter = ironroot_e2e::tools::require("lint_crl");
    let path = path.to_string_lossy().into_owned();
    let output = ironroot_e2e::tools::run(
        &linter,
        &[
            "lint",
            "-t",
            "ARL",
            "-p",
            "PKIX",
            "-s",
            "NOTICE",
            "-f",
            "TEXT",
            "--document-format",
            "PEM",
            &path,
        ],
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !text.trim().is_empty() {
        eprintln!("pkilint findings for {path}:\n{text}");
    }
    text.lines()
        .filter(|line| line.contains("(ERROR)") || line.contains("(FATAL)"))
        .map(str::to_owned)
        .collect()
}

/// Runs `openssl` with `args` and returns (success, stdout + stderr).
pub(crate) fn openssl(args: &[&str]) -> (bool, String) {
    let openssl = ironroot_e2e::tools::require("openssl");
    let output = ironroot_e2e::tools::run(&openssl, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// DER of the single certificate in a PEM file.
pub(crate) fn cert_der(path: &Path) -> Vec<u8> {
    ironroot_core::pemfile::parse_single(&fs::read(path).unwrap(), "CERTIFICATE", "test").unwrap()
}
