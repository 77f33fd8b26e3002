//! Field rules that do not depend on the rest of the file: the CA key
//! policy, custody, extensions, and the syntax of OIDs, URLs, names and serials.

use std::collections::HashSet;

use super::input_files::{self, InputFile};
use super::validate::Options;
use super::{CustodySpec, ExtensionsSpec, FieldError, Loaded, NameConstraintsSpec};

/// CA key algorithms a ceremony may generate.
pub(crate) const CA_ALGORITHMS: &str = "ecdsa-p256, ecdsa-p384, ed25519, rsa-3072, rsa-4096";

/// Checks a CA key algorithm name against the CA key policy.
pub(crate) fn check_ca_algorithm(name: &str) -> Result<(), String> {
    match name {
        "ecdsa-p256" | "ecdsa-p384" | "ed25519" | "rsa-3072" | "rsa-4096" => Ok(()),
        "rsa-1024" | "rsa-2048" => Err(format!(
            "`{name}` is rejected for CA keys: RSA keys need at least 3072 bits; allowed: {CA_ALGORITHMS}"
        )),
        _ => Err(format!(
            "`{name}` is rejected for CA keys; allowed: {CA_ALGORITHMS} (curves other than P-256, P-384 and Ed25519 are not accepted)"
        )),
    }
}

pub(super) fn custody_problems(
    custody: &CustodySpec,
    loaded: &Loaded,
    options: Options,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut error = |field: &str, message: String| errors.push(FieldError::new(field, message));
    // A field of another mode would be ignored silently, so it is an error.
    let mode = custody.mode.as_str();
    if mode != "passphrase" && custody.passphrase_file.is_some() {
        error(
            "custody.passphrase_file",
            format!("is only used with mode `passphrase`, not `{mode}`; remove it"),
        );
    }
    if mode != "recipients" && !custody.recipients.is_empty() {
        error(
            "custody.recipients",
            format!("is only used with mode `recipients`, not `{mode}`; remove it"),
        );
    }
    if mode != "shares" && (custody.threshold.is_some() || !custody.custodians.is_empty()) {
        error(
            "custody.threshold",
            format!(
                "threshold and custodians are only used with mode `shares`, not `{mode}`; remove them"
            ),
        );
    }
    match custody.mode.as_str() {
        // A dry run reads a named passphrase file too, so it is checked there as well.
        "passphrase" => match &custody.passphrase_file {
            Some(path) => {
                let resolved = loaded.resolve(path);
                if let Some(problem) = input_files::problem(&resolved, InputFile::NewPassphrase) {
                    error("custody.passphrase_file", problem);
                }
            }
            None if options.yes && !options.passphrase_override && !options.dry_run => error(
                "custody.passphrase_file",
                "is missing; --yes runs read the new passphrase from a file (or --passphrase-file)"
                    .to_owned(),
            ),
            _ => {}
        },
        "recipients" => {
            if custody.recipients.is_empty() {
                error(
                    "custody.recipients",
                    "is empty; give one or more `age1...` recipients".to_owned(),
                );
            }
            for (index, recipient) in custody.recipients.iter().enumerate() {
                if let Err(problem) = ironroot_core::agefile::parse_recipient(recipient) {
                    error(&format!("custody.recipients[{index}]"), problem.to_string());
                }
            }
        }
        "shares" => {
            let count = custody.custodians.len();
            if !(2..=255).contains(&count) {
                error(
                    "custody.custodians",
                    format!("has {count} entries; give 2 to 255 custodians"),
                );
            }
            match custody.threshold {
                None => error(
                    "custody.threshold",
                    format!("is missing; give 2 to {count}"),
                ),
                Some(threshold) if threshold < 2 || usize::from(threshold) > count => error(
                    "custody.threshold",
                    format!("is {threshold}; allowed: 2 to {count} (the number of custodians)"),
                ),
                Some(_) => {}
            }
            let mut names = HashSet::new();
            for (index, custodian) in custody.custodians.iter().enumerate() {
                let prefix = format!("custody.custodians[{index}]");
                if custodian.name.trim().is_empty() {
                    error(&format!("{prefix}.name"), "is empty".to_owned());
                } else if !names.insert(custodian.name.to_lowercase()) {
                    error(
                        &format!("{prefix}.name"),
                        format!("`{}` is listed twice", custodian.name),
                    );
                }
                match (&custodian.recipient, &custodian.passphrase_file) {
                    (Some(recipient), None) => {
                        if let Err(problem) = ironroot_core::agefile::parse_recipient(recipient) {
                            error(&format!("{prefix}.recipient"), problem.to_string());
                        }
                    }
                    (None, Some(path)) => {
                        let resolved = loaded.resolve(path);
                        if let Some(problem) =
                            input_files::problem(&resolved, InputFile::NewPassphrase)
                        {
                            error(&format!("{prefix}.passphrase_file"), problem);
                        }
                    }
                    // TODO: a custodian cannot type a share passphrase at the terminal yet;
                    // passphrase-protected shares need `passphrase_file` even interactively.
                    _ => error(
                        &format!("{prefix}.recipient"),
                        "give exactly one of recipient and passphrase_file".to_owned(),
                    ),
                }
            }
        }
        other => error(
            "custody.mode",
            format!("`{other}` is unknown; allowed: passphrase, recipients, shares"),
        ),
    }
    if custody.mode != "shares" && (custody.threshold.is_some() || !custody.custodians.is_empty()) {
        errors.push(FieldError::new(
            "custody.custodians",
            "and custody.threshold apply only to mode `shares`".to_owned(),
        ));
    }
    errors
}

