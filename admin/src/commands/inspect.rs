//! Read-only admin commands and token revocation: `token list`, `token
//! revoke`, `cert list`, `cert show`, `status`, `audit show`, `audit verify`.
//! Human tables by default, `--json` for scripts.

use ironroot_core::admin_api::{
    ADMIN_AUDIT_PATH, ADMIN_AUDIT_VERIFY_PATH, ADMIN_CERTIFICATE_PREFIX, ADMIN_CERTIFICATES_PATH,
    ADMIN_STATUS_PATH, ADMIN_TOKEN_PREFIX, ADMIN_TOKENS_PATH, AuditList, AuditVerifyResponse,
    CertificateDetail, CertificateList, REVOKE_SUFFIX, RevokeTokenResponse, StatusResponse,
    TokenList, TokenSummary,
};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::token::connect;
use crate::cli::{
    AuditShowArgs, ConnectionArgs, JsonArgs, ListCertsArgs, ListTokensArgs, RevokeTokenArgs,
    ShowCertArgs,
};
use crate::error::CliError;

pub(crate) async fn list_tokens(
    connection: &ConnectionArgs,
    args: &ListTokensArgs,
) -> Result<(), CliError> {
    let mut query = Query::default();
    query.push("state", args.state.as_deref());
    query.page(args.page.limit, args.page.offset);
    let client = connect(connection).await?;
    let list: TokenList = client.get_json(&query.url(ADMIN_TOKENS_PATH)).await?;
    if args.json {
        return print_json(&list);
    }
    let rows = list.tokens.iter().map(token_row).collect();
    print_table(
        &[
            "ID", "STATE", "NAMES", "PROFILE", "CREATED", "EXPIRES", "BY",
        ],
        rows,
    );
    print_next(list.next_offset);
    Ok(())
}

fn token_row(token: &TokenSummary) -> Vec<String> {
    vec![
        token.id.clone(),
        token.state.clone(),
        token.names.join(","),
        token.profile.clone().unwrap_or_else(|| "-".to_owned()),
        format_time(token.created_at),
        format_time(token.expires_at),
        token.created_by.clone(),
    ]
}

pub(crate) async fn revoke_token(
    connection: &ConnectionArgs,
    args: &RevokeTokenArgs,
) -> Result<(), CliError> {
    if args.id.is_empty()
        || !args
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(CliError::usage(format!(
            "`{}` is not a token id; ids look like tok_0123456789abcdef",
            args.id
        )));
    }
    let client = connect(connection).await?;
    let path = format!("{ADMIN_TOKEN_PREFIX}{}{REVOKE_SUFFIX}", args.id);
    let response: RevokeTokenResponse = client.post_json::<(), _>(&path, None).await?;
    if args.json {
        return print_json(&response);
    }
    println!(
        "revoked token {} ({}); it can no longer be used",
        response.token.id,
        response.token.names.join(", ")
    );
    Ok(())
}

pub(crate) async fn list_certs(
    connection: &ConnectionArgs,
    args: &ListCertsArgs,
) -> Result<(), CliError> {
    let mut query = Query::default();
    query.push("serial", args.serial.as_deref());
    query.push("name", args.name.as_deref());
    query.push("name_contains", args.name_contains.as_deref());
    query.push("profile", args.profile.as_deref());
    query.push("expiring_before", args.expiring_before.as_deref());
    query.push("status", args.status.as_deref());
    query.push("kind", args.kind.as_deref());
    query.page(args.page.limit, args.page.offset);
    let client = connect(connection).await?;
    let list: CertificateList = client.get_json(&query.url(ADMIN_CERTIFICATES_PATH)).await?;
    if args.json {
        return print_json(&list);
    }
    let rows = list
        .certificates
        .iter()
        .map(|certificate| {
            vec![
                certificate.serial.clone(),
                certificate.status.clone(),
                certificate.kind.clone(),
                certificate.names.join(","),
                certificate
                    .profile
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                format_time(certificate.not_after),
            ]
        })
        .collect();
    print_table(
        &["SERIAL", "STATUS", "KIND", "NAMES", "PROFILE", "NOT AFTER"],
        rows,
    );
    print_next(list.next_offset);
    Ok(())
}

pub(crate) async fn show_cert(
    connection: &ConnectionArgs,
    args: &ShowCertArgs,
) -> Result<(), CliError> {
    let serial = args.serial.replace(':', "").to_ascii_lowercase();
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::usage(format!(
            "`{}` is not a hex serial number",
            args.serial
        )));
    }
    let client = connect(connection).await?;
    let detail: CertificateDetail = client
        .get_json(&format!("{ADMIN_CERTIFICATE_PREFIX}{serial}"))
        .await?;
    if args.json {
        return print_json(&detail);
    }
    if args.pem {
        print!("{}", detail.pem);
        return Ok(());
    }
    let summary = &detail.summary;
    let optional = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    println!("serial:        {}", summary.serial);
    println!("status:        {}", summary.status);
    println!("subject:       {}", summary.subject);
    println!("issuer:        {}", detail.issuer);
    println!("names:         {}", summary.names.join(", "));
    println!("not before:    {}", format_time(summary.not_before));
    println!("not after:     {}", format_time(summary.not_after));
    println!("kind:          {}", summary.kind);
    println!("profile:       {}", optional(&summary.profile));
    println!("sha256:        {}", summary.sha256);
    println!("issued at:     {}", format_time(summary.issued_at));
    println!("token:         {}", optional(&summary.token_id));
    println!("request id:    {}", optional(&detail.request_id));
    if let Some(next) = &detail.superseded_by {
        println!("superseded by: {next}");
    }
    if let Some(revoked_at) = detail.revoked_at {
        let code = detail.revocation_reason.unwrap_or(0);
        println!(
            "revoked at:    {} (reason {}, code {code})",
            format_time(revoked_at),
            reason_name(code)
        );
    }
    print!("{}", detail.pem);
    Ok(())
}

