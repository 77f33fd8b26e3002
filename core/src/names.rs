//! Subject alternative names: parsing, normalisation and scope matching.

use std::fmt;
use std::net::IpAddr;

use crate::Error;

/// Maximum length of a DNS name in presentation form (RFC 1035 section 2.3.4).
const MAX_DNS_NAME_LEN: usize = 253;
/// Maximum length of one DNS label (RFC 1035 section 2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Longest URI or email SAN accepted, in bytes.
const MAX_URI_LEN: usize = 2048;

/// A subject alternative name a certificate may carry: a DNS name, an IP
/// address, a URI or an email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectName {
    /// A DNS name in lower case without a trailing dot. A wildcard is allowed
    /// only as the whole leftmost label (`*.example.com`).
    Dns(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A URI (uniformResourceIdentifier), such as `spiffe://example/api`.
    Uri(String),
    /// An email address (rfc822Name) with its domain in lower case.
    Email(String),
}

impl SubjectName {
    /// Parses a DNS name or an IP address, normalising DNS names to lower case
    /// without a trailing dot.
    pub fn parse(value: &str) -> Result<Self, Error> {
        if let Ok(ip) = value.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        // A bracketed IPv6 literal, as written in URLs.
        if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']'))
            && let Ok(ip) = inner.parse::<IpAddr>()
        {
            return Ok(Self::Ip(ip));
        }
        Self::parse_dns(value)
    }

    /// Parses a DNS name only.
    pub fn parse_dns(value: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidName {
            name: value.to_owned(),
            reason,
        };
        if !value.is_ascii() {
            return Err(invalid(
                "contains non-ASCII characters; write internationalised names in their ASCII form (xn--...)"
                    .to_owned(),
            ));
        }
        let lower = value.to_ascii_lowercase();
        let name = lower.strip_suffix('.').unwrap_or(&lower);
        if name.is_empty() {
            return Err(invalid("is empty".to_owned()));
        }
        if name.len() > MAX_DNS_NAME_LEN {
            return Err(invalid(format!(
                "is {} characters long; DNS names have at most {MAX_DNS_NAME_LEN}",
                name.len()
            )));
        }
        for (index, label) in name.split('.').enumerate() {
            if index == 0 && label == "*" {
                continue;
            }
            check_label(label).map_err(&invalid)?;
        }
        if name.starts_with("*.") && name.matches('.').count() < 2 {
            return Err(invalid(
                "a wildcard needs at least two labels after `*.`, as in `*.example.com`".to_owned(),
            ));
        }
        if name.parse::<IpAddr>().is_ok() || name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(invalid(
                "looks like an IP address, not a DNS name".to_owned(),
            ));
        }
        Ok(Self::Dns(name.to_owned()))
    }

    /// Parses a DNS name, IP address or `*.suffix` pattern like [`Self::parse`],
    /// but first converts internationalised labels (U-labels such as `bücher`)
    /// to their ASCII form (A-labels such as `xn--bcher-kva`) with UTS #46
    /// processing, which also lower-cases them.
    pub fn parse_normalized(value: &str) -> Result<Self, Error> {
        if value.is_ascii() {
            return Self::parse(value);
        }
        let (wildcard, rest) = match value.strip_prefix("*.") {
            Some(rest) => ("*.", rest),
            None => ("", value),
        };
        let ascii = idna::domain_to_ascii(rest).map_err(|error| Error::InvalidName {
            name: value.to_owned(),
            reason: format!("is not a valid internationalised domain name ({error})"),
        })?;
        Self::parse_dns(&format!("{wildcard}{ascii}"))
    }

    /// Parses a URI SAN: an ASCII `scheme:rest` with a scheme of letters,
    /// digits, `+`, `-` and `.`, and no whitespace or control characters.
    pub fn parse_uri(value: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidName {
            name: value.to_owned(),
            reason: reason.to_owned(),
        };
        if value.len() > MAX_URI_LEN {
            return Err(invalid("is longer than 2048 bytes"));
        }
        if !value.is_ascii() || value.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(invalid(
                "contains a space, a control or a non-ASCII character; percent-encode it",
            ));
        }
        let (scheme, rest) = value
            .split_once(':')
            .ok_or_else(|| invalid("has no scheme; write it as `scheme:...`"))?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
        if !scheme_ok || rest.is_empty() {
            return Err(invalid("is not a URI of the form `scheme:rest`"));
        }
        Ok(Self::Uri(value.to_owned()))
    }

    /// Parses an email SAN `local@domain`. The domain is normalised like a DNS
    /// name (IDNA, lower case, no trailing dot); the local part is kept as is.
    pub fn parse_email(value: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidName {
            name: value.to_owned(),
            reason,
        };
        let (local, domain) = value
            .rsplit_once('@')
            .ok_or_else(|| invalid("has no `@`; write it as `local@domain`".to_owned()))?;
        if local.is_empty()
            || local.len() > 64
            || !local.is_ascii()
            || local
                .bytes()
                .any(|b| b.is_ascii_control() || b == b' ' || b == b'@')
        {
            return Err(invalid(
                "has an empty, too long or non-ASCII local part before `@`".to_owned(),
            ));
        }
        let domain = match Self::parse_normalized(domain) {
            Ok(Self::Dns(domain)) if !domain.starts_with("*.") => domain,
            _ => return Err(invalid(format!("has an invalid domain `{domain}`"))),
        };
        Ok(Self::Email(format!("{local}@{domain}")))
    }

    /// Returns a short name of the SAN type: `dns`, `ip`, `uri` or `email`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Dns(_) => "dns",
            Self::Ip(_) => "ip",
            Self::Uri(_) => "uri",
            Self::Email(_) => "email",
        }
    }

    /// Returns whether this name is a wildcard DNS name.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Self::Dns(name) if name.starts_with("*."))
    }

    /// Returns rcgen's SAN type for this name.
    pub fn to_san(&self) -> Result<rcgen::SanType, Error> {
        match self {
            Self::Dns(name) => {
                let ia5 = rcgen::string::Ia5String::try_from(name.as_str()).map_err(|_| {
                    Error::InvalidName {
                        name: name.clone(),
                        reason: "is not an IA5 string".to_owned(),
                    }
                })?;
                Ok(rcgen::SanType::DnsName(ia5))
            }
            Self::Ip(ip) => Ok(rcgen::SanType::IpAddress(*ip)),
            Self::Uri(uri) => Ok(rcgen::SanType::URI(ia5(uri)?)),
            Self::Email(email) => Ok(rcgen::SanType::Rfc822Name(ia5(email)?)),
        }
    }
}

