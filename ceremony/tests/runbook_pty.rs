//! One interactive run through a pseudo-terminal: python3's `pty` module starts
//! the binary, confirms each step with `y` and types each witness's name when
//! the runbook asks for it.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::Workspace;

/// Drives `argv` in a pseudo-terminal. Each `Proceed with step N` prompt is
/// answered once with `y`, and each `Witness NAME: type your name ... LABEL
/// fingerprint` prompt once with NAME and Enter (dialoguer redraws prompts, so
/// the driver remembers which it answered). Prints everything the program wrote and exits with its status.
const DRIVER: &str = r#"
import os, pty, re, select, sys, time
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
output = b""
answered_steps = set()
answered_witnesses = set()
deadline = time.time() + 120
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    text = output.decode("utf-8", "replace")
    for step in re.findall(r"Proceed with step (\d+)\?", text):
        if step not in answered_steps:
            answered_steps.add(step)
            time.sleep(0.1)
            os.write(fd, b"y")
    for prompt in re.findall(r"Witness ([^:\r\n]+): type your name to confirm the ([^\r\n]+?) fingerprint", text):
        if prompt not in answered_witnesses:
            answered_witnesses.add(prompt)
            time.sleep(0.1)
            os.write(fd, prompt[0].encode() + b"\r")
_, status = os.waitpid(pid, 0)
sys.stdout.write(output.decode("utf-8", "replace"))
sys.stdout.write("\nSTEPS=%d WITNESSES=%d\n" % (len(answered_steps), len(answered_witnesses)))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn interactive_runbook_through_a_pty() {
    let ws = Workspace::new();
    let driver = ws.path("driver.py");
    std::fs::write(&driver, DRIVER).unwrap();
    let output = Command::new("python3")
        .arg(&driver)
        .arg(env!("CARGO_BIN_EXE_ironroot-ceremony"))
        .args(["run", "root.toml"])
        .current_dir(ws.dir.path())
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("STEPS=5"), "{text}");
    // Two witnesses acknowledge two fingerprints: the public key and the certificate.
    assert!(text.contains("WITNESSES=4"), "{text}");
    assert!(ws.path("root.pem").is_file());

    let transcript = ws.read("root-2026.transcript.jsonl");
    let acknowledgements = transcript
        .lines()
        .filter(|line| line.contains("\"type\":\"witness\"") && line.contains("typed their name"))
        .count();
    assert_eq!(acknowledgements, 4, "{transcript}");
    ws.ceremony(&[
        "verify-transcript",
        "root-2026.transcript.jsonl",
        "--signer-cert",
        "root.pem",
    ])
    .assert_success();
}
