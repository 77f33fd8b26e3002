//! RSA CA keys, intermediate options (name constraints, path length,
//! policies, CRL distribution points, AIA), cross-signed roots and root CRLs,
//! checked by tools IronRoot did not write: pkilint, `openssl verify
//! -x509_strict`, `openssl crl -verify` and rustls-webpki.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::crl::{RevocationReason, RevokedEntry, root_crl};
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::names::SubjectName;
use ironroot_core::pemfile;
use ironroot_core::profile::{
    self, IntermediateOptions, LeafUsage, NameConstraints, NameSubtrees, Subject, Validity,
};
use ironroot_core::signing::{self_signed_checked, sign_checked};
use ironroot_e2e::tools;
use ironroot_e2e::verify::{self, Usage};
use rustls_pki_types::{CertificateDer, UnixTime};
use time::{Duration, OffsetDateTime};

fn validity(days: i64) -> Validity {
    Validity::starting_at(
        OffsetDateTime::now_utc() - Duration::hours(1),
        Duration::days(days),
    )
    .unwrap()
}

fn new_root(name: &str, algorithm: KeyAlgorithm) -> Authority {
    let params = profile::root(&Subject::common_name(name), validity(3650)).unwrap();
    self_signed_checked(&params, PrivateKey::generate(algorithm).unwrap(), name).unwrap()
}

fn new_intermediate(root: &Authority, options: &IntermediateOptions) -> Authority {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let params =
        profile::intermediate_with(&Subject::common_name("Options CA"), validity(365), options)
            .unwrap();
    let der = sign_checked(root, &params, &key.public_key_der(), "intermediate").unwrap();
    Authority::new(&der, key, "intermediate").unwrap()
}

/// Signs a leaf for the comma-separated `names`. The linter checks a
/// certificate's own syntax only, so names outside the issuer's constraints
/// can be issued to test the validators.
fn leaf(intermediate: &Authority, names: &str) -> Vec<u8> {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let subject_names: Vec<SubjectName> = names
        .split(',')
        .map(|name| SubjectName::parse(name).unwrap())
        .collect();
    let params = profile::leaf(&subject_names, validity(30), LeafUsage::ServerAndClient).unwrap();
    sign_checked(intermediate, &params, &key.public_key_der(), names).unwrap()
}

