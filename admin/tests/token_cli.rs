//! `ironroot-admin token create` as a process, against the mock issuer.
#![allow(clippy::unwrap_used)]

#[path = "../../client/tests/common/mod.rs"]
mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Output};

use common::{MockServer, Options};

const BINARY: &str = env!("CARGO_BIN_EXE_ironroot-admin");

/// Files of one test: the root, and the admin credential with a 0600 key.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(mock: &MockServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.pem"), mock.pki.root_pem()).unwrap();
        std::fs::write(dir.path().join("admin.pem"), &mock.pki.admin_chain_pem).unwrap();
        let key = dir.path().join("admin.key");
        std::fs::write(&key, &mock.pki.admin_key_pem).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Runs the admin binary off the async runtime so the mock keeps serving.
async fn admin(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .args(&args)
            .env_remove("IRONROOT_SERVER")
            .env_remove("IRONROOT_ROOT")
            .env_remove("IRONROOT_ROOT_FINGERPRINT")
            .env_remove("IRONROOT_ADMIN_CERT")
            .env_remove("IRONROOT_ADMIN_KEY")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn connection_flags(mock: &MockServer, files: &Files, with_credential: bool) -> Vec<String> {
    let mut flags = vec![
        "--server".to_owned(),
        mock.url.clone(),
        "--root".to_owned(),
        files.path("root.pem"),
    ];
    if with_credential {
        flags.extend([
            "--cert".to_owned(),
            files.path("admin.pem"),
            "--key".to_owned(),
            files.path("admin.key"),
        ]);
    }
    flags
}

fn create_flags(extra: &[&str]) -> Vec<String> {
    let mut flags: Vec<String> = [
        "token",
        "create",
        "--dns",
        "api.example",
        "--ip",
        "10.0.0.7",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    flags.extend(extra.iter().map(|s| s.to_string()));
    flags
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_only_token_on_stdout() {
    let mock = MockServer::start(Options::default()).await;
    let files = Files::new(&mock);
    let mut args = connection_flags(&mock, &files, true);
    args.extend(create_flags(&["--ttl", "5m"]));

    let output = admin(args).await;
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.trim_end();
    assert!(token.starts_with("irt_"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(log.contains("created token tok_"), "{log}");
    assert!(log.contains("api.example, 10.0.0.7"), "{log}");
    assert!(!log.contains(token), "the token is on stderr: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_without_certificate_is_rejected() {
    let mock = MockServer::start(Options::default()).await;
    let files = Files::new(&mock);
    let mut args = connection_flags(&mock, &files, false);
    args.extend(create_flags(&[]));

    let output = admin(args).await;
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("admin_required"), "{log}");
    assert!(log.contains("HTTP 403"), "{log}");
    assert!(log.contains("hint: pass --cert and --key"), "{log}");
    assert!(output.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_writes_new_private_file() {
    let mock = MockServer::start(Options::default()).await;
    let files = Files::new(&mock);
    let out = files.path("token");
    let mut args = connection_flags(&mock, &files, true);
    args.extend(create_flags(&["--out", &out]));

    let output = admin(args.clone()).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let metadata = std::fs::metadata(&out).unwrap();
    assert_eq!(metadata.mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("irt_"));

    let again = admin(args).await;
    let log = stderr(&again);
    assert_eq!(again.status.code(), Some(2), "{log}");
    assert!(log.contains("already exists"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_json_response() {
    let mock = MockServer::start(Options::default()).await;
    let files = Files::new(&mock);
    let mut args = vec![
        "--server".to_owned(),
        mock.url.clone(),
        "--root-fingerprint".to_owned(),
        mock.pki.root_fingerprint().to_hex(),
        "--cert".to_owned(),
        files.path("admin.pem"),
        "--key".to_owned(),
        files.path("admin.key"),
    ];
    args.extend(create_flags(&["--json"]));

    let output = admin(args).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["token"].as_str().unwrap().starts_with("irt_"));
    assert!(json["id"].as_str().unwrap().starts_with("tok_"));
    assert_eq!(json["names"][0], "api.example");
    assert!(json["expires_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_rejects_shared_key_file() {
    let mock = MockServer::start(Options::default()).await;
    let files = Files::new(&mock);
    let key = PathBuf::from(files.path("admin.key"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut args = connection_flags(&mock, &files, true);
    args.extend(create_flags(&[]));

    let output = admin(args).await;
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(log.contains("chmod 600"), "{log}");
    assert_eq!(mock.connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_requires_a_root() {
    let output = admin(vec![
        "--server".to_owned(),
        "https://127.0.0.1:1".to_owned(),
        "token".to_owned(),
        "create".to_owned(),
        "--dns".to_owned(),
        "api.example".to_owned(),
    ])
    .await;
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(log.contains("--root"), "{log}");
}
