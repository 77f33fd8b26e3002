//! Root key custody: how the root key is encrypted at rest and who can unlock it.
//!
//! The root key never leaves this module unencrypted. [`seal`] encrypts its PKCS#8
//! PEM for one of three custody options, and [`unlock`] reverses it:
//!
//! - [`Custody::Passphrase`]: age scrypt encryption with one passphrase;
//! - [`Custody::Recipients`]: age X25519 encryption to several custodians, any
//!   one of whose identities decrypts;
//! - [`Custody::Shares`]: the key is encrypted to a fresh random age identity,
//!   and that identity (not the CA key) is split m-of-n with Shamir's scheme over
//!   GF(256). Each custodian receives one printable share, itself age-encrypted
//!   to that custodian's own recipient or passphrase.
//!
//! GF(256) Shamir shares carry no authentication of their own. Each share is
//! therefore wrapped in age (AEAD) and in an armor with a checksum, and a wrong
//! combination shows up when the recombined identity fails to decrypt the key.

mod armor;
mod error;
mod passphrase;
mod recipients;
mod shares;

use age::x25519::{Identity, Recipient};
use ironroot_core::Fingerprint;
use ironroot_core::cert::CertificateInfo;
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use secrecy::SecretString;

pub(crate) use error::CustodyError;

/// Minimum number of characters of a passphrase that protects the root key or a share.
pub(crate) const MIN_PASSPHRASE_CHARS: usize = crate::error::MIN_PASSPHRASE_CHARS;

/// Protection of the root key at rest.
pub(crate) enum Custody {
    /// One passphrase (age scrypt).
    Passphrase(SecretString),
    /// One or more custodians' age recipients; any one identity decrypts.
    Recipients(Vec<Recipient>),
    /// An m-of-n split: any `threshold` of the custodians' shares recover the key.
    Shares {
        threshold: u8,
        custodians: Vec<Custodian>,
    },
}

/// A custodian who keeps one share of an m-of-n split.
pub(crate) struct Custodian {
    /// Name printed in the share's armor header, such as "Alice Example".
    pub(crate) name: String,
    /// Encryption of the custodian's share.
    pub(crate) protection: ShareProtection,
}

/// Encryption of one share: to the custodian's own age recipient or passphrase.
pub(crate) enum ShareProtection {
    Recipient(Recipient),
    Passphrase(SecretString),
}

/// The result of [`seal`]: the encrypted root key and, for a split, one printable
/// share per custodian. Nothing here is secret without its decryption key.
#[derive(Debug)]
pub(crate) struct SealedKey {
    /// The age-encrypted (ASCII-armored) PKCS#8 PEM of the root key, for `root.key.age`.
    pub(crate) encrypted_key: Vec<u8>,
    /// One share per custodian, in the order of [`Custody::Shares`]; empty otherwise.
    pub(crate) shares: Vec<SealedShare>,
}

/// One custodian's share as printable armored text.
#[derive(Debug)]
pub(crate) struct SealedShare {
    /// The custodian's name, as given in [`Custodian::name`].
    pub(crate) custodian: String,
    /// Share index, 1 to n.
    pub(crate) index: u8,
    /// The armored share (`-----BEGIN IRONROOT ROOT KEY SHARE-----` ...).
    pub(crate) text: String,
}

/// Secrets that [`unlock`] decrypts the root key with.
pub(crate) enum UnlockInput {
    /// The passphrase of [`Custody::Passphrase`].
    Passphrase(SecretString),
    /// One or more custodian identities of [`Custody::Recipients`]; one that matches suffices.
    Identities(Vec<Identity>),
    /// At least `threshold` shares of [`Custody::Shares`], each with its custodian's secret.
    Shares(Vec<ShareInput>),
}

/// One share given to [`unlock`] or [`verify_shares`].
pub(crate) struct ShareInput {
    /// Names the share in messages, usually its file path.
    pub(crate) label: String,
    /// The armored share text.
    pub(crate) text: String,
    /// The custodian's identity or passphrase that decrypts this share.
    pub(crate) secret: ShareSecret,
}

/// The custodian's secret for one share.
pub(crate) enum ShareSecret {
    Identity(Identity),
    Passphrase(SecretString),
}

/// The armor fields of one share, read after its checksum was verified.
#[derive(Debug)]
pub(crate) struct ShareSummary {
    pub(crate) ceremony_id: String,
    pub(crate) index: u8,
    pub(crate) total: u8,
    pub(crate) threshold: u8,
    pub(crate) custodian: String,
    /// The custodian's `age1...` recipient, or `None` for a passphrase-protected share.
    pub(crate) recipient: Option<String>,
}

