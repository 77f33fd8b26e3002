//! Every ceremony kind end to end from its example file with `--yes`, and every
//! certificate and CRL checked by pkilint, OpenSSL and rustls-webpki.

#![allow(clippy::unwrap_used)]

mod support;

use ironroot_core::bundle::Bundle;
use ironroot_core::cert::{Authority, CertificateInfo};
use ironroot_core::keys::{KeyAlgorithm, PrivateKey};
use ironroot_core::names::SubjectName;
use ironroot_core::profile::{self, LeafUsage, Validity};
use ironroot_e2e::verify::{Usage, webpki_verify};
use support::{Workspace, cert_der, openssl, pkilint_cert_errors, pkilint_crl_errors};
use time::{Duration, OffsetDateTime};

fn assert_lints_clean(ws: &Workspace, names: &[&str]) {
    for name in names {
        let errors = pkilint_cert_errors(&ws.path(name));
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

fn assert_transcript_verifies(ws: &Workspace, transcript: &str, signer: &str) {
    let run = ws.ceremony(&["verify-transcript", transcript, "--signer-cert", signer]);
    run.assert_success();
    assert!(run.stdout.contains("signature valid"), "{}", run.stdout);
}

/// Issues a leaf for `name` from the intermediate in `bundle` (opened with the host identity).
fn leaf_from_bundle(ws: &Workspace, bundle: &str, name: &str) -> Vec<u8> {
    let sealed = std::fs::read(ws.path(bundle)).unwrap();
    let bundle = Bundle::open(&sealed, &ws.host).unwrap();
    let key = bundle.key.unwrap();
    let authority = Authority::new(&bundle.intermediate.der, key, "intermediate").unwrap();
    let leaf_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let validity = Validity::starting_at(OffsetDateTime::now_utc(), Duration::days(30)).unwrap();
    let names = [SubjectName::parse(name).unwrap()];
    let params = profile::leaf(&names, validity, LeafUsage::ServerAndClient).unwrap();
    authority.sign_for(&params, &leaf_key).unwrap()
}

#[test]
fn root_ceremony_writes_linted_root_and_sealed_key() {
    let ws = Workspace::new();
    let run = ws.run_yes("root.toml");
    assert!(
        run.stdout.contains("Ceremony file SHA-256"),
        "{}",
        run.stdout
    );

    assert_lints_clean(&ws, &["root.pem"]);
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        ws.path("root.pem").to_str().unwrap(),
        ws.path("root.pem").to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let key = ws.read("root.key.age");
    assert!(
        key.contains("BEGIN AGE ENCRYPTED FILE"),
        "the root key is not sealed"
    );
    assert_transcript_verifies(&ws, "root-2026.transcript.jsonl", "root.pem");
    let leftovers: Vec<String> = ws
        .listing()
        .into_iter()
        .filter(|n| n.starts_with(".ironroot-staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn intermediate_ceremony_enforces_name_constraints() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    ws.run_yes("intermediate.toml");
    assert_lints_clean(&ws, &["web-1.pem"]);
    assert_transcript_verifies(&ws, "intermediate-web-1.transcript.jsonl", "root.pem");

    let root = ws.path("root.pem");
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        root.to_str().unwrap(),
        ws.path("web-1.pem").to_str().unwrap(),
    ]);
    assert!(ok, "{text}");

    let root_der = cert_der(&root);
    let intermediate_der = cert_der(&ws.path("web-1.pem"));
    let now = OffsetDateTime::now_utc();
    let inside = leaf_from_bundle(&ws, "web-1.bundle.age", "api.example.com");
    webpki_verify(
        &root_der,
        &[&intermediate_der],
        &inside,
        Usage::Server,
        Some("api.example.com"),
        now,
    )
    .unwrap();

    for outside in ["api.example.org", "secret.example.com"] {
        let leaf = leaf_from_bundle(&ws, "web-1.bundle.age", outside);
        let result = webpki_verify(
            &root_der,
            &[&intermediate_der],
            &leaf,
            Usage::Server,
            Some(outside),
            now,
        );
        assert!(
            result.is_err(),
            "webpki accepted {outside} outside the name constraints"
        );

        let leaf_path = ws.path("outside.pem");
        std::fs::write(
            &leaf_path,
            ironroot_core::pemfile::encode("CERTIFICATE", &leaf),
        )
        .unwrap();
        let (ok, text) = openssl(&[
            "verify",
            "-x509_strict",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            ws.path("web-1.pem").to_str().unwrap(),
            leaf_path.to_str().unwrap(),
        ]);
        assert!(!ok, "openssl accepted {outside}: {text}");
        assert!(text.contains("subtree violation"), "{text}");
        std::fs::remove_file(&leaf_path).unwrap();
    }
}

#[test]
fn csr_ceremony_bundle_carries_no_key() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    ws.run_yes("intermediate-from-csr.toml");
    assert_lints_clean(&ws, &["web-2.pem"]);
    let sealed = std::fs::read(ws.path("web-2.bundle.age")).unwrap();
    let bundle = Bundle::open(&sealed, &ws.host).unwrap();
    assert!(
        bundle.key.is_none(),
        "a bundle made from a CSR carries a key"
    );
    assert!(bundle.manifest.key.is_none());

    let csr = ironroot_core::csr::parse_and_verify(ws.read("web-2.csr").as_bytes());
    let intermediate = CertificateInfo::parse(&bundle.intermediate.der, "web-2").unwrap();
    if let Ok(csr) = csr {
        assert_eq!(intermediate.public_key_der, csr.public_key_der);
    }
    let root = ws.path("root.pem");
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        root.to_str().unwrap(),
        ws.path("web-2.pem").to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert_transcript_verifies(&ws, "intermediate-web-2.transcript.jsonl", "root.pem");
}

#[test]
fn crl_ceremony_revokes_intermediate() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    ws.run_yes("intermediate.toml");
    let intermediate = CertificateInfo::parse(&cert_der(&ws.path("web-1.pem")), "web-1").unwrap();
    ws.edit(
        "crl.toml",
        "3A:7F:00:12:9C:44:5B:E1:08:6D:2A:90:11:C3:7E:05",
        &intermediate.serial_hex(),
    );
    ws.run_yes("crl.toml");

    let errors = pkilint_crl_errors(&ws.path("root-1.crl"));
    assert!(errors.is_empty(), "{errors:?}");
    let root = ws.path("root.pem");
    let (ok, text) = openssl(&[
        "crl",
        "-in",
        ws.path("root-1.crl").to_str().unwrap(),
        "-CAfile",
        root.to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("verify OK"), "{text}");
    let serial = intermediate.serial_hex().replace(':', "").to_uppercase();
    assert!(
        text.to_uppercase().replace(':', "").contains(&serial),
        "{text}"
    );
    assert!(text.contains("Cessation Of Operation"), "{text}");

    // OpenSSL then rejects the revoked intermediate when it checks the CRL.
    let (ok, text) = openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        root.to_str().unwrap(),
        "-CRLfile",
        ws.path("root-1.crl").to_str().unwrap(),
        ws.path("web-1.pem").to_str().unwrap(),
    ]);
    assert!(!ok, "{text}");
    assert!(text.contains("revoked"), "{text}");
    assert_transcript_verifies(&ws, "crl-2026-1.transcript.jsonl", "root.pem");
}

