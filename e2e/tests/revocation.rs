//! Revocation, CRLs, OCSP, intermediate rotation and the data-directory lock,
//! through the real binaries, checked with openssl and rustls-webpki.

// Test helpers outside #[test] functions unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use ironroot_core::cert::CertificateInfo;
use ironroot_core::pemfile;
use ironroot_e2e::pki::{Pki, PkiOptions, certificate, path_str as s};
use ironroot_e2e::run::{Daemon, free_port, run};
use ironroot_e2e::{tools, verify};
use rustls_pki_types::{CertificateDer, UnixTime};

const OPTIONS: PkiOptions<'static> = PkiOptions {
    algorithm: "ecdsa-p256",
    root_common_name: "Revocation Root CA",
    intermediate: "a",
    intermediate_common_name: "Revocation Intermediate a",
    admin_name: "revoker",
    config: None,
};

/// Writes issuer.toml with a plain-HTTP CRL listener on `port`.
fn configure(pki: &Pki, port: u16, crl_validity: &str) {
    pki.write_config(&format!(
        "crl_listen = \"127.0.0.1:{port}\"\n\
         crl_url = \"http://127.0.0.1:{port}/v1/crl\"\n\
         ocsp_url = \"http://127.0.0.1:{port}/v1/ocsp\"\n\
         crl_validity = \"{crl_validity}\"\n"
    ));
}

/// Creates a token for `name` in `<prefix>.token`, enrolls `name` into
/// `<prefix>.pem` and `<prefix>.chain.pem`, and returns the leaf.
fn enroll_leaf(pki: &Pki, daemon: &Daemon, prefix: &str, name: &str) -> CertificateInfo {
    let token = pki.path(&format!("{prefix}.token"));
    pki.create_token(daemon, &token, &[name], &[]).success();
    pki.enroll(daemon, &token, prefix, &[name]).success();
    pki.leaf(prefix)
}

/// Sends a plain HTTP/1.1 GET to 127.0.0.1:`port` and returns status, content type and body.
fn http_get(port: u16, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response[split + 4..].to_vec())
}

/// Fetches a CRL over plain HTTP, writes it as PEM to `out` and returns its DER.
fn fetch_crl(port: u16, path: &str, out: &Path) -> Vec<u8> {
    let (status, content_type, der) = http_get(port, path);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&der));
    assert_eq!(content_type, "application/pkix-crl");
    std::fs::write(out, pemfile::encode("X509 CRL", &der)).unwrap();
    der
}

fn crl_number(der: &[u8]) -> u64 {
    let (_, crl) = x509_parser::parse_x509_crl(der).unwrap();
    crl.crl_number().unwrap().to_string().parse().unwrap()
}

fn crl_serials(der: &[u8]) -> Vec<String> {
    let (_, crl) = x509_parser::parse_x509_crl(der).unwrap();
    crl.iter_revoked_certificates()
        .map(|entry| ironroot_core::fingerprint::hex(entry.raw_serial()))
        .collect()
}

/// Runs `openssl verify -crl_check` on `<prefix>.pem` with its chain and the
/// CRL in `crl_pem`. Returns whether it passed, and the output.
fn openssl_verify_crl(pki: &Pki, prefix: &str, crl_pem: &Path) -> (bool, String) {
    let root = pki.root();
    let chain = pki.path(&format!("{prefix}.chain.pem"));
    let leaf = pki.path(&format!("{prefix}.pem"));
    openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&chain),
        "-CRLfile",
        s(crl_pem),
        s(&leaf),
    ])
}

