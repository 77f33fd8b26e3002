//! Shared helpers for the issuer's integration tests: a test PKI, bundles,
//! running the binary, a daemon on a loopback port, and a small HTTPS client.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use ironroot_core::bundle::Bundle;
use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::profile::{self, Subject, Validity};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use time::OffsetDateTime;

pub const BIN: &str = env!("CARGO_BIN_EXE_ironroot-issuer");

/// A root and an intermediate signed by it.
pub struct Pki {
    pub root: Authority,
    pub intermediate: CertificateInfo,
    pub intermediate_key: PrivateKey,
}

pub fn key() -> PrivateKey {
    PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap()
}

pub fn copy_key(key: &PrivateKey) -> PrivateKey {
    PrivateKey::from_pkcs8_der(&key.to_pkcs8_der(), "test key").unwrap()
}

pub fn root(name: &str) -> Authority {
    let validity = Validity::starting_at(
        OffsetDateTime::now_utc() - time::Duration::days(1),
        time::Duration::days(3650),
    )
    .unwrap();
    let params = profile::root(&Subject::common_name(name), validity).unwrap();
    Authority::self_signed(&params, key()).unwrap()
}

/// Signs an intermediate CA with `root`, valid for `validity`.
pub fn intermediate_with(
    root: &Authority,
    key: &PrivateKey,
    validity: Validity,
) -> CertificateInfo {
    let params = profile::intermediate(
        &Subject::common_name("IronRoot Test Intermediate"),
        validity,
        0,
    )
    .unwrap();
    let der = root.sign_for(&params, key).unwrap();
    CertificateInfo::parse(&der, "test intermediate").unwrap()
}

pub fn pki() -> Pki {
    let root = root("IronRoot Test Root");
    let intermediate_key = key();
    let validity = Validity::starting_at(
        OffsetDateTime::now_utc() - time::Duration::hours(1),
        time::Duration::days(365),
    )
    .unwrap();
    let intermediate = intermediate_with(&root, &intermediate_key, validity);
    Pki {
        root,
        intermediate,
        intermediate_key,
    }
}

/// Builds and seals a bundle of the given parts.
pub fn seal(
    intermediate: &CertificateInfo,
    root: &CertificateInfo,
    key: PrivateKey,
    recipient: &str,
) -> Vec<u8> {
    let recipient = ironroot_core::agefile::parse_recipient(recipient).unwrap();
    Bundle::new(
        intermediate.clone(),
        root.clone(),
        Some(key),
        OffsetDateTime::now_utc(),
    )
    .seal(&recipient)
    .unwrap()
}

