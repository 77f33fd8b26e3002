//! Printable share text: an armor with header lines, base64 data and a checksum.
//!
//! ```text
//! -----BEGIN IRONROOT ROOT KEY SHARE-----
//! Ceremony: root-2026
//! Share: 2 of 5
//! Threshold: 3
//! Custodian: Alice Example
//! Protection: age1...
//! Checksum: 3f9a0c41d2e87b56
//!
//! <the age-encrypted share, base64, 64 characters a line>
//! -----END IRONROOT ROOT KEY SHARE-----
//! ```
//!
//! The checksum is the first 8 bytes (16 hex digits) of SHA-256 over the string
//! `IRONROOT ROOT KEY SHARE\n`, every header line except `Checksum` as
//! `Name: value\n` in the order given, a line feed, and the decoded data. It
//! catches typing errors and damage before any decryption is attempted. It does
//! not stop deliberate edits: the age encryption of the data and the fields
//! repeated inside it catch those.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ironroot_core::Fingerprint;
use ironroot_core::fingerprint::hex;

use super::CustodyError;

const BEGIN: &str = "-----BEGIN IRONROOT ROOT KEY SHARE-----";
const END: &str = "-----END IRONROOT ROOT KEY SHARE-----";
const CHECKSUM_DOMAIN: &[u8] = b"IRONROOT ROOT KEY SHARE\n";
const CHECKSUM_HEADER: &str = "Checksum";
const LINE_WIDTH: usize = 64;

/// The plaintext fields of a share's armor. The data is the age-encrypted share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ShareArmor {
    pub(super) ceremony: String,
    pub(super) index: u8,
    pub(super) total: u8,
    pub(super) threshold: u8,
    pub(super) custodian: String,
    /// `passphrase`, or the custodian's `age1...` recipient.
    pub(super) protection: String,
    pub(super) data: Vec<u8>,
}

impl ShareArmor {
    /// Renders the printable share text.
    pub(super) fn render(&self) -> String {
        let headers = self.headers();
        let mut text = String::new();
        text.push_str(BEGIN);
        text.push('\n');
        for (name, value) in &headers {
            text.push_str(&format!("{name}: {value}\n"));
        }
        let checksum = checksum(&headers, &self.data);
        text.push_str(&format!("{CHECKSUM_HEADER}: {checksum}\n\n"));
        let encoded = STANDARD.encode(&self.data);
        for line in encoded.as_bytes().chunks(LINE_WIDTH) {
            // base64 output is ASCII, so every chunk is valid UTF-8.
            text.push_str(&String::from_utf8_lossy(line));
            text.push('\n');
        }
        text.push_str(END);
        text.push('\n');
        text
    }

    fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("Ceremony".to_owned(), self.ceremony.clone()),
            (
                "Share".to_owned(),
                format!("{} of {}", self.index, self.total),
            ),
            ("Threshold".to_owned(), self.threshold.to_string()),
            ("Custodian".to_owned(), self.custodian.clone()),
            ("Protection".to_owned(), self.protection.clone()),
        ]
    }

    /// Parses share text, verifies its checksum, then reads the header fields.
    /// Text before the BEGIN line and after the END line is ignored, so a share
    /// copied from a page with notes around it still parses. `label` names the
    /// share in errors.
    pub(super) fn parse(text: &str, label: &str) -> Result<Self, CustodyError> {
        let malformed = |reason: String| CustodyError::ShareMalformed {
            label: label.to_owned(),
            reason,
        };
        let mut lines = text
            .lines()
            .map(str::trim)
            .skip_while(|line| *line != BEGIN);
        if lines.next().is_none() {
            return Err(malformed(format!("the line `{BEGIN}` is missing")));
        }

        let mut headers: Vec<(String, String)> = Vec::new();
        let mut stated_checksum = None;
        for line in lines.by_ref() {
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(malformed(format!(
                    "the header line `{line}` has no `Name: value` form; headers end with a blank line"
                )));
            };
            let (name, value) = (name.trim(), value.trim());
            if name == CHECKSUM_HEADER {
                stated_checksum = Some(value.to_ascii_lowercase());
            } else {
                headers.push((name.to_owned(), value.to_owned()));
            }
        }

        let mut encoded = String::new();
        let mut ended = false;
        for (number, line) in lines.enumerate() {
            if line == END {
                ended = true;
                break;
            }
            if let Some(bad) = line.chars().find(|c| !is_base64(*c)) {
                return Err(malformed(format!(
                    "line {} of the share data contains `{bad}`, which is not a base64 character; it was mistyped or damaged",
                    number + 1
                )));
            }
            encoded.push_str(line);
        }
        if !ended {
            return Err(malformed(format!(
                "the line `{END}` is missing; the share is truncated"
            )));
        }
        let stated_checksum = stated_checksum
            .ok_or_else(|| malformed("the Checksum header is missing".to_owned()))?;
        let data = STANDARD.decode(encoded.as_bytes()).map_err(|error| {
            malformed(format!(
                "the share data is not valid base64 ({error}); a line was mistyped, lost or damaged"
            ))
        })?;

        let actual = checksum(&headers, &data);
        if actual != stated_checksum {
            let index = header(&headers, "Share").unwrap_or("unknown").to_owned();
            return Err(CustodyError::ShareChecksum {
                label: label.to_owned(),
                index,
                expected: stated_checksum,
                actual,
            });
        }
        Self::from_headers(&headers, data).map_err(malformed)
    }

    fn from_headers(headers: &[(String, String)], data: Vec<u8>) -> Result<Self, String> {
        let required = |name: &str| {
            header(headers, name).ok_or_else(|| format!("the {name} header is missing"))
        };
        let share = required("Share")?;
        let (index, total) = share
            .split_once(" of ")
            .and_then(|(index, total)| Some((index.parse::<u8>().ok()?, total.parse::<u8>().ok()?)))
            .ok_or_else(|| format!("the Share header `{share}` is not `<index> of <n>`"))?;
        let threshold = required("Threshold")?;
        let threshold = threshold
            .parse::<u8>()
            .map_err(|_| format!("the Threshold header `{threshold}` is not a number"))?;
        if index == 0 || index > total || threshold < 2 || threshold > total {
            return Err(format!(
                "the headers describe an impossible split: share {index} of {total}, threshold {threshold}"
            ));
        }
        Ok(Self {
            ceremony: required("Ceremony")?.to_owned(),
            index,
            total,
            threshold,
            custodian: header(headers, "Custodian").unwrap_or_default().to_owned(),
            protection: header(headers, "Protection").unwrap_or_default().to_owned(),
            data,
        })
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(candidate, _)| candidate == name)
        .map(|(_, value)| value.as_str())
}

fn is_base64(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')
}

fn checksum(headers: &[(String, String)], data: &[u8]) -> String {
    let mut input = CHECKSUM_DOMAIN.to_vec();
    for (name, value) in headers {
        input.extend_from_slice(format!("{name}: {value}\n").as_bytes());
    }
    input.push(b'\n');
    input.extend_from_slice(data);
    hex(&Fingerprint::of(&input).as_bytes()[..8])
}
