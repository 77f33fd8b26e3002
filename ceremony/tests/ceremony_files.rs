//! Ceremony files that must be rejected before any key is generated or
//! unlocked, overwrite refusal, dry runs, and wrong unlock secrets.

#![allow(clippy::unwrap_used)]

mod support;

use support::Workspace;

/// One invalid ceremony file: which example to start from, the text to
/// replace, its replacement, and the field the error must name.
struct Case {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    field: &'static str,
    also: &'static str,
}

const CASES: &[Case] = &[
    Case {
        file: "root.toml",
        from: "id = \"root-2026\"",
        to: "id = \"root 2026!\"",
        field: "id:",
        also: "A-Z",
    },
    Case {
        file: "root.toml",
        from: "kind = \"root\"",
        to: "kind = \"subordinate\"",
        field: "kind:",
        also: "root-rollover",
    },
    Case {
        file: "root.toml",
        from: "description = \"Create the Example Corp root CA 2026\"",
        to: "description = \" \"",
        field: "description:",
        also: "empty",
    },
    Case {
        file: "root.toml",
        from: "algorithm = \"ecdsa-p384\"",
        to: "algorithm = \"rsa-2048\"",
        field: "key.algorithm:",
        also: "3072",
    },
    Case {
        file: "root.toml",
        from: "algorithm = \"ecdsa-p384\"",
        to: "algorithm = \"ecdsa-p521\"",
        field: "key.algorithm:",
        also: "ecdsa-p256, ecdsa-p384, ed25519",
    },
    Case {
        file: "root.toml",
        from: "country = \"DE\"",
        to: "country = \"Germany\"",
        field: "subject:",
        also: "",
    },
    Case {
        file: "root.toml",
        from: "country = \"DE\"",
        to: "colour = \"red\"",
        field: "subject.colour",
        also: "unknown field",
    },
    Case {
        file: "root.toml",
        from: "days = 7300",
        to: "days = 9200",
        field: "validity.days:",
        also: "9131",
    },
    Case {
        file: "root.toml",
        from: "days = 7300",
        to: "days = 0",
        field: "validity.days:",
        also: "allowed: 1 to",
    },
    Case {
        file: "root.toml",
        from: "certificate = \"root.pem\"\n",
        to: "",
        field: "outputs.certificate:",
        also: "missing",
    },
    Case {
        file: "root.toml",
        from: "key = \"root.key.age\"",
        to: "key = \"root.pem\"",
        field: "outputs.key:",
        also: "another output",
    },
    Case {
        file: "root.toml",
        from: "key = \"root.key.age\"",
        to: "key = \"no-such-dir/root.key.age\"",
        field: "outputs.key:",
        also: "does not exist",
    },
    Case {
        file: "root.toml",
        from: "mode = \"passphrase\"",
        to: "mode = \"paper\"",
        field: "custody.mode:",
        also: "passphrase, recipients, shares",
    },
    Case {
        file: "root.toml",
        from: "passphrase_file = \"root.passphrase\"\n",
        to: "",
        field: "custody.passphrase_file:",
        also: "--yes",
    },
    Case {
        file: "root.toml",
        from: "passphrase_file = \"root.passphrase\"",
        to: "passphrase_file = \"missing.passphrase\"",
        field: "custody.passphrase_file:",
        also: "missing.passphrase",
    },
    Case {
        file: "root.toml",
        from: "witnesses = [\"Alice Auditor\", \"Bob Officer\"]",
        to: "witnesses = [\"Alice Auditor\", \"alice auditor\"]",
        field: "witnesses[1]:",
        also: "twice",
    },
    Case {
        file: "root.toml",
        from: "witnesses = [\"Alice Auditor\", \"Bob Officer\"]",
        to: "witnesses = [\" Alice\"]",
        field: "witnesses[0]:",
        also: "spaces",
    },
    Case {
        file: "root.toml",
        from: "transcript = \"root-2026.transcript.jsonl\"",
        to: "transcript = \"root.toml\"",
        field: "transcript:",
        also: "already exists",
    },
    Case {
        file: "root.toml",
        from: "[outputs]",
        to: "[extensions]\npath_len = 1\n\n[outputs]",
        field: "extensions:",
        also: "only intermediates",
    },
    Case {
        file: "root.toml",
        from: "[outputs]",
        to: "[signer]\nkey = \"signer.key.age\"\npassphrase_file = \"root.passphrase\"\n\n[outputs]",
        field: "signer.key:",
        also: "signer.key.age",
    },
    Case {
        file: "root-shares.toml",
        from: "threshold = 2",
        to: "threshold = 5",
        field: "custody.threshold:",
        also: "2 to 3",
    },
    Case {
        file: "root-shares.toml",
        from: "name = \"Dave\"",
        to: "name = \"carol\"",
        field: "custody.custodians[1].name:",
        also: "twice",
    },
    Case {
        file: "root-shares.toml",
        from: "shares_dir = \"shares\"",
        to: "shares_dir = \"no-shares\"",
        field: "outputs.shares_dir:",
        also: "directory",
    },
    Case {
        file: "root-rollover.toml",
        from: "recipients = [",
        to: "recipients = [\"age1notarecipient\",",
        field: "custody.recipients[0]:",
        also: "",
    },
    Case {
        file: "root-rollover.toml",
        from: "recipients = [",
        to: "threshold = 2\nrecipients = [",
        field: "custody.threshold:",
        also: "only used with mode `shares`",
    },
    Case {
        file: "root-rollover.toml",
        from: "cross_validity_days = 1825",
        to: "cross_validity_days = 0",
        field: "rollover.cross_validity_days:",
        also: "",
    },
    Case {
        file: "root-rollover.toml",
        from: "algorithm = \"rsa-3072\"",
        to: "algorithm = \"rsa-1024\"",
        field: "key.algorithm:",
        also: "3072",
    },
    Case {
        file: "intermediate.toml",
        from: "days = 1825",
        to: "days = 3000",
        field: "validity.days:",
        also: "2922",
    },
    Case {
        file: "intermediate.toml",
        from: "policy_oids = [\"1.3.6.1.4.1.55555.1.1\"]",
        to: "policy_oids = [\"policy-one\"]",
        field: "extensions.policy_oids[0]:",
        also: "dotted OID",
    },
    Case {
        file: "intermediate.toml",
        from: "http://pki.example.com/root.crl",
        to: "ftp://pki.example.com/root.crl",
        field: "extensions.crl_distribution_points[0]:",
        also: "http://",
    },
    Case {
        file: "intermediate.toml",
        from: "aia_ca_issuers = [\"http://pki.example.com/root.cer\"]",
        to: "aia_ca_issuers = [\"pki.example.com\"]",
        field: "extensions.aia_ca_issuers[0]:",
        also: "",
    },
    Case {
        file: "intermediate.toml",
        from: "permitted_ip = [\"10.0.0.0/8\"]",
        to: "permitted_ip = [\"10.0.0.1/8\"]",
        field: "extensions.name_constraints.permitted_ip[0]:",
        also: "CIDR",
    },
    Case {
        file: "intermediate.toml",
        from: "permitted_dns = [\"example.com\"]",
        to: "permitted_dns = [\"exa mple.com\"]",
        field: "extensions.name_constraints.permitted_dns[0]:",
        also: "",
    },
    Case {
        file: "intermediate.toml",
        from: "path_len = 0",
        to: "path_len = -1",
        field: "extensions.path_len",
        also: "",
    },
    Case {
        file: "intermediate.toml",
        from: "root_cert = \"root.pem\"",
        to: "root_cert = \"missing-root.pem\"",
        field: "inputs.root_cert:",
        also: "missing-root.pem",
    },
    Case {
        file: "intermediate.toml",
        from: "recipient_file = \"web-1.recipient\"",
        to: "recipient = \"age1bogus\"",
        field: "inputs.recipient:",
        also: "",
    },
    Case {
        file: "intermediate.toml",
        from: "recipient_file = \"web-1.recipient\"\n",
        to: "",
        field: "inputs.recipient:",
        also: "missing",
    },
    Case {
        file: "intermediate.toml",
        from: "[key]\nalgorithm = \"ecdsa-p256\"\n",
        to: "",
        field: "key.algorithm:",
        also: "missing",
    },
    Case {
        file: "intermediate.toml",
        from: "[outputs]",
        to: "[custody]\nmode = \"passphrase\"\n\n[outputs]",
        field: "custody:",
        also: "[unlock]",
    },
    Case {
        file: "intermediate.toml",
        from: "bundle = \"web-1.bundle.age\"",
        to: "crl = \"web-1.crl\"",
        field: "outputs.bundle:",
        also: "missing",
    },
    Case {
        file: "intermediate-from-csr.toml",
        from: "csr = \"web-2.csr\"",
        to: "csr = \"missing.csr\"",
        field: "inputs.csr:",
        also: "missing.csr",
    },
    Case {
        file: "intermediate-from-csr.toml",
        from: "[subject]",
        to: "[key]\nalgorithm = \"ecdsa-p256\"\n\n[subject]",
        field: "key:",
        also: "absent",
    },
    Case {
        file: "crl.toml",
        from: "reason = \"cessation-of-operation\"",
        to: "reason = \"lost\"",
        field: "crl.revoked[0].reason:",
        also: "key-compromise",
    },
    Case {
        file: "crl.toml",
        from: "serial = \"3A:7F:00:12:9C:44:5B:E1:08:6D:2A:90:11:C3:7E:05\"",
        to: "serial = \"xyz\"",
        field: "crl.revoked[0].serial:",
        also: "hex",
    },
    Case {
        file: "crl.toml",
        from: "next_update_days = 90",
        to: "next_update_days = 0",
        field: "crl.next_update_days:",
        also: "1 to 366",
    },
    Case {
        file: "crl.toml",
        from: "[unlock]\npassphrase_file = \"root.passphrase\"\n",
        to: "",
        field: "unlock:",
        also: "--yes",
    },
    Case {
        file: "crl.toml",
        from: "[unlock]",
        to: "[validity]\ndays = 10\n\n[unlock]",
        field: "validity:",
        also: "absent",
    },
    Case {
        file: "crl.toml",
        from: "crl = \"root-1.crl\"",
        to: "crl = \"root-1.crl\"\nbundle = \"x.age\"",
        field: "outputs.bundle:",
        also: "absent",
    },
];

