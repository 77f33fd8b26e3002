//! `csr` and the import of a bundle without a private key, driven through the
//! binary.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Host, issuer, root, stderr};
use ironroot_core::bundle::Bundle;
use ironroot_core::cert::CertificateInfo;
use ironroot_core::profile::{self, Subject, Validity};
use ironroot_core::signing::sign_checked;
use time::{Duration, OffsetDateTime};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `csr` and returns the public key DER of the request.
fn make_csr(host: &Host, algorithm: &str) -> Vec<u8> {
    let out = host.temp.path().join(format!("{algorithm}.csr.pem"));
    let output = issuer(&[
        "csr",
        "--data-dir",
        host.data_dir(),
        "--out",
        out.to_str().unwrap(),
        "--algorithm",
        algorithm,
        "--common-name",
        "Issuing Host CA",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(mode(&out), 0o644);
    let pem = std::fs::read_to_string(&out).unwrap();
    // The workload CSR parser would read the common name as a DNS name, so
    // parse with rcgen, which also checks the CSR's signature.
    let csr = rcgen::CertificateSigningRequestParams::from_pem(&pem).unwrap();
    rcgen::PublicKeyData::subject_public_key_info(&csr.public_key)
}

/// Seals a keyless bundle for `host` and sets the host's expected root to the
/// bundle's root.
fn bundle_without_key(host: &mut Host, public_key_der: &[u8]) -> (Vec<u8>, CertificateInfo) {
    let root = root("CSR Test Root");
    host.expected_root = root.certificate().fingerprint.to_string();
    let validity = Validity::starting_at(
        OffsetDateTime::now_utc() - Duration::hours(1),
        Duration::days(90),
    )
    .unwrap();
    let params =
        profile::intermediate(&Subject::common_name("Issuing Host CA"), validity, 0).unwrap();
    let der = sign_checked(&root, &params, public_key_der, "intermediate").unwrap();
    let intermediate = CertificateInfo::parse(&der, "intermediate").unwrap();
    let recipient = ironroot_core::agefile::parse_recipient(&host.recipient).unwrap();
    let bundle = Bundle::new(
        intermediate.clone(),
        root.certificate().clone(),
        None,
        OffsetDateTime::now_utc(),
    )
    .seal(&recipient)
    .unwrap();
    (bundle, intermediate)
}

#[test]
fn csr_key_is_used_by_keyless_import() {
    for algorithm in ["ecdsa-p384", "rsa-3072"] {
        let mut host = Host::init();
        let public_key = make_csr(&host, algorithm);
        let pending = host.data.join("intermediates").join("pending");
        let pending_files: Vec<_> = std::fs::read_dir(&pending).unwrap().collect();
        assert_eq!(pending_files.len(), 1);
        let pending_key = pending_files[0].as_ref().unwrap().path();
        assert_eq!(mode(&pending_key), 0o600);

        let (bundle, intermediate) = bundle_without_key(&mut host, &public_key);
        let output = host.import(&bundle);
        assert!(output.status.success(), "{}", stderr(&output));
        let key_path = host
            .data
            .join("intermediates")
            .join(format!("{}.key.pem", intermediate.fingerprint.to_hex()));
        assert_eq!(mode(&key_path), 0o600);
        assert!(!pending_key.exists(), "the pending key was not moved");
        assert_eq!(host.count("SELECT COUNT(*) FROM cas WHERE active = 1"), 1);
    }
}

#[test]
fn keyless_import_without_pending_key_fails() {
    let mut host = Host::init();
    let other_key =
        ironroot_core::keys::PrivateKey::generate(ironroot_core::keys::KeyAlgorithm::EcdsaP256)
            .unwrap();
    make_csr(&host, "ecdsa-p256");
    let (bundle, _) = bundle_without_key(&mut host, &other_key.public_key_der());
    let output = host.import(&bundle);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no pending key"),
        "{}",
        stderr(&output)
    );
    assert_eq!(host.count("SELECT COUNT(*) FROM cas"), 0);
}

#[test]
fn csr_refuses_existing_output_and_bad_algorithm() {
    let host = Host::init();
    let out = host.write("taken.csr.pem", b"x");
    let output = issuer(&[
        "csr",
        "--data-dir",
        host.data_dir(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("already exists"),
        "{}",
        stderr(&output)
    );

    let out = host.temp.path().join("new.csr.pem");
    let output = issuer(&[
        "csr",
        "--data-dir",
        host.data_dir(),
        "--out",
        out.to_str().unwrap(),
        "--algorithm",
        "rsa-2048",
    ]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("rsa-3072"), "{}", stderr(&output));
    assert!(!out.exists());
}
