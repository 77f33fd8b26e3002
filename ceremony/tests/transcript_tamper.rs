//! Transcript verification: editing, deleting and reordering an entry are each
//! detected and named by seq and line, and the signer can be pinned.

#![allow(clippy::unwrap_used)]

mod support;

use support::Workspace;

const TRANSCRIPT: &str = "root-2026.transcript.jsonl";

fn lines(ws: &Workspace) -> Vec<String> {
    ws.read(TRANSCRIPT).lines().map(str::to_owned).collect()
}

fn write_lines(ws: &Workspace, name: &str, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(ws.path(name), text).unwrap();
}

fn verify(ws: &Workspace, name: &str) -> support::Run {
    ws.ceremony(&["verify-transcript", name, "--signer-cert", "root.pem"])
}

#[test]
fn transcript_tampering_is_detected_and_named() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    verify(&ws, TRANSCRIPT).assert_success();
    let original = lines(&ws);
    assert!(original.len() > 8, "{original:?}");

    // Edit entry seq 3 (line 4): the next line's `prev` no longer matches.
    let mut edited = original.clone();
    edited[3] = edited[3].replacen("\"seq\":3,\"at\":\"", "\"seq\":3,\"at\":\"1", 1);
    assert_ne!(edited[3], original[3]);
    write_lines(&ws, "edited.jsonl", &edited);
    verify(&ws, "edited.jsonl").assert_failure(&[
        "transcript entry seq 3 (line 4) was altered: its SHA-256 no longer matches the `prev` of entry seq 4 (line 5)",
    ]);

    // Edit the first entry: the second entry's `prev` catches it.
    let mut first = original.clone();
    first[0] = first[0].replacen("\"seq\":0,\"at\":\"", "\"seq\":0,\"at\":\"1", 1);
    assert_ne!(first[0], original[0]);
    write_lines(&ws, "first.jsonl", &first);
    verify(&ws, "first.jsonl").assert_failure(&[
        "transcript entry seq 0 (line 1) was altered: its SHA-256 no longer matches the `prev` of entry seq 1 (line 2)",
    ]);

    // Break the first entry's own `prev`: it no longer starts the chain.
    let mut unchained = original.clone();
    unchained[0] = unchained[0].replacen(&"0".repeat(64), &format!("1{}", "0".repeat(63)), 1);
    assert_ne!(unchained[0], original[0]);
    write_lines(&ws, "unchained.jsonl", &unchained);
    verify(&ws, "unchained.jsonl").assert_failure(&[
        "transcript entry seq 0 (line 1): the first entry does not start the chain",
    ]);

    // Delete entry seq 4 (line 5).
    let mut deleted = original.clone();
    deleted.remove(4);
    write_lines(&ws, "deleted.jsonl", &deleted);
    verify(&ws, "deleted.jsonl").assert_failure(&["line 5", "seq 4 is missing", "removed"]);

    // Swap entries seq 5 and 6 (lines 6 and 7).
    let mut reordered = original.clone();
    reordered.swap(5, 6);
    write_lines(&ws, "reordered.jsonl", &reordered);
    verify(&ws, "reordered.jsonl").assert_failure(&["seq 6", "line 6", "reordered"]);

    // Drop the signature entry.
    let mut unsigned = original.clone();
    unsigned.pop();
    write_lines(&ws, "unsigned.jsonl", &unsigned);
    verify(&ws, "unsigned.jsonl").assert_failure(&["not the signature"]);

    // Edit the last entry before the signature.
    let mut last = original.clone();
    let index = last.len() - 2;
    last[index] = last[index].replace("ceremony-end", "ceremony-end ");
    write_lines(&ws, "last.jsonl", &last);
    verify(&ws, "last.jsonl").assert_failure(&[&format!(
        "transcript entry seq {index} (line {}) was altered: its SHA-256 no longer matches the `prev` of entry seq {} (line {})",
        index + 1,
        index + 1,
        index + 2
    )]);

    // Edit the signature entry, the last line: no `prev` follows it, so its
    // digest of the lines above is what no longer matches.
    let mut signature = original.clone();
    let index = signature.len() - 1;
    let digest_at = signature[index].find("\"digest\":\"").unwrap() + "\"digest\":\"".len();
    let flipped = if &signature[index][digest_at..=digest_at] == "0" {
        "1"
    } else {
        "0"
    };
    signature[index].replace_range(digest_at..=digest_at, flipped);
    write_lines(&ws, "signature.jsonl", &signature);
    verify(&ws, "signature.jsonl").assert_failure(&[&format!(
        "transcript entry seq {index} (line {}): the digest in the signature entry does not match",
        index + 1
    )]);
}

#[test]
fn transcript_signer_is_pinned() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    ws.run_yes("root-shares.toml");
    let run = ws.ceremony(&[
        "verify-transcript",
        TRANSCRIPT,
        "--signer-cert",
        "shared-root.pem",
    ]);
    run.assert_failure(&["not by the --signer-cert key"]);
    ws.ceremony(&["verify-transcript", TRANSCRIPT])
        .assert_success();
}

#[test]
fn transcript_renders_as_markdown() {
    let ws = Workspace::new();
    ws.run_yes("root.toml");
    ws.ceremony(&["render-transcript", TRANSCRIPT, "--out", "binder.md"])
        .assert_success();
    let markdown = ws.read("binder.md");
    assert!(
        markdown.starts_with("# Ceremony transcript: root-2026"),
        "{markdown}"
    );
    assert!(markdown.contains("| seq | time (UTC) | type | details |"));
    assert!(markdown.contains("Alice Auditor"));
    assert!(markdown.contains("ceremony-start"));
    // Each witness acknowledges several fingerprints but signs once.
    for witness in ["Alice Auditor", "Bob Officer"] {
        let lines = markdown
            .lines()
            .filter(|line| line.starts_with(&format!("- {witness}:")))
            .count();
        assert_eq!(lines, 1, "{witness}:\n{markdown}");
    }
    let acknowledgements = ws
        .read(TRANSCRIPT)
        .lines()
        .filter(|line| line.contains("\"type\":\"witness\"") && line.contains("Alice Auditor"))
        .count();
    assert!(acknowledgements > 1, "{acknowledgements}");
    // An existing binder page is never overwritten.
    ws.ceremony(&["render-transcript", TRANSCRIPT, "--out", "binder.md"])
        .assert_failure(&["already exists"]);
}

#[test]
fn dedicated_signer_signs_transcript() {
    let ws = Workspace::new();
    // A separate key, sealed with a passphrase, that signs transcripts only.
    ws.ceremony(&[
        "init-root",
        "--out-dir",
        "signer",
        "--common-name",
        "Ceremony transcript signer",
        "--passphrase-file",
        "root.passphrase",
    ])
    .assert_success();
    ws.edit(
        "root.toml",
        "[outputs]",
        "[signer]\nkey = \"signer/root.key.age\"\ncertificate = \"signer/root.pem\"\npassphrase_file = \"root.passphrase\"\n\n[outputs]",
    );
    ws.run_yes("root.toml");
    ws.ceremony(&[
        "verify-transcript",
        TRANSCRIPT,
        "--signer-cert",
        "signer/root.pem",
    ])
    .assert_success();
    verify(&ws, TRANSCRIPT).assert_failure(&["not by the --signer-cert key"]);
}
