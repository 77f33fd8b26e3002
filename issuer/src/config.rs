//! The daemon's configuration: `issuer.toml` (every key optional), overridden
//! by command-line flags, then checked once by [`FileConfig::validate`] before
//! any key or socket is touched.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ironroot_core::names::SubjectName;
use serde::Deserialize;
use time::Duration;

use crate::authority::policy::{self, MAX_BACKDATE, Profile, ProfileFile};
use crate::authority::ratelimit::Rate;
use crate::error::Error;

/// Maximum bootstrap-token lifetime that any configuration may set.
const TOKEN_TTL_CEILING: Duration = Duration::hours(24);
/// Smallest accepted `max_body_bytes`: a P-384 CSR with a few names fits easily.
const MIN_BODY_BYTES: u64 = 4096;
/// Largest accepted `max_body_bytes`.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// Largest accepted `commit_batch_max`.
const MAX_COMMIT_BATCH: u64 = 65_536;
/// Largest accepted `max_connections` (per listener).
const MAX_CONNECTIONS_CEILING: u64 = 1_000_000;

/// `issuer.toml` as written by the operator.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Socket address to listen on.
    pub listen: Option<String>,
    /// DNS names and IP addresses of the daemon's own TLS certificate.
    pub server_names: Option<Vec<String>>,
    /// External TLS certificate chain (PEM) used instead of a self-issued one.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PKCS#8 PEM) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP; only allowed on loopback addresses.
    pub plain_http: Option<bool>,
    /// Validity of issued leaf certificates.
    pub leaf_validity: Option<String>,
    /// Upper bound for `leaf_validity`.
    pub max_leaf_validity: Option<String>,
    /// Default bootstrap-token lifetime.
    pub token_ttl: Option<String>,
    /// Maximum bootstrap-token lifetime an admin may request.
    pub max_token_ttl: Option<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: Option<u64>,
    /// Most jobs the database writer commits in one transaction.
    pub commit_batch_max: Option<u64>,
    /// Plain-HTTP listener that serves only the CRL and OCSP paths.
    pub crl_listen: Option<String>,
    /// URL prefix of the CRLs written into issued certificates.
    pub crl_url: Option<String>,
    /// OCSP responder URL written into issued certificates.
    pub ocsp_url: Option<String>,
    /// Lifetime of a CRL (nextUpdate - thisUpdate).
    pub crl_validity: Option<String>,
    /// How long before an intermediate's notAfter the daemon starts warning.
    pub expiry_warning: Option<String>,
    /// How far notBefore lies before the signing time; at most 10m.
    pub backdate: Option<String>,
    /// How long after expiry a certificate may still renew; unset means never.
    pub renewal_grace: Option<String>,
    /// Certificates per token profile and period, as `N/period`.
    pub rate_limit_per_profile: Option<String>,
    /// Certificates per requested name and period, as `N/period`.
    pub rate_limit_per_name: Option<String>,
    /// Idle time after which a connection with no request in flight is closed.
    pub idle_timeout: Option<String>,
    /// Maximum number of open connections per listener.
    pub max_connections: Option<u64>,
    /// Policy profiles, `[profiles.NAME]`.
    pub profiles: Option<BTreeMap<String, ProfileFile>>,
}

/// Source of the daemon's TLS certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSource {
    /// Issue a server certificate from the active intermediate at start-up.
    SelfIssued,
    /// Load a certificate chain and key from files.
    External {
        /// PEM certificate chain, leaf first.
        certificate: PathBuf,
        /// PKCS#8 PEM private key.
        key: PathBuf,
    },
    /// No TLS (loopback only).
    PlainHttp,
}

