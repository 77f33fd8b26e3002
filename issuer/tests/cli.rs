//! `init`, `import`, `admin-credential` and the start-up checks of `serve`,
//! driven through the binary.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Host, copy_key, issuer, key, pki, root, seal, stderr, stdout};
use ironroot_core::cert::CertificateInfo;
use ironroot_core::profile::{self, LeafUsage, Validity};
use time::{Duration, OffsetDateTime};

/// Asserts that a failed import left no CA row and no key file.
fn assert_nothing_imported(host: &Host) {
    assert_eq!(host.count("SELECT COUNT(*) FROM cas"), 0);
    assert_eq!(host.key_files(), 0);
}

fn assert_import_fails(host: &mut Host, bundle: &[u8], expected: &str) {
    let output = host.import(bundle);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(expected),
        "expected `{expected}` in:\n{message}"
    );
    assert_nothing_imported(host);
}

#[test]
fn init_creates_private_files() {
    let host = Host::init();
    let mode = |name: &str| {
        std::fs::metadata(host.data.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700);
    assert_eq!(mode("host.identity"), 0o600);
    assert_eq!(mode("host.recipient"), 0o644);
    assert_eq!(mode("issuer.db"), 0o600);
    let recipient = std::fs::read_to_string(host.data.join("host.recipient")).unwrap();
    assert_eq!(recipient.trim(), host.recipient);
}

#[test]
fn init_twice_keeps_identity() {
    let host = Host::init();
    let identity = std::fs::read(host.data.join("host.identity")).unwrap();
    let output = issuer(&["init", "--data-dir", host.data_dir()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().last().unwrap(), host.recipient);
    assert_eq!(
        std::fs::read(host.data.join("host.identity")).unwrap(),
        identity
    );
}

#[test]
fn import_stores_key_and_active_ca() {
    let (host, pki) = Host::ready();
    let fingerprint = pki.intermediate.fingerprint.to_hex();
    let key_path = host
        .data
        .join("intermediates")
        .join(format!("{fingerprint}.key.pem"));
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(host.count("SELECT COUNT(*) FROM cas WHERE active = 1"), 1);
}

#[test]
fn import_twice_changes_nothing() {
    let (mut host, pki) = Host::ready();
    let bundle = seal(
        &pki.intermediate,
        pki.root.certificate(),
        copy_key(&pki.intermediate_key),
        &host.recipient.clone(),
    );
    let output = host.import(&bundle);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("already imported"),
        "{}",
        stdout(&output)
    );
    assert_eq!(host.count("SELECT COUNT(*) FROM cas"), 1);
    assert_eq!(host.key_files(), 1);
}

#[test]
fn import_rejects_bundle_for_another_host() {
    let mut host = Host::init();
    let pki = pki();
    let other = age::x25519::Identity::generate().to_public().to_string();
    let bundle = seal(
        &pki.intermediate,
        pki.root.certificate(),
        pki.intermediate_key,
        &other,
    );
    let expected = format!(
        "this bundle was encrypted for another issuing host; ask the ceremony to re-run sign-intermediate with this host's recipient {}",
        host.recipient
    );
    assert_import_fails(&mut host, &bundle, &expected);
}

#[test]
fn import_rejects_bundle_of_unexpected_root() {
    let mut host = Host::init();
    let expected = root("The Real Root");
    host.expected_root = expected.certificate().fingerprint.to_string();
    let pki = pki();
    let recipient = host.recipient.clone();
    let bundle = seal(
        &pki.intermediate,
        pki.root.certificate(),
        pki.intermediate_key,
        &recipient,
    );
    assert_import_fails(&mut host, &bundle, "made by another CA");
    let message = stderr(&host.import(&bundle));
    assert!(
        message.contains(&pki.root.certificate().fingerprint.to_string()),
        "{message}"
    );
}

#[test]
fn import_rejects_truncated_bundle() {
    let mut host = Host::init();
    let pki = pki();
    let recipient = host.recipient.clone();
    let bundle = seal(
        &pki.intermediate,
        pki.root.certificate(),
        pki.intermediate_key,
        &recipient,
    );
    assert_import_fails(&mut host, &bundle[..bundle.len() / 2], "was rejected");
    let message = stderr(&host.import(&bundle[..bundle.len() / 2]));
    assert!(message.contains("is truncated"), "{message}");
}

#[test]
fn import_rejects_flipped_byte() {
    let mut host = Host::init();
    let pki = pki();
    let recipient = host.recipient.clone();
    let mut bundle = seal(
        &pki.intermediate,
        pki.root.certificate(),
        pki.intermediate_key,
        &recipient,
    );
    // A byte in the armored payload, well past the header.
    let index = bundle.len() - 200;
    bundle[index] = if bundle[index] == b'A' { b'B' } else { b'A' };
    assert_import_fails(&mut host, &bundle, "was rejected");
    let message = stderr(&host.import(&bundle));
    assert!(message.contains("damaged or was altered"), "{message}");
}

#[test]
fn import_rejects_mismatched_key() {
    let mut host = Host::init();
    let pki = pki();
    let recipient = host.recipient.clone();
    let bundle = seal(&pki.intermediate, pki.root.certificate(), key(), &recipient);
    assert_import_fails(&mut host, &bundle, "key does not match its certificate");
}

#[test]
fn import_rejects_non_ca_intermediate() {
    let mut host = Host::init();
    let pki = pki();
    let leaf_key = key();
    let validity = Validity::starting_at(
        OffsetDateTime::now_utc() - Duration::hours(1),
        Duration::days(30),
    )
    .unwrap();
    let names = [ironroot_core::names::SubjectName::parse("not-a-ca.example").unwrap()];
    let params = profile::leaf(&names, validity, LeafUsage::ServerAndClient).unwrap();
    let der = pki.root.sign_for(&params, &leaf_key).unwrap();
    let leaf = CertificateInfo::parse(&der, "leaf").unwrap();
    let recipient = host.recipient.clone();
    let bundle = seal(&leaf, pki.root.certificate(), leaf_key, &recipient);
    assert_import_fails(&mut host, &bundle, "is not a CA certificate");
}

#[test]
fn import_rejects_intermediate_of_other_root() {
    let mut host = Host::init();
    let pki = pki();
    let other_root = root("Other Root");
    let recipient = host.recipient.clone();
    let bundle = seal(
        &pki.intermediate,
        other_root.certificate(),
        pki.intermediate_key,
        &recipient,
    );
    assert_import_fails(&mut host, &bundle, "not signed by the bundled root");
}

#[test]
fn import_rejects_expired_intermediate() {
    let mut host = Host::init();
    let root = root("IronRoot Test Root");
    let intermediate_key = key();
    let validity = Validity::starting_at(
        OffsetDateTime::now_utc() - Duration::days(1),
        Duration::hours(1),
    )
    .unwrap();
    let intermediate = common::intermediate_with(&root, &intermediate_key, validity);
    let recipient = host.recipient.clone();
    let bundle = seal(
        &intermediate,
        root.certificate(),
        intermediate_key,
        &recipient,
    );
    assert_import_fails(&mut host, &bundle, "which does not include now");
}

#[test]
fn serve_rejects_world_readable_key() {
    let (host, pki) = Host::ready();
    let key_path = host
        .data
        .join("intermediates")
        .join(format!("{}.key.pem", pki.intermediate.fingerprint.to_hex()));
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = issuer(&[
        "serve",
        "--data-dir",
        host.data_dir(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains(key_path.to_str().unwrap()), "{message}");
    assert!(message.contains("chmod 600"), "{message}");
}

#[test]
fn serve_rejects_world_readable_database() {
    let (host, _pki) = Host::ready();
    let database = host.data.join("issuer.db");
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o640)).unwrap();
    let output = issuer(&[
        "serve",
        "--data-dir",
        host.data_dir(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("issuer.db"), "{message}");
}

#[test]
fn serve_rejects_plain_http_beyond_loopback() {
    let (host, _pki) = Host::ready();
    let config = host.write(
        "issuer.toml",
        b"plain_http = true\nlisten = \"0.0.0.0:18080\"\n",
    );
    let output = issuer(&[
        "serve",
        "--data-dir",
        host.data_dir(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("TLS is required beyond loopback"),
        "{message}"
    );
}

#[test]
fn serve_rejects_unknown_config_key() {
    let (host, _pki) = Host::ready();
    let config = host.write("issuer.toml", b"lisen = \"127.0.0.1:1\"\n");
    let output = issuer(&[
        "serve",
        "--data-dir",
        host.data_dir(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("lisen"), "{message}");
}

#[test]
fn serve_requires_an_import() {
    let host = Host::init();
    let output = issuer(&[
        "serve",
        "--data-dir",
        host.data_dir(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("run ironroot-issuer import first"),
        "{message}"
    );
}

#[test]
fn admin_credential_writes_files() {
    let (mut host, _pki) = Host::ready();
    let identity = host.admin_credential("alice");
    assert_eq!(identity.chain.len(), 2);
    let out = host.temp.path().join("admin-alice");
    let mode = std::fs::metadata(out.join("admin.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(out.join("root.pem").exists());
    assert_eq!(
        host.count("SELECT COUNT(*) FROM admin_credentials WHERE name = 'alice'"),
        1
    );
    assert_eq!(
        host.count("SELECT COUNT(*) FROM certificates WHERE kind = 'admin'"),
        1
    );
    let leaf = CertificateInfo::parse(&identity.chain[0], "admin").unwrap();
    assert!(!leaf.is_ca);
}
