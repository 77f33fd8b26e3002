//! Running IronRoot's binaries in tests, keeping everything they print so a
//! test can search the whole run's output for leaked secrets.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything the binaries of one test printed, on stdout and stderr.
#[derive(Clone, Default)]
pub struct Transcript(Arc<Mutex<String>>);

impl Transcript {
    /// Appends text under a heading that names the command.
    pub fn record(&self, heading: &str, text: &str) {
        let mut all = self.0.lock().expect("transcript lock is never poisoned");
        all.push_str("### ");
        all.push_str(heading);
        all.push('\n');
        all.push_str(text);
        all.push('\n');
    }

    /// Returns everything recorded so far.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .expect("transcript lock is never poisoned")
            .clone()
    }
}

/// The result of one command: exit code, stdout and stderr as text.
#[derive(Debug)]
pub struct Run {
    /// Exit code, or -1 when a signal ended the process.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics with the command's output unless it exited with 0.
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the command exited with `code`; returns it for more checks.
    pub fn failure(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless stderr contains every one of `fragments`. Returns the run
    /// for more checks.
    pub fn expect_stderr(self, fragments: &[&str]) -> Self {
        for fragment in fragments {
            assert!(
                self.stderr.contains(fragment),
                "`{fragment}` is missing from stderr:\n{}",
                self.stderr
            );
        }
        self
    }
}

/// Runs a workspace binary with `args` and records its output in `transcript`.
pub fn run(transcript: &Transcript, binary: &str, args: &[&str]) -> Run {
    let output: Output = Command::new(crate::binary(binary))
        .args(args)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("failed to start {binary}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    transcript.record(
        &format!("{binary} {}", args.join(" ")),
        &format!("{stdout}{stderr}"),
    );
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

/// An `ironroot-issuer serve` process on a loopback port. Dropping it stops the
/// daemon; [`Daemon::stop`] also records its log.
pub struct Daemon {
    child: Option<Child>,
    log_path: PathBuf,
    transcript: Transcript,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
}

impl Daemon {
    /// Starts the daemon on a free port with debug logging and waits until it accepts connections.
    pub fn start(transcript: &Transcript, data_dir: &Path, extra_args: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log_path = data_dir.with_extension("daemon.log");
        let log = std::fs::File::create(&log_path).expect("daemon log file can be created");
        let child = Command::new(crate::binary("ironroot-issuer"))
            .args([
                "serve",
                "--data-dir",
                &data_dir.to_string_lossy(),
                "--listen",
                &listen,
            ])
            .args(extra_args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle clones"))
            .stderr(log)
            .spawn()
            .expect("ironroot-issuer starts");
        let mut daemon = Self {
            child: Some(child),
            log_path,
            transcript: transcript.clone(),
            url: format!("https://{listen}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&listen).is_err() {
            if let Some(child) = daemon.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("the daemon exited with {status}:\n{}", daemon.log());
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not listen within 30 s:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    /// Returns the daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends SIGTERM, waits for a clean exit and records the log. Returns the exit code.
    pub fn stop(mut self) -> i32 {
        self.terminate()
    }

    fn terminate(&mut self) -> i32 {
        let Some(mut child) = self.child.take() else {
            return 0;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break -1;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.transcript.record("ironroot-issuer serve", &self.log());
        code
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("an ephemeral port on 127.0.0.1 is available")
}
