//! A rehearsal PKI built through the real binaries in a temporary directory,
//! with helpers that drive `ironroot-admin`, `ironroot-client`, openssl and
//! curl against it, and the check that no output leaked a secret.
//!
//! Helpers that return a [`Run`] leave the exit code to the caller. The others
//! panic on failure, because a failed step is a failed test.

// Fixture code unwraps like test code, because a failure here is a failed test.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ironroot_core::cert::CertificateInfo;
use ironroot_core::files;

use crate::run::{Daemon, Run, Transcript, run};

/// Passphrase of the rehearsal root key. The secret check searches the output for it.
pub const PASSPHRASE: &str = "rehearsal passphrase for tests only";

/// `openssl req -newkey` arguments for an ECDSA P-256 key.
pub const P256: &[&str] = &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// How [`Pki::new`] builds the PKI. The names end up in the certificates and
/// the audit log.
#[derive(Clone, Copy, Debug)]
pub struct PkiOptions<'a> {
    /// `init-root --algorithm` value, such as `ecdsa-p256`.
    pub algorithm: &'a str,
    /// Common name of the root certificate.
    pub root_common_name: &'a str,
    /// File stem of the first intermediate: `offline/<stem>.pem` and `<stem>.bundle.age`.
    pub intermediate: &'a str,
    /// Common name of the first intermediate.
    pub intermediate_common_name: &'a str,
    /// Name of the admin credential, which the audit log records as the actor.
    pub admin_name: &'a str,
    /// Contents of `issuer.toml`, written before the import when set.
    pub config: Option<&'a str>,
}

/// A root in `offline/`, an issuer data directory with one imported
/// intermediate, and an admin credential in `admin/`. The daemon is not started.
pub struct Pki {
    dir: tempfile::TempDir,
    /// Output of every command run through this PKI, for the secret check.
    pub transcript: Transcript,
    /// The ceremony's directory: root certificate and key, bundles, intermediates.
    pub offline: PathBuf,
    /// The 0600 file that contains [`PASSPHRASE`].
    pub passphrase_file: PathBuf,
    /// The issuer's data directory.
    pub data_dir: PathBuf,
    /// Directory of `admin.pem` and `admin.key`.
    pub admin: PathBuf,
    /// The issuing host's age recipient, printed by `ironroot-issuer init`.
    pub recipient: String,
    /// Texts of the tokens created so far, which must not appear in any output.
    tokens: RefCell<Vec<String>>,
}

impl Pki {
    /// Runs `init-root`, `ironroot-issuer init`, writes the configuration if
    /// any, signs and imports the first intermediate, and mints the admin
    /// credential.
    pub fn new(options: &PkiOptions<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let transcript = Transcript::default();
        let offline = dir.path().join("offline");
        std::fs::create_dir(&offline).unwrap();
        let passphrase_file = offline.join("passphrase");
        files::write_replace(
            &passphrase_file,
            format!("{PASSPHRASE}\n").as_bytes(),
            files::PRIVATE_FILE,
        )
        .unwrap();

        run(
            &transcript,
            "ironroot-ceremony",
            &[
                "init-root",
                "--out-dir",
                path_str(&offline),
                "--algorithm",
                options.algorithm,
                "--common-name",
                options.root_common_name,
                "--passphrase-file",
                path_str(&passphrase_file),
            ],
        )
        .success();

        let data_dir = dir.path().join("issuer");
        let init = run(
            &transcript,
            "ironroot-issuer",
            &["init", "--data-dir", path_str(&data_dir)],
        )
        .success();
        let recipient = init.stdout.lines().last().unwrap().trim().to_owned();
        assert!(recipient.starts_with("age1"), "{}", init.stdout);

        let admin = dir.path().join("admin");
        let pki = Self {
            dir,
            transcript,
            offline,
            passphrase_file,
            data_dir,
            admin,
            recipient,
            tokens: RefCell::default(),
        };
        if let Some(config) = options.config {
            pki.write_config(config);
        }
        pki.import(options.intermediate, options.intermediate_common_name);
        run(
            &pki.transcript,
            "ironroot-issuer",
            &[
                "admin-credential",
                "--data-dir",
                path_str(&pki.data_dir),
                "--name",
                options.admin_name,
                "--out-dir",
                path_str(&pki.admin),
            ],
        )
        .success();
        pki
    }

