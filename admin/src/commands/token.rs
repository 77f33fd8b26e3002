//! `ironroot-admin token create`.

use std::path::Path;

use ironroot_client::tls::{self, ClientIdentity};
use ironroot_client::{Client, Timeouts};
use ironroot_core::api::{CreateTokenRequest, CreateTokenResponse};
use ironroot_core::{files, pemfile};
use time::format_description::well_known::Rfc3339;
use zeroize::{Zeroize, Zeroizing};

use crate::cli::{ConnectionArgs, CreateTokenArgs};
use crate::error::CliError;

/// Creates a bootstrap token. The token goes to stdout (or `--out`); its id,
/// names and expiry go to stderr.
pub(crate) async fn create(
    connection: &ConnectionArgs,
    args: &CreateTokenArgs,
) -> Result<(), CliError> {
    if let Some(out) = &args.out {
        // Checked before the request, so a token is not created only to be lost.
        if out.symlink_metadata().is_ok() {
            return Err(CliError::usage(format!("--out {} already exists", out.display()))
                .with_hint("tokens are written only to new files; choose another path or remove the old file"));
        }
    }
    let client = connect(connection).await?;
    let names: Vec<String> = args
        .dns
        .iter()
        .chain(&args.ip)
        .chain(&args.uri)
        .chain(&args.email)
        .map(ToString::to_string)
        .collect();
    let request = CreateTokenRequest {
        names,
        ttl_seconds: args.ttl,
        profile: args.profile.clone(),
    };
    let mut response = client.create_token(&request).await?;
    let result = print_token(&response, args);
    response.token.zeroize();
    result
}

/// Opens a client that verifies the server against the root and presents the
/// admin credential when one is configured.
pub(crate) async fn connect(connection: &ConnectionArgs) -> Result<Client, CliError> {
    let server = &connection.server;
    if !server.is_tls() {
        return Err(CliError::usage(format!(
            "{server} is plain HTTP, but admin requests need TLS with a client certificate"
        ))
        .with_hint("use the issuer's https:// URL"));
    }
    let identity = load_identity(connection)?;
    let timeouts = Timeouts::default();
    let root_der = match (&connection.root, &connection.root_fingerprint) {
        (Some(path), _) => read_root(path)?,
        (None, Some(fingerprint)) => {
            let root_der = tls::fetch_root_unverified(server, fingerprint, timeouts).await?;
            eprintln!("fetched root from {server}, fingerprint matches ({fingerprint})");
            root_der
        }
        (None, None) => {
            return Err(CliError::usage("the issuer's root is not configured")
                .with_hint("pass --root root.pem or --root-fingerprint SHA256"));
        }
    };
    let config = tls::verified_config(&root_der, identity)?;
    Ok(Client::new(server.clone(), Some(config), timeouts)?)
}

fn load_identity(connection: &ConnectionArgs) -> Result<Option<ClientIdentity>, CliError> {
    let (Some(cert), Some(key)) = (&connection.cert, &connection.key) else {
        return Ok(None);
    };
    ClientIdentity::load(cert, key).map(Some).map_err(|error| {
        let cli_error = CliError::usage(error.to_string());
        match error {
            ironroot_client::Error::Core(ironroot_core::Error::PermissionsTooOpen {
                ref path,
                ..
            }) => cli_error.with_hint(format!(
                "run `chmod 600 {}`: anyone who can read the admin key can create tokens as you",
                path.display()
            )),
            _ => cli_error,
        }
    })
}

fn read_root(path: &Path) -> Result<Vec<u8>, CliError> {
    let pem = files::read(path).map_err(|error| CliError::usage(error.to_string()))?;
    let description = format!("root certificate {}", path.display());
    pemfile::parse_single(&pem, pemfile::CERTIFICATE, &description)
        .map_err(|error| CliError::usage(error.to_string()))
}

fn print_token(response: &CreateTokenResponse, args: &CreateTokenArgs) -> Result<(), CliError> {
    let expires_at = response
        .expires_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| response.expires_at.to_string());
    if args.json {
        let json = serde_json::to_string_pretty(response)
            .map(Zeroizing::new)
            .map_err(|error| {
                CliError::runtime(format!("failed to encode the response as JSON: {error}"))
            })?;
        println!("{}", json.as_str());
    } else if let Some(out) = &args.out {
        let line = Zeroizing::new(format!("{}\n", response.token));
        files::write_new(out, line.as_bytes(), files::PRIVATE_FILE)?;
        eprintln!("wrote the token to {} (mode 0600)", out.display());
    } else {
        println!("{}", response.token);
    }
    eprintln!(
        "created token {} for {}; it expires at {expires_at} and works once",
        response.id,
        response.names.join(", ")
    );
    Ok(())
}
