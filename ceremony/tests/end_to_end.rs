//! init-root followed by sign-intermediate, with every output checked by
//! x509-parser, by the bundle importer's own checks and, where installed, by
//! `openssl verify`.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{PASSPHRASE, ceremony, init_root, mode, passphrase_file, s, write_file};
use ironroot_core::Fingerprint;
use ironroot_core::bundle::Bundle;
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;
use x509_parser::pem::Pem;
use x509_parser::prelude::X509Certificate;

/// Reads the single PEM certificate in `path`.
fn read_pem(path: &Path) -> Pem {
    let bytes = fs::read(path).unwrap();
    let (rest, pem) = x509_parser::pem::parse_x509_pem(&bytes).unwrap();
    assert!(
        rest.is_empty(),
        "{} holds more than one PEM block",
        path.display()
    );
    pem
}

fn subject_key_id(certificate: &X509Certificate<'_>) -> Option<Vec<u8>> {
    certificate
        .extensions()
        .iter()
        .find_map(|extension| match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
}

fn authority_key_id(certificate: &X509Certificate<'_>) -> Option<Vec<u8>> {
    certificate
        .extensions()
        .iter()
        .find_map(|extension| match extension.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            _ => None,
        })
}

/// Asserts a positive serial of at least 64 bits.
fn assert_serial(certificate: &X509Certificate<'_>) {
    let serial = certificate.raw_serial();
    assert_eq!(serial[0] & 0x80, 0, "serial is negative");
    let significant: Vec<u8> = serial
        .iter()
        .copied()
        .skip_while(|byte| *byte == 0)
        .collect();
    assert!(
        significant.len() >= 8,
        "serial has fewer than 64 bits: {serial:02x?}"
    );
}

/// Asserts the CA extensions: basicConstraints CA critical with `path_len`,
/// keyUsage keyCertSign and cRLSign critical, and an SKI.
fn assert_ca_profile(certificate: &X509Certificate<'_>, path_len: Option<u32>) {
    let constraints = certificate.basic_constraints().unwrap().unwrap();
    assert!(constraints.critical, "basicConstraints is not critical");
    assert!(constraints.value.ca, "basicConstraints lacks CA:true");
    assert_eq!(constraints.value.path_len_constraint, path_len);

    let usage = certificate.key_usage().unwrap().unwrap();
    assert!(usage.critical, "keyUsage is not critical");
    assert!(usage.value.key_cert_sign(), "keyUsage lacks keyCertSign");
    assert!(usage.value.crl_sign(), "keyUsage lacks cRLSign");

    assert!(subject_key_id(certificate).is_some(), "SKI is missing");
    assert_serial(certificate);
}

