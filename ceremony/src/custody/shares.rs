//! Custody by an m-of-n split: the root key is encrypted to a fresh random age
//! identity, and that identity's Bech32 text (`AGE-SECRET-KEY-1...`) is split with
//! Shamir's scheme over GF(256) (vsss-rs). Any m shares give back the identity.
//! Fewer than m give no information about it: for every candidate identity,
//! exactly one polynomial of degree m-1 fits the given shares.
//!
//! Each share travels inside age encryption to its custodian, as a payload that
//! repeats the armor's fields and records the split identity's public recipient:
//!
//! ```text
//! IRONROOT ROOT KEY SHARE PAYLOAD 1
//! Ceremony: root-2026
//! Share: 2 of 5
//! Threshold: 3
//! Split-Recipient: age1...
//! Secret: <base64 of the vsss-rs share: 1-byte index, then the share bytes>
//! ```

use std::collections::BTreeMap;
use std::io::Read;

use age::armor::ArmoredReader;
use age::x25519::Identity;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ironroot_core::agefile::{self, AgeError};
use secrecy::ExposeSecret;
use vsss_rs::Gf256;
use zeroize::Zeroizing;

use super::armor::ShareArmor;
use super::{
    Custodian, CustodyError, SealedKey, SealedShare, ShareInput, ShareProtection, ShareSecret,
    passphrase, recipients,
};

const PAYLOAD_TITLE: &str = "IRONROOT ROOT KEY SHARE PAYLOAD 1";
pub(super) const PROTECTION_PASSPHRASE: &str = "passphrase";
const MAX_NAME_CHARS: usize = 64;

/// The root key recovered from shares, and the split parameters recorded in the shares.
pub(super) struct Recovered {
    pub(super) pem: Zeroizing<Vec<u8>>,
    pub(super) ceremony_id: String,
    pub(super) threshold: u8,
    pub(super) total: u8,
    pub(super) indices: Vec<u8>,
}

/// The decrypted content of one share.
struct Payload {
    ceremony: String,
    index: u8,
    total: u8,
    threshold: u8,
    split_recipient: String,
    /// The vsss-rs share: the index byte, then one byte per secret byte.
    secret: Zeroizing<Vec<u8>>,
}

/// Encrypts the root key's PKCS#8 PEM to a fresh identity and splits that
/// identity among `custodians`, `threshold` of whom can recover it.
pub(super) fn seal(
    pem: &[u8],
    threshold: u8,
    custodians: &[Custodian],
    ceremony_id: &str,
) -> Result<SealedKey, CustodyError> {
    validate_ceremony_id(ceremony_id)?;
    validate_custodians(threshold, custodians)?;
    let total = u8::try_from(custodians.len()).map_err(|_| CustodyError::InvalidSplit {
        threshold,
        total: custodians.len(),
    })?;

    let identity = Identity::generate();
    let split_recipient = identity.to_public();
    let encrypted_key = recipients::seal(pem, std::slice::from_ref(&split_recipient))?;

    let identity_text = identity.to_string();
    let parts = split(identity_text.expose_secret().as_bytes(), threshold, total)?;
    check_split(&parts, threshold, identity_text.expose_secret().as_bytes())?;

    let mut shares = Vec::with_capacity(custodians.len());
    for ((custodian, part), index) in custodians.iter().zip(parts.iter()).zip(1..=total) {
        let payload = Payload {
            ceremony: ceremony_id.to_owned(),
            index,
            total,
            threshold,
            split_recipient: split_recipient.to_string(),
            secret: Zeroizing::new(part.to_vec()),
        };
        let what = format!(
            "share {index} of {total} for custodian `{}`",
            custodian.name
        );
        let (data, protection) = encrypt_share(&payload.render(), &custodian.protection, &what)?;
        let armor = ShareArmor {
            ceremony: ceremony_id.to_owned(),
            index,
            total,
            threshold,
            custodian: custodian.name.clone(),
            protection,
            data,
        };
        shares.push(SealedShare {
            custodian: custodian.name.clone(),
            index,
            text: armor.render(),
        });
    }
    Ok(SealedKey {
        encrypted_key,
        shares,
    })
}

