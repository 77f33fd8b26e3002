//! rustls client configurations, always with the ring provider, and the
//! bootstrap step that fetches the root certificate before it is trusted.

use std::path::Path;
use std::sync::Arc;

use ironroot_core::{Fingerprint, files, pemfile};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use zeroize::Zeroizing;

use crate::{Client, Error, ServerUrl, Timeouts};

/// ALPN protocol offered to the server: the client speaks HTTP/1.1 only.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Returns the ring crypto provider. IronRoot never uses aws-lc-rs.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client certificate chain and its private key, presented for mTLS.
pub struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    /// Loads a certificate chain (leaf first) and a PKCS#8 key from PEM files.
    /// Rejects a key file that group or others can read or write.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, Error> {
        files::check_private(key_path)?;
        let cert_pem = files::read(cert_path)?;
        let description = format!("client certificate {}", cert_path.display());
        let chain = pemfile::parse_all(&cert_pem, pemfile::CERTIFICATE, &description)?
            .into_iter()
            .map(CertificateDer::from)
            .collect();
        let key_pem = Zeroizing::new(files::read(key_path)?);
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| Error::InvalidCredential {
                path: key_path.to_owned(),
                reason: format!("expected a PEM private key ({error})"),
            })?;
        Ok(Self { chain, key })
    }

    /// Pairs a DER certificate chain (leaf first) with a PKCS#8 DER key.
    pub fn from_der(chain: Vec<Vec<u8>>, pkcs8_key: Vec<u8>) -> Self {
        Self {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            key: PrivateKeyDer::Pkcs8(pkcs8_key.into()),
        }
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientIdentity({} certificates, [key redacted])",
            self.chain.len()
        )
    }
}

/// Builds a configuration that trusts only `root_der` and checks the server's
/// name, optionally presenting a client certificate.
pub fn verified_config(
    root_der: &[u8],
    identity: Option<ClientIdentity>,
) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(root_der.to_vec()))
        .map_err(|error| Error::TlsConfig(format!("the root certificate is unusable ({error})")))?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::TlsConfig(error.to_string()))?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain, identity.key)
            .map_err(|error| {
                Error::TlsConfig(format!(
                    "the client certificate or key is unusable ({error})"
                ))
            })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Builds a configuration that accepts any server certificate, for fetching
/// the root before it is trusted. Handshake signatures are still verified, so
/// the server has the private key of the certificate it sent, but nothing ties that
/// certificate to a trusted root. Never send a secret over it.
pub fn unverified_config() -> Result<Arc<ClientConfig>, Error> {
    let provider = provider();
    let verifier = AcceptAnyServerCertificate {
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::TlsConfig(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Fetches `GET /v1/root` over a connection that does not verify the server,
/// and returns the root's DER only if its SHA-256 fingerprint equals
/// `expected`. The request carries no token or client certificate.
pub async fn fetch_root_unverified(
    server: &ServerUrl,
    expected: &Fingerprint,
    timeouts: Timeouts,
) -> Result<Vec<u8>, Error> {
    let tls = if server.is_tls() {
        Some(unverified_config()?)
    } else {
        None
    };
    let client = Client::new(server.clone(), tls, timeouts)?;
    let root_der = client.get_root().await?;
    let actual = Fingerprint::of(&root_der);
    if actual != *expected {
        return Err(Error::FingerprintMismatch {
            server: server.to_string(),
            expected: *expected,
            actual,
        });
    }
    Ok(root_der)
}

/// A verifier that accepts every server certificate but checks handshake
/// signatures with the ring provider's algorithms.
#[derive(Debug)]
struct AcceptAnyServerCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The caller authenticates the root by its fingerprint instead.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
