//! Complete validation of a ceremony file. Every check runs before any key is
//! generated or unlocked, and all failures are collected so one run lists them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ironroot_core::crl::RevocationReason;
use ironroot_core::profile::{self, Subject, Validity};

use super::input_files::{self, InputFile};
use super::rules::{
    CA_ALGORITHMS, check_ca_algorithm, custody_problems, extension_problems, parse_serial,
};
use super::{CeremonySpec, ExtensionsSpec, FieldError, Kind, Loaded, share_file_name};
use crate::validity;

/// Options of `run` that change what is valid.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options {
    pub(crate) yes: bool,
    pub(crate) dry_run: bool,
    pub(crate) allow_long_validity: bool,
    /// `--passphrase-file` was given, so passphrases need no file in the ceremony file.
    pub(crate) passphrase_override: bool,
}

/// Validates the whole ceremony file and returns every problem found.
pub(crate) fn validate(loaded: &Loaded, options: Options) -> Vec<FieldError> {
    let mut v = Validator {
        loaded,
        options,
        errors: Vec::new(),
        outputs: HashSet::new(),
    };
    v.check();
    v.errors
}

struct Validator<'a> {
    loaded: &'a Loaded,
    options: Options,
    errors: Vec<FieldError>,
    outputs: HashSet<PathBuf>,
}

