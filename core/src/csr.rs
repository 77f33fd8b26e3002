//! Certificate signing requests: parsing, signature check and the facts an
//! issuing policy needs. Nothing a CSR requests is copied into a certificate;
//! the issuer's profile decides every extension.

use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509CertificationRequest};
use x509_parser::public_key::PublicKey;

use crate::Error;
use crate::names::SubjectName;

/// Largest CSR accepted, in bytes of DER. An RSA-8192 CSR with many SANs is far smaller.
pub const MAX_CSR_LEN: usize = 16 * 1024;
/// Most SANs one request may name.
pub const MAX_NAMES: usize = 100;
/// Smallest RSA modulus accepted in a CSR, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The public key type of a CSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrKeyType {
    /// ECDSA P-256.
    EcdsaP256,
    /// ECDSA P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA with the given modulus size in bits.
    Rsa(usize),
}

impl std::fmt::Display for CsrKeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EcdsaP256 => f.write_str("ecdsa-p256"),
            Self::EcdsaP384 => f.write_str("ecdsa-p384"),
            Self::Ed25519 => f.write_str("ed25519"),
            Self::Rsa(bits) => write!(f, "rsa-{bits}"),
        }
    }
}

/// A CSR whose signature verified, reduced to what issuance uses.
#[derive(Clone, Debug)]
pub struct VerifiedCsr {
    /// DER SubjectPublicKeyInfo of the requester's key.
    pub public_key_der: Vec<u8>,
    /// Key type of the requester's key.
    pub key_type: CsrKeyType,
    /// Requested names: the SANs, or the common name when the CSR has no SAN
    /// extension and its common name is a valid DNS name. Sorted, no duplicates.
    pub names: Vec<SubjectName>,
}

/// Parses a CSR from PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) or
/// DER, verifies its self-signature and extracts the requested names.
///
/// Rejects a CSR that asks for CA:true, requests SAN types other than DNS names,
/// IP addresses, URIs and email addresses, uses SHA-1, or carries an unsupported or weak key.
pub fn parse_and_verify(input: &[u8]) -> Result<VerifiedCsr, Error> {
    let der = decode(input)?;
    if der.len() > MAX_CSR_LEN {
        return Err(Error::InvalidCsr(format!(
            "the request is {} bytes; the limit is {MAX_CSR_LEN}",
            der.len()
        )));
    }
    let (rest, csr) = X509CertificationRequest::from_der(&der).map_err(|error| {
        Error::InvalidCsr(format!("not a PKCS#10 certification request ({error})"))
    })?;
    if !rest.is_empty() {
        return Err(Error::InvalidCsr(format!(
            "{} bytes of trailing data after the request",
            rest.len()
        )));
    }
    let algorithm = &csr.signature_algorithm.algorithm;
    if *algorithm == OID_PKCS1_SHA1WITHRSA || *algorithm == OID_SHA1_WITH_RSA {
        return Err(Error::InvalidCsr(
            "the request is signed with SHA-1; sign it with SHA-256 or stronger".to_owned(),
        ));
    }
    let info = &csr.certification_request_info;
    // The key type comes first: ring cannot verify with a weak or unsupported key,
    // and a message about the key helps more than one about the signature.
    let key_type = key_type(&info.subject_pki)?;
    csr.verify_signature().map_err(|error| {
        Error::InvalidCsr(format!(
            "the signature does not verify with the request's own public key ({error}); the CSR was altered or is corrupt"
        ))
    })?;
    let names = requested_names(&csr)?;
    Ok(VerifiedCsr {
        public_key_der: info.subject_pki.raw.to_vec(),
        key_type,
        names,
    })
}

fn decode(input: &[u8]) -> Result<Vec<u8>, Error> {
    let trimmed = input.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN") {
        return Ok(input.to_vec());
    }
    let block =
        pem::parse(trimmed).map_err(|error| Error::InvalidCsr(format!("invalid PEM ({error})")))?;
    match block.tag() {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok(block.into_contents()),
        other => Err(Error::InvalidCsr(format!(
            "found a `{other}` PEM block where `CERTIFICATE REQUEST` was expected"
        ))),
    }
}

fn key_type(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<CsrKeyType, Error> {
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok());
        return match curve {
            Some(curve) if curve == OID_EC_P256 => Ok(CsrKeyType::EcdsaP256),
            Some(curve) if curve == OID_NIST_EC_P384 => Ok(CsrKeyType::EcdsaP384),
            _ => Err(Error::InvalidCsr(
                "the EC key is not on P-256 or P-384, the curves IronRoot accepts".to_owned(),
            )),
        };
    }
    if *algorithm == OID_SIG_ED25519 {
        return Ok(CsrKeyType::Ed25519);
    }
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(PublicKey::RSA(key)) => key.key_size(),
            _ => {
                return Err(Error::InvalidCsr(
                    "the RSA public key does not parse".to_owned(),
                ));
            }
        };
        if bits < MIN_RSA_BITS {
            return Err(Error::InvalidCsr(format!(
                "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
            )));
        }
        return Ok(CsrKeyType::Rsa(bits));
    }
    Err(Error::InvalidCsr(format!(
        "unsupported key algorithm {algorithm}; use ECDSA P-256, P-384, Ed25519 or RSA"
    )))
}

