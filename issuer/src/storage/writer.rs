//! The group-commit writer: one OS thread owns the only read-write connection.
//!
//! Request tasks send jobs over a channel and wait on a oneshot reply. The
//! thread blocks for one job, drains up to `batch_max - 1` more without
//! blocking, runs each inside its own SAVEPOINT of one transaction, commits
//! once and only then replies. With `synchronous=FULL` that is one fsync per
//! batch, and no reply reports a write that could still be lost.

use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::StorageError;
use super::lineage;
use super::queries::{self, CertificateRecord, CrlRecord, RevocationRecord, TokenRecord};
use crate::audit::{self, AuditChain, AuditEvent};

/// Jobs that may wait in the channel before senders have to wait for room.
const QUEUE_CAPACITY: usize = 4096;

/// A write the thread applies atomically.
#[derive(Debug)]
pub enum Job {
    /// Stores an issued certificate and, when `token_hash` is set, marks that
    /// token used by it. Either both happen or neither does.
    StoreCertificate {
        /// The certificate row.
        certificate: CertificateRecord,
        /// Hex SHA-256 of the token that authorised the certificate.
        token_hash: Option<String>,
    },
    /// Stores a new bootstrap token.
    StoreToken(TokenRecord),
    /// Stores a new bootstrap token bound to a policy profile.
    StoreTokenWithProfile {
        /// The token row.
        token: TokenRecord,
        /// The profile name.
        profile: String,
    },
    /// Stores a certificate issued under `profile`, consuming `token_hash`
    /// when set, and marks `supersedes` (a renewed certificate) superseded by
    /// it. Fails with [`WriteError::AlreadySuperseded`] when `supersedes` was
    /// renewed or revoked in the meantime.
    StoreIssued {
        /// The certificate row.
        certificate: CertificateRecord,
        /// Hex SHA-256 of the token that authorised the certificate.
        token_hash: Option<String>,
        /// The profile it was issued under.
        profile: String,
        /// Serial of the certificate this one renews.
        supersedes: Option<String>,
    },
    /// Runs `job`, then appends `events` to the audit log in the same
    /// savepoint, so the rows exist exactly when the job's changes do.
    Audited {
        /// The state change.
        job: Box<Job>,
        /// Audit rows describing it.
        events: Vec<AuditEvent>,
    },
    /// Appends one audit row and changes nothing else.
    Audit(AuditEvent),
    /// Marks an unused, unrevoked token revoked; fails with
    /// [`WriteError::TokenUnavailable`] when it was used or revoked meanwhile.
    RevokeToken {
        /// Public id of the token.
        token_id: String,
        /// Revocation time, unix seconds.
        at: i64,
    },
    /// Revokes a certificate unless it is unknown, already revoked or
    /// expired at `revocation.revoked_at`.
    Revoke(RevocationRecord),
    /// Stores a CA's new CRL unless a higher number is stored.
    StoreCrl(CrlRecord),
    /// Makes the CA with this `cas.id` the active one.
    ActivateCa(i64),
}

impl Job {
    /// Wraps `self` so that `events` are appended in the same savepoint.
    pub fn audited(self, events: Vec<AuditEvent>) -> Self {
        Self::Audited {
            job: Box::new(self),
            events,
        }
    }
}

/// Reason a job was not committed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the token was used or expired before the certificate could be stored")]
    TokenUnavailable,
    #[error("the database write failed: {0}")]
    Failed(String),
    #[error("the database writer has stopped")]
    Stopped,
    #[error("the certificate was already renewed or revoked")]
    AlreadySuperseded,
    #[error("no certificate with this serial is stored")]
    CertificateNotFound,
    #[error("the certificate was already revoked")]
    AlreadyRevoked(RevocationRecord),
    #[error("the certificate expired at unix time {0}")]
    CertificateExpired(i64),
    #[error("a CRL with the same or a higher number is already stored")]
    CrlNumberNotHigher,
}

enum Message {
    Job(Box<Job>, oneshot::Sender<Result<(), WriteError>>),
    Stop,
}

/// A cloneable handle that submits jobs to the writer thread.
#[derive(Clone, Debug)]
pub struct Writer {
    sender: mpsc::Sender<Message>,
}

