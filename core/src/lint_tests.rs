//! One certificate or CRL per rule, built with rcgen, edited DER or a small
//! DER writer, and IronRoot's own profiles, which must lint clean.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, IsCa, KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use yasna::Tag;

use super::*;
use crate::cert::Authority;
use crate::crl::{RevocationReason, RevokedEntry, root_crl};
use crate::keys::{KeyAlgorithm, PrivateKey};
use crate::names::SubjectName;
use crate::profile::{self, IntermediateOptions, IpRange, NameSubtrees, Subject, Validity};
use crate::signing::{self_signed_checked, sign_checked};

fn validity() -> Validity {
    Validity::starting_at(OffsetDateTime::now_utc(), Duration::days(365)).unwrap()
}

fn root(algorithm: KeyAlgorithm) -> Authority {
    let params = profile::root(&Subject::common_name("Lint Root"), validity()).unwrap();
    self_signed_checked(&params, PrivateKey::generate(algorithm).unwrap(), "root").unwrap()
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|finding| finding.code).collect()
}

/// Signs `params` with `issuer` without linting, for certificates that break rules.
fn sign_raw(issuer: &Authority, params: &CertificateParams) -> Vec<u8> {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    issuer.sign_for(params, &key).unwrap()
}

fn leaf_params() -> CertificateParams {
    profile::leaf(
        &[SubjectName::parse("svc.example.com").unwrap()],
        validity(),
        profile::LeafUsage::ServerAndClient,
    )
    .unwrap()
}

fn ca_params() -> CertificateParams {
    profile::intermediate(&Subject::common_name("Lint CA"), validity(), 0).unwrap()
}

fn assert_finding(der: &[u8], issuer: Option<&CertificateInfo>, code: &str) {
    let findings = lint_certificate(der, issuer);
    assert!(
        codes(&findings).contains(&code),
        "expected {code}, found {findings:?}"
    );
}

fn replace_once(der: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let position = der
        .windows(from.len())
        .position(|window| window == from)
        .expect("pattern present in the test certificate");
    der[position..position + from.len()].copy_from_slice(to);
}

fn custom(oid: &[u64], content: Vec<u8>, critical: bool) -> CustomExtension {
    let mut extension = CustomExtension::from_oid_content(oid, content);
    extension.set_criticality(critical);
    extension
}

#[test]
fn own_profiles_lint_clean() {
    for algorithm in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::Rsa3072,
    ] {
        let root = root(algorithm);
        let root_info = root.certificate().clone();
        assert_eq!(
            lint_certificate(&root_info.der, None),
            vec![],
            "root {algorithm}"
        );

        let options = IntermediateOptions {
            name_constraints: Some(profile::NameConstraints {
                permitted: NameSubtrees {
                    dns: vec!["example.com".to_owned()],
                    ip: vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()],
                    email: vec!["example.com".to_owned()],
                    uri: vec![".example.com".to_owned()],
                },
                excluded: NameSubtrees {
                    dns: vec!["secret.example.com".to_owned()],
                    ..NameSubtrees::default()
                },
            }),
            path_len: Some(1),
            policy_oids: vec!["2.23.140.1.2.1".to_owned()],
            crl_distribution_points: vec!["http://crl.example.com/root.crl".to_owned()],
            aia_ca_issuers: vec!["http://pki.example.com/root.cer".to_owned()],
            aia_ocsp: vec!["http://ocsp.example.com".to_owned()],
        };
        let inter_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        for params in [
            ca_params(),
            profile::intermediate_with(&Subject::common_name("Lint CA"), validity(), &options)
                .unwrap(),
        ] {
            let der = sign_checked(&root, &params, &inter_key.public_key_der(), "ca").unwrap();
            assert_eq!(lint_certificate(&der, Some(&root_info)), vec![]);
        }
        let intermediate = Authority::new(
            &sign_checked(&root, &ca_params(), &inter_key.public_key_der(), "ca").unwrap(),
            inter_key,
            "ca",
        )
        .unwrap();
        let leaf_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let client = profile::client_with_uri("admin", "urn:ironroot:admin:1", validity()).unwrap();
        for params in [leaf_params(), client] {
            let der =
                sign_checked(&intermediate, &params, &leaf_key.public_key_der(), "leaf").unwrap();
            assert_eq!(
                lint_certificate(&der, Some(intermediate.certificate())),
                vec![]
            );
        }

        let new_root = self::root(KeyAlgorithm::EcdsaP256);
        let cross = profile::cross_signed(new_root.certificate(), validity()).unwrap();
        let der = sign_checked(
            &root,
            &cross,
            &new_root.certificate().public_key_der,
            "cross",
        )
        .unwrap();
        assert_eq!(lint_certificate(&der, Some(&root_info)), vec![]);

        let now = OffsetDateTime::now_utc();
        let revoked = [RevokedEntry {
            serial: intermediate.certificate().serial.clone(),
            revoked_at: now,
            reason: Some(RevocationReason::KeyCompromise),
        }];
        let crl = root_crl(&root, &revoked, now, now + Duration::days(30), 7).unwrap();
        assert_eq!(lint_crl(&crl, &root_info), vec![]);
    }
}

