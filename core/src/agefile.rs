//! age encryption helpers with error messages that tell the reader which of the
//! usual causes applies: wrong key, wrong passphrase, damage or truncation.

use std::io::{Read, Write};
use std::iter;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::secrecy::SecretString;
use age::{DecryptError, Decryptor, Encryptor, Identity, Recipient};
use zeroize::Zeroizing;

/// Failures of age encryption and decryption.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgeError {
    #[error("{what} is not addressed to this identity; it was encrypted for another recipient")]
    NotForThisIdentity { what: String },
    #[error("the passphrase is wrong for {what}")]
    WrongPassphrase { what: String },
    #[error("{what} is passphrase-protected, not addressed to an age recipient")]
    PassphraseExpected { what: String },
    #[error("{what} is not passphrase-protected; it is addressed to age recipients")]
    RecipientExpected { what: String },
    #[error(
        "{what} needs more scrypt work (2^{required}) than this machine accepts (2^{accepted}); decrypt it on a machine at least as fast as the one that encrypted it"
    )]
    ExcessiveWork {
        what: String,
        required: u8,
        accepted: u8,
    },
    #[error("{what} is damaged or was altered: {reason}")]
    Corrupted { what: String, reason: String },
    #[error("{what} is truncated: it ends before the encrypted payload is complete")]
    Truncated { what: String },
    #[error("{what} is not an age file: {reason}")]
    NotAge { what: String, reason: String },
    #[error("invalid age recipient `{value}`: {reason}")]
    InvalidRecipient { value: String, reason: String },
    #[error("invalid age identity in {what}: expected one `AGE-SECRET-KEY-1...` line")]
    InvalidIdentity { what: String },
    #[error("age encryption failed: {0}")]
    Encrypt(String),
}

/// Parses an X25519 recipient (`age1...`).
pub fn parse_recipient(value: &str) -> Result<age::x25519::Recipient, AgeError> {
    value
        .trim()
        .parse::<age::x25519::Recipient>()
        .map_err(|reason| AgeError::InvalidRecipient {
            value: value.trim().to_owned(),
            reason: reason.to_string(),
        })
}

/// Parses an X25519 identity file: comment lines starting with `#` and exactly one
/// `AGE-SECRET-KEY-1...` line.
pub fn parse_identity(text: &str, what: &str) -> Result<age::x25519::Identity, AgeError> {
    let invalid = || AgeError::InvalidIdentity {
        what: what.to_owned(),
    };
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    let key = keys.next().ok_or_else(invalid)?;
    if keys.next().is_some() {
        return Err(invalid());
    }
    key.parse::<age::x25519::Identity>().map_err(|_| invalid())
}

/// Encrypts `plaintext` to every recipient, ASCII-armored.
pub fn encrypt_to_recipients(
    plaintext: &[u8],
    recipients: &[&dyn Recipient],
) -> Result<Vec<u8>, AgeError> {
    let encryptor = Encryptor::with_recipients(recipients.iter().copied())
        .map_err(|error| AgeError::Encrypt(error.to_string()))?;
    armor(encryptor, plaintext)
}

/// Encrypts `plaintext` with a passphrase (scrypt), ASCII-armored.
pub fn encrypt_with_passphrase(
    plaintext: &[u8],
    passphrase: SecretString,
) -> Result<Vec<u8>, AgeError> {
    armor(Encryptor::with_user_passphrase(passphrase), plaintext)
}

fn armor(encryptor: Encryptor, plaintext: &[u8]) -> Result<Vec<u8>, AgeError> {
    let encrypt_error = |error: std::io::Error| AgeError::Encrypt(error.to_string());
    let mut output = Vec::with_capacity(plaintext.len() * 2 + 512);
    let armored =
        ArmoredWriter::wrap_output(&mut output, Format::AsciiArmor).map_err(encrypt_error)?;
    let mut writer = encryptor.wrap_output(armored).map_err(encrypt_error)?;
    writer.write_all(plaintext).map_err(encrypt_error)?;
    writer
        .finish()
        .and_then(|armored| armored.finish())
        .map_err(encrypt_error)?;
    Ok(output)
}