/// Checks every share, combines them and decrypts the root key.
pub(super) fn unlock(
    encrypted_key: &[u8],
    inputs: &[ShareInput],
) -> Result<Recovered, CustodyError> {
    if inputs.is_empty() {
        return Err(CustodyError::NoShares);
    }
    // Verify every checksum before asking any custodian's secret to decrypt, so
    // a damaged share is named first.
    let mut armors = Vec::with_capacity(inputs.len());
    for input in inputs {
        armors.push(ShareArmor::parse(&input.text, &input.label)?);
    }
    let mut opened = Vec::with_capacity(inputs.len());
    for (input, armor) in inputs.iter().zip(&armors) {
        opened.push((input.label.as_str(), open_share(input, armor)?));
    }
    let (first_label, reference) = &opened[0];

    let mut accepted: BTreeMap<u8, (&str, &Payload)> = BTreeMap::new();
    for (label, payload) in &opened {
        check_same_split(payload, label, reference, first_label)?;
        if let Some((earlier, _)) = accepted.get(&payload.index) {
            return Err(CustodyError::DuplicateShare {
                index: payload.index,
                first: (*earlier).to_owned(),
                second: (*label).to_owned(),
            });
        }
        accepted.insert(payload.index, (label, payload));
    }

    let ceremony = reference.ceremony.clone();
    let indices: Vec<u8> = accepted.keys().copied().collect();
    let indices_text = join_indices(&indices);
    if accepted.len() < usize::from(reference.threshold) {
        return Err(CustodyError::NotEnoughShares {
            given: accepted.len(),
            threshold: reference.threshold,
            total: reference.total,
            missing: usize::from(reference.threshold) - accepted.len(),
            ceremony,
        });
    }

    let parts: Zeroizing<Vec<Vec<u8>>> = Zeroizing::new(
        accepted
            .values()
            .map(|(_, payload)| payload.secret.to_vec())
            .collect(),
    );
    let identity = combine(&parts, &reference.split_recipient).map_err(|reason| {
        CustodyError::CombineFailed {
            ceremony: ceremony.clone(),
            indices: indices_text.clone(),
            reason,
        }
    })?;
    let pem = agefile::decrypt_with_identity(encrypted_key, &identity, "the root key").map_err(
        |source| CustodyError::KeyNotForShares {
            ceremony: ceremony.clone(),
            indices: indices_text,
            source,
        },
    )?;
    tracing::debug!(ceremony = %ceremony, shares = ?indices, "recovered the root key from shares");
    Ok(Recovered {
        pem,
        ceremony_id: ceremony,
        threshold: reference.threshold,
        total: reference.total,
        indices,
    })
}

/// Rejects ceremony ids that would not fit on one armor header line.
pub(super) fn validate_ceremony_id(id: &str) -> Result<(), CustodyError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_NAME_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(CustodyError::InvalidCeremonyId { id: id.to_owned() })
    }
}

fn validate_custodians(threshold: u8, custodians: &[Custodian]) -> Result<(), CustodyError> {
    if threshold < 2 || usize::from(threshold) > custodians.len() || custodians.len() > 255 {
        return Err(CustodyError::InvalidSplit {
            threshold,
            total: custodians.len(),
        });
    }
    for (position, custodian) in custodians.iter().enumerate() {
        let name = custodian.name.as_str();
        let printable = name.chars().all(|c| !c.is_control());
        let length = name.chars().count();
        if name.trim() != name || length == 0 || length > MAX_NAME_CHARS || !printable {
            return Err(CustodyError::InvalidCustodianName {
                name: name.escape_debug().to_string(),
            });
        }
        if custodians[..position]
            .iter()
            .any(|other| other.name == name)
        {
            return Err(CustodyError::DuplicateCustodian {
                name: name.to_owned(),
            });
        }
    }
    Ok(())
}

