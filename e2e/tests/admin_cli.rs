//! Every `ironroot-admin` command through the real binaries: tokens,
//! certificate search and revocation, intermediates, status and the audit log.
//! Two behaviours that an admin action triggers elsewhere are tested here as
//! well: `ironroot-client run` stops once its certificate is revoked, and the
//! per-profile rate limit returns 429 with `retry-after`.
//!
//! Every test ends by checking that no command output and no daemon log line
//! contains a token, a private key or the host's age identity.

// Test helpers outside #[test] functions unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ironroot_core::cert::CertificateInfo;
use ironroot_e2e::run::{Daemon, Run, Transcript, run};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

/// Issuer settings shared by the tests; each test may prepend more keys.
const PROFILES: &str = r#"
backdate = "1s"

[profiles.web]
allowed_dns = ["*.web.example"]

[profiles.short]
allowed_dns = ["*.short.example"]
default_lifetime = "3s"
max_lifetime = "1h"

[profiles.run]
allowed_dns = ["*.run.example"]
default_lifetime = "20s"
max_lifetime = "1h"
"#;

/// The seven reason names `revoke --reason` accepts.
const REASONS: [&str; 7] = [
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
];

/// A rehearsal PKI: root, one imported intermediate and an admin credential.
struct Pki {
    dir: tempfile::TempDir,
    transcript: Transcript,
    offline: PathBuf,
    passphrase_file: PathBuf,
    data_dir: PathBuf,
    admin: PathBuf,
    recipient: String,
    /// Token texts created during the test, to search the output for.
    tokens: std::cell::RefCell<Vec<String>>,
}

