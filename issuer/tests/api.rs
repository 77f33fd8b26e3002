//! The HTTPS API against a real `serve` process on 127.0.0.1.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{Daemon, Host, TestRequest, create_token, csr, sign, sign_body};
use hyper::{Method, StatusCode};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

fn certificates(host: &Host) -> i64 {
    host.count("SELECT COUNT(*) FROM certificates")
}

fn token_used(host: &Host, token: &str) -> bool {
    let hash = ironroot_core::fingerprint::hex(
        ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref(),
    );
    host.db()
        .query_row(
            "SELECT used_at IS NOT NULL FROM tokens WHERE token_hash = ?1",
            [hash],
            |row| row.get(0),
        )
        .unwrap()
}

async fn setup() -> (Host, Daemon, common::ClientIdentity) {
    let (mut host, _pki) = Host::ready();
    let admin = host.admin_credential("ops");
    let daemon = host.start(&[]);
    (host, daemon, admin)
}

/// Checks that `leaf_pem` chains to the daemon's root and names `name`.
fn assert_chains_to_root(daemon: &Daemon, leaf_pem: &str, chain_pem: &str, name: &str) {
    use rustls_pki_types::pem::PemObject;
    let leaf = CertificateDer::from_pem_slice(leaf_pem.as_bytes()).unwrap();
    let intermediates: Vec<CertificateDer<'_>> =
        CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let root = CertificateDer::from(daemon.root_der.clone());
    let anchor = webpki::anchor_from_trusted_cert(&root).unwrap();
    let end_entity = webpki::EndEntityCert::try_from(&leaf).unwrap();
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
    end_entity
        .verify_is_valid_for_subject_name(&ServerName::try_from(name).unwrap())
        .unwrap();
}

#[tokio::test]
async fn sign_issues_certificate_chaining_to_root() {
    let (host, daemon, admin) = setup().await;
    let token = create_token(&daemon, &admin, &["*.svc.example", "10.0.0.1"], None).await;
    let before = certificates(&host);

    let response = sign(&daemon, &token, &csr(&["api.svc.example", "10.0.0.1"])).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let body = response.json();
    let serial = body["serial"].as_str().unwrap().to_owned();
    assert_chains_to_root(
        &daemon,
        body["certificate"].as_str().unwrap(),
        body["chain"].as_str().unwrap(),
        "api.svc.example",
    );
    assert_eq!(response.headers["x-request-id"].len(), 16);

    assert_eq!(certificates(&host), before + 1);
    let (kind, token_id): (String, String) = host
        .db()
        .query_row(
            "SELECT kind, token_id FROM certificates WHERE serial = ?1",
            [&serial],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "leaf");
    assert!(token_id.starts_with("tok_"));
    let used_by: String = host
        .db()
        .query_row(
            "SELECT used_by_serial FROM tokens WHERE token_id = ?1",
            [&token_id],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(used_by, serial);
}

#[tokio::test]
async fn sign_rejects_reused_token() {
    let (host, daemon, admin) = setup().await;
    let token = create_token(&daemon, &admin, &["a.example"], None).await;
    assert_eq!(
        sign(&daemon, &token, &csr(&["a.example"])).await.status,
        StatusCode::OK
    );
    let before = certificates(&host);

    let response = sign(&daemon, &token, &csr(&["a.example"])).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "token_used");
    assert_eq!(certificates(&host), before);
}

#[tokio::test]
async fn sign_rejects_expired_token() {
    let (host, daemon, admin) = setup().await;
    let token = create_token(&daemon, &admin, &["a.example"], Some(1)).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let before = certificates(&host);

    let response = sign(&daemon, &token, &csr(&["a.example"])).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "token_expired");
    assert!(
        response.message().contains("expired at"),
        "{}",
        response.message()
    );
    assert_eq!(certificates(&host), before);
    assert!(!token_used(&host, &token));
}

#[tokio::test]
async fn sign_rejects_name_outside_scope() {
    let (host, daemon, admin) = setup().await;
    let token = create_token(&daemon, &admin, &["*.svc.example"], None).await;
    let before = certificates(&host);

    let response = sign(&daemon, &token, &csr(&["a.svc.example", "evil.example"])).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(response.error_code(), "name_not_allowed");
    let message = response.message();
    assert!(message.contains("`evil.example`"), "{message}");
    assert!(message.contains("tok_"), "{message}");
    assert_eq!(certificates(&host), before);
    assert!(!token_used(&host, &token));
}

