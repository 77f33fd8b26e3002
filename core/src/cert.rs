//! Reading certificates back, checking who signed them, and signing with a CA.

use rcgen::{CertificateParams, Issuer, PublicKeyData};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::keys::PrivateKey;
use crate::names::SubjectName;
use crate::profile::Validity;
use crate::{Error, Fingerprint};

/// The facts about a certificate that IronRoot checks and records, read with
/// x509-parser from DER.
#[derive(Clone, Debug)]
pub struct CertificateInfo {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// SHA-256 of the DER encoding.
    pub fingerprint: Fingerprint,
    /// Subject as x509-parser displays it (`C=DE, O=Example, CN=Example CA`).
    pub subject: String,
    /// Issuer in the same form as `subject`.
    pub issuer: String,
    /// Serial number as unsigned big-endian bytes.
    pub serial: Vec<u8>,
    /// Validity period.
    pub validity: Validity,
    /// Whether basicConstraints says CA:true.
    pub is_ca: bool,
    /// pathLenConstraint, if any.
    pub path_len: Option<u32>,
    /// subjectKeyIdentifier, if present.
    pub subject_key_id: Option<Vec<u8>>,
    /// keyIdentifier of the authorityKeyIdentifier, if present.
    pub authority_key_id: Option<Vec<u8>>,
    /// DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// DNS, IP, URI and email subject alternative names.
    pub names: Vec<SubjectName>,
}

