//! A mock issuer for tests: HTTPS on 127.0.0.1 with a root → intermediate →
//! server chain built with ironroot-core's profiles. It serves the root, the
//! chain, `/v1/sign` (bootstrap tokens it created) and `/v1/admin/tokens`
//! (client certificate required), and counts what it received.
//!
//! Shared by the client's and the admin's integration tests, so each test
//! crate uses only part of it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ironroot_core::api::{
    self, CreateTokenRequest, CreateTokenResponse, ErrorResponse, SignRequest, SignResponse,
};
use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::names::SubjectName;
use ironroot_core::profile::{self, LeafUsage, Subject, Validity};
use ironroot_core::{Fingerprint, pemfile};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// A root, an intermediate, the server's certificate and an admin credential.
pub struct Pki {
    pub root_der: Vec<u8>,
    pub intermediate: Authority,
    server_chain: Vec<Vec<u8>>,
    server_key: PrivateKey,
    pub admin_chain_pem: String,
    pub admin_key_pem: String,
}

impl Pki {
    pub fn new(root_name: &str) -> Self {
        let validity = Validity::starting_at(
            OffsetDateTime::now_utc() - Duration::minutes(5),
            Duration::days(2),
        )
        .unwrap();
        let root_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let root_params = profile::root(&Subject::common_name(root_name), validity).unwrap();
        let root = Authority::self_signed(&root_params, root_key).unwrap();

        let intermediate_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let intermediate_params =
            profile::intermediate(&Subject::common_name("Mock Intermediate"), validity, 0).unwrap();
        let intermediate_der = root
            .sign(&intermediate_params, &intermediate_key.public_key_der())
            .unwrap();
        let intermediate =
            Authority::new(&intermediate_der, intermediate_key, "intermediate").unwrap();

        let server_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let server_names = [
            SubjectName::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SubjectName::Dns("localhost".to_owned()),
        ];
        let server_params =
            profile::leaf(&server_names, validity, LeafUsage::ServerAndClient).unwrap();
        let server_der = intermediate
            .sign(&server_params, &server_key.public_key_der())
            .unwrap();

        let admin_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let admin_params =
            profile::client_with_uri("alice", "urn:ironroot:admin:alice", validity).unwrap();
        let admin_der = intermediate
            .sign(&admin_params, &admin_key.public_key_der())
            .unwrap();
        let admin_chain_pem =
            pemfile::encode_certificates([admin_der.as_slice(), intermediate_der.as_slice()]);

        Self {
            root_der: root.certificate().der.clone(),
            intermediate,
            server_chain: vec![server_der, intermediate_der],
            server_key,
            admin_chain_pem,
            admin_key_pem: admin_key.to_pkcs8_pem().to_string(),
        }
    }

    pub fn root_pem(&self) -> String {
        pemfile::encode(pemfile::CERTIFICATE, &self.root_der)
    }

    pub fn root_fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.root_der)
    }

    fn intermediate_pem(&self) -> String {
        pemfile::encode(pemfile::CERTIFICATE, &self.intermediate.certificate().der)
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.root_der.clone()))
            .unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .unwrap();
        let chain = self
            .server_chain
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        let key = PrivateKeyDer::Pkcs8(self.server_key.to_pkcs8_der().to_vec().into());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// How the mock misbehaves, if at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Close every connection after one response.
    pub close_after_response: bool,
    /// Serve a `/v1/root` body of 2 MiB.
    pub oversized_root: bool,
    /// Issue certificates for a key other than the CSR's.
    pub issue_for_other_key: bool,
}

/// What the mock received.
#[derive(Default)]
pub struct State {
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// `/v1/sign` requests that arrived, counted before any check.
    pub sign_requests: AtomicUsize,
    /// Tokens that `/v1/sign` accepts, each once.
    tokens: Mutex<HashSet<String>>,
    requests: AtomicUsize,
}

/// A running mock issuer; stopped when dropped.
pub struct MockServer {
    pub url: String,
    pub pki: Arc<Pki>,
    pub state: Arc<State>,
    task: JoinHandle<()>,
}

