//! Who may ask for what, and signing with the active intermediate.
//!
//! Every usable intermediate is loaded once into an [`ActiveCa`]; the
//! [`registry::Intermediates`] contains them all and names the one that signs new
//! certificates. Requests read the active one once and sign with its parsed key.

pub mod issue;
pub mod policy;
pub mod ratelimit;
pub mod registry;
pub mod tokens;

use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::keys::PrivateKey;
use ironroot_core::{files, pemfile};
use rusqlite::Connection;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};
use zeroize::Zeroizing;

use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage::queries::{self, CaRecord};

/// A loaded intermediate CA with its key, plus the PEM texts the API serves.
/// The name is historical: the registry contains one for every usable
/// intermediate, active or not.
pub struct ActiveCa {
    /// Row id in the `cas` table.
    pub id: i64,
    /// SHA-256 of the intermediate certificate, lower-case hex.
    pub sha256: String,
    /// The intermediate certificate and key, ready to sign.
    pub authority: Authority,
    /// The root certificate the intermediate chains to.
    pub root: CertificateInfo,
    /// The intermediate certificate, PEM.
    pub intermediate_pem: String,
    /// The root certificate, PEM.
    pub root_pem: String,
    /// The same key as an rcgen issuer, for signing CRLs.
    pub crl_issuer: rcgen::Issuer<'static, PrivateKey>,
    /// Hashes that identify this CA in OCSP requests and responses.
    pub ocsp: OcspIdentity,
    /// CRL distribution point and OCSP URL written into issued leaves.
    pub leaf_urls: LeafUrls,
}

/// The OCSP CertID hashes of a CA (RFC 6960 section 4.1.1): of its subject
/// name DER and of its subjectPublicKey BIT STRING value.
#[derive(Clone, Debug)]
pub struct OcspIdentity {
    /// SHA-1 of the subject name DER.
    pub name_sha1: Vec<u8>,
    /// SHA-256 of the subject name DER.
    pub name_sha256: Vec<u8>,
    /// SHA-1 of the public key; also the responder id byKey.
    pub key_sha1: Vec<u8>,
    /// SHA-256 of the public key.
    pub key_sha256: Vec<u8>,
}

/// URLs that issued leaves carry, from the configuration.
#[derive(Clone, Debug, Default)]
pub struct LeafUrls {
    /// Full CRL distribution point URL of this CA.
    pub crl: Option<String>,
    /// OCSP responder URL.
    pub ocsp: Option<String>,
}

impl ActiveCa {
    /// Loads the active CA recorded in the database and its key file, checking
    /// that the key file is private and that the CA is valid at `now`.
    pub fn load(
        data_dir: &DataDir,
        connection: &Connection,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        let record = queries::active_ca(connection)?.ok_or_else(|| Error::NoIntermediate {
            path: data_dir.root().to_owned(),
        })?;
        Self::load_record(data_dir, record, now)
    }

    /// Loads the CA of `record` and its key file, checking that the key file
    /// is private and that the CA is valid at `now`.
    pub fn load_record(
        data_dir: &DataDir,
        record: CaRecord,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        let key_path = data_dir.intermediate_key_path(&record.sha256);
        data_dir.check_private_files(&key_path)?;
        let pem_bytes = Zeroizing::new(files::read(&key_path)?);
        let pem_text = std::str::from_utf8(&pem_bytes).map_err(|_| Error::Io {
            what: "reading the intermediate key",
            path: key_path.clone(),
            reason: "the file is not UTF-8 PEM".to_owned(),
        })?;
        let what = format!("in {}", key_path.display());
        let key = PrivateKey::from_pkcs8_pem(pem_text, &what)?;
        let crl_key = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der(), &what)?;
        let authority = Authority::new(&record.cert_der, key, "active intermediate")?;
        let crl_issuer = rcgen::Issuer::from_ca_cert_der(
            &CertificateDer::from(record.cert_der.as_slice()),
            crl_key,
        )
        .map_err(ironroot_core::Error::from)?;
        let ocsp = ocsp_identity(&record.cert_der)?;
        let root = CertificateInfo::parse(&record.root_der, "root certificate")?;
        let info = authority.certificate();
        if !info.is_valid_at(now) {
            return Err(Error::IntermediateUnusable {
                subject: info.subject.clone(),
                reason: format!(
                    "it is valid from {} to {}, which does not include now ({now}); import a new intermediate",
                    info.validity.not_before, info.validity.not_after
                ),
            });
        }
        Ok(Self {
            id: record.id,
            sha256: record.sha256.clone(),
            crl_issuer,
            ocsp,
            leaf_urls: LeafUrls::default(),
            intermediate_pem: pemfile::encode(pemfile::CERTIFICATE, &record.cert_der),
            root_pem: pemfile::encode(pemfile::CERTIFICATE, &record.root_der),
            authority,
            root,
        })
    }

    /// Returns the intermediate certificate's facts.
    pub fn certificate(&self) -> &CertificateInfo {
        self.authority.certificate()
    }

    /// Returns the intermediate PEM followed by the root PEM.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.intermediate_pem, self.root_pem)
    }

    /// Sets the URLs written into leaves: the CRL URL is `crl_prefix`, `/`
    /// and this CA's SHA-256, so each leaf points at its own issuer's CRL.
    pub fn set_leaf_urls(&mut self, crl_prefix: Option<&str>, ocsp: Option<&str>) {
        self.leaf_urls = LeafUrls {
            crl: crl_prefix.map(|prefix| format!("{prefix}/{}", self.sha256)),
            ocsp: ocsp.map(str::to_owned),
        };
    }
}

/// Computes the OCSP CertID hashes of the CA certificate `der`.
fn ocsp_identity(der: &[u8]) -> Result<OcspIdentity, Error> {
    let (_, certificate) = X509Certificate::from_der(der).map_err(|error| {
        Error::Issue(format!(
            "the intermediate certificate does not parse: {error}"
        ))
    })?;
    let name = certificate.subject().as_raw();
    let key = &certificate.public_key().subject_public_key.data;
    let sha1 = |bytes: &[u8]| {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes)
            .as_ref()
            .to_vec()
    };
    let sha256 = |bytes: &[u8]| {
        ring::digest::digest(&ring::digest::SHA256, bytes)
            .as_ref()
            .to_vec()
    };
    Ok(OcspIdentity {
        name_sha1: sha1(name),
        name_sha256: sha256(name),
        key_sha1: sha1(key),
        key_sha256: sha256(key),
    })
}

impl std::fmt::Debug for ActiveCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActiveCa({}, {:?})", self.id, self.authority)
    }
}