#[test]
fn cross_signed_keeps_new_root_identity() {
    let old_root = root(KeyAlgorithm::EcdsaP256);
    let new_root = root(KeyAlgorithm::EcdsaP384);
    let params = profile::cross_signed(new_root.certificate(), validity()).unwrap();
    let der = sign_checked(
        &old_root,
        &params,
        &new_root.certificate().public_key_der,
        "cross",
    )
    .unwrap();
    let cross = CertificateInfo::parse(&der, "cross").unwrap();
    assert_eq!(cross.subject, new_root.certificate().subject);
    assert_eq!(cross.issuer, old_root.certificate().subject);
    assert_eq!(cross.public_key_der, new_root.certificate().public_key_der);
    assert_eq!(cross.subject_key_id, new_root.certificate().subject_key_id);
    assert_eq!(
        cross.authority_key_id,
        old_root.certificate().subject_key_id
    );
    assert!(cross.is_ca);
}

#[test]
fn serial_rules() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let cases: [(&[u8], &str); 3] = [
        (&[0], "cert.serial.not_positive"),
        (&[1, 2, 3, 4, 5, 6, 7], "cert.serial.too_short"),
        (&[0x11; 21], "cert.serial.too_long"),
    ];
    for (serial, code) in cases {
        let mut params = leaf_params();
        params.serial_number = Some(SerialNumber::from_slice(serial));
        assert_finding(&sign_raw(&root, &params), Some(root.certificate()), code);
    }
    // A negative serial: rcgen writes only positive INTEGERs, so edit the DER.
    let mut params = leaf_params();
    let serial = [0x7e, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a];
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let mut der = sign_raw(&root, &params);
    replace_once(
        &mut der,
        &serial,
        &[0xfe, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a],
    );
    assert_finding(&der, Some(root.certificate()), "cert.serial.not_positive");
}

#[test]
fn validity_rules() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let mut params = leaf_params();
    params.not_after = params.not_before - Duration::days(1);
    assert_finding(
        &sign_raw(&root, &params),
        Some(root.certificate()),
        "cert.validity.not_after_before_not_before",
    );

    let cases: [(u8, &[u8], Option<&str>); 6] = [
        (TAG_UTC_TIME, b"491231235959Z", None),
        (TAG_GENERALIZED_TIME, b"20500101000000Z", None),
        (
            TAG_GENERALIZED_TIME,
            b"20491231235959Z",
            Some("cert.validity.not_before.utctime_required"),
        ),
        (
            TAG_UTC_TIME,
            b"4912312359Z",
            Some("cert.validity.not_before.encoding"),
        ),
        (
            TAG_UTC_TIME,
            b"491231235959+0100",
            Some("cert.validity.not_before.encoding"),
        ),
        (
            TAG_GENERALIZED_TIME,
            b"20500101000000.5Z",
            Some("cert.validity.not_before.encoding"),
        ),
    ];
    for (tag, content, expected) in cases {
        let mut findings = Findings::default();
        let element = Element {
            tag,
            content,
            encoded: content,
        };
        check_time(
            &mut findings,
            "cert.validity.not_before",
            "notBefore",
            element,
        );
        assert_eq!(codes(&findings.0), expected.into_iter().collect::<Vec<_>>());
    }

    // The same rule on a whole certificate: retag a UTCTime as GeneralizedTime.
    let mut params = leaf_params();
    params.not_before = time::macros::datetime!(2030-01-01 00:00:00 UTC);
    params.not_after = time::macros::datetime!(2031-01-01 00:00:00 UTC);
    let mut der = sign_raw(&root, &params);
    replace_once(&mut der, b"\x17\x0d300101", b"\x18\x0d300101");
    assert_finding(
        &der,
        Some(root.certificate()),
        "cert.validity.not_before.encoding",
    );
}

