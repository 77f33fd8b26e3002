//! Policy profiles: which names, key types, lifetimes and extended key usages
//! a certificate issued under a profile may have. `[profiles.NAME]` tables in
//! `issuer.toml` define them; a built-in `default` profile keeps the behaviour
//! of an issuer without profiles.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ironroot_core::csr::CsrKeyType;
use ironroot_core::names::{NamePattern, SubjectName};
use serde::Deserialize;
use time::Duration;

use crate::error::Error;

/// Name of the profile used when a token names none.
pub const DEFAULT_PROFILE: &str = "default";
/// Longest `backdate` accepted.
pub const MAX_BACKDATE: Duration = Duration::minutes(10);

/// A `[profiles.NAME]` table as written by the operator.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// DNS patterns (exact or `*.suffix`) a name must match.
    pub allowed_dns: Option<Vec<String>>,
    /// DNS patterns no name may match; checked before `allowed_dns`.
    pub denied_dns: Option<Vec<String>>,
    /// CIDR ranges an IP SAN must fall in.
    pub allowed_ip_ranges: Option<Vec<String>>,
    /// URI prefixes a URI SAN must start with.
    pub allowed_uri_prefixes: Option<Vec<String>>,
    /// Domains an email SAN must be in.
    pub allowed_email_domains: Option<Vec<String>>,
    /// Key types: `ecdsa-p256`, `ecdsa-p384`, `ed25519`, `rsa`.
    pub key_types: Option<Vec<String>>,
    /// Smallest RSA modulus, in bits.
    pub min_rsa_bits: Option<usize>,
    /// Lifetime when the request names none.
    pub default_lifetime: Option<String>,
    /// Maximum lifetime a request may set.
    pub max_lifetime: Option<String>,
    /// Extended key usages: `server_auth`, `client_auth`.
    pub extended_key_usages: Option<Vec<String>>,
    /// Cut a lifetime that would outlive the intermediate (true) or reject it.
    pub clamp_to_issuer: Option<bool>,
    /// Whether a renewal may request other names than the current certificate.
    pub allow_name_change_on_renew: Option<bool>,
}

/// An IP range in CIDR notation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
    text: String,
}

impl IpRange {
    /// Parses `ADDR/PREFIX`, or a single address.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an IP range such as `10.0.0.0/8`"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= max)
                .ok_or_else(|| format!("`{text}` has a prefix length above {max}"))?,
            None => max,
        };
        Ok(Self {
            network,
            prefix,
            text: text.to_owned(),
        })
    }

    /// Returns whether `ip` lies in the range.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                prefix_matches(&network.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                prefix_matches(&network.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_matches(network: &[u8], ip: &[u8], prefix: u8) -> bool {
    let mut remaining = usize::from(prefix);
    for (a, b) in network.iter().zip(ip) {
        if remaining == 0 {
            return true;
        }
        let bits = remaining.min(8);
        let mask = 0xffu8 << (8 - bits);
        if a & mask != b & mask {
            return false;
        }
        remaining -= bits;
    }
    true
}

/// A validated profile.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    allowed_dns: Option<Vec<NamePattern>>,
    denied_dns: Vec<NamePattern>,
    allowed_ip_ranges: Option<Vec<IpRange>>,
    allowed_uri_prefixes: Option<Vec<String>>,
    allowed_email_domains: Option<Vec<String>>,
    key_types: Vec<String>,
    /// Smallest RSA modulus, in bits.
    pub min_rsa_bits: usize,
    /// Lifetime when the request names none.
    pub default_lifetime: Duration,
    /// Maximum lifetime a request may set.
    pub max_lifetime: Duration,
    /// Whether serverAuth is set.
    pub server_auth: bool,
    /// Whether clientAuth is set.
    pub client_auth: bool,
    /// Cut a lifetime at the intermediate's notAfter (true) or reject it.
    pub clamp_to_issuer: bool,
    /// Whether a renewal may change the names.
    pub allow_name_change_on_renew: bool,
}