/// Reads a share's armor and verifies its checksum without decrypting it, so a
/// damaged share is named before any custodian's secret is asked for.
pub(crate) fn describe_share(text: &str, label: &str) -> Result<ShareSummary, CustodyError> {
    let armor = armor::ShareArmor::parse(text, label)?;
    let recipient = (armor.protection != shares::PROTECTION_PASSPHRASE).then_some(armor.protection);
    Ok(ShareSummary {
        ceremony_id: armor.ceremony,
        index: armor.index,
        total: armor.total,
        threshold: armor.threshold,
        custodian: armor.custodian,
        recipient,
    })
}

/// Facts established by a successful [`verify_shares`] drill.
#[derive(Debug)]
pub(crate) struct ShareDrill {
    /// Ceremony id carried by the shares.
    pub(crate) ceremony_id: String,
    /// m of the split.
    pub(crate) threshold: u8,
    /// n of the split.
    pub(crate) total: u8,
    /// Indices of the shares that were combined, ascending.
    pub(crate) indices: Vec<u8>,
    /// Algorithm of the recovered root key.
    pub(crate) algorithm: KeyAlgorithm,
    /// SHA-256 of the recovered key's SubjectPublicKeyInfo, equal to the root certificate's.
    pub(crate) public_key_fingerprint: Fingerprint,
}

/// Encrypts `key` for `custody`. `ceremony_id` (1 to 64 characters of
/// `A-Z a-z 0-9 . _ -`) is written into every share so shares of different
/// ceremonies are never combined. Writes nothing: the caller stores
/// [`SealedKey::encrypted_key`] and hands out [`SealedKey::shares`].
pub(crate) fn seal(
    key: &PrivateKey,
    custody: &Custody,
    ceremony_id: &str,
) -> Result<SealedKey, CustodyError> {
    let pem = key.to_pkcs8_pem();
    match custody {
        Custody::Passphrase(passphrase) => Ok(SealedKey {
            encrypted_key: passphrase::seal(pem.as_bytes(), passphrase)?,
            shares: Vec::new(),
        }),
        Custody::Recipients(recipients) => Ok(SealedKey {
            encrypted_key: recipients::seal(pem.as_bytes(), recipients)?,
            shares: Vec::new(),
        }),
        Custody::Shares {
            threshold,
            custodians,
        } => shares::seal(pem.as_bytes(), *threshold, custodians, ceremony_id),
    }
}

/// Decrypts the root key sealed by [`seal`]. Errors name the input at fault: the
/// share file, its index, and whether the checksum, the custodian's secret or the
/// combination failed.
pub(crate) fn unlock(
    encrypted_key: &[u8],
    input: &UnlockInput,
) -> Result<PrivateKey, CustodyError> {
    let pem = match input {
        UnlockInput::Passphrase(passphrase) => passphrase::unlock(encrypted_key, passphrase)?,
        UnlockInput::Identities(identities) => recipients::unlock(encrypted_key, identities)?,
        UnlockInput::Shares(inputs) => shares::unlock(encrypted_key, inputs)?.pem,
    };
    parse_key(&pem)
}

/// Runs a recovery drill: combines `inputs`, decrypts `encrypted_key` in memory,
/// checks that the key belongs to `root_cert`, and drops (wipes) the key.
pub(crate) fn verify_shares(
    encrypted_key: &[u8],
    inputs: &[ShareInput],
    root_cert: &CertificateInfo,
) -> Result<ShareDrill, CustodyError> {
    let recovered = shares::unlock(encrypted_key, inputs)?;
    let key = parse_key(&recovered.pem)?;
    let public_key_fingerprint = key.public_key_fingerprint();
    let certificate_key = Fingerprint::of(&root_cert.public_key_der);
    if public_key_fingerprint != certificate_key {
        return Err(CustodyError::KeyNotForCertificate {
            subject: root_cert.subject.clone(),
            key: public_key_fingerprint.to_hex(),
            certificate: certificate_key.to_hex(),
        });
    }
    Ok(ShareDrill {
        ceremony_id: recovered.ceremony_id,
        threshold: recovered.threshold,
        total: recovered.total,
        indices: recovered.indices,
        algorithm: key.algorithm(),
        public_key_fingerprint,
    })
}

fn parse_key(pem: &[u8]) -> Result<PrivateKey, CustodyError> {
    let text = std::str::from_utf8(pem).map_err(|_| CustodyError::DecryptedKeyInvalid {
        reason: "the decrypted root key is not PEM text".to_owned(),
    })?;
    PrivateKey::from_pkcs8_pem(text, "the decrypted root key").map_err(|error| {
        CustodyError::DecryptedKeyInvalid {
            reason: error.to_string(),
        }
    })
}

#[cfg(test)]
mod tests;
