use age::x25519::Identity;
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use secrecy::SecretString;

use super::armor::ShareArmor;
use super::*;

const CEREMONY: &str = "root-2026";
const PASSPHRASE: &str = "correct horse battery staple";

/// A sealed split together with the custodians' identities, in share order.
struct Split {
    key: PrivateKey,
    sealed: SealedKey,
    identities: Vec<Identity>,
}

fn split(threshold: u8, total: usize, ceremony: &str) -> Split {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let identities: Vec<Identity> = (0..total).map(|_| Identity::generate()).collect();
    let custodians = identities
        .iter()
        .enumerate()
        .map(|(position, identity)| Custodian {
            name: format!("Custodian {}", position + 1),
            protection: ShareProtection::Recipient(identity.to_public()),
        })
        .collect();
    let custody = Custody::Shares {
        threshold,
        custodians,
    };
    let sealed = seal(&key, &custody, ceremony).unwrap();
    Split {
        key,
        sealed,
        identities,
    }
}

impl Split {
    /// The share with 1-based `index`, decrypted with its custodian's identity.
    fn input(&self, index: usize) -> ShareInput {
        ShareInput {
            label: format!("share-{index}.txt"),
            text: self.sealed.shares[index - 1].text.clone(),
            secret: ShareSecret::Identity(self.identities[index - 1].clone()),
        }
    }

    fn inputs(&self, indices: &[usize]) -> Vec<ShareInput> {
        indices.iter().map(|index| self.input(*index)).collect()
    }

    fn unlock(&self, indices: &[usize]) -> Result<PrivateKey, CustodyError> {
        unlock(
            &self.sealed.encrypted_key,
            &UnlockInput::Shares(self.inputs(indices)),
        )
    }
}

/// Every subset of `size` indices out of 1..=total.
fn subsets(total: usize, size: usize) -> Vec<Vec<usize>> {
    let mut result = Vec::new();
    for mask in 0u32..(1 << total) {
        if mask.count_ones() as usize == size {
            result.push((1..=total).filter(|i| mask & (1 << (i - 1)) != 0).collect());
        }
    }
    result
}

/// Replaces one base64 character of the share data by another base64 character.
fn flip_data_character(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let data_line = lines.iter().position(String::is_empty).unwrap() + 2;
    let mut characters: Vec<char> = lines[data_line].chars().collect();
    characters[10] = if characters[10] == 'A' { 'B' } else { 'A' };
    lines[data_line] = characters.into_iter().collect();
    lines.join("\n")
}

#[test]
fn split_3_of_5_every_3_subset_recovers() {
    let split = split(3, 5, CEREMONY);
    let subsets = subsets(5, 3);
    assert_eq!(subsets.len(), 10);
    for subset in subsets {
        let key = split.unlock(&subset).unwrap();
        assert_eq!(
            key.public_key_der(),
            split.key.public_key_der(),
            "{subset:?}"
        );
    }
}

#[test]
fn split_2_of_3_every_pair_recovers() {
    let split = split(2, 3, CEREMONY);
    for subset in subsets(3, 2) {
        let key = split.unlock(&subset).unwrap();
        assert_eq!(
            key.public_key_der(),
            split.key.public_key_der(),
            "{subset:?}"
        );
    }
}

#[test]
fn split_more_than_threshold_recovers() {
    let split = split(3, 5, CEREMONY);
    let key = split.unlock(&[1, 2, 3, 4, 5]).unwrap();
    assert_eq!(key.public_key_der(), split.key.public_key_der());
}

#[test]
fn split_below_threshold_reveals_nothing() {
    for (threshold, total) in [(3u8, 5usize), (2, 3)] {
        let split = split(threshold, total, CEREMONY);
        for subset in subsets(total, usize::from(threshold) - 1) {
            let error = split.unlock(&subset).err().unwrap();
            assert!(
                matches!(error, CustodyError::NotEnoughShares { missing: 1, .. }),
                "{error}"
            );
            let message = error.to_string();
            assert!(message.contains("reveal nothing"), "{message}");
            assert!(
                message.contains(&format!(
                    "{} of the {threshold} shares needed",
                    threshold - 1
                )),
                "{message}"
            );
        }
    }
}

