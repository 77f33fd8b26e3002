//! Errors of root key custody. Messages name the share (file and index) and the
//! check that failed, and never contain key material, shares or passphrases.

use ironroot_core::agefile::AgeError;

use super::MIN_PASSPHRASE_CHARS;

/// Failures of sealing and unlocking the root key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CustodyError {
    #[error(
        "invalid ceremony id `{id}`: use 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"
    )]
    InvalidCeremonyId { id: String },

    #[error("custody by recipients needs at least one custodian recipient; none was given")]
    NoRecipients,

    #[error(
        "invalid split {threshold}-of-{total}: the threshold must be at least 2 and at most the number of custodians, and there may be at most 255 custodians"
    )]
    InvalidSplit { threshold: u8, total: usize },

    #[error(
        "invalid custodian name `{name}`: use 1 to 64 printable characters without line breaks"
    )]
    InvalidCustodianName { name: String },

    #[error("two custodians are named `{name}`; each custodian needs a distinct name")]
    DuplicateCustodian { name: String },

    #[error(
        "the passphrase for {what} has {length} characters; it must have at least {MIN_PASSPHRASE_CHARS}"
    )]
    PassphraseTooShort { what: String, length: usize },

    #[error("encrypting {what} failed: {source}")]
    Encrypt {
        what: String,
        #[source]
        source: AgeError,
    },

    #[error("splitting the share identity failed: {reason}")]
    Split { reason: String },

    #[error("decrypting the root key failed: {0}")]
    KeyUnreadable(#[source] AgeError),

    #[error("the decrypted root key is not a usable PKCS#8 key: {reason}")]
    DecryptedKeyInvalid { reason: String },

    #[error("no share was given")]
    NoShares,

    #[error("share '{label}' (share {index}) needs {needed}, and none was given")]
    NoSecretForShare {
        label: String,
        index: u8,
        needed: String,
    },

    #[error(
        "{given} passphrase files were given, but only {needed} of the shares are passphrase-protected"
    )]
    UnusedPassphraseFiles { given: usize, needed: usize },

    #[error("the identity file '{path}': {source}")]
    IdentityFile {
        path: String,
        #[source]
        source: AgeError,
    },

    #[error("share '{label}' is not a readable IronRoot root key share: {reason}")]
    ShareMalformed { label: String, reason: String },

    #[error(
        "share '{label}' (share {index}) is damaged or mistyped: its checksum is {expected} but the text gives {actual}"
    )]
    ShareChecksum {
        label: String,
        index: String,
        expected: String,
        actual: String,
    },

    #[error("share '{label}' (share {index}) could not be decrypted: {source}")]
    ShareDecrypt {
        label: String,
        index: u8,
        #[source]
        source: AgeError,
    },

    #[error(
        "share '{label}' (share {index}) was altered: its armor header says {field} {header}, but the encrypted share says {payload}"
    )]
    ShareHeaderMismatch {
        label: String,
        index: u8,
        field: &'static str,
        header: String,
        payload: String,
    },

    #[error(
        "share '{label}' (share {index}) belongs to ceremony `{found}`, but share '{first}' belongs to ceremony `{expected}`; shares of different ceremonies never combine"
    )]
    OtherCeremony {
        label: String,
        index: u8,
        found: String,
        expected: String,
        first: String,
    },

    #[error(
        "share '{label}' (share {index}) belongs to another split of ceremony `{ceremony}` than share '{first}': {difference}"
    )]
    OtherSplit {
        label: String,
        index: u8,
        ceremony: String,
        first: String,
        difference: String,
    },

    #[error("share {index} was given twice: '{first}' and '{second}'")]
    DuplicateShare {
        index: u8,
        first: String,
        second: String,
    },

    #[error(
        "{given} of the {threshold} shares needed were given (a {threshold}-of-{total} split of ceremony `{ceremony}`); fewer than {threshold} shares reveal nothing about the root key, so {missing} more must be added"
    )]
    NotEnoughShares {
        given: usize,
        threshold: u8,
        total: u8,
        missing: usize,
        ceremony: String,
    },

    #[error(
        "the shares {indices} of ceremony `{ceremony}` do not combine to the identity they were split from: {reason}"
    )]
    CombineFailed {
        ceremony: String,
        indices: String,
        reason: String,
    },

    #[error(
        "the identity recombined from shares {indices} of ceremony `{ceremony}` cannot decrypt the root key: {source}"
    )]
    KeyNotForShares {
        ceremony: String,
        indices: String,
        #[source]
        source: AgeError,
    },

    #[error(
        "the recovered root key does not belong to the root certificate `{subject}`: key SPKI SHA-256 {key}, certificate SPKI SHA-256 {certificate}"
    )]
    KeyNotForCertificate {
        subject: String,
        key: String,
        certificate: String,
    },
}

impl CustodyError {
    /// Returns what the security officer can do about this error.
    pub(crate) fn hint(&self) -> Option<String> {
        let hint = match self {
            Self::ShareChecksum { label, .. } => format!(
                "compare '{label}' character by character with the custodian's printed copy, \
                 or ask the custodian for the share again"
            ),
            Self::ShareMalformed { .. } => "pass the share file exactly as the ceremony wrote it, \
                from -----BEGIN IRONROOT ROOT KEY SHARE----- to its END line"
                .to_owned(),
            Self::ShareDecrypt { label, .. } => format!(
                "check that the identity or passphrase given for '{label}' is that share's \
                 custodian's; each share is encrypted to its own custodian"
            ),
            Self::ShareHeaderMismatch { .. } => "someone edited the share's header and checksum; \
                obtain an untouched copy from the custodian"
                .to_owned(),
            Self::OtherCeremony { .. } | Self::OtherSplit { .. } => {
                "pass only shares written by the ceremony that wrote --encrypted-key".to_owned()
            }
            Self::DuplicateShare { .. } => "pass each custodian's share once".to_owned(),
            Self::NoSecretForShare { .. } => "pass the custodian's identity with --identity FILE, \
                or the passphrase with --passphrase-file FILE or on a terminal"
                .to_owned(),
            Self::UnusedPassphraseFiles { .. } => "give one --passphrase-file per share whose \
                Protection header is `passphrase`, in the order of those shares"
                .to_owned(),
            Self::NotEnoughShares { .. } => {
                "bring more custodians with their shares and identities or passphrases".to_owned()
            }
            Self::CombineFailed { .. } => "a share was altered before it was encrypted, or the \
                shares come from different splits; try another subset of shares to find the odd one"
                .to_owned(),
            Self::KeyNotForShares { .. } => "the encrypted key file belongs to another ceremony \
                or split than these shares; pass the root.key.age written together with them"
                .to_owned(),
            Self::KeyNotForCertificate { .. } => "pass the root certificate written by the same \
                ceremony as the encrypted key"
                .to_owned(),
            Self::PassphraseTooShort { .. } => format!(
                "choose a passphrase of {MIN_PASSPHRASE_CHARS} or more characters, such as five random words"
            ),
            _ => return None,
        };
        Some(hint)
    }
}
