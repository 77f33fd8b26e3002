//! Policy profiles, validity rules, rate limits and renewal over mTLS,
//! through the real binaries against a daemon on loopback. Requests the
//! client CLI cannot make (other key types, chosen extensions, URI SANs) are
//! sent with curl and CSRs made by openssl.

// Test helpers outside #[test] functions unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironroot_core::cert::CertificateInfo;
use ironroot_e2e::pki::{P256, Pki, PkiOptions, file_mode, openssl_csr, path_str as s};
use ironroot_e2e::run::{Daemon, Run};
use ironroot_e2e::verify;

const CONFIG: &str = r#"
backdate = "1s"

[profiles.web]
allowed_dns = ["*.web.example", "api.example", "*.xn--bcher-kva.example"]
denied_dns = ["admin.web.example"]
allowed_ip_ranges = ["127.0.0.0/8"]
key_types = ["ecdsa-p256", "rsa"]
min_rsa_bits = 3072
default_lifetime = "1h"
max_lifetime = "2h"
extended_key_usages = ["server_auth"]

[profiles.mesh]
allowed_uri_prefixes = ["spiffe://prod/"]
allowed_email_domains = ["ops.example"]
allowed_dns = ["*.mesh.example"]
max_lifetime = "36500d"
default_lifetime = "1h"
extended_key_usages = ["client_auth"]
clamp_to_issuer = false

[profiles.long]
allowed_dns = ["*.long.example"]
max_lifetime = "36500d"
default_lifetime = "1h"

[profiles.short]
allowed_dns = ["*.short.example"]
default_lifetime = "15s"
max_lifetime = "1h"
"#;

const OPTIONS: PkiOptions<'static> = PkiOptions {
    algorithm: "ecdsa-p256",
    root_common_name: "Policy Root CA",
    intermediate: "intermediate",
    intermediate_common_name: "Policy Intermediate CA",
    admin_name: "policy-operator",
    config: None,
};

/// Starts a daemon with `CONFIG` plus `extra` lines.
fn start_daemon(pki: &Pki, extra: &str) -> Daemon {
    let config = pki.path("issuer-test.toml");
    std::fs::write(&config, format!("{extra}\n{CONFIG}")).unwrap();
    pki.start_daemon(&["--config", s(&config)])
}

/// Runs `ironroot-admin token create` into the file `file`. Each of `names`
/// becomes a `--dns`, `--ip`, `--uri` or `--email` value by its form.
fn token_run(pki: &Pki, daemon: &Daemon, file: &str, profile: Option<&str>, names: &[&str]) -> Run {
    let options = match profile {
        Some(profile) => vec!["--profile", profile],
        None => Vec::new(),
    };
    pki.create_token(daemon, &pki.path(file), names, &options)
}

/// Creates a token like [`token_run`] and returns the path of its file.
fn token_file(
    pki: &Pki,
    daemon: &Daemon,
    file: &str,
    profile: Option<&str>,
    names: &[&str],
) -> PathBuf {
    token_run(pki, daemon, file, profile, names).success();
    pki.path(file)
}

/// Asserts that `token create` for `name` fails and that its stderr contains
/// every one of `reasons`.
fn assert_token_rejected(
    pki: &Pki,
    daemon: &Daemon,
    file: &str,
    profile: Option<&str>,
    name: &str,
    reasons: &[&str],
) {
    let output = token_run(pki, daemon, file, profile, &[name]);
    assert_ne!(output.code, 0, "{name}: {}", output.stdout);
    for reason in reasons {
        assert!(
            output.stderr.contains(reason),
            "{name}: `{reason}` missing in {}",
            output.stderr
        );
    }
}

fn copy_credential(pki: &Pki, from: &str, to: &str) {
    for suffix in [".pem", ".key", ".chain.pem"] {
        std::fs::copy(
            pki.path(&format!("{from}{suffix}")),
            pki.path(&format!("{to}{suffix}")),
        )
        .unwrap();
    }
}

fn openssl_verify(pki: &Pki, prefix: &str) {
    verify::openssl_verify(
        &pki.root(),
        Some(&pki.path(&format!("{prefix}.chain.pem"))),
        &pki.path(&format!("{prefix}.pem")),
    )
    .unwrap_or_else(|error| panic!("openssl verify failed for {prefix}: {error}"));
}

