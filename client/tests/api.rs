//! The client library against the mock issuer.
#![allow(clippy::unwrap_used)]

mod common;

use common::{MockServer, Options, Pki};
use ironroot_client::tls::{self, ClientIdentity};
use ironroot_client::{Client, Error, ServerUrl, Timeouts, keys, verify};
use ironroot_core::Fingerprint;
use ironroot_core::api::CreateTokenRequest;
use ironroot_core::names::SubjectName;
use rustls_pki_types::UnixTime;

fn server_url(mock: &MockServer) -> ServerUrl {
    ServerUrl::parse(&mock.url).unwrap()
}

fn verified_client(mock: &MockServer, identity: Option<ClientIdentity>) -> Client {
    let config = tls::verified_config(&mock.pki.root_der, identity).unwrap();
    Client::new(server_url(mock), Some(config), Timeouts::default()).unwrap()
}

fn admin_identity(pki: &Pki) -> ClientIdentity {
    let chain = ironroot_core::pemfile::parse_all(
        pki.admin_chain_pem.as_bytes(),
        "CERTIFICATE",
        "admin chain",
    )
    .unwrap();
    let key =
        ironroot_core::keys::PrivateKey::from_pkcs8_pem(&pki.admin_key_pem, "admin key").unwrap();
    ClientIdentity::from_der(chain, key.to_pkcs8_der().to_vec())
}

#[tokio::test]
async fn fetch_root_accepts_matching_fingerprint() {
    let mock = MockServer::start(Options::default()).await;
    let fingerprint = mock.pki.root_fingerprint();
    let root = tls::fetch_root_unverified(&server_url(&mock), &fingerprint, Timeouts::default())
        .await
        .unwrap();
    assert_eq!(root, mock.pki.root_der);
}

#[tokio::test]
async fn fetch_root_rejects_other_fingerprint() {
    let mock = MockServer::start(Options::default()).await;
    let expected = Fingerprint::of(b"some other root");
    let error = tls::fetch_root_unverified(&server_url(&mock), &expected, Timeouts::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::FingerprintMismatch { .. }), "{text}");
    assert!(text.contains(&expected.to_string()), "{text}");
    assert!(
        text.contains(&mock.pki.root_fingerprint().to_string()),
        "{text}"
    );
    assert!(error.hint().is_some());
}

#[tokio::test]
async fn sign_returns_certificate_that_verifies() {
    let mock = MockServer::start(Options::default()).await;
    let token = mock.add_token();
    let names = vec![
        SubjectName::parse("api.example").unwrap(),
        SubjectName::parse("127.0.0.1").unwrap(),
    ];
    let key = keys::generate_key().unwrap();
    let csr = keys::build_csr(&key, &names).unwrap();
    let client = verified_client(&mock, None);

    let response = client.sign(&csr, &token).await.unwrap();
    let issued = verify::verify_issued(
        &response,
        &mock.pki.root_der,
        &key.public_key_der(),
        &names,
        UnixTime::now(),
    )
    .unwrap();

    assert_eq!(issued.leaf.public_key_der, key.public_key_der());
    assert_eq!(issued.intermediates.len(), 1);
    assert_eq!(mock.sign_requests(), 1);
}