fn requested_names(csr: &X509CertificationRequest<'_>) -> Result<Vec<SubjectName>, Error> {
    let extension_requests = csr
        .certification_request_info
        .iter_attributes()
        .filter(|attribute| {
            matches!(
                attribute.parsed_attribute(),
                ParsedCriAttribute::ExtensionRequest(_)
            )
        })
        .count();
    if extension_requests > 1 {
        return Err(Error::InvalidCsr(format!(
            "the request has {extension_requests} extensionRequest attributes; a CSR carries at most one"
        )));
    }
    let mut names = Vec::new();
    let mut has_san_extension = false;
    for extension in csr.requested_extensions().into_iter().flatten() {
        match extension {
            ParsedExtension::SubjectAlternativeName(san) => {
                has_san_extension = true;
                for general_name in &san.general_names {
                    names.push(san_to_name(general_name)?);
                }
            }
            ParsedExtension::BasicConstraints(constraints) if constraints.ca => {
                return Err(Error::InvalidCsr(
                    "the request asks for CA:true; IronRoot issues end-entity certificates only, so remove basicConstraints from the CSR"
                        .to_owned(),
                ));
            }
            ParsedExtension::ParseError { error } => {
                return Err(Error::InvalidCsr(format!(
                    "a requested extension does not parse ({error})"
                )));
            }
            // Key usages, key identifiers and every other requested extension are
            // ignored: the issuing profile decides them.
            _ => {}
        }
    }
    if !has_san_extension {
        let common_name = csr
            .certification_request_info
            .subject
            .iter_common_name()
            .next()
            .and_then(|attribute| attribute.as_str().ok());
        if let Some(common_name) = common_name {
            names.push(SubjectName::parse(common_name)?);
        }
    }
    if names.is_empty() {
        return Err(Error::InvalidCsr(
            "the request names no DNS name or IP address; add them as subjectAltName".to_owned(),
        ));
    }
    if names.len() > MAX_NAMES {
        return Err(Error::InvalidCsr(format!(
            "the request names {} subject alternative names; the limit is {MAX_NAMES}",
            names.len()
        )));
    }
    names.sort();
    names.dedup();
    Ok(names)
}

fn san_to_name(general_name: &GeneralName<'_>) -> Result<SubjectName, Error> {
    match general_name {
        GeneralName::DNSName(name) => SubjectName::parse_dns(name),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => {
                let octets: [u8; 4] = (*bytes).try_into().map_err(|_| bad_ip())?;
                Ok(SubjectName::Ip(std::net::IpAddr::from(octets)))
            }
            16 => {
                let octets: [u8; 16] = (*bytes).try_into().map_err(|_| bad_ip())?;
                Ok(SubjectName::Ip(std::net::IpAddr::from(octets)))
            }
            _ => Err(bad_ip()),
        },
        // The issuing profile decides whether URI and email SANs are allowed.
        GeneralName::URI(uri) => SubjectName::parse_uri(uri),
        GeneralName::RFC822Name(email) => SubjectName::parse_email(email),
        other => Err(Error::InvalidCsr(format!(
            "the request asks for a subject alternative name of an unsupported type ({other}); only DNS names, IP addresses, URIs and email addresses can be requested"
        ))),
    }
}

fn bad_ip() -> Error {
    Error::InvalidCsr("an IP address SAN is neither 4 nor 16 bytes long".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyAlgorithm, PrivateKey};

    fn csr_for(names: &[&str], ca: bool) -> Vec<u8> {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        params
            .serialize_request(key.signer())
            .unwrap()
            .der()
            .to_vec()
    }

    #[test]
    fn csr_names_are_extracted_and_sorted() {
        let csr =
            parse_and_verify(&csr_for(&["b.example", "a.example", "10.0.0.1"], false)).unwrap();
        let names: Vec<String> = csr.names.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["a.example", "b.example", "10.0.0.1"]);
        assert_eq!(csr.key_type, CsrKeyType::EcdsaP256);
    }

    #[test]
    fn csr_with_bad_signature_is_rejected() {
        let mut der = csr_for(&["a.example"], false);
        let last = der.len() - 1;
        der[last] ^= 0x01;
        let error = parse_and_verify(&der).unwrap_err().to_string();
        assert!(error.contains("signature"), "{error}");
    }

    #[test]
    fn csr_asking_for_ca_is_rejected() {
        let error = parse_and_verify(&csr_for(&["a.example"], true))
            .unwrap_err()
            .to_string();
        assert!(error.contains("CA:true"), "{error}");
    }

    #[test]
    fn csr_with_two_extension_requests_is_rejected() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.example".to_owned()]).unwrap();
        // SET { Extensions { Extension { subjectAltName, OCTET STRING { dNSName "evil.example" } } } }
        let mut values = vec![
            0x31, 0x1b, 0x30, 0x19, 0x30, 0x17, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x10, 0x30,
            0x0e, 0x82, 0x0c,
        ];
        values.extend_from_slice(b"evil.example");
        let second = rcgen::Attribute {
            oid: &[1, 2, 840, 113549, 1, 9, 14],
            values,
        };
        let der = params
            .serialize_request_with_attributes(key.signer(), vec![second])
            .unwrap()
            .der()
            .to_vec();
        let error = parse_and_verify(&der).unwrap_err().to_string();
        assert!(error.contains("extensionRequest"), "{error}");
    }

    #[test]
    fn invalid_name_error_escapes_control_characters() {
        let error = SubjectName::parse("x\nforged line")
            .unwrap_err()
            .to_string();
        assert!(!error.contains('\n'), "{error}");
        assert!(error.contains("\\n"), "{error}");
    }

    #[test]
    fn garbage_is_rejected() {
        let error = parse_and_verify(b"hello").unwrap_err().to_string();
        assert!(error.contains("PKCS#10"), "{error}");
        let error =
            parse_and_verify(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .unwrap_err()
                .to_string();
        assert!(error.contains("CERTIFICATE REQUEST"), "{error}");
    }
}
