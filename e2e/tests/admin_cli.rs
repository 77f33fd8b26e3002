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

use std::time::{Duration, Instant};

use ironroot_core::cert::CertificateInfo;
use ironroot_e2e::pki::{
    P256, Pki, PkiOptions, certificate, file_mode, openssl_csr, path_str as s,
};
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

/// Builds the PKI with `extra` followed by [`PROFILES`] as issuer.toml.
fn new_pki(extra: &str) -> Pki {
    let config = format!("{extra}\n{PROFILES}");
    Pki::new(&PkiOptions {
        algorithm: "ecdsa-p256",
        root_common_name: "Admin CLI Root CA",
        intermediate: "a",
        intermediate_common_name: "Admin CLI Intermediate a",
        admin_name: "tester",
        config: Some(&config),
    })
}

/// Creates a token for `name` into the file `<prefix>.token`; returns the
/// token id that `token create` printed on stderr.
fn token(pki: &Pki, daemon: &Daemon, prefix: &str, name: &str, profile: Option<&str>) -> String {
    let path = pki.path(&format!("{prefix}.token"));
    let options = match profile {
        Some(profile) => vec!["--profile", profile],
        None => Vec::new(),
    };
    let output = pki.create_token(daemon, &path, &[name], &options).success();
    assert!(output.stdout.is_empty(), "{}", output.stdout);
    token_id(&output.stderr)
}

/// Runs `ironroot-client enroll` for `name` with the token in `<prefix>.token`.
fn enroll_with(pki: &Pki, daemon: &Daemon, prefix: &str, name: &str) -> Run {
    let token = pki.path(&format!("{prefix}.token"));
    pki.enroll(daemon, &token, prefix, &[name])
}

/// Creates a token and enrolls `name` with it; returns the leaf.
fn enroll_leaf(
    pki: &Pki,
    daemon: &Daemon,
    prefix: &str,
    name: &str,
    profile: Option<&str>,
) -> CertificateInfo {
    token(pki, daemon, prefix, name, profile);
    enroll_with(pki, daemon, prefix, name).success();
    pki.leaf(prefix)
}

/// Sends a sign request with curl for `name` and the token in
/// `<prefix>.token`; returns the status, the response head and the body.
fn curl_sign(pki: &Pki, daemon: &Daemon, prefix: &str, name: &str) -> (u16, String, String) {
    let csr = openssl_csr(
        pki.dir(),
        &format!("{prefix}.curl"),
        P256,
        &format!("DNS:{name}"),
        &[],
    );
    let token = pki.path(&format!("{prefix}.token"));
    pki.curl_sign(daemon, &token, &csr, None)
}