#[test]
fn invalid_ceremony_files_name_the_field() {
    let template = Workspace::new();
    // Inputs of the intermediate, CSR and CRL examples must exist so that each
    // case fails on its one field only.
    template.run_yes("root.toml");
    let root_transcript = template.path("root-2026.transcript.jsonl");
    std::fs::remove_file(root_transcript).unwrap();
    let originals: Vec<(String, String)> = [
        "root.toml",
        "root-shares.toml",
        "root-rollover.toml",
        "intermediate.toml",
        "intermediate-from-csr.toml",
        "crl.toml",
    ]
    .iter()
    .map(|name| (name.to_string(), template.read(name)))
    .collect();

    for case in CASES {
        for (name, text) in &originals {
            std::fs::write(template.path(name), text).unwrap();
        }
        // This workspace already contains root.pem and root.key.age, so the root
        // example writes to new paths, in the case's text as well.
        let rename = |text: &str| {
            if case.file == "root.toml" {
                text.replace("\"root.pem\"", "\"new-root.pem\"")
                    .replace("\"root.key.age\"", "\"new-root.key.age\"")
            } else {
                text.to_owned()
            }
        };
        let base = rename(&template.read("root.toml"));
        std::fs::write(template.path("root.toml"), base).unwrap();
        let (from, to) = (rename(case.from), rename(case.to));
        template.edit(case.file, &from, &to);
        let before = template.listing();
        let run = template.ceremony(&["run", case.file, "--yes"]);
        assert_eq!(
            run.code, 2,
            "case {}: {}\n{}",
            case.field, run.stdout, run.stderr
        );
        assert!(
            run.stderr.contains("invalid ceremony file"),
            "case {}: {}",
            case.field,
            run.stderr
        );
        assert!(
            run.stderr.contains(case.field),
            "case {}: stderr lacks the field:\n{}",
            case.field,
            run.stderr
        );
        assert!(
            run.stderr.contains(case.also),
            "case {}: stderr lacks `{}`:\n{}",
            case.field,
            case.also,
            run.stderr
        );
        assert_eq!(
            template.listing(),
            before,
            "case {} wrote files",
            case.field
        );
        assert!(
            !run.stdout.contains("Step 1"),
            "case {} started the ceremony",
            case.field
        );
    }
}

