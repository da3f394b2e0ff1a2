//! What the user-data does for the boots after the first: the passphrase where the saved
//! configuration can name it, and `bundle-bootstrap install` once the first run succeeded.

use std::fmt::Write as _;

use super::bootstrap::Word;
use super::{PassFrom, UserdataOptions};

/// What the script installs after the first successful run (Bootstrap variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// `--no-units`: nothing; later boots apply nothing unless something else runs
    /// `bundle-bootstrap run`.
    Skip,
    /// `bundle-bootstrap install`: `startup-bundle.service` re-applies at every later boot.
    Boot,
    /// `bundle-bootstrap install --watch INTERVAL`: also `startup-bundle-watch.service`.
    BootAndWatch(std::time::Duration),
}

/// Where the passphrase is read from by later boots, which have no user-data: `run` saves its
/// `--pass` in the saved configuration when the source outlives the boot. `file:`, `ssm:` and
/// `secretsmanager:` do (bundle-bootstrap reads them itself, see `pass_args`); an inline
/// passphrase is kept, when the units are installed, in a root-only file beside the saved
/// configuration (`$BUNDLE_BOOTSTRAP_CONFIG`'s folder, else `/etc/startup-bundle/`): cloud-init
/// keeps the user-data root-only on the same disk already. Returns the extra `--pass` arguments
/// for `run`, if any.
pub(super) fn pass_for_later_boots(s: &mut String, o: &UserdataOptions) -> Vec<Word> {
    let spec = match (&o.pass_from, o.units) {
        (PassFrom::File(_) | PassFrom::Ssm(_) | PassFrom::SecretsManager(_), _) => {
            return Vec::new();
        }
        (_, Units::Skip) => return Vec::new(),
        (PassFrom::Inline(_), _) => {
            let _ = writeln!(
                s,
                "# Later boots (the systemd units) read the passphrase from a root-only file, as the saved configuration says."
            );
            let _ = writeln!(
                s,
                "PASS_FILE=\"$(dirname \"${{BUNDLE_BOOTSTRAP_CONFIG:-{}}}\")/passphrase\"",
                crate::boot::config::DEFAULT_CONFIG
            );
            let _ = writeln!(s, "mkdir -p \"$(dirname \"$PASS_FILE\")\"");
            let _ = writeln!(
                s,
                "printf '%s\\n' \"$BUNDLE_PASSPHRASE\" > \"$PASS_FILE.new\" && mv -f \"$PASS_FILE.new\" \"$PASS_FILE\""
            );
            // What the parser checks: the file where the configuration is by default.
            let default_dir = std::path::Path::new(crate::boot::config::DEFAULT_CONFIG)
                .parent()
                .unwrap_or(std::path::Path::new("/"));
            Word::var(
                "\"file:$PASS_FILE\"",
                format!("file:{}", default_dir.join("passphrase").display()),
            )
        }
    };
    let _ = writeln!(s, "unset BUNDLE_PASSPHRASE");
    vec![Word::lit("--pass"), spec]
}

/// After the first successful run (`set -e` stops the script before, on failure): the units.
pub(super) fn install_units(s: &mut String, o: &UserdataOptions) {
    let watch = match o.units {
        Units::Skip => return,
        Units::Boot => String::new(),
        Units::BootAndWatch(every) => format!(" --watch {}", crate::cli::Dur(every)),
    };
    let _ = writeln!(
        s,
        "say \"installing the systemd units: every later boot applies the bundle again\""
    );
    let _ = writeln!(s, "\"$INSTALL_DIR/bundle-bootstrap\" install{watch}");
}