pub(super) fn extension_problems(extensions: &ExtensionsSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (index, oid) in extensions.policy_oids.iter().enumerate() {
        if !is_oid(oid) {
            errors.push(FieldError::new(
                format!("extensions.policy_oids[{index}]"),
                format!("`{oid}` is not a dotted OID such as 1.3.6.1.4.1.99999.1.1"),
            ));
        }
    }
    let urls = [
        (
            "crl_distribution_points",
            &extensions.crl_distribution_points,
        ),
        ("aia_ca_issuers", &extensions.aia_ca_issuers),
        ("aia_ocsp", &extensions.aia_ocsp),
    ];
    for (name, list) in urls {
        for (index, url) in list.iter().enumerate() {
            if !is_http_url(url) {
                errors.push(FieldError::new(
                    format!("extensions.{name}[{index}]"),
                    format!("`{url}` is not an http:// or https:// URL of ASCII characters"),
                ));
            }
        }
    }
    if let Some(constraints) = &extensions.name_constraints {
        errors.extend(name_constraint_problems(constraints));
    }
    errors
}

/// A name constraint list: field name, values, syntax check, expected form.
type ConstraintList<'a> = (&'a str, &'a Vec<String>, fn(&str) -> bool, &'a str);

fn name_constraint_problems(nc: &NameConstraintsSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let lists: [ConstraintList<'_>; 8] = [
        (
            "permitted_dns",
            &nc.permitted_dns,
            is_dns_constraint,
            "a DNS name such as example.com or .example.com",
        ),
        (
            "excluded_dns",
            &nc.excluded_dns,
            is_dns_constraint,
            "a DNS name such as example.com or .example.com",
        ),
        (
            "permitted_ip",
            &nc.permitted_ip,
            is_ip_range,
            "an IP range in CIDR form such as 10.0.0.0/8",
        ),
        (
            "excluded_ip",
            &nc.excluded_ip,
            is_ip_range,
            "an IP range in CIDR form such as 10.0.0.0/8",
        ),
        (
            "permitted_email",
            &nc.permitted_email,
            is_email_constraint,
            "a mailbox, domain or .domain",
        ),
        (
            "excluded_email",
            &nc.excluded_email,
            is_email_constraint,
            "a mailbox, domain or .domain",
        ),
        (
            "permitted_uri",
            &nc.permitted_uri,
            is_dns_constraint,
            "a host name such as example.com or .example.com",
        ),
        (
            "excluded_uri",
            &nc.excluded_uri,
            is_dns_constraint,
            "a host name such as example.com or .example.com",
        ),
    ];
    let mut total = 0;
    for (name, list, check, expected) in lists {
        total += list.len();
        for (index, value) in list.iter().enumerate() {
            if !check(value) {
                errors.push(FieldError::new(
                    format!("extensions.name_constraints.{name}[{index}]"),
                    format!("`{value}` is invalid; expected {expected}"),
                ));
            }
        }
    }
    if total == 0 {
        errors.push(FieldError::new(
            "extensions.name_constraints",
            "is empty; remove the table or list permitted or excluded names".to_owned(),
        ));
    }
    errors
}