pub fn issuer(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("IRONROOT_DATA_DIR")
        .env_remove("IRONROOT_LOG_FORMAT")
        .env_remove("IRONROOT_LOG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A temporary data directory after `init`.
pub struct Host {
    pub temp: tempfile::TempDir,
    pub data: PathBuf,
    pub recipient: String,
    /// Every stderr text of the CLI commands run so far.
    pub cli_logs: String,
    /// Root fingerprint passed to `import --root-fingerprint`. Tests whose
    /// import fails before the root is compared leave the placeholder.
    pub expected_root: String,
}

impl Host {
    pub fn init() -> Host {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("data");
        let output = issuer(&["init", "--data-dir", data.to_str().unwrap()]);
        assert!(output.status.success(), "init failed: {}", stderr(&output));
        let recipient = stdout(&output).lines().last().unwrap().trim().to_owned();
        assert!(recipient.starts_with("age1"), "{recipient}");
        Host {
            cli_logs: stderr(&output),
            temp,
            data,
            recipient,
            expected_root: "00".repeat(32),
        }
    }

    pub fn data_dir(&self) -> &str {
        self.data.to_str().unwrap()
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.temp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn import(&mut self, bundle: &[u8]) -> Output {
        let path = self.write("bundle.age", bundle);
        let output = issuer(&[
            "import",
            "--data-dir",
            self.data_dir(),
            "--root-fingerprint",
            &self.expected_root,
            path.to_str().unwrap(),
        ]);
        self.cli_logs.push_str(&stderr(&output));
        output
    }

    /// init + import of a fresh PKI.
    pub fn ready() -> (Host, Pki) {
        let mut host = Host::init();
        let pki = pki();
        host.expected_root = pki.root.certificate().fingerprint.to_string();
        let bundle = seal(
            &pki.intermediate,
            pki.root.certificate(),
            copy_key(&pki.intermediate_key),
            &host.recipient,
        );
        let output = host.import(&bundle);
        assert!(
            output.status.success(),
            "import failed: {}",
            stderr(&output)
        );
        (host, pki)
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data.join("issuer.db")).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    pub fn key_files(&self) -> usize {
        match std::fs::read_dir(self.data.join("intermediates")) {
            Ok(entries) => entries.count(),
            Err(_) => 0,
        }
    }

    /// Runs `admin-credential` and returns the client identity.
    pub fn admin_credential(&mut self, name: &str) -> ClientIdentity {
        let out = self.temp.path().join(format!("admin-{name}"));
        let output = issuer(&[
            "admin-credential",
            "--data-dir",
            self.data_dir(),
            "--name",
            name,
            "--out-dir",
            out.to_str().unwrap(),
        ]);
        self.cli_logs.push_str(&stderr(&output));
        assert!(
            output.status.success(),
            "admin-credential failed: {}",
            stderr(&output)
        );
        ClientIdentity::load(&out.join("admin.pem"), &out.join("admin.key"))
    }

    pub fn start(&self, extra: &[&str]) -> Daemon {
        Daemon::start(self, extra)
    }
}

/// A client certificate chain and key.
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key_pem: Vec<u8>,
}

impl ClientIdentity {
    pub fn load(chain: &Path, key: &Path) -> Self {
        let chain = CertificateDer::pem_file_iter(chain)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        ClientIdentity {
            chain,
            key_pem: std::fs::read(key).unwrap(),
        }
    }
}

/// A running `serve` process on 127.0.0.1 with an ephemeral port.
pub struct Daemon {
    child: Child,
    pub addr: std::net::SocketAddr,
    pub log: Arc<Mutex<String>>,
    pub root_der: Vec<u8>,
}

impl Daemon {
    fn start(host: &Host, extra: &[&str]) -> Daemon {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--data-dir",
                host.data_dir(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env_remove("IRONROOT_LOG_FORMAT")
            .env_remove("RUST_LOG")
            .env("IRONROOT_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (ready, listening) = mpsc::channel();
        let reader = BufReader::new(child.stderr.take().unwrap());
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if line.contains("listening")
                    && let Some(address) = line.split("address=").nth(1)
                {
                    let address = address.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = ready.send(address);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let address = match listening.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the daemon did not start:\n{}", log.lock().unwrap());
            }
        };
        let root_der = host
            .db()
            .query_row("SELECT root_der FROM cas WHERE active = 1", [], |row| {
                row.get(0)
            })
            .unwrap();
        Daemon {
            child,
            addr: address.parse().unwrap(),
            log,
            root_der,
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the whole log.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "serve exited with {exit}");
        // Give the reader thread a moment to drain the pipe after the exit.
        std::thread::sleep(Duration::from_millis(100));
        self.log.lock().unwrap().clone()
    }

    pub async fn send(&self, request: TestRequest<'_>) -> TestResponse {
        send(self.addr, &self.root_der, request).await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
pub struct TestRequest<'a> {
    pub method: Option<Method>,
    pub path: &'a str,
    pub bearer: Option<&'a str>,
    pub body: Option<Vec<u8>>,
    pub client: Option<&'a ClientIdentity>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn error_code(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }

    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or("").to_owned()
    }
}

fn tls_config(root_der: &[u8], client: Option<&ClientIdentity>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(root_der.to_vec())).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match client {
        Some(identity) => builder
            .with_client_auth_cert(
                identity.chain.clone(),
                PrivateKeyDer::from_pem_slice(&identity.key_pem).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}

/// Sends one request over a new TLS connection to `localhost`.
pub async fn send(
    addr: std::net::SocketAddr,
    root_der: &[u8],
    request: TestRequest<'_>,
) -> TestResponse {
    let config = tls_config(root_der, request.client);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let method = request.method.unwrap_or(if request.body.is_some() {
        Method::POST
    } else {
        Method::GET
    });
    let mut builder = Request::builder()
        .method(method)
        .uri(request.path)
        .header("host", "localhost");
    if let Some(token) = request.bearer {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = Full::new(Bytes::from(request.body.unwrap_or_default()));
    let response = sender
        .send_request(builder.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    TestResponse {
        status,
        headers,
        body,
    }
}

/// A CSR in PEM for `names`, with a fresh P-256 key.
pub fn csr(names: &[&str]) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.serialize_request(&key).unwrap().pem().unwrap()
}

pub fn sign_body(csr_pem: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "csr": csr_pem })).unwrap()
}

/// Creates a token through the admin endpoint.
pub async fn create_token(
    daemon: &Daemon,
    admin: &ClientIdentity,
    names: &[&str],
    ttl_seconds: Option<u64>,
) -> String {
    let body =
        serde_json::to_vec(&serde_json::json!({ "names": names, "ttl_seconds": ttl_seconds }))
            .unwrap();
    let response = daemon
        .send(TestRequest {
            path: "/v1/admin/tokens",
            body: Some(body),
            client: Some(admin),
            ..TestRequest::default()
        })
        .await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()["token"].as_str().unwrap().to_owned()
}

pub async fn sign(daemon: &Daemon, token: &str, csr_pem: &str) -> TestResponse {
    daemon
        .send(TestRequest {
            path: "/v1/sign",
            bearer: Some(token),
            body: Some(sign_body(csr_pem)),
            ..TestRequest::default()
        })
        .await
}
