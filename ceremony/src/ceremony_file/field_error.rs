//! One invalid field of a ceremony file, and field paths for TOML parse errors.

use std::fmt;

/// One invalid field: its path in the file and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: String) -> Self {
        Self {
            field: field.into(),
            message,
        }
    }

    /// Converts a TOML parse error, naming the table and key from its span.
    pub(crate) fn from_toml(error: &toml::de::Error, text: &str) -> Self {
        let field = error
            .span()
            .and_then(|span| field_at(text, span.start))
            .unwrap_or_else(|| "(file)".to_owned());
        Self::new(field, error.message().trim().to_owned())
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Finds `table.key` for the key at byte `offset` of a TOML document.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?.trim();
    let key = line.split('=').next()?.trim().trim_matches('"');
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned(),
        );
    }
    Some(match table {
        Some(table) if !key.is_empty() => format!("{table}.{key}"),
        Some(table) => table,
        None => key.to_owned(),
    })
}
