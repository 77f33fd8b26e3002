//! The rustls server configuration: ring provider chosen explicitly, TLS 1.2
//! and 1.3, ALPN h2 and http/1.1, and optional client certificates verified
//! against the root.

use std::path::Path;
use std::sync::Arc;

use ironroot_core::files;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
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
}

/// Builds the server configuration. Clients may present a certificate; when
/// they do, it must chain to `root_der`.
pub fn server_config(
    identity: ServerIdentity,
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
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|error| tls_error(&error))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain, identity.key)
        .map_err(|error| tls_error(&error))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
