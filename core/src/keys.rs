//! Key algorithms, key generation and private-key loading.
//!
//! Private keys live in [`PrivateKey`], which wipes its PKCS#8 bytes on drop and
//! prints a placeholder instead of key material when debugged.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm};
use zeroize::Zeroizing;

use crate::{Error, Fingerprint};

/// Key algorithms that IronRoot generates and signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// RSA with a 3072-bit modulus, signing with PKCS#1 v1.5 and SHA-256.
    Rsa3072,
    /// RSA with a 4096-bit modulus, signing with PKCS#1 v1.5 and SHA-256.
    Rsa4096,
}

impl KeyAlgorithm {
    /// All algorithms, in the order they are listed in help and error messages.
    pub const ALL: [KeyAlgorithm; 5] = [
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::Ed25519,
        Self::Rsa3072,
        Self::Rsa4096,
    ];

    /// Returns the name used on command lines, in manifests and in the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::Ed25519 => "ed25519",
            Self::Rsa3072 => "rsa-3072",
            Self::Rsa4096 => "rsa-4096",
        }
    }

    /// Returns rcgen's signature algorithm for this key type.
    pub fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Self::Ed25519 => &rcgen::PKCS_ED25519,
            Self::Rsa3072 | Self::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        }
    }

    /// Returns the RSA modulus size in bits, or `None` for elliptic-curve keys.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            Self::EcdsaP256 | Self::EcdsaP384 | Self::Ed25519 => None,
        }
    }

    /// Identifies the algorithm of a DER SubjectPublicKeyInfo and checks that
    /// it is allowed for a CA key: ECDSA P-256 or P-384, Ed25519, or RSA with a
    /// 3072- or 4096-bit modulus. `what` names the key in errors.
    pub fn ca_allowed(public_key_der: &[u8], what: &str) -> Result<Self, Error> {
        use x509_parser::prelude::FromDer;
        use x509_parser::public_key::PublicKey;

        let invalid = |reason: String| Error::InvalidKey {
            what: what.to_owned(),
            reason,
        };
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(public_key_der)
            .map_err(|error| invalid(format!("not a DER SubjectPublicKeyInfo ({error})")))?;
        let oid = spki.algorithm.algorithm.to_id_string();
        let parsed = spki
            .parsed()
            .map_err(|error| invalid(format!("the public key does not parse ({error})")))?;
        let allowed = "CA keys must be ECDSA P-256, ECDSA P-384, Ed25519, RSA 3072 or RSA 4096";
        match parsed {
            PublicKey::RSA(rsa) => match rsa.key_size() {
                3072 => Ok(Self::Rsa3072),
                4096 => Ok(Self::Rsa4096),
                bits => Err(invalid(format!(
                    "RSA key with a {bits}-bit modulus; {allowed}"
                ))),
            },
            PublicKey::EC(_) => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|parameters| parameters.as_oid().ok())
                    .map(|oid| oid.to_id_string())
                    .unwrap_or_default();
                match curve.as_str() {
                    OID_P256 => Ok(Self::EcdsaP256),
                    OID_P384 => Ok(Self::EcdsaP384),
                    _ => Err(invalid(format!(
                        "elliptic-curve key on curve `{curve}`; {allowed}"
                    ))),
                }
            }
            _ if oid == OID_ED25519 => Ok(Self::Ed25519),
            _ => Err(invalid(format!("public key algorithm `{oid}`; {allowed}"))),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|candidate| candidate.name() == value)
            .ok_or_else(|| {
                let allowed: Vec<&str> = Self::ALL.iter().map(|a| a.name()).collect();
                format!(
                    "unknown key algorithm `{value}`; expected one of: {}",
                    allowed.join(", ")
                )
            })
    }
}

const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";

/// A private key that can sign certificates. The PKCS#8 bytes are wiped on drop.
pub struct PrivateKey {
    key: Zeroizing<KeyPair>,
    algorithm: KeyAlgorithm,
}