    /// Returns the temporary directory that contains everything of this PKI.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Returns `name` inside [`Pki::dir`].
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Returns the path of the root certificate, `offline/root.pem`.
    pub fn root(&self) -> PathBuf {
        self.offline.join("root.pem")
    }

    /// Returns the root's SHA-256 fingerprint, colon-separated.
    pub fn root_fingerprint(&self) -> String {
        certificate(&self.root()).fingerprint.to_string()
    }

    /// Writes `text` to the issuer's `issuer.toml` with mode 0600.
    pub fn write_config(&self, text: &str) {
        files::write_replace(
            &self.data_dir.join("issuer.toml"),
            text.as_bytes(),
            files::PRIVATE_FILE,
        )
        .unwrap();
    }

    /// Runs `ironroot-ceremony sign-intermediate` for `recipient` into the
    /// bundle `out`. `extra` adds options such as `--common-name` or `--cert-out`.
    pub fn sign_intermediate(&self, recipient: &str, out: &Path, extra: &[&str]) -> Run {
        let root = self.root();
        let root_key = self.offline.join("root.key.age");
        let mut args = vec![
            "sign-intermediate",
            "--root-cert",
            path_str(&root),
            "--root-key",
            path_str(&root_key),
            "--passphrase-file",
            path_str(&self.passphrase_file),
            "--recipient",
            recipient,
            "--out",
            path_str(out),
        ];
        args.extend_from_slice(extra);
        run(&self.transcript, "ironroot-ceremony", &args)
    }

    /// Runs `ironroot-issuer import` of `bundle` into `data_dir`, pinned to this root.
    pub fn import_bundle(&self, data_dir: &Path, bundle: &Path) -> Run {
        run(
            &self.transcript,
            "ironroot-issuer",
            &[
                "import",
                "--data-dir",
                path_str(data_dir),
                "--root-fingerprint",
                &self.root_fingerprint(),
                path_str(bundle),
            ],
        )
    }

    /// Signs intermediate `stem` with the root and imports it into this
    /// issuer. Returns the import output and the intermediate's SHA-256 in hex.
    pub fn import(&self, stem: &str, common_name: &str) -> (Run, String) {
        let bundle = self.offline.join(format!("{stem}.bundle.age"));
        let cert = self.offline.join(format!("{stem}.pem"));
        self.sign_intermediate(
            &self.recipient,
            &bundle,
            &["--common-name", common_name, "--cert-out", path_str(&cert)],
        )
        .success();
        let output = self.import_bundle(&self.data_dir, &bundle).success();
        (output, certificate(&cert).fingerprint.to_hex())
    }

    /// Starts `ironroot-issuer serve` on this data directory.
    pub fn start_daemon(&self, extra_args: &[&str]) -> Daemon {
        Daemon::start(&self.transcript, &self.data_dir, extra_args)
    }

    /// Runs `ironroot-admin` with the admin credential against `daemon`.
    pub fn admin(&self, daemon: &Daemon, args: &[&str]) -> Run {
        self.admin_to(&self.transcript, daemon, args)
    }

    /// Runs `ironroot-admin` like [`Pki::admin`] but records the output in
    /// `transcript`, for commands that print a secret on purpose.
    pub fn admin_to(&self, transcript: &Transcript, daemon: &Daemon, args: &[&str]) -> Run {
        let root = self.root();
        let cert = self.admin.join("admin.pem");
        let key = self.admin.join("admin.key");
        let mut all = vec![
            "--server",
            &daemon.url,
            "--root",
            path_str(&root),
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
        ];
        all.extend_from_slice(args);
        run(transcript, "ironroot-admin", &all)
    }

    /// Runs `ironroot-admin token create --out OUT` for `names` (see
    /// [`name_flag`]) with `options` such as `--ttl` or `--profile`. A token
    /// that was written is remembered for [`Pki::assert_no_secrets`].
    pub fn create_token(
        &self,
        daemon: &Daemon,
        out: &Path,
        names: &[&str],
        options: &[&str],
    ) -> Run {
        let mut args = vec!["token", "create", "--out", path_str(out)];
        args.extend_from_slice(options);
        for name in names {
            args.extend([name_flag(name), name]);
        }
        let output = self.admin(daemon, &args);
        if output.code == 0 {
            let text = std::fs::read_to_string(out).unwrap();
            self.remember_token(text.trim());
        }
        output
    }

