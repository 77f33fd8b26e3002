//! `ironroot-client enroll` as a process, against the mock issuer.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{MockServer, Options};
use ironroot_core::Fingerprint;
use ironroot_core::cert::CertificateInfo;
use ironroot_core::keys::PrivateKey;
use rustls_pki_types::{CertificateDer, UnixTime};

const BINARY: &str = env!("CARGO_BIN_EXE_ironroot-client");

struct Paths {
    dir: tempfile::TempDir,
}

impl Paths {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_token(&self, token: &str) -> PathBuf {
        let path = self.path("token");
        std::fs::write(&path, format!("{token}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

/// Runs enroll with the usual outputs in `paths` and `extra` flags, off the
/// async runtime so the mock keeps serving.
async fn enroll(paths: &Paths, extra: Vec<String>, stdin: Option<String>) -> Output {
    let mut args: Vec<String> = vec![
        "enroll".into(),
        "--cert".into(),
        paths.path("leaf.pem").display().to_string(),
        "--key".into(),
        paths.path("leaf.key").display().to_string(),
    ];
    args.extend(extra);
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BINARY)
            .args(&args)
            .env_remove("IRONROOT_SERVER")
            .env_remove("IRONROOT_ROOT_FINGERPRINT")
            .env_remove("IRONROOT_TOKEN_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child_stdin = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            child_stdin.write_all(text.as_bytes()).unwrap();
        }
        drop(child_stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn server_flags(mock: &MockServer, fingerprint: Fingerprint, token_file: &Path) -> Vec<String> {
    vec![
        "--server".into(),
        mock.url.clone(),
        "--root-fingerprint".into(),
        fingerprint.to_string(),
        "--token-file".into(),
        token_file.display().to_string(),
    ]
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_writes_private_key_and_verified_certificate() {
    let mock = MockServer::start(Options::default()).await;
    let paths = Paths::new();
    let token_file = paths.write_token(&mock.add_token());
    let mut flags = server_flags(&mock, mock.pki.root_fingerprint(), &token_file);
    flags.extend([
        "--dns".into(),
        "api.example".into(),
        "--ip".into(),
        "127.0.0.1".into(),
        "--chain".into(),
        paths.path("chain.pem").display().to_string(),
        "--root-out".into(),
        paths.path("root.pem").display().to_string(),
    ]);

    let output = enroll(&paths, flags, None).await;
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("fingerprint matches"), "{log}");
    assert!(log.contains("leaf.pem (serial "), "{log}");
    assert_eq!(mock.sign_requests(), 1);

    let key_mode = std::fs::metadata(paths.path("leaf.key")).unwrap().mode() & 0o777;
    assert_eq!(key_mode, 0o600);
    assert!(!paths.path("leaf.key.pending").exists());
    let key_pem = std::fs::read_to_string(paths.path("leaf.key")).unwrap();
    let key = PrivateKey::from_pkcs8_pem(&key_pem, "written key").unwrap();

    let leaf = CertificateInfo::parse_pem(&std::fs::read(paths.path("leaf.pem")).unwrap(), "leaf")
        .unwrap();
    assert_eq!(leaf.public_key_der, key.public_key_der());
    let chain = ironroot_core::pemfile::parse_all(
        &std::fs::read(paths.path("chain.pem")).unwrap(),
        "CERTIFICATE",
        "chain",
    )
    .unwrap();
    let root = CertificateInfo::parse_pem(&std::fs::read(paths.path("root.pem")).unwrap(), "root")
        .unwrap();
    assert_eq!(root.der, mock.pki.root_der);

    let root_der = CertificateDer::from(root.der.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&root_der).unwrap();
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &intermediates,
            UnixTime::now(),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("api.example").unwrap();
    end_entity.verify_is_valid_for_subject_name(&name).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_stops_on_fingerprint_mismatch_before_sending_token() {
    let mock = MockServer::start(Options::default()).await;
    let paths = Paths::new();
    let token_file = paths.write_token(&mock.add_token());
    let wrong = Fingerprint::of(b"not the mock root");
    let mut flags = server_flags(&mock, wrong, &token_file);
    flags.extend(["--dns".into(), "api.example".into()]);

    let output = enroll(&paths, flags, None).await;
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains(&wrong.to_string()), "{log}");
    assert!(
        log.contains(&mock.pki.root_fingerprint().to_string()),
        "{log}"
    );
    assert!(log.contains("hint: "), "{log}");
    assert_eq!(mock.sign_requests(), 0);
    assert!(!paths.path("leaf.key").exists());
    assert!(!paths.path("leaf.key.pending").exists());
    assert!(!paths.path("leaf.pem").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_shows_server_error_and_keeps_old_files() {
    let mock = MockServer::start(Options::default()).await;
    let paths = Paths::new();
    std::fs::write(paths.path("leaf.key"), "old key").unwrap();
    std::fs::write(paths.path("leaf.pem"), "old certificate").unwrap();
    let mut flags = server_flags(&mock, mock.pki.root_fingerprint(), Path::new("-"));
    flags.extend(["--dns".into(), "api.example".into()]);

    let output = enroll(&paths, flags, Some("irt_unknowntoken\n".into())).await;
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("unknown or was already used"), "{log}");
    assert!(log.contains("token_invalid"), "{log}");
    assert!(log.contains("HTTP 401"), "{log}");
    assert!(!log.contains("irt_unknowntoken"), "the token leaked: {log}");
    assert_eq!(mock.sign_requests(), 1);
    assert_eq!(
        std::fs::read_to_string(paths.path("leaf.key")).unwrap(),
        "old key"
    );
    assert_eq!(
        std::fs::read_to_string(paths.path("leaf.pem")).unwrap(),
        "old certificate"
    );
    assert!(!paths.path("leaf.key.pending").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_rejects_certificate_for_other_key() {
    let mock = MockServer::start(Options {
        issue_for_other_key: true,
        ..Options::default()
    })
    .await;
    let paths = Paths::new();
    let token_file = paths.write_token(&mock.add_token());
    let mut flags = server_flags(&mock, mock.pki.root_fingerprint(), &token_file);
    flags.extend(["--dns".into(), "api.example".into()]);

    let output = enroll(&paths, flags, None).await;
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("failed local verification"), "{log}");
    assert!(!paths.path("leaf.pem").exists());
    assert!(!paths.path("leaf.key").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_rejects_usage_errors_with_exit_code_2() {
    let paths = Paths::new();
    let token_file = paths.write_token("irt_abc");
    let fingerprint = Fingerprint::of(b"root").to_string();
    let token = token_file.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--server",
                "http://ca.example.com:8080",
                "--dns",
                "a.example",
            ],
            "loopback",
        ),
        (vec!["--server", "https://127.0.0.1:1"], "--dns"),
        (
            vec![
                "--server",
                "https://127.0.0.1:1",
                "--dns",
                "bad_name.example",
            ],
            "bad_name.example",
        ),
        (
            vec!["--server", "https://127.0.0.1:1", "--ip", "300.1.1.1"],
            "300.1.1.1",
        ),
    ];
    for (case, expected) in cases {
        let mut flags: Vec<String> = case.iter().map(|s| s.to_string()).collect();
        flags.extend([
            "--root-fingerprint".into(),
            fingerprint.clone(),
            "--token-file".into(),
            token.clone(),
        ]);
        let output = enroll(&paths, flags, None).await;
        let log = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{case:?}: {log}");
        assert!(log.contains(expected), "{case:?}: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_rejects_malformed_token_without_showing_it() {
    let paths = Paths::new();
    let token_file = paths.write_token("secret-but-not-a-token");
    let flags = vec![
        "--server".into(),
        "https://127.0.0.1:1".into(),
        "--root-fingerprint".into(),
        Fingerprint::of(b"root").to_string(),
        "--token-file".into(),
        token_file.display().to_string(),
        "--dns".into(),
        "a.example".into(),
    ];
    let output = enroll(&paths, flags, None).await;
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(log.contains("not an IronRoot bootstrap token"), "{log}");
    assert!(!log.contains("secret-but-not-a-token"), "{log}");
}