// NOTE: vsss-rs 6.0.1 does not wipe its polynomial coefficients after
// `split_bytes` or its Lagrange terms in `combine_bytes`; only the buffers this
// module owns are wiped.
fn split(secret: &[u8], threshold: u8, total: u8) -> Result<Zeroizing<Vec<Vec<u8>>>, CustodyError> {
    let parts = Gf256::split_bytes(
        usize::from(threshold),
        usize::from(total),
        secret,
        rand::rng(),
    )
    .map_err(|error| CustodyError::Split {
        reason: error.to_string(),
    })?;
    let parts = Zeroizing::new(parts);
    // vsss-rs numbers shares 1, 2, 3, ... in its first byte; the armor relies on it.
    let numbered = parts
        .iter()
        .zip(1..=total)
        .all(|(part, index)| part.first() == Some(&index));
    if parts.len() != usize::from(total) || !numbered {
        return Err(CustodyError::Split {
            reason: "the shares are not numbered 1 to n".to_owned(),
        });
    }
    Ok(parts)
}

/// Confirms that the first and the last `threshold` shares each give back the
/// secret, before any share leaves the ceremony.
fn check_split(parts: &[Vec<u8>], threshold: u8, secret: &[u8]) -> Result<(), CustodyError> {
    let threshold = usize::from(threshold);
    for subset in [&parts[..threshold], &parts[parts.len() - threshold..]] {
        let combined =
            Zeroizing::new(
                Gf256::combine_bytes(subset).map_err(|error| CustodyError::Split {
                    reason: error.to_string(),
                })?,
            );
        if combined.as_slice() != secret {
            return Err(CustodyError::Split {
                reason: "a subset of the new shares did not give back the secret".to_owned(),
            });
        }
    }
    Ok(())
}

fn combine(parts: &[Vec<u8>], split_recipient: &str) -> Result<Identity, String> {
    let combined = Zeroizing::new(
        Gf256::combine_bytes(parts)
            .map_err(|error| format!("Shamir combination failed ({error})"))?,
    );
    let not_identity = || "the result is not an age identity".to_owned();
    let text = std::str::from_utf8(&combined).map_err(|_| not_identity())?;
    let identity = text.parse::<Identity>().map_err(|_| not_identity())?;
    if identity.to_public().to_string() != split_recipient {
        return Err(format!(
            "the result is an age identity, but not the one for split recipient {split_recipient}"
        ));
    }
    Ok(identity)
}

/// Encrypts a share payload for its custodian and returns the binary age file
/// with the armor's Protection value.
fn encrypt_share(
    payload: &Zeroizing<String>,
    protection: &ShareProtection,
    what: &str,
) -> Result<(Vec<u8>, String), CustodyError> {
    let (armored, protection) = match protection {
        ShareProtection::Recipient(recipient) => {
            let armored = agefile::encrypt_to_recipients(payload.as_bytes(), &[recipient])
                .map_err(|source| CustodyError::Encrypt {
                    what: what.to_owned(),
                    source,
                })?;
            (armored, recipient.to_string())
        }
        ShareProtection::Passphrase(secret) => (
            passphrase::encrypt(payload.as_bytes(), secret, what)?,
            PROTECTION_PASSPHRASE.to_owned(),
        ),
    };
    // The share armor carries base64 itself, so store the age file in binary form.
    let mut binary = Vec::with_capacity(armored.len());
    ArmoredReader::new(armored.as_slice())
        .read_to_end(&mut binary)
        .map_err(|error| CustodyError::Encrypt {
            what: what.to_owned(),
            source: AgeError::Encrypt(error.to_string()),
        })?;
    Ok((binary, protection))
}