fn certificate_from(body: &str) -> x509_parser::pem::Pem {
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let pem_text = json["certificate"].as_str().unwrap().to_owned();
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).unwrap();
    pem
}

#[test]
fn policy_rules_allow_and_deny() {
    let pki = Pki::new(&OPTIONS);
    let daemon = start_daemon(&pki, "");

    // Token creation: unknown profile, and names outside the profile.
    let rejected: [(&str, Option<&str>, &str, &[&str]); 4] = [
        (
            "t-unknown",
            Some("nope"),
            "a.web.example",
            &["`nope`", "default, long, mesh, short, web"],
        ),
        (
            "t-denied",
            Some("web"),
            "admin.web.example",
            &["name_not_allowed", "denied_dns"],
        ),
        (
            "t-outside",
            Some("web"),
            "www.other.example",
            &["allowed_dns"],
        ),
        ("t-ip", Some("web"), "10.0.0.1", &["allowed_ip_ranges"]),
    ];
    for (file, profile, name, reasons) in rejected {
        assert_token_rejected(&pki, &daemon, file, profile, name, reasons);
    }

    // IDNA: a U-label name is stored as its A-label.
    let idna = token_run(
        &pki,
        &daemon,
        "t-idna",
        Some("web"),
        &["shop.bücher.example"],
    );
    let idna = idna.success();
    assert!(
        format!("{}{}", idna.stdout, idna.stderr).contains("shop.xn--bcher-kva.example"),
        "{} {}",
        idna.stdout,
        idna.stderr
    );
    let token = pki.path("t-idna");
    pki.enroll(&daemon, &token, "idna", &["shop.xn--bcher-kva.example"])
        .success();
    assert!(
        pki.leaf("idna")
            .names
            .contains(&ironroot_core::names::SubjectName::Dns(
                "shop.xn--bcher-kva.example".to_owned()
            ))
    );

    // Allowed DNS and IP, with the profile's serverAuth-only EKU and lifetime.
    let token = token_file(
        &pki,
        &daemon,
        "t-web",
        Some("web"),
        &["a.web.example", "127.0.0.1"],
    );
    pki.enroll(&daemon, &token, "web", &["a.web.example", "127.0.0.1"])
        .success();
    let leaf = pki.leaf("web");
    let lifetime = leaf.validity.not_after - leaf.validity.not_before;
    assert!(lifetime <= time::Duration::seconds(3601 + 1), "{lifetime}");
    assert!(lifetime >= time::Duration::seconds(3600), "{lifetime}");
    let (_, parsed) = x509_parser::parse_x509_certificate(&leaf.der).unwrap();
    let eku = parsed.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth);
    assert!(!eku.client_auth);
    openssl_verify(&pki, "web");

    // Key types: P-384 is not in key_types, RSA 2048 is below min_rsa_bits, RSA 3072 passes.
    let dir = pki.dir();
    let token = token_file(&pki, &daemon, "t-keys", Some("web"), &["*.web.example"]);
    let p384 = openssl_csr(
        dir,
        "p384",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "DNS:k.web.example",
        &[],
    );
    let (status, _, body) = pki.curl_sign(&daemon, &token, &p384, None);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("key_not_allowed") && body.contains("ecdsa-p384"),
        "{body}"
    );
    let rsa2048 = openssl_csr(dir, "rsa2048", &["rsa:2048"], "DNS:k.web.example", &[]);
    let (status, _, body) = pki.curl_sign(&daemon, &token, &rsa2048, None);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("min_rsa_bits"), "{body}");

    // Requested lifetime above the cap names the cap; within it is honoured.
    let p256 = openssl_csr(dir, "p256", P256, "DNS:k.web.example", &[]);
    let (status, _, body) = pki.curl_sign(&daemon, &token, &p256, Some(7201));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("7200") && body.contains("max_lifetime"),
        "{body}"
    );
    let rsa3072 = openssl_csr(dir, "rsa3072", &["rsa:3072"], "DNS:k.web.example", &[]);
    let (status, _, body) = pki.curl_sign(&daemon, &token, &rsa3072, Some(600));
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(json.get("notice").is_none(), "{body}");

    // URI and email SANs: allowed prefixes and domains pass, others are named.
    let token = token_file(
        &pki,
        &daemon,
        "t-mesh",
        Some("mesh"),
        &["spiffe://prod/api", "ops@ops.example"],
    );
    let good = openssl_csr(
        dir,
        "uri",
        P256,
        "URI:spiffe://prod/api,email:ops@ops.example",
        &[],
    );
    let (status, _, body) = pki.curl_sign(&daemon, &token, &good, None);
    assert_eq!(status, 200, "{body}");
    let pem = certificate_from(&body);
    let parsed = pem.parse_x509().unwrap();
    let san = parsed.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(san.general_names.len(), 2);
    let eku = parsed.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    // Other URI prefixes and email domains are named. The default profile
    // allows no URI SAN.
    let rejected: [(&str, Option<&str>, &str, &[&str]); 3] = [
        (
            "t-mesh-bad",
            Some("mesh"),
            "spiffe://dev/api",
            &["allowed_uri_prefixes"],
        ),
        (
            "t-mail-bad",
            Some("mesh"),
            "ops@evil.example",
            &["allowed_email_domains"],
        ),
        (
            "t-default-uri",
            None,
            "spiffe://prod/api",
            &["allowed_uri_prefixes"],
        ),
    ];
    for (file, profile, name, reasons) in rejected {
        assert_token_rejected(&pki, &daemon, file, profile, name, reasons);
    }

    // A name the token allows but the CSR does not match is rejected by name.
    let token = token_file(&pki, &daemon, "t-scope", Some("web"), &["b.web.example"]);
    let other = openssl_csr(
        dir,
        "other",
        P256,
        "DNS:b.web.example,DNS:c.web.example",
        &[],
    );
    let (status, _, body) = pki.curl_sign(&daemon, &token, &other, None);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("c.web.example"), "{body}");
}

