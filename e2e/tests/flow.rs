//! The whole IronRoot flow through the real binaries: ceremony, bundle, import,
//! daemon over TLS, operator token, workload enrollment, then independent
//! verification and the failure cases a user meets first.

// Test helpers outside #[test] functions unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use ironroot_core::pemfile;
use ironroot_e2e::pki::{Pki, PkiOptions, certificate, file_mode as mode, path_str as s};
use ironroot_e2e::run::{Daemon, run};
use ironroot_e2e::verify;

const OPTIONS: PkiOptions<'static> = PkiOptions {
    algorithm: "ecdsa-p384",
    root_common_name: "E2E Root CA",
    intermediate: "intermediate",
    intermediate_common_name: "E2E Intermediate CA",
    admin_name: "e2e-operator",
    config: None,
};

/// Creates a token for `names` valid for `ttl` with `ironroot-admin` and
/// returns the path of its 0600 file.
fn token_file(pki: &Pki, daemon: &Daemon, file: &str, names: &[&str], ttl: &str) -> PathBuf {
    let path = pki.path(file);
    pki.create_token(daemon, &path, names, &["--ttl", ttl])
        .success();
    path
}

fn certificate_count(pki: &Pki) -> i64 {
    pki.db()
        .query_row("SELECT COUNT(*) FROM certificates", [], |row| row.get(0))
        .unwrap()
}

fn has_certificate(pki: &Pki, serial_hex: &str) -> bool {
    pki.db()
        .query_row(
            "SELECT COUNT(*) FROM certificates WHERE serial = ?1",
            [serial_hex],
            |row| row.get::<_, i64>(0),
        )
        .unwrap()
        == 1
}

