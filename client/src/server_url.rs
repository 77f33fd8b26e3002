//! The issuer's address: `https://HOST:PORT`, or `http://` for a loopback host.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ironroot_core::names::SubjectName;
use rustls_pki_types::ServerName;

use crate::Error;

/// Default port of `https://` URLs without a port.
const HTTPS_PORT: u16 = 443;
/// Default port of `http://` URLs without a port.
const HTTP_PORT: u16 = 80;

/// Host part of a server URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// A DNS name in lower case without a trailing dot.
    Dns(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

/// A parsed server URL: scheme, host and port, with no path, query or user
/// information. Plain `http://` is accepted only for `localhost` and loopback
/// addresses, and [`crate::Client`] checks again that the host resolves to loopback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    tls: bool,
    host: Host,
    port: u16,
}

impl ServerUrl {
    /// Parses `https://HOST[:PORT]` or, for a loopback host, `http://HOST[:PORT]`.
    /// IPv6 addresses are written in brackets. A single trailing `/` is allowed.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidServerUrl {
            url: value.to_owned(),
            reason: reason.to_owned(),
        };
        let lower = value.trim().to_ascii_lowercase();
        let (tls, rest) = if let Some(rest) = lower.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = lower.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(invalid("expected `https://HOST:PORT`"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(invalid(
                "a path, query or fragment is not allowed; give only `https://HOST:PORT`",
            ));
        }
        if rest.contains('@') {
            return Err(invalid(
                "user information (`user@`) is not allowed; the client authenticates with tokens and certificates",
            ));
        }
        let (host, port) = split_host_port(rest).map_err(|reason| invalid(&reason))?;
        let port = match port {
            Some(port) => port,
            None if tls => HTTPS_PORT,
            None => HTTP_PORT,
        };
        let url = Self { tls, host, port };
        if !tls && !url.is_loopback() {
            return Err(invalid(
                "plain http:// is allowed only for localhost and loopback addresses; use https://",
            ));
        }
        Ok(url)
    }

    /// Returns whether the URL uses TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Returns the host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Returns the port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns whether the host is `localhost` or a loopback address.
    pub fn is_loopback(&self) -> bool {
        match &self.host {
            Host::Dns(name) => name == "localhost",
            Host::Ip(ip) => ip.is_loopback(),
        }
    }

    /// Returns `host:port` as sent in the HTTP `Host` header, with IPv6 in brackets.
    pub fn authority(&self) -> String {
        match &self.host {
            Host::Dns(name) => format!("{name}:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => format!("{ip}:{}", self.port),
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
        }
    }

    /// Returns the host as a TLS server name, used for SNI and the hostname check.
    pub fn server_name(&self) -> Result<ServerName<'static>, Error> {
        match &self.host {
            Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
            Host::Dns(name) => {
                ServerName::try_from(name.clone()).map_err(|error| Error::InvalidServerUrl {
                    url: self.to_string(),
                    reason: format!("the host is not a valid TLS server name ({error})"),
                })
            }
        }
    }
}

fn split_host_port(rest: &str) -> Result<(Host, Option<u16>), String> {
    let (host_text, port_text) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or("an IPv6 address is missing its closing `]`")?;
        let ip: std::net::Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("`{inside}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected `:PORT` after `]`")?,
            ),
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port.map(parse_port).transpose()?));
    } else {
        match rest.matches(':').count() {
            0 => (rest, None),
            1 => rest
                .split_once(':')
                .map(|(h, p)| (h, Some(p)))
                .unwrap_or((rest, None)),
            _ => {
                return Err("write an IPv6 address in brackets, as in `https://[::1]:8443`".into());
            }
        }
    };
    if host_text.is_empty() {
        return Err("the host is missing".to_owned());
    }
    let host = match host_text.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => match SubjectName::parse_dns(host_text) {
            Ok(SubjectName::Dns(name)) if !name.contains('*') => Host::Dns(name),
            Ok(_) => return Err("a wildcard is not a host name".to_owned()),
            Err(error) => return Err(error.to_string()),
        },
    };
    Ok((host, port_text.map(parse_port).transpose()?))
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(format!("`{text}` is not a port number from 1 to 65535")),
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.authority())
    }
}

impl FromStr for ServerUrl {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        Self::parse(value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn url_parses_host_and_port() {
        let url = ServerUrl::parse("https://CA.Example.com:8443/").unwrap();
        assert!(url.is_tls());
        assert_eq!(url.host(), &Host::Dns("ca.example.com".to_owned()));
        assert_eq!(url.port(), 8443);
        assert_eq!(url.to_string(), "https://ca.example.com:8443");
    }

    #[test]
    fn url_parses_ip_addresses() {
        let v4 = ServerUrl::parse("https://127.0.0.1:9443").unwrap();
        let v6 = ServerUrl::parse("https://[::1]:9443").unwrap();
        assert_eq!(v4.host(), &Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(v6.authority(), "[::1]:9443");
        assert!(matches!(
            v6.server_name().unwrap(),
            ServerName::IpAddress(_)
        ));
    }

    #[test]
    fn url_defaults_port_by_scheme() {
        assert_eq!(ServerUrl::parse("https://ca.example").unwrap().port(), 443);
        assert_eq!(ServerUrl::parse("http://localhost").unwrap().port(), 80);
    }

    #[test]
    fn url_rejects_plain_http_to_remote_host() {
        for url in [
            "http://ca.example.com:8080",
            "http://10.0.0.1:80",
            "http://[2001:db8::1]:80",
        ] {
            let error = ServerUrl::parse(url).unwrap_err().to_string();
            assert!(error.contains("loopback"), "{url}: {error}");
        }
    }

    #[test]
    fn url_accepts_plain_http_on_loopback() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(!ServerUrl::parse(url).unwrap().is_tls(), "{url}");
        }
    }

    #[test]
    fn url_rejects_paths_queries_and_userinfo() {
        for url in [
            "https://ca.example/v1",
            "https://ca.example?x=1",
            "https://ca.example#x",
            "https://user@ca.example",
            "https://user:pw@ca.example:443",
        ] {
            assert!(ServerUrl::parse(url).is_err(), "{url} was accepted");
        }
    }

    #[test]
    fn url_rejects_malformed_hosts_and_ports() {
        for url in [
            "ca.example:443",
            "ftp://ca.example",
            "https://",
            "https://:443",
            "https://ca.example:0",
            "https://ca.example:99999",
            "https://ca.example:",
            "https://::1:443",
            "https://[::1",
            "https://*.example.com",
            "https://ca_1.example",
        ] {
            assert!(ServerUrl::parse(url).is_err(), "{url} was accepted");
        }
    }
}