#[test]
fn share_flipped_data_character_is_named() {
    let split = split(2, 3, CEREMONY);
    let mut inputs = split.inputs(&[1, 2]);
    inputs[1].text = flip_data_character(&inputs[1].text);
    let error = unlock(&split.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(
        matches!(error, CustodyError::ShareChecksum { ref label, ref index, .. }
            if label == "share-2.txt" && index == "2 of 3"),
        "{error}"
    );
    assert!(error.to_string().contains("damaged or mistyped"), "{error}");
}

#[test]
fn share_flipped_header_character_is_named() {
    let split = split(2, 3, CEREMONY);
    let mut inputs = split.inputs(&[1, 3]);
    inputs[0].text = inputs[0].text.replace("Threshold: 2", "Threshold: 3");
    let error = unlock(&split.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(
        matches!(error, CustodyError::ShareChecksum { ref label, .. } if label == "share-1.txt"),
        "{error}"
    );
}

#[test]
fn share_non_base64_character_is_named() {
    let split = split(2, 3, CEREMONY);
    let mut inputs = split.inputs(&[1, 2]);
    let data_start = inputs[0].text.find("\n\n").unwrap() + 5;
    inputs[0]
        .text
        .replace_range(data_start..data_start + 1, "#");
    let error = unlock(&split.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(
        matches!(error, CustodyError::ShareMalformed { ref label, .. } if label == "share-1.txt"),
        "{error}"
    );
    assert!(
        error.to_string().contains("not a base64 character"),
        "{error}"
    );
}

#[test]
fn share_every_single_byte_flip_is_detected() {
    let split = split(2, 3, CEREMONY);
    let original = split.sealed.shares[0].text.clone();
    let begin = original.find("Ceremony").unwrap();
    let end = original.find("-----END").unwrap();
    for position in (begin..end).step_by(7) {
        let mut bytes = original.clone().into_bytes();
        if bytes[position] == b'\n' {
            continue;
        }
        bytes[position] ^= 0x01;
        let mut inputs = split.inputs(&[1, 2]);
        inputs[0].text = String::from_utf8_lossy(&bytes).into_owned();
        let result = unlock(&split.sealed.encrypted_key, &UnlockInput::Shares(inputs));
        let error = result
            .err()
            .unwrap_or_else(|| panic!("flip at {position} passed"));
        assert!(
            error.to_string().contains("share-1.txt"),
            "{position}: {error}"
        );
    }
}

#[test]
fn share_from_other_ceremony_is_rejected() {
    let first = split(2, 3, "root-2026");
    let other = split(2, 3, "root-2027");
    let inputs = vec![first.input(1), other.input(2)];
    let error = unlock(&first.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(
        matches!(error, CustodyError::OtherCeremony { ref found, ref expected, .. }
            if found == "root-2027" && expected == "root-2026"),
        "{error}"
    );
    assert!(error.to_string().contains("share-2.txt"), "{error}");
}

#[test]
fn share_from_other_split_is_rejected() {
    let first = split(2, 3, CEREMONY);
    let resealed = split(2, 3, CEREMONY);
    let inputs = vec![first.input(1), resealed.input(2)];
    let error = unlock(&first.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(matches!(error, CustodyError::OtherSplit { .. }), "{error}");
}

#[test]
fn share_with_other_threshold_is_rejected() {
    let first = split(2, 3, CEREMONY);
    let other = split(3, 5, CEREMONY);
    let inputs = vec![first.input(1), other.input(2)];
    let error = unlock(&first.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(
        matches!(error, CustodyError::OtherSplit { ref difference, .. }
            if difference.contains("3-of-5") && difference.contains("2-of-3")),
        "{error}"
    );
}

#[test]
fn duplicate_share_is_rejected() {
    let split = split(2, 3, CEREMONY);
    let mut inputs = split.inputs(&[2, 2]);
    inputs[1].label = "copy-of-share-2.txt".to_owned();
    let error = unlock(&split.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(
        matches!(error, CustodyError::DuplicateShare { index: 2, ref first, ref second }
            if first == "share-2.txt" && second == "copy-of-share-2.txt"),
        "{error}"
    );
}

#[test]
fn shares_of_other_key_file_fail_decryption() {
    let first = split(2, 3, CEREMONY);
    let resealed = split(2, 3, CEREMONY);
    let error = unlock(
        &first.sealed.encrypted_key,
        &UnlockInput::Shares(resealed.inputs(&[1, 3])),
    )
    .err()
    .unwrap();
    assert!(
        matches!(error, CustodyError::KeyNotForShares { ref indices, .. } if indices == "1, 3"),
        "{error}"
    );
    assert!(
        error.hint().unwrap().contains("another ceremony"),
        "{error}"
    );
}

#[test]
fn share_with_edited_header_and_checksum_is_rejected() {
    let split = split(2, 3, CEREMONY);
    let mut armor = ShareArmor::parse(&split.sealed.shares[0].text, "share-1.txt").unwrap();
    armor.ceremony = "root-forged".to_owned();
    let mut inputs = split.inputs(&[1, 2]);
    inputs[0].text = armor.render();
    let error = unlock(&split.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(
        matches!(error, CustodyError::ShareHeaderMismatch { field: "ceremony", ref label, .. }
            if label == "share-1.txt"),
        "{error}"
    );
}

#[test]
fn share_with_wrong_custodian_identity_is_named() {
    let split = split(2, 3, CEREMONY);
    let mut inputs = split.inputs(&[1, 2]);
    inputs[1].secret = ShareSecret::Identity(split.identities[0].clone());
    let error = unlock(&split.sealed.encrypted_key, &UnlockInput::Shares(inputs))
        .err()
        .unwrap();
    assert!(
        matches!(error, CustodyError::ShareDecrypt { index: 2, ref label, .. }
            if label == "share-2.txt"),
        "{error}"
    );
    assert!(
        error.to_string().contains("not addressed to this identity"),
        "{error}"
    );
}

#[test]
fn passphrase_protected_share_round_trip() {
    let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let identity = Identity::generate();
    let custody = Custody::Shares {
        threshold: 2,
        custodians: vec![
            Custodian {
                name: "Alice".to_owned(),
                protection: ShareProtection::Passphrase(SecretString::from(PASSPHRASE)),
            },
            Custodian {
                name: "Bob".to_owned(),
                protection: ShareProtection::Recipient(identity.to_public()),
            },
        ],
    };
    let sealed = seal(&key, &custody, CEREMONY).unwrap();
    assert!(sealed.shares[0].text.contains("Protection: passphrase"));
    let summary = describe_share(&sealed.shares[0].text, "alice.txt").unwrap();
    assert_eq!(summary.recipient, None);
    assert_eq!(summary.custodian, "Alice");

    let share = |secret: SecretString| ShareInput {
        label: "alice.txt".to_owned(),
        text: sealed.shares[0].text.clone(),
        secret: ShareSecret::Passphrase(secret),
    };
    let bob = ShareInput {
        label: "bob.txt".to_owned(),
        text: sealed.shares[1].text.clone(),
        secret: ShareSecret::Identity(identity.clone()),
    };
    let recovered = unlock(
        &sealed.encrypted_key,
        &UnlockInput::Shares(vec![share(SecretString::from(PASSPHRASE)), bob]),
    )
    .unwrap();
    assert_eq!(recovered.public_key_der(), key.public_key_der());

    let bob = ShareInput {
        label: "bob.txt".to_owned(),
        text: sealed.shares[1].text.clone(),
        secret: ShareSecret::Identity(identity),
    };
    let wrong = SecretString::from("a wrong passphrase of some length");
    let error = unlock(
        &sealed.encrypted_key,
        &UnlockInput::Shares(vec![share(wrong), bob]),
    )
    .err()
    .unwrap();
    assert!(
        matches!(error, CustodyError::ShareDecrypt { ref label, .. } if label == "alice.txt"),
        "{error}"
    );
    assert!(error.to_string().contains("passphrase is wrong"), "{error}");
}

#[test]
fn recipients_custody_each_custodian_decrypts() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let identities: Vec<Identity> = (0..3).map(|_| Identity::generate()).collect();
    let custody = Custody::Recipients(identities.iter().map(Identity::to_public).collect());
    let sealed = seal(&key, &custody, CEREMONY).unwrap();
    assert!(sealed.shares.is_empty());
    for identity in &identities {
        let input = UnlockInput::Identities(vec![identity.clone()]);
        let recovered = unlock(&sealed.encrypted_key, &input).unwrap();
        assert_eq!(recovered.public_key_der(), key.public_key_der());
    }
    let stranger = UnlockInput::Identities(vec![Identity::generate()]);
    let error = unlock(&sealed.encrypted_key, &stranger).err().unwrap();
    assert!(matches!(error, CustodyError::KeyUnreadable(_)), "{error}");
    assert!(
        error.to_string().contains("not addressed to this identity"),
        "{error}"
    );
}

#[test]
fn recipients_custody_needs_a_recipient() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let error = seal(&key, &Custody::Recipients(Vec::new()), CEREMONY)
        .err()
        .unwrap();
    assert!(matches!(error, CustodyError::NoRecipients), "{error}");
}

#[test]
fn passphrase_custody_round_trip_and_wrong_passphrase() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let custody = Custody::Passphrase(SecretString::from(PASSPHRASE));
    let sealed = seal(&key, &custody, CEREMONY).unwrap();
    let text = String::from_utf8(sealed.encrypted_key.clone()).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!text.contains("PRIVATE KEY"));

    let input = UnlockInput::Passphrase(SecretString::from(PASSPHRASE));
    let recovered = unlock(&sealed.encrypted_key, &input).unwrap();
    assert_eq!(recovered.public_key_der(), key.public_key_der());

    let wrong = UnlockInput::Passphrase(SecretString::from("not the right passphrase"));
    let error = unlock(&sealed.encrypted_key, &wrong).err().unwrap();
    assert!(error.to_string().contains("passphrase is wrong"), "{error}");
}

#[test]
fn passphrase_custody_rejects_short_passphrase() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let custody = Custody::Passphrase(SecretString::from("short"));
    let error = seal(&key, &custody, CEREMONY).err().unwrap();
    assert!(
        matches!(error, CustodyError::PassphraseTooShort { length: 5, .. }),
        "{error}"
    );
}

#[test]
fn split_parameters_are_validated() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let custodian = |name: &str| Custodian {
        name: name.to_owned(),
        protection: ShareProtection::Recipient(Identity::generate().to_public()),
    };
    let cases = [
        (1u8, vec![custodian("A"), custodian("B")], CEREMONY),
        (3, vec![custodian("A"), custodian("B")], CEREMONY),
        (2, vec![custodian("A"), custodian("A")], CEREMONY),
        (2, vec![custodian("A"), custodian("B\nC")], CEREMONY),
        (2, vec![custodian("A"), custodian("B")], "root 2026"),
        (2, vec![custodian("A"), custodian("B")], ""),
    ];
    for (threshold, custodians, ceremony) in cases {
        let custody = Custody::Shares {
            threshold,
            custodians,
        };
        assert!(
            seal(&key, &custody, ceremony).is_err(),
            "{threshold} {ceremony:?}"
        );
    }
}

#[test]
fn share_armor_survives_surrounding_text_and_crlf() {
    let split = split(2, 3, CEREMONY);
    let mut inputs = split.inputs(&[1, 2]);
    inputs[0].text = format!(
        "Custodian copy, keep in the safe\r\n\r\n{}\r\nsigned: A.\r\n",
        inputs[0].text.replace('\n', "\r\n")
    );
    let key = unlock(&split.sealed.encrypted_key, &UnlockInput::Shares(inputs)).unwrap();
    assert_eq!(key.public_key_der(), split.key.public_key_der());
}

#[test]
fn share_text_has_documented_headers() {
    let split = split(3, 5, CEREMONY);
    let text = &split.sealed.shares[3].text;
    assert!(text.starts_with("-----BEGIN IRONROOT ROOT KEY SHARE-----\nCeremony: root-2026\n"));
    assert!(text.contains("\nShare: 4 of 5\nThreshold: 3\nCustodian: Custodian 4\n"));
    assert!(text.contains(&format!(
        "Protection: {}\n",
        split.identities[3].to_public()
    )));
    assert!(
        text.trim_end()
            .ends_with("-----END IRONROOT ROOT KEY SHARE-----")
    );
    assert_eq!(split.sealed.shares[3].index, 4);
    assert_eq!(split.sealed.shares[3].custodian, "Custodian 4");
}

#[test]
fn verify_shares_checks_the_certificate() {
    let split = split(2, 3, CEREMONY);
    let params = ironroot_core::profile::root(
        &ironroot_core::profile::Subject {
            common_name: "Drill Root".to_owned(),
            organization: None,
            organizational_unit: None,
            country: None,
        },
        ironroot_core::profile::Validity::starting_at(
            time::OffsetDateTime::now_utc(),
            time::Duration::days(30),
        )
        .unwrap(),
    )
    .unwrap();
    let der = ironroot_core::cert::Authority::self_signed(
        &params,
        PrivateKey::from_pkcs8_der(&split.key.to_pkcs8_der(), "test key").unwrap(),
    )
    .unwrap()
    .certificate()
    .der
    .clone();
    let root = CertificateInfo::parse(&der, "root").unwrap();
    let drill = verify_shares(&split.sealed.encrypted_key, &split.inputs(&[3, 1]), &root).unwrap();
    assert_eq!(drill.indices, vec![1, 3]);
    assert_eq!(drill.ceremony_id, CEREMONY);
    assert_eq!((drill.threshold, drill.total), (2, 3));

    let other_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let other = ironroot_core::cert::Authority::self_signed(&params, other_key).unwrap();
    let error = verify_shares(
        &split.sealed.encrypted_key,
        &split.inputs(&[1, 2]),
        other.certificate(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(error, CustodyError::KeyNotForCertificate { .. }),
        "{error}"
    );
}
