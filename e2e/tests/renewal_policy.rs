//! Policy profiles, validity rules, rate limits and renewal over mTLS,
//! through the real binaries against a daemon on loopback. Requests the
//! client CLI cannot make (other key types, chosen extensions, URI SANs) are
//! sent with curl and CSRs made by openssl.

// Test helpers outside #[test] functions unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ironroot_core::cert::CertificateInfo;
use ironroot_e2e::run::{Daemon, Run, Transcript, run};
use ironroot_e2e::verify;

struct Pki {
    dir: tempfile::TempDir,
    root: PathBuf,
    transcript: Transcript,
    data_dir: PathBuf,
    admin: PathBuf,
}

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

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let transcript = Transcript::default();
        let offline = base.join("offline");
        std::fs::create_dir(&offline).unwrap();
        let passphrase = offline.join("passphrase");
        std::fs::write(&passphrase, "rehearsal passphrase for tests only\n").unwrap();
        chmod600(&passphrase);
        run(
            &transcript,
            "ironroot-ceremony",
            &[
                "init-root",
                "--out-dir",
                s(&offline),
                "--algorithm",
                "ecdsa-p256",
                "--common-name",
                "Policy Root CA",
                "--passphrase-file",
                s(&passphrase),
            ],
        )
        .success();
        let data_dir = base.join("issuer");
        let init = run(
            &transcript,
            "ironroot-issuer",
            &["init", "--data-dir", s(&data_dir)],
        )
        .success();
        let recipient = init.stdout.lines().last().unwrap().trim().to_owned();
        let bundle = offline.join("intermediate.bundle.age");
        run(
            &transcript,
            "ironroot-ceremony",
            &[
                "sign-intermediate",
                "--root-cert",
                s(&offline.join("root.pem")),
                "--root-key",
                s(&offline.join("root.key.age")),
                "--passphrase-file",
                s(&passphrase),
                "--recipient",
                &recipient,
                "--common-name",
                "Policy Intermediate CA",
                "--out",
                s(&bundle),
            ],
        )
        .success();
        run(
            &transcript,
            "ironroot-issuer",
            &[
                "import",
                "--data-dir",
                s(&data_dir),
                "--root-fingerprint",
                &fingerprint_of(&offline.join("root.pem")),
                s(&bundle),
            ],
        )
        .success();
        let admin = base.join("admin");
        run(
            &transcript,
            "ironroot-issuer",
            &[
                "admin-credential",
                "--data-dir",
                s(&data_dir),
                "--name",
                "policy-operator",
                "--out-dir",
                s(&admin),
            ],
        )
        .success();
        Self {
            root: offline.join("root.pem"),
            dir,
            transcript,
            data_dir,
            admin,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a daemon with `CONFIG` plus `extra` lines.
    fn daemon(&self, extra: &str) -> Daemon {
        let config = self.path("issuer-test.toml");
        std::fs::write(&config, format!("{extra}\n{CONFIG}")).unwrap();
        Daemon::start(&self.transcript, &self.data_dir, &["--config", s(&config)])
    }

    /// Runs `ironroot-admin token create`; `names` are `--dns`, `--ip`,
    /// `--uri` or `--email` values chosen by their form.
    fn token_run(&self, daemon: &Daemon, file: &str, profile: Option<&str>, names: &[&str]) -> Run {
        let path = self.path(file);
        let cert = self.admin.join("admin.pem");
        let key = self.admin.join("admin.key");
        let mut args = vec![
            "--server",
            &daemon.url,
            "--root",
            s(&self.root),
            "--cert",
            s(&cert),
            "--key",
            s(&key),
            "token",
            "create",
            "--out",
            s(&path),
        ];
        if let Some(profile) = profile {
            args.extend(["--profile", profile]);
        }
        for name in names {
            args.push(flag(name));
            args.push(name);
        }
        run(&self.transcript, "ironroot-admin", &args)
    }

    fn token(&self, daemon: &Daemon, file: &str, profile: Option<&str>, names: &[&str]) -> PathBuf {
        self.token_run(daemon, file, profile, names).success();
        self.path(file)
    }

    fn enroll(&self, daemon: &Daemon, token: &Path, prefix: &str, names: &[&str]) -> Run {
        let fingerprint = CertificateInfo::parse_pem(&std::fs::read(&self.root).unwrap(), "root")
            .unwrap()
            .fingerprint
            .to_string();
        let cert = self.path(&format!("{prefix}.pem"));
        let key = self.path(&format!("{prefix}.key"));
        let chain = self.path(&format!("{prefix}.chain.pem"));
        let mut args = vec![
            "enroll",
            "--server",
            &daemon.url,
            "--root-fingerprint",
            &fingerprint,
            "--token-file",
            s(token),
            "--cert",
            s(&cert),
            "--key",
            s(&key),
            "--chain",
            s(&chain),
        ];
        for name in names {
            args.push(flag(name));
            args.push(name);
        }
        run(&self.transcript, "ironroot-client", &args)
    }

    fn renew(&self, daemon: &Daemon, prefix: &str, extra: &[&str]) -> Run {
        let cert = self.path(&format!("{prefix}.pem"));
        let key = self.path(&format!("{prefix}.key"));
        let chain = self.path(&format!("{prefix}.chain.pem"));
        let mut args = vec![
            "renew",
            "--server",
            &daemon.url,
            "--cert",
            s(&cert),
            "--key",
            s(&key),
            "--chain",
            s(&chain),
            "--root",
            s(&self.root),
        ];
        args.extend(extra);
        run(&self.transcript, "ironroot-client", &args)
    }

    fn leaf(&self, prefix: &str) -> CertificateInfo {
        CertificateInfo::parse_pem(
            &std::fs::read(self.path(&format!("{prefix}.pem"))).unwrap(),
            "leaf",
        )
        .unwrap()
    }

    fn copy_credential(&self, from: &str, to: &str) {
        for suffix in [".pem", ".key", ".chain.pem"] {
            std::fs::copy(
                self.path(&format!("{from}{suffix}")),
                self.path(&format!("{to}{suffix}")),
            )
            .unwrap();
        }
    }

    fn openssl_verify(&self, prefix: &str) {
        verify::openssl_verify(
            &self.root,
            Some(&self.path(&format!("{prefix}.chain.pem"))),
            &self.path(&format!("{prefix}.pem")),
        )
        .unwrap_or_else(|error| panic!("openssl verify failed for {prefix}: {error}"));
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir.join("issuer.db")).unwrap()
    }

    /// Sends a CSR to `/v1/sign` with curl; returns (status, headers, body).
    fn curl_sign(
        &self,
        daemon: &Daemon,
        token: &Path,
        csr: &Path,
        validity: Option<u64>,
    ) -> (u16, String, String) {
        let csr_pem = std::fs::read_to_string(csr).unwrap();
        let mut body = serde_json::json!({ "csr": csr_pem });
        if let Some(seconds) = validity {
            body["validity_seconds"] = serde_json::json!(seconds);
        }
        let body_path = self.path("body.json");
        std::fs::write(&body_path, body.to_string()).unwrap();
        let header_path = self.path("auth.header");
        let token_text = std::fs::read_to_string(token).unwrap();
        std::fs::write(
            &header_path,
            format!("Authorization: Bearer {}\n", token_text.trim()),
        )
        .unwrap();
        chmod600(&header_path);
        let output = Command::new("curl")
            .args([
                "-sS",
                "-i",
                "--cacert",
                s(&self.root),
                "-H",
                &format!("@{}", s(&header_path)),
                "-H",
                "content-type: application/json",
                "--data-binary",
                &format!("@{}", s(&body_path)),
                &format!("{}/v1/sign", daemon.url),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (status, head.to_owned(), body.to_owned())
    }
}

fn flag(name: &str) -> &'static str {
    if name.parse::<std::net::IpAddr>().is_ok() {
        "--ip"
    } else if name.contains('@') {
        "--email"
    } else if name.contains(':') {
        "--uri"
    } else {
        "--dns"
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn chmod600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Makes a key and CSR with openssl. `key_spec` is an `openssl req -newkey`
/// argument such as `ec -pkeyopt ec_paramgen_curve:P-256` or `rsa:2048`;
/// `extensions` are extra `-addext` values.
fn openssl_csr(
    dir: &Path,
    name: &str,
    key_spec: &[&str],
    sans: &str,
    extensions: &[&str],
) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let mut args = vec!["req", "-new", "-nodes", "-newkey"];
    args.extend(key_spec);
    args.extend(["-keyout", s(&key), "-out", s(&csr), "-subj", "/CN=test"]);
    let san = format!("subjectAltName={sans}");
    args.extend(["-addext", &san]);
    for extension in extensions {
        args.extend(["-addext", extension]);
    }
    let output = Command::new("openssl").args(&args).output().unwrap();
    assert!(
        output.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    csr
}

fn certificate_from(body: &str) -> x509_parser::pem::Pem {
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let pem_text = json["certificate"].as_str().unwrap().to_owned();
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).unwrap();
    pem
}

#[test]
fn policy_rules_allow_and_deny() {
    let pki = Pki::new();
    let daemon = pki.daemon("");

    // Token creation: unknown profile, and names outside the profile.
    let unknown = pki.token_run(&daemon, "t-unknown", Some("nope"), &["a.web.example"]);
    assert_ne!(unknown.code, 0);
    assert!(unknown.stderr.contains("`nope`"), "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("default, long, mesh, short, web"),
        "{}",
        unknown.stderr
    );
    let denied = pki.token_run(&daemon, "t-denied", Some("web"), &["admin.web.example"]);
    assert!(
        denied.stderr.contains("name_not_allowed"),
        "{}",
        denied.stderr
    );
    assert!(denied.stderr.contains("denied_dns"), "{}", denied.stderr);
    let outside = pki.token_run(&daemon, "t-outside", Some("web"), &["www.other.example"]);
    assert!(outside.stderr.contains("allowed_dns"), "{}", outside.stderr);
    let bad_ip = pki.token_run(&daemon, "t-ip", Some("web"), &["10.0.0.1"]);
    assert!(
        bad_ip.stderr.contains("allowed_ip_ranges"),
        "{}",
        bad_ip.stderr
    );

    // IDNA: a U-label name is stored as its A-label.
    let idna = pki.token_run(&daemon, "t-idna", Some("web"), &["shop.bücher.example"]);
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
    let token = pki.token(
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
    pki.openssl_verify("web");

    // Key types: P-384 is not in key_types, RSA 2048 is below min_rsa_bits, RSA 3072 passes.
    let dir = pki.dir.path();
    let token = pki.token(&daemon, "t-keys", Some("web"), &["*.web.example"]);
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
    let p256 = openssl_csr(
        dir,
        "p256",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "DNS:k.web.example",
        &[],
    );
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
    let token = pki.token(
        &daemon,
        "t-mesh",
        Some("mesh"),
        &["spiffe://prod/api", "ops@ops.example"],
    );
    let good = openssl_csr(
        dir,
        "uri",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
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
    let bad = pki.token_run(&daemon, "t-mesh-bad", Some("mesh"), &["spiffe://dev/api"]);
    assert!(
        bad.stderr.contains("allowed_uri_prefixes"),
        "{}",
        bad.stderr
    );
    let bad_mail = pki.token_run(&daemon, "t-mail-bad", Some("mesh"), &["ops@evil.example"]);
    assert!(
        bad_mail.stderr.contains("allowed_email_domains"),
        "{}",
        bad_mail.stderr
    );
    // The default profile allows no URI SAN.
    let no_uri = pki.token_run(&daemon, "t-default-uri", None, &["spiffe://prod/api"]);
    assert!(
        no_uri.stderr.contains("allowed_uri_prefixes"),
        "{}",
        no_uri.stderr
    );

    // A name the token allows but the CSR does not match is rejected by name.
    let token = pki.token(&daemon, "t-scope", Some("web"), &["b.web.example"]);
    let other = openssl_csr(
        dir,
        "other",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "DNS:b.web.example,DNS:c.web.example",
        &[],
    );
    let (status, _, body) = pki.curl_sign(&daemon, &token, &other, None);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("c.web.example"), "{body}");
}

#[test]
fn validity_is_clamped_or_refused_and_csr_extensions_ignored() {
    let pki = Pki::new();
    let daemon = pki.daemon("");
    let dir = pki.dir.path();
    let far = 36_000 * 86_400;

    // clamp_to_issuer = true (profile long): cut to the intermediate, with a notice.
    let token = pki.token(&daemon, "t-long", Some("long"), &["x.long.example"]);
    let csr = openssl_csr(
        dir,
        "ext",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
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
    let token = pki.token(&daemon, "t-mesh", Some("mesh"), &["y.mesh.example"]);
    let csr = openssl_csr(
        dir,
        "mesh",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "DNS:y.mesh.example",
        &[],
    );
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
    let pki = Pki::new();
    let daemon = pki.daemon("rate_limit_per_name = \"3/1h\"");
    let dir = pki.dir.path();
    let csr = openssl_csr(
        dir,
        "rl",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "DNS:rl.web.example",
        &[],
    );
    for round in 0..3 {
        let token = pki.token(
            &daemon,
            &format!("t-rl{round}"),
            Some("web"),
            &["rl.web.example"],
        );
        let (status, _, body) = pki.curl_sign(&daemon, &token, &csr, None);
        assert_eq!(status, 200, "round {round}: {body}");
    }
    let token = pki.token(&daemon, "t-rl-last", Some("web"), &["rl.web.example"]);
    let (status, head, body) = pki.curl_sign(&daemon, &token, &csr, None);
    assert_eq!(status, 429, "{body}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    assert!(
        body.contains("rate_limit_per_name") && body.contains("rl.web.example"),
        "{body}"
    );
    // The bucket stays empty for the next request with the same token.
    let csr = openssl_csr(
        dir,
        "rl2",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "DNS:rl.web.example",
        &[],
    );
    let (status, _, _) = pki.curl_sign(&daemon, &token, &csr, None);
    assert_eq!(status, 429);
}

#[test]
fn renewal_keeps_or_rekeys_and_refuses_revoked_superseded() {
    let pki = Pki::new();
    let daemon = pki.daemon("");
    // Renewal authenticates with the certificate, so its profile must include clientAuth.
    let token = pki.token(
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
    pki.copy_credential("leaf", "old");

    // Not due yet: exit 0, nothing changes.
    let not_due = pki.renew(&daemon, "leaf", &[]).success();
    assert!(not_due.stderr.contains("not due"), "{}", not_due.stderr);
    assert_eq!(pki.leaf("leaf").serial, first.serial);

    // Forced renewal keeping the key.
    pki.renew(&daemon, "leaf", &["--force"]).success();
    let second = pki.leaf("leaf");
    assert_ne!(second.serial, first.serial);
    assert_eq!(second.public_key_der, first.public_key_der);
    assert_eq!(second.names, first.names);
    pki.openssl_verify("leaf");
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
    assert!(
        again.stderr.contains("certificate_superseded"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("already renewed"), "{}", again.stderr);

    // Rekeying renewal.
    pki.renew(&daemon, "leaf", &["--force", "--rekey"])
        .success();
    let third = pki.leaf("leaf");
    assert_ne!(third.public_key_der, second.public_key_der);
    assert_eq!(third.names, first.names);
    pki.openssl_verify("leaf");
    let key_mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(pki.path("leaf.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(key_mode, 0o600);

    // A revoked certificate cannot renew.
    pki.db()
        .execute(
            "INSERT INTO revocations (serial, revoked_at, reason) VALUES (?1, strftime('%s','now'), 1)",
            [third.serial_hex()],
        )
        .unwrap();
    let revoked = pki.renew(&daemon, "leaf", &["--force"]);
    assert_ne!(revoked.code, 0);
    assert!(
        revoked.stderr.contains("certificate_revoked"),
        "{}",
        revoked.stderr
    );

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
    let pki = Pki::new();
    let daemon = pki.daemon("");
    let token = pki.token(&daemon, "t1", Some("short"), &["e.short.example"]);
    pki.enroll(&daemon, &token, "leaf", &["e.short.example"])
        .success();
    let leaf = pki.leaf("leaf");
    wait_until(leaf.validity.not_after + time::Duration::seconds(2));

    let refused = pki.renew(&daemon, "leaf", &["--force"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("certificate_expired"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("expired at"), "{}", refused.stderr);
    daemon.stop();

    let daemon = pki.daemon("renewal_grace = \"1h\"");
    pki.renew(&daemon, "leaf", &["--force"]).success();
    let renewed = pki.leaf("leaf");
    assert_ne!(renewed.serial, leaf.serial);
    assert_eq!(renewed.names, leaf.names);
    pki.openssl_verify("leaf");
}

#[test]
fn run_mode_renews_reloads_and_exits_after_expiry() {
    let pki = Pki::new();
    let daemon = pki.daemon("");
    let token = pki.token(&daemon, "t1", Some("short"), &["m.short.example"]);
    pki.enroll(&daemon, &token, "leaf", &["m.short.example"])
        .success();
    let reload_log = pki.path("reloads.log");
    let reload = format!("sh -c 'echo reloaded >> {}'", s(&reload_log));
    let mut child: Child = Command::new(ironroot_e2e::binary("ironroot-client"))
        .args([
            "run",
            "--server",
            &daemon.url,
            "--cert",
            s(&pki.path("leaf.pem")),
            "--key",
            s(&pki.path("leaf.key")),
            "--chain",
            s(&pki.path("leaf.chain.pem")),
            "--root",
            s(&pki.root),
            "--renew-at",
            "0.5",
            "--max-backoff-seconds",
            "2",
            "--reload-command",
            &reload,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(pki.path("run.log")).unwrap())
        .spawn()
        .unwrap();

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
    pki.openssl_verify("leaf");
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

/// Returns the SHA-256 fingerprint of a PEM certificate file, colon-separated.
fn fingerprint_of(path: &Path) -> String {
    CertificateInfo::parse_pem(&std::fs::read(path).unwrap(), "certificate")
        .unwrap()
        .fingerprint
        .to_string()
}