impl<'a> Validator<'a> {
    fn spec(&self) -> &'a CeremonySpec {
        &self.loaded.spec
    }

    fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message.into()));
    }

    /// Checks an input file that the ceremony reads, as `kind` describes.
    fn check_file(&mut self, field: impl Into<String>, path: &Path, kind: InputFile) {
        let resolved = self.loaded.resolve(path);
        if let Some(problem) = input_files::problem(&resolved, kind) {
            self.error(field, problem);
        }
    }

    fn check(&mut self) {
        self.check_id();
        if self.spec().description.trim().is_empty() {
            self.error("description", "is empty; say what the ceremony is for");
        }
        self.check_key();
        self.check_subject();
        self.check_validity();
        self.check_extensions();
        self.check_inputs();
        self.check_outputs();
        self.check_custody();
        self.check_unlock();
        self.check_crl();
        self.check_rollover();
        self.check_witnesses();
        self.check_signer();
    }

    fn check_id(&mut self) {
        let id = &self.spec().id;
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            self.error(
                "id",
                format!(
                    "`{id}` is invalid; use 1 to 64 characters of A-Z, a-z, 0-9, `-`, `_`, `.`"
                ),
            );
        }
    }

    fn check_key(&mut self) {
        let kind = self.spec().kind;
        let generates = matches!(kind, Kind::Root | Kind::Intermediate | Kind::RootRollover);
        match (&self.spec().key, generates) {
            (None, true) => self.error(
                "key.algorithm",
                format!(
                    "is missing; kind `{}` generates a key: use one of {CA_ALGORITHMS}",
                    kind.name()
                ),
            ),
            (Some(_), false) => self.error(
                "key",
                format!(
                    "must be absent for kind `{}`, which generates no key",
                    kind.name()
                ),
            ),
            (Some(key), true) => {
                if let Err(message) = check_ca_algorithm(&key.algorithm) {
                    self.error("key.algorithm", message);
                }
            }
            (None, false) => {}
        }
    }

    fn check_subject(&mut self) {
        let kind = self.spec().kind;
        let needed = kind != Kind::Crl;
        match (&self.spec().subject, needed) {
            (None, true) => self.error(
                "subject.common_name",
                format!(
                    "is missing; kind `{}` names its new certificate",
                    kind.name()
                ),
            ),
            (Some(_), false) => self.error("subject", "must be absent for kind `crl`"),
            (Some(subject), true) => {
                let subject = Subject {
                    common_name: subject.common_name.clone(),
                    organization: subject.organization.clone(),
                    organizational_unit: subject.organizational_unit.clone(),
                    country: subject.country.clone(),
                };
                if let Err(error) = subject.validate() {
                    self.error("subject", error.to_string());
                }
            }
            (None, false) => {}
        }
    }

    fn check_validity(&mut self) {
        let kind = self.spec().kind;
        let limit = match kind {
            Kind::Root | Kind::RootRollover => Some(&validity::ROOT),
            Kind::Intermediate | Kind::IntermediateFromCsr => Some(&validity::INTERMEDIATE),
            Kind::Crl => None,
        };
        match (&self.spec().validity, limit) {
            (None, Some(limit)) => self.error(
                "validity.days",
                format!("is missing; give 1 to {} days", limit.max_days),
            ),
            (Some(_), None) => self.error(
                "validity",
                "must be absent for kind `crl`; use crl.next_update_days",
            ),
            (Some(validity), Some(limit)) => {
                if let Some(message) = lifetime_problem(validity.days, limit, self.options) {
                    self.error("validity.days", message);
                }
            }
            (None, None) => {}
        }
    }

    fn check_extensions(&mut self) {
        let kind = self.spec().kind;
        let Some(extensions) = &self.spec().extensions else {
            return;
        };
        if !matches!(kind, Kind::Intermediate | Kind::IntermediateFromCsr) {
            self.error(
                "extensions",
                format!(
                    "must be absent for kind `{}`; only intermediates carry extensions",
                    kind.name()
                ),
            );
            return;
        }
        let problems = extension_problems(extensions);
        if !problems.is_empty() {
            self.errors.extend(problems);
            return;
        }
        // The profile builder applies the core library's own rules (such as URI
        // constraint syntax), so its errors surface here before any key is touched.
        let built = ExtensionsSpec::to_options(Some(extensions)).and_then(|options| {
            let validity =
                Validity::starting_at(time::OffsetDateTime::now_utc(), time::Duration::days(1))?;
            profile::intermediate_with(&Subject::common_name("validation"), validity, &options)?;
            Ok(())
        });
        if let Err(error) = built {
            self.error("extensions", error.to_string());
        }
    }

    fn check_inputs(&mut self) {
        let kind = self.spec().kind;
        let inputs = &self.spec().inputs;
        let wants_root = kind.unlocks_root();
        let wants_csr = kind == Kind::IntermediateFromCsr;
        let wants_recipient = matches!(kind, Kind::Intermediate | Kind::IntermediateFromCsr);
        let fields = [
            ("inputs.root_cert", inputs.root_cert.clone(), wants_root),
            ("inputs.root_key", inputs.root_key.clone(), wants_root),
            ("inputs.csr", inputs.csr.clone(), wants_csr),
            (
                "inputs.recipient_file",
                inputs.recipient_file.clone(),
                false,
            ),
        ];
        for (field, value, wanted) in fields {
            self.check_input_file(field, value.as_deref(), wanted);
        }
        let has_recipient = inputs.recipient.is_some() || inputs.recipient_file.is_some();
        if wants_recipient && !has_recipient {
            self.error(
                "inputs.recipient",
                "is missing; give the issuing host's `age1...` recipient or inputs.recipient_file",
            );
        }
        if inputs.recipient.is_some() && inputs.recipient_file.is_some() {
            self.error(
                "inputs.recipient",
                "and inputs.recipient_file are both set; give one",
            );
        }
        if !wants_recipient && has_recipient {
            self.error(
                "inputs.recipient",
                format!(
                    "must be absent for kind `{}`, which writes no bundle",
                    kind.name()
                ),
            );
        }
        if let Some(recipient) = &inputs.recipient
            && let Err(error) = ironroot_core::agefile::parse_recipient(recipient)
        {
            self.error("inputs.recipient", error.to_string());
        }
    }

    /// Checks one input path: present when `wanted` (or optional when the
    /// field is `recipient_file`), absent otherwise, and readable.
    fn check_input_file(&mut self, field: &str, value: Option<&Path>, wanted: bool) {
        let kind = self.spec().kind.name();
        let optional = field == "inputs.recipient_file";
        match value {
            None if wanted => {
                self.error(field, format!("is missing; kind `{kind}` reads this file"))
            }
            None => {}
            Some(_) if !wanted && !optional => {
                self.error(field, format!("must be absent for kind `{kind}`"));
            }
            Some(path) => {
                let resolved = self.loaded.resolve(path);
                // A dry run replaces missing root material with throwaway files.
                let may_be_missing = self.options.dry_run && field != "inputs.recipient_file";
                if may_be_missing && std::fs::symlink_metadata(&resolved).is_err() {
                    return;
                }
                self.check_file(field, path, InputFile::Public);
            }
        }
    }

    fn check_outputs(&mut self) {
        let kind = self.spec().kind;
        let outputs = &self.spec().outputs;
        let shares = self
            .spec()
            .custody
            .as_ref()
            .is_some_and(|custody| custody.mode == "shares");
        let table = [
            (
                "outputs.certificate",
                outputs.certificate.clone(),
                required_certificate(kind),
            ),
            (
                "outputs.key",
                outputs.key.clone(),
                Need::from(kind.creates_root()),
            ),
            (
                "outputs.shares_dir",
                outputs.shares_dir.clone(),
                Need::from(kind.creates_root() && shares),
            ),
            (
                "outputs.bundle",
                outputs.bundle.clone(),
                Need::from(matches!(
                    kind,
                    Kind::Intermediate | Kind::IntermediateFromCsr
                )),
            ),
            (
                "outputs.crl",
                outputs.crl.clone(),
                Need::from(kind == Kind::Crl),
            ),
            (
                "outputs.cross_new_by_old",
                outputs.cross_new_by_old.clone(),
                Need::from(kind == Kind::RootRollover),
            ),
            (
                "outputs.cross_old_by_new",
                outputs.cross_old_by_new.clone(),
                Need::from(kind == Kind::RootRollover),
            ),
        ];
        for (field, value, need) in table {
            self.check_output(field, value.as_deref(), need);
        }
        let transcript = self.spec().transcript.clone();
        self.check_output("transcript", Some(&transcript), Need::Required);
    }

    fn check_output(&mut self, field: &str, value: Option<&Path>, need: Need) {
        let kind = self.spec().kind.name();
        let Some(path) = value else {
            if need == Need::Required {
                self.error(field, format!("is missing; kind `{kind}` writes this file"));
            }
            return;
        };
        if need == Need::Absent {
            self.error(field, format!("must be absent for kind `{kind}`"));
            return;
        }
        let resolved = self.loaded.resolve(path);
        if field == "outputs.shares_dir" {
            if !self.options.dry_run && !resolved.is_dir() {
                self.error(
                    field,
                    format!(
                        "'{}' is not an existing directory; create it first",
                        resolved.display()
                    ),
                );
            }
            self.check_share_files(&resolved);
            return;
        }
        self.check_new_path(field, resolved);
    }

    /// Checks the share files that mode `shares` creates in `dir`, one per
    /// custodian, under the names the ceremony step gives them.
    fn check_share_files(&mut self, dir: &Path) {
        let Some(custody) = &self.spec().custody else {
            return;
        };
        // A missing directory is reported once, not once per share file.
        if custody.mode != "shares" || (!self.options.dry_run && !dir.is_dir()) {
            return;
        }
        let id = &self.spec().id;
        for (offset, custodian) in custody.custodians.iter().enumerate() {
            let index = offset + 1;
            let path = dir.join(share_file_name(id, index, &custodian.name));
            self.check_new_path(&format!("outputs.shares_dir[{index}]"), path);
        }
    }

    /// Checks that an output path is named once and, outside a dry run, that
    /// its directory exists and the file does not.
    fn check_new_path(&mut self, field: &str, resolved: PathBuf) {
        let parent = resolved
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !self.options.dry_run && !parent.is_dir() {
            self.error(
                field,
                format!(
                    "the directory '{}' does not exist; create it first",
                    parent.display()
                ),
            );
        }
        if !self.outputs.insert(resolved.clone()) {
            self.error(
                field,
                format!(
                    "'{}' is also named by another output; give each output its own path",
                    resolved.display()
                ),
            );
        }
        // The dry run writes into a scratch directory, so existing files do not matter.
        if !self.options.dry_run && std::fs::symlink_metadata(&resolved).is_ok() {
            self.error(
                field,
                format!(
                    "'{}' already exists; the ceremony never overwrites files, so choose a new path or move the old file away",
                    resolved.display()
                ),
            );
        }
    }

    fn check_custody(&mut self) {
        let kind = self.spec().kind;
        match (&self.spec().custody, kind.creates_root()) {
            (None, true) => self.error(
                "custody.mode",
                format!("is missing; kind `{}` creates a root key: use passphrase, recipients or shares", kind.name()),
            ),
            (Some(_), false) => self.error(
                "custody",
                format!("must be absent for kind `{}`, which creates no root key; use [unlock]", kind.name()),
            ),
            (Some(custody), true) => {
                let problems = custody_problems(custody, self.loaded, self.options);
                self.errors.extend(problems);
            }
            (None, false) => {}
        }
    }

    fn check_unlock(&mut self) {
        let kind = self.spec().kind;
        let Some(unlock) = &self.spec().unlock else {
            let needed = kind.unlocks_root()
                && self.options.yes
                && !self.options.dry_run
                && !self.options.passphrase_override;
            if needed {
                self.error(
                    "unlock",
                    "is missing; --yes runs need unlock.passphrase_file, unlock.identity_files or unlock.share_files (or --passphrase-file)",
                );
            }
            return;
        };
        if !kind.unlocks_root() {
            self.error(
                "unlock",
                "must be absent for kind `root`, which unlocks no key",
            );
            return;
        }
        let methods = usize::from(unlock.passphrase_file.is_some())
            + usize::from(!unlock.identity_files.is_empty())
            + usize::from(!unlock.share_files.is_empty());
        if methods > 1 {
            self.error(
                "unlock",
                "names more than one method; give one of passphrase_file, identity_files, share_files",
            );
        }
        if !unlock.share_files.is_empty()
            && unlock.share_secret_files.len() != unlock.share_files.len()
        {
            self.error(
                "unlock.share_secret_files",
                format!(
                    "has {} entries for {} share files; give one identity or passphrase file per share",
                    unlock.share_secret_files.len(),
                    unlock.share_files.len()
                ),
            );
        }
        let mut files: Vec<(String, PathBuf, InputFile)> = Vec::new();
        files.extend(unlock.passphrase_file.iter().map(|p| {
            (
                "unlock.passphrase_file".to_owned(),
                p.clone(),
                InputFile::ExistingPassphrase,
            )
        }));
        for (list, name, kind) in [
            (&unlock.identity_files, "identity_files", InputFile::Secret),
            (&unlock.share_files, "share_files", InputFile::Public),
            // An age identity or a passphrase, so only the rules both share apply.
            (
                &unlock.share_secret_files,
                "share_secret_files",
                InputFile::Secret,
            ),
        ] {
            files.extend(
                list.iter()
                    .enumerate()
                    .map(|(i, p)| (format!("unlock.{name}[{i}]"), p.clone(), kind)),
            );
        }
        // A dry run never unlocks the real root key, so it reads none of these.
        if self.options.dry_run {
            return;
        }
        for (field, path, kind) in files {
            self.check_file(field, &path, kind);
        }
    }

    fn check_crl(&mut self) {
        let kind = self.spec().kind;
        match (&self.spec().crl, kind == Kind::Crl) {
            (None, true) => self.error(
                "crl",
                "is missing; kind `crl` needs number, next_update_days and revoked",
            ),
            (Some(_), false) => {
                self.error("crl", format!("must be absent for kind `{}`", kind.name()))
            }
            (Some(crl), true) => {
                if crl.next_update_days == 0 || crl.next_update_days > 366 {
                    self.error(
                        "crl.next_update_days",
                        format!("is {}; allowed: 1 to 366", crl.next_update_days),
                    );
                }
                if crl.revoked.is_empty() {
                    self.error(
                        "crl.revoked",
                        "is empty; name at least one intermediate to revoke",
                    );
                }
                let mut seen = HashSet::new();
                for (index, entry) in crl.revoked.iter().enumerate() {
                    match parse_serial(&entry.serial) {
                        Ok(serial) => {
                            if !seen.insert(serial) {
                                self.error(
                                    format!("crl.revoked[{index}].serial"),
                                    "is listed twice",
                                );
                            }
                        }
                        Err(message) => self.error(format!("crl.revoked[{index}].serial"), message),
                    }
                    if let Err(message) = entry.reason.parse::<RevocationReason>() {
                        self.error(format!("crl.revoked[{index}].reason"), message);
                    }
                }
            }
            (None, false) => {}
        }
    }

    fn check_rollover(&mut self) {
        let kind = self.spec().kind;
        match (&self.spec().rollover, kind == Kind::RootRollover) {
            (None, true) => self.error(
                "rollover.cross_validity_days",
                "is missing; kind `root-rollover` cross-signs both roots",
            ),
            (Some(_), false) => self.error(
                "rollover",
                format!("must be absent for kind `{}`", kind.name()),
            ),
            (Some(rollover), true) => {
                let days = rollover.cross_validity_days;
                if let Some(message) = lifetime_problem(days, &validity::ROOT, self.options) {
                    self.error("rollover.cross_validity_days", message);
                }
            }
            (None, false) => {}
        }
    }

    fn check_witnesses(&mut self) {
        let mut seen = HashSet::new();
        let names = self.spec().witnesses.clone();
        for (index, name) in names.iter().enumerate() {
            if name.trim().is_empty() || name.trim() != name {
                self.error(
                    format!("witnesses[{index}]"),
                    format!("`{name}` is invalid; give a name without leading or trailing spaces"),
                );
            } else if !seen.insert(name.to_lowercase()) {
                self.error(
                    format!("witnesses[{index}]"),
                    format!("`{name}` is listed twice"),
                );
            }
        }
    }

    fn check_signer(&mut self) {
        let Some(signer) = &self.spec().signer else {
            return;
        };
        let mut files = vec![
            ("signer.key", signer.key.clone(), InputFile::Public),
            (
                "signer.passphrase_file",
                signer.passphrase_file.clone(),
                InputFile::ExistingPassphrase,
            ),
        ];
        files.extend(
            signer
                .certificate
                .iter()
                .map(|p| ("signer.certificate", p.clone(), InputFile::Public)),
        );
        for (field, path, kind) in files {
            self.check_file(field, &path, kind);
        }
    }
}

