//! The whole IronRoot flow through the real binaries: ceremony, bundle, import,
//! daemon over TLS, operator token, workload enrollment, then independent
//! verification and the failure cases a user meets first.

// Test helpers outside #[test] functions unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ironroot_core::cert::CertificateInfo;
use ironroot_core::pemfile;
use ironroot_e2e::run::{Daemon, Run, Transcript, run};
use ironroot_e2e::verify;

/// A rehearsal PKI built through the binaries in a temporary directory.
struct Pki {
    _dir: tempfile::TempDir,
    root: PathBuf,
    transcript: Transcript,
    passphrase: String,
    offline: PathBuf,
    data_dir: PathBuf,
    admin: PathBuf,
    recipient: String,
}

impl Pki {
    /// Runs the ceremony, initialises and imports into an issuer data directory,
    /// and mints an admin credential. The daemon is not started.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let transcript = Transcript::default();
        let offline = root.join("offline");
        std::fs::create_dir(&offline).unwrap();
        let passphrase = "rehearsal passphrase for tests only".to_owned();
        let passphrase_file = offline.join("passphrase");
        std::fs::write(&passphrase_file, format!("{passphrase}\n")).unwrap();
        std::fs::set_permissions(&passphrase_file, std::fs::Permissions::from_mode(0o600)).unwrap();

        run(
            &transcript,
            "ironroot-ceremony",
            &[
                "init-root",
                "--out-dir",
                s(&offline),
                "--algorithm",
                "ecdsa-p384",
                "--common-name",
                "E2E Root CA",
                "--passphrase-file",
                s(&passphrase_file),
            ],
        )
        .success();

        let data_dir = root.join("issuer");
        let init = run(
            &transcript,
            "ironroot-issuer",
            &["init", "--data-dir", s(&data_dir)],
        )
        .success();
        let recipient = init.stdout.lines().last().unwrap().trim().to_owned();
        assert!(recipient.starts_with("age1"), "{}", init.stdout);

        let bundle = offline.join("intermediate.bundle.age");
        run(
            &transcript,
            "ironroot-ceremony",
            &[
                "sign-intermediate",
                "--root-cert",
                s(&offline.join("root.pem")),
                "--root-key",
                s(&offline.join("root.key.age")),
                "--passphrase-file",
                s(&passphrase_file),
                "--recipient",
                &recipient,
                "--common-name",
                "E2E Intermediate CA",
                "--out",
                s(&bundle),
                "--cert-out",
                s(&offline.join("intermediate.pem")),
            ],
        )
        .success();
        run(
            &transcript,
            "ironroot-issuer",
            &[
                "import",
                "--data-dir",
                s(&data_dir),
                "--root-fingerprint",
                &root_fingerprint(&offline.join("root.pem")),
                s(&bundle),
            ],
        )
        .success();

        let admin = root.join("admin");
        run(
            &transcript,
            "ironroot-issuer",
            &[
                "admin-credential",
                "--data-dir",
                s(&data_dir),
                "--name",
                "e2e-operator",
                "--out-dir",
                s(&admin),
            ],
        )
        .success();

        Self {
            root: offline.join("root.pem"),
            _dir: dir,
            transcript,
            passphrase,
            offline,
            data_dir,
            admin,
            recipient,
        }
    }

    fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// Creates a token with `ironroot-admin` and returns the path of its 0600 file.
    fn token(&self, daemon: &Daemon, file: &str, names: &[&str], ttl: &str) -> PathBuf {
        let path = self.dir().join(file);
        let cert = self.admin.join("admin.pem");
        let key = self.admin.join("admin.key");
        let mut args = vec![
            "--server",
            &daemon.url,
            "--root",
            s(&self.root),
            "--cert",
            s(&cert),
            "--key",
            s(&key),
            "token",
            "create",
            "--ttl",
            ttl,
            "--out",
            s(&path),
        ];
        for name in names {
            args.push(if name.parse::<std::net::IpAddr>().is_ok() {
                "--ip"
            } else {
                "--dns"
            });
            args.push(name);
        }
        run(&self.transcript, "ironroot-admin", &args).success();
        path
    }

    /// Enrolls with `ironroot-client` into `<prefix>.pem`, `<prefix>.key` and `<prefix>.chain.pem`.
    fn enroll(&self, daemon: &Daemon, token: &Path, prefix: &str, names: &[&str]) -> Run {
        let fingerprint = CertificateInfo::parse_pem(&std::fs::read(&self.root).unwrap(), "root")
            .unwrap()
            .fingerprint
            .to_string();
        let cert = self.dir().join(format!("{prefix}.pem"));
        let key = self.dir().join(format!("{prefix}.key"));
        let chain = self.dir().join(format!("{prefix}.chain.pem"));
        let mut args = vec![
            "enroll",
            "--server",
            &daemon.url,
            "--root-fingerprint",
            &fingerprint,
            "--token-file",
            s(token),
            "--cert",
            s(&cert),
            "--key",
            s(&key),
            "--chain",
            s(&chain),
        ];
        for name in names {
            args.push(if name.parse::<std::net::IpAddr>().is_ok() {
                "--ip"
            } else {
                "--dns"
            });
            args.push(name);
        }
        run(&self.transcript, "ironroot-client", &args)
    }

    fn certificate_count(&self) -> i64 {
        let db = rusqlite::Connection::open(self.data_dir.join("issuer.db")).unwrap();
        db.query_row("SELECT COUNT(*) FROM certificates", [], |row| row.get(0))
            .unwrap()
    }

    fn has_certificate(&self, serial_hex: &str) -> bool {
        let db = rusqlite::Connection::open(self.data_dir.join("issuer.db")).unwrap();
        db.query_row(
            "SELECT COUNT(*) FROM certificates WHERE serial = ?1",
            [serial_hex],
            |row| row.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }
}

