//! Bootstrap tokens: generation, parsing of the bearer header, hashing and the
//! name-scope check. Tokens are `irt_` plus the unpadded base64url encoding of
//! 32 random bytes; only their SHA-256 is stored, and only the public id
//! (`tok_` plus 16 hex digits of that hash) is logged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ironroot_core::api::TOKEN_PREFIX;
use ironroot_core::fingerprint::hex;
use ironroot_core::names::{NamePattern, SubjectName};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;
/// Length of the base64url part: 32 bytes encode to 43 characters without padding.
const TOKEN_BODY_LEN: usize = 43;

/// The SHA-256 of a token's text, the only form the database holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes the full token text, prefix included.
    pub fn of(token: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
    }

    /// Returns lower-case hex, the database key.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Returns the public id, safe to log and to show.
    pub fn token_id(&self) -> String {
        format!("tok_{}", &hex(&self.0[..8]))
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({})", self.token_id())
    }
}

/// Why an `Authorization` header carries no usable token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header, or not the `Bearer` scheme.
    Missing,
    /// A bearer value that is not `irt_` plus 43 base64url characters.
    Malformed,
}

/// Creates a new random token and its hash. The token is wiped when dropped.
pub fn generate() -> Result<(Zeroizing<String>, TokenHash), ironroot_core::Error> {
    let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| ironroot_core::Error::Random)?;
    let mut token = Zeroizing::new(String::with_capacity(TOKEN_PREFIX.len() + TOKEN_BODY_LEN));
    token.push_str(TOKEN_PREFIX);
    URL_SAFE_NO_PAD.encode_string(&bytes[..], &mut token);
    let hash = TokenHash::of(&token);
    Ok((token, hash))
}

/// Extracts and hashes the token of an `Authorization: Bearer` header value.
pub fn parse_bearer(header: Option<&[u8]>) -> Result<TokenHash, BearerError> {
    let value = header.ok_or(BearerError::Missing)?;
    let value = std::str::from_utf8(value).map_err(|_| BearerError::Malformed)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(BearerError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let token = token.trim();
    let body = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(BearerError::Malformed)?;
    let well_formed = body.len() == TOKEN_BODY_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && URL_SAFE_NO_PAD
            .decode(body)
            .is_ok_and(|bytes| bytes.len() == TOKEN_BYTES);
    if !well_formed {
        return Err(BearerError::Malformed);
    }
    Ok(TokenHash::of(token))
}

/// Returns the first of `names` that no pattern allows, if any.
pub fn first_disallowed<'a>(
    patterns: &[NamePattern],
    names: &'a [SubjectName],
) -> Option<&'a SubjectName> {
    names
        .iter()
        .find(|name| !patterns.iter().any(|pattern| pattern.allows(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_token_parses_back() {
        let (token, hash) = generate().unwrap();
        assert!(token.starts_with("irt_"));
        assert_eq!(token.len(), 4 + 43);
        let header = format!("Bearer {}", token.as_str());
        assert_eq!(parse_bearer(Some(header.as_bytes())), Ok(hash));
        assert!(hash.token_id().starts_with("tok_"));
        assert_eq!(hash.token_id().len(), 4 + 16);
        assert_eq!(hash.to_hex()[..16], hash.token_id()[4..]);
    }

    #[test]
    fn bearer_rejects_missing_and_malformed() {
        assert_eq!(parse_bearer(None), Err(BearerError::Missing));
        assert_eq!(parse_bearer(Some(b"Basic abc")), Err(BearerError::Missing));
        assert_eq!(
            parse_bearer(Some(b"Bearer abc")),
            Err(BearerError::Malformed)
        );
        let short = format!("Bearer irt_{}", "A".repeat(42));
        assert_eq!(
            parse_bearer(Some(short.as_bytes())),
            Err(BearerError::Malformed)
        );
        let bad_char = format!("Bearer irt_{}+", "A".repeat(42));
        assert_eq!(
            parse_bearer(Some(bad_char.as_bytes())),
            Err(BearerError::Malformed)
        );
    }

    #[test]
    fn scope_check_finds_first_disallowed_name() {
        let patterns = vec![NamePattern::parse("*.svc.example").unwrap()];
        let names = vec![
            SubjectName::parse("a.svc.example").unwrap(),
            SubjectName::parse("evil.example").unwrap(),
        ];
        assert_eq!(first_disallowed(&patterns, &names), Some(&names[1]));
        assert_eq!(first_disallowed(&patterns, &names[..1]), None);
    }
}