#[test]
fn key_usage_rules() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let issuer = Some(root.certificate());

    let mut params = ca_params();
    params.key_usages.clear();
    assert_finding(&sign_raw(&root, &params), issuer, "cert.key_usage.missing");

    let mut params = ca_params();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    assert_finding(
        &sign_raw(&root, &params),
        issuer,
        "cert.key_usage.no_key_cert_sign",
    );

    // keyCertSign and cRLSign as a BIT STRING, in a non-critical extension.
    let mut params = ca_params();
    params.key_usages.clear();
    params
        .custom_extensions
        .push(custom(&[2, 5, 29, 15], vec![0x03, 0x02, 0x01, 0x06], false));
    assert_finding(
        &sign_raw(&root, &params),
        issuer,
        "cert.key_usage.not_critical",
    );

    let mut params = leaf_params();
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    assert_finding(
        &sign_raw(&root, &params),
        issuer,
        "cert.key_usage.key_cert_sign_on_end_entity",
    );
}

#[test]
fn basic_constraints_rules() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let issuer = Some(root.certificate());

    // CA:TRUE, not critical.
    let mut params = ca_params();
    params.is_ca = IsCa::NoCa;
    params.custom_extensions.push(custom(
        &[2, 5, 29, 19],
        vec![0x30, 0x03, 0x01, 0x01, 0xff],
        false,
    ));
    assert_finding(
        &sign_raw(&root, &params),
        issuer,
        "cert.basic_constraints.not_critical",
    );

    // CA:FALSE with pathLenConstraint 0.
    let mut params = leaf_params();
    params.is_ca = IsCa::NoCa;
    params.custom_extensions.push(custom(
        &[2, 5, 29, 19],
        vec![0x30, 0x03, 0x02, 0x01, 0x00],
        true,
    ));
    assert_finding(
        &sign_raw(&root, &params),
        issuer,
        "cert.basic_constraints.path_len_without_ca",
    );

    // CA with a path length but without keyCertSign.
    let mut params = ca_params();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::CrlSign];
    assert_finding(
        &sign_raw(&root, &params),
        issuer,
        "cert.basic_constraints.path_len_without_ca",
    );
}

#[test]
fn key_identifier_rules() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let issuer = Some(root.certificate());

    // Rename the SKI extension (2.5.29.14) to an unassigned arc (2.5.29.127).
    let mut der = sign_raw(&root, &ca_params());
    replace_once(
        &mut der,
        &[0x06, 0x03, 0x55, 0x1d, 0x0e],
        &[0x06, 0x03, 0x55, 0x1d, 0x7f],
    );
    assert_finding(&der, issuer, "cert.ski.missing");

    let mut params = leaf_params();
    params.use_authority_key_identifier_extension = false;
    assert_finding(&sign_raw(&root, &params), issuer, "cert.aki.missing");

    let other = self::root(KeyAlgorithm::EcdsaP256);
    let der = sign_raw(&root, &leaf_params());
    assert_finding(&der, Some(other.certificate()), "cert.aki.mismatch");
    assert!(lint_certificate(&der, issuer).is_empty());
}

/// Encodes NameConstraints with raw GeneralNames: (permitted?, tag, bytes).
fn raw_name_constraints(names: &[(bool, u64, &[u8])]) -> Vec<u8> {
    yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            for (side, permitted) in [(0, true), (1, false)] {
                let chosen: Vec<_> = names.iter().filter(|(p, ..)| *p == permitted).collect();
                if chosen.is_empty() {
                    continue;
                }
                writer
                    .next()
                    .write_tagged_implicit(Tag::context(side), |writer| {
                        writer.write_sequence(|writer| {
                            for (_, tag, bytes) in &chosen {
                                writer.next().write_sequence(|writer| {
                                    writer
                                        .next()
                                        .write_tagged_implicit(Tag::context(*tag), |writer| {
                                            writer.write_bytes(bytes)
                                        });
                                });
                            }
                        });
                    });
            }
        });
    })
}