fn openssl(args: &[&str]) -> (bool, String) {
    let output = tools::run(&tools::require("openssl"), args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn ocsp(pki: &Pki, port: u16, issuer: &Path, target: &[&str]) -> String {
    let url = format!("http://127.0.0.1:{port}/v1/ocsp");
    let root = pki.root();
    let mut args = vec!["ocsp", "-issuer", s(issuer)];
    args.extend_from_slice(target);
    args.extend_from_slice(&["-url", &url, "-CAfile", s(&root)]);
    let (_, text) = openssl(&args);
    text
}

/// Verifies `leaf` with rustls-webpki, requiring a definite CRL status.
fn webpki_with_crl(root: &[u8], chain: &[Vec<u8>], leaf: &[u8], crl: &[u8]) -> Result<(), String> {
    let root = CertificateDer::from(root);
    let anchor = webpki::anchor_from_trusted_cert(&root).unwrap();
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let leaf = CertificateDer::from(leaf);
    let end_entity = webpki::EndEntityCert::try_from(&leaf).unwrap();
    let crl =
        webpki::CertRevocationList::from(webpki::OwnedCertRevocationList::from_der(crl).unwrap());
    let crls = [&crl];
    let revocation = webpki::RevocationOptionsBuilder::new(&crls)
        .unwrap()
        .with_depth(webpki::RevocationCheckDepth::EndEntity)
        .with_status_policy(webpki::UnknownStatusPolicy::Deny)
        .with_expiration_policy(webpki::ExpirationPolicy::Enforce)
        .build();
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &intermediates,
            UnixTime::now(),
            webpki::KeyUsage::server_auth(),
            Some(revocation),
            None,
        )
        .map(|_| ())
        .map_err(|error| format!("{error}"))
}

#[test]
fn revoked_leaf_is_rejected_by_crl_and_ocsp() {
    let pki = Pki::new(&OPTIONS);
    let port = free_port();
    configure(&pki, port, "3s");
    let daemon = pki.start_daemon(&[]);
    let revoked = enroll_leaf(&pki, &daemon, "revoked", "revoked.e2e.internal");
    let good = enroll_leaf(&pki, &daemon, "good", "good.e2e.internal");

    // Issued leaves point at their issuer's CRL and at the OCSP responder.
    let (_, text) = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        s(&pki.path("revoked.pem")),
    ]);
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/v1/crl/")),
        "{text}"
    );
    assert!(
        text.contains(&format!("OCSP - URI:http://127.0.0.1:{port}/v1/ocsp")),
        "{text}"
    );

    let serial = revoked.serial_hex();
    let output = pki
        .admin(&daemon, &["revoke", &serial, "--reason", "keyCompromise"])
        .success();
    assert!(output.stdout.contains(&serial), "{}", output.stdout);
    assert!(output.stdout.contains("keyCompromise"), "{}", output.stdout);

    pki.admin(&daemon, &["revoke", &serial, "--reason", "superseded"])
        .failure(1)
        .expect_stderr(&["already revoked", "keyCompromise"]);
    let unknown_serial = "7f00000000000000000000000000abcd";
    pki.admin(
        &daemon,
        &["revoke", unknown_serial, "--reason", "unspecified"],
    )
    .failure(1)
    .expect_stderr(&[unknown_serial, "no certificate"]);
    pki.admin(
        &daemon,
        &["revoke", &good.serial_hex(), "--reason", "certificateHold"],
    )
    .failure(1)
    .expect_stderr(&["not a revocation reason"]);

    // openssl verify with the CRL from the plain-HTTP listener.
    let crl_pem = pki.path("crl.pem");
    let crl = fetch_crl(port, "/v1/crl", &crl_pem);
    assert!(crl_serials(&crl).contains(&serial));
    let root = pki.root();
    let (ok, text) = openssl_verify_crl(&pki, "revoked", &crl_pem);
    assert!(!ok, "{text}");
    assert!(text.contains("certificate revoked"), "{text}");
    let (ok, text) = openssl_verify_crl(&pki, "good", &crl_pem);
    assert!(ok, "{text}");

    // openssl ocsp: revoked, good, and unknown for a serial never issued.
    let issuer = pki.offline.join("a.pem");
    let text = ocsp(&pki, port, &issuer, &["-cert", s(&pki.path("revoked.pem"))]);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains(": revoked"), "{text}");
    assert!(text.contains("Reason: keyCompromise"), "{text}");
    let text = ocsp(&pki, port, &issuer, &["-cert", s(&pki.path("good.pem"))]);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains(": good"), "{text}");
    let text = ocsp(
        &pki,
        port,
        &issuer,
        &["-serial", &format!("0x{unknown_serial}")],
    );
    assert!(text.contains(": unknown"), "{text}");
    // A request that is not DER gets malformedRequest.
    let (status, content_type, body) = http_get(port, "/v1/ocsp/bm90LWRlcg==");
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/ocsp-response");
    assert_eq!(body, vec![0x30, 0x03, 0x0a, 0x01, 0x01]);
    // The plain listener serves nothing but CRLs and OCSP.
    let (status, _, _) = http_get(port, "/v1/chain");
    assert_eq!(status, 404);

    // rustls-webpki with the CRL.
    let root_der = certificate(&root).der;
    let chain = pemfile::parse_all(
        &std::fs::read(pki.path("revoked.chain.pem")).unwrap(),
        "CERTIFICATE",
        "chain",
    )
    .unwrap();
    let chain: Vec<Vec<u8>> = chain.into_iter().filter(|der| *der != root_der).collect();
    let error = webpki_with_crl(&root_der, &chain, &revoked.der, &crl).unwrap_err();
    assert!(error.contains("CertRevoked"), "{error}");
    webpki_with_crl(&root_der, &chain, &good.der, &crl).unwrap();

    // With crl_validity = 3s the CRL is replaced after 2s with a higher number.
    let first = crl_number(&crl);
    std::thread::sleep(Duration::from_millis(2800));
    let refreshed = fetch_crl(port, "/v1/crl", &pki.path("crl2.pem"));
    let second = crl_number(&refreshed);
    assert!(second > first, "CRL number {second} is not above {first}");
    let (_, parsed) = x509_parser::parse_x509_crl(&refreshed).unwrap();
    let next_update = parsed.next_update().unwrap().timestamp();
    assert!(next_update > time::OffsetDateTime::now_utc().unix_timestamp());
    assert_eq!(daemon.stop(), 0);

    // The number keeps growing across a restart.
    let daemon = pki.start_daemon(&[]);
    let after_restart = crl_number(&fetch_crl(port, "/v1/crl", &pki.path("crl3.pem")));
    assert!(
        after_restart > second,
        "CRL number {after_restart} is not above {second}"
    );
    assert_eq!(daemon.stop(), 0);

    // An expired certificate is not revoked. The test moves the good leaf's
    // notAfter into the past in the database, as if it had expired.
    let db = rusqlite::Connection::open(pki.data_dir.join("issuer.db")).unwrap();
    db.execute(
        "UPDATE certificates SET not_after = ?1 WHERE serial = ?2",
        rusqlite::params![
            time::OffsetDateTime::now_utc().unix_timestamp() - 60,
            good.serial_hex()
        ],
    )
    .unwrap();
    drop(db);
    let daemon = pki.start_daemon(&[]);
    pki.admin(
        &daemon,
        &["revoke", &good.serial_hex(), "--reason", "superseded"],
    )
    .failure(1)
    .expect_stderr(&["expired", "not added to CRLs"]);
    assert_eq!(daemon.stop(), 0);
}