fn is_oid(value: &str) -> bool {
    let arcs: Vec<&str> = value.split('.').collect();
    arcs.len() >= 2
        && arcs
            .iter()
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
        && matches!(arcs[0], "0" | "1" | "2")
}

fn is_http_url(value: &str) -> bool {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        !host.is_empty() && value.is_ascii() && !value.contains(char::is_whitespace)
    })
}

fn is_dns_constraint(value: &str) -> bool {
    let name = value.strip_prefix('.').unwrap_or(value);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_email_constraint(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => !local.is_empty() && local.is_ascii() && is_dns_constraint(domain),
        None => is_dns_constraint(value),
    }
}

fn is_ip_range(value: &str) -> bool {
    value.parse::<ironroot_core::profile::IpRange>().is_ok()
}

/// Parses a serial number in hex, with optional colons, into bytes.
pub(crate) fn parse_serial(value: &str) -> Result<Vec<u8>, String> {
    let digits: String = value.chars().filter(|c| *c != ':').collect();
    let valid = !digits.is_empty()
        && digits.len().is_multiple_of(2)
        && digits.len() <= 40
        && digits.chars().all(|c| c.is_ascii_hexdigit());
    if !valid {
        return Err(format!(
            "`{value}` is not a serial number in hex of 1 to 20 bytes, as `openssl x509 -noout -serial` prints it"
        ));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|error| error.to_string()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ca_algorithm_policy() {
        for allowed in [
            "ecdsa-p256",
            "ecdsa-p384",
            "ed25519",
            "rsa-3072",
            "rsa-4096",
        ] {
            assert!(check_ca_algorithm(allowed).is_ok(), "{allowed}");
        }
        let weak = check_ca_algorithm("rsa-2048").unwrap_err();
        assert!(weak.contains("3072"), "{weak}");
        let curve = check_ca_algorithm("ecdsa-p521").unwrap_err();
        assert!(curve.contains("P-256, P-384 and Ed25519"), "{curve}");
    }

    #[test]
    fn serial_parses_hex_with_colons() {
        assert_eq!(parse_serial("0A:ff").unwrap(), vec![0x0a, 0xff]);
        assert!(parse_serial("abc").is_err());
        assert!(parse_serial("zz").is_err());
        assert!(parse_serial(&"00".repeat(21)).is_err());
    }

    #[test]
    fn constraint_syntax() {
        assert!(is_dns_constraint(".example.com"));
        assert!(!is_dns_constraint("exa mple.com"));
        assert!(is_email_constraint("ops@example.com"));
        assert!(is_ip_range("fd00::/8"));
        assert!(!is_ip_range("10.0.0.1/8"));
        assert!(is_oid("2.23.140.1.2.1"));
        assert!(!is_oid("4.1"));
        assert!(is_http_url("http://pki.example.com/root.crl"));
        assert!(!is_http_url("ldap://pki.example.com"));
    }
}