#[test]
fn name_constraint_rules() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let issuer = Some(root.certificate());
    let valid = raw_name_constraints(&[(true, 2, b"example.com")]);

    let mut params = leaf_params();
    params
        .custom_extensions
        .push(custom(&[2, 5, 29, 30], valid.clone(), true));
    assert_finding(
        &sign_raw(&root, &params),
        issuer,
        "cert.name_constraints.not_ca",
    );

    let mut params = ca_params();
    params
        .custom_extensions
        .push(custom(&[2, 5, 29, 30], valid, false));
    assert_finding(
        &sign_raw(&root, &params),
        issuer,
        "cert.name_constraints.not_critical",
    );

    let cases: [(Vec<u8>, &str); 7] = [
        (vec![0x30, 0x00], "cert.name_constraints.empty"),
        (
            raw_name_constraints(&[(true, 2, b"*.example.com")]),
            "cert.name_constraints.dns_wildcard",
        ),
        (
            raw_name_constraints(&[(false, 2, b"exa mple.com")]),
            "cert.name_constraints.dns_invalid",
        ),
        (
            raw_name_constraints(&[(true, 7, &[10, 0, 0, 0, 255, 0, 0])]),
            "cert.name_constraints.ip_length",
        ),
        (
            raw_name_constraints(&[(true, 7, &[10, 0, 0, 0, 255, 0, 255, 0])]),
            "cert.name_constraints.ip_mask_not_contiguous",
        ),
        (
            raw_name_constraints(&[(true, 1, b"user@*.example.com")]),
            "cert.name_constraints.email_invalid",
        ),
        (
            raw_name_constraints(&[(true, 6, b"https://example.com/")]),
            "cert.name_constraints.uri_invalid",
        ),
    ];
    for (content, code) in cases {
        let mut params = ca_params();
        params
            .custom_extensions
            .push(custom(&[2, 5, 29, 30], content, true));
        assert_finding(&sign_raw(&root, &params), issuer, code);
    }
}

#[test]
fn name_constraint_options_are_checked() {
    let invalid = [
        NameSubtrees {
            dns: vec!["*.example.com".to_owned()],
            ..NameSubtrees::default()
        },
        NameSubtrees {
            email: vec!["user@example.com".to_owned()],
            ..NameSubtrees::default()
        },
        NameSubtrees {
            uri: vec!["https://example.com".to_owned()],
            ..NameSubtrees::default()
        },
        NameSubtrees::default(),
    ];
    for permitted in invalid {
        let options = IntermediateOptions {
            name_constraints: Some(profile::NameConstraints {
                permitted: permitted.clone(),
                excluded: NameSubtrees::default(),
            }),
            ..IntermediateOptions::default()
        };
        let result = profile::intermediate_with(&Subject::common_name("CA"), validity(), &options);
        assert!(result.is_err(), "{permitted:?} was accepted");
    }
    assert!("10.0.0.1/8".parse::<IpRange>().is_err());
    assert!("10.0.0.0/33".parse::<IpRange>().is_err());
    assert_eq!(
        "10.0.0.0/9"
            .parse::<IpRange>()
            .unwrap()
            .to_constraint_bytes(),
        vec![10, 0, 0, 0, 255, 128, 0, 0]
    );
}