/// The writer thread itself; [`WriterThread::stop`] ends it.
#[derive(Debug)]
pub struct WriterThread {
    sender: mpsc::Sender<Message>,
    handle: JoinHandle<()>,
}

/// Starts the writer thread on `connection`, committing at most `batch_max`
/// jobs per transaction. The audit chain head is read once here and then
/// kept in memory by the thread.
pub fn start(
    connection: Connection,
    batch_max: usize,
) -> Result<(Writer, WriterThread), StorageError> {
    let chain = AuditChain::load(&connection)?;
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let handle = std::thread::Builder::new()
        .name("ironroot-db-writer".to_owned())
        .spawn(move || run(connection, chain, receiver, batch_max.max(1)))
        .map_err(|error| {
            StorageError::InvalidRow(format!("cannot start the writer thread: {error}"))
        })?;
    let writer = Writer {
        sender: sender.clone(),
    };
    Ok((writer, WriterThread { sender, handle }))
}

impl Writer {
    /// Submits a job and waits until its transaction has committed.
    pub async fn submit(&self, job: Job) -> Result<(), WriteError> {
        let (reply, committed) = oneshot::channel();
        self.sender
            .send(Message::Job(Box::new(job), reply))
            .await
            .map_err(|_| WriteError::Stopped)?;
        committed.await.map_err(|_| WriteError::Stopped)?
    }
}

impl WriterThread {
    /// Asks the thread to stop after the jobs already queued and waits for it.
    /// Blocks, so call it from a blocking context.
    pub fn stop(self) {
        // A full or closed queue means the thread is busy or gone; either way
        // dropping every sender below also ends it once the queue drains.
        let _ = self.sender.try_send(Message::Stop);
        drop(self.sender);
        if self.handle.join().is_err() {
            tracing::error!("the database writer thread panicked");
        }
    }
}

