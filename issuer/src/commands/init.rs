//! `ironroot-issuer init`: creates the data directory, the host's age identity
//! and an empty database.

use age::secrecy::ExposeSecret;
use ironroot_core::files::{self, PRIVATE_FILE, PUBLIC_FILE};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::datadir::DataDir;
use crate::error::Error;
use crate::storage;

/// Initialises `data_dir`. An existing identity is kept, never replaced, and
/// its recipient is printed again. The recipient is always the last line of stdout.
pub fn run(data_dir: &DataDir) -> Result<(), Error> {
    files::create_private_dir(data_dir.root())?;
    let existed = data_dir.identity_path().exists();
    let recipient = if existed {
        let recipient = data_dir.recipient()?;
        println!(
            "{} is already initialised; keeping its identity",
            data_dir.root().display()
        );
        recipient
    } else {
        create_identity(data_dir)?
    };
    files::create_private_dir(&data_dir.intermediates_dir())?;
    storage::open_read_write(&data_dir.database_path())?;
    if !existed {
        tracing::info!(data_dir = %data_dir.root().display(), recipient = %recipient, "data directory initialised");
    }
    println!(
        "give this recipient to the ceremony (`recipient` in its ceremony file, or sign-intermediate --recipient):"
    );
    println!("{recipient}");
    Ok(())
}

fn create_identity(data_dir: &DataDir) -> Result<String, Error> {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret = identity.to_string();
    let created = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let text = Zeroizing::new(format!(
        "# IronRoot issuing host identity, created {created}\n# recipient: {recipient}\n{}\n",
        secret.expose_secret()
    ));
    files::write_new(&data_dir.identity_path(), text.as_bytes(), PRIVATE_FILE)?;
    files::write_replace(
        &data_dir.recipient_path(),
        format!("{recipient}\n").as_bytes(),
        PUBLIC_FILE,
    )?;
    Ok(recipient)
}