/// Returns the SHA-256 fingerprint of a PEM certificate file, colon-separated.
fn root_fingerprint(path: &Path) -> String {
    CertificateInfo::parse_pem(&std::fs::read(path).unwrap(), "root")
        .unwrap()
        .fingerprint
        .to_string()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn whole_flow_through_binaries() {
    let pki = Pki::new();
    assert_eq!(mode(&pki.offline.join("root.key.age")), 0o600);
    assert_eq!(mode(&pki.data_dir), 0o700);
    assert_eq!(mode(&pki.data_dir.join("host.identity")), 0o600);
    assert_eq!(mode(&pki.admin.join("admin.key")), 0o600);

    let daemon = Daemon::start(&pki.transcript, &pki.data_dir, &[]);
    let token = pki.token(&daemon, "token", &["app.e2e.internal", "127.0.0.1"], "10m");
    assert_eq!(mode(&token), 0o600);
    pki.enroll(&daemon, &token, "leaf", &["app.e2e.internal", "127.0.0.1"])
        .success();

    let dir = pki.dir();
    assert_eq!(mode(&dir.join("leaf.key")), 0o600);
    let leaf =
        CertificateInfo::parse_pem(&std::fs::read(dir.join("leaf.pem")).unwrap(), "leaf").unwrap();
    let chain = pemfile::parse_all(
        &std::fs::read(dir.join("leaf.chain.pem")).unwrap(),
        "CERTIFICATE",
        "chain",
    )
    .unwrap();
    let root = CertificateInfo::parse_pem(&std::fs::read(&pki.root).unwrap(), "root").unwrap();
    assert!(
        pki.has_certificate(&leaf.serial_hex()),
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
        &pki.root,
        Some(&dir.join("leaf.chain.pem")),
        &dir.join("leaf.pem"),
    )
    .unwrap();
    verify::openssl_verify(&pki.root, None, &pki.offline.join("intermediate.pem")).unwrap();
    for path in [
        pki.root.clone(),
        pki.offline.join("intermediate.pem"),
        dir.join("leaf.pem"),
    ] {
        let errors = verify::pkilint_errors(&path);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    assert!(leaf.validity.not_after <= root.validity.not_after);

    let token_text = std::fs::read_to_string(&token).unwrap();
    assert_eq!(daemon.stop(), 0, "the daemon did not stop cleanly");
    assert_no_secrets(&pki, &[token_text.trim()]);
}

#[test]
fn token_misuse_is_rejected_and_stores_nothing() {
    let pki = Pki::new();
    let daemon = Daemon::start(&pki.transcript, &pki.data_dir, &[]);

    let reused = pki.token(&daemon, "reused", &["reused.e2e.internal"], "10m");
    pki.enroll(&daemon, &reused, "first", &["reused.e2e.internal"])
        .success();
    let before = pki.certificate_count();
    let again = pki
        .enroll(&daemon, &reused, "second", &["reused.e2e.internal"])
        .failure(1);
    assert!(again.stderr.contains("token_used"), "{}", again.stderr);
    assert!(!pki.dir().join("second.pem").exists());

    let scoped = pki.token(&daemon, "scoped", &["allowed.e2e.internal"], "10m");
    let outside = pki
        .enroll(
            &daemon,
            &scoped,
            "outside",
            &["allowed.e2e.internal", "other.e2e.internal"],
        )
        .failure(1);
    assert!(
        outside.stderr.contains("other.e2e.internal"),
        "{}",
        outside.stderr
    );
    assert!(
        outside.stderr.contains("name_not_allowed"),
        "{}",
        outside.stderr
    );

    let short = pki.token(&daemon, "short", &["late.e2e.internal"], "1s");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let expired = pki
        .enroll(&daemon, &short, "late", &["late.e2e.internal"])
        .failure(1);
    assert!(
        expired.stderr.contains("token_expired"),
        "{}",
        expired.stderr
    );

    assert_eq!(
        pki.certificate_count(),
        before,
        "a rejected request left a certificate row"
    );
    // The scoped token was not consumed by the rejected request.
    pki.enroll(&daemon, &scoped, "inside", &["allowed.e2e.internal"])
        .success();

    let tokens: Vec<String> = ["reused", "scoped", "short"]
        .iter()
        .map(|name| {
            std::fs::read_to_string(pki.dir().join(name))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(daemon.stop(), 0);
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    assert_no_secrets(&pki, &tokens);
}

#[test]
fn wrong_fingerprint_sends_no_token() {
    let pki = Pki::new();
    let daemon = Daemon::start(&pki.transcript, &pki.data_dir, &[]);
    let token = pki.token(&daemon, "token", &["fp.e2e.internal"], "10m");
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
    let pki = Pki::new();
    let passphrase_file = pki.offline.join("passphrase");

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
    run(
        &pki.transcript,
        "ironroot-ceremony",
        &[
            "sign-intermediate",
            "--root-cert",
            s(&pki.root),
            "--root-key",
            s(&pki.offline.join("root.key.age")),
            "--passphrase-file",
            s(&passphrase_file),
            "--recipient",
            &other_recipient,
            "--out",
            s(&foreign),
        ],
    )
    .success();

    let fresh_dir = pki.dir().join("fresh-issuer");
    run(
        &pki.transcript,
        "ironroot-issuer",
        &["init", "--data-dir", s(&fresh_dir)],
    )
    .success();
    let rejected = run(
        &pki.transcript,
        "ironroot-issuer",
        &[
            "import",
            "--data-dir",
            s(&fresh_dir),
            "--root-fingerprint",
            &root_fingerprint(&pki.root),
            s(&foreign),
        ],
    )
    .failure(1);
    assert!(rejected.stderr.contains("another"), "{}", rejected.stderr);
    assert_no_ca_imported(&fresh_dir);

    // A truncated bundle for the right host.
    let fresh_recipient = std::fs::read_to_string(fresh_dir.join("host.recipient")).unwrap();
    let good = pki.offline.join("good.bundle.age");
    run(
        &pki.transcript,
        "ironroot-ceremony",
        &[
            "sign-intermediate",
            "--root-cert",
            s(&pki.root),
            "--root-key",
            s(&pki.offline.join("root.key.age")),
            "--passphrase-file",
            s(&passphrase_file),
            "--recipient",
            fresh_recipient.trim(),
            "--out",
            s(&good),
        ],
    )
    .success();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = pki.offline.join("truncated.bundle.age");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let rejected = run(
        &pki.transcript,
        "ironroot-issuer",
        &[
            "import",
            "--data-dir",
            s(&fresh_dir),
            "--root-fingerprint",
            &root_fingerprint(&pki.root),
            s(&truncated),
        ],
    )
    .failure(1);
    assert!(
        rejected.stderr.contains("truncated") || rejected.stderr.contains("damaged"),
        "{}",
        rejected.stderr
    );
    assert_no_ca_imported(&fresh_dir);

    // The intact bundle imports.
    run(
        &pki.transcript,
        "ironroot-issuer",
        &[
            "import",
            "--data-dir",
            s(&fresh_dir),
            "--root-fingerprint",
            &root_fingerprint(&pki.root),
            s(&good),
        ],
    )
    .success();
    assert_no_secrets(&pki, &[]);
    let _ = &pki.recipient;
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

/// Fails if any output of the run contains a private key, an age identity, the
/// ceremony passphrase or one of `tokens`.
fn assert_no_secrets(pki: &Pki, tokens: &[&str]) {
    let text = pki.transcript.text();
    assert!(
        !text.contains("PRIVATE KEY"),
        "a private key appears in the output:\n{text}"
    );
    assert!(
        !text.contains("AGE-SECRET-KEY"),
        "an age identity appears in the output"
    );
    assert!(
        !text.contains(&pki.passphrase),
        "the ceremony passphrase appears in the output"
    );
    for token in tokens {
        assert!(!token.is_empty());
        assert!(
            !text.contains(token),
            "a bootstrap token appears in the output"
        );
    }
    let identity = std::fs::read_to_string(pki.data_dir.join("host.identity")).unwrap();
    for line in identity
        .lines()
        .filter(|line| line.starts_with("AGE-SECRET-KEY"))
    {
        assert!(
            !text.contains(line),
            "the host identity appears in the output"
        );
    }
}