/// Returns the RFC 5280 CRLReason name of `code`, as `revoke --reason` takes it.
fn reason_name(code: i64) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unknown",
    }
}

pub(crate) async fn status(connection: &ConnectionArgs, args: &JsonArgs) -> Result<(), CliError> {
    let client = connect(connection).await?;
    let status: StatusResponse = client.get_json(ADMIN_STATUS_PATH).await?;
    if args.json {
        return print_json(&status);
    }
    println!("intermediates:");
    let rows = status
        .intermediates
        .iter()
        .map(|ca| {
            vec![
                if ca.active { "*" } else { "" }.to_owned(),
                ca.subject.clone(),
                ca.sha256.clone(),
                ca.not_after
                    .format(&Rfc3339)
                    .unwrap_or_else(|_| ca.not_after.to_string()),
                ca.days_left.to_string(),
                ca.expiry_warning.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "ACTIVE",
            "SUBJECT",
            "SHA-256",
            "NOT AFTER",
            "DAYS",
            "WARNING",
        ],
        rows,
    );
    for ca in &status.intermediates {
        if let Some(warning) = &ca.expiry_warning {
            eprintln!("warning: intermediate `{}` {warning}", ca.subject);
        }
    }
    println!();
    println!("certificates:");
    for (state, count) in &status.certificates {
        println!("  {state:<11} {count}");
    }
    println!("tokens active: {}", status.tokens_active);
    println!("audit rows:    {}", status.audit_rows);
    Ok(())
}

pub(crate) async fn audit_show(
    connection: &ConnectionArgs,
    args: &AuditShowArgs,
) -> Result<(), CliError> {
    let mut query = Query::default();
    query.push("limit", Some(&args.limit.to_string()));
    query.push("before", args.before.map(|seq| seq.to_string()).as_deref());
    let client = connect(connection).await?;
    let list: AuditList = client.get_json(&query.url(ADMIN_AUDIT_PATH)).await?;
    if args.json {
        return print_json(&list);
    }
    let rows = list
        .entries
        .iter()
        .map(|entry| {
            vec![
                entry.seq.to_string(),
                format_time(entry.at),
                entry.action.clone(),
                entry.actor.clone(),
                entry.details.to_string(),
            ]
        })
        .collect();
    print_table(&["SEQ", "AT", "ACTION", "ACTOR", "DETAILS"], rows);
    Ok(())
}

pub(crate) async fn audit_verify(
    connection: &ConnectionArgs,
    args: &JsonArgs,
) -> Result<(), CliError> {
    let client = connect(connection).await?;
    let result: AuditVerifyResponse = client.get_json(ADMIN_AUDIT_VERIFY_PATH).await?;
    if args.json {
        print_json(&result)?;
    }
    match &result.broken {
        None => {
            if !args.json {
                println!(
                    "audit chain valid: {} rows, head seq {} hash {}",
                    result.rows, result.head_seq, result.head_hash
                );
            }
            Ok(())
        }
        Some(broken) => Err(CliError::runtime(format!(
            "the audit log is broken at row {} ({}): {}",
            broken.seq, broken.problem, broken.message
        ))
        .with_hint(
            "every row before it verified; compare the database with a backup to see what changed",
        )),
    }
}

/// Query string builder with percent-encoding of values.
#[derive(Default)]
struct Query {
    pairs: Vec<(&'static str, String)>,
}

impl Query {
    fn push(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.pairs.push((key, encode(value)));
        }
    }

    fn page(&mut self, limit: u32, offset: u32) {
        self.pairs.push(("limit", limit.to_string()));
        if offset > 0 {
            self.pairs.push(("offset", offset.to_string()));
        }
    }

    fn url(&self, path: &str) -> String {
        if self.pairs.is_empty() {
            return path.to_owned();
        }
        let query: Vec<String> = self
            .pairs
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        format!("{path}?{}", query.join("&"))
    }
}

fn encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn format_time(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|error| {
        CliError::runtime(format!("failed to encode the response as JSON: {error}"))
    })?;
    println!("{text}");
    Ok(())
}

fn print_next(next_offset: Option<u32>) {
    if let Some(offset) = next_offset {
        eprintln!("more rows follow; repeat with --offset {offset}");
    }
}

/// Prints left-aligned columns separated by two spaces.
fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|header| (*header).to_owned()).collect());
    if rows.is_empty() {
        println!("(none)");
    }
    for row in rows {
        line(row);
    }
}
