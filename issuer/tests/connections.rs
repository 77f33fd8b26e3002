//! Connection limits, idle timeouts and renewal of the daemon's own TLS
//! certificate, driven through the binary over real TLS on loopback.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Daemon, Host, TestRequest, copy_key, intermediate_with, key, seal};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ironroot_core::cert::CertificateInfo;
use ironroot_core::profile::Validity;
use rustls_pki_types::{CertificateDer, ServerName};
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Starts a daemon with `config` as its configuration file.
fn start(host: &Host, config: &str) -> Daemon {
    let path = host.write("issuer.toml", config.as_bytes());
    host.start(&["--config", path.to_str().unwrap()])
}

/// Connects over TLS to `localhost`, offering `alpn`.
async fn connect(daemon: &Daemon, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(daemon.root_der.clone()))
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(daemon.addr).await.unwrap();
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// Returns the certificate chain the daemon presents, leaf first.
async fn presented_chain(daemon: &Daemon) -> Vec<CertificateInfo> {
    let tls = connect(daemon, &[]).await;
    tls.get_ref()
        .1
        .peer_certificates()
        .unwrap()
        .iter()
        .map(|der| CertificateInfo::parse(der.as_ref(), "presented certificate").unwrap())
        .collect()
}

/// Waits until the server closes `tls` and returns how long that took.
async fn time_until_closed(mut tls: TlsStream<TcpStream>, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buffer = [0_u8; 64];
    // A read returns 0 bytes at end of stream, or an error when the server
    // closes without close_notify; both mean the connection is gone.
    let read = tokio::time::timeout(limit, tls.read(&mut buffer)).await;
    match read {
        Ok(Ok(0) | Err(_)) => start.elapsed(),
        Ok(Ok(n)) => panic!("the server sent {n} unexpected bytes"),
        Err(_) => panic!("the connection was still open after {limit:?}"),
    }
}

async fn get_health(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
) -> StatusCode {
    let request = Request::get("/healthz")
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}

#[tokio::test]
async fn idle_http1_connection_is_closed() {
    let (host, _pki) = Host::ready();
    let daemon = start(&host, "idle_timeout = \"2s\"\n");
    let tls = connect(&daemon, &[b"http/1.1"]).await;
    let elapsed = time_until_closed(tls, Duration::from_secs(8)).await;
    assert!(
        elapsed >= Duration::from_millis(1500),
        "closed after {elapsed:?}"
    );
    assert!(
        elapsed <= Duration::from_secs(5),
        "closed after {elapsed:?}"
    );

    // A connection that stops after one request is closed as well.
    let tls = connect(&daemon, &[b"http/1.1"]).await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    assert_eq!(get_health(&mut sender).await, StatusCode::OK);
    let start = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(8), connection).await;
    assert!(ended.is_ok(), "the keep-alive connection was never closed");
    assert!(start.elapsed() >= Duration::from_millis(1500));
    daemon.stop();
}

#[tokio::test]
async fn idle_http2_connection_is_closed() {
    let (host, _pki) = Host::ready();
    let daemon = start(&host, "idle_timeout = \"2s\"\n");
    let tls = connect(&daemon, &[b"h2"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // The handshake sends the preface and SETTINGS and nothing else.
    let (_sender, connection) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(tls),
    )
    .await
    .unwrap();
    let start = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(8), connection).await;
    let elapsed = start.elapsed();
    assert!(ended.is_ok(), "the HTTP/2 connection was still open");
    assert!(
        elapsed >= Duration::from_millis(1500),
        "closed after {elapsed:?}"
    );
    daemon.stop();
}

