//! Markdown rendering of a transcript for the ceremony binder.

use std::fmt::Write;

use serde_json::Value;

use super::{Entry, SIGNATURE_TYPE, Verified};
use crate::error::CeremonyError;

/// Renders `text` (already verified as `verified`) as Markdown.
pub(crate) fn render(text: &str, verified: &Verified) -> Result<String, CeremonyError> {
    let mut out = String::new();
    let mut entries = Vec::new();
    for line in text.lines() {
        let entry: Entry = serde_json::from_str(line)
            .map_err(|error| CeremonyError::Ceremony(format!("transcript entry: {error}")))?;
        entries.push(entry);
    }
    let title = entries
        .first()
        .and_then(|entry| entry.data.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("ceremony");
    let _ = writeln!(out, "# Ceremony transcript: {title}\n");
    let _ = writeln!(
        out,
        "The hash chain of {} entries and the signature verified. Signer public key ({}) SHA-256:\n\n`{}`\n",
        verified.entries, verified.signer_algorithm, verified.signer_public_key_sha256
    );
    let _ = writeln!(out, "| seq | time (UTC) | type | details |");
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for entry in &entries {
        let details = if entry.kind == SIGNATURE_TYPE {
            format!(
                "digest `{}`",
                entry
                    .data
                    .get("digest")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )
        } else {
            details(&entry.data)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            entry.seq, entry.at, entry.kind, details
        );
    }
    let _ = writeln!(out, "\n## Signatures of those present\n");
    for name in witness_names(&entries) {
        let _ = writeln!(out, "- {}: ______________________________", escape(name));
    }
    Ok(out)
}

/// Returns each witness once, in the order of the `witnesses` list of the
/// `ceremony-start` entry and then of their first acknowledgement.
fn witness_names(entries: &[Entry]) -> Vec<&str> {
    let listed = entries
        .iter()
        .filter(|entry| entry.kind == "ceremony-start")
        .filter_map(|entry| entry.data.get("witnesses").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str);
    let acknowledged = entries
        .iter()
        .filter(|entry| entry.kind == "witness")
        .filter_map(|entry| entry.data.get("name").and_then(Value::as_str));
    let mut names: Vec<&str> = Vec::new();
    for name in listed.chain(acknowledged) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Formats an entry's data as `key: value` pairs on one table cell.
fn details(data: &Value) -> String {
    match data {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| format!("**{key}**: {}", cell(value)))
            .collect::<Vec<_>>()
            .join("<br>"),
        other => cell(other),
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(text) => escape(text).replace('\n', "<br>"),
        Value::Null => "none".to_owned(),
        other => escape(&other.to_string()),
    }
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}