#[test]
fn validity_is_clamped_or_refused_and_csr_extensions_ignored() {
    let pki = Pki::new(&OPTIONS);
    let daemon = start_daemon(&pki, "");
    let dir = pki.dir();
    let far = 36_000 * 86_400;

    // clamp_to_issuer = true (profile long): cut to the intermediate, with a notice.
    let token = token_file(&pki, &daemon, "t-long", Some("long"), &["x.long.example"]);
    let csr = openssl_csr(
        dir,
        "ext",
        P256,
        "DNS:x.long.example",
        &[
            "keyUsage=critical,keyCertSign,cRLSign",
            "basicConstraints=critical,CA:FALSE",
            "nameConstraints=permitted;DNS:long.example",
            "subjectKeyIdentifier=0102030405060708090a0b0c0d0e0f1011121314",
            "crlDistributionPoints=URI:http://evil.example/crl",
            "extendedKeyUsage=codeSigning",
        ],
    );
    let (status, _, body) = pki.curl_sign(&daemon, &token, &csr, Some(far));
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let notice = json["notice"].as_str().unwrap();
    assert!(notice.contains("notAfter of the intermediate"), "{notice}");
    let pem = certificate_from(&body);
    let leaf = pem.parse_x509().unwrap();
    let intermediate =
        CertificateInfo::parse_pem(json["chain"].as_str().unwrap().as_bytes(), "intermediate")
            .unwrap();
    assert_eq!(
        leaf.validity().not_after.timestamp(),
        intermediate.validity.not_after.unix_timestamp()
    );
    // notBefore is backdated by `backdate` (1 s), never more than a few seconds.
    let skew =
        time::OffsetDateTime::now_utc().unix_timestamp() - leaf.validity().not_before.timestamp();
    assert!((0..=30).contains(&skew), "{skew}");

    // Nothing the CSR asked for was copied.
    let key_usage = leaf.key_usage().unwrap().unwrap().value;
    assert!(key_usage.digital_signature());
    assert!(!key_usage.key_cert_sign());
    assert!(!key_usage.crl_sign());
    assert!(leaf.name_constraints().unwrap().is_none());
    let ski = leaf
        .extensions()
        .iter()
        .find_map(|extension| match extension.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                Some(id.0.to_vec())
            }
            _ => None,
        })
        .unwrap();
    assert_ne!(ski, hex_bytes("0102030405060708090a0b0c0d0e0f1011121314"));
    let aki = leaf
        .extensions()
        .iter()
        .find_map(|extension| match extension.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(Some(aki), intermediate.subject_key_id);
    let has_crl_dp = leaf.extensions().iter().any(|extension| {
        matches!(
            extension.parsed_extension(),
            x509_parser::extensions::ParsedExtension::CRLDistributionPoints(_)
        )
    });
    assert!(!has_crl_dp, "the CSR's CRL distribution point was copied");
    let eku = leaf.extended_key_usage().unwrap().unwrap().value;
    assert!(!eku.code_signing);
    assert!(!leaf.is_ca());

    // clamp_to_issuer = false (profile mesh): 409 with both dates.
    let token = token_file(&pki, &daemon, "t-mesh", Some("mesh"), &["y.mesh.example"]);
    let csr = openssl_csr(dir, "mesh", P256, "DNS:y.mesh.example", &[]);
    let (status, _, body) = pki.curl_sign(&daemon, &token, &csr, Some(far));
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("validity_exceeds_issuer"), "{body}");
    let not_after = intermediate
        .validity
        .not_after
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(body.contains(&not_after), "{body} lacks {not_after}");
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn rate_limit_per_name_answers_429() {
    let pki = Pki::new(&OPTIONS);
    let daemon = start_daemon(&pki, "rate_limit_per_name = \"3/1h\"");
    let dir = pki.dir();
    let csr = openssl_csr(dir, "rl", P256, "DNS:rl.web.example", &[]);
    for round in 0..3 {
        let token = token_file(
            &pki,
            &daemon,
            &format!("t-rl{round}"),
            Some("web"),
            &["rl.web.example"],
        );
        let (status, _, body) = pki.curl_sign(&daemon, &token, &csr, None);
        assert_eq!(status, 200, "round {round}: {body}");
    }
    let token = token_file(&pki, &daemon, "t-rl-last", Some("web"), &["rl.web.example"]);
    let (status, head, body) = pki.curl_sign(&daemon, &token, &csr, None);
    assert_eq!(status, 429, "{body}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    assert!(
        body.contains("rate_limit_per_name") && body.contains("rl.web.example"),
        "{body}"
    );
    // The bucket stays empty for the next request with the same token.
    let csr = openssl_csr(dir, "rl2", P256, "DNS:rl.web.example", &[]);
    let (status, _, _) = pki.curl_sign(&daemon, &token, &csr, None);
    assert_eq!(status, 429);
}

