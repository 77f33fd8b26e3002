//! Custody by custodians' age recipients: any one custodian's identity decrypts.

use age::x25519::{Identity, Recipient};
use ironroot_core::agefile::{self, AgeError};
use zeroize::Zeroizing;

use super::CustodyError;

/// Names the root key in age error messages.
const ROOT_KEY: &str = "the root key";

/// Encrypts the root key's PKCS#8 PEM to every recipient.
pub(super) fn seal(pem: &[u8], recipients: &[Recipient]) -> Result<Vec<u8>, CustodyError> {
    if recipients.is_empty() {
        return Err(CustodyError::NoRecipients);
    }
    let recipients: Vec<&dyn age::Recipient> = recipients
        .iter()
        .map(|recipient| recipient as &dyn age::Recipient)
        .collect();
    agefile::encrypt_to_recipients(pem, &recipients).map_err(|source| CustodyError::Encrypt {
        what: ROOT_KEY.to_owned(),
        source,
    })
}

/// Decrypts the root key sealed by [`seal`] with the first identity among
/// `identities` that it is addressed to.
pub(super) fn unlock(
    encrypted_key: &[u8],
    identities: &[Identity],
) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
    let mut last_error = AgeError::NotForThisIdentity {
        what: format!("{ROOT_KEY} (no identity was given)"),
    };
    for identity in identities {
        match agefile::decrypt_with_identity(encrypted_key, identity, ROOT_KEY) {
            Ok(pem) => return Ok(pem),
            // Another identity may match; any other failure is final.
            Err(error @ AgeError::NotForThisIdentity { .. }) => last_error = error,
            Err(error) => return Err(CustodyError::KeyUnreadable(error)),
        }
    }
    Err(CustodyError::KeyUnreadable(last_error))
}