/// The validated configuration the daemon runs with.
#[derive(Clone, Debug)]
pub struct Config {
    /// Socket address to listen on.
    pub listen: SocketAddr,
    /// Names of the self-issued TLS certificate.
    pub server_names: Vec<SubjectName>,
    /// TLS mode.
    pub tls: TlsSource,
    /// Validity of issued leaf certificates.
    pub leaf_validity: Duration,
    /// Upper bound for `leaf_validity`.
    pub max_leaf_validity: Duration,
    /// Default bootstrap-token lifetime.
    pub token_ttl: Duration,
    /// Maximum bootstrap-token lifetime.
    pub max_token_ttl: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Maximum number of writer jobs committed in one database transaction.
    pub commit_batch_max: usize,
    /// Plain-HTTP listener for the CRL and OCSP paths, if any.
    pub crl_listen: Option<SocketAddr>,
    /// URL prefix of the CRL distribution point; the intermediate's SHA-256
    /// is appended after a `/`.
    pub crl_url: Option<String>,
    /// OCSP responder URL for the authorityInfoAccess extension.
    pub ocsp_url: Option<String>,
    /// Lifetime of a CRL.
    pub crl_validity: Duration,
    /// Warning window before an intermediate's notAfter.
    pub expiry_warning: Duration,
    /// How far notBefore lies before the signing time.
    pub backdate: Duration,
    /// How long after expiry a certificate may still renew.
    pub renewal_grace: Option<Duration>,
    /// Limit per token profile.
    pub rate_limit_per_profile: Option<Rate>,
    /// Limit per requested name.
    pub rate_limit_per_name: Option<Rate>,
    /// Idle time after which a connection with no request in flight is closed.
    pub idle_timeout: std::time::Duration,
    /// Maximum number of open connections per listener.
    pub max_connections: usize,
    /// Policy profiles by name, always with a `default` profile.
    pub profiles: BTreeMap<String, Profile>,
}

