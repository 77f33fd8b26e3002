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
use super::queries::{self, CertificateRecord, TokenRecord};

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
/// jobs per transaction.
pub fn start(
    connection: Connection,
    batch_max: usize,
) -> Result<(Writer, WriterThread), StorageError> {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let handle = std::thread::Builder::new()
        .name("ironroot-db-writer".to_owned())
        .spawn(move || run(connection, receiver, batch_max.max(1)))
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

fn run(mut connection: Connection, mut receiver: mpsc::Receiver<Message>, batch_max: usize) {
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
        commit_batch(&mut connection, &mut batch);
    }
    tracing::debug!("database writer stopped");
}

type Pending = (Box<Job>, oneshot::Sender<Result<(), WriteError>>);

fn commit_batch(connection: &mut Connection, batch: &mut Vec<Pending>) {
    let size = batch.len();
    match apply_batch(connection, batch) {
        Ok(results) => {
            for ((_, reply), result) in batch.drain(..).zip(results) {
                // The requester may have gone away; the row stays committed.
                let _ = reply.send(result);
            }
        }
        Err(error) => {
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
fn apply_batch(
    connection: &mut Connection,
    batch: &[Pending],
) -> Result<Vec<Result<(), WriteError>>, StorageError> {
    let mut transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for (job, _) in batch {
        let savepoint = transaction.savepoint()?;
        let result = apply_job(&savepoint, job);
        if result.is_ok() {
            savepoint.commit()?;
        } else {
            // The default drop behaviour rolls back to the savepoint and releases it.
            savepoint.finish()?;
        }
        results.push(result);
    }
    transaction.commit()?;
    Ok(results)
}

fn apply_job(connection: &Connection, job: &Job) -> Result<(), WriteError> {
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
    }
}