impl CertificateInfo {
    /// Parses a DER certificate. `what` names it in errors ("root certificate").
    pub fn parse(der: &[u8], what: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidCertificate {
            what: what.to_owned(),
            reason,
        };
        let (rest, certificate) = X509Certificate::from_der(der)
            .map_err(|error| invalid(format!("not a DER X.509 certificate ({error})")))?;
        if !rest.is_empty() {
            return Err(invalid(format!("{} bytes of trailing data", rest.len())));
        }
        let mut info = Self {
            der: der.to_vec(),
            fingerprint: Fingerprint::of(der),
            subject: certificate.subject().to_string(),
            issuer: certificate.issuer().to_string(),
            serial: certificate.raw_serial().to_vec(),
            validity: Validity {
                not_before: certificate.validity().not_before.to_datetime(),
                not_after: certificate.validity().not_after.to_datetime(),
            },
            is_ca: false,
            path_len: None,
            subject_key_id: None,
            authority_key_id: None,
            public_key_der: certificate.public_key().raw.to_vec(),
            names: Vec::new(),
        };
        for extension in certificate.extensions() {
            match extension.parsed_extension() {
                ParsedExtension::BasicConstraints(constraints) => {
                    info.is_ca = constraints.ca;
                    info.path_len = constraints.path_len_constraint;
                }
                ParsedExtension::SubjectKeyIdentifier(id) => {
                    info.subject_key_id = Some(id.0.to_vec());
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    info.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(dns) => {
                                info.names.push(SubjectName::Dns(dns.to_string()));
                            }
                            GeneralName::IPAddress(bytes) => {
                                if let Ok(octets) = <[u8; 4]>::try_from(*bytes) {
                                    info.names.push(SubjectName::Ip(octets.into()));
                                } else if let Ok(octets) = <[u8; 16]>::try_from(*bytes) {
                                    info.names.push(SubjectName::Ip(octets.into()));
                                }
                            }
                            GeneralName::URI(uri) => {
                                info.names.push(SubjectName::Uri((*uri).to_owned()));
                            }
                            GeneralName::RFC822Name(email) => {
                                info.names.push(SubjectName::Email((*email).to_owned()));
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// Parses a PEM file that must contain exactly one certificate.
    pub fn parse_pem(text: &[u8], what: &str) -> Result<Self, Error> {
        let der = crate::pemfile::parse_single(text, crate::pemfile::CERTIFICATE, what)?;
        Self::parse(&der, what)
    }

    /// Returns the serial number as lower-case hex, the form used in logs and the database.
    pub fn serial_hex(&self) -> String {
        crate::fingerprint::hex(&self.serial)
    }

    /// Returns whether `at` lies within the validity period.
    pub fn is_valid_at(&self, at: OffsetDateTime) -> bool {
        self.validity.not_before <= at && at <= self.validity.not_after
    }

    /// Returns the PEM encoding.
    pub fn to_pem(&self) -> String {
        crate::pemfile::encode(crate::pemfile::CERTIFICATE, &self.der)
    }
}

/// Verifies that `child` is signed by the key of `issuer` and names it as issuer.
pub fn verify_issued_by(child: &CertificateInfo, issuer: &CertificateInfo) -> Result<(), Error> {
    let invalid = |reason: String| Error::InvalidCertificate {
        what: format!("`{}`", child.subject),
        reason,
    };
    if child.issuer != issuer.subject {
        return Err(invalid(format!(
            "its issuer is `{}`, not `{}`",
            child.issuer, issuer.subject
        )));
    }
    let (_, child_parsed) = X509Certificate::from_der(&child.der)
        .map_err(|error| invalid(format!("does not parse ({error})")))?;
    let (_, issuer_parsed) = X509Certificate::from_der(&issuer.der)
        .map_err(|error| invalid(format!("its issuer does not parse ({error})")))?;
    child_parsed
        .verify_signature(Some(issuer_parsed.public_key()))
        .map_err(|_| {
            invalid(format!(
                "its signature does not verify with the public key of `{}` (SHA-256 {})",
                issuer.subject, issuer.fingerprint
            ))
        })
}

/// A CA certificate with its private key, ready to sign. The rcgen issuer is
/// built once, so signing parses no key or certificate.
pub struct Authority {
    info: CertificateInfo,
    issuer: Issuer<'static, PrivateKey>,
}

impl Authority {
    /// Pairs a CA certificate with its key, checking that the key matches the
    /// certificate's public key and that the certificate is a CA.
    pub fn new(certificate_der: &[u8], key: PrivateKey, what: &str) -> Result<Self, Error> {
        let info = CertificateInfo::parse(certificate_der, what)?;
        if key.public_key_der() != info.public_key_der {
            return Err(Error::InvalidKey {
                what: what.to_owned(),
                reason: format!(
                    "the private key (public key SHA-256 {}) does not belong to the certificate `{}` (public key SHA-256 {})",
                    key.public_key_fingerprint(),
                    info.subject,
                    Fingerprint::of(&info.public_key_der)
                ),
            });
        }
        if !info.is_ca {
            return Err(Error::InvalidCertificate {
                what: what.to_owned(),
                reason: format!(
                    "`{}` is not a CA certificate (basicConstraints CA:false or absent)",
                    info.subject
                ),
            });
        }
        let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(certificate_der), key)?;
        Ok(Self { info, issuer })
    }

    /// Creates a self-signed CA from `params` and its key.
    pub fn self_signed(params: &CertificateParams, key: PrivateKey) -> Result<Self, Error> {
        let mut params = params.clone();
        crate::profile::set_key_identifier(&mut params, &key.public_key_der())?;
        let certificate = params.self_signed(&key)?;
        Self::new(certificate.der(), key, "self-signed certificate")
    }

    /// Signs a certificate for `public_key_der` (a DER SubjectPublicKeyInfo) and
    /// returns its DER.
    pub fn sign(
        &self,
        params: &CertificateParams,
        public_key_der: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(public_key_der)?;
        self.sign_for(params, &public_key)
    }

    /// Signs a certificate for a key given as rcgen public key data.
    pub fn sign_for(
        &self,
        params: &CertificateParams,
        public_key: &impl PublicKeyData,
    ) -> Result<Vec<u8>, Error> {
        let mut params = params.clone();
        crate::profile::set_key_identifier(&mut params, &public_key.subject_public_key_info())?;
        Ok(params.signed_by(public_key, &self.issuer)?.der().to_vec())
    }

    /// Returns the CA certificate.
    pub fn certificate(&self) -> &CertificateInfo {
        &self.info
    }

    /// Returns the private key.
    pub fn key(&self) -> &PrivateKey {
        self.issuer.key()
    }
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Authority({}, {})",
            self.info.subject, self.info.fingerprint
        )
    }
}