#[test]
fn rotation_keeps_old_crl_and_switches_signer() {
    let pki = Pki::new(&OPTIONS);
    let port = free_port();
    configure(&pki, port, "1h");
    let sha_a = certificate(&pki.offline.join("a.pem")).fingerprint.to_hex();
    let daemon = pki.start_daemon(&[]);
    let leaf_a = enroll_leaf(&pki, &daemon, "leaf-a", "a.e2e.internal");

    // Import B while the daemon runs. It stays inactive, and import prints how to activate it.
    let (import, sha_b) = pki.import("b", "Revocation Intermediate b");
    assert!(import.stdout.contains("inactive"), "{}", import.stdout);
    assert!(
        import
            .stdout
            .contains(&format!("ironroot-admin intermediates activate {sha_b}")),
        "{}",
        import.stdout
    );
    let list = pki
        .admin(&daemon, &["intermediates", "list", "--json"])
        .success();
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let intermediates = listed["intermediates"].as_array().unwrap();
    assert_eq!(intermediates.len(), 2, "{}", list.stdout);
    let active: Vec<&str> = intermediates
        .iter()
        .filter(|entry| entry["active"] == true)
        .map(|entry| entry["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(active, vec![sha_a.as_str()]);

    pki.admin(&daemon, &["intermediates", "activate", &sha_b])
        .success();
    let leaf_b = enroll_leaf(&pki, &daemon, "leaf-b", "b.e2e.internal");
    let b = certificate(&pki.offline.join("b.pem"));
    let a = certificate(&pki.offline.join("a.pem"));
    assert_eq!(leaf_b.issuer, b.subject);
    assert_eq!(leaf_a.issuer, a.subject);
    let root = pki.root();
    verify::openssl_verify(
        &root,
        Some(&pki.path("leaf-a.chain.pem")),
        &pki.path("leaf-a.pem"),
    )
    .unwrap();
    verify::openssl_verify(
        &root,
        Some(&pki.path("leaf-b.chain.pem")),
        &pki.path("leaf-b.pem"),
    )
    .unwrap();
    let chain_b = std::fs::read_to_string(pki.path("leaf-b.chain.pem")).unwrap();
    assert!(
        chain_b.contains(b.to_pem().trim()),
        "leaf B came with another chain"
    );

    // Revoking the A leaf lists it on A's CRL, not on B's.
    pki.admin(
        &daemon,
        &[
            "revoke",
            &leaf_a.serial_hex(),
            "--reason",
            "cessationOfOperation",
        ],
    )
    .success();
    let crl_a = fetch_crl(port, &format!("/v1/crl/{sha_a}"), &pki.path("crl-a.pem"));
    assert!(crl_serials(&crl_a).contains(&leaf_a.serial_hex()));
    let crl_b = fetch_crl(port, "/v1/crl", &pki.path("crl-b.pem"));
    assert!(crl_serials(&crl_b).is_empty());
    let (ok, text) = openssl_verify_crl(&pki, "leaf-a", &pki.path("crl-a.pem"));
    assert!(!ok && text.contains("certificate revoked"), "{text}");
    // OCSP still responds for A after the switch.
    let text = ocsp(
        &pki,
        port,
        &pki.offline.join("a.pem"),
        &["-cert", s(&pki.path("leaf-a.pem"))],
    );
    assert!(text.contains(": revoked"), "{text}");
    assert_eq!(daemon.stop(), 0);

    // The switch was stored: after a restart B still signs.
    let daemon = pki.start_daemon(&[]);
    let leaf_b2 = enroll_leaf(&pki, &daemon, "leaf-b2", "b2.e2e.internal");
    assert_eq!(leaf_b2.issuer, b.subject);
    assert_eq!(daemon.stop(), 0);

    // Offline activation switches back to A.
    let offline = run(
        &pki.transcript,
        "ironroot-issuer",
        &["activate", "--data-dir", s(&pki.data_dir), &sha_a],
    )
    .success();
    assert!(offline.stdout.contains("activated"), "{}", offline.stdout);
}

#[test]
fn second_daemon_on_one_directory_is_rejected() {
    let pki = Pki::new(&OPTIONS);
    let daemon = pki.start_daemon(&[]);
    let listen = format!("127.0.0.1:{}", free_port());
    run(
        &pki.transcript,
        "ironroot-issuer",
        &["serve", "--data-dir", s(&pki.data_dir), "--listen", &listen],
    )
    .failure(2)
    .expect_stderr(&[s(&pki.data_dir), "another ironroot-issuer daemon"]);
    run(
        &pki.transcript,
        "ironroot-issuer",
        &["activate", "--data-dir", s(&pki.data_dir), &"0".repeat(64)],
    )
    .failure(2)
    .expect_stderr(&["another ironroot-issuer daemon"]);
    assert_eq!(daemon.stop(), 0);
}
