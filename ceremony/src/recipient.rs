//! The issuing host's age recipient, from the command line or a file.

use ironroot_core::agefile;
use ironroot_core::files;

use crate::cli::RecipientArgs;
use crate::error::CeremonyError;

/// Parses the recipient given with `--recipient` or `--recipient-file`. A file may
/// hold `#` comment lines and blank lines around the one `age1...` line.
pub(crate) fn resolve(args: &RecipientArgs) -> Result<age::x25519::Recipient, CeremonyError> {
    if let Some(value) = &args.recipient {
        return agefile::parse_recipient(value).map_err(CeremonyError::InvalidRecipient);
    }
    // clap's argument group already requires one of the two flags.
    let Some(path) = &args.recipient_file else {
        return Err(CeremonyError::RecipientMissing);
    };
    let bytes = files::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .ok_or_else(|| CeremonyError::RecipientFileEmpty { path: path.clone() })?;
    agefile::parse_recipient(line).map_err(|source| CeremonyError::InvalidRecipientFile {
        path: path.clone(),
        source,
    })
}