#[test]
fn renewal_keeps_or_rekeys_and_refuses_revoked_superseded() {
    let pki = Pki::new(&OPTIONS);
    let daemon = start_daemon(&pki, "");
    // Renewal authenticates with the certificate, so its profile must include clientAuth.
    let token = token_file(
        &pki,
        &daemon,
        "t1",
        Some("long"),
        &["r.long.example", "s.long.example"],
    );
    pki.enroll(
        &daemon,
        &token,
        "leaf",
        &["r.long.example", "s.long.example"],
    )
    .success();
    let first = pki.leaf("leaf");
    copy_credential(&pki, "leaf", "old");

    // Not due yet: exit 0, nothing changes.
    pki.renew(&daemon, "leaf", &[])
        .success()
        .expect_stderr(&["not due"]);
    assert_eq!(pki.leaf("leaf").serial, first.serial);

    // Forced renewal keeping the key.
    pki.renew(&daemon, "leaf", &["--force"]).success();
    let second = pki.leaf("leaf");
    assert_ne!(second.serial, first.serial);
    assert_eq!(second.public_key_der, first.public_key_der);
    assert_eq!(second.names, first.names);
    openssl_verify(&pki, "leaf");
    let superseded_by: Option<String> = pki
        .db()
        .query_row(
            "SELECT superseded_by FROM certificates WHERE serial = ?1",
            [first.serial_hex()],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(superseded_by, Some(second.serial_hex()));

    // The superseded certificate cannot renew again.
    let again = pki.renew(&daemon, "old", &["--force"]);
    assert_ne!(again.code, 0);
    again.expect_stderr(&["certificate_superseded", "already renewed"]);

    // Rekeying renewal.
    pki.renew(&daemon, "leaf", &["--force", "--rekey"])
        .success();
    let third = pki.leaf("leaf");
    assert_ne!(third.public_key_der, second.public_key_der);
    assert_eq!(third.names, first.names);
    openssl_verify(&pki, "leaf");
    assert_eq!(file_mode(&pki.path("leaf.key")), 0o600);

    // A revoked certificate cannot renew.
    pki.db()
        .execute(
            "INSERT INTO revocations (serial, revoked_at, reason) VALUES (?1, strftime('%s','now'), 1)",
            [third.serial_hex()],
        )
        .unwrap();
    let revoked = pki.renew(&daemon, "leaf", &["--force"]);
    assert_ne!(revoked.code, 0);
    revoked.expect_stderr(&["certificate_revoked"]);

    // The log and the audit trail name every renewal.
    let log = daemon.log();
    assert!(log.contains("certificate renewed"), "{log}");
    assert!(log.contains(&first.serial_hex()), "{log}");
    let renew_rows: i64 = pki
        .db()
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'renew'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(renew_rows, 2);
}

#[test]
fn expired_certificate_renews_only_within_grace() {
    let pki = Pki::new(&OPTIONS);
    let daemon = start_daemon(&pki, "");
    let token = token_file(&pki, &daemon, "t1", Some("short"), &["e.short.example"]);
    pki.enroll(&daemon, &token, "leaf", &["e.short.example"])
        .success();
    let leaf = pki.leaf("leaf");
    wait_until(leaf.validity.not_after + time::Duration::seconds(2));

    let refused = pki.renew(&daemon, "leaf", &["--force"]);
    assert_ne!(refused.code, 0);
    refused.expect_stderr(&["certificate_expired", "expired at"]);
    daemon.stop();

    let daemon = start_daemon(&pki, "renewal_grace = \"1h\"");
    pki.renew(&daemon, "leaf", &["--force"]).success();
    let renewed = pki.leaf("leaf");
    assert_ne!(renewed.serial, leaf.serial);
    assert_eq!(renewed.names, leaf.names);
    openssl_verify(&pki, "leaf");
}

#[test]
fn run_mode_renews_reloads_and_exits_after_expiry() {
    let pki = Pki::new(&OPTIONS);
    let daemon = start_daemon(&pki, "");
    let token = token_file(&pki, &daemon, "t1", Some("short"), &["m.short.example"]);
    pki.enroll(&daemon, &token, "leaf", &["m.short.example"])
        .success();
    let reload_log = pki.path("reloads.log");
    let reload = format!("sh -c 'echo reloaded >> {}'", s(&reload_log));
    let mut child = pki.spawn_client_run(
        &daemon,
        "leaf",
        &["--reload-command", &reload],
        &pki.path("run.log"),
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    while reloads(&reload_log) < 2 {
        assert!(
            Instant::now() < deadline,
            "run did not renew twice:\n{}",
            std::fs::read_to_string(pki.path("run.log")).unwrap()
        );
        assert!(child.try_wait().unwrap().is_none(), "run exited early");
        std::thread::sleep(Duration::from_millis(200));
    }
    openssl_verify(&pki, "leaf");
    let renewals: i64 = pki
        .db()
        .query_row(
            "SELECT COUNT(*) FROM certificates WHERE superseded_by IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(renewals >= 2, "{renewals}");
    daemon.stop();

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("run did not exit after the certificate expired");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = std::fs::read_to_string(pki.path("run.log")).unwrap();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("renewal failed"), "{log}");
    assert!(log.contains("expired at"), "{log}");
    assert!(
        log.contains("reload command exited with exit status: 0"),
        "{log}"
    );
}

fn reloads(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

fn wait_until(at: time::OffsetDateTime) {
    let wait = at - time::OffsetDateTime::now_utc();
    if let Ok(wait) = Duration::try_from(wait) {
        std::thread::sleep(wait);
    }
}
