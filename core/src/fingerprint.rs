//! SHA-256 fingerprints of certificates and public keys.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A SHA-256 fingerprint, displayed as colon-separated upper-case hex the way
/// `openssl x509 -fingerprint -sha256` prints it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Computes the fingerprint of DER bytes (a certificate or a SubjectPublicKeyInfo).
    pub fn of(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
    }

    /// Returns the raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Returns lower-case hex without separators, the form stored in databases.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Returns the fingerprint in groups of four hex digits, eight groups a line,
    /// which witnesses can read aloud and compare group by group.
    pub fn to_spoken_groups(&self) -> String {
        let hex = hex(&self.0).to_uppercase();
        let groups: Vec<&str> = (0..hex.len()).step_by(4).map(|i| &hex[i..i + 4]).collect();
        groups
            .chunks(8)
            .map(|line| line.join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    /// Parses 64 hex digits, with or without `:` or space separators and with an
    /// optional `sha256:` or `SHA256:` prefix, in either case.
    fn from_str(value: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidFingerprint {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = value.trim();
        let body = trimmed
            .strip_prefix("sha256:")
            .or_else(|| trimmed.strip_prefix("SHA256:"))
            .or_else(|| trimmed.strip_prefix("sha256 Fingerprint="))
            .unwrap_or(trimmed);
        let digits: Vec<u8> = body
            .bytes()
            .filter(|b| !matches!(b, b':' | b' ' | b'\n'))
            .collect();
        if digits.len() != 64 {
            return Err(invalid(
                "expected a SHA-256 fingerprint of 64 hex digits, as printed by the ceremony or `openssl x509 -noout -fingerprint -sha256`",
            ));
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let high = hex_value(pair[0])
                .ok_or_else(|| invalid("contains a character that is not a hex digit"))?;
            let low = hex_value(pair[1])
                .ok_or_else(|| invalid("contains a character that is not a hex digit"))?;
            bytes[i] = high << 4 | low;
        }
        Ok(Self(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Encodes bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_round_trips_through_display() {
        let fingerprint = Fingerprint::of(b"example");
        let parsed: Fingerprint = fingerprint.to_string().parse().unwrap();
        assert_eq!(parsed, fingerprint);
    }

    #[test]
    fn fingerprint_parses_plain_and_prefixed_hex() {
        let fingerprint = Fingerprint::of(b"example");
        let plain: Fingerprint = fingerprint.to_hex().parse().unwrap();
        let prefixed: Fingerprint = format!("sha256:{}", fingerprint.to_hex()).parse().unwrap();
        let spoken: Fingerprint = fingerprint.to_spoken_groups().parse().unwrap();
        assert_eq!(plain, fingerprint);
        assert_eq!(prefixed, fingerprint);
        assert_eq!(spoken, fingerprint);
    }

    #[test]
    fn fingerprint_rejects_wrong_length_and_digits() {
        assert!("abcd".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
    }
}
