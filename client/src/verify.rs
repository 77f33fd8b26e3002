//! Local verification of an issued certificate before it is written to disk.

use ironroot_core::api::SignResponse;
use ironroot_core::cert::CertificateInfo;
use ironroot_core::names::SubjectName;
use ironroot_core::pemfile;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::Error;

/// A certificate that passed [`verify_issued`].
#[derive(Clone, Debug)]
pub struct IssuedCertificate {
    /// The end-entity certificate.
    pub leaf: CertificateInfo,
    /// DER of the intermediates, in the order the server sent them.
    pub intermediates: Vec<Vec<u8>>,
}

/// Checks a sign response against what was requested: the root in the
/// response is `root_der`, the leaf chains to it through the returned
/// intermediates for serverAuth at `now` (rustls-webpki), carries
/// `public_key_der`, names every requested name and has the reported serial.
pub fn verify_issued(
    response: &SignResponse,
    root_der: &[u8],
    public_key_der: &[u8],
    names: &[SubjectName],
    now: UnixTime,
) -> Result<IssuedCertificate, Error> {
    let invalid = |reason: String| Error::IssuedCertificateInvalid(reason);
    let leaf_der = pemfile::parse_single(
        response.certificate.as_bytes(),
        pemfile::CERTIFICATE,
        "issued certificate",
    )?;
    let intermediates = parse_chain(&response.chain)?;
    let returned_root = pemfile::parse_single(
        response.root.as_bytes(),
        pemfile::CERTIFICATE,
        "returned root",
    )?;
    if returned_root != root_der {
        return Err(invalid(
            "the response names a different root than the one whose fingerprint was checked"
                .to_owned(),
        ));
    }
    verify_path(&leaf_der, &intermediates, root_der, now).map_err(invalid)?;

    let leaf = CertificateInfo::parse(&leaf_der, "issued certificate")?;
    if leaf.public_key_der != public_key_der {
        return Err(invalid(
            "the certificate is for a different public key than the one in the CSR".to_owned(),
        ));
    }
    if let Some(missing) = names.iter().find(|name| !leaf.names.contains(name)) {
        return Err(invalid(format!(
            "the certificate does not name `{missing}`, which the CSR requested"
        )));
    }
    if !leaf
        .serial_hex()
        .eq_ignore_ascii_case(response.serial.trim())
    {
        return Err(invalid(format!(
            "the certificate's serial {} differs from the serial {} in the response",
            leaf.serial_hex(),
            crate::client_error::sanitize(&response.serial, 64)
        )));
    }
    Ok(IssuedCertificate {
        leaf,
        intermediates,
    })
}

fn parse_chain(chain_pem: &str) -> Result<Vec<Vec<u8>>, Error> {
    if chain_pem.trim().is_empty() {
        return Ok(Vec::new());
    }
    Ok(pemfile::parse_all(
        chain_pem.as_bytes(),
        pemfile::CERTIFICATE,
        "returned chain",
    )?)
}

fn verify_path(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    root_der: &[u8],
    now: UnixTime,
) -> Result<(), String> {
    let root = CertificateDer::from(root_der);
    let anchor = webpki::anchor_from_trusted_cert(&root)
        .map_err(|error| format!("the root is not a usable trust anchor ({error})"))?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let leaf = CertificateDer::from(leaf_der);
    let end_entity = webpki::EndEntityCert::try_from(&leaf)
        .map_err(|error| format!("the certificate does not parse ({error})"))?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|error| format!("the chain to the root does not verify ({error})"))
}