#[test]
fn extension_criticality_rules() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let issuer = Some(root.certificate());
    let policies = crate::extensions::certificate_policies(&["2.23.140.1.2.1".to_owned()]).unwrap();
    let aia = crate::extensions::authority_info_access(
        &["http://pki.example.com/ca.cer".to_owned()],
        &[],
    )
    .unwrap();
    let eku = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer
                .next()
                .write_oid(&yasna::models::ObjectIdentifier::from_slice(&[
                    1, 3, 6, 1, 5, 5, 7, 3, 1,
                ]));
        });
    });
    let san = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer
                .next()
                .write_tagged_implicit(Tag::context(2), |writer| {
                    writer.write_ia5_string("a.example.com")
                });
        });
    });
    let crldp_params = {
        let mut params = leaf_params();
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec!["http://crl.example.com/x.crl".to_owned()],
        }];
        params
    };
    let crldp_der = {
        let der = sign_raw(&root, &crldp_params);
        let (_, certificate) = X509Certificate::from_der(&der).unwrap();
        certificate
            .extensions()
            .iter()
            .find(|extension| extension.oid.to_id_string() == OID_CRL_DISTRIBUTION_POINTS)
            .unwrap()
            .value
            .to_vec()
    };
    let cases: [(Vec<CustomExtension>, bool, &str); 6] = [
        (
            vec![policies.clone(), policies],
            false,
            "cert.extension.duplicate",
        ),
        (
            vec![custom(
                &[1, 3, 6, 1, 4, 1, 99999, 1],
                vec![0x05, 0x00],
                true,
            )],
            false,
            "cert.extension.unknown_critical",
        ),
        (
            vec![custom(&[2, 5, 29, 17], san, true)],
            true,
            "cert.san.critical_with_subject",
        ),
        (
            vec![custom(&[2, 5, 29, 37], eku, true)],
            true,
            "cert.eku.critical",
        ),
        (
            vec![custom(&[2, 5, 29, 31], crldp_der, true)],
            false,
            "cert.crldp.critical",
        ),
        (
            vec![{
                let mut aia = aia;
                aia.set_criticality(true);
                aia
            }],
            false,
            "cert.aia.critical",
        ),
    ];
    for (extensions, replace_rcgen, code) in cases {
        let mut params = leaf_params();
        if replace_rcgen {
            params.subject_alt_names.clear();
            params.extended_key_usages.clear();
        }
        params.custom_extensions = extensions;
        assert_finding(&sign_raw(&root, &params), issuer, code);
    }
}

#[test]
fn signature_algorithm_mismatch() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let mut der = sign_raw(&root, &leaf_params());
    // ecdsa-with-SHA256 -> ecdsa-with-SHA384 in the outer AlgorithmIdentifier only.
    let oid = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let last = der
        .windows(oid.len())
        .rposition(|window| window == oid)
        .unwrap();
    der[last + oid.len() - 1] = 0x03;
    assert_finding(
        &der,
        Some(root.certificate()),
        "cert.signature_algorithm.mismatch",
    );
}

/// Knobs of a hand-written CRL. The linter checks no signature, so the
/// signature is a placeholder.
struct CrlSpec<'a> {
    version: Option<u64>,
    this_update: (u8, &'a [u8]),
    next_update: Option<(u8, &'a [u8])>,
    entries: Vec<(&'a [u8], Option<u64>)>,
    crl_number: Option<bool>,
    authority_key_id: Option<Vec<u8>>,
}

fn crl_spec(issuer: &CertificateInfo) -> CrlSpec<'static> {
    CrlSpec {
        version: Some(1),
        this_update: (TAG_UTC_TIME, b"300101000000Z"),
        next_update: Some((TAG_UTC_TIME, b"300201000000Z")),
        entries: vec![(&[0x01, 0x02], Some(1))],
        crl_number: Some(false),
        authority_key_id: issuer.subject_key_id.clone(),
    }
}

fn write_crl(spec: &CrlSpec<'_>, issuer: &CertificateInfo) -> Vec<u8> {
    let (_, certificate) = X509Certificate::from_der(&issuer.der).unwrap();
    let issuer_name = certificate.subject().as_raw().to_vec();
    let algorithm = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer
                .next()
                .write_oid(&yasna::models::ObjectIdentifier::from_slice(&[
                    1, 2, 840, 10045, 4, 3, 2,
                ]));
        });
    });
    let time = |writer: yasna::DERWriter<'_>, (tag, content): (u8, &[u8])| {
        let mut encoded = vec![tag, content.len() as u8];
        encoded.extend_from_slice(content);
        writer.write_der(&encoded);
    };
    let extension = |writer: yasna::DERWriter<'_>, oid: &[u64], critical: bool, value: Vec<u8>| {
        writer.write_sequence(|writer| {
            writer
                .next()
                .write_oid(&yasna::models::ObjectIdentifier::from_slice(oid));
            if critical {
                writer.next().write_bool(true);
            }
            writer.next().write_bytes(&value);
        });
    };
    yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer.next().write_sequence(|writer| {
                if let Some(version) = spec.version {
                    writer.next().write_u64(version);
                }
                writer.next().write_der(&algorithm);
                writer.next().write_der(&issuer_name);
                time(writer.next(), spec.this_update);
                if let Some(next_update) = spec.next_update {
                    time(writer.next(), next_update);
                }
                writer.next().write_sequence(|writer| {
                    for (serial, reason) in &spec.entries {
                        writer.next().write_sequence(|writer| {
                            writer
                                .next()
                                .write_der(&[&[0x02, serial.len() as u8], *serial].concat());
                            time(writer.next(), (TAG_UTC_TIME, b"300101000000Z"));
                            if let Some(reason) = reason {
                                writer.next().write_sequence(|writer| {
                                    let value = yasna::construct_der(|writer| {
                                        writer.write_enum(*reason as i64)
                                    });
                                    extension(writer.next(), &[2, 5, 29, 21], false, value);
                                });
                            }
                        });
                    }
                });
                writer.next().write_tagged(Tag::context(0), |writer| {
                    writer.write_sequence(|writer| {
                        if let Some(critical) = spec.crl_number {
                            extension(
                                writer.next(),
                                &[2, 5, 29, 20],
                                critical,
                                yasna::construct_der(|writer| writer.write_u64(3)),
                            );
                        }
                        if let Some(key_id) = &spec.authority_key_id {
                            let value = yasna::construct_der(|writer| {
                                writer.write_sequence(|writer| {
                                    writer
                                        .next()
                                        .write_tagged_implicit(Tag::context(0), |writer| {
                                            writer.write_bytes(key_id)
                                        });
                                });
                            });
                            extension(writer.next(), &[2, 5, 29, 35], false, value);
                        }
                    });
                });
            });
            writer.next().write_der(&algorithm);
            writer.next().write_bitvec_bytes(&[0x30, 0x00], 16);
        });
    })
}