impl PrivateKey {
    /// Generates a new key with the system random number generator.
    /// RSA keys come from the `rsa` crate, because ring cannot generate them,
    /// and are signed with by ring. A 4096-bit key takes about a second.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, Error> {
        let key = match algorithm.rsa_bits() {
            Some(bits) => {
                let pkcs8 = generate_rsa_pkcs8(bits)?;
                KeyPair::from_pkcs8_der_and_sign_algo(
                    &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
                    &rcgen::PKCS_RSA_SHA256,
                )?
            }
            None => KeyPair::generate_for(algorithm.signature_algorithm())?,
        };
        Ok(Self {
            key: Zeroizing::new(key),
            algorithm,
        })
    }

    /// Loads a PKCS#8 private key from DER. `what` names the source in errors.
    /// Accepted: ECDSA P-256, ECDSA P-384, Ed25519 and RSA 3072 or 4096.
    pub fn from_pkcs8_der(der: &[u8], what: &str) -> Result<Self, Error> {
        let not_pkcs8 = || Error::InvalidKey {
            what: what.to_owned(),
            reason: "not an unencrypted PKCS#8 ECDSA P-256, ECDSA P-384, Ed25519 or RSA key"
                .to_owned(),
        };
        // rcgen (ring) loads RSA keys only when told the signature algorithm.
        let key = KeyPair::try_from(der)
            .or_else(|_| {
                KeyPair::from_pkcs8_der_and_sign_algo(
                    &rustls_pki_types::PrivatePkcs8KeyDer::from(der),
                    &rcgen::PKCS_RSA_SHA256,
                )
            })
            .map_err(|_| not_pkcs8())?;
        let algorithm = KeyAlgorithm::ca_allowed(&key.subject_public_key_info(), what)?;
        Ok(Self {
            key: Zeroizing::new(key),
            algorithm,
        })
    }

    /// Loads a PKCS#8 private key from a `PRIVATE KEY` PEM block.
    pub fn from_pkcs8_pem(pem_text: &str, what: &str) -> Result<Self, Error> {
        let block = Zeroizing::new(crate::pemfile::parse_single(
            pem_text.as_bytes(),
            "PRIVATE KEY",
            what,
        )?);
        Self::from_pkcs8_der(&block, what)
    }

    /// Returns the algorithm of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Returns the DER SubjectPublicKeyInfo of this key.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }

    /// Returns the SHA-256 fingerprint of the SubjectPublicKeyInfo.
    pub fn public_key_fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.public_key_der())
    }

    /// Returns the PKCS#8 DER encoding. The caller must keep it in a wiping buffer.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.key.serialize_der())
    }

    /// Returns the PKCS#8 `PRIVATE KEY` PEM encoding in a wiping buffer.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.key.serialize_pem())
    }

    /// Returns the key as rcgen's signer.
    pub fn signer(&self) -> &KeyPair {
        &self.key
    }
}

/// Generates an RSA key of `bits` with the `rsa` crate and returns it as
/// PKCS#8 DER in a wiping buffer.
fn generate_rsa_pkcs8(bits: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
    use rsa::pkcs8::EncodePrivateKey;

    let key = rsa::PrivateKey::new(&mut rand::rng(), bits).map_err(|_| Error::Random)?;
    let document = key.to_pkcs8_der().map_err(|error| Error::InvalidKey {
        what: format!("generated RSA {bits} key"),
        reason: format!("PKCS#8 encoding failed ({error})"),
    })?;
    Ok(Zeroizing::new(document.as_bytes().to_vec()))
}

impl PublicKeyData for PrivateKey {
    fn der_bytes(&self) -> &[u8] {
        self.key.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.key.algorithm()
    }
}

impl rcgen::SigningKey for PrivateKey {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key.sign(message)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.algorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_through_pkcs8_pem() {
        for algorithm in KeyAlgorithm::ALL {
            let key = PrivateKey::generate(algorithm).unwrap();
            let loaded = PrivateKey::from_pkcs8_pem(&key.to_pkcs8_pem(), "test key").unwrap();
            assert_eq!(loaded.algorithm(), algorithm);
            assert_eq!(loaded.public_key_der(), key.public_key_der());
        }
    }

    #[test]
    fn key_debug_hides_material() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey(ecdsa-p256, [redacted])");
    }

    #[test]
    fn key_algorithm_parse_lists_choices() {
        let error = "rsa-1024".parse::<KeyAlgorithm>().unwrap_err();
        assert!(
            error.contains("ecdsa-p256, ecdsa-p384, ed25519, rsa-3072, rsa-4096"),
            "{error}"
        );
    }

    #[test]
    fn rsa_key_round_trips_through_pkcs8_der() {
        for algorithm in [KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096] {
            let key = PrivateKey::generate(algorithm).unwrap();
            let loaded = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der(), "test key").unwrap();
            assert_eq!(loaded.algorithm(), algorithm);
            assert_eq!(loaded.public_key_der(), key.public_key_der());
            assert_eq!(
                KeyAlgorithm::ca_allowed(&key.public_key_der(), "test key").unwrap(),
                algorithm
            );
        }
    }

    #[test]
    fn rsa_2048_key_is_rejected_for_ca() {
        let pkcs8 = generate_rsa_pkcs8(2048).unwrap();
        let error = PrivateKey::from_pkcs8_der(&pkcs8, "small key").unwrap_err();
        assert!(error.to_string().contains("2048-bit modulus"), "{error}");
    }

    #[test]
    fn secp256k1_key_is_rejected_for_ca() {
        // Only the curve OID of the SubjectPublicKeyInfo matters here.
        let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut spki = p256.subject_public_key_info();
        // Swap the P-256 curve OID (1.2.840.10045.3.1.7) for secp256k1
        // (1.3.132.0.10), which has a different length, by rewriting the DER.
        let p256_oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let position = spki
            .windows(p256_oid.len())
            .position(|window| window == p256_oid)
            .unwrap();
        let k1_oid = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
        spki.splice(position..position + p256_oid.len(), k1_oid);
        // Outer SEQUENCE and AlgorithmIdentifier lengths shrink by 3.
        spki[1] -= 3;
        spki[3] -= 3;
        let error = KeyAlgorithm::ca_allowed(&spki, "k1 key").unwrap_err();
        assert!(error.to_string().contains("1.3.132.0.10"), "{error}");
    }
}