#[tokio::test]
async fn sign_rejects_bad_csrs_without_consuming_token() {
    let (host, daemon, admin) = setup().await;
    let token = create_token(&daemon, &admin, &["a.example"], None).await;
    let before = certificates(&host);

    let mut der = pem::parse(csr(&["a.example"])).unwrap().into_contents();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let bad_signature = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der));

    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(vec!["a.example".to_owned()]).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_csr = ca_params.serialize_request(&ca_key).unwrap().pem().unwrap();

    let cases = [
        (bad_signature, "signature"),
        ("hello".to_owned(), "PKCS#10"),
        (ca_csr, "CA:true"),
    ];
    for (csr_pem, expected) in cases {
        let response = sign(&daemon, &token, &csr_pem).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{expected}");
        assert_eq!(response.error_code(), "invalid_csr", "{expected}");
        assert!(
            response.message().contains(expected),
            "{}",
            response.message()
        );
    }
    assert_eq!(certificates(&host), before);
    assert!(!token_used(&host, &token));
    assert_eq!(
        sign(&daemon, &token, &csr(&["a.example"])).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_rejects_missing_and_malformed_tokens() {
    let (_host, daemon, _admin) = setup().await;
    let body = sign_body(&csr(&["a.example"]));
    let missing = daemon
        .send(TestRequest {
            path: "/v1/sign",
            body: Some(body.clone()),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.error_code(), "token_missing");

    let malformed = sign(&daemon, "irt_short", &csr(&["a.example"])).await;
    assert_eq!(malformed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(malformed.error_code(), "token_invalid");

    let unknown = format!("irt_{}", "A".repeat(43));
    let response = sign(&daemon, &unknown, &csr(&["a.example"])).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "token_invalid");
}

#[tokio::test]
async fn api_errors_have_codes_and_request_ids() {
    let (_host, daemon, _admin) = setup().await;
    let not_found = daemon
        .send(TestRequest {
            path: "/nope",
            ..TestRequest::default()
        })
        .await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    assert_eq!(not_found.error_code(), "not_found");
    assert_eq!(
        not_found.json()["request_id"].as_str().unwrap(),
        not_found.headers["x-request-id"].to_str().unwrap()
    );

    let wrong_method = daemon
        .send(TestRequest {
            method: Some(Method::GET),
            path: "/v1/sign",
            ..TestRequest::default()
        })
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "method_not_allowed");
    assert_eq!(wrong_method.headers["allow"], "POST");

    let token = format!("irt_{}", "A".repeat(43));
    let too_large = daemon
        .send(TestRequest {
            path: "/v1/sign",
            bearer: Some(&token),
            body: Some(vec![b' '; 70_000]),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.error_code(), "body_too_large");

    let bad_json = daemon
        .send(TestRequest {
            path: "/v1/sign",
            bearer: Some(&token),
            body: Some(b"{".to_vec()),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_json.error_code(), "invalid_request");
}

#[tokio::test]
async fn public_endpoints_serve_pem() {
    let (_host, daemon, _admin) = setup().await;
    let health = daemon
        .send(TestRequest {
            path: "/healthz",
            ..TestRequest::default()
        })
        .await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");

    let root = daemon
        .send(TestRequest {
            path: "/v1/root",
            ..TestRequest::default()
        })
        .await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(
        root.headers["content-type"],
        "application/pem-certificate-chain"
    );
    assert_eq!(
        pem::parse(&root.body[..]).unwrap().contents(),
        daemon.root_der.as_slice()
    );

    let chain = daemon
        .send(TestRequest {
            path: "/v1/chain",
            ..TestRequest::default()
        })
        .await;
    let blocks = pem::parse_many(&chain.body[..]).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1].contents(), daemon.root_der.as_slice());
}

#[tokio::test]
async fn admin_tokens_require_admin_credential() {
    let (mut host, daemon, _admin) = setup().await;
    let body = serde_json::to_vec(&serde_json::json!({ "names": ["a.example"] })).unwrap();
    let anonymous = daemon
        .send(TestRequest {
            path: "/v1/admin/tokens",
            body: Some(body.clone()),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous.error_code(), "admin_required");

    // A certificate from the same CA that is not a registered admin credential.
    let impostor = host.admin_credential("impostor");
    host.db()
        .execute("DELETE FROM admin_credentials WHERE name = 'impostor'", [])
        .unwrap();
    let response = daemon
        .send(TestRequest {
            path: "/v1/admin/tokens",
            body: Some(body),
            client: Some(&impostor),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(response.error_code(), "admin_required");
    assert_eq!(host.count("SELECT COUNT(*) FROM tokens"), 0);
}

#[tokio::test]
async fn admin_tokens_validate_names_and_ttl() {
    let (_host, daemon, admin) = setup().await;
    let cases = [
        (serde_json::json!({ "names": [] }), "`names` is empty"),
        (
            serde_json::json!({ "names": ["bad_name.example"] }),
            "bad_name.example",
        ),
        (
            serde_json::json!({ "names": ["a.example"], "ttl_seconds": 90_000 }),
            "86400",
        ),
    ];
    for (body, expected) in cases {
        let response = daemon
            .send(TestRequest {
                path: "/v1/admin/tokens",
                body: Some(serde_json::to_vec(&body).unwrap()),
                client: Some(&admin),
                ..TestRequest::default()
            })
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.error_code(), "invalid_request");
        assert!(
            response.message().contains(expected),
            "{}",
            response.message()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_concurrent_tokens_all_succeed() {
    let (host, daemon, admin) = setup().await;
    let mut tokens = Vec::new();
    for index in 0..50 {
        let name = format!("w{index}.example");
        tokens.push((create_token(&daemon, &admin, &[&name], None).await, name));
    }
    let before = certificates(&host);
    let daemon = Arc::new(daemon);
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for (token, name) in tokens {
        let daemon = daemon.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let response = sign(&daemon, &token, &csr(&[&name])).await;
            (
                response.status,
                response.json()["serial"].as_str().map(str::to_owned),
            )
        });
    }
    let mut serials = std::collections::HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let (status, serial) = result.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(serials.insert(serial.unwrap()));
    }
    assert_eq!(serials.len(), 50);
    assert_eq!(certificates(&host), before + 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_same_token_succeeds_once() {
    let (host, daemon, admin) = setup().await;
    let token = create_token(&daemon, &admin, &["race.example"], None).await;
    let before = certificates(&host);
    let daemon = Arc::new(daemon);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let daemon = daemon.clone();
        let token = token.clone();
        tasks.spawn(async move {
            let response = sign(&daemon, &token, &csr(&["race.example"])).await;
            let code = if response.status == StatusCode::OK {
                String::new()
            } else {
                response.error_code()
            };
            (response.status, code)
        });
    }
    let mut successes = 0;
    while let Some(result) = tasks.join_next().await {
        let (status, code) = result.unwrap();
        if status == StatusCode::OK {
            successes += 1;
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(code, "token_used");
        }
    }
    assert_eq!(successes, 1);
    assert_eq!(certificates(&host), before + 1);
}

#[tokio::test]
async fn logs_contain_no_secrets() {
    let (mut host, _pki) = Host::ready();
    let admin = host.admin_credential("ops");
    let daemon = host.start(&[]);
    let token = create_token(&daemon, &admin, &["a.example"], None).await;
    let other = create_token(&daemon, &admin, &["b.example"], None).await;
    let csr_pem = csr(&["a.example"]);
    assert_eq!(sign(&daemon, &token, &csr_pem).await.status, StatusCode::OK);
    assert_eq!(
        sign(&daemon, &token, &csr_pem).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign(&daemon, &other, &csr(&["evil.example"])).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sign(&daemon, &other, "garbage").await.status,
        StatusCode::BAD_REQUEST
    );
    let log = daemon.stop();

    assert!(log.contains("certificate issued"), "{log}");
    assert!(log.contains("request rejected"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    let all = format!("{log}\n{}", host.cli_logs);
    for secret in [
        token.as_str(),
        other.as_str(),
        &token[4..],
        "PRIVATE KEY",
        "AGE-SECRET-KEY",
    ] {
        assert!(!all.contains(secret), "the log contains `{secret}`:\n{all}");
    }
    let csr_body_line = csr_pem.lines().nth(1).unwrap();
    assert!(
        !all.contains(csr_body_line),
        "the log contains the CSR body"
    );
}