    /// Adds a token text that no output may contain.
    pub fn remember_token(&self, token: &str) {
        self.tokens.borrow_mut().push(token.to_owned());
    }

    /// Runs `ironroot-client enroll` for `names` with the token file `token`,
    /// writing `<prefix>.pem`, `<prefix>.key` and `<prefix>.chain.pem`.
    pub fn enroll(&self, daemon: &Daemon, token: &Path, prefix: &str, names: &[&str]) -> Run {
        let fingerprint = self.root_fingerprint();
        let [cert, key, chain] = self.credential_paths(prefix);
        let mut args = vec![
            "enroll",
            "--server",
            &daemon.url,
            "--root-fingerprint",
            &fingerprint,
            "--token-file",
            path_str(token),
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
            "--chain",
            path_str(&chain),
        ];
        for name in names {
            args.extend([name_flag(name), name]);
        }
        run(&self.transcript, "ironroot-client", &args)
    }

    /// Runs `ironroot-client renew` on `<prefix>.pem` and its key and chain.
    /// `extra` adds options such as `--force`.
    pub fn renew(&self, daemon: &Daemon, prefix: &str, extra: &[&str]) -> Run {
        let mut args = self.renewal_args("renew", daemon, prefix);
        args.extend(extra.iter().map(ToString::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&self.transcript, "ironroot-client", &args)
    }

    /// Starts `ironroot-client run` on `<prefix>.pem` and its key and chain,
    /// renewing at half the lifetime and backing off at most 2 s, with `extra`
    /// options. Its stderr goes to the file `log`.
    pub fn spawn_client_run(
        &self,
        daemon: &Daemon,
        prefix: &str,
        extra: &[&str],
        log: &Path,
    ) -> Child {
        Command::new(crate::binary("ironroot-client"))
            .args(self.renewal_args("run", daemon, prefix))
            .args(["--renew-at", "0.5", "--max-backoff-seconds", "2"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap()
    }

    /// Returns `ironroot-client COMMAND` arguments that name the daemon, the
    /// credential `<prefix>.*` and the root.
    fn renewal_args(&self, command: &str, daemon: &Daemon, prefix: &str) -> Vec<String> {
        let [cert, key, chain] = self.credential_paths(prefix);
        let mut args = vec![
            command.to_owned(),
            "--server".to_owned(),
            daemon.url.clone(),
        ];
        for (flag, path) in [
            ("--cert", cert),
            ("--key", key),
            ("--chain", chain),
            ("--root", self.root()),
        ] {
            args.push(flag.to_owned());
            args.push(path_str(&path).to_owned());
        }
        args
    }

    /// Returns the paths `<prefix>.pem`, `<prefix>.key` and `<prefix>.chain.pem`.
    fn credential_paths(&self, prefix: &str) -> [PathBuf; 3] {
        ["pem", "key", "chain.pem"].map(|suffix| self.path(&format!("{prefix}.{suffix}")))
    }

    /// Parses the certificate in `<prefix>.pem`.
    pub fn leaf(&self, prefix: &str) -> CertificateInfo {
        certificate(&self.path(&format!("{prefix}.pem")))
    }

    /// Opens the issuer's SQLite database.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data_dir.join("issuer.db")).unwrap()
    }

    /// Sends the CSR in `csr` to `/v1/sign` with curl and the token in the
    /// file `token`. Returns the HTTP status, the response head and the body.
    ///
    /// The request body goes to `<csr stem>.body.json`, and the token to the
    /// 0600 header file `<csr stem>.header`, so it is not on curl's command line.
    pub fn curl_sign(
        &self,
        daemon: &Daemon,
        token: &Path,
        csr: &Path,
        validity_seconds: Option<u64>,
    ) -> (u16, String, String) {
        let mut body = serde_json::json!({ "csr": std::fs::read_to_string(csr).unwrap() });
        if let Some(seconds) = validity_seconds {
            body["validity_seconds"] = serde_json::json!(seconds);
        }
        let body_path = csr.with_extension("body.json");
        std::fs::write(&body_path, body.to_string()).unwrap();
        let header_path = csr.with_extension("header");
        let token_text = std::fs::read_to_string(token).unwrap();
        files::write_replace(
            &header_path,
            format!("Authorization: Bearer {}\n", token_text.trim()).as_bytes(),
            files::PRIVATE_FILE,
        )
        .unwrap();

        let output = Command::new("curl")
            .args([
                "-sS",
                "-i",
                "--cacert",
                path_str(&self.root()),
                "-H",
                &format!("@{}", path_str(&header_path)),
                "-H",
                "content-type: application/json",
                "--data-binary",
                &format!("@{}", path_str(&body_path)),
                &format!("{}/v1/sign", daemon.url),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (status, head.to_owned(), body.to_owned())
    }

    /// Asserts that no recorded output (commands and daemon logs) contains a
    /// token, a private key, an age identity, the root passphrase or a line of
    /// a `.key` file in [`Pki::dir`] or of the admin key.
    ///
    /// The daemon records its log when it stops, so stop it first.
    pub fn assert_no_secrets(&self) {
        let all = self.transcript.text();
        assert!(!all.is_empty());
        for token in self.tokens.borrow().iter() {
            assert!(token.starts_with("irt_"), "not a token: {token}");
            assert!(!all.contains(token.as_str()), "a token was printed");
        }
        assert!(!all.contains("irt_"), "a token was printed:\n{all}");
        assert!(
            !all.contains("PRIVATE KEY"),
            "a private key was printed:\n{all}"
        );
        assert!(
            !all.contains("AGE-SECRET-KEY"),
            "an age identity was printed"
        );
        assert!(!all.contains(PASSPHRASE), "the root passphrase was printed");

        let identity = std::fs::read_to_string(self.data_dir.join("host.identity")).unwrap();
        let identity_lines: Vec<&str> = identity
            .lines()
            .filter(|line| line.starts_with("AGE-SECRET-KEY-"))
            .collect();
        assert!(!identity_lines.is_empty(), "host.identity has no identity");
        for line in identity_lines {
            assert!(!all.contains(line), "the host identity was printed");
        }

        let mut key_files = vec![self.admin.join("admin.key")];
        for entry in std::fs::read_dir(self.dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|extension| extension == "key") {
                key_files.push(path);
            }
        }
        for path in key_files {
            let pem = std::fs::read_to_string(&path).unwrap();
            // Short lines (a PEM's last line) could match by chance.
            let lines = pem
                .lines()
                .filter(|line| !line.starts_with("-----") && line.len() >= 16);
            for line in lines {
                assert!(
                    !all.contains(line),
                    "a line of {} was printed",
                    path.display()
                );
            }
        }
    }
}

/// Returns the option that `token create` and `enroll` take for `name`:
/// `--ip` for an IP address, `--email` with an `@`, `--uri` with a `:`, else `--dns`.
pub fn name_flag(name: &str) -> &'static str {
    if name.parse::<std::net::IpAddr>().is_ok() {
        "--ip"
    } else if name.contains('@') {
        "--email"
    } else if name.contains(':') {
        "--uri"
    } else {
        "--dns"
    }
}

/// Parses the PEM certificate file at `path`.
pub fn certificate(path: &Path) -> CertificateInfo {
    CertificateInfo::parse_pem(&std::fs::read(path).unwrap(), "certificate")
        .unwrap_or_else(|error| panic!("failed to parse {}: {error}", path.display()))
}

/// Returns `path` as a command-line argument. Panics unless the path is UTF-8.
pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Returns the permission bits of `path`.
pub fn file_mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Makes a key `<name>.key` and a CSR `<name>.csr` in `dir` with openssl and
/// returns the CSR's path. `key_spec` is an `openssl req -newkey` argument
/// such as [`P256`] or `rsa:2048`, `sans` the subjectAltName value and
/// `extensions` extra `-addext` values. The subject is `CN=test`.
pub fn openssl_csr(
    dir: &Path,
    name: &str,
    key_spec: &[&str],
    sans: &str,
    extensions: &[&str],
) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let mut args = vec!["req", "-new", "-nodes", "-newkey"];
    args.extend(key_spec);
    args.extend([
        "-keyout",
        path_str(&key),
        "-out",
        path_str(&csr),
        "-subj",
        "/CN=test",
    ]);
    let san = format!("subjectAltName={sans}");
    args.extend(["-addext", &san]);
    for extension in extensions {
        args.extend(["-addext", extension]);
    }
    let output = Command::new("openssl").args(&args).output().unwrap();
    assert!(
        output.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    csr
}
