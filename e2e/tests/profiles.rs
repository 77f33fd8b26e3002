//! Every certificate profile of the shared library, checked by tools IronRoot
//! did not write: rustls-webpki, `openssl verify -x509_strict`, pkilint's RFC 5280
//! linter, and openssl's text dump for the exact extensions.

// Test helpers outside #[test] functions unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::names::SubjectName;
use ironroot_core::profile::{self, LeafUsage, Subject, Validity};
use ironroot_e2e::{tools, verify};
use time::{Duration, OffsetDateTime};

struct Chain {
    root: Authority,
    intermediate: Authority,
    leaf: Vec<u8>,
}

fn build_chain(
    root_algorithm: KeyAlgorithm,
    intermediate_algorithm: KeyAlgorithm,
    now: OffsetDateTime,
) -> Chain {
    let root_subject = Subject {
        common_name: "Test Root CA".to_owned(),
        organization: Some("IronRoot Tests".to_owned()),
        organizational_unit: None,
        country: Some("DE".to_owned()),
    };
    let root_validity =
        Validity::starting_at(now - Duration::hours(1), Duration::days(3650)).unwrap();
    let root_params = profile::root(&root_subject, root_validity).unwrap();
    let root = Authority::self_signed(&root_params, PrivateKey::generate(root_algorithm).unwrap())
        .unwrap();

    let intermediate_key = PrivateKey::generate(intermediate_algorithm).unwrap();
    let intermediate_validity =
        Validity::starting_at(now - Duration::minutes(30), Duration::days(365)).unwrap();
    let intermediate_params = profile::intermediate(
        &Subject::common_name("Test Intermediate CA"),
        intermediate_validity,
        0,
    )
    .unwrap();
    let intermediate_der = root
        .sign_for(&intermediate_params, &intermediate_key)
        .unwrap();
    let intermediate = Authority::new(&intermediate_der, intermediate_key, "intermediate").unwrap();

    let leaf_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let names = vec![
        SubjectName::parse("service.example.internal").unwrap(),
        SubjectName::parse("127.0.0.1").unwrap(),
    ];
    let leaf_validity =
        Validity::starting_at(now - Duration::minutes(1), Duration::hours(24)).unwrap();
    let leaf_params = profile::leaf(&names, leaf_validity, LeafUsage::ServerAndClient).unwrap();
    let leaf = intermediate
        .sign(&leaf_params, &leaf_key.public_key_der())
        .unwrap();
    Chain {
        root,
        intermediate,
        leaf,
    }
}

fn write_pem(dir: &Path, name: &str, der: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, ironroot_core::pemfile::encode("CERTIFICATE", der)).unwrap();
    path
}

fn openssl_text(path: &Path) -> String {
    let openssl = tools::require("openssl");
    let output = tools::run(
        &openssl,
        &["x509", "-noout", "-text", "-in", &path.to_string_lossy()],
    );
    assert!(output.status.success(), "openssl x509 failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn chains_verify_with_webpki_for_every_algorithm() {
    let now = OffsetDateTime::now_utc();
    for root_algorithm in KeyAlgorithm::ALL {
        for intermediate_algorithm in KeyAlgorithm::ALL {
            let chain = build_chain(root_algorithm, intermediate_algorithm, now);
            let result = verify::webpki_verify(
                &chain.root.certificate().der,
                &[&chain.intermediate.certificate().der],
                &chain.leaf,
                verify::Usage::Server,
                Some("service.example.internal"),
                now,
            );
            assert!(
                result.is_ok(),
                "{root_algorithm}/{intermediate_algorithm}: {result:?}"
            );
            let as_client = verify::webpki_verify(
                &chain.root.certificate().der,
                &[&chain.intermediate.certificate().der],
                &chain.leaf,
                verify::Usage::Client,
                Some("127.0.0.1"),
                now,
            );
            assert!(
                as_client.is_ok(),
                "{root_algorithm}/{intermediate_algorithm}: {as_client:?}"
            );
        }
    }
}

#[test]
fn webpki_rejects_leaf_for_other_name() {
    let now = OffsetDateTime::now_utc();
    let chain = build_chain(KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP256, now);
    let result = verify::webpki_verify(
        &chain.root.certificate().der,
        &[&chain.intermediate.certificate().der],
        &chain.leaf,
        verify::Usage::Server,
        Some("other.example.internal"),
        now,
    );
    assert!(result.is_err());
}

#[test]
fn chains_verify_with_openssl_strict() {
    let now = OffsetDateTime::now_utc();
    let dir = tempfile::tempdir().unwrap();
    for algorithm in KeyAlgorithm::ALL {
        let chain = build_chain(algorithm, algorithm, now);
        let root = write_pem(
            dir.path(),
            &format!("root-{algorithm}.pem"),
            &chain.root.certificate().der,
        );
        let intermediate = write_pem(
            dir.path(),
            &format!("intermediate-{algorithm}.pem"),
            &chain.intermediate.certificate().der,
        );
        let leaf = write_pem(dir.path(), &format!("leaf-{algorithm}.pem"), &chain.leaf);
        verify::openssl_verify(&root, None, &intermediate).unwrap();
        verify::openssl_verify(&root, Some(&intermediate), &leaf).unwrap();
    }
}

#[test]
fn profiles_pass_pkilint() {
    let now = OffsetDateTime::now_utc();
    let dir = tempfile::tempdir().unwrap();
    for algorithm in KeyAlgorithm::ALL {
        let chain = build_chain(algorithm, algorithm, now);
        for (name, der) in [
            ("root", &chain.root.certificate().der),
            ("intermediate", &chain.intermediate.certificate().der),
            ("leaf", &chain.leaf),
        ] {
            let path = write_pem(dir.path(), &format!("{name}-{algorithm}.pem"), der);
            let errors = verify::pkilint_errors(&path);
            assert!(errors.is_empty(), "{name} ({algorithm}): {errors:#?}");
        }
    }
}

#[test]
fn root_profile_extensions_per_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let chain = build_chain(
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::EcdsaP256,
        OffsetDateTime::now_utc(),
    );
    let text = openssl_text(&write_pem(
        dir.path(),
        "root.pem",
        &chain.root.certificate().der,
    ));
    assert!(
        text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE\n"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n"),
        "{text}"
    );
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
    assert!(!text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(
        text.contains("Subject: C = DE, O = IronRoot Tests, CN = Test Root CA"),
        "{text}"
    );
}