#[test]
fn crl_rules() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let issuer = root.certificate();
    assert_eq!(
        lint_crl(&write_crl(&crl_spec(issuer), issuer), issuer),
        vec![]
    );

    type Edit = fn(&mut CrlSpec<'static>);
    let cases: [(Edit, &str); 11] = [
        (|spec| spec.version = None, "crl.version.not_v2"),
        (|spec| spec.crl_number = None, "crl.number.missing"),
        (|spec| spec.crl_number = Some(true), "crl.number.critical"),
        (|spec| spec.authority_key_id = None, "crl.aki.missing"),
        (
            |spec| spec.authority_key_id = Some(vec![1; 20]),
            "crl.aki.mismatch",
        ),
        (
            |spec| spec.this_update = (TAG_GENERALIZED_TIME, b"20300101000000Z"),
            "crl.this_update.utctime_required",
        ),
        (
            |spec| spec.next_update = Some((TAG_UTC_TIME, b"3002010000Z")),
            "crl.next_update.encoding",
        ),
        (
            |spec| spec.next_update = Some((TAG_UTC_TIME, b"291231000000Z")),
            "crl.next_update.not_after_this_update",
        ),
        (|spec| spec.next_update = None, "crl.next_update.missing"),
        (
            |spec| spec.entries = vec![(&[0xff, 0x01], None)],
            "crl.entry.serial.not_positive",
        ),
        (
            |spec| spec.entries = vec![(&[0x01], Some(7))],
            "crl.entry.reason.invalid",
        ),
    ];
    for (edit, code) in cases {
        let mut spec = crl_spec(issuer);
        edit(&mut spec);
        let findings = lint_crl(&write_crl(&spec, issuer), issuer);
        assert!(
            codes(&findings).contains(&code),
            "expected {code}, found {findings:?}"
        );
    }
}

#[test]
fn sign_checked_rejects_and_lists_findings() {
    let root = root(KeyAlgorithm::EcdsaP256);
    let mut params = leaf_params();
    params.serial_number = Some(SerialNumber::from_slice(&[1]));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let error = sign_checked(&root, &params, &key.public_key_der(), "bad leaf").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("cert.serial.too_short"), "{message}");
    assert!(
        message.contains("cert.key_usage.key_cert_sign_on_end_entity"),
        "{message}"
    );
}