impl MockServer {
    pub async fn start(options: Options) -> Self {
        let pki = Arc::new(Pki::new("Mock Root"));
        let state = Arc::new(State::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let acceptor = TlsAcceptor::from(pki.server_config());
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            pki.clone(),
            state.clone(),
            options,
        ));
        Self {
            url,
            pki,
            state,
            task,
        }
    }

    /// Creates a bootstrap token that `/v1/sign` accepts once.
    pub fn add_token(&self) -> String {
        let token = new_token();
        self.state.tokens.lock().unwrap().insert(token.clone());
        token
    }

    pub fn sign_requests(&self) -> usize {
        self.state.sign_requests.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    pki: Arc<Pki>,
    state: Arc<State>,
    options: Options,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        state.connections.fetch_add(1, Ordering::SeqCst);
        let acceptor = acceptor.clone();
        let pki = pki.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let has_client_cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|chain| !chain.is_empty());
            let service = service_fn(move |request| {
                let pki = pki.clone();
                let state = state.clone();
                async move {
                    Ok::<_, Infallible>(
                        route(&pki, &state, options, has_client_cert, request).await,
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(!options.close_after_response)
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn route(
    pki: &Pki,
    state: &State,
    options: Options,
    has_client_cert: bool,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = format!("req-{}", state.requests.fetch_add(1, Ordering::SeqCst));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = match (method, path.as_str()) {
        (Method::GET, api::HEALTH_PATH) => {
            json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
        }
        (Method::GET, api::ROOT_PATH) if options.oversized_root => {
            pem(vec![b'A'; 2 * 1024 * 1024].into())
        }
        (Method::GET, api::ROOT_PATH) => pem(pki.root_pem().into()),
        (Method::GET, api::CHAIN_PATH) => {
            pem(format!("{}{}", pki.intermediate_pem(), pki.root_pem()).into())
        }
        (Method::POST, api::SIGN_PATH) => {
            state.sign_requests.fetch_add(1, Ordering::SeqCst);
            sign(pki, state, options, request, &request_id).await
        }
        (Method::POST, api::ADMIN_TOKENS_PATH) if !has_client_cert => error(
            StatusCode::FORBIDDEN,
            "admin_required",
            "this endpoint requires a registered admin client certificate",
            &request_id,
        ),
        (Method::POST, api::ADMIN_TOKENS_PATH) => create_token(state, request, &request_id).await,
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
            &request_id,
        ),
    };
    response
        .headers_mut()
        .insert(api::REQUEST_ID_HEADER, request_id.parse().unwrap());
    response
}

async fn sign(
    pki: &Pki,
    state: &State,
    options: Options,
    request: Request<Incoming>,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let token = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(token) = token else {
        return error(
            StatusCode::UNAUTHORIZED,
            "token_missing",
            "no bearer token",
            request_id,
        );
    };
    if !state.tokens.lock().unwrap().remove(&token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "token_invalid",
            "the bootstrap token is unknown or was already used",
            request_id,
        );
    }
    let Some(body) = read_json::<SignRequest>(request).await else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "bad JSON",
            request_id,
        );
    };
    let csr = match ironroot_core::csr::parse_and_verify(body.csr.as_bytes()) {
        Ok(csr) => csr,
        Err(reason) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_csr",
                &reason.to_string(),
                request_id,
            );
        }
    };
    let public_key_der = if options.issue_for_other_key {
        PrivateKey::generate(KeyAlgorithm::EcdsaP256)
            .unwrap()
            .public_key_der()
    } else {
        csr.public_key_der
    };
    let validity = Validity::starting_at(
        OffsetDateTime::now_utc() - Duration::minutes(1),
        Duration::hours(24),
    )
    .unwrap();
    let params = profile::leaf(&csr.names, validity, LeafUsage::ServerAndClient).unwrap();
    let leaf_der = pki.intermediate.sign(&params, &public_key_der).unwrap();
    let leaf = CertificateInfo::parse(&leaf_der, "leaf").unwrap();
    json(
        StatusCode::OK,
        &SignResponse {
            serial: leaf.serial_hex(),
            certificate: leaf.to_pem(),
            chain: pki.intermediate_pem(),
            root: pki.root_pem(),
            not_before: leaf.validity.not_before,
            not_after: leaf.validity.not_after,
            notice: None,
        },
    )
}

async fn create_token(
    state: &State,
    request: Request<Incoming>,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let Some(body) = read_json::<CreateTokenRequest>(request).await else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "bad JSON",
            request_id,
        );
    };
    let token = new_token();
    state.tokens.lock().unwrap().insert(token.clone());
    let ttl = body.ttl_seconds.unwrap_or(600);
    let id_digest = Fingerprint::of(token.as_bytes()).to_hex();
    json(
        StatusCode::CREATED,
        &CreateTokenResponse {
            id: format!("tok_{}", &id_digest[..16]),
            token,
            names: body.names,
            profile: body.profile,
            expires_at: OffsetDateTime::now_utc() + Duration::seconds(ttl as i64),
        },
    )
}

async fn read_json<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Option<T> {
    let body = Limited::new(request.into_body(), 64 * 1024)
        .collect()
        .await
        .ok()?
        .to_bytes();
    serde_json::from_slice(&body).ok()
}

fn new_token() -> String {
    let mut random = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random).unwrap();
    format!("irt_{}", ironroot_core::fingerprint::hex(&random))
}

fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(serde_json::to_vec(body).unwrap().into()))
        .unwrap()
}

fn pem(body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .header(
            hyper::header::CONTENT_TYPE,
            "application/pem-certificate-chain",
        )
        .body(Full::new(body))
        .unwrap()
}

fn error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response<Full<Bytes>> {
    json(
        status,
        &ErrorResponse {
            error: code.to_owned(),
            message: message.to_owned(),
            request_id: request_id.to_owned(),
        },
    )
}
