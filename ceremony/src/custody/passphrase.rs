//! Custody by one passphrase: age scrypt encryption of the root key.

use ironroot_core::agefile;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{CustodyError, MIN_PASSPHRASE_CHARS};

/// Names the root key in age error messages.
const ROOT_KEY: &str = "the root key";

/// Encrypts `plaintext` with `passphrase`, which needs at least
/// [`MIN_PASSPHRASE_CHARS`] characters. `what` names the protected item in errors.
pub(super) fn encrypt(
    plaintext: &[u8],
    passphrase: &SecretString,
    what: &str,
) -> Result<Vec<u8>, CustodyError> {
    let length = passphrase.expose_secret().chars().count();
    if length < MIN_PASSPHRASE_CHARS {
        return Err(CustodyError::PassphraseTooShort {
            what: what.to_owned(),
            length,
        });
    }
    agefile::encrypt_with_passphrase(plaintext, passphrase.clone()).map_err(|source| {
        CustodyError::Encrypt {
            what: what.to_owned(),
            source,
        }
    })
}

/// Encrypts the root key's PKCS#8 PEM with `passphrase`.
pub(super) fn seal(pem: &[u8], passphrase: &SecretString) -> Result<Vec<u8>, CustodyError> {
    encrypt(pem, passphrase, ROOT_KEY)
}

/// Decrypts the root key sealed by [`seal`].
pub(super) fn unlock(
    encrypted_key: &[u8],
    passphrase: &SecretString,
) -> Result<Zeroizing<Vec<u8>>, CustodyError> {
    agefile::decrypt_with_passphrase(encrypted_key, passphrase.clone(), ROOT_KEY)
        .map_err(CustodyError::KeyUnreadable)
}