fn ia5(value: &str) -> Result<rcgen::string::Ia5String, Error> {
    rcgen::string::Ia5String::try_from(value).map_err(|_| Error::InvalidName {
        name: value.to_owned(),
        reason: "is not an IA5 (ASCII) string".to_owned(),
    })
}

fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("has an empty label (two dots in a row, or a leading dot)".to_owned());
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(format!(
            "has a label of {} characters; labels have at most {MAX_LABEL_LEN}",
            label.len()
        ));
    }
    if label.contains('*') {
        return Err("a wildcard may only be the whole leftmost label".to_owned());
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "label {label:?} contains a character other than letters, digits and `-`"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("label {label:?} starts or ends with `-`"));
    }
    Ok(())
}

impl fmt::Display for SubjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Uri(value) | Self::Email(value) => f.write_str(value),
        }
    }
}

/// A pattern of names a bootstrap token allows: an exact name, or `*.suffix`,
/// which allows every name exactly one label below `suffix` and the wildcard
/// name `*.suffix` itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamePattern(SubjectName);

impl NamePattern {
    /// Parses a pattern with the same rules as [`SubjectName::parse`].
    pub fn parse(value: &str) -> Result<Self, Error> {
        SubjectName::parse(value).map(Self)
    }

    /// Parses a pattern, a URI or an email address: a value with `@` is an
    /// email address, a value with `:` that is not an IP address is a URI,
    /// anything else is parsed by [`SubjectName::parse_normalized`] (IDNA).
    pub fn parse_normalized(value: &str) -> Result<Self, Error> {
        let is_ip =
            value.parse::<IpAddr>().is_ok() || value.starts_with('[') && value.ends_with(']');
        if value.contains('@') {
            SubjectName::parse_email(value).map(Self)
        } else if value.contains(':') && !is_ip {
            SubjectName::parse_uri(value).map(Self)
        } else {
            SubjectName::parse_normalized(value).map(Self)
        }
    }