#[test]
fn invalid_ceremony_file_lists_several_errors() {
    let ws = Workspace::new();
    ws.edit(
        "root.toml",
        "algorithm = \"ecdsa-p384\"",
        "algorithm = \"secp256k1\"",
    );
    ws.edit("root.toml", "days = 7300", "days = 20000");
    ws.edit("root.toml", "mode = \"passphrase\"", "mode = \"vault\"");
    let run = ws.ceremony(&["run", "root.toml", "--yes"]);
    run.assert_failure(&["key.algorithm:", "validity.days:", "custody.mode:"]);
    assert_eq!(run.code, 2);
}

#[test]
fn long_validity_needs_the_flag() {
    let ws = Workspace::new();
    ws.edit("root.toml", "days = 7300", "days = 9200");
    ws.ceremony(&["run", "root.toml", "--yes"])
        .assert_failure(&["validity.days"]);
    ws.ceremony(&["run", "root.toml", "--yes", "--allow-long-validity"])
        .assert_success();
}

#[test]
fn intermediate_never_outlives_root() {
    let ws = Workspace::new();
    ws.edit("root.toml", "days = 7300", "days = 365");
    ws.run_yes("root.toml");
    let before = ws.listing();
    let run = ws.ceremony(&["run", "intermediate.toml", "--yes"]);
    run.assert_failure(&["after the root certificate", "expires at"]);
    assert_eq!(ws.listing(), before);
}

