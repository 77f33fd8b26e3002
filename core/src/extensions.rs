//! DER encoders for the extensions that rcgen does not model (name constraints
//! with URIs, certificatePolicies, authorityInfoAccess), and the syntax checks
//! on their values.

use rcgen::{CustomExtension, DistinguishedName, DnType, DnValue};
use x509_parser::der_parser::asn1_rs::Tag as ParserTag;
use x509_parser::prelude::{FromDer, X509Certificate};
use yasna::models::ObjectIdentifier;
use yasna::{DERWriter, Tag};

use crate::Error;
use crate::names::SubjectName;
use crate::profile::{NameConstraints, NameSubtrees};

const OID_NAME_CONSTRAINTS: &[u64] = &[2, 5, 29, 30];
const OID_CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
const OID_AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const OID_AD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const OID_AD_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];

// GeneralName CHOICE tags (RFC 5280 section 4.2.1.6).
const TAG_RFC822_NAME: u64 = 1;
const TAG_DNS_NAME: u64 = 2;
const TAG_URI: u64 = 6;
const TAG_IP_ADDRESS: u64 = 7;

/// Encodes a critical name constraints extension after checking every name.
pub(crate) fn name_constraints(constraints: &NameConstraints) -> Result<CustomExtension, Error> {
    if constraints.permitted.is_empty() && constraints.excluded.is_empty() {
        return Err(Error::InvalidName {
            name: "name constraints".to_owned(),
            reason: "list neither permitted nor excluded names; RFC 5280 forbids an empty extension, so omit it".to_owned(),
        });
    }
    for subtrees in [&constraints.permitted, &constraints.excluded] {
        check_subtrees(subtrees)?;
    }
    let mut extension = CustomExtension::from_oid_content(
        OID_NAME_CONSTRAINTS,
        encode_name_constraints(constraints),
    );
    extension.set_criticality(true);
    Ok(extension)
}

/// Encodes the NameConstraints value without checking the names.
pub(crate) fn encode_name_constraints(constraints: &NameConstraints) -> Vec<u8> {
    yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            for (tag, subtrees) in [(0, &constraints.permitted), (1, &constraints.excluded)] {
                if subtrees.is_empty() {
                    continue;
                }
                writer
                    .next()
                    .write_tagged_implicit(Tag::context(tag), |writer| {
                        writer.write_sequence(|writer| write_subtrees(writer, subtrees));
                    });
            }
        });
    })
}

fn write_subtrees(writer: &mut yasna::DERWriterSeq<'_>, subtrees: &NameSubtrees) {
    let strings = [
        (TAG_DNS_NAME, &subtrees.dns),
        (TAG_RFC822_NAME, &subtrees.email),
        (TAG_URI, &subtrees.uri),
    ];
    for (tag, values) in strings {
        for value in values {
            write_subtree(writer.next(), |writer| {
                writer.write_tagged_implicit(Tag::context(tag), |writer| {
                    writer.write_ia5_string(value);
                });
            });
        }
    }
    for range in &subtrees.ip {
        write_subtree(writer.next(), |writer| {
            writer.write_tagged_implicit(Tag::context(TAG_IP_ADDRESS), |writer| {
                writer.write_bytes(&range.to_constraint_bytes());
            });
        });
    }
}

/// Writes a GeneralSubtree: the base name only, because minimum has its
/// DEFAULT of 0 and maximum is absent, as RFC 5280 requires.
fn write_subtree(writer: DERWriter<'_>, base: impl FnOnce(DERWriter<'_>)) {
    writer.write_sequence(|writer| base(writer.next()));
}

fn check_subtrees(subtrees: &NameSubtrees) -> Result<(), Error> {
    for name in &subtrees.dns {
        check_constraint_domain(name, "DNS name constraint", false)?;
    }
    for name in &subtrees.email {
        check_constraint_domain(name, "email name constraint", true)?;
    }
    for name in &subtrees.uri {
        check_constraint_domain(name, "URI name constraint", true)?;
    }
    for range in &subtrees.ip {
        // Re-parse the display form, which checks the prefix and host bits.
        range.to_string().parse::<crate::profile::IpRange>()?;
    }
    Ok(())
}

/// Checks a domain of a name constraint: a DNS name without wildcard, in lower
/// case. `leading_dot` allows `.example.com`, which in email and URI
/// constraints means "every host below example.com".
pub(crate) fn check_constraint_domain(
    value: &str,
    what: &str,
    leading_dot: bool,
) -> Result<(), Error> {
    let invalid = |reason: String| Error::InvalidName {
        name: value.to_owned(),
        reason: format!("is not a valid {what}: {reason}"),
    };
    let domain = match value.strip_prefix('.') {
        Some(rest) if leading_dot => rest,
        _ => value,
    };
    if domain.contains('*') {
        return Err(invalid(
            "name constraints take a domain such as `example.com`, which already covers every name below it; remove the wildcard".to_owned(),
        ));
    }
    if domain.contains('@') || domain.contains('/') || domain.contains(':') {
        return Err(invalid(
            "write only the domain, such as `example.com`, without a user, scheme, port or path"
                .to_owned(),
        ));
    }
    match SubjectName::parse_dns(domain) {
        Ok(SubjectName::Dns(normal)) if normal == domain => Ok(()),
        Ok(_) => Err(invalid(
            "write it in lower case without a trailing dot".to_owned(),
        )),
        Err(error) => Err(invalid(error.to_string())),
    }
}