/// Runs `openssl verify -CAfile root intermediate` when openssl is installed.
fn openssl_verify(root: &Path, intermediate: &Path) {
    let output = Command::new("openssl")
        .args(["verify", "-CAfile", s(root), s(intermediate)])
        .output();
    match output {
        Ok(output) => assert!(
            output.status.success(),
            "openssl verify failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => println!("note: openssl verify skipped, openssl is not runnable ({error})"),
    }
}

#[test]
fn ceremony_root_and_intermediate_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = passphrase_file(dir.path(), "passphrase", PASSPHRASE);
    let root_dir = dir.path().join("root");
    let init = init_root(
        &root_dir,
        &passphrase,
        &["--organization", "Example Org", "--country", "DE"],
    );

    let root_pem_path = root_dir.join("root.pem");
    let root_key_path = root_dir.join("root.key.age");
    assert_eq!(mode(&root_dir), 0o700);
    assert_eq!(mode(&root_pem_path), 0o644);
    assert_eq!(mode(&root_key_path), 0o600);

    let root_pem = read_pem(&root_pem_path);
    let root = root_pem.parse_x509().unwrap();
    assert_ca_profile(&root, None);
    assert_eq!(
        root.subject().to_string(),
        "C=DE, O=Example Org, CN=IronRoot Root CA"
    );
    assert_eq!(root.subject(), root.issuer());
    let root_fingerprint = Fingerprint::of(&root_pem.contents);
    assert!(
        init.stdout.contains(&root_fingerprint.to_string()),
        "{}",
        init.stdout
    );
    assert!(
        init.stdout
            .contains(&root_fingerprint.to_spoken_groups().replace('\n', "\n    "))
    );
    let key_file_hash = Fingerprint::of(&fs::read(&root_key_path).unwrap()).to_hex();
    assert!(init.stdout.contains(&key_file_hash), "{}", init.stdout);
    let key_file_text = fs::read_to_string(&root_key_path).unwrap();
    assert!(key_file_text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));

    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let bundle_path = dir.path().join("intermediate.bundle.age");
    let cert_path = dir.path().join("intermediate.pem");
    let sign = ceremony(&[
        "sign-intermediate",
        "--root-cert",
        s(&root_pem_path),
        "--root-key",
        s(&root_key_path),
        "--passphrase-file",
        s(&passphrase),
        "--recipient",
        &recipient,
        "--out",
        s(&bundle_path),
        "--cert-out",
        s(&cert_path),
        "--organization",
        "Example Org",
    ]);
    sign.assert_success();
    assert_eq!(mode(&bundle_path), 0o600);
    assert_eq!(mode(&cert_path), 0o644);

    let intermediate_pem = read_pem(&cert_path);
    let intermediate = intermediate_pem.parse_x509().unwrap();
    assert_ca_profile(&intermediate, Some(0));
    assert_eq!(intermediate.issuer(), root.subject());
    assert_eq!(authority_key_id(&intermediate), subject_key_id(&root));
    assert!(intermediate.validity().not_before >= root.validity().not_before);
    assert!(intermediate.validity().not_after <= root.validity().not_after);
    intermediate
        .verify_signature(Some(root.public_key()))
        .unwrap();

    let intermediate_fingerprint = Fingerprint::of(&intermediate_pem.contents);
    assert!(
        sign.stdout.contains(&intermediate_fingerprint.to_string()),
        "{}",
        sign.stdout
    );
    let spoken = intermediate_fingerprint
        .to_spoken_groups()
        .replace('\n', "\n    ");
    assert!(sign.stdout.contains(&spoken), "{}", sign.stdout);
    assert!(sign.stdout.contains(&recipient), "{}", sign.stdout);
    let sealed = fs::read(&bundle_path).unwrap();
    assert!(
        sign.stdout.contains(&Fingerprint::of(&sealed).to_hex()),
        "{}",
        sign.stdout
    );
    assert!(
        sign.stdout
            .contains("\"format\": \"ironroot-intermediate-bundle\"")
    );

    let bundle = Bundle::open(&sealed, &identity).unwrap();
    bundle.verify(OffsetDateTime::now_utc()).unwrap();
    assert_eq!(bundle.intermediate.der, intermediate_pem.contents);
    assert_eq!(bundle.root.der, root_pem.contents);
    let key = bundle.key.as_ref().unwrap();
    assert_eq!(key.algorithm().name(), "ecdsa-p256");
    assert_eq!(
        bundle.manifest.intermediate.sha256,
        intermediate_fingerprint.to_string()
    );

    let other = age::x25519::Identity::generate();
    assert!(Bundle::open(&sealed, &other).is_err());

    openssl_verify(&root_pem_path, &cert_path);
}

#[test]
fn ceremony_p384_root_signs_ed25519_intermediate() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = passphrase_file(dir.path(), "passphrase", PASSPHRASE);
    let root_dir = dir.path().join("root");
    init_root(
        &root_dir,
        &passphrase,
        &[
            "--algorithm",
            "ecdsa-p384",
            "--common-name",
            "Test P-384 Root",
        ],
    );

    let identity = age::x25519::Identity::generate();
    let recipient_file = write_file(
        &dir.path().join("host.recipient"),
        &format!("# issuing host\n{}", identity.to_public()),
        0o644,
    );
    let bundle_path = dir.path().join("bundle.age");
    let cert_path = dir.path().join("intermediate.pem");
    let root_pem_path = root_dir.join("root.pem");
    let sign = ceremony(&[
        "sign-intermediate",
        "--root-cert",
        s(&root_pem_path),
        "--root-key",
        s(&root_dir.join("root.key.age")),
        "--passphrase-file",
        s(&passphrase),
        "--recipient-file",
        s(&recipient_file),
        "--out",
        s(&bundle_path),
        "--cert-out",
        s(&cert_path),
        "--algorithm",
        "ed25519",
        "--validity-days",
        "90",
        "--path-len",
        "1",
    ]);
    sign.assert_success();

    let intermediate_pem = read_pem(&cert_path);
    let intermediate = intermediate_pem.parse_x509().unwrap();
    assert_ca_profile(&intermediate, Some(1));
    let lifetime = intermediate.validity().not_after.timestamp()
        - intermediate.validity().not_before.timestamp();
    assert_eq!(lifetime, 90 * 86_400);

    let bundle = Bundle::open(&fs::read(&bundle_path).unwrap(), &identity).unwrap();
    bundle.verify(OffsetDateTime::now_utc()).unwrap();
    assert_eq!(bundle.key.as_ref().unwrap().algorithm().name(), "ed25519");

    openssl_verify(&root_pem_path, &cert_path);
}