#[test]
fn existing_output_is_refused() {
    let ws = Workspace::new();
    ws.public("root.pem", "an older root");
    let before = ws.listing();
    let run = ws.ceremony(&["run", "root.toml", "--yes"]);
    run.assert_failure(&["outputs.certificate", "root.pem", "already exists"]);
    assert_eq!(run.code, 2);
    assert_eq!(ws.listing(), before);
    assert_eq!(ws.read("root.pem"), "an older root\n");
}

#[test]
fn dry_run_writes_only_to_scratch() {
    let ws = Workspace::new();
    // No root exists, so the dry run uses throwaway root material instead.
    for file in [
        "root.toml",
        "intermediate.toml",
        "intermediate-from-csr.toml",
        "crl.toml",
        "root-rollover.toml",
        "root-shares.toml",
    ] {
        let before = ws.listing();
        let run = ws.ceremony(&["run", file, "--dry-run", "--yes"]);
        run.assert_success();
        assert_eq!(
            ws.listing(),
            before,
            "{file}: the dry run wrote into the workspace"
        );
        let scratch = run
            .stdout
            .lines()
            .find_map(|line| {
                line.strip_prefix(
                    "Dry run: throwaway keys; every output goes to the scratch directory ",
                )
            })
            .unwrap_or_else(|| panic!("{file}: no scratch directory printed:\n{}", run.stdout));
        let scratch = std::path::Path::new(scratch.trim());
        assert!(
            scratch.starts_with(ws.path("tmp")),
            "{file}: scratch {} outside TMPDIR",
            scratch.display()
        );
        let transcript = std::fs::read_dir(scratch)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.to_string_lossy().ends_with(".transcript.jsonl"))
            .unwrap();
        let text = std::fs::read_to_string(&transcript).unwrap();
        assert!(text.contains("\"dry_run\":true"), "{file}");
        ws.ceremony(&["verify-transcript", transcript.to_str().unwrap()])
            .assert_success();
    }
}

#[test]
fn wrong_passphrase_writes_nothing() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    ws.private("root.passphrase", "not the right passphrase");
    let before = ws.listing();
    let run = ws.ceremony(&["run", "intermediate.toml", "--yes"]);
    run.assert_failure(&["passphrase"]);
    assert_eq!(ws.listing(), before);
}