#[tokio::test]
async fn active_keep_alive_connection_survives() {
    let (host, _pki) = Host::ready();
    let daemon = start(&host, "idle_timeout = \"2s\"\n");
    let tls = connect(&daemon, &[b"http/1.1"]).await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let start = Instant::now();
    let mut requests = 0;
    while start.elapsed() < Duration::from_secs(4) {
        assert_eq!(get_health(&mut sender).await, StatusCode::OK);
        requests += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(requests >= 8, "only {requests} requests");
    assert!(
        !connection.is_finished(),
        "the active connection was closed"
    );
    daemon.stop();
}

#[tokio::test]
async fn connection_limit_defers_third_connection() {
    let (host, _pki) = Host::ready();
    let daemon = start(&host, "max_connections = 2\n");
    let first = connect(&daemon, &[b"http/1.1"]).await;
    let _second = connect(&daemon, &[b"http/1.1"]).await;

    let root_daemon = Arc::new(daemon);
    let daemon = root_daemon.clone();
    let mut third = tokio::spawn(async move { connect(&daemon, &[b"http/1.1"]).await });
    let early = tokio::time::timeout(Duration::from_millis(1500), &mut third).await;
    assert!(
        early.is_err(),
        "the third connection was served while two were open"
    );

    drop(first);
    let tls = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the third connection was not served after the first closed")
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    assert_eq!(get_health(&mut sender).await, StatusCode::OK);

    let log = root_daemon.log.lock().unwrap().clone();
    assert!(log.contains("connection limit reached"), "{log}");
}

#[tokio::test]
async fn server_certificate_is_renewed() {
    let (host, _pki) = Host::ready();
    let daemon = start(&host, "leaf_validity = \"6s\"\n");
    let first = presented_chain(&daemon).await.remove(0);

    // Renewal is due 4 s after issuance (two thirds of 6 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    let renewed = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let leaf = presented_chain(&daemon).await.remove(0);
        if leaf.serial != first.serial {
            break leaf;
        }
        assert!(
            Instant::now() < deadline,
            "the certificate was never renewed"
        );
    };
    assert!(renewed.validity.not_after > first.validity.not_after);
    let log = daemon.stop();
    assert!(log.contains("reason=\"renewal\""), "{log}");

    let stored = |der: &[u8]| {
        host.db()
            .query_row(
                "SELECT COUNT(*) FROM certificates WHERE cert_der = ?1 AND kind = 'server'",
                [der],
                |row| row.get::<_, i64>(0),
            )
            .unwrap()
    };
    assert_eq!(stored(&first.der), 1);
    assert_eq!(stored(&renewed.der), 1);
}

#[tokio::test]
async fn activation_switches_server_chain() {
    let (mut host, pki) = Host::ready();
    let admin = host.admin_credential("alice");
    let second_key = key();
    let validity = Validity::starting_at(
        OffsetDateTime::now_utc() - time::Duration::hours(1),
        time::Duration::days(200),
    )
    .unwrap();
    let second = intermediate_with(&pki.root, &second_key, validity);
    let bundle = seal(
        &second,
        pki.root.certificate(),
        copy_key(&second_key),
        &host.recipient,
    );
    let output = host.import(&bundle);
    assert!(output.status.success(), "{}", common::stderr(&output));

    let daemon = host.start(&[]);
    let before = presented_chain(&daemon).await;
    assert_eq!(before[1].der, pki.intermediate.der);

    let body =
        serde_json::to_vec(&serde_json::json!({ "sha256": second.fingerprint.to_hex() })).unwrap();
    let response = daemon
        .send(TestRequest {
            path: "/v1/admin/intermediates/activate",
            body: Some(body),
            client: Some(&admin),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    let after = loop {
        let chain = presented_chain(&daemon).await;
        if chain[1].der == second.der {
            break chain;
        }
        assert!(
            Instant::now() < deadline,
            "the chain still names the old intermediate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(after[0].issuer, second.subject);
    assert_ne!(after[0].serial, before[0].serial);
    let log = daemon.stop();
    assert!(log.contains("reason=\"intermediate activated\""), "{log}");
}

#[tokio::test]
async fn keep_alive_outlasts_header_timeout() {
    // hyper's HTTP/1.1 header-read timer also runs between keep-alive
    // requests, so it must not close the connection before `idle_timeout`.
    let (host, _pki) = Host::ready();
    let daemon = start(&host, "idle_timeout = \"13s\"\n");
    let tls = connect(&daemon, &[b"http/1.1"]).await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    let mut connection = tokio::spawn(connection);
    assert_eq!(get_health(&mut sender).await, StatusCode::OK);
    let early = tokio::time::timeout(Duration::from_secs(11), &mut connection).await;
    assert!(early.is_err(), "the connection closed before idle_timeout");
    assert_eq!(get_health(&mut sender).await, StatusCode::OK);
    daemon.stop();
}
