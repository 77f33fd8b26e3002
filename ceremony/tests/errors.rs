//! Failure cases: each checks the exit code, the message, and that nothing was
//! written.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{PASSPHRASE, Run, ceremony, listing, passphrase_file, s, write_file};
use ironroot_core::cert::CertificateInfo;
use time::format_description::well_known::Rfc3339;

/// Validity of the shared test roots, short enough that the default intermediate
/// validity of 1825 days does not fit.
const ROOT_DAYS: &str = "400";

/// Two roots created once for every test in this file.
struct Roots {
    dir: PathBuf,
    passphrase: PathBuf,
}

impl Roots {
    fn cert(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("root.pem")
    }

    fn key(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("root.key.age")
    }
}

fn roots() -> &'static Roots {
    static ROOTS: OnceLock<Roots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        // Kept under the target directory for the whole test run; statics are never dropped.
        let dir = tempfile::Builder::new()
            .prefix("ceremony-errors-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let passphrase = passphrase_file(&dir, "passphrase", PASSPHRASE);
        for name in ["a", "b"] {
            common::init_root(
                &dir.join(name),
                &passphrase,
                &["--validity-days", ROOT_DAYS],
            );
        }
        Roots { dir, passphrase }
    })
}

/// Runs sign-intermediate against root `a` with the outputs in `out_dir` and
/// `extra` arguments. Each default below applies unless `extra` names its flag.
fn sign(out_dir: &Path, extra: &[&str]) -> Run {
    let roots = roots();
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let bundle = out_dir.join("bundle.age");
    let cert = out_dir.join("intermediate.pem");
    let cert_path = roots.cert("a");
    let key_path = roots.key("a");
    let defaults = [
        ("--root-key", s(&key_path)),
        ("--passphrase-file", s(&roots.passphrase)),
        ("--recipient", recipient.as_str()),
        ("--validity-days", "30"),
    ];
    let mut args = vec![
        "sign-intermediate",
        "--root-cert",
        s(&cert_path),
        "--out",
        s(&bundle),
        "--cert-out",
        s(&cert),
    ];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    ceremony(&args)
}

fn rfc3339(value: time::OffsetDateTime) -> String {
    value.format(&Rfc3339).unwrap()
}

#[test]
fn init_root_rejects_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = passphrase_file(dir.path(), "passphrase", PASSPHRASE);
    let out_dir = dir.path().join("root");
    fs::create_dir(&out_dir).unwrap();
    let existing = write_file(&out_dir.join("root.key.age"), "old key", 0o600);

    let run = ceremony(&[
        "init-root",
        "--out-dir",
        s(&out_dir),
        "--passphrase-file",
        s(&passphrase),
    ]);
    run.assert_error(2, &["already exists", s(&existing)]);
    assert!(
        run.stderr
            .contains("hint: the ceremony never overwrites files")
    );
    assert_eq!(listing(&out_dir), ["root.key.age"]);
    assert_eq!(fs::read_to_string(&existing).unwrap(), "old key\n");
}

#[test]
fn sign_intermediate_rejects_existing_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let existing = write_file(&dir.path().join("bundle.age"), "old bundle", 0o600);

    let run = sign(dir.path(), &[]);
    run.assert_error(2, &["already exists", s(&existing)]);
    assert_eq!(listing(dir.path()), ["bundle.age"]);
    assert_eq!(fs::read_to_string(&existing).unwrap(), "old bundle\n");
}

#[test]
fn sign_intermediate_rejects_wrong_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = passphrase_file(dir.path(), "wrong", "not the root passphrase");

    let run = sign(dir.path(), &["--passphrase-file", s(&wrong)]);
    run.assert_error(1, &["passphrase is wrong", s(&roots().key("a"))]);
    assert!(run.stderr.contains("hint: check the passphrase"));
    assert_eq!(listing(dir.path()), ["wrong"]);
}

#[test]
fn sign_intermediate_rejects_key_of_other_root() {
    let dir = tempfile::tempdir().unwrap();
    let other_key = roots().key("b");

    let run = sign(dir.path(), &["--root-key", s(&other_key)]);
    run.assert_error(1, &["does not belong to the certificate"]);
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn init_root_rejects_short_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let short = passphrase_file(dir.path(), "short", "eleven char");
    let out_dir = dir.path().join("root");

    let run = ceremony(&[
        "init-root",
        "--out-dir",
        s(&out_dir),
        "--passphrase-file",
        s(&short),
    ]);
    run.assert_error(2, &["11 characters", "at least 12"]);
    assert!(!run.stderr.contains("eleven char"), "the passphrase leaked");
    assert_eq!(listing(dir.path()), ["short"]);
}

#[test]
fn init_root_rejects_readable_passphrase_file() {
    let dir = tempfile::tempdir().unwrap();
    let readable = write_file(&dir.path().join("passphrase"), PASSPHRASE, 0o644);
    let out_dir = dir.path().join("root");

    let run = ceremony(&[
        "init-root",
        "--out-dir",
        s(&out_dir),
        "--passphrase-file",
        s(&readable),
    ]);
    run.assert_error(2, &["mode 0644", s(&readable)]);
    assert!(
        run.stderr
            .contains(&format!("hint: run `chmod 600 '{}'`", s(&readable)))
    );
    assert_eq!(listing(dir.path()), ["passphrase"]);
}

#[test]
fn init_root_needs_terminal_without_passphrase_file() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("root");

    let run = ceremony(&["init-root", "--out-dir", s(&out_dir)]);
    run.assert_error(2, &["standard input is not a terminal"]);
    assert!(run.stderr.contains("--passphrase-file"));
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn sign_intermediate_rejects_invalid_recipient() {
    let dir = tempfile::tempdir().unwrap();

    let run = sign(dir.path(), &["--recipient", "age1notarecipient"]);
    run.assert_error(2, &["invalid age recipient", "age1notarecipient"]);
    assert!(
        run.stderr
            .contains("hint: pass the issuing host's recipient")
    );
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn sign_intermediate_rejects_validity_beyond_root() {
    let dir = tempfile::tempdir().unwrap();
    let root_pem = fs::read(roots().cert("a")).unwrap();
    let root = CertificateInfo::parse_pem(&root_pem, "test root").unwrap();

    let run = sign(dir.path(), &["--validity-days", "1825"]);
    let root_not_after = rfc3339(root.validity.not_after);
    run.assert_error(
        2,
        &["the intermediate would be valid until", &root_not_after],
    );
    assert!(
        run.stderr
            .contains("hint: choose a shorter --validity-days")
    );
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn validity_above_maximum_needs_override() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = passphrase_file(dir.path(), "passphrase", PASSPHRASE);
    let out_dir = dir.path().join("root");

    let root = ceremony(&[
        "init-root",
        "--out-dir",
        s(&out_dir),
        "--passphrase-file",
        s(&passphrase),
        "--validity-days",
        "9132",
    ]);
    root.assert_error(2, &["--validity-days 9132", "maximum of 9131 days"]);
    assert!(root.stderr.contains("--allow-long-validity"));

    let intermediate = sign(dir.path(), &["--validity-days", "2923"]);
    intermediate.assert_error(2, &["--validity-days 2923", "maximum of 2922 days"]);

    // With the override the lifetime passes the maximum, so the next check (the
    // root's own notAfter) is the one that stops it.
    let allowed = sign(
        dir.path(),
        &["--validity-days", "2923", "--allow-long-validity"],
    );
    allowed.assert_error(2, &["the intermediate would be valid until"]);
    assert_eq!(listing(dir.path()), ["passphrase"]);
}
