//! The rustls server configuration: ring provider chosen explicitly, TLS 1.2
//! and 1.3, ALPN h2 and http/1.1, a server certificate that can be replaced
//! while the daemon runs, and optional client certificates verified against
//! the root.

use std::path::Path;
use std::sync::{Arc, RwLock};

use ironroot_core::files;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::UnixTime;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};
use zeroize::Zeroizing;

use crate::error::Error;

/// The certificate chain and key the server presents.
pub struct ServerIdentity {
    /// Leaf first, then intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl ServerIdentity {
    /// Builds the identity from a leaf, the intermediate and the leaf's PKCS#8 DER key.
    pub fn new(leaf_der: Vec<u8>, intermediate_der: Vec<u8>, key_pkcs8: &[u8]) -> Self {
        Self {
            chain: vec![
                CertificateDer::from(leaf_der),
                CertificateDer::from(intermediate_der),
            ],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8.to_vec())),
        }
    }

    /// Loads an external PEM chain and its PEM key. The key file must be private.
    pub fn load(certificate: &Path, key: &Path) -> Result<Self, Error> {
        let chain_text = files::read(certificate)?;
        let chain = CertificateDer::pem_slice_iter(&chain_text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| Error::Io {
                what: "reading tls_cert",
                path: certificate.to_owned(),
                reason: format!("invalid PEM certificate chain ({error})"),
            })?;
        if chain.is_empty() {
            return Err(Error::Io {
                what: "reading tls_cert",
                path: certificate.to_owned(),
                reason: "no CERTIFICATE block found".to_owned(),
            });
        }
        files::check_private(key)?;
        let key_text = Zeroizing::new(files::read(key)?);
        let key = PrivateKeyDer::from_pem_slice(&key_text).map_err(|error| Error::Io {
            what: "reading tls_key",
            path: key.to_owned(),
            reason: format!("no usable PEM private key ({error})"),
        })?;
        Ok(Self { chain, key })
    }

    /// Loads the key into the ring provider and checks that it matches the
    /// leaf certificate.
    pub fn certified_key(self) -> Result<Arc<CertifiedKey>, Error> {
        let provider = rustls::crypto::ring::default_provider();
        CertifiedKey::from_der(self.chain, self.key, &provider)
            .map(Arc::new)
            .map_err(|error| Error::Tls(format!("unusable server certificate or key: {error}")))
    }
}

/// The server certificate presented in every handshake. [`Self::replace`]
/// swaps it for handshakes that start afterwards; open connections keep the
/// certificate they were established with.
pub struct ServerCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ServerCertificate {
    /// Starts with `identity`.
    pub fn new(identity: ServerIdentity) -> Result<Self, Error> {
        Ok(Self {
            current: RwLock::new(identity.certified_key()?),
        })
    }

    /// Presents `identity` from the next handshake on.
    pub fn replace(&self, identity: ServerIdentity) -> Result<(), Error> {
        let certified = identity.certified_key()?;
        // A poisoned lock only means a writer panicked during the assignment
        // of an `Arc`, which cannot leave it half-written.
        *self
            .current
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = certified;
        Ok(())
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerCertificate")
    }
}

/// Builds the server configuration presenting `certificate`. Clients may
/// present a certificate; when they do, it must chain to `root_der`.
pub fn server_config(
    certificate: Arc<ServerCertificate>,
    root_der: &[u8],
) -> Result<Arc<ServerConfig>, Error> {
    let tls_error = |error: &dyn std::fmt::Display| Error::Tls(error.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(root_der.to_vec()))
        .map_err(|error| tls_error(&error))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|error| tls_error(&error))?;
    let verifier = Arc::new(ExpiryTolerantVerifier { inner: verifier });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|error| tls_error(&error))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client-certificate verifier that accepts an expired certificate whose
/// chain verifies at the certificate's own notAfter, so that `POST /v1/renew`
/// can see it and apply `renewal_grace`. Every other failure is final.
/// Handlers must therefore check expiry themselves: renewal checks it against
/// the database, and the admin endpoints check the credential's notAfter.
#[derive(Debug)]
struct ExpiryTolerantVerifier {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for ExpiryTolerantVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let error = match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Ok(verified) => return Ok(verified),
            Err(error) => error,
        };
        let expired = matches!(
            error,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        );
        let not_after = X509Certificate::from_der(end_entity.as_ref())
            .ok()
            .map(|(_, certificate)| certificate.validity().not_after.timestamp());
        match not_after {
            Some(not_after) if expired && not_after > 0 => {
                let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    not_after.unsigned_abs(),
                ));
                self.inner.verify_client_cert(end_entity, intermediates, at)
            }
            _ => Err(error),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
