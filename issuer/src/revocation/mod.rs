//! Revocation: RFC 5280 reason codes, CRLs signed by each intermediate, and
//! the RFC 6960 OCSP responder's DER.

pub mod crl;
pub mod ocsp;
pub mod reason;

/// Maximum serial number length RFC 5280 section 4.1.2.2 allows, in bytes.
const MAX_SERIAL_BYTES: usize = 20;

/// Normalises a hex serial number as operators type it (upper or lower case,
/// optional `:` separators, optional `0x`) to the lower-case hex the
/// database stores, and returns it with its bytes.
pub fn parse_serial(text: &str) -> Result<(String, Vec<u8>), String> {
    let trimmed = text.trim();
    let digits: String = trimmed
        .strip_prefix("0x")
        .unwrap_or(trimmed)
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let invalid = || {
        format!(
            "`{text}` is not a serial number; give it in hex as `ironroot-admin` or the sign response shows it, such as 5b2c0e6f9a1d4c3b8e7f60a1b2c3d4e5"
        )
    };
    if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() > MAX_SERIAL_BYTES * 2 {
        return Err(invalid());
    }
    let mut bytes = Vec::with_capacity(digits.len() / 2);
    for pair in digits.as_bytes().chunks(2) {
        let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
        bytes.push(u8::from_str_radix(pair, 16).map_err(|_| invalid())?);
    }
    Ok((digits, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_parsing_normalises() {
        let (hex, bytes) = parse_serial("5B:2C").unwrap();
        assert_eq!(hex, "5b2c");
        assert_eq!(bytes, vec![0x5b, 0x2c]);
        assert!(parse_serial("xyz").is_err());
        assert!(parse_serial("abc").is_err());
        assert!(parse_serial("").is_err());
    }
}
