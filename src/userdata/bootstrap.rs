//! The default user-data's body: pick this instance's `bundle-bootstrap` by architecture, download
//! it, refuse it unless its sha256 is pinned, and run it with a command line its own parser has
//! accepted here already.

use std::fmt::Write as _;

use crate::shell::quote as q;

use super::pins::{Pins, url_word};
use super::{PassFrom, Units, UserdataError, UserdataOptions, decrypt_flags, units};

/// One word of the rendered `bundle-bootstrap run` line: how the script writes it, and the value
/// it has on the instance (what the parser checks).
pub(super) struct Word {
    /// The shell text.
    pub shell: String,
    /// Its value once the shell has expanded it.
    pub value: String,
}

impl Word {
    /// A literal, quoted for the shell as needed.
    pub fn lit(value: impl Into<String>) -> Word {
        let value = value.into();
        Word {
            shell: q(&value),
            value,
        }
    }

    /// A word the shell expands (`"$STATE"`), and what it expands to.
    pub fn var(shell: &str, value: impl Into<String>) -> Word {
        Word {
            shell: shell.to_string(),
            value: value.into(),
        }
    }
}

pub(super) fn body(s: &mut String, o: &UserdataOptions) -> Result<(), UserdataError> {
    let url = o.bootstrap_url.as_deref().ok_or_else(|| {
        UserdataError::Missing("--bootstrap-url is required (or --shell-only)".into())
    })?;
    let pins = Pins::check(url, &o.bootstrap_pins)?;
    let mut run = vec![
        Word::var("\"$BUNDLE_URL\"", &o.url),
        Word::lit("--state-dir"),
        Word::var("\"$STATE\"", &o.state_dir),
    ];
    run.extend(pass_args(&o.pass_from));
    run.extend(decrypt_flags(&o.params).into_iter().map(Word::lit));
    if let Some(sha) = &o.sha256 {
        run.extend([Word::lit("--sha256"), Word::lit(sha)]);
    }
    for (k, v) in &o.env {
        run.extend([Word::lit("--env"), Word::lit(format!("{k}={v}"))]);
    }
    run.extend(o.extra_args.iter().map(Word::lit));
    // Rendered into a scratch string first: the line is checked before the script is written.
    let mut later = String::new();
    run.extend(units::pass_for_later_boots(&mut later, o));
    let values: Vec<String> = run.iter().map(|w| w.value.clone()).collect();
    crate::cli::check_run_line(&values).map_err(UserdataError::RunFlags)?;

    // Before anything is downloaded: this architecture's pin, or a stop that names it.
    pins.render(s);
    let _ = writeln!(s, "INSTALL_DIR={}", q(&o.install_dir));
    let _ = writeln!(s, "mkdir -p \"$INSTALL_DIR\"");
    let _ = writeln!(s, "tmp=$(mktemp \"$INSTALL_DIR/.bundle-bootstrap.XXXXXX\")");
    let _ = writeln!(s, "say \"downloading bundle-bootstrap\"");
    let _ = writeln!(s, "fetch {} \"$tmp\"", url_word(url));
    let _ = writeln!(
        s,
        "sha256_is \"$tmp\" \"$BOOTSTRAP_SHA256\" || {{ rm -f \"$tmp\"; exit 1; }}"
    );
    let _ = writeln!(
        s,
        "chmod 0755 \"$tmp\" && mv -f \"$tmp\" \"$INSTALL_DIR/bundle-bootstrap\""
    );
    s.push_str(&later);
    let words: Vec<&str> = run.iter().map(|w| w.shell.as_str()).collect();
    let _ = writeln!(s, "say \"running bundle-bootstrap\"");
    let _ = writeln!(s, "BOOT_OUT=$(mktemp \"$STATE/.bootstrap-output.XXXXXX\")");
    let _ = writeln!(
        s,
        "\"$INSTALL_DIR/bundle-bootstrap\" run {} 2>&1 | tee \"$BOOT_OUT\"",
        words.join(" ")
    );
    units::install_units(s, o);
    if o.units != Units::Skip {
        // Something was printed after the summary: print it again.
        let _ = writeln!(s, "tail -n 1 \"$BOOT_OUT\"");
    }
    Ok(())
}

/// The bootstrap variant ends the console with bundle-bootstrap's one-line summary, whatever
/// happens after it: its output (stdout and stderr, in order, through one pipe) is copied to a
/// root-only file in the state folder, and when the script fails after bundle-bootstrap ran —
/// bundle-bootstrap itself failed, or installing the units did — the ERR trap prints its own
/// `FAILED at line N` first, then that file's last line: the summary. The copy goes when the
/// script ends. (Re-reading the summary from `status.json` instead could show an older run's:
/// a run that stops on its flags or its lock records nothing.)
pub(super) fn summary_last(s: &mut String) {
    let _ = writeln!(
        s,
        "# bundle-bootstrap's output is copied here, so that its last line, the boot's summary, can be printed last."
    );
    let _ = writeln!(s, "BOOT_OUT=\"\"");
    let _ = writeln!(
        s,
        "trap 'say \"FAILED at line $LINENO (exit $?); see $LOG\"; if [ -s \"$BOOT_OUT\" ]; then tail -n 1 \"$BOOT_OUT\"; fi' ERR"
    );
    let _ = writeln!(
        s,
        "trap 'if [ -n \"$BOOT_OUT\" ]; then rm -f \"$BOOT_OUT\"; fi' EXIT"
    );
}

/// `--pass SPEC` for bundle-bootstrap: every source it reads itself (not an inline passphrase,
/// which the script exports as `BUNDLE_PASSPHRASE`).
fn pass_args(pass_from: &PassFrom) -> Vec<Word> {
    let spec = match pass_from {
        PassFrom::Ssm(name) => format!("ssm:{name}"),
        PassFrom::SecretsManager(id) => format!("secretsmanager:{id}"),
        PassFrom::File(path) => format!("file:{}", path.display()),
        PassFrom::Inline(_) => return Vec::new(),
    };
    vec![Word::lit("--pass"), Word::lit(spec)]
}
