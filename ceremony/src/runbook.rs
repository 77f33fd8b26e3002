//! The runbook on the terminal: each step is shown and confirmed, fingerprints
//! are shown in groups to read aloud, and each witness acknowledges them. With
//! `--yes` the same steps are printed and recorded without prompts.

use std::io::{IsTerminal, Write};

use dialoguer::{Confirm, Input};
use ironroot_core::Fingerprint;
use serde_json::json;

use crate::error::CeremonyError;
use crate::report::timestamp;
/// Long steps (key generation, scrypt, RSA) run under the indicatif spinner.
pub(crate) use crate::report::with_spinner as with_progress;
use crate::transcript::TranscriptWriter;

/// Drives the steps of one ceremony.
pub(crate) struct Runbook {
    interactive: bool,
    witnesses: Vec<String>,
    step: usize,
}

impl Runbook {
    /// Creates the runbook. Without `yes` it needs a terminal on standard input.
    pub(crate) fn new(yes: bool, witnesses: &[String]) -> Result<Self, CeremonyError> {
        if !yes && !std::io::stdin().is_terminal() {
            return Err(CeremonyError::Ceremony(
                "the interactive runbook needs a terminal on standard input; run it in a terminal, or pass --yes for an unattended run"
                    .to_owned(),
            ));
        }
        Ok(Self {
            interactive: !yes,
            witnesses: witnesses.to_vec(),
            step: 0,
        })
    }

    /// Whether prompts are shown.
    pub(crate) fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Prints a line of the runbook on standard output.
    pub(crate) fn say(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed standard output must not stop a ceremony half-way.
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// Shows step `title`, asks for confirmation when interactive, and records it.
    pub(crate) fn step(
        &mut self,
        title: &str,
        transcript: &mut TranscriptWriter,
    ) -> Result<(), CeremonyError> {
        self.step += 1;
        self.say(&format!("\nStep {}: {title}", self.step));
        if self.interactive {
            let proceed = Confirm::new()
                .with_prompt(format!("Proceed with step {}?", self.step))
                .default(true)
                .interact()
                .map_err(prompt_error)?;
            if !proceed {
                transcript.record("aborted", json!({ "step": self.step, "title": title }));
                return Err(CeremonyError::Aborted {
                    step: title.to_owned(),
                });
            }
        }
        transcript.record("step", json!({ "step": self.step, "title": title }));
        Ok(())
    }

    /// Shows `fingerprint` of `label` grouped for reading aloud, and records
    /// every witness's acknowledgement. Interactively, each witness types their
    /// own name to confirm that the value read aloud matches.
    pub(crate) fn witness_fingerprint(
        &mut self,
        label: &str,
        fingerprint: &Fingerprint,
        transcript: &mut TranscriptWriter,
    ) -> Result<(), CeremonyError> {
        self.say(&format!("  {label} SHA-256:"));
        for line in fingerprint.to_spoken_groups().lines() {
            self.say(&format!("    {line}"));
        }
        let witnesses = self.witnesses.clone();
        for name in &witnesses {
            let method = if self.interactive {
                self.ask_witness(name, label)?;
                "typed their name"
            } else {
                "--yes run, no prompt"
            };
            transcript.record(
                "witness",
                json!({
                    "name": name,
                    "acknowledged": label,
                    "fingerprint": fingerprint.to_hex(),
                    "method": method,
                    "time": timestamp(time::OffsetDateTime::now_utc()),
                }),
            );
        }
        Ok(())
    }

    fn ask_witness(&self, name: &str, label: &str) -> Result<(), CeremonyError> {
        let expected = name.to_owned();
        let typed: String = Input::new()
            .with_prompt(format!(
                "Witness {name}: type your name to confirm the {label} fingerprint matches"
            ))
            .validate_with(move |input: &String| {
                if input.trim() == expected {
                    Ok(())
                } else {
                    Err(format!(
                        "type `{expected}` exactly, or press Ctrl-C to stop"
                    ))
                }
            })
            .interact_text()
            .map_err(prompt_error)?;
        tracing::debug!(witness = %typed.trim(), "witness acknowledged");
        Ok(())
    }
}

fn prompt_error(error: dialoguer::Error) -> CeremonyError {
    CeremonyError::Prompt(error.to_string())
}