impl FileConfig {
    /// Reads `path`, or `data_dir/issuer.toml` if `path` is `None` and that file
    /// exists, or returns the defaults.
    pub fn load(path: Option<&Path>, data_dir: &Path) -> Result<Self, Error> {
        let default_path = data_dir.join("issuer.toml");
        let path = match path {
            Some(path) => path.to_owned(),
            None if default_path.exists() => default_path,
            None => return Ok(Self::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|error| Error::ConfigSyntax {
            path: path.clone(),
            reason: format!("cannot read the file ({error})"),
        })?;
        toml::from_str(&text).map_err(|error| Error::ConfigSyntax {
            path,
            reason: error.to_string(),
        })
    }

    /// Checks every value and applies the defaults.
    pub fn validate(self) -> Result<Config, Error> {
        let listen_text = self.listen.as_deref().unwrap_or("127.0.0.1:8443");
        let listen: SocketAddr = listen_text.parse().map_err(|_| Error::ConfigValue {
            key: "listen",
            reason: format!(
                "is `{listen_text}`, expected an IP address and port such as `127.0.0.1:8443` or `[::]:8443`"
            ),
        })?;
        let server_names = parse_server_names(self.server_names)?;
        let tls = tls_source(
            self.plain_http.unwrap_or(false),
            self.tls_cert,
            self.tls_key,
        )?;
        if tls == TlsSource::PlainHttp && !listen.ip().is_loopback() {
            return Err(Error::PlainHttpNotLoopback {
                listen: listen.to_string(),
            });
        }
        let leaf_validity = duration("leaf_validity", self.leaf_validity, "24h")?;
        let max_leaf_validity = duration("max_leaf_validity", self.max_leaf_validity, "90d")?;
        if leaf_validity > max_leaf_validity {
            return Err(Error::ConfigValue {
                key: "leaf_validity",
                reason: format!(
                    "is {}, longer than `max_leaf_validity` ({})",
                    ironroot_core::duration::format(leaf_validity),
                    ironroot_core::duration::format(max_leaf_validity)
                ),
            });
        }
        let token_ttl = duration("token_ttl", self.token_ttl, "10m")?;
        let max_token_ttl = duration("max_token_ttl", self.max_token_ttl, "24h")?;
        if max_token_ttl > TOKEN_TTL_CEILING {
            return Err(Error::ConfigValue {
                key: "max_token_ttl",
                reason: format!(
                    "is {}; bootstrap tokens live at most 24h",
                    ironroot_core::duration::format(max_token_ttl)
                ),
            });
        }
        if token_ttl > max_token_ttl {
            return Err(Error::ConfigValue {
                key: "token_ttl",
                reason: format!(
                    "is {}, longer than `max_token_ttl` ({})",
                    ironroot_core::duration::format(token_ttl),
                    ironroot_core::duration::format(max_token_ttl)
                ),
            });
        }
        let max_body_bytes = in_range(
            "max_body_bytes",
            self.max_body_bytes.unwrap_or(65_536),
            MIN_BODY_BYTES,
            MAX_BODY_BYTES,
        )?;
        let commit_batch_max = in_range(
            "commit_batch_max",
            self.commit_batch_max.unwrap_or(256),
            1,
            MAX_COMMIT_BATCH,
        )?;
        let crl_listen = match self.crl_listen.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| Error::ConfigValue {
                key: "crl_listen",
                reason: format!(
                    "is `{text}`, expected an IP address and port such as `0.0.0.0:8080`"
                ),
            })?),
        };
        let crl_url = url("crl_url", self.crl_url)?;
        let ocsp_url = url("ocsp_url", self.ocsp_url)?;
        let crl_validity = duration("crl_validity", self.crl_validity, "24h")?;
        if crl_validity < Duration::seconds(3) {
            return Err(Error::ConfigValue {
                key: "crl_validity",
                reason:
                    "is shorter than 3s; relying parties could not fetch a CRL before it expires"
                        .to_owned(),
            });
        }
        let expiry_warning = duration("expiry_warning", self.expiry_warning, "30d")?;
        let backdate = duration("backdate", self.backdate, "60s")?;
        if backdate > MAX_BACKDATE {
            return Err(Error::ConfigValue {
                key: "backdate",
                reason: format!(
                    "is {}; notBefore is backdated at most 10m",
                    ironroot_core::duration::format(backdate)
                ),
            });
        }
        let renewal_grace = match self.renewal_grace {
            None => None,
            Some(text) => Some(duration("renewal_grace", Some(text), "unset")?),
        };
        let rate = |key: &'static str, text: Option<String>| {
            text.map(|text| {
                policy::parse_rate(key, &text).map(|(count, period)| Rate {
                    count,
                    period: std::time::Duration::from_secs(period.whole_seconds().unsigned_abs()),
                })
            })
            .transpose()
        };
        let rate_limit_per_profile = rate("rate_limit_per_profile", self.rate_limit_per_profile)?;
        let rate_limit_per_name = rate("rate_limit_per_name", self.rate_limit_per_name)?;
        let idle_timeout = idle_timeout(self.idle_timeout)?;
        let max_connections = in_range(
            "max_connections",
            self.max_connections.unwrap_or(4096),
            1,
            MAX_CONNECTIONS_CEILING,
        )?;
        let profiles = policy::build_profiles(self.profiles, leaf_validity, max_leaf_validity)?;
        Ok(Config {
            idle_timeout,
            max_connections,
            backdate,
            renewal_grace,
            rate_limit_per_profile,
            rate_limit_per_name,
            profiles,
            listen,
            server_names,
            tls,
            leaf_validity,
            max_leaf_validity,
            token_ttl,
            max_token_ttl,
            max_body_bytes,
            commit_batch_max,
            crl_listen,
            crl_url,
            ocsp_url,
            crl_validity,
            expiry_warning,
        })
    }
}

/// Checks a URL written into certificates: `http://` or `https://`, printable
/// ASCII without spaces, and no trailing `/`.
fn url(key: &'static str, value: Option<String>) -> Result<Option<String>, Error> {
    let Some(text) = value else {
        return Ok(None);
    };
    let has_scheme = text.starts_with("http://") || text.starts_with("https://");
    let printable = text.bytes().all(|byte| byte.is_ascii_graphic());
    if !has_scheme || !printable || text.ends_with('/') {
        return Err(Error::ConfigValue {
            key,
            reason: format!(
                "is `{text}`, expected an http:// or https:// URL of printable ASCII without a trailing `/`"
            ),
        });
    }
    Ok(Some(text))
}