fn run(
    mut connection: Connection,
    mut chain: AuditChain,
    mut receiver: mpsc::Receiver<Message>,
    batch_max: usize,
) {
    let mut batch = Vec::with_capacity(batch_max);
    let mut stopping = false;
    while !stopping {
        match receiver.blocking_recv() {
            Some(Message::Job(job, reply)) => batch.push((job, reply)),
            Some(Message::Stop) | None => break,
        }
        while batch.len() < batch_max {
            match receiver.try_recv() {
                Ok(Message::Job(job, reply)) => batch.push((job, reply)),
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        commit_batch(&mut connection, &mut chain, &mut batch);
    }
    tracing::debug!("database writer stopped");
}

type Pending = (Box<Job>, oneshot::Sender<Result<(), WriteError>>);

fn commit_batch(connection: &mut Connection, chain: &mut AuditChain, batch: &mut Vec<Pending>) {
    let size = batch.len();
    let chain_before = chain.clone();
    match apply_batch(connection, chain, batch) {
        Ok(results) => {
            for ((_, reply), result) in batch.drain(..).zip(results) {
                // The requester may have gone away; the row stays committed.
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            // Nothing of the batch was written, so the head goes back too.
            *chain = chain_before;
            tracing::error!(%error, jobs = size, "database commit failed; every job of the batch is reported as failed");
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(WriteError::Failed(error.to_string())));
            }
        }
    }
    tracing::trace!(jobs = size, "committed a batch");
}

/// Runs every job in its own savepoint and commits once. Returns each job's
/// outcome, or an error when the transaction as a whole failed.
/// Reloads the audit chain head when another connection (a command such as
/// `backup` or `activate`) committed since this connection last looked.
/// `PRAGMA data_version` changes only on such commits and reads no page, so
/// the head stays in memory in the normal case.
fn reload_chain_if_changed(
    connection: &Connection,
    chain: &mut AuditChain,
) -> Result<(), StorageError> {
    let version: i64 = connection.pragma_query_value(None, "data_version", |row| row.get(0))?;
    if version != chain.data_version {
        *chain = AuditChain::load(connection)?;
        chain.data_version = version;
    }
    Ok(())
}

fn apply_batch(
    connection: &mut Connection,
    chain: &mut AuditChain,
    batch: &[Pending],
) -> Result<Vec<Result<(), WriteError>>, StorageError> {
    let mut transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    reload_chain_if_changed(&transaction, chain)?;
    let mut results = Vec::with_capacity(batch.len());
    for (job, _) in batch {
        let savepoint = transaction.savepoint()?;
        let chain_before = chain.clone();
        let result = apply_job(&savepoint, chain, job);
        if result.is_ok() {
            savepoint.commit()?;
        } else {
            // The default drop behaviour rolls back to the savepoint and
            // releases it, which also drops any audit row the job appended.
            *chain = chain_before;
            savepoint.finish()?;
        }
        results.push(result);
    }
    transaction.commit()?;
    Ok(results)
}

fn apply_job(connection: &Connection, chain: &mut AuditChain, job: &Job) -> Result<(), WriteError> {
    let failed = |error: StorageError| WriteError::Failed(error.to_string());
    match job {
        Job::StoreCertificate {
            certificate,
            token_hash,
        } => {
            if let Some(token_hash) = token_hash {
                let consumed = queries::consume_token(
                    connection,
                    token_hash,
                    &certificate.serial,
                    certificate.issued_at,
                )
                .map_err(failed)?;
                if !consumed {
                    return Err(WriteError::TokenUnavailable);
                }
            }
            queries::insert_certificate(connection, certificate).map_err(failed)
        }
        Job::StoreToken(token) => queries::insert_token(connection, token).map_err(failed),
        Job::StoreTokenWithProfile { token, profile } => {
            queries::insert_token(connection, token).map_err(failed)?;
            lineage::set_token_profile(connection, &token.token_hash, profile).map_err(failed)
        }
        Job::StoreIssued {
            certificate,
            token_hash,
            profile,
            supersedes,
        } => store_issued(
            connection,
            certificate,
            token_hash.as_deref(),
            profile,
            supersedes.as_deref(),
        ),
        Job::Audited { job, events } => {
            apply_job(connection, chain, job)?;
            for event in events {
                audit::append(connection, chain, event).map_err(failed)?;
            }
            Ok(())
        }
        Job::Audit(event) => audit::append(connection, chain, event).map_err(failed),
        Job::RevokeToken { token_id, at } => {
            if super::admin_queries::revoke_token(connection, token_id, *at).map_err(failed)? {
                Ok(())
            } else {
                Err(WriteError::TokenUnavailable)
            }
        }
        Job::Revoke(revocation) => revoke(connection, revocation),
        Job::StoreCrl(crl) => match queries::store_crl(connection, crl).map_err(failed)? {
            true => Ok(()),
            false => Err(WriteError::CrlNumberNotHigher),
        },
        Job::ActivateCa(id) => queries::set_active_ca(connection, *id).map_err(failed),
    }
}

/// Checks and records a revocation inside the job's savepoint, so two
/// concurrent requests for one serial cannot both succeed.
fn revoke(connection: &Connection, revocation: &RevocationRecord) -> Result<(), WriteError> {
    let failed = |error: StorageError| WriteError::Failed(error.to_string());
    let status = queries::certificate_status(connection, &revocation.serial)
        .map_err(failed)?
        .ok_or(WriteError::CertificateNotFound)?;
    if let Some(existing) = status.revocation {
        return Err(WriteError::AlreadyRevoked(existing));
    }
    if status.not_after <= revocation.revoked_at {
        return Err(WriteError::CertificateExpired(status.not_after));
    }
    queries::insert_revocation(connection, revocation).map_err(failed)
}

/// Stores an issued certificate with its profile; consumes the token and
/// supersedes the renewed certificate in the same savepoint.
fn store_issued(
    connection: &Connection,
    certificate: &CertificateRecord,
    token_hash: Option<&str>,
    profile: &str,
    supersedes: Option<&str>,
) -> Result<(), WriteError> {
    let failed = |error: StorageError| WriteError::Failed(error.to_string());
    if let Some(token_hash) = token_hash {
        let consumed = queries::consume_token(
            connection,
            token_hash,
            &certificate.serial,
            certificate.issued_at,
        )
        .map_err(failed)?;
        if !consumed {
            return Err(WriteError::TokenUnavailable);
        }
    }
    queries::insert_certificate(connection, certificate).map_err(failed)?;
    lineage::set_certificate_profile(connection, &certificate.serial, profile).map_err(failed)?;
    if let Some(old_serial) = supersedes
        && !lineage::supersede(connection, old_serial, &certificate.serial).map_err(failed)?
    {
        return Err(WriteError::AlreadySuperseded);
    }
    Ok(())
}