#[test]
fn rollover_ceremony_cross_signs_both_roots() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    ws.run_yes("intermediate.toml");
    ws.run_yes("root-rollover.toml");
    assert_lints_clean(
        &ws,
        &[
            "root-2036.pem",
            "root-2036-by-2026.pem",
            "root-2026-by-2036.pem",
        ],
    );
    assert!(
        ws.read("root-2036.key.age")
            .contains("BEGIN AGE ENCRYPTED FILE")
    );

    let old = ws.path("root.pem");
    let new = ws.path("root-2036.pem");
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        old.to_str().unwrap(),
        ws.path("root-2036-by-2026.pem").to_str().unwrap(),
    ]);
    assert!(ok, "new root under the old: {text}");
    let (ok, text) = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        new.to_str().unwrap(),
        ws.path("root-2026-by-2036.pem").to_str().unwrap(),
    ]);
    assert!(ok, "old root under the new: {text}");

    // A client that trusts only the new root accepts a leaf under the old
    // root's intermediate through the cross certificate.
    let leaf = leaf_from_bundle(&ws, "web-1.bundle.age", "api.example.com");
    let intermediate = cert_der(&ws.path("web-1.pem"));
    let cross = cert_der(&ws.path("root-2026-by-2036.pem"));
    let now = OffsetDateTime::now_utc();
    webpki_verify(
        &cert_der(&new),
        &[&intermediate, &cross],
        &leaf,
        Usage::Server,
        Some("api.example.com"),
        now,
    )
    .unwrap();
    assert_transcript_verifies(&ws, "rollover-2036.transcript.jsonl", "root.pem");
}

#[test]
fn shares_ceremony_writes_one_share_per_custodian() {
    let ws = Workspace::new();
    ws.run_yes("root-shares.toml");
    assert_lints_clean(&ws, &["shared-root.pem"]);
    let mut shares: Vec<String> = std::fs::read_dir(ws.path("shares"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    shares.sort();
    assert_eq!(
        shares,
        [
            "root-shares-2026-share-1-carol.txt",
            "root-shares-2026-share-2-dave.txt",
            "root-shares-2026-share-3-erin.txt"
        ]
    );
    assert_transcript_verifies(&ws, "root-shares-2026.transcript.jsonl", "shared-root.pem");
}