#[test]
fn wrong_custodian_identity_writes_nothing() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    // A second root held by custodians 2 and 3 through their recipients.
    ws.run_yes("root-rollover.toml");
    ws.edit("crl.toml", "root.pem", "root-2036.pem");
    ws.edit(
        "crl.toml",
        "root_key = \"root.key.age\"",
        "root_key = \"root-2036.key.age\"",
    );
    ws.edit(
        "crl.toml",
        "passphrase_file = \"root.passphrase\"",
        "identity_files = [\"custodian-0.identity\"]",
    );
    let before = ws.listing();
    let run = ws.ceremony(&["run", "crl.toml", "--yes"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(!run.stderr.is_empty());
    assert_eq!(ws.listing(), before);

    ws.edit("crl.toml", "custodian-0.identity", "custodian-3.identity");
    ws.run_yes("crl.toml");
}

#[test]
fn wrong_share_secret_is_named() {
    let ws = Workspace::new();
    ws.run_yes("root-shares.toml");
    ws.edit("crl.toml", "root.pem", "shared-root.pem");
    ws.edit(
        "crl.toml",
        "root_key = \"root.key.age\"",
        "root_key = \"shared-root.key.age\"",
    );
    ws.edit(
        "crl.toml",
        "passphrase_file = \"root.passphrase\"",
        "share_files = [\"shares/root-shares-2026-share-1-carol.txt\", \"shares/root-shares-2026-share-2-dave.txt\"]\nshare_secret_files = [\"custodian-0.identity\", \"custodian-3.identity\"]",
    );
    let before = ws.listing();
    let run = ws.ceremony(&["run", "crl.toml", "--yes"]);
    run.assert_failure(&["share-2-dave"]);
    assert_eq!(ws.listing(), before);

    ws.edit("crl.toml", "custodian-3.identity", "custodian-1.identity");
    ws.run_yes("crl.toml");
}

#[test]
fn leftover_share_file_is_refused_in_validation() {
    let ws = Workspace::new();
    ws.run_yes("root-shares.toml");
    // The same id and shares_dir, but new certificate, key and transcript paths.
    ws.edit("root-shares.toml", "shared-root.pem", "second-root.pem");
    ws.edit(
        "root-shares.toml",
        "shared-root.key.age",
        "second-root.key.age",
    );
    ws.edit(
        "root-shares.toml",
        "root-shares-2026.transcript.jsonl",
        "second.transcript.jsonl",
    );
    let before = ws.listing();
    let run = ws.ceremony(&["run", "root-shares.toml", "--yes"]);
    run.assert_failure(&[
        "outputs.shares_dir[1]",
        "root-shares-2026-share-1-carol.txt",
        "outputs.shares_dir[3]",
        "root-shares-2026-share-3-erin.txt",
        "already exists",
    ]);
    assert_eq!(run.code, 2);
    assert!(!run.stdout.contains("Step 1"), "{}", run.stdout);
    assert_eq!(ws.listing(), before);
}

/// Writes `name` with `mode` and the example passphrase.
fn passphrase_with_mode(ws: &Workspace, name: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    ws.private(name, "a long enough passphrase");
    std::fs::set_permissions(ws.path(name), std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn open_custody_passphrase_is_refused_in_validation() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    passphrase_with_mode(&ws, "new-root.passphrase", 0o644);
    let text = ws.read("root-rollover.toml");
    let (head, _) = text.split_once("[custody]").unwrap();
    let custody = "[custody]\nmode = \"passphrase\"\npassphrase_file = \"new-root.passphrase\"\n";
    std::fs::write(ws.path("root-rollover.toml"), format!("{head}{custody}")).unwrap();
    let before = ws.listing();
    let run = ws.ceremony(&["run", "root-rollover.toml", "--yes"]);
    run.assert_failure(&[
        "custody.passphrase_file",
        "new-root.passphrase",
        "mode 0644",
        "chmod 600",
    ]);
    assert_eq!(run.code, 2);
    assert!(!run.stdout.contains("Step 1"), "{}", run.stdout);
    assert_eq!(ws.listing(), before);
}

#[test]
fn open_secret_files_are_refused_in_validation() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    passphrase_with_mode(&ws, "open.passphrase", 0o640);
    passphrase_with_mode(&ws, "open.identity", 0o604);

    // An unlock passphrase and a custodian's share passphrase, both too open.
    ws.edit("intermediate.toml", "root.passphrase", "open.passphrase");
    ws.edit("root-shares.toml", "erin.passphrase", "open.passphrase");
    // A custodian identity file that others can read.
    ws.edit(
        "crl.toml",
        "passphrase_file = \"root.passphrase\"",
        "identity_files = [\"open.identity\"]",
    );
    let cases = [
        ("intermediate.toml", "unlock.passphrase_file"),
        ("root-shares.toml", "custody.custodians[2].passphrase_file"),
        ("crl.toml", "unlock.identity_files[0]"),
    ];
    for (file, field) in cases {
        let before = ws.listing();
        let run = ws.ceremony(&["run", file, "--yes"]);
        run.assert_failure(&[field, "by group or others"]);
        assert_eq!(run.code, 2, "{file}");
        assert!(!run.stdout.contains("Step 1"), "{file}: {}", run.stdout);
        assert_eq!(ws.listing(), before, "{file}");
    }

    // A passphrase given on the command line is checked in validation too.
    ws.edit(
        "intermediate.toml",
        "[unlock]\npassphrase_file = \"open.passphrase\"\n",
        "",
    );
    let run = ws.ceremony(&[
        "run",
        "intermediate.toml",
        "--yes",
        "--passphrase-file",
        "open.passphrase",
    ]);
    run.assert_failure(&["--passphrase-file", "by group or others"]);
    assert!(!run.stdout.contains("Step 1"), "{}", run.stdout);
}

#[test]
fn short_share_passphrase_is_refused_in_validation() {
    let ws = Workspace::new();
    ws.private("erin.passphrase", "too short");
    let run = ws.ceremony(&["run", "root-shares.toml", "--yes"]);
    run.assert_failure(&["custody.custodians[2].passphrase_file", "at least 12"]);
    assert_eq!(run.code, 2);
    assert!(!run.stdout.contains("Step 1"), "{}", run.stdout);
}

#[test]
fn failed_dry_run_removes_its_scratch() {
    let ws = Workspace::new();
    ws.edit("root.toml", "days = 7300", "days = 365");
    ws.run_yes("root.toml");
    // The intermediate would outlive the root, which the dry run finds in a step.
    let run = ws.ceremony(&["run", "intermediate.toml", "--dry-run", "--yes"]);
    run.assert_failure(&["after the root certificate"]);
    assert!(
        run.stdout.contains("scratch directory"),
        "the failure came before the scratch directory:\n{}",
        run.stdout
    );
    let left: Vec<_> = std::fs::read_dir(ws.path("tmp")).unwrap().collect();
    assert!(left.is_empty(), "the dry run left {left:?}");
}

#[test]
fn dry_run_scratch_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let run = ws.ceremony(&["run", "root.toml", "--dry-run", "--yes"]);
    run.assert_success();
    let scratch: Vec<_> = std::fs::read_dir(ws.path("tmp"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(scratch.len(), 1, "{scratch:?}");
    let mode = std::fs::metadata(&scratch[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", scratch[0].display());
}

#[test]
fn unknown_field_is_reported_alone() {
    // A file that does not parse stops at the parse error; the field errors
    // (here the weak algorithm) appear once the unknown field is removed.
    let ws = Workspace::new();
    ws.edit(
        "root.toml",
        "algorithm = \"ecdsa-p384\"",
        "algorithm = \"rsa-2048\"",
    );
    ws.edit("root.toml", "country = \"DE\"", "colour = \"red\"");
    let run = ws.ceremony(&["run", "root.toml", "--yes"]);
    run.assert_failure(&["subject.colour", "unknown field"]);
    assert!(!run.stderr.contains("key.algorithm"), "{}", run.stderr);
    ws.edit("root.toml", "colour = \"red\"", "country = \"DE\"");
    let run = ws.ceremony(&["run", "root.toml", "--yes"]);
    run.assert_failure(&["key.algorithm", "3072"]);
}