impl Pki {
    /// Creates the PKI and writes `extra` followed by [`PROFILES`] to issuer.toml.
    fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let transcript = Transcript::default();
        let offline = dir.path().join("offline");
        std::fs::create_dir(&offline).unwrap();
        let passphrase_file = offline.join("passphrase");
        std::fs::write(&passphrase_file, "rehearsal passphrase for tests only\n").unwrap();
        chmod600(&passphrase_file);
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
                "Admin CLI Root CA",
                "--passphrase-file",
                s(&passphrase_file),
            ],
        )
        .success();
        let data_dir = dir.path().join("issuer");
        let init = run(
            &transcript,
            "ironroot-issuer",
            &["init", "--data-dir", s(&data_dir)],
        )
        .success();
        let recipient = init.stdout.lines().last().unwrap().trim().to_owned();
        std::fs::write(data_dir.join("issuer.toml"), format!("{extra}\n{PROFILES}")).unwrap();
        let admin = dir.path().join("admin");
        let pki = Self {
            dir,
            transcript,
            offline,
            passphrase_file,
            data_dir,
            admin,
            recipient,
            tokens: std::cell::RefCell::default(),
        };
        pki.import("a");
        run(
            &pki.transcript,
            "ironroot-issuer",
            &[
                "admin-credential",
                "--data-dir",
                s(&pki.data_dir),
                "--name",
                "tester",
                "--out-dir",
                s(&pki.admin),
            ],
        )
        .success();
        pki
    }

    /// Signs intermediate `name` with the root and imports it; returns its SHA-256.
    fn import(&self, name: &str) -> String {
        let bundle = self.offline.join(format!("{name}.bundle.age"));
        let cert = self.offline.join(format!("{name}.pem"));
        run(
            &self.transcript,
            "ironroot-ceremony",
            &[
                "sign-intermediate",
                "--root-cert",
                s(&self.root()),
                "--root-key",
                s(&self.offline.join("root.key.age")),
                "--passphrase-file",
                s(&self.passphrase_file),
                "--recipient",
                &self.recipient,
                "--common-name",
                &format!("Admin CLI Intermediate {name}"),
                "--out",
                s(&bundle),
                "--cert-out",
                s(&cert),
            ],
        )
        .success();
        run(
            &self.transcript,
            "ironroot-issuer",
            &[
                "import",
                "--data-dir",
                s(&self.data_dir),
                "--root-fingerprint",
                &self.root_fingerprint(),
                s(&bundle),
            ],
        )
        .success();
        CertificateInfo::parse_pem(&std::fs::read(&cert).unwrap(), "intermediate")
            .unwrap()
            .fingerprint
            .to_hex()
    }

    fn root(&self) -> PathBuf {
        self.offline.join("root.pem")
    }

    fn root_fingerprint(&self) -> String {
        CertificateInfo::parse_pem(&std::fs::read(self.root()).unwrap(), "root")
            .unwrap()
            .fingerprint
            .to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn daemon(&self) -> Daemon {
        Daemon::start(&self.transcript, &self.data_dir, &[])
    }

    /// Runs `ironroot-admin` with the admin credential and records the output.
    fn admin(&self, daemon: &Daemon, args: &[&str]) -> Run {
        self.admin_to(&self.transcript, daemon, args)
    }

    fn admin_to(&self, transcript: &Transcript, daemon: &Daemon, args: &[&str]) -> Run {
        let cert = self.admin.join("admin.pem");
        let key = self.admin.join("admin.key");
        let root = self.root();
        let mut all = vec![
            "--server",
            &daemon.url,
            "--root",
            s(&root),
            "--cert",
            s(&cert),
            "--key",
            s(&key),
        ];
        all.extend_from_slice(args);
        run(transcript, "ironroot-admin", &all)
    }

    /// Creates a token for `name` into the file `<prefix>.token`; returns the
    /// token id that `token create` printed on stderr.
    fn token(&self, daemon: &Daemon, prefix: &str, name: &str, profile: Option<&str>) -> String {
        let path = self.path(&format!("{prefix}.token"));
        let mut args = vec!["token", "create", "--dns", name, "--out", s(&path)];
        if let Some(profile) = profile {
            args.extend(["--profile", profile]);
        }
        let output = self.admin(daemon, &args).success();
        assert!(output.stdout.is_empty(), "{}", output.stdout);
        let text = std::fs::read_to_string(&path).unwrap();
        self.tokens.borrow_mut().push(text.trim().to_owned());
        token_id(&output.stderr)
    }

    /// Runs `ironroot-client enroll` for `name` with the token in `<prefix>.token`.
    fn enroll_with(&self, daemon: &Daemon, prefix: &str, name: &str) -> Run {
        let token = self.path(&format!("{prefix}.token"));
        run(
            &self.transcript,
            "ironroot-client",
            &[
                "enroll",
                "--server",
                &daemon.url,
                "--root-fingerprint",
                &self.root_fingerprint(),
                "--token-file",
                s(&token),
                "--cert",
                s(&self.path(&format!("{prefix}.pem"))),
                "--key",
                s(&self.path(&format!("{prefix}.key"))),
                "--chain",
                s(&self.path(&format!("{prefix}.chain.pem"))),
                "--dns",
                name,
            ],
        )
    }

    /// Creates a token and enrolls `name` with it; returns the leaf.
    fn enroll(
        &self,
        daemon: &Daemon,
        prefix: &str,
        name: &str,
        profile: Option<&str>,
    ) -> CertificateInfo {
        self.token(daemon, prefix, name, profile);
        self.enroll_with(daemon, prefix, name).success();
        self.leaf(prefix)
    }

    fn leaf(&self, prefix: &str) -> CertificateInfo {
        CertificateInfo::parse_pem(
            &std::fs::read(self.path(&format!("{prefix}.pem"))).unwrap(),
            "leaf",
        )
        .unwrap()
    }

    fn renew_force(&self, daemon: &Daemon, prefix: &str) -> Run {
        run(
            &self.transcript,
            "ironroot-client",
            &[
                "renew",
                "--server",
                &daemon.url,
                "--cert",
                s(&self.path(&format!("{prefix}.pem"))),
                "--key",
                s(&self.path(&format!("{prefix}.key"))),
                "--chain",
                s(&self.path(&format!("{prefix}.chain.pem"))),
                "--root",
                s(&self.root()),
                "--force",
            ],
        )
    }

    /// Sends a sign request with curl for `name` and the token in
    /// `<prefix>.token`; returns the status, the response head and the body.
    fn curl_sign(&self, daemon: &Daemon, prefix: &str, name: &str) -> (u16, String, String) {
        let key = self.path(&format!("{prefix}.curl.key"));
        let csr = self.path(&format!("{prefix}.csr"));
        let output = Command::new("openssl")
            .args([
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                s(&key),
                "-out",
                s(&csr),
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                &format!("subjectAltName=DNS:{name}"),
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let body = serde_json::json!({ "csr": std::fs::read_to_string(&csr).unwrap() });
        let body_path = self.path(&format!("{prefix}.body.json"));
        std::fs::write(&body_path, body.to_string()).unwrap();
        // The token goes through a 0600 header file so it is not on curl's command line.
        let header_path = self.path(&format!("{prefix}.header"));
        let token = std::fs::read_to_string(self.path(&format!("{prefix}.token"))).unwrap();
        std::fs::write(
            &header_path,
            format!("Authorization: Bearer {}\n", token.trim()),
        )
        .unwrap();
        chmod600(&header_path);
        let output = Command::new("curl")
            .args([
                "-sS",
                "-i",
                "--cacert",
                s(&self.root()),
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

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir.join("issuer.db")).unwrap()
    }

    /// Stops the daemon and asserts that no recorded output (commands and the
    /// daemon log) contains a token, a private key or the age identity.
    fn assert_no_secrets(&self, daemon: Daemon) {
        assert_eq!(daemon.stop(), 0);
        let all = self.transcript.text();
        assert!(!all.is_empty());
        for token in self.tokens.borrow().iter() {
            assert!(token.starts_with("irt_"), "not a token: {token}");
            assert!(!all.contains(token.as_str()), "a token was printed");
        }
        assert!(!all.contains("irt_"), "a token was printed:\n{all}");
        assert!(!all.contains("PRIVATE KEY"), "a private key was printed");
        assert!(
            !all.contains("AGE-SECRET-KEY"),
            "an age identity was printed"
        );
        let identity = std::fs::read_to_string(self.data_dir.join("host.identity")).unwrap();
        let identity_line = identity
            .lines()
            .find(|line| line.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        assert!(
            !all.contains(identity_line),
            "the host identity was printed"
        );
        let mut key_files = vec![self.admin.join("admin.key")];
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|extension| extension == "key") {
                key_files.push(path);
            }
        }
        for path in key_files {
            let pem = std::fs::read_to_string(&path).unwrap();
            // Short lines (a PEM's last line) could match by chance.
            let lines = pem
                .lines()
                .filter(|line| !line.starts_with("-----") && line.len() >= 16);
            for line in lines {
                assert!(
                    !all.contains(line),
                    "a line of {} was printed",
                    path.display()
                );
            }
        }
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn chmod600(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Extracts the `tok_...` id from `token create`'s stderr.
fn token_id(stderr: &str) -> String {
    let start = stderr.find("created token tok_").unwrap() + "created token ".len();
    let id: String = stderr[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert_eq!(id.len(), 20, "{stderr}");
    id
}

fn json(output: &Run) -> Value {
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", output.stdout))
}

/// Asserts that the first line of `stdout` is a table header with `columns`
/// in order. Runs of spaces count as one, because column widths vary.
fn assert_header(stdout: &str, columns: &[&str]) {
    let header = stdout.lines().next().unwrap_or_default();
    let words: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        words.join(" "),
        columns.join(" "),
        "table header of:\n{stdout}"
    );
}

/// Returns the serials of a `cert list --json` response.
fn serials(list: &Value) -> Vec<String> {
    list["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|certificate| certificate["serial"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_fields(value: &Value, fields: &[&str]) {
    for field in fields {
        assert!(
            value.get(field).is_some(),
            "field `{field}` is missing from {value}"
        );
    }
}

#[test]
fn token_create_list_revoke() {
    let pki = Pki::new("");
    let daemon = pki.daemon();

    // create with --out and a configured profile: stdout stays empty.
    let web_id = pki.token(&daemon, "web", "app.web.example", Some("web"));
    let mode = std::fs::metadata(pki.path("web.token"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let revoked_id = pki.token(&daemon, "doomed", "doomed.example", None);
    let used_id = pki.token(&daemon, "used", "used.example", None);

    // create --json prints the token; it goes to a transcript of its own so
    // the secret check below covers everything else.
    let private = Transcript::default();
    let created = pki
        .admin_to(
            &private,
            &daemon,
            &[
                "token",
                "create",
                "--dns",
                "json.web.example",
                "--profile",
                "web",
                "--ttl",
                "30m",
                "--json",
            ],
        )
        .success();
    let created_json = json(&created);
    assert_fields(&created_json, &["id", "token", "names", "expires_at"]);
    assert!(created_json["token"].as_str().unwrap().starts_with("irt_"));
    assert!(created_json["id"].as_str().unwrap().starts_with("tok_"));
    assert_eq!(
        created_json["names"],
        serde_json::json!(["json.web.example"])
    );
    pki.tokens
        .borrow_mut()
        .push(created_json["token"].as_str().unwrap().to_owned());

    // An unknown profile and a name outside the profile are rejected.
    let unknown = pki
        .admin(
            &daemon,
            &[
                "token",
                "create",
                "--dns",
                "x.example",
                "--profile",
                "nosuch",
            ],
        )
        .failure(1);
    assert!(unknown.stderr.contains("nosuch"), "{}", unknown.stderr);
    let outside = pki
        .admin(
            &daemon,
            &[
                "token",
                "create",
                "--dns",
                "x.other.example",
                "--profile",
                "web",
            ],
        )
        .failure(1);
    assert!(
        outside.stderr.contains("name_not_allowed"),
        "{}",
        outside.stderr
    );
    let existing = pki
        .admin(
            &daemon,
            &[
                "token",
                "create",
                "--dns",
                "x.example",
                "--out",
                s(&pki.path("web.token")),
            ],
        )
        .failure(2);
    assert!(
        existing.stderr.contains("already exists"),
        "{}",
        existing.stderr
    );

    let used_leaf = {
        pki.enroll_with(&daemon, "used", "used.example").success();
        pki.leaf("used")
    };

    // list, table form.
    let table = pki.admin(&daemon, &["token", "list"]).success();
    assert_header(
        &table.stdout,
        &[
            "ID", "STATE", "NAMES", "PROFILE", "CREATED", "EXPIRES", "BY",
        ],
    );
    let web_row = table
        .stdout
        .lines()
        .find(|line| line.starts_with(&web_id))
        .unwrap_or_else(|| panic!("{web_id} is not listed:\n{}", table.stdout));
    assert!(web_row.contains("active"), "{web_row}");
    assert!(web_row.contains("app.web.example"), "{web_row}");
    assert!(web_row.contains("web"), "{web_row}");
    assert!(web_row.contains("tester"), "{web_row}");
    let used_row = table
        .stdout
        .lines()
        .find(|line| line.starts_with(&used_id))
        .unwrap();
    assert!(used_row.contains("used"), "{used_row}");

    // list, JSON form.
    let listed = json(&pki.admin(&daemon, &["token", "list", "--json"]).success());
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 4, "{listed}");
    assert_fields(&listed, &["tokens", "next_offset"]);
    for token in tokens {
        assert_fields(
            token,
            &[
                "id",
                "names",
                "profile",
                "created_at",
                "expires_at",
                "created_by",
                "state",
                "used_by_serial",
                "revoked_at",
            ],
        );
        assert!(token.get("token").is_none(), "{token}");
        assert_eq!(token["created_by"], "tester");
    }
    let web = tokens
        .iter()
        .find(|token| token["id"] == web_id.as_str())
        .unwrap();
    assert_eq!(web["profile"], "web");
    assert_eq!(web["state"], "active");
    let used = tokens
        .iter()
        .find(|token| token["id"] == used_id.as_str())
        .unwrap();
    assert_eq!(used["state"], "used");
    assert_eq!(used["used_by_serial"], used_leaf.serial_hex().as_str());

    // --state filter and paging.
    let active = json(
        &pki.admin(&daemon, &["token", "list", "--state", "active", "--json"])
            .success(),
    );
    let states: Vec<&str> = active["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["active"; 3]);
    let page = pki
        .admin(&daemon, &["token", "list", "--limit", "1"])
        .success();
    assert!(
        page.stderr.contains("repeat with --offset 1"),
        "{}",
        page.stderr
    );
    let bad_state = pki
        .admin(&daemon, &["token", "list", "--state", "sleeping"])
        .failure(1);
    assert!(
        bad_state.stderr.contains("invalid_request"),
        "{}",
        bad_state.stderr
    );

    // revoke, then enrolling with the token fails with token_revoked.
    let revoked = pki
        .admin(&daemon, &["token", "revoke", &revoked_id])
        .success();
    assert!(
        revoked
            .stdout
            .contains(&format!("revoked token {revoked_id}")),
        "{}",
        revoked.stdout
    );
    let rejected = pki
        .enroll_with(&daemon, "doomed", "doomed.example")
        .failure(1);
    assert!(
        rejected.stderr.contains("token_revoked"),
        "{}",
        rejected.stderr
    );
    assert!(!pki.path("doomed.pem").exists());
    let web_revoked = json(
        &pki.admin(&daemon, &["token", "revoke", &web_id, "--json"])
            .success(),
    );
    assert_eq!(web_revoked["token"]["state"], "revoked");
    assert!(web_revoked["token"]["revoked_at"].is_i64(), "{web_revoked}");

    // Revoking a revoked or used token changes nothing (409); an unknown id is 404.
    let again = pki
        .admin(&daemon, &["token", "revoke", &revoked_id])
        .failure(1);
    assert!(again.stderr.contains("HTTP 409"), "{}", again.stderr);
    let used_again = pki
        .admin(&daemon, &["token", "revoke", &used_id])
        .failure(1);
    assert!(
        used_again.stderr.contains("HTTP 409"),
        "{}",
        used_again.stderr
    );
    let unknown_id = pki
        .admin(&daemon, &["token", "revoke", "tok_0000000000000000"])
        .failure(1);
    assert!(
        unknown_id.stderr.contains("HTTP 404"),
        "{}",
        unknown_id.stderr
    );
    let malformed = pki
        .admin(&daemon, &["token", "revoke", "tok-../x"])
        .failure(2);
    assert!(
        malformed.stderr.contains("is not a token id"),
        "{}",
        malformed.stderr
    );

    pki.assert_no_secrets(daemon);
}

#[test]
fn cert_search_show_and_revoke() {
    let pki = Pki::new("");
    let daemon = pki.daemon();
    let alpha = pki.enroll(&daemon, "alpha", "alpha.web.example", Some("web"));
    let beta = pki.enroll(&daemon, "beta", "beta.web.example", Some("web"));
    let gamma_old = pki.enroll(&daemon, "gamma", "gamma.example", None);
    let short = pki.enroll(&daemon, "short", "brief.short.example", Some("short"));
    pki.renew_force(&daemon, "gamma").success();
    let gamma_new = pki.leaf("gamma");
    let mut doomed = Vec::new();
    for (index, _) in REASONS.iter().enumerate() {
        let name = format!("doomed{index}.example");
        doomed.push(pki.enroll(&daemon, &format!("doomed{index}"), &name, None));
    }

    // Revoke with every reason name; the first with --json.
    for (leaf, reason) in doomed.iter().zip(REASONS) {
        let serial = leaf.serial_hex();
        if reason == REASONS[0] {
            let response = json(
                &pki.admin(&daemon, &["revoke", &serial, "--reason", reason, "--json"])
                    .success(),
            );
            assert_fields(
                &response,
                &[
                    "serial",
                    "subject",
                    "reason",
                    "revoked_at",
                    "intermediate_sha256",
                    "crl_number",
                ],
            );
            assert_eq!(response["serial"], serial.as_str());
            assert_eq!(response["reason"], reason);
        } else {
            let output = pki
                .admin(&daemon, &["revoke", &serial, "--reason", reason])
                .success();
            assert!(
                output.stdout.contains(&format!("revoked {serial}")),
                "{}",
                output.stdout
            );
            assert!(
                output.stdout.contains(&format!("reason {reason}")),
                "{}",
                output.stdout
            );
        }
    }
    let twice = pki
        .admin(
            &daemon,
            &["revoke", &doomed[1].serial_hex(), "--reason", "superseded"],
        )
        .failure(1);
    assert!(twice.stderr.contains("already_revoked"), "{}", twice.stderr);
    assert!(twice.stderr.contains("keyCompromise"), "{}", twice.stderr);
    let unknown_serial = "7f00000000000000000000000000abcd";
    let unknown = pki
        .admin(
            &daemon,
            &["revoke", unknown_serial, "--reason", "unspecified"],
        )
        .failure(1);
    assert!(
        unknown.stderr.contains("certificate_not_found"),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown.stderr.contains(unknown_serial),
        "{}",
        unknown.stderr
    );
    let bad_reason = pki
        .admin(
            &daemon,
            &["revoke", &alpha.serial_hex(), "--reason", "boredom"],
        )
        .failure(1);
    assert!(
        bad_reason.stderr.contains("boredom"),
        "{}",
        bad_reason.stderr
    );

    // The short-lived leaf (3 s) expires.
    let wait = short.validity.not_after - time::OffsetDateTime::now_utc();
    if let Ok(wait) = Duration::try_from(wait) {
        std::thread::sleep(wait + Duration::from_millis(500));
    }

    // The whole list, table and JSON.
    let table = pki.admin(&daemon, &["cert", "list"]).success();
    assert_header(
        &table.stdout,
        &["SERIAL", "STATUS", "KIND", "NAMES", "PROFILE", "NOT AFTER"],
    );
    let alpha_row = table
        .stdout
        .lines()
        .find(|line| line.starts_with(&alpha.serial_hex()))
        .unwrap_or_else(|| panic!("alpha is not listed:\n{}", table.stdout));
    for cell in ["valid", "leaf", "alpha.web.example", "web"] {
        assert!(alpha_row.contains(cell), "{cell} missing in {alpha_row}");
    }
    let all = json(&pki.admin(&daemon, &["cert", "list", "--json"]).success());
    assert_fields(&all, &["certificates", "next_offset"]);
    for certificate in all["certificates"].as_array().unwrap() {
        assert_fields(
            certificate,
            &[
                "serial",
                "subject",
                "names",
                "not_before",
                "not_after",
                "kind",
                "profile",
                "status",
                "token_id",
                "issued_at",
                "sha256",
            ],
        );
    }
    // 4 enrolled + 1 renewed + 7 revoked leaves, the admin credential and
    // the daemon's own TLS certificate.
    let leaves = json(
        &pki.admin(&daemon, &["cert", "search", "--kind", "leaf", "--json"])
            .success(),
    );
    assert_eq!(serials(&leaves).len(), 12, "{leaves}");
    let admins = json(
        &pki.admin(&daemon, &["cert", "list", "--kind", "admin", "--json"])
            .success(),
    );
    assert_eq!(serials(&admins).len(), 1, "{admins}");

    // By serial, plain and with colons.
    let by_serial = json(
        &pki.admin(
            &daemon,
            &["cert", "list", "--serial", &alpha.serial_hex(), "--json"],
        )
        .success(),
    );
    assert_eq!(serials(&by_serial), vec![alpha.serial_hex()]);
    let colons = alpha
        .serial_hex()
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let by_colons = json(
        &pki.admin(&daemon, &["cert", "search", "--serial", &colons, "--json"])
            .success(),
    );
    assert_eq!(serials(&by_colons), vec![alpha.serial_hex()]);

    // By name, exact and substring.
    let exact = json(
        &pki.admin(
            &daemon,
            &["cert", "list", "--name", "alpha.web.example", "--json"],
        )
        .success(),
    );
    assert_eq!(serials(&exact), vec![alpha.serial_hex()]);
    let partial_exact = json(
        &pki.admin(&daemon, &["cert", "list", "--name", "alpha.web", "--json"])
            .success(),
    );
    assert!(serials(&partial_exact).is_empty(), "{partial_exact}");
    let contains = json(
        &pki.admin(
            &daemon,
            &["cert", "list", "--name-contains", ".web.exa", "--json"],
        )
        .success(),
    );
    let mut found = serials(&contains);
    found.sort();
    let mut expected = vec![alpha.serial_hex(), beta.serial_hex()];
    expected.sort();
    assert_eq!(found, expected);

    // By profile.
    let web = json(
        &pki.admin(&daemon, &["cert", "list", "--profile", "web", "--json"])
            .success(),
    );
    let mut found = serials(&web);
    found.sort();
    assert_eq!(found, expected);
    let short_only = json(
        &pki.admin(&daemon, &["cert", "list", "--profile", "short", "--json"])
            .success(),
    );
    assert_eq!(serials(&short_only), vec![short.serial_hex()]);

    // Expiring before a time: only the short-lived leaf ends within a minute,
    // and every leaf ends before 2099.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(1))
        .format(&Rfc3339)
        .unwrap();
    let expiring = json(
        &pki.admin(
            &daemon,
            &["cert", "list", "--expiring-before", &soon, "--json"],
        )
        .success(),
    );
    assert_eq!(serials(&expiring), vec![short.serial_hex()]);
    let by_date = json(
        &pki.admin(
            &daemon,
            &[
                "cert",
                "list",
                "--kind",
                "leaf",
                "--expiring-before",
                "2099-12-31",
                "--json",
            ],
        )
        .success(),
    );
    assert_eq!(serials(&by_date).len(), 12);
    let bad_date = pki
        .admin(
            &daemon,
            &["cert", "list", "--expiring-before", "next tuesday"],
        )
        .failure(1);
    assert!(
        bad_date.stderr.contains("invalid_request"),
        "{}",
        bad_date.stderr
    );

    // By status.
    let status = |value: &str| -> Vec<String> {
        let mut found = serials(&json(
            &pki.admin(
                &daemon,
                &[
                    "cert", "list", "--kind", "leaf", "--status", value, "--json",
                ],
            )
            .success(),
        ));
        found.sort();
        found
    };
    let mut valid = vec![
        alpha.serial_hex(),
        beta.serial_hex(),
        gamma_new.serial_hex(),
    ];
    valid.sort();
    assert_eq!(status("valid"), valid);
    let mut revoked: Vec<String> = doomed.iter().map(CertificateInfo::serial_hex).collect();
    revoked.sort();
    assert_eq!(status("revoked"), revoked);
    assert_eq!(status("superseded"), vec![gamma_old.serial_hex()]);
    assert_eq!(status("expired"), vec![short.serial_hex()]);
    let bad_status = pki
        .admin(&daemon, &["cert", "list", "--status", "sleeping"])
        .failure(1);
    assert!(
        bad_status.stderr.contains("invalid_request"),
        "{}",
        bad_status.stderr
    );

    // show: human fields, --pem and --json.
    let shown = pki
        .admin(&daemon, &["cert", "show", &gamma_old.serial_hex()])
        .success();
    for field in [
        "serial:",
        "status:",
        "subject:",
        "issuer:",
        "names:",
        "not before:",
        "not after:",
        "kind:",
        "profile:",
        "sha256:",
        "issued at:",
        "token:",
        "request id:",
    ] {
        assert!(
            shown.stdout.lines().any(|line| line.starts_with(field)),
            "{field} missing:\n{}",
            shown.stdout
        );
    }
    assert!(
        shown
            .stdout
            .contains(&format!("superseded by: {}", gamma_new.serial_hex())),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("status:        superseded"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("BEGIN CERTIFICATE"),
        "{}",
        shown.stdout
    );
    let shown_revoked = pki
        .admin(&daemon, &["cert", "show", &doomed[1].serial_hex()])
        .success();
    assert!(
        shown_revoked.stdout.contains("(reason code 1)"),
        "{}",
        shown_revoked.stdout
    );
    let pem = pki
        .admin(&daemon, &["cert", "show", &alpha.serial_hex(), "--pem"])
        .success();
    assert_eq!(
        pem.stdout.trim(),
        std::fs::read_to_string(pki.path("alpha.pem"))
            .unwrap()
            .trim()
    );
    let detail = json(
        &pki.admin(
            &daemon,
            &["cert", "show", &doomed[6].serial_hex(), "--json"],
        )
        .success(),
    );
    assert_fields(
        &detail,
        &[
            "serial",
            "status",
            "issuer",
            "is_ca",
            "pem",
            "request_id",
            "superseded_by",
            "revoked_at",
            "revocation_reason",
        ],
    );
    assert_eq!(detail["status"], "revoked");
    assert_eq!(detail["is_ca"], false);
    // privilegeWithdrawn is CRLReason 9.
    assert_eq!(detail["revocation_reason"], 9);
    let missing = pki
        .admin(
            &daemon,
            &["cert", "show", "7f00000000000000000000000000abcd"],
        )
        .failure(1);
    assert!(missing.stderr.contains("HTTP 404"), "{}", missing.stderr);
    let not_hex = pki.admin(&daemon, &["cert", "show", "xyz"]).failure(2);
    assert!(
        not_hex.stderr.contains("is not a hex serial number"),
        "{}",
        not_hex.stderr
    );

    pki.assert_no_secrets(daemon);
}

#[test]
fn intermediates_status_and_audit() {
    let pki = Pki::new("expiry_warning = \"36500d\"");
    let sha_a = CertificateInfo::parse_pem(&std::fs::read(pki.offline.join("a.pem")).unwrap(), "a")
        .unwrap()
        .fingerprint
        .to_hex();
    let daemon = pki.daemon();
    pki.enroll(&daemon, "one", "one.example", None);
    pki.token(&daemon, "open", "open.example", None);

    // intermediates list, before and after importing B.
    let table = pki.admin(&daemon, &["intermediates", "list"]).success();
    assert_header(
        &table.stdout,
        &["ACTIVE", "SHA256", "NOT AFTER", "DAYS LEFT", "SUBJECT"],
    );
    assert!(table.stdout.contains(&sha_a), "{}", table.stdout);
    assert!(table.stdout.contains("warning:"), "{}", table.stdout);
    let sha_b = pki.import("b");
    let listed = json(
        &pki.admin(&daemon, &["intermediates", "list", "--json"])
            .success(),
    );
    let intermediates = listed["intermediates"].as_array().unwrap();
    assert_eq!(intermediates.len(), 2, "{listed}");
    for intermediate in intermediates {
        assert_fields(
            intermediate,
            &[
                "sha256",
                "subject",
                "not_before",
                "not_after",
                "active",
                "days_left",
                "expiry_warning",
            ],
        );
    }
    let active = |list: &Value| -> Vec<String> {
        list["intermediates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["active"] == true)
            .map(|entry| entry["sha256"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(active(&listed), vec![sha_a.clone()]);

    // activate B, then an unknown fingerprint.
    let activated = pki
        .admin(&daemon, &["intermediates", "activate", &sha_b])
        .success();
    assert!(
        activated.stderr.contains("now signs"),
        "{}",
        activated.stderr
    );
    let b_row = activated
        .stdout
        .lines()
        .find(|line| line.contains(&sha_b))
        .unwrap();
    assert!(b_row.trim_start().starts_with('*'), "{}", activated.stdout);
    let after = json(
        &pki.admin(&daemon, &["intermediates", "activate", &sha_b, "--json"])
            .success(),
    );
    assert_eq!(active(&after), vec![sha_b.clone()]);
    let unknown = pki
        .admin(&daemon, &["intermediates", "activate", &"0".repeat(64)])
        .failure(1);
    assert!(
        unknown.stderr.contains("intermediate_not_found"),
        "{}",
        unknown.stderr
    );
    let b_leaf = pki.enroll(&daemon, "two", "two.example", None);
    assert!(
        b_leaf.issuer.contains("Intermediate b"),
        "{}",
        b_leaf.issuer
    );

    // status: intermediates, counts and open tokens.
    let status = pki.admin(&daemon, &["status"]).success();
    assert!(
        status.stdout.starts_with("intermediates:\n"),
        "{}",
        status.stdout
    );
    let table = status.stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_header(
        &table,
        &[
            "ACTIVE",
            "SUBJECT",
            "SHA-256",
            "NOT AFTER",
            "DAYS",
            "WARNING",
        ],
    );
    assert!(status.stdout.contains("certificates:"), "{}", status.stdout);
    assert!(
        status.stdout.contains("tokens active: 1"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("audit rows:"), "{}", status.stdout);
    assert!(
        status.stderr.contains("warning: intermediate"),
        "{}",
        status.stderr
    );
    let status_json = json(&pki.admin(&daemon, &["status", "--json"]).success());
    assert_fields(
        &status_json,
        &[
            "intermediates",
            "certificates",
            "tokens_active",
            "audit_rows",
        ],
    );
    assert_eq!(status_json["intermediates"].as_array().unwrap().len(), 2);
    assert_eq!(status_json["tokens_active"], 1);
    let counts = &status_json["certificates"];
    for state in ["valid", "expired", "revoked", "superseded"] {
        assert!(counts[state].is_i64(), "{state} missing in {counts}");
    }
    // Two leaves, the admin credential and the daemon's TLS certificate.
    assert!(counts["valid"].as_i64().unwrap() >= 3, "{counts}");
    assert_eq!(counts["revoked"], 0);

    // audit show.
    let shown = pki.admin(&daemon, &["audit", "show"]).success();
    assert_header(&shown.stdout, &["SEQ", "AT", "ACTION", "ACTOR", "DETAILS"]);
    for action in [
        "import",
        "admin_credential",
        "token_create",
        "token_use",
        "issue",
        "activate",
        "admin_request",
    ] {
        assert!(
            shown.stdout.contains(&format!("  {action}  ")),
            "{action} missing:\n{}",
            shown.stdout
        );
    }
    let entries = json(
        &pki.admin(&daemon, &["audit", "show", "--limit", "3", "--json"])
            .success(),
    );
    let rows = entries["entries"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{entries}");
    for row in rows {
        assert_fields(
            row,
            &[
                "seq",
                "at",
                "action",
                "actor",
                "request_id",
                "details",
                "prev_hash",
                "hash",
            ],
        );
    }
    let seqs: Vec<i64> = rows
        .iter()
        .map(|row| row["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    let earlier = json(
        &pki.admin(&daemon, &["audit", "show", "--before", "3", "--json"])
            .success(),
    );
    let earlier_seqs: Vec<i64> = earlier["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(earlier_seqs, vec![1, 2]);

    // audit verify on the intact chain.
    let verified = pki.admin(&daemon, &["audit", "verify"]).success();
    assert!(
        verified.stdout.starts_with("audit chain valid: "),
        "{}",
        verified.stdout
    );
    let verified_json = json(&pki.admin(&daemon, &["audit", "verify", "--json"]).success());
    assert_fields(
        &verified_json,
        &["valid", "rows", "head_seq", "head_hash", "broken"],
    );
    assert_eq!(verified_json["valid"], true);
    assert!(verified_json["broken"].is_null());
    pki.assert_no_secrets(daemon);

    // Tamper with row 3 offline; both verifiers name it.
    let changed = pki
        .db()
        .execute(
            "UPDATE audit_log SET details = '{\"tampered\":true}' WHERE seq = 3",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let offline = run(
        &pki.transcript,
        "ironroot-issuer",
        &["audit", "verify", "--data-dir", s(&pki.data_dir)],
    )
    .failure(1);
    assert!(
        offline.stderr.contains("broken at row 3 (changed)"),
        "{}",
        offline.stderr
    );
    let daemon = pki.daemon();
    let broken = pki.admin(&daemon, &["audit", "verify"]).failure(1);
    assert!(
        broken.stderr.contains("broken at row 3 (changed)"),
        "{}",
        broken.stderr
    );
    let broken_json = pki
        .admin(&daemon, &["audit", "verify", "--json"])
        .failure(1);
    let broken_json = json(&broken_json);
    assert_eq!(broken_json["valid"], false);
    assert_eq!(broken_json["broken"]["seq"], 3);
    assert_eq!(broken_json["broken"]["problem"], "changed");
    pki.assert_no_secrets(daemon);
}

#[test]
fn run_stops_when_certificate_revoked() {
    let pki = Pki::new("");
    let daemon = pki.daemon();
    let leaf = pki.enroll(&daemon, "leaf", "svc.run.example", Some("run"));
    let log_path = pki.path("run.log");
    let started = Instant::now();
    let mut child = Command::new(ironroot_e2e::binary("ironroot-client"))
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
            s(&pki.root()),
            "--renew-at",
            "0.5",
            "--max-backoff-seconds",
            "2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    pki.admin(
        &daemon,
        &["revoke", &leaf.serial_hex(), "--reason", "keyCompromise"],
    )
    .success();

    // The 20 s certificate is due at about 10 s; run must stop at that
    // attempt instead of retrying until the certificate expires.
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "run kept going after the revocation:\n{}",
                std::fs::read_to_string(&log_path).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stopped_after = started.elapsed();
    let log = std::fs::read_to_string(&log_path).unwrap();
    pki.transcript.record("ironroot-client run", &log);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("certificate_revoked"), "{log}");
    assert!(log.contains("permanently"), "{log}");
    assert!(!log.contains("retrying in"), "{log}");
    assert!(
        time::OffsetDateTime::now_utc() < leaf.validity.not_after,
        "run stopped only after the certificate expired ({stopped_after:?}):\n{log}"
    );
    assert_eq!(pki.leaf("leaf").serial, leaf.serial);
    pki.assert_no_secrets(daemon);
}

#[test]
fn per_profile_rate_limit_returns_429() {
    let pki = Pki::new("rate_limit_per_profile = \"2/1h\"");
    let daemon = pki.daemon();
    pki.enroll(&daemon, "w1", "w1.web.example", Some("web"));
    pki.enroll(&daemon, "w2", "w2.web.example", Some("web"));

    // The third sign in the web profile gets 429 with retry-after.
    let limited_id = pki.token(&daemon, "w3", "w3.web.example", Some("web"));
    let (status, head, body) = pki.curl_sign(&daemon, "w3", "w3.web.example");
    assert_eq!(status, 429, "{head}\n{body}");
    let retry_after: u64 = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("retry-after")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no numeric retry-after header:\n{head}"));
    // 2 per hour refills one certificate every 30 minutes.
    assert!(retry_after > 0, "{retry_after}");
    assert!(retry_after <= 1800, "{retry_after}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"], "rate_limited");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("rate_limit_per_profile"), "{message}");
    assert!(message.contains("web"), "{message}");
    let enrolled = pki.enroll_with(&daemon, "w3", "w3.web.example").failure(1);
    assert!(enrolled.stderr.contains("HTTP 429"), "{}", enrolled.stderr);
    assert!(
        enrolled.stderr.contains("rate_limited"),
        "{}",
        enrolled.stderr
    );

    // The rejected requests did not use up the token.
    let active = json(
        &pki.admin(&daemon, &["token", "list", "--state", "active", "--json"])
            .success(),
    );
    let ids: Vec<&str> = active["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![limited_id.as_str()]);

    // The default profile has a bucket of its own.
    for index in 0..2 {
        pki.enroll(
            &daemon,
            &format!("d{index}"),
            &format!("d{index}.example"),
            None,
        );
    }
    let (status, _, body) = pki.curl_sign(&daemon, "w3", "w3.web.example");
    assert_eq!(status, 429, "{body}");
    pki.assert_no_secrets(daemon);
}