#[test]
fn intermediate_profile_extensions_per_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let chain = build_chain(
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP256,
        OffsetDateTime::now_utc(),
    );
    let text = openssl_text(&write_pem(
        dir.path(),
        "intermediate.pem",
        &chain.intermediate.certificate().der,
    ));
    assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
    assert!(
        text.contains("Digital Signature, Certificate Sign, CRL Sign"),
        "{text}"
    );
    let root_ski = chain.root.certificate().subject_key_id.clone().unwrap();
    let intermediate_aki = chain
        .intermediate
        .certificate()
        .authority_key_id
        .clone()
        .unwrap();
    assert_eq!(root_ski, intermediate_aki);
}

#[test]
fn leaf_profile_extensions_per_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let chain = build_chain(
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP256,
        OffsetDateTime::now_utc(),
    );
    let text = openssl_text(&write_pem(dir.path(), "leaf.pem", &chain.leaf));
    assert!(
        text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"),
        "{text}"
    );
    assert!(
        text.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{text}"
    );
    assert!(
        text.contains("DNS:service.example.internal, IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
}

#[test]
fn serials_are_random_positive_and_long() {
    let now = OffsetDateTime::now_utc();
    let first = build_chain(KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP256, now);
    let second = build_chain(KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP256, now);
    for der in [
        &first.leaf,
        &first.root.certificate().der,
        &first.intermediate.certificate().der,
    ] {
        let (_, parsed) = x509_parser::parse_x509_certificate(der).unwrap();
        let serial = parsed.raw_serial();
        assert!(serial.len() >= 8, "serial has {} bytes", serial.len());
        assert_eq!(serial[0] & 0x80, 0, "serial is negative");
    }
    let first_leaf = CertificateInfo::parse(&first.leaf, "leaf").unwrap();
    let second_leaf = CertificateInfo::parse(&second.leaf, "leaf").unwrap();
    assert_ne!(first_leaf.serial, second_leaf.serial);
}

#[test]
fn validity_encoding_switches_at_2050() {
    let before = OffsetDateTime::new_utc(
        time::Date::from_calendar_date(2049, time::Month::December, 31).unwrap(),
        time::Time::from_hms(23, 59, 59).unwrap(),
    );
    let after = before + Duration::seconds(1);
    let validity = Validity::new(before - Duration::days(1), after).unwrap();
    let params = profile::root(&Subject::common_name("Encoding Root"), validity).unwrap();
    let root = Authority::self_signed(
        &params,
        PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap(),
    )
    .unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&root.certificate().der).unwrap();
    // x509-parser keeps the ASN.1 tag of each Time.
    let not_before = format!("{:?}", parsed.validity().not_before);
    let not_after = format!("{:?}", parsed.validity().not_after);
    assert!(not_before.contains("generalized: false"), "{not_before}");
    assert!(not_after.contains("generalized: true"), "{not_after}");
}