/// Decrypts one share whose armor was parsed and checksummed, and checks that
/// the armor and the encrypted payload agree.
fn open_share(input: &ShareInput, armor: &ShareArmor) -> Result<Payload, CustodyError> {
    let label = input.label.as_str();
    let what = format!("share {} of {} ('{label}')", armor.index, armor.total);
    let plaintext = match &input.secret {
        ShareSecret::Identity(identity) => {
            agefile::decrypt_with_identity(&armor.data, identity, &what)
        }
        ShareSecret::Passphrase(secret) => {
            agefile::decrypt_with_passphrase(&armor.data, secret.clone(), &what)
        }
    }
    .map_err(|source| CustodyError::ShareDecrypt {
        label: label.to_owned(),
        index: armor.index,
        source,
    })?;
    let payload = Payload::parse(&plaintext).ok_or_else(|| CustodyError::ShareMalformed {
        label: label.to_owned(),
        reason: "the decrypted share is not in the IronRoot share format".to_owned(),
    })?;

    let mismatch =
        |field: &'static str, header: String, inside: String| CustodyError::ShareHeaderMismatch {
            label: label.to_owned(),
            index: armor.index,
            field,
            header,
            payload: inside,
        };
    if armor.ceremony != payload.ceremony {
        return Err(mismatch(
            "ceremony",
            armor.ceremony.clone(),
            payload.ceremony.clone(),
        ));
    }
    let header_share = format!("{} of {}", armor.index, armor.total);
    let payload_share = format!("{} of {}", payload.index, payload.total);
    if header_share != payload_share {
        return Err(mismatch("share", header_share, payload_share));
    }
    if armor.threshold != payload.threshold {
        return Err(mismatch(
            "threshold",
            armor.threshold.to_string(),
            payload.threshold.to_string(),
        ));
    }
    Ok(payload)
}

fn check_same_split(
    payload: &Payload,
    label: &str,
    reference: &Payload,
    first: &str,
) -> Result<(), CustodyError> {
    if payload.ceremony != reference.ceremony {
        return Err(CustodyError::OtherCeremony {
            label: label.to_owned(),
            index: payload.index,
            found: payload.ceremony.clone(),
            expected: reference.ceremony.clone(),
            first: first.to_owned(),
        });
    }
    let other_split = |difference: String| CustodyError::OtherSplit {
        label: label.to_owned(),
        index: payload.index,
        ceremony: payload.ceremony.clone(),
        first: first.to_owned(),
        difference,
    };
    if payload.threshold != reference.threshold || payload.total != reference.total {
        return Err(other_split(format!(
            "it is from a {}-of-{} split, the first share from a {}-of-{} split",
            payload.threshold, payload.total, reference.threshold, reference.total
        )));
    }
    if payload.split_recipient != reference.split_recipient {
        return Err(other_split(
            "it was split from another identity (the ceremony was sealed more than once)"
                .to_owned(),
        ));
    }
    if payload.secret.len() != reference.secret.len() {
        return Err(other_split("its secret has another length".to_owned()));
    }
    Ok(())
}

fn join_indices(indices: &[u8]) -> String {
    indices
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Payload {
    fn render(&self) -> Zeroizing<String> {
        let secret = Zeroizing::new(STANDARD.encode(self.secret.as_slice()));
        Zeroizing::new(format!(
            "{PAYLOAD_TITLE}\nCeremony: {}\nShare: {} of {}\nThreshold: {}\nSplit-Recipient: {}\nSecret: {}\n",
            self.ceremony,
            self.index,
            self.total,
            self.threshold,
            self.split_recipient,
            secret.as_str(),
        ))
    }

    fn parse(plaintext: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(plaintext).ok()?;
        let mut lines = text.lines();
        if lines.next()? != PAYLOAD_TITLE {
            return None;
        }
        let mut field = |name: &str| {
            let line = lines.next()?;
            line.strip_prefix(name)?.strip_prefix(": ")
        };
        let ceremony = field("Ceremony")?.to_owned();
        let (index, total) = field("Share")?.split_once(" of ")?;
        let (index, total) = (index.parse::<u8>().ok()?, total.parse::<u8>().ok()?);
        let threshold = field("Threshold")?.parse::<u8>().ok()?;
        let split_recipient = field("Split-Recipient")?.to_owned();
        let secret = Zeroizing::new(STANDARD.decode(field("Secret")?).ok()?);
        // The vsss-rs share starts with its index and contains at least one secret byte.
        if secret.len() < 2 || secret.first() != Some(&index) {
            return None;
        }
        Some(Self {
            ceremony,
            index,
            total,
            threshold,
            split_recipient,
            secret,
        })
    }
}