/// Reason a profile rejects a request. The API maps each variant to a status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// A name no rule allows, or one a rule denies.
    NameNotAllowed { name: String, rule: String },
    /// A key type or size the profile does not allow.
    KeyNotAllowed(String),
    /// A lifetime above the profile's maximum.
    LifetimeTooLong(String),
}

impl Profile {
    /// The built-in `default` profile: every name the token allows, every key
    /// type with RSA of at least 2048 bits, serverAuth and clientAuth.
    pub fn builtin(default_lifetime: Duration, max_lifetime: Duration) -> Self {
        Self {
            name: DEFAULT_PROFILE.to_owned(),
            allowed_dns: None,
            denied_dns: Vec::new(),
            allowed_ip_ranges: None,
            allowed_uri_prefixes: Some(Vec::new()),
            allowed_email_domains: Some(Vec::new()),
            key_types: KEY_TYPES.iter().map(|k| (*k).to_owned()).collect(),
            min_rsa_bits: ironroot_core::csr::MIN_RSA_BITS,
            default_lifetime,
            max_lifetime,
            server_auth: true,
            client_auth: true,
            clamp_to_issuer: true,
            allow_name_change_on_renew: false,
        }
    }

    /// Validates a `[profiles.NAME]` table. `fallback_*` are the top-level
    /// `leaf_validity` and `max_leaf_validity`.
    pub fn from_file(
        name: &str,
        file: ProfileFile,
        fallback_default: Duration,
        fallback_max: Duration,
    ) -> Result<Self, Error> {
        let key = |field: &str| format!("profiles.{name}.{field}");
        let value_error = |field: &str, reason: String| Error::ConfigValue {
            key: "profiles",
            reason: format!("`{}` {reason}", key(field)),
        };
        let patterns = |field: &str, list: Option<Vec<String>>| {
            list.map(|list| {
                list.iter()
                    .map(|entry| {
                        match SubjectName::parse_normalized(entry) {
                            Ok(SubjectName::Dns(dns)) => NamePattern::parse(&dns),
                            Ok(other) => Err(ironroot_core::Error::InvalidName {
                                name: other.to_string(),
                                reason: "is not a DNS name or `*.suffix` pattern".to_owned(),
                            }),
                            Err(error) => Err(error),
                        }
                        .map_err(|error| value_error(field, format!("contains {error}")))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
        };
        let allowed_dns = patterns("allowed_dns", file.allowed_dns)?;
        let denied_dns = patterns("denied_dns", file.denied_dns)?.unwrap_or_default();
        let allowed_ip_ranges = file
            .allowed_ip_ranges
            .map(|list| {
                list.iter()
                    .map(|range| {
                        IpRange::parse(range)
                            .map_err(|reason| value_error("allowed_ip_ranges", reason))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let allowed_email_domains = file
            .allowed_email_domains
            .map(|list| {
                list.iter()
                    .map(|domain| match SubjectName::parse_normalized(domain) {
                        Ok(SubjectName::Dns(dns)) if !dns.starts_with("*.") => Ok(dns),
                        _ => Err(value_error(
                            "allowed_email_domains",
                            format!("contains `{domain}`, which is not a domain name"),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let key_types = file
            .key_types
            .unwrap_or_else(|| KEY_TYPES.iter().map(|k| (*k).to_owned()).collect());
        if key_types.is_empty() {
            return Err(value_error("key_types", "is empty".to_owned()));
        }
        for key_type in &key_types {
            if !KEY_TYPES.contains(&key_type.as_str()) {
                return Err(value_error(
                    "key_types",
                    format!(
                        "contains `{key_type}`; allowed values are {}",
                        KEY_TYPES.join(", ")
                    ),
                ));
            }
        }
        let min_rsa_bits = file
            .min_rsa_bits
            .unwrap_or(ironroot_core::csr::MIN_RSA_BITS);
        if !(ironroot_core::csr::MIN_RSA_BITS..=16384).contains(&min_rsa_bits) {
            return Err(value_error(
                "min_rsa_bits",
                format!("is {min_rsa_bits}; allowed values are 2048 to 16384"),
            ));
        }
        let lifetime = |field: &str, text: Option<String>, fallback: Duration| match text {
            None => Ok(fallback),
            Some(text) => {
                ironroot_core::duration::parse(&text).map_err(|reason| value_error(field, reason))
            }
        };
        let max_lifetime = lifetime("max_lifetime", file.max_lifetime, fallback_max)?;
        let default_lifetime = lifetime(
            "default_lifetime",
            file.default_lifetime,
            fallback_default.min(max_lifetime),
        )?;
        if default_lifetime > max_lifetime {
            return Err(value_error(
                "default_lifetime",
                format!(
                    "is {}, longer than `{}` ({})",
                    ironroot_core::duration::format(default_lifetime),
                    key("max_lifetime"),
                    ironroot_core::duration::format(max_lifetime)
                ),
            ));
        }
        let usages = file
            .extended_key_usages
            .unwrap_or_else(|| vec!["server_auth".to_owned(), "client_auth".to_owned()]);
        for usage in &usages {
            if usage != "server_auth" && usage != "client_auth" {
                return Err(value_error(
                    "extended_key_usages",
                    format!("contains `{usage}`; allowed values are server_auth, client_auth"),
                ));
            }
        }
        let server_auth = usages.iter().any(|usage| usage == "server_auth");
        let client_auth = usages.iter().any(|usage| usage == "client_auth");
        if !server_auth && !client_auth {
            return Err(value_error(
                "extended_key_usages",
                "is empty; list server_auth, client_auth or both".to_owned(),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            allowed_dns,
            denied_dns,
            allowed_ip_ranges,
            allowed_uri_prefixes: file.allowed_uri_prefixes.or(Some(Vec::new())),
            allowed_email_domains: allowed_email_domains.or(Some(Vec::new())),
            key_types,
            min_rsa_bits,
            default_lifetime,
            max_lifetime,
            server_auth,
            client_auth,
            clamp_to_issuer: file.clamp_to_issuer.unwrap_or(true),
            allow_name_change_on_renew: file.allow_name_change_on_renew.unwrap_or(false),
        })
    }

    /// Checks every name and returns the first one the profile rejects, with
    /// the rule that rejected it. URI and email SANs are allowed only when the
    /// profile lists prefixes or domains for them.
    pub fn check_names(&self, names: &[SubjectName]) -> Result<(), PolicyError> {
        for name in names {
            self.check_name(name)?;
        }
        Ok(())
    }

    fn check_name(&self, name: &SubjectName) -> Result<(), PolicyError> {
        let reject = |rule: String| PolicyError::NameNotAllowed {
            name: name.to_string(),
            rule: format!("profile `{}`: {rule}", self.name),
        };
        match name {
            SubjectName::Dns(_) => {
                if let Some(pattern) = self.denied_dns.iter().find(|p| p.allows(name)) {
                    return Err(reject(format!("denied_dns contains `{pattern}`")));
                }
                match &self.allowed_dns {
                    Some(allowed) if !allowed.iter().any(|p| p.allows(name)) => {
                        Err(reject(format!("allowed_dns is [{}]", join(allowed))))
                    }
                    _ => Ok(()),
                }
            }
            SubjectName::Ip(ip) => match &self.allowed_ip_ranges {
                Some(ranges) if !ranges.iter().any(|range| range.contains(ip)) => {
                    let listed: Vec<&str> = ranges.iter().map(|r| r.text.as_str()).collect();
                    Err(reject(format!(
                        "allowed_ip_ranges is [{}]",
                        listed.join(", ")
                    )))
                }
                _ => Ok(()),
            },
            SubjectName::Uri(uri) => match &self.allowed_uri_prefixes {
                Some(prefixes) if !prefixes.iter().any(|prefix| uri.starts_with(prefix)) => Err(
                    reject(format!("allowed_uri_prefixes is [{}]", prefixes.join(", "))),
                ),
                _ => Ok(()),
            },
            SubjectName::Email(email) => {
                let domain = email.rsplit_once('@').map_or("", |(_, domain)| domain);
                match &self.allowed_email_domains {
                    Some(domains) if !domains.iter().any(|d| d == domain) => Err(reject(format!(
                        "allowed_email_domains is [{}]",
                        domains.join(", ")
                    ))),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Checks the CSR's key type and size.
    pub fn check_key(&self, key_type: CsrKeyType) -> Result<(), PolicyError> {
        let family = match key_type {
            CsrKeyType::EcdsaP256 => "ecdsa-p256",
            CsrKeyType::EcdsaP384 => "ecdsa-p384",
            CsrKeyType::Ed25519 => "ed25519",
            CsrKeyType::Rsa(_) => "rsa",
        };
        if !self.key_types.iter().any(|allowed| allowed == family) {
            return Err(PolicyError::KeyNotAllowed(format!(
                "the key type {key_type} is not allowed by profile `{}`, which allows {}",
                self.name,
                self.key_types.join(", ")
            )));
        }
        if let CsrKeyType::Rsa(bits) = key_type
            && bits < self.min_rsa_bits
        {
            return Err(PolicyError::KeyNotAllowed(format!(
                "the RSA key has {bits} bits; profile `{}` requires at least {} (min_rsa_bits)",
                self.name, self.min_rsa_bits
            )));
        }
        Ok(())
    }

    /// Returns the lifetime for a request: `requested` seconds, or the default.
    pub fn lifetime(&self, requested: Option<u64>) -> Result<Duration, PolicyError> {
        let Some(seconds) = requested else {
            return Ok(self.default_lifetime);
        };
        let too_long = || {
            PolicyError::LifetimeTooLong(format!(
                "`validity_seconds` is {seconds}; profile `{}` allows 1 to {} seconds (max_lifetime = {})",
                self.name,
                self.max_lifetime.whole_seconds(),
                ironroot_core::duration::format(self.max_lifetime)
            ))
        };
        let lifetime = i64::try_from(seconds)
            .ok()
            .filter(|seconds| *seconds > 0)
            .map(Duration::seconds)
            .ok_or_else(too_long)?;
        if lifetime > self.max_lifetime {
            return Err(too_long());
        }
        Ok(lifetime)
    }
}

fn join(patterns: &[NamePattern]) -> String {
    let listed: Vec<String> = patterns.iter().map(ToString::to_string).collect();
    listed.join(", ")
}

/// Key type names accepted in `key_types`.
const KEY_TYPES: &[&str] = &["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa"];

/// Validates every `[profiles.NAME]` table and adds the built-in `default`
/// profile unless the file defines one.
pub fn build_profiles(
    files: Option<BTreeMap<String, ProfileFile>>,
    default_lifetime: Duration,
    max_lifetime: Duration,
) -> Result<BTreeMap<String, Profile>, Error> {
    let mut profiles = BTreeMap::new();
    for (name, file) in files.unwrap_or_default() {
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_name {
            return Err(Error::ConfigValue {
                key: "profiles",
                reason: format!(
                    "contains the profile name `{name}`; use 1 to 64 characters from a-z, 0-9, `-` and `_`"
                ),
            });
        }
        let profile = Profile::from_file(&name, file, default_lifetime, max_lifetime)?;
        profiles.insert(name, profile);
    }
    profiles
        .entry(DEFAULT_PROFILE.to_owned())
        .or_insert_with(|| Profile::builtin(default_lifetime, max_lifetime));
    Ok(profiles)
}

/// Parses a rate `N/period`, such as `100/1h`, into a count and a period.
pub fn parse_rate(key: &'static str, text: &str) -> Result<(u32, Duration), Error> {
    let invalid = || Error::ConfigValue {
        key,
        reason: format!(
            "is `{text}`; write a count and a period such as `100/1h` (period units s, m, h, d)"
        ),
    };
    let (count, period) = text.split_once('/').ok_or_else(invalid)?;
    let count: u32 = count
        .trim()
        .parse()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(invalid)?;
    let period = ironroot_core::duration::parse(period).map_err(|_| invalid())?;
    Ok((count, period))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Result<Profile, Error> {
        let file: ProfileFile = toml::from_str(text).unwrap();
        Profile::from_file("p", file, Duration::hours(24), Duration::days(90))
    }

    fn name(text: &str) -> SubjectName {
        match text {
            t if t.contains("://") || t.starts_with("urn:") => SubjectName::parse_uri(t).unwrap(),
            t if t.contains('@') => SubjectName::parse_email(t).unwrap(),
            t => SubjectName::parse_normalized(t).unwrap(),
        }
    }

    #[test]
    fn dns_allow_and_deny() {
        let p = profile(
            "allowed_dns = [\"*.svc.example\", \"api.example\"]\ndenied_dns = [\"admin.svc.example\"]",
        )
        .unwrap();
        assert!(p.check_names(&[name("a.svc.example")]).is_ok());
        assert!(p.check_names(&[name("api.example")]).is_ok());
        let denied = p.check_names(&[name("admin.svc.example")]).unwrap_err();
        assert!(format!("{denied:?}").contains("denied_dns"), "{denied:?}");
        let outside = p.check_names(&[name("www.example")]).unwrap_err();
        assert!(
            format!("{outside:?}").contains("allowed_dns"),
            "{outside:?}"
        );
    }

    #[test]
    fn ip_uri_email_rules() {
        let p = profile(
            "allowed_ip_ranges = [\"10.0.0.0/8\", \"fd00::/8\"]\nallowed_uri_prefixes = [\"spiffe://prod/\"]\nallowed_email_domains = [\"ops.example\"]",
        )
        .unwrap();
        assert!(p.check_names(&[name("10.1.2.3"), name("fd00::1")]).is_ok());
        assert!(p.check_names(&[name("192.168.0.1")]).is_err());
        assert!(p.check_names(&[name("spiffe://prod/api")]).is_ok());
        assert!(p.check_names(&[name("spiffe://dev/api")]).is_err());
        assert!(p.check_names(&[name("a@ops.example")]).is_ok());
        assert!(p.check_names(&[name("a@evil.example")]).is_err());
        let builtin = Profile::builtin(Duration::hours(1), Duration::hours(2));
        assert!(builtin.check_names(&[name("spiffe://prod/api")]).is_err());
        assert!(builtin.check_names(&[name("any.example")]).is_ok());
    }

    #[test]
    fn key_types_and_sizes() {
        let p = profile("key_types = [\"ecdsa-p384\", \"rsa\"]\nmin_rsa_bits = 3072").unwrap();
        assert!(p.check_key(CsrKeyType::EcdsaP384).is_ok());
        assert!(p.check_key(CsrKeyType::EcdsaP256).is_err());
        assert!(p.check_key(CsrKeyType::Rsa(3072)).is_ok());
        assert!(p.check_key(CsrKeyType::Rsa(2048)).is_err());
    }

    #[test]
    fn lifetime_is_capped() {
        let p = profile("default_lifetime = \"1h\"\nmax_lifetime = \"2h\"").unwrap();
        assert_eq!(p.lifetime(None).unwrap(), Duration::hours(1));
        assert_eq!(p.lifetime(Some(600)).unwrap(), Duration::minutes(10));
        let error = p.lifetime(Some(7201)).unwrap_err();
        assert!(format!("{error:?}").contains("7200"), "{error:?}");
    }

    #[test]
    fn config_errors_name_the_key() {
        let error = profile("key_types = [\"dsa\"]").unwrap_err().to_string();
        assert!(error.contains("profiles.p.key_types"), "{error}");
        let error = profile("extended_key_usages = [\"code_signing\"]")
            .unwrap_err()
            .to_string();
        assert!(error.contains("profiles.p.extended_key_usages"), "{error}");
        let error = profile("allowed_ip_ranges = [\"10.0.0.0/33\"]")
            .unwrap_err()
            .to_string();
        assert!(error.contains("profiles.p.allowed_ip_ranges"), "{error}");
        assert!(toml::from_str::<ProfileFile>("alowed_dns = []").is_err());
    }

    #[test]
    fn rates_parse() {
        assert_eq!(
            parse_rate("r", "10/1m").unwrap(),
            (10, Duration::minutes(1))
        );
        assert!(parse_rate("r", "10").is_err());
        assert!(parse_rate("r", "0/1m").is_err());
    }
}