/// Whether a field must be present, may be present or must be absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Required,
    Optional,
    Absent,
}

impl From<bool> for Need {
    fn from(required: bool) -> Self {
        if required {
            Self::Required
        } else {
            Self::Absent
        }
    }
}

fn required_certificate(kind: Kind) -> Need {
    match kind {
        Kind::Root | Kind::RootRollover => Need::Required,
        Kind::Intermediate | Kind::IntermediateFromCsr => Need::Optional,
        Kind::Crl => Need::Absent,
    }
}

/// Maximum lifetime, even with `--allow-long-validity`: 100 years, far beyond
/// any CA policy and well inside the dates X.509 can encode.
const ABSOLUTE_MAX_DAYS: u32 = 36_525;

/// Checks a lifetime in days against `limit`; `--allow-long-validity` lifts the
/// maximum up to [`ABSOLUTE_MAX_DAYS`].
fn lifetime_problem(days: u32, limit: &validity::Limit, options: Options) -> Option<String> {
    if days == 0 {
        return Some(format!("is 0; allowed: 1 to {} days", limit.max_days));
    }
    if days > ABSOLUTE_MAX_DAYS {
        return Some(format!(
            "is {days}, above {ABSOLUTE_MAX_DAYS} days (100 years), which no override allows"
        ));
    }
    if days > limit.max_days && !options.allow_long_validity {
        return Some(format!(
            "is {days}, above the maximum of {} days ({} years) for {}; choose fewer days, or pass --allow-long-validity if your certificate policy allows it",
            limit.max_days, limit.years, limit.kind
        ));
    }
    None
}
