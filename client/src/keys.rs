//! Workload keys and certificate signing requests.

use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::names::SubjectName;
use rcgen::{CertificateParams, DistinguishedName, DnType};

use crate::Error;

/// Generates a new ECDSA P-256 key with the system random number generator.
pub fn generate_key() -> Result<PrivateKey, Error> {
    Ok(PrivateKey::generate(KeyAlgorithm::EcdsaP256)?)
}

/// Builds a PEM CSR signed by `key` that requests `names` as SANs. The subject
/// holds only a common name, the first name; the issuer decides every extension.
pub fn build_csr(key: &PrivateKey, names: &[SubjectName]) -> Result<String, Error> {
    let first = names.first().ok_or_else(|| {
        ironroot_core::Error::InvalidCsr("a CSR needs at least one DNS name or IP address".into())
    })?;
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, first.to_string());
    params.distinguished_name = subject;
    params.subject_alt_names = names
        .iter()
        .map(SubjectName::to_san)
        .collect::<Result<_, _>>()?;
    let csr = params
        .serialize_request(key)
        .map_err(ironroot_core::Error::from)?;
    Ok(csr.pem().map_err(ironroot_core::Error::from)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn csr_verifies_and_carries_names() {
        let key = generate_key().unwrap();
        let names = vec![
            SubjectName::parse("api.example").unwrap(),
            SubjectName::parse("10.0.0.7").unwrap(),
        ];
        let csr = build_csr(&key, &names).unwrap();
        let verified = ironroot_core::csr::parse_and_verify(csr.as_bytes()).unwrap();
        assert_eq!(verified.public_key_der, key.public_key_der());
        assert!(verified.names.contains(&names[0]));
        assert!(verified.names.contains(&names[1]));
    }

    #[test]
    fn csr_needs_a_name() {
        let key = generate_key().unwrap();
        assert!(build_csr(&key, &[]).is_err());
    }
}