#[test]
fn whole_flow_through_binaries() {
    let pki = Pki::new(&OPTIONS);
    assert_eq!(mode(&pki.offline.join("root.key.age")), 0o600);
    assert_eq!(mode(&pki.data_dir), 0o700);
    assert_eq!(mode(&pki.data_dir.join("host.identity")), 0o600);
    assert_eq!(mode(&pki.admin.join("admin.key")), 0o600);

    let daemon = pki.start_daemon(&[]);
    let token = token_file(
        &pki,
        &daemon,
        "token",
        &["app.e2e.internal", "127.0.0.1"],
        "10m",
    );
    assert_eq!(mode(&token), 0o600);
    pki.enroll(&daemon, &token, "leaf", &["app.e2e.internal", "127.0.0.1"])
        .success();

    let dir = pki.dir();
    assert_eq!(mode(&dir.join("leaf.key")), 0o600);
    let leaf = pki.leaf("leaf");
    let chain = pemfile::parse_all(
        &std::fs::read(dir.join("leaf.chain.pem")).unwrap(),
        "CERTIFICATE",
        "chain",
    )
    .unwrap();
    let root = certificate(&pki.root());
    assert!(
        has_certificate(&pki, &leaf.serial_hex()),
        "leaf {} is not in the database",
        leaf.serial_hex()
    );

    let intermediates: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    let now = time::OffsetDateTime::now_utc();
    verify::webpki_verify(
        &root.der,
        &intermediates,
        &leaf.der,
        verify::Usage::Server,
        Some("app.e2e.internal"),
        now,
    )
    .unwrap();
    verify::webpki_verify(
        &root.der,
        &intermediates,
        &leaf.der,
        verify::Usage::Client,
        Some("127.0.0.1"),
        now,
    )
    .unwrap();
    verify::openssl_verify(
        &pki.root(),
        Some(&dir.join("leaf.chain.pem")),
        &dir.join("leaf.pem"),
    )
    .unwrap();
    verify::openssl_verify(&pki.root(), None, &pki.offline.join("intermediate.pem")).unwrap();
    for path in [
        pki.root(),
        pki.offline.join("intermediate.pem"),
        dir.join("leaf.pem"),
    ] {
        let errors = verify::pkilint_errors(&path);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    assert!(leaf.validity.not_after <= root.validity.not_after);

    assert_eq!(daemon.stop(), 0, "the daemon did not stop cleanly");
    pki.assert_no_secrets();
}

#[test]
fn token_misuse_is_rejected_and_stores_nothing() {
    let pki = Pki::new(&OPTIONS);
    let daemon = pki.start_daemon(&[]);

    let reused = token_file(&pki, &daemon, "reused", &["reused.e2e.internal"], "10m");
    pki.enroll(&daemon, &reused, "first", &["reused.e2e.internal"])
        .success();
    let before = certificate_count(&pki);
    pki.enroll(&daemon, &reused, "second", &["reused.e2e.internal"])
        .failure(1)
        .expect_stderr(&["token_used"]);
    assert!(!pki.dir().join("second.pem").exists());

    let scoped = token_file(&pki, &daemon, "scoped", &["allowed.e2e.internal"], "10m");
    pki.enroll(
        &daemon,
        &scoped,
        "outside",
        &["allowed.e2e.internal", "other.e2e.internal"],
    )
    .failure(1)
    .expect_stderr(&["other.e2e.internal", "name_not_allowed"]);

    let short = token_file(&pki, &daemon, "short", &["late.e2e.internal"], "1s");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    pki.enroll(&daemon, &short, "late", &["late.e2e.internal"])
        .failure(1)
        .expect_stderr(&["token_expired"]);

    assert_eq!(
        certificate_count(&pki),
        before,
        "a rejected request left a certificate row"
    );
    // The scoped token was not consumed by the rejected request.
    pki.enroll(&daemon, &scoped, "inside", &["allowed.e2e.internal"])
        .success();

    assert_eq!(daemon.stop(), 0);
    pki.assert_no_secrets();
}

#[test]
fn wrong_fingerprint_sends_no_token() {
    let pki = Pki::new(&OPTIONS);
    let daemon = pki.start_daemon(&[]);
    let token = token_file(&pki, &daemon, "token", &["fp.e2e.internal"], "10m");
    let wrong = "00".repeat(32);
    let run = run(
        &pki.transcript,
        "ironroot-client",
        &[
            "enroll",
            "--server",
            &daemon.url,
            "--root-fingerprint",
            &wrong,
            "--token-file",
            s(&token),
            "--dns",
            "fp.e2e.internal",
            "--cert",
            s(&pki.dir().join("fp.pem")),
            "--key",
            s(&pki.dir().join("fp.key")),
        ],
    )
    .failure(1);
    assert!(
        run.stderr.to_lowercase().contains("fingerprint"),
        "{}",
        run.stderr
    );
    // The token still works, so it was never presented.
    pki.enroll(&daemon, &token, "fp", &["fp.e2e.internal"])
        .success();
}

#[test]
fn bad_bundles_are_rejected_and_store_nothing() {
    let pki = Pki::new(&OPTIONS);

    // A bundle addressed to another issuing host.
    let other_dir = pki.dir().join("other-issuer");
    let other = run(
        &pki.transcript,
        "ironroot-issuer",
        &["init", "--data-dir", s(&other_dir)],
    )
    .success();
    let other_recipient = other.stdout.lines().last().unwrap().trim().to_owned();
    let foreign = pki.offline.join("foreign.bundle.age");
    pki.sign_intermediate(&other_recipient, &foreign, &[])
        .success();

    let fresh_dir = pki.dir().join("fresh-issuer");
    run(
        &pki.transcript,
        "ironroot-issuer",
        &["init", "--data-dir", s(&fresh_dir)],
    )
    .success();
    pki.import_bundle(&fresh_dir, &foreign)
        .failure(1)
        .expect_stderr(&["another"]);
    assert_no_ca_imported(&fresh_dir);

    // A truncated bundle for the right host.
    let fresh_recipient = std::fs::read_to_string(fresh_dir.join("host.recipient")).unwrap();
    let good = pki.offline.join("good.bundle.age");
    pki.sign_intermediate(fresh_recipient.trim(), &good, &[])
        .success();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = pki.offline.join("truncated.bundle.age");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let rejected = pki.import_bundle(&fresh_dir, &truncated).failure(1);
    assert!(
        rejected.stderr.contains("truncated") || rejected.stderr.contains("damaged"),
        "{}",
        rejected.stderr
    );
    assert_no_ca_imported(&fresh_dir);

    // The intact bundle imports.
    pki.import_bundle(&fresh_dir, &good).success();
    pki.assert_no_secrets();
}

fn assert_no_ca_imported(data_dir: &Path) {
    let intermediates = data_dir.join("intermediates");
    let key_files = std::fs::read_dir(&intermediates)
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(
        key_files,
        0,
        "a key file was left in {}",
        intermediates.display()
    );
    let db_path = data_dir.join("issuer.db");
    if db_path.exists() {
        let db = rusqlite::Connection::open(&db_path).unwrap();
        let has_table: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'cas'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        if has_table == 1 {
            let rows: i64 = db
                .query_row("SELECT COUNT(*) FROM cas", [], |row| row.get(0))
                .unwrap();
            assert_eq!(rows, 0, "a CA row was recorded");
        }
    }
}