/// Parses a dotted OID such as `2.23.140.1.2.1` into its arcs.
pub(crate) fn parse_oid(value: &str) -> Result<Vec<u64>, Error> {
    let invalid = || Error::InvalidName {
        name: value.to_owned(),
        reason: "is not a dotted object identifier such as `1.3.6.1.4.1.99999.1`".to_owned(),
    };
    let arcs: Vec<u64> = value
        .split('.')
        .map(|arc| {
            if arc.is_empty() || (arc.len() > 1 && arc.starts_with('0')) {
                return Err(invalid());
            }
            arc.parse::<u64>().map_err(|_| invalid())
        })
        .collect::<Result<_, _>>()?;
    let valid_root = match arcs.as_slice() {
        [first @ (0 | 1), second, ..] => *first <= 1 && *second < 40,
        [2, _, ..] => true,
        _ => false,
    };
    if !valid_root {
        return Err(invalid());
    }
    Ok(arcs)
}

/// Encodes a non-critical certificatePolicies extension with one
/// PolicyInformation (no qualifiers) per OID.
pub(crate) fn certificate_policies(oids: &[String]) -> Result<CustomExtension, Error> {
    let mut parsed = Vec::with_capacity(oids.len());
    for oid in oids {
        let arcs = parse_oid(oid)?;
        if parsed.contains(&arcs) {
            return Err(Error::InvalidName {
                name: oid.clone(),
                reason: "is listed twice as a certificate policy; RFC 5280 allows each policy once"
                    .to_owned(),
            });
        }
        parsed.push(arcs);
    }
    let der = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            for arcs in &parsed {
                writer.next().write_sequence(|writer| {
                    writer.next().write_oid(&ObjectIdentifier::from_slice(arcs));
                });
            }
        });
    });
    Ok(CustomExtension::from_oid_content(
        OID_CERTIFICATE_POLICIES,
        der,
    ))
}

/// Checks that `url` is an ASCII `http://`, `https://` or `ldap://` URL with a host.
pub(crate) fn check_url(url: &str, what: &str) -> Result<(), Error> {
    let invalid = |reason: &str| Error::InvalidName {
        name: url.to_owned(),
        reason: format!("is not a valid {what} URL: {reason}"),
    };
    if !url.is_ascii() || url.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(invalid(
            "it must be ASCII without spaces; percent-encode other characters",
        ));
    }
    let rest = ["http://", "https://", "ldap://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .ok_or_else(|| invalid("it must start with http://, https:// or ldap://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(invalid("it must name a host and no user"));
    }
    Ok(())
}

/// Encodes a non-critical authorityInfoAccess extension.
pub(crate) fn authority_info_access(
    ca_issuers: &[String],
    ocsp: &[String],
) -> Result<CustomExtension, Error> {
    for url in ca_issuers {
        check_url(url, "AIA caIssuers")?;
    }
    for url in ocsp {
        check_url(url, "AIA OCSP")?;
    }
    let entries = ocsp
        .iter()
        .map(|url| (OID_AD_OCSP, url))
        .chain(ca_issuers.iter().map(|url| (OID_AD_CA_ISSUERS, url)));
    let der = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            for (method, url) in entries {
                writer.next().write_sequence(|writer| {
                    writer
                        .next()
                        .write_oid(&ObjectIdentifier::from_slice(method));
                    writer
                        .next()
                        .write_tagged_implicit(Tag::context(TAG_URI), |writer| {
                            writer.write_ia5_string(url);
                        });
                });
            }
        });
    });
    Ok(CustomExtension::from_oid_content(
        OID_AUTHORITY_INFO_ACCESS,
        der,
    ))
}

/// Reads the subject of a DER certificate into rcgen's form, keeping each
/// attribute's string type, so a certificate built from it repeats the
/// subject byte for byte.
pub(crate) fn distinguished_name_of(certificate_der: &[u8]) -> Result<DistinguishedName, Error> {
    let invalid = |reason: String| Error::InvalidCertificate {
        what: "certificate subject".to_owned(),
        reason,
    };
    let (_, certificate) = X509Certificate::from_der(certificate_der)
        .map_err(|error| invalid(format!("not a DER X.509 certificate ({error})")))?;
    let mut name = DistinguishedName::new();
    for rdn in certificate.subject().iter() {
        let mut attributes = rdn.iter();
        let (Some(attribute), None) = (attributes.next(), attributes.next()) else {
            return Err(invalid(
                "a relative distinguished name has more or fewer than one attribute".to_owned(),
            ));
        };
        let arcs: Vec<u64> = attribute
            .attr_type()
            .iter()
            .ok_or_else(|| invalid("an attribute type has an arc above 64 bits".to_owned()))?
            .collect();
        let data = attribute.attr_value().data;
        let text = || {
            std::str::from_utf8(data)
                .map(str::to_owned)
                .map_err(|_| invalid("an attribute value is not valid text".to_owned()))
        };
        let value = match attribute.attr_value().header.tag() {
            ParserTag::Utf8String => DnValue::Utf8String(text()?),
            ParserTag::PrintableString => DnValue::PrintableString(
                text()?
                    .try_into()
                    .map_err(|_| invalid("a PrintableString is invalid".to_owned()))?,
            ),
            ParserTag::Ia5String => DnValue::Ia5String(
                text()?
                    .try_into()
                    .map_err(|_| invalid("an IA5String is invalid".to_owned()))?,
            ),
            other => {
                return Err(invalid(format!(
                    "an attribute uses the string type {other}, which IronRoot does not copy"
                )));
            }
        };
        name.push(DnType::from_oid(&arcs), value);
    }
    Ok(name)
}