/// Decrypts an armored or binary age file with an X25519 identity.
pub fn decrypt_with_identity(
    ciphertext: &[u8],
    identity: &dyn Identity,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, AgeError> {
    let decryptor = open(ciphertext, what)?;
    if decryptor.is_scrypt() {
        return Err(AgeError::PassphraseExpected {
            what: what.to_owned(),
        });
    }
    let reader = decryptor
        .decrypt(iter::once(identity))
        .map_err(|error| classify(error, what))?;
    read_all(reader, what)
}

/// Decrypts an armored or binary age file with a passphrase.
pub fn decrypt_with_passphrase(
    ciphertext: &[u8],
    passphrase: SecretString,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, AgeError> {
    let decryptor = open(ciphertext, what)?;
    if !decryptor.is_scrypt() {
        return Err(AgeError::RecipientExpected {
            what: what.to_owned(),
        });
    }
    let identity = age::scrypt::Identity::new(passphrase);
    let reader = decryptor
        .decrypt(iter::once(&identity as &dyn Identity))
        .map_err(|error| match error {
            DecryptError::DecryptionFailed
            | DecryptError::KeyDecryptionFailed
            | DecryptError::NoMatchingKeys => AgeError::WrongPassphrase {
                what: what.to_owned(),
            },
            other => classify(other, what),
        })?;
    read_all(reader, what)
}

fn open<'a>(
    ciphertext: &'a [u8],
    what: &str,
) -> Result<Decryptor<ArmoredReader<std::io::BufReader<&'a [u8]>>>, AgeError> {
    Decryptor::new_buffered(ArmoredReader::new(ciphertext)).map_err(|error| match error {
        DecryptError::InvalidHeader | DecryptError::UnknownFormat => AgeError::NotAge {
            what: what.to_owned(),
            reason: "the age header is missing or invalid".to_owned(),
        },
        DecryptError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AgeError::Truncated {
                what: what.to_owned(),
            }
        }
        other => classify(other, what),
    })
}

fn read_all(mut reader: impl Read, what: &str) -> Result<Zeroizing<Vec<u8>>, AgeError> {
    let mut plaintext = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plaintext)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::UnexpectedEof => AgeError::Truncated {
                what: what.to_owned(),
            },
            _ => AgeError::Corrupted {
                what: what.to_owned(),
                reason: format!("the encrypted payload failed authentication ({error})"),
            },
        })?;
    Ok(plaintext)
}

fn classify(error: DecryptError, what: &str) -> AgeError {
    let what = what.to_owned();
    match error {
        DecryptError::NoMatchingKeys => AgeError::NotForThisIdentity { what },
        DecryptError::ExcessiveWork { required, target } => AgeError::ExcessiveWork {
            what,
            required,
            // age accepts up to 4 more than its target work factor (about 16 times the work).
            accepted: target.saturating_add(4),
        },
        DecryptError::InvalidMac => AgeError::Corrupted {
            what,
            reason: "the header MAC does not match".to_owned(),
        },
        DecryptError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AgeError::Truncated { what }
        }
        other => AgeError::Corrupted {
            what,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_round_trip_and_wrong_identity() {
        let identity = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        let sealed = encrypt_to_recipients(b"payload", &[&recipient]).unwrap();
        let opened = decrypt_with_identity(&sealed, &identity, "test file").unwrap();
        assert_eq!(opened.as_slice(), b"payload");
        let error = decrypt_with_identity(&sealed, &other, "test file").unwrap_err();
        assert!(
            matches!(error, AgeError::NotForThisIdentity { .. }),
            "{error}"
        );
    }

    #[test]
    fn truncated_and_altered_files_are_detected() {
        let identity = age::x25519::Identity::generate();
        let sealed = encrypt_to_recipients(&[7u8; 4096], &[&identity.to_public()]).unwrap();
        let truncated = &sealed[..sealed.len() / 2];
        assert!(decrypt_with_identity(truncated, &identity, "test file").is_err());
        let mut altered = sealed.clone();
        let middle = altered.len() - 200;
        altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
        assert!(decrypt_with_identity(&altered, &identity, "test file").is_err());
    }
}