/// Stops the daemon and asserts that no recorded output (commands and the
/// daemon log) contains a token, a private key or the age identity.
fn stop_and_assert_no_secrets(pki: &Pki, daemon: Daemon) {
    assert_eq!(daemon.stop(), 0);
    pki.assert_no_secrets();
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

/// Runs `ironroot-admin ARGS --json`, which must succeed, and parses its stdout.
fn admin_json(pki: &Pki, daemon: &Daemon, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    json(&pki.admin(daemon, &args).success())
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

/// Returns `field` of every token that `token list --state active --json` lists.
fn active_token_field(pki: &Pki, daemon: &Daemon, field: &str) -> Vec<String> {
    let listed = admin_json(pki, daemon, &["token", "list", "--state", "active"]);
    listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token[field].as_str().unwrap().to_owned())
        .collect()
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
    let pki = new_pki("");
    let daemon = pki.start_daemon(&[]);

    // create with --out and a configured profile: stdout stays empty.
    let web_id = token(&pki, &daemon, "web", "app.web.example", Some("web"));
    assert_eq!(file_mode(&pki.path("web.token")), 0o600);
    let revoked_id = token(&pki, &daemon, "doomed", "doomed.example", None);
    let used_id = token(&pki, &daemon, "used", "used.example", None);

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
    pki.remember_token(created_json["token"].as_str().unwrap());

    // An unknown profile and a name outside the profile are rejected.
    pki.admin(
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
    .failure(1)
    .expect_stderr(&["nosuch"]);
    pki.admin(
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
    .failure(1)
    .expect_stderr(&["name_not_allowed"]);
    pki.admin(
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
    .failure(2)
    .expect_stderr(&["already exists"]);

    let used_leaf = {
        enroll_with(&pki, &daemon, "used", "used.example").success();
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
    let listed = admin_json(&pki, &daemon, &["token", "list"]);
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
    assert_eq!(
        active_token_field(&pki, &daemon, "state"),
        vec!["active"; 3]
    );
    pki.admin(&daemon, &["token", "list", "--limit", "1"])
        .success()
        .expect_stderr(&["repeat with --offset 1"]);
    pki.admin(&daemon, &["token", "list", "--state", "sleeping"])
        .failure(1)
        .expect_stderr(&["invalid_request"]);

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
    enroll_with(&pki, &daemon, "doomed", "doomed.example")
        .failure(1)
        .expect_stderr(&["token_revoked"]);
    assert!(!pki.path("doomed.pem").exists());
    let web_revoked = admin_json(&pki, &daemon, &["token", "revoke", &web_id]);
    assert_eq!(web_revoked["token"]["state"], "revoked");
    assert!(web_revoked["token"]["revoked_at"].is_i64(), "{web_revoked}");

    // Revoking a revoked or used token changes nothing (409), and an unknown id
    // gets 404. A malformed id is rejected before any request is sent.
    let rejected_revocations = [
        (revoked_id.as_str(), 1, "HTTP 409"),
        (used_id.as_str(), 1, "HTTP 409"),
        ("tok_0000000000000000", 1, "HTTP 404"),
        ("tok-../x", 2, "is not a token id"),
    ];
    for (id, code, reason) in rejected_revocations {
        pki.admin(&daemon, &["token", "revoke", id])
            .failure(code)
            .expect_stderr(&[reason]);
    }

    stop_and_assert_no_secrets(&pki, daemon);
}

#[test]
fn cert_search_show_and_revoke() {
    let pki = new_pki("");
    let daemon = pki.start_daemon(&[]);
    let alpha = enroll_leaf(&pki, &daemon, "alpha", "alpha.web.example", Some("web"));
    let beta = enroll_leaf(&pki, &daemon, "beta", "beta.web.example", Some("web"));
    let gamma_old = enroll_leaf(&pki, &daemon, "gamma", "gamma.example", None);
    let short = enroll_leaf(&pki, &daemon, "short", "brief.short.example", Some("short"));
    pki.renew(&daemon, "gamma", &["--force"]).success();
    let gamma_new = pki.leaf("gamma");
    let mut doomed = Vec::new();
    for (index, _) in REASONS.iter().enumerate() {
        let name = format!("doomed{index}.example");
        doomed.push(enroll_leaf(
            &pki,
            &daemon,
            &format!("doomed{index}"),
            &name,
            None,
        ));
    }

    // Revoke with every reason name; the first with --json.
    for (leaf, reason) in doomed.iter().zip(REASONS) {
        let serial = leaf.serial_hex();
        if reason == REASONS[0] {
            let response = admin_json(&pki, &daemon, &["revoke", &serial, "--reason", reason]);
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
    pki.admin(
        &daemon,
        &["revoke", &doomed[1].serial_hex(), "--reason", "superseded"],
    )
    .failure(1)
    .expect_stderr(&["already_revoked", "keyCompromise"]);
    let unknown_serial = "7f00000000000000000000000000abcd";
    pki.admin(
        &daemon,
        &["revoke", unknown_serial, "--reason", "unspecified"],
    )
    .failure(1)
    .expect_stderr(&["certificate_not_found", unknown_serial]);
    pki.admin(
        &daemon,
        &["revoke", &alpha.serial_hex(), "--reason", "boredom"],
    )
    .failure(1)
    .expect_stderr(&["boredom"]);

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
    let all = admin_json(&pki, &daemon, &["cert", "list"]);
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
    let leaves = admin_json(&pki, &daemon, &["cert", "search", "--kind", "leaf"]);
    assert_eq!(serials(&leaves).len(), 12, "{leaves}");
    let admins = admin_json(&pki, &daemon, &["cert", "list", "--kind", "admin"]);
    assert_eq!(serials(&admins).len(), 1, "{admins}");

    // By serial, plain and with colons.
    let by_serial = admin_json(
        &pki,
        &daemon,
        &["cert", "list", "--serial", &alpha.serial_hex()],
    );
    assert_eq!(serials(&by_serial), vec![alpha.serial_hex()]);
    let colons = alpha
        .serial_hex()
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let by_colons = admin_json(&pki, &daemon, &["cert", "search", "--serial", &colons]);
    assert_eq!(serials(&by_colons), vec![alpha.serial_hex()]);

    // By name, exact and substring.
    let exact = admin_json(
        &pki,
        &daemon,
        &["cert", "list", "--name", "alpha.web.example"],
    );
    assert_eq!(serials(&exact), vec![alpha.serial_hex()]);
    let partial_exact = admin_json(&pki, &daemon, &["cert", "list", "--name", "alpha.web"]);
    assert!(serials(&partial_exact).is_empty(), "{partial_exact}");
    let contains = admin_json(
        &pki,
        &daemon,
        &["cert", "list", "--name-contains", ".web.exa"],
    );
    let mut found = serials(&contains);
    found.sort();
    let mut expected = vec![alpha.serial_hex(), beta.serial_hex()];
    expected.sort();
    assert_eq!(found, expected);

    // By profile.
    let web = admin_json(&pki, &daemon, &["cert", "list", "--profile", "web"]);
    let mut found = serials(&web);
    found.sort();
    assert_eq!(found, expected);
    let short_only = admin_json(&pki, &daemon, &["cert", "list", "--profile", "short"]);
    assert_eq!(serials(&short_only), vec![short.serial_hex()]);

    // Expiring before a time: only the short-lived leaf ends within a minute,
    // and every leaf ends before 2099.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(1))
        .format(&Rfc3339)
        .unwrap();
    let expiring = admin_json(&pki, &daemon, &["cert", "list", "--expiring-before", &soon]);
    assert_eq!(serials(&expiring), vec![short.serial_hex()]);
    let by_date = admin_json(
        &pki,
        &daemon,
        &[
            "cert",
            "list",
            "--kind",
            "leaf",
            "--expiring-before",
            "2099-12-31",
        ],
    );
    assert_eq!(serials(&by_date).len(), 12);
    pki.admin(
        &daemon,
        &["cert", "list", "--expiring-before", "next tuesday"],
    )
    .failure(1)
    .expect_stderr(&["invalid_request"]);

    // By status.
    let status = |value: &str| -> Vec<String> {
        let mut found = serials(&admin_json(
            &pki,
            &daemon,
            &["cert", "list", "--kind", "leaf", "--status", value],
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
    pki.admin(&daemon, &["cert", "list", "--status", "sleeping"])
        .failure(1)
        .expect_stderr(&["invalid_request"]);

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
        shown_revoked
            .stdout
            .contains("(reason keyCompromise, code 1)"),
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
    let detail = admin_json(&pki, &daemon, &["cert", "show", &doomed[6].serial_hex()]);
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
    pki.admin(
        &daemon,
        &["cert", "show", "7f00000000000000000000000000abcd"],
    )
    .failure(1)
    .expect_stderr(&["HTTP 404"]);
    pki.admin(&daemon, &["cert", "show", "xyz"])
        .failure(2)
        .expect_stderr(&["is not a hex serial number"]);

    stop_and_assert_no_secrets(&pki, daemon);
}

#[test]
fn intermediates_status_and_audit() {
    let pki = new_pki("expiry_warning = \"36500d\"");
    let sha_a = certificate(&pki.offline.join("a.pem")).fingerprint.to_hex();
    let daemon = pki.start_daemon(&[]);
    enroll_leaf(&pki, &daemon, "one", "one.example", None);
    token(&pki, &daemon, "open", "open.example", None);

    // intermediates list, before and after importing B.
    let table = pki.admin(&daemon, &["intermediates", "list"]).success();
    assert_header(
        &table.stdout,
        &["ACTIVE", "SHA256", "NOT AFTER", "DAYS LEFT", "SUBJECT"],
    );
    assert!(table.stdout.contains(&sha_a), "{}", table.stdout);
    assert!(table.stdout.contains("warning:"), "{}", table.stdout);
    let sha_b = pki.import("b", "Admin CLI Intermediate b").1;
    let listed = admin_json(&pki, &daemon, &["intermediates", "list"]);
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
        .success()
        .expect_stderr(&["now signs"]);
    let b_row = activated
        .stdout
        .lines()
        .find(|line| line.contains(&sha_b))
        .unwrap();
    assert!(b_row.trim_start().starts_with('*'), "{}", activated.stdout);
    let after = admin_json(&pki, &daemon, &["intermediates", "activate", &sha_b]);
    assert_eq!(active(&after), vec![sha_b.clone()]);
    pki.admin(&daemon, &["intermediates", "activate", &"0".repeat(64)])
        .failure(1)
        .expect_stderr(&["intermediate_not_found"]);
    let b_leaf = enroll_leaf(&pki, &daemon, "two", "two.example", None);
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
    let status_json = admin_json(&pki, &daemon, &["status"]);
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
    let entries = admin_json(&pki, &daemon, &["audit", "show", "--limit", "3"]);
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
    let earlier = admin_json(&pki, &daemon, &["audit", "show", "--before", "3"]);
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
    let verified_json = admin_json(&pki, &daemon, &["audit", "verify"]);
    assert_fields(
        &verified_json,
        &["valid", "rows", "head_seq", "head_hash", "broken"],
    );
    assert_eq!(verified_json["valid"], true);
    assert!(verified_json["broken"].is_null());
    stop_and_assert_no_secrets(&pki, daemon);

    // Tamper with row 3 offline; both verifiers name it.
    let changed = pki
        .db()
        .execute(
            "UPDATE audit_log SET details = '{\"tampered\":true}' WHERE seq = 3",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    run(
        &pki.transcript,
        "ironroot-issuer",
        &["audit", "verify", "--data-dir", s(&pki.data_dir)],
    )
    .failure(1)
    .expect_stderr(&["broken at row 3 (changed)"]);
    let daemon = pki.start_daemon(&[]);
    pki.admin(&daemon, &["audit", "verify"])
        .failure(1)
        .expect_stderr(&["broken at row 3 (changed)"]);
    let broken_json = pki
        .admin(&daemon, &["audit", "verify", "--json"])
        .failure(1);
    let broken_json = json(&broken_json);
    assert_eq!(broken_json["valid"], false);
    assert_eq!(broken_json["broken"]["seq"], 3);
    assert_eq!(broken_json["broken"]["problem"], "changed");
    stop_and_assert_no_secrets(&pki, daemon);
}

#[test]
fn run_stops_when_certificate_revoked() {
    let pki = new_pki("");
    let daemon = pki.start_daemon(&[]);
    let leaf = enroll_leaf(&pki, &daemon, "leaf", "svc.run.example", Some("run"));
    let log_path = pki.path("run.log");
    let started = Instant::now();
    let mut child = pki.spawn_client_run(&daemon, "leaf", &[], &log_path);
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
    stop_and_assert_no_secrets(&pki, daemon);
}

#[test]
fn per_profile_rate_limit_returns_429() {
    let pki = new_pki("rate_limit_per_profile = \"2/1h\"");
    let daemon = pki.start_daemon(&[]);
    enroll_leaf(&pki, &daemon, "w1", "w1.web.example", Some("web"));
    enroll_leaf(&pki, &daemon, "w2", "w2.web.example", Some("web"));

    // The third sign in the web profile gets 429 with retry-after.
    let limited_id = token(&pki, &daemon, "w3", "w3.web.example", Some("web"));
    let (status, head, body) = curl_sign(&pki, &daemon, "w3", "w3.web.example");
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
    enroll_with(&pki, &daemon, "w3", "w3.web.example")
        .failure(1)
        .expect_stderr(&["HTTP 429", "rate_limited"]);

    // The rejected requests did not use up the token.
    assert_eq!(active_token_field(&pki, &daemon, "id"), vec![limited_id]);

    // The default profile has a bucket of its own.
    for index in 0..2 {
        enroll_leaf(
            &pki,
            &daemon,
            &format!("d{index}"),
            &format!("d{index}.example"),
            None,
        );
    }
    let (status, _, body) = curl_sign(&pki, &daemon, "w3", "w3.web.example");
    assert_eq!(status, 429, "{body}");
    stop_and_assert_no_secrets(&pki, daemon);
}
