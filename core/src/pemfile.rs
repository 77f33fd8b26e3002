//! PEM encoding and decoding of certificates, keys and chains.

use crate::Error;

/// Label of an X.509 certificate PEM block.
pub const CERTIFICATE: &str = "CERTIFICATE";

/// Parses every PEM block with `label` in `text`. Other labels are an error,
/// so a key pasted into a certificate file is noticed. `what` names the input.
pub fn parse_all(text: &[u8], label: &str, what: &str) -> Result<Vec<Vec<u8>>, Error> {
    let blocks = pem::parse_many(text).map_err(|error| Error::InvalidPem {
        what: what.to_owned(),
        reason: error.to_string(),
    })?;
    if blocks.is_empty() {
        return Err(Error::InvalidPem {
            what: what.to_owned(),
            reason: format!("no `-----BEGIN {label}-----` block found"),
        });
    }
    blocks
        .into_iter()
        .map(|block| {
            if block.tag() == label {
                Ok(block.into_contents())
            } else {
                Err(Error::InvalidPem {
                    what: what.to_owned(),
                    reason: format!(
                        "found a `{}` block where `{label}` was expected",
                        block.tag()
                    ),
                })
            }
        })
        .collect()
}

/// Parses exactly one PEM block with `label`.
pub fn parse_single(text: &[u8], label: &str, what: &str) -> Result<Vec<u8>, Error> {
    let mut blocks = parse_all(text, label, what)?;
    if blocks.len() != 1 {
        return Err(Error::InvalidPem {
            what: what.to_owned(),
            reason: format!("expected one `{label}` block, found {}", blocks.len()),
        });
    }
    Ok(blocks.remove(0))
}

/// Encodes DER bytes as one PEM block with `label` and LF line endings.
pub fn encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der.to_vec()), config)
}

/// Encodes certificates as concatenated PEM blocks, in the order given.
pub fn encode_certificates<'a>(certificates: impl IntoIterator<Item = &'a [u8]>) -> String {
    certificates
        .into_iter()
        .map(|der| encode(CERTIFICATE, der))
        .collect()
}