    /// Returns the name or pattern itself.
    pub fn name(&self) -> &SubjectName {
        &self.0
    }

    /// Returns whether `name` is allowed by this pattern.
    pub fn allows(&self, name: &SubjectName) -> bool {
        match (&self.0, name) {
            (SubjectName::Dns(pattern), SubjectName::Dns(candidate)) => {
                if pattern == candidate {
                    return true;
                }
                match pattern.strip_prefix("*.") {
                    Some(suffix) => candidate
                        .strip_suffix(suffix)
                        .and_then(|head| head.strip_suffix('.'))
                        .is_some_and(|label| !label.is_empty() && !label.contains('.')),
                    None => false,
                }
            }
            (SubjectName::Ip(pattern), SubjectName::Ip(candidate)) => pattern == candidate,
            (SubjectName::Uri(pattern), SubjectName::Uri(candidate))
            | (SubjectName::Email(pattern), SubjectName::Email(candidate)) => pattern == candidate,
            _ => false,
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_name_is_normalised() {
        let name = SubjectName::parse("Web.Example.COM.").unwrap();
        assert_eq!(name, SubjectName::Dns("web.example.com".to_owned()));
    }

    #[test]
    fn ip_addresses_parse() {
        assert_eq!(
            SubjectName::parse("127.0.0.1").unwrap(),
            SubjectName::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            SubjectName::parse("[::1]").unwrap(),
            SubjectName::Ip("::1".parse().unwrap())
        );
    }

    #[test]
    fn invalid_dns_names_are_rejected() {
        for bad in [
            "",
            ".",
            "a..b",
            "-a.example",
            "a-.example",
            "a_b.example",
            "x.*.example",
            "*.com",
            "bücher.example",
            "1.2.3",
            &"a".repeat(64),
        ] {
            assert!(SubjectName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn pattern_wildcard_allows_one_label() {
        let pattern = NamePattern::parse("*.svc.example").unwrap();
        let allowed = |name: &str| pattern.allows(&SubjectName::parse(name).unwrap());
        assert!(allowed("api.svc.example"));
        assert!(allowed("*.svc.example"));
        assert!(!allowed("svc.example"));
        assert!(!allowed("a.b.svc.example"));
        assert!(!allowed("evilsvc.example"));
    }

    #[test]
    fn idna_names_become_a_labels() {
        let name = SubjectName::parse_normalized("Bücher.Example.").unwrap();
        assert_eq!(name, SubjectName::Dns("xn--bcher-kva.example".to_owned()));
        let wildcard = SubjectName::parse_normalized("*.bücher.example").unwrap();
        assert_eq!(
            wildcard,
            SubjectName::Dns("*.xn--bcher-kva.example".to_owned())
        );
        assert!(SubjectName::parse_normalized("bad\u{FFFD}.example").is_err());
    }

    #[test]
    fn uri_and_email_parse() {
        assert_eq!(
            SubjectName::parse_uri("spiffe://prod/api").unwrap(),
            SubjectName::Uri("spiffe://prod/api".to_owned())
        );
        assert!(SubjectName::parse_uri("no scheme").is_err());
        assert!(SubjectName::parse_uri("/relative").is_err());
        assert_eq!(
            SubjectName::parse_email("Ops@Example.COM").unwrap(),
            SubjectName::Email("Ops@example.com".to_owned())
        );
        assert!(SubjectName::parse_email("nobody").is_err());
        assert!(SubjectName::parse_email("a@*.example.com").is_err());
    }

    #[test]
    fn pattern_exact_name_and_ip() {
        let dns = NamePattern::parse("api.example").unwrap();
        let ip = NamePattern::parse("10.0.0.1").unwrap();
        assert!(dns.allows(&SubjectName::parse("API.example.").unwrap()));
        assert!(!dns.allows(&SubjectName::parse("www.example").unwrap()));
        assert!(ip.allows(&SubjectName::parse("10.0.0.1").unwrap()));
        assert!(!ip.allows(&SubjectName::parse("10.0.0.2").unwrap()));
    }
}