fn write_pem(dir: &Path, name: &str, label: &str, ders: &[&[u8]]) -> PathBuf {
    let path = dir.join(name);
    let text: String = ders.iter().map(|der| pemfile::encode(label, der)).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn assert_pkilint_clean(dir: &Path, name: &str, der: &[u8]) {
    let path = write_pem(dir, name, pemfile::CERTIFICATE, &[der]);
    let errors = verify::pkilint_errors(&path);
    assert!(errors.is_empty(), "pkilint errors for {name}: {errors:#?}");
}

struct Checked {
    webpki: Result<(), String>,
    openssl: Result<(), String>,
}

fn check_chain(
    dir: &Path,
    root: &[u8],
    intermediates: &[&[u8]],
    leaf: &[u8],
    name: &str,
) -> Checked {
    let webpki = verify::webpki_verify(
        root,
        intermediates,
        leaf,
        Usage::Server,
        Some(name),
        OffsetDateTime::now_utc(),
    );
    let root_path = write_pem(dir, "root.pem", pemfile::CERTIFICATE, &[root]);
    let untrusted = write_pem(dir, "untrusted.pem", pemfile::CERTIFICATE, intermediates);
    let leaf_path = write_pem(dir, "leaf.pem", pemfile::CERTIFICATE, &[leaf]);
    let openssl = verify::openssl_verify(&root_path, Some(&untrusted), &leaf_path);
    Checked { webpki, openssl }
}

#[test]
fn rsa_roots_verify() {
    let dir = tempfile::tempdir().unwrap();
    for algorithm in [KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096] {
        let root = new_root(&format!("RSA Root {algorithm}"), algorithm);
        assert_eq!(
            KeyAlgorithm::ca_allowed(&root.certificate().public_key_der, "root").unwrap(),
            algorithm
        );
        assert_pkilint_clean(dir.path(), "rsa-root.pem", &root.certificate().der);
        let intermediate = new_intermediate(&root, &IntermediateOptions::default());
        assert_pkilint_clean(
            dir.path(),
            "rsa-intermediate.pem",
            &intermediate.certificate().der,
        );
        let leaf = leaf(&intermediate, "svc.example.com");
        let checked = check_chain(
            dir.path(),
            &root.certificate().der,
            &[&intermediate.certificate().der],
            &leaf,
            "svc.example.com",
        );
        assert_eq!(checked.webpki, Ok(()), "webpki {algorithm}");
        assert_eq!(checked.openssl, Ok(()), "openssl {algorithm}");
    }
}

fn options() -> IntermediateOptions {
    IntermediateOptions {
        name_constraints: Some(NameConstraints {
            permitted: NameSubtrees {
                dns: vec!["example.com".to_owned()],
                ip: vec!["10.0.0.0/8".parse().unwrap()],
                email: vec!["example.com".to_owned()],
                uri: vec![".example.com".to_owned()],
            },
            excluded: NameSubtrees {
                dns: vec!["secret.example.com".to_owned()],
                ip: vec!["10.99.0.0/16".parse().unwrap()],
                ..NameSubtrees::default()
            },
        }),
        path_len: Some(0),
        policy_oids: vec!["1.3.6.1.4.1.99999.1.1".to_owned()],
        crl_distribution_points: vec!["http://crl.example.com/root.crl".to_owned()],
        aia_ca_issuers: vec!["http://pki.example.com/root.cer".to_owned()],
        aia_ocsp: vec!["http://ocsp.example.com/".to_owned()],
    }
}

#[test]
fn intermediate_options_pass_tools_and_constrain_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = new_root("Options Root", KeyAlgorithm::EcdsaP384);
    let intermediate = new_intermediate(&root, &options());
    assert_pkilint_clean(
        dir.path(),
        "options-intermediate.pem",
        &intermediate.certificate().der,
    );

    let root_der = root.certificate().der.clone();
    let inter_der = intermediate.certificate().der.clone();
    // OpenSSL checks a common name that looks like a host name against the DNS
    // constraints, and the leaf profile copies the first DNS name (or else the
    // first IP address) into the common name, so IP leaves carry a DNS name too.
    for (names, name) in [
        ("svc.example.com", "svc.example.com"),
        ("svc.example.com,10.1.2.3", "10.1.2.3"),
    ] {
        let leaf = leaf(&intermediate, names);
        assert_pkilint_clean(dir.path(), "inside.pem", &leaf);
        let checked = check_chain(dir.path(), &root_der, &[&inter_der], &leaf, name);
        assert_eq!(checked.webpki, Ok(()), "webpki, {name} inside");
        assert_eq!(checked.openssl, Ok(()), "openssl, {name} inside");
    }
    let outside = [
        ("svc.example.org", "svc.example.org"),
        ("secret.example.com", "secret.example.com"),
        ("api.secret.example.com", "api.secret.example.com"),
        ("svc.example.com,192.168.1.1", "192.168.1.1"),
        ("svc.example.com,10.99.1.1", "10.99.1.1"),
    ];
    for (names, name) in outside {
        let leaf = leaf(&intermediate, names);
        let checked = check_chain(dir.path(), &root_der, &[&inter_der], &leaf, name);
        let webpki = checked.webpki.unwrap_err();
        assert!(
            webpki.contains("NameConstraintViolation"),
            "webpki, {name}: {webpki}"
        );
        let openssl = checked.openssl.unwrap_err();
        assert!(
            openssl.contains("name constraint")
                || openssl.contains("excluded subtree")
                || openssl.contains("permitted subtree"),
            "openssl, {name}: {openssl}"
        );
    }
}

