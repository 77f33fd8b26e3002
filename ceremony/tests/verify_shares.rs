//! `verify-shares` through the binary: a root ceremony splits its key 2-of-3,
//! then drills recover it from shares, or fail with a message naming the cause.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret;
use common::{ceremony, listing, s, write_file};

/// A root ceremony's outputs and the three custodians' identity files.
struct Sealed {
    dir: tempfile::TempDir,
    identities: Vec<PathBuf>,
    shares: Vec<PathBuf>,
}

impl Sealed {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `verify-shares` against this ceremony's key and certificate.
    fn drill(&self, shares: &[&Path], identities: &[&Path]) -> common::Run {
        let key = self.path("root.key.age");
        let cert = self.path("root.pem");
        let mut args = vec![
            "verify-shares",
            "--encrypted-key",
            s(&key),
            "--root-cert",
            s(&cert),
        ];
        for share in shares {
            args.extend(["--share", s(share)]);
        }
        for identity in identities {
            args.extend(["--identity", s(identity)]);
        }
        ceremony(&args)
    }
}

/// Runs a `root` ceremony with a 2-of-3 split among three custodians.
fn seal_root() -> Sealed {
    let dir = tempfile::tempdir().unwrap();
    let mut identities = Vec::new();
    let mut custodians = String::new();
    for number in 1..=3 {
        let identity = age::x25519::Identity::generate();
        let path = write_file(
            &dir.path().join(format!("custodian-{number}.key")),
            identity.to_string().expose_secret(),
            0o600,
        );
        identities.push(path);
        custodians.push_str(&format!(
            "\n[[custody.custodians]]\nname = \"Custodian {number}\"\nrecipient = \"{}\"\n",
            identity.to_public()
        ));
    }
    fs::create_dir(dir.path().join("shares")).unwrap();
    let file = format!(
        r#"id = "drill-root"
kind = "root"
description = "Root for the share drill tests"
transcript = "transcript.jsonl"

[key]
algorithm = "ecdsa-p256"

[subject]
common_name = "Drill Root CA"

[validity]
days = 365

[outputs]
certificate = "root.pem"
key = "root.key.age"
shares_dir = "shares"

[custody]
mode = "shares"
threshold = 2
{custodians}"#
    );
    let ceremony_file = write_file(&dir.path().join("root.toml"), &file, 0o644);
    ceremony(&["run", s(&ceremony_file), "--yes"]).assert_success();

    let mut shares: Vec<PathBuf> = listing(&dir.path().join("shares"))
        .into_iter()
        .map(|name| dir.path().join("shares").join(name))
        .collect();
    shares.sort();
    assert_eq!(shares.len(), 3, "{shares:?}");
    Sealed {
        dir,
        identities,
        shares,
    }
}

#[test]
fn verify_shares_drills() {
    let sealed = seal_root();
    let ids: Vec<&Path> = sealed.identities.iter().map(PathBuf::as_path).collect();
    let before = listing(sealed.dir.path());

    // Every pair of shares recovers the key and matches the certificate.
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let run = sealed.drill(&[&sealed.shares[a], &sealed.shares[b]], &ids);
        run.assert_success();
        assert!(
            run.stdout.contains("recovered the root key in memory"),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("nothing was written"), "{}", run.stdout);
        assert!(run.stdout.contains("drill-root"), "{}", run.stdout);
    }
    assert_eq!(listing(sealed.dir.path()), before);

    // One share of a 2-of-3 split reveals nothing, and the error reports it.
    let run = sealed.drill(&[&sealed.shares[1]], &ids);
    run.assert_error(1, &["1 of the 2 shares needed", "reveal nothing", "1 more"]);

    // A mistyped character in a share is named before any decryption.
    let text = fs::read_to_string(&sealed.shares[2]).unwrap();
    let data_line = text.find("\n\n").unwrap() + 6;
    let mut damaged = text.into_bytes();
    damaged[data_line] = if damaged[data_line] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let damaged_path = sealed.path("damaged-share.txt");
    fs::write(&damaged_path, &damaged).unwrap();
    let run = sealed.drill(&[&sealed.shares[0], &damaged_path], &ids);
    run.assert_error(
        1,
        &["damaged-share.txt", "share 3 of 3", "damaged or mistyped"],
    );

    // The same share twice is rejected.
    let run = sealed.drill(&[&sealed.shares[0], &sealed.shares[0]], &ids);
    run.assert_error(1, &["share 1 was given twice"]);

    // A share without its custodian's identity is named.
    let run = sealed.drill(&[&sealed.shares[0], &sealed.shares[1]], &ids[..1]);
    run.assert_error(1, &["share 2", "Custodian 2", "none was given"]);

    // A stranger's identity matches no share's recipient, so the first share is named.
    let stranger = age::x25519::Identity::generate();
    let stranger_path = write_file(
        &sealed.path("stranger.key"),
        stranger.to_string().expose_secret(),
        0o600,
    );
    let run = sealed.drill(&[&sealed.shares[0], &sealed.shares[1]], &[&stranger_path]);
    run.assert_error(1, &["share 1", "Custodian 1"]);
    assert_eq!(listing(sealed.dir.path()).len(), before.len() + 2);
}

#[test]
fn verify_shares_rejects_other_root_certificate() {
    let sealed = seal_root();
    let other = seal_root();
    let ids: Vec<&Path> = sealed.identities.iter().map(PathBuf::as_path).collect();
    let key = sealed.path("root.key.age");
    let other_cert = other.path("root.pem");
    let run = ceremony(&[
        "verify-shares",
        "--encrypted-key",
        s(&key),
        "--root-cert",
        s(&other_cert),
        "--share",
        s(&sealed.shares[0]),
        "--share",
        s(&sealed.shares[2]),
        "--identity",
        s(ids[0]),
        "--identity",
        s(ids[2]),
    ]);
    run.assert_error(1, &["does not belong to the root certificate"]);

    // Shares of one ceremony run against the key of another run of the same id.
    let other_key = other.path("root.key.age");
    let cert = sealed.path("root.pem");
    let run = ceremony(&[
        "verify-shares",
        "--encrypted-key",
        s(&other_key),
        "--root-cert",
        s(&cert),
        "--share",
        s(&sealed.shares[0]),
        "--share",
        s(&sealed.shares[1]),
        "--identity",
        s(ids[0]),
        "--identity",
        s(ids[1]),
    ]);
    run.assert_error(1, &["cannot decrypt the root key", "shares 1, 2"]);
}
