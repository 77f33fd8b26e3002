//! The audit log, the admin listing endpoints, offline `audit verify`, and
//! backup and restore under load, all through the binary over real TLS.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{Host, TestRequest, csr, issuer, sign, stderr, stdout};
use hyper::{Method, StatusCode};

async fn get(
    daemon: &common::Daemon,
    admin: &common::ClientIdentity,
    path: &str,
) -> serde_json::Value {
    let response = daemon
        .send(TestRequest {
            path,
            client: Some(admin),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

fn actions(host: &Host) -> Vec<String> {
    let db = host.db();
    let mut statement = db
        .prepare("SELECT action FROM audit_log ORDER BY seq")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn offline_verify(data_dir: &Path) -> std::process::Output {
    issuer(&["audit", "verify", "--data-dir", data_dir.to_str().unwrap()])
}

#[tokio::test]
async fn admin_endpoints_and_audit_rows() {
    let (mut host, _pki) = Host::ready();
    let admin = host.admin_credential("ops");
    let daemon = host.start(&[]);

    let token = common::create_token(&daemon, &admin, &["api.example.internal"], None).await;
    let signed = sign(&daemon, &token, &csr(&["api.example.internal"])).await;
    assert_eq!(signed.status, StatusCode::OK);
    let serial = signed.json()["serial"].as_str().unwrap().to_owned();
    let rejected = sign(&daemon, "irt_notatoken", &csr(&["x.example.internal"])).await;
    assert_eq!(rejected.status, StatusCode::UNAUTHORIZED);

    let tokens = get(&daemon, &admin, "/v1/admin/tokens?state=used").await;
    assert_eq!(tokens["tokens"].as_array().unwrap().len(), 1);
    assert!(!tokens.to_string().contains(&token), "token text leaked");
    let found = get(
        &daemon,
        &admin,
        "/v1/admin/certificates?name_contains=api.example&kind=leaf",
    )
    .await;
    assert_eq!(found["certificates"][0]["serial"], serial.as_str());
    assert_eq!(found["certificates"][0]["status"], "valid");
    let none = get(&daemon, &admin, "/v1/admin/certificates?status=revoked").await;
    assert_eq!(none["certificates"].as_array().unwrap().len(), 0);
    let page = get(&daemon, &admin, "/v1/admin/certificates?limit=1").await;
    assert_eq!(page["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_offset"], 1);
    let shown = get(&daemon, &admin, &format!("/v1/admin/certificates/{serial}")).await;
    assert!(shown["pem"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    assert!(shown["issuer"].as_str().unwrap().contains("Intermediate"));
    let status = get(&daemon, &admin, "/v1/admin/status").await;
    assert_eq!(status["intermediates"].as_array().unwrap().len(), 1);
    assert!(status["certificates"]["valid"].as_i64().unwrap() >= 2);

    // Revoke an unused token; the sign path then rejects it.
    let spare = common::create_token(&daemon, &admin, &["spare.example.internal"], None).await;
    let listed = get(&daemon, &admin, "/v1/admin/tokens?state=active").await;
    let spare_id = listed["tokens"][0]["id"].as_str().unwrap().to_owned();
    let revoked = daemon
        .send(TestRequest {
            method: Some(Method::POST),
            path: &format!("/v1/admin/tokens/{spare_id}/revoke"),
            client: Some(&admin),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.json()["token"]["state"], "revoked");
    let refused = sign(&daemon, &spare, &csr(&["spare.example.internal"])).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error_code(), "token_revoked");

    let verified = get(&daemon, &admin, "/v1/admin/audit/verify").await;
    assert_eq!(verified["valid"], true, "{verified}");
    let shown = get(&daemon, &admin, "/v1/admin/audit?limit=1000").await;
    assert!(shown["entries"].as_array().unwrap().len() > 5);
    assert!(
        !shown.to_string().contains(&token),
        "token text in the audit log"
    );
    drop(daemon);

    let recorded = actions(&host);
    for action in [
        "import",
        "admin_credential",
        "token_create",
        "issue",
        "token_use",
        "reject",
        "admin_request",
        "token_revoke",
    ] {
        assert!(
            recorded.iter().any(|a| a == action),
            "no {action} row in {recorded:?}"
        );
    }
    let output = offline_verify(&host.data);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("audit chain valid"));
}

/// Copies the data directory's database to a scratch directory, applies
/// `tamper`, and returns the offline verifier's stderr.
fn tampered(host: &Host, tamper: &str) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("issuer.db");
    host.db()
        .backup(
            rusqlite::MAIN_DB,
            &copy,
            None::<fn(rusqlite::backup::Progress)>,
        )
        .unwrap();
    let connection = rusqlite::Connection::open(&copy).unwrap();
    connection.execute_batch(tamper).unwrap();
    drop(connection);
    let output = offline_verify(scratch.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    stderr(&output)
}

#[test]
fn offline_verify_names_tampered_rows() {
    let (mut host, _pki) = Host::ready();
    for name in ["a", "b", "c", "d"] {
        host.admin_credential(name);
    }
    assert_eq!(host.count("SELECT COUNT(*) FROM audit_log"), 5);

    let changed = tampered(
        &host,
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3",
    );
    assert!(changed.contains("row 3 (changed)"), "{changed}");
    let removed = tampered(&host, "DELETE FROM audit_log WHERE seq = 2");
    assert!(removed.contains("row 3 (removed)"), "{removed}");
    assert!(removed.contains("row 2 is missing"), "{removed}");
    let swapped = tampered(
        &host,
        "UPDATE audit_log SET seq = -1 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = -1;",
    );
    assert!(swapped.contains("row 2 (reordered)"), "{swapped}");
    assert!(swapped.contains("written as row 4"), "{swapped}");
}

fn age_identity(dir: &Path) -> (std::path::PathBuf, String) {
    use std::os::unix::fs::PermissionsExt;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let path = dir.join("backup.identity");
    use secrecy::ExposeSecret;
    std::fs::write(&path, format!("{}\n", identity.to_string().expose_secret())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    (path, recipient)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores() {
    let (mut host, _pki) = Host::ready();
    let admin = host.admin_credential("ops");
    let daemon = std::sync::Arc::new(host.start(&[]));

    let mut tokens = Vec::new();
    for index in 0..60 {
        let name = format!("w{index}.example.internal");
        tokens.push((
            common::create_token(&daemon, &admin, &[&name], None).await,
            name,
        ));
    }
    // Certificates returned before the backup begins, and one revocation.
    let mut before = Vec::new();
    for (token, name) in tokens.drain(..10) {
        let response = sign(&daemon, &token, &csr(&[&name])).await;
        assert_eq!(response.status, StatusCode::OK);
        before.push(response.json()["serial"].as_str().unwrap().to_owned());
    }
    let revoke = daemon
        .send(TestRequest {
            path: "/v1/admin/revoke",
            body: Some(
                serde_json::to_vec(
                    &serde_json::json!({ "serial": before[0], "reason": "keyCompromise" }),
                )
                .unwrap(),
            ),
            client: Some(&admin),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(
        revoke.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&revoke.body)
    );

    // Keep signing while the backup runs.
    let load_daemon = daemon.clone();
    let load = tokio::spawn(async move {
        let mut issued = 0;
        for (token, name) in tokens {
            if sign(&load_daemon, &token, &csr(&[&name])).await.status == StatusCode::OK {
                issued += 1;
            }
        }
        issued
    });
    let (identity, recipient) = age_identity(host.temp.path());
    let archive = host.temp.path().join("backup.age");
    let data_dir = host.data.clone();
    let archive_arg = archive.clone();
    let output = tokio::task::spawn_blocking(move || {
        issuer(&[
            "backup",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--out",
            archive_arg.to_str().unwrap(),
            "--recipient",
            &recipient,
        ])
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "backup failed: {}",
        stderr(&output)
    );
    assert!(load.await.unwrap() > 0);

    let verify = issuer(&[
        "restore",
        "--verify",
        archive.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--root-fingerprint",
        &host.expected_root,
    ]);
    assert!(
        verify.status.success(),
        "restore --verify: {}",
        stderr(&verify)
    );

    // An archive is accepted only for the expected root.
    let other_root = "11".repeat(32);
    let foreign = issuer(&[
        "restore",
        "--verify",
        archive.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--root-fingerprint",
        &other_root,
    ]);
    assert!(!foreign.status.success());
    assert!(
        stderr(&foreign).contains("another CA"),
        "{}",
        stderr(&foreign)
    );

    // A live data directory is refused, so is a non-empty one.
    let live = issuer(&[
        "restore",
        archive.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--root-fingerprint",
        &host.expected_root,
        "--data-dir",
        host.data_dir(),
    ]);
    assert!(!live.status.success());
    let target = tempfile::tempdir().unwrap();
    std::fs::write(target.path().join("stray"), b"x").unwrap();
    let non_empty = issuer(&[
        "restore",
        archive.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--root-fingerprint",
        &host.expected_root,
        "--data-dir",
        target.path().to_str().unwrap(),
    ]);
    assert!(
        stderr(&non_empty).contains("not empty"),
        "{}",
        stderr(&non_empty)
    );

    let restored_dir = target.path().join("restored");
    let restored = issuer(&[
        "restore",
        archive.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--root-fingerprint",
        &host.expected_root,
        "--data-dir",
        restored_dir.to_str().unwrap(),
    ]);
    assert!(restored.status.success(), "restore: {}", stderr(&restored));
    drop(daemon);

    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&restored_dir), 0o700);
    assert_eq!(mode(&restored_dir.join("host.identity")), 0o600);
    assert_eq!(mode(&restored_dir.join("issuer.db")), 0o600);

    let restored_host = Host {
        temp: tempfile::tempdir().unwrap(),
        data: restored_dir.clone(),
        recipient: host.recipient.clone(),
        cli_logs: String::new(),
        expected_root: host.expected_root.clone(),
    };
    let daemon = restored_host.start(&[]);
    for serial in &before {
        let found = get(&daemon, &admin, &format!("/v1/admin/certificates/{serial}")).await;
        assert_eq!(found["serial"], serial.as_str());
    }
    let revoked = get(&daemon, &admin, "/v1/admin/certificates?status=revoked").await;
    let revoked: Vec<&str> = revoked["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, vec![before[0].as_str()]);
    let verified = get(&daemon, &admin, "/v1/admin/audit/verify").await;
    assert_eq!(verified["valid"], true, "{verified}");
    drop(daemon);
    let output = offline_verify(&restored_dir);
    assert!(output.status.success(), "{}", stderr(&output));
    let revocations = |dir: &Path| -> Vec<String> {
        let db = rusqlite::Connection::open(dir.join("issuer.db")).unwrap();
        let mut statement = db
            .prepare("SELECT serial FROM revocations ORDER BY serial")
            .unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(revocations(&restored_dir), revocations(&host.data));
}
