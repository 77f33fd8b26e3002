//! Tokens and CSRs made before a level starts, so the measurement covers
//! issuance only.

use anyhow::Context;
use ironroot_client::{Client, keys};
use ironroot_core::api::CreateTokenRequest;
use ironroot_core::names::SubjectName;

/// One sign request: a bootstrap token and a CSR for the name it allows.
pub(crate) struct Job {
    pub(crate) token: String,
    pub(crate) csr_pem: String,
}

/// Creates `count` tokens through the admin API and one CSR per token, each
/// for its own name under `bench.internal`. Tokens live for one hour.
pub(crate) async fn jobs(admin: &Client, level: usize, count: usize) -> anyhow::Result<Vec<Job>> {
    let names: Vec<String> = (0..count)
        .map(|index| format!("load-{level}-{index}.bench.internal"))
        .collect();
    let csr_names = names.clone();
    let csrs = tokio::task::spawn_blocking(move || csrs_for(&csr_names))
        .await
        .context("CSR generation panicked")??;

    let mut tokens = Vec::with_capacity(count);
    for name in &names {
        let request = CreateTokenRequest {
            names: vec![name.clone()],
            ttl_seconds: Some(3600),
            profile: None,
        };
        let response = admin
            .create_token(&request)
            .await
            .with_context(|| format!("failed to create a token for {name}"))?;
        tokens.push(response.token);
    }
    Ok(tokens
        .into_iter()
        .zip(csrs)
        .map(|(token, csr_pem)| Job { token, csr_pem })
        .collect())
}

fn csrs_for(names: &[String]) -> anyhow::Result<Vec<String>> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = names.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = names
            .chunks(chunk)
            .map(|part| scope.spawn(move || csrs_for_chunk(part)))
            .collect();
        let mut csrs = Vec::with_capacity(names.len());
        for worker in workers {
            let part = worker
                .join()
                .map_err(|_| anyhow::anyhow!("a CSR generation thread panicked"))??;
            csrs.extend(part);
        }
        Ok(csrs)
    })
}

fn csrs_for_chunk(names: &[String]) -> anyhow::Result<Vec<String>> {
    names
        .iter()
        .map(|name| {
            let key = keys::generate_key()?;
            Ok(keys::build_csr(&key, &[SubjectName::parse(name)?])?)
        })
        .collect()
}