#[tokio::test]
async fn verify_rejects_certificate_for_other_key() {
    let mock = MockServer::start(Options {
        issue_for_other_key: true,
        ..Options::default()
    })
    .await;
    let token = mock.add_token();
    let names = vec![SubjectName::parse("api.example").unwrap()];
    let key = keys::generate_key().unwrap();
    let csr = keys::build_csr(&key, &names).unwrap();
    let response = verified_client(&mock, None)
        .sign(&csr, &token)
        .await
        .unwrap();

    let error = verify::verify_issued(
        &response,
        &mock.pki.root_der,
        &key.public_key_der(),
        &names,
        UnixTime::now(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("different public key"),
        "{error}"
    );
}

#[tokio::test]
async fn verify_rejects_chain_to_other_root() {
    let mock = MockServer::start(Options::default()).await;
    let other = Pki::new("Other Root");
    let token = mock.add_token();
    let names = vec![SubjectName::parse("api.example").unwrap()];
    let key = keys::generate_key().unwrap();
    let csr = keys::build_csr(&key, &names).unwrap();
    let mut response = verified_client(&mock, None)
        .sign(&csr, &token)
        .await
        .unwrap();
    response.root = other.root_pem();

    let error = verify::verify_issued(
        &response,
        &other.root_der,
        &key.public_key_der(),
        &names,
        UnixTime::now(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("does not verify"), "{error}");
}

#[tokio::test]
async fn server_error_shows_details() {
    let mock = MockServer::start(Options::default()).await;
    let key = keys::generate_key().unwrap();
    let csr = keys::build_csr(&key, &[SubjectName::parse("api.example").unwrap()]).unwrap();
    let error = verified_client(&mock, None)
        .sign(&csr, "irt_unknown")
        .await
        .unwrap_err();
    let text = error.to_string();
    assert_eq!(error.server_code(), Some("token_invalid"));
    assert!(text.contains("unknown or was already used"), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains("req-0"), "{text}");
    assert!(error.hint().unwrap().contains("new one"));
}

#[tokio::test]
async fn client_reuses_one_connection() {
    let mock = MockServer::start(Options::default()).await;
    let client = verified_client(&mock, None);
    client.health().await.unwrap();
    client.get_root().await.unwrap();
    let chain = client.get_chain().await.unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(mock.connections(), 1);
}

#[tokio::test]
async fn client_reconnects_after_server_closes() {
    let mock = MockServer::start(Options {
        close_after_response: true,
        ..Options::default()
    })
    .await;
    let client = verified_client(&mock, None);
    for _ in 0..3 {
        client.health().await.unwrap();
    }
    assert_eq!(mock.connections(), 3);
}

#[tokio::test]
async fn verified_client_rejects_server_of_other_root() {
    let mock = MockServer::start(Options::default()).await;
    let other = Pki::new("Other Root");
    let config = tls::verified_config(&other.root_der, None).unwrap();
    let client = Client::new(server_url(&mock), Some(config), Timeouts::default()).unwrap();
    let error = client.health().await.unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error}");
    assert!(error.hint().unwrap().contains("does not chain"), "{error}");
}

#[tokio::test]
async fn oversized_response_is_rejected() {
    let mock = MockServer::start(Options {
        oversized_root: true,
        ..Options::default()
    })
    .await;
    let error = verified_client(&mock, None).get_root().await.unwrap_err();
    assert!(matches!(error, Error::ResponseTooLarge { .. }), "{error}");
}

#[tokio::test]
async fn connect_to_closed_port_fails_with_server_name() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = tls::unverified_config().unwrap();
    let client = Client::new(
        ServerUrl::parse(&url).unwrap(),
        Some(config),
        Timeouts::default(),
    )
    .unwrap();
    let error = client.health().await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error}");
    assert!(error.to_string().contains(&url), "{error}");
}

#[tokio::test]
async fn create_token_without_client_certificate_is_rejected() {
    let mock = MockServer::start(Options::default()).await;
    let request = CreateTokenRequest {
        names: vec!["api.example".to_owned()],
        ttl_seconds: None,
        profile: None,
    };
    let error = verified_client(&mock, None)
        .create_token(&request)
        .await
        .unwrap_err();
    assert_eq!(error.server_code(), Some("admin_required"));
    assert!(error.to_string().contains("HTTP 403"), "{error}");
    assert!(error.hint().unwrap().contains("--cert"), "{error}");
}

#[tokio::test]
async fn create_token_with_client_certificate_returns_usable_token() {
    let mock = MockServer::start(Options::default()).await;
    let admin = verified_client(&mock, Some(admin_identity(&mock.pki)));
    let request = CreateTokenRequest {
        names: vec!["api.example".to_owned()],
        ttl_seconds: Some(300),
        profile: None,
    };
    let created = admin.create_token(&request).await.unwrap();
    assert!(created.token.starts_with("irt_"));
    assert!(created.id.starts_with("tok_"));
    assert_eq!(created.names, request.names);

    let key = keys::generate_key().unwrap();
    let csr = keys::build_csr(&key, &[SubjectName::parse("api.example").unwrap()]).unwrap();
    let workload = verified_client(&mock, None);
    workload.sign(&csr, &created.token).await.unwrap();
    let reused = workload.sign(&csr, &created.token).await.unwrap_err();
    assert_eq!(reused.server_code(), Some("token_invalid"));
}
