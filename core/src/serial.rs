//! Certificate serial numbers.

use rcgen::SerialNumber;
use ring::rand::{SecureRandom, SystemRandom};

use crate::Error;

/// Length in bytes of generated serial numbers: 127 random bits, far above the
/// 64 bits that the CA/Browser Forum requires and below RFC 5280's 20-octet limit.
pub const SERIAL_LEN: usize = 16;

/// Generates a positive random serial number of [`SERIAL_LEN`] bytes.
///
/// The top bit is cleared so the DER INTEGER is positive without a padding byte,
/// and a zero first byte is redrawn so every serial encodes to exactly 16 bytes.
pub fn random_serial() -> Result<SerialNumber, Error> {
    let rng = SystemRandom::new();
    let mut bytes = [0u8; SERIAL_LEN];
    loop {
        rng.fill(&mut bytes).map_err(|_| Error::Random)?;
        bytes[0] &= 0x7f;
        if bytes[0] != 0 {
            return Ok(SerialNumber::from_slice(&bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_is_positive_and_full_length() {
        for _ in 0..256 {
            let serial = random_serial().unwrap().to_bytes();
            assert_eq!(serial.len(), SERIAL_LEN);
            assert_ne!(serial[0], 0);
            assert_eq!(serial[0] & 0x80, 0);
        }
    }
}