#[test]
fn cross_signed_root_bridges_old_and_new() {
    let dir = tempfile::tempdir().unwrap();
    let old_root = new_root("Old Root", KeyAlgorithm::EcdsaP256);
    let new_root = new_root("New Root", KeyAlgorithm::EcdsaP384);
    let params = profile::cross_signed(new_root.certificate(), validity(730)).unwrap();
    let cross = sign_checked(
        &old_root,
        &params,
        &new_root.certificate().public_key_der,
        "cross",
    )
    .unwrap();
    assert_pkilint_clean(dir.path(), "cross.pem", &cross);
    let intermediate = new_intermediate(&new_root, &IntermediateOptions::default());
    let leaf = leaf(&intermediate, "svc.example.com");
    let inter_der = intermediate.certificate().der.clone();

    // Clients that trust only the old root reach the new hierarchy through the cross certificate.
    let checked = check_chain(
        dir.path(),
        &old_root.certificate().der,
        &[&inter_der, &cross],
        &leaf,
        "svc.example.com",
    );
    assert_eq!(checked.webpki, Ok(()));
    assert_eq!(checked.openssl, Ok(()));
    // Clients that already trust the new root need no cross certificate.
    let checked = check_chain(
        dir.path(),
        &new_root.certificate().der,
        &[&inter_der],
        &leaf,
        "svc.example.com",
    );
    assert_eq!(checked.webpki, Ok(()));
    assert_eq!(checked.openssl, Ok(()));
}

#[test]
fn root_crl_revokes_intermediate() {
    let dir = tempfile::tempdir().unwrap();
    let root = new_root("CRL Root", KeyAlgorithm::EcdsaP256);
    let intermediate = new_intermediate(&root, &IntermediateOptions::default());
    let now = OffsetDateTime::now_utc();
    let revoked = [RevokedEntry {
        serial: intermediate.certificate().serial.clone(),
        revoked_at: now - Duration::minutes(5),
        reason: Some(RevocationReason::KeyCompromise),
    }];
    let crl = root_crl(
        &root,
        &revoked,
        now - Duration::minutes(1),
        now + Duration::days(30),
        1,
    )
    .unwrap();

    let crl_path = write_pem(dir.path(), "root.crl.pem", "X509 CRL", &[&crl]);
    let root_path = write_pem(
        dir.path(),
        "root.pem",
        pemfile::CERTIFICATE,
        &[&root.certificate().der],
    );
    let linter = tools::require("lint_crl");
    let output = tools::run(
        &linter,
        &[
            "lint",
            "-t",
            "CRL",
            "-p",
            "PKIX",
            "-s",
            "NOTICE",
            "-f",
            "TEXT",
            "--document-format",
            "PEM",
            crl_path.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("lint_crl findings:\n{text}");
    assert!(
        !text.contains("(ERROR)") && !text.contains("(FATAL)"),
        "{text}"
    );

    let openssl = tools::require("openssl");
    let output = tools::run(
        &openssl,
        &[
            "crl",
            "-in",
            crl_path.to_str().unwrap(),
            "-CAfile",
            root_path.to_str().unwrap(),
            "-verify",
            "-noout",
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("verify OK"),
        "{text}"
    );

    // webpki rejects the revoked intermediate when it checks the chain's CRLs.
    let leaf = leaf(&intermediate, "svc.example.com");
    let owned = webpki::OwnedCertRevocationList::from_der(&crl).unwrap();
    let crl_list = webpki::CertRevocationList::from(owned);
    let crls = [&crl_list];
    let revocation = webpki::RevocationOptionsBuilder::new(&crls)
        .unwrap()
        .with_depth(webpki::RevocationCheckDepth::Chain)
        .with_status_policy(webpki::UnknownStatusPolicy::Allow)
        .build();
    let root_der = CertificateDer::from(root.certificate().der.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&root_der).unwrap();
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
    let seconds = u64::try_from(now.unix_timestamp()).unwrap();
    let anchors = [anchor];
    let intermediates = [CertificateDer::from(
        intermediate.certificate().der.as_slice(),
    )];
    let result = end_entity.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds)),
        webpki::KeyUsage::server_auth(),
        Some(revocation),
        None,
    );
    let error = result.err();
    assert!(
        matches!(error, Some(webpki::Error::CertRevoked)),
        "{error:?}"
    );
    assert!(CertificateInfo::parse(&root.certificate().der, "root").is_ok());
}