fn parse_server_names(names: Option<Vec<String>>) -> Result<Vec<SubjectName>, Error> {
    let names = names.unwrap_or_else(|| {
        ["localhost", "127.0.0.1", "::1"]
            .map(str::to_owned)
            .to_vec()
    });
    if names.is_empty() {
        return Err(Error::ConfigValue {
            key: "server_names",
            reason: "is empty; list at least one DNS name or IP address clients connect to"
                .to_owned(),
        });
    }
    let mut parsed = Vec::with_capacity(names.len());
    for name in &names {
        let subject_name = SubjectName::parse(name).map_err(|error| Error::ConfigValue {
            key: "server_names",
            reason: format!("contains an invalid entry: {error}"),
        })?;
        if !parsed.contains(&subject_name) {
            parsed.push(subject_name);
        }
    }
    Ok(parsed)
}

fn tls_source(
    plain_http: bool,
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<TlsSource, Error> {
    match (plain_http, certificate, key) {
        (true, None, None) => Ok(TlsSource::PlainHttp),
        (true, _, _) => Err(Error::ConfigValue {
            key: "plain_http",
            reason: "is true while `tls_cert` or `tls_key` is set; choose one of the two"
                .to_owned(),
        }),
        (false, None, None) => Ok(TlsSource::SelfIssued),
        (false, Some(certificate), Some(key)) => Ok(TlsSource::External { certificate, key }),
        (false, Some(_), None) => Err(Error::ConfigValue {
            key: "tls_key",
            reason: "is missing; `tls_cert` and `tls_key` must be set together".to_owned(),
        }),
        (false, None, Some(_)) => Err(Error::ConfigValue {
            key: "tls_cert",
            reason: "is missing; `tls_cert` and `tls_key` must be set together".to_owned(),
        }),
    }
}

fn idle_timeout(value: Option<String>) -> Result<std::time::Duration, Error> {
    let idle_timeout = duration("idle_timeout", value, "60s")?;
    if idle_timeout < Duration::SECOND {
        return Err(Error::ConfigValue {
            key: "idle_timeout",
            reason: "is shorter than 1s, too short for a client to send a request".to_owned(),
        });
    }
    Ok(std::time::Duration::from_secs(
        idle_timeout.whole_seconds().unsigned_abs(),
    ))
}

fn duration(key: &'static str, value: Option<String>, default: &str) -> Result<Duration, Error> {
    let text = value.as_deref().unwrap_or(default);
    ironroot_core::duration::parse(text).map_err(|reason| Error::ConfigValue {
        key,
        reason: format!("{reason} (default {default})"),
    })
}

fn in_range(key: &'static str, value: u64, min: u64, max: u64) -> Result<usize, Error> {
    if !(min..=max).contains(&value) {
        return Err(Error::ConfigValue {
            key,
            reason: format!("is {value}; allowed values are {min} to {max}"),
        });
    }
    usize::try_from(value).map_err(|_| Error::ConfigValue {
        key,
        reason: format!("is {value}, too large for this platform"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        toml::from_str::<FileConfig>(text).unwrap().validate()
    }

    #[test]
    fn config_defaults_apply() {
        let config = parse("").unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.server_names.len(), 3);
        assert_eq!(config.tls, TlsSource::SelfIssued);
        assert_eq!(config.leaf_validity, Duration::hours(24));
        assert_eq!(config.token_ttl, Duration::minutes(10));
        assert_eq!(config.max_body_bytes, 65_536);
        assert_eq!(config.commit_batch_max, 256);
        assert_eq!(config.crl_validity, Duration::hours(24));
        assert_eq!(config.expiry_warning, Duration::days(30));
        assert!(config.crl_listen.is_none());
        assert_eq!(config.idle_timeout, std::time::Duration::from_secs(60));
        assert_eq!(config.max_connections, 4096);
    }

    #[test]
    fn config_checks_connection_limits() {
        let config = parse("idle_timeout = \"2s\"\nmax_connections = 2").unwrap();
        assert_eq!(config.idle_timeout, std::time::Duration::from_secs(2));
        assert_eq!(config.max_connections, 2);
        let error = parse("idle_timeout = \"0s\"").unwrap_err().to_string();
        assert!(error.contains("`idle_timeout`"), "{error}");
        let error = parse("max_connections = 0").unwrap_err().to_string();
        assert!(error.contains("`max_connections`"), "{error}");
        assert!(error.contains("1 to 1000000"), "{error}");
    }

    #[test]
    fn config_checks_revocation_urls() {
        let config =
            parse("crl_url = \"http://ca.example:8080/v1/crl\"\ncrl_listen = \"0.0.0.0:8080\"")
                .unwrap();
        assert_eq!(
            config.crl_url.as_deref(),
            Some("http://ca.example:8080/v1/crl")
        );
        assert_eq!(config.crl_listen.unwrap().to_string(), "0.0.0.0:8080");
        let error = parse("ocsp_url = \"ftp://x\"").unwrap_err().to_string();
        assert!(error.contains("`ocsp_url`"), "{error}");
        let error = parse("crl_validity = \"1s\"").unwrap_err().to_string();
        assert!(error.contains("`crl_validity`"), "{error}");
    }

    #[test]
    fn config_rejects_unknown_key() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
    }

    #[test]
    fn config_rejects_plain_http_beyond_loopback() {
        let error = parse("plain_http = true\nlisten = \"0.0.0.0:8080\"").unwrap_err();
        assert!(
            matches!(error, Error::PlainHttpNotLoopback { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("TLS is required"), "{error}");
        assert_eq!(error.exit_code(), 2);
        let loopback = parse("plain_http = true\nlisten = \"127.0.0.1:8080\"").unwrap();
        assert_eq!(loopback.tls, TlsSource::PlainHttp);
    }

    #[test]
    fn config_profiles_and_limits() {
        let config = parse(
            "backdate = \"2m\"\nrenewal_grace = \"72h\"\nrate_limit_per_name = \"5/1m\"\n[profiles.web]\nallowed_dns = [\"*.web.example\"]\nmax_lifetime = \"1h\"",
        )
        .unwrap();
        assert_eq!(config.backdate, Duration::minutes(2));
        assert_eq!(config.renewal_grace, Some(Duration::hours(72)));
        assert!(config.profiles.contains_key("web"));
        assert!(config.profiles.contains_key("default"));
        assert_eq!(config.rate_limit_per_name.unwrap().count, 5);
        let error = parse("backdate = \"11m\"").unwrap_err().to_string();
        assert!(error.contains("`backdate`"), "{error}");
        let error = parse("rate_limit_per_profile = \"many\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("`rate_limit_per_profile`"), "{error}");
        let error = parse("[profiles.web]\nmin_rsa_bits = 1024")
            .unwrap_err()
            .to_string();
        assert!(error.contains("profiles.web.min_rsa_bits"), "{error}");
        assert!(toml::from_str::<FileConfig>("[profiles.web]\nbogus = 1").is_err());
    }

    #[test]
    fn config_errors_name_the_key() {
        let error = parse("leaf_validity = \"2w\"").unwrap_err().to_string();
        assert!(error.contains("`leaf_validity`"), "{error}");
        let error = parse("commit_batch_max = 0").unwrap_err().to_string();
        assert!(error.contains("`commit_batch_max`"), "{error}");
        assert!(error.contains("1 to 65536"), "{error}");
        let error = parse("token_ttl = \"2d\"").unwrap_err().to_string();
        assert!(error.contains("`token_ttl`"), "{error}");
        let error = parse("tls_cert = \"a.pem\"").unwrap_err().to_string();
        assert!(error.contains("`tls_key`"), "{error}");
    }
}
