//! The `--shell-only` user-data's body: no `bundle-bootstrap`, only `curl`, `openssl`, `tar` and
//! Python. `bundle.json` is read with Python's `json` module, not with patterns tied to how serde
//! lays it out: cloud-init is written in Python, so every image that runs user-data has one
//! (`python3` on Amazon Linux 2023, Ubuntu, Debian, RHEL 9; `/usr/libexec/platform-python` on
//! RHEL 8; `python2` on Amazon Linux 2), while `jq` is on none of them by default. Init records are
//! keyed and written as `bundle-bootstrap` does ([`crate::state::InitRecords`]), so moving an
//! instance between the two kinds of user-data runs no `init` again.
//!
//! What it cannot do it refuses when rendering: follow a signed `.latest` pointer, read `s3://`,
//! or honour any `bundle-bootstrap run` flag.

use std::fmt::Write as _;

use crate::enc::Kdf;
use crate::personality::MANIFEST_FORMAT;
use crate::shell::quote as q;

use super::{UserdataError, UserdataOptions};

/// The interpreters tried, in order, for reading `bundle.json`: see the module's doc.
const PYTHONS: &[&str] = &[
    "python3",
    "/usr/libexec/platform-python",
    "python2",
    "python",
];

/// Reads `bundle.json` (argv 1) and the init records (folder argv 2), and prints a bash snippet
/// that sets the bundle's facts and, per module in run order, its name, digest, scripts, record
/// file and whether its init is due, and a `settings_N` function exporting its settings (its own,
/// then the bundle's). Exits 4 on a manifest it cannot trust. Python 2.7 and 3.
const MANIFEST_READER: &str = r#"from __future__ import unicode_literals
import io, json, re, sys
MAX_FORMAT = @MAX_FORMAT@
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
text = type("")
def fail(why):
    sys.stderr.write("startup-bundle: bundle.json: " + why + "\n")
    sys.exit(4)
def q(s):
    return "'" + s.replace("'", "'\\''") + "'"
def safe(s):
    return re.sub(r"[^A-Za-z0-9._+-]", "_", s)
def settings(table, owner):
    if not isinstance(table, dict):
        fail("the settings of " + owner + " are not a table")
    out = []
    for k in sorted(table):
        v = table[k]
        if not KEY.match(k) or k.startswith("BUNDLE_") or not isinstance(v, text) or "\0" in v:
            fail("the setting " + q(k) + " of " + owner + " cannot be exported")
        out.append("export " + k + "=" + q(v) + ";")
    return out
try:
    with io.open(sys.argv[1], encoding="utf-8") as f:
        m = json.load(f)
except (IOError, OSError, ValueError) as e:
    fail("not readable JSON (%s)" % e)
if not isinstance(m, dict):
    fail("not a manifest")
fmt = m.get("format")
if not isinstance(fmt, int) or fmt < 1:
    fail("no format number")
if fmt > MAX_FORMAT:
    fail("format %d is newer than this user-data reads (%d): render it again with the bundle that packed it" % (fmt, MAX_FORMAT))
name, version, modules = m.get("name"), m.get("version"), m.get("modules")
if not isinstance(name, text) or not isinstance(version, text) or not isinstance(modules, list) or not modules:
    fail("no name, version or modules")
common = settings(m.get("env", {}), "the bundle")
lines = ["BUNDLE_NAME=" + q(name), "BUNDLE_VERSION=" + q(version)]
cols = dict((k, []) for k in ("modules", "digests", "starts", "inits", "records", "due"))
for i, mod in enumerate(modules):
    if not isinstance(mod, dict):
        fail("a module is not a table")
    mname, digest, start, init = mod.get("name"), mod.get("digest"), mod.get("start"), mod.get("init")
    if not isinstance(mname, text) or not NAME.match(mname):
        fail("a module has no valid name")
    if not isinstance(digest, text) or not DIGEST.match(digest):
        fail("module " + mname + " has no sha256 digest")
    if start not in ("start", "start.sh") or init not in (None, "init", "init.sh"):
        fail("module " + mname + " names scripts other than start and init")
    record = sys.argv[2] + "/" + safe(mname) + "@" + safe(digest)
    due = init is not None
    try:
        with io.open(record, encoding="utf-8", errors="replace") as f:
            due = due and not f.read(4096).startswith("module=" + mname + "\ndigest=" + digest + "\n")
    except (IOError, OSError):
        pass
    for k, v in (("modules", mname), ("digests", digest), ("starts", start), ("inits", init or ""), ("records", record), ("due", "1" if due else "0")):
        cols[k].append(v)
    lines.append("settings_%d() { %s :; }" % (i, " ".join(settings(mod.get("env", {}), mname) + common)))
for k in sorted(cols):
    lines.append(k + "=(" + " ".join(q(v) for v in cols[k]) + ")")
getattr(sys.stdout, "buffer", sys.stdout).write(("\n".join(lines) + "\n").encode("utf-8"))
"#;

/// Refuses, before rendering, what a script without `bundle-bootstrap` cannot do.
pub(super) fn refuse_what_it_cannot_do(o: &UserdataOptions) -> Result<(), UserdataError> {
    if o.bootstrap_url.is_some() || !o.bootstrap_pins.is_empty() {
        return Err(UserdataError::ShellOnly(
            "--shell-only downloads no bundle-bootstrap: --bootstrap-url, --bootstrap-sha256 and \
             --bootstrap-file are for the default user-data"
                .into(),
        ));
    }
    if crate::pointer::is_pointer(&o.url) {
        return Err(UserdataError::ShellOnly(format!(
            "--shell-only cannot follow the release pointer {}: following one means checking its \
             minisign signature, which only bundle-bootstrap does; give a release's own URL \
             (NAME/SHA256.bundle, which `bundle releases --from DEST` lists) to pin that release",
            o.url
        )));
    }
    if o.url.starts_with("s3://") {
        return Err(UserdataError::ShellOnly(format!(
            "--shell-only downloads with curl, which cannot read {}: give an https:// URL, or let \
             bundle-bootstrap read s3:// with the instance role",
            o.url
        )));
    }
    let mut line = vec![o.url.clone()];
    line.extend(o.extra_args.iter().cloned());
    let given = crate::cli::check_run_line(&line).map_err(UserdataError::RunFlags)?;
    if !given.is_empty() {
        return Err(UserdataError::ShellOnly(format!(
            "--shell-only cannot honour {} after --: those are bundle-bootstrap run's flags, and \
             this script runs no bundle-bootstrap",
            given.join(", ")
        )));
    }
    Ok(())
}

pub(super) fn body(s: &mut String, o: &UserdataOptions) {
    let flags = match o.params.kdf {
        Kdf::Pbkdf2 { iterations } => format!(
            "-{} -pbkdf2 -iter {iterations} -md {}",
            o.params.cipher, o.params.digest
        ),
        Kdf::Legacy => format!("-{} -md {}", o.params.cipher, o.params.digest),
    };
    let _ = writeln!(s, "work=$(mktemp -d \"$STATE/boot.XXXXXX\")");
    let _ = writeln!(s, "trap 'rm -rf \"$work\"' EXIT");
    let _ = writeln!(s, "say \"downloading the bundle\"");
    let _ = writeln!(s, "fetch \"$BUNDLE_URL\" \"$work/bundle\"");
    if let Some(sha) = &o.sha256 {
        let _ = writeln!(s, "sha256_is \"$work/bundle\" {}", q(sha));
    }
    let _ = writeln!(
        s,
        "armour=\"\"; [ \"$(head -c 8 \"$work/bundle\")\" = Salted__ ] || armour=-a"
    );
    let _ = writeln!(
        s,
        "# shellcheck disable=SC2086 # $armour is empty or one flag"
    );
    let _ = writeln!(
        s,
        "openssl enc -d {flags} $armour -pass env:BUNDLE_PASSPHRASE -in \"$work/bundle\" -out \"$work/payload\" \\"
    );
    let _ = writeln!(
        s,
        "  || {{ say \"decryption failed: wrong passphrase or parameters, or a damaged file\"; exit 3; }}"
    );
    let _ = writeln!(s, "unset BUNDLE_PASSPHRASE");
    let _ = writeln!(s, "mkdir \"$work/x\"");
    let _ = writeln!(
        s,
        "# GNU tar detects gzip or zstd itself; no absolute names, no owners from the archive."
    );
    let _ = writeln!(
        s,
        "tar -C \"$work/x\" -xf \"$work/payload\" --no-same-owner --no-same-permissions || {{ say \"the bundle is not a readable archive\"; exit 4; }}"
    );
    let _ = writeln!(s, "rm -f \"$work/bundle\" \"$work/payload\"");
    let _ = writeln!(s, "root=\"$work/x/start-up-bundle\"");
    let _ = writeln!(s, "manifest=\"$root/bundle.json\"");
    let _ = writeln!(
        s,
        "[ -f \"$manifest\" ] || {{ say \"no start-up-bundle/bundle.json: pack the bundle with bundle pack\"; exit 4; }}"
    );
    read_manifest(s);
    run_modules(s, o);
}

/// The script lines that find a Python and read the manifest into `$work/plan.sh`, then source it.
fn read_manifest(s: &mut String) {
    let _ = writeln!(
        s,
        "# bundle.json is read with Python's json module: cloud-init runs on Python, so every image has one."
    );
    let _ = writeln!(s, "py=\"\"");
    let _ = writeln!(
        s,
        "for candidate in {}; do command -v \"$candidate\" >/dev/null && {{ py=$candidate; break; }}; done",
        PYTHONS.join(" ")
    );
    let _ = writeln!(
        s,
        "[ -n \"$py\" ] || {{ say \"no Python on this image to read bundle.json with: use the default user-data, which runs bundle-bootstrap\"; exit 1; }}"
    );
    let _ = writeln!(s, "mkdir -p \"$STATE/init\"");
    let _ = writeln!(
        s,
        "\"$py\" - \"$manifest\" \"$STATE/init\" > \"$work/plan.sh\" <<'PY' || {{ say \"cannot run the bundle's manifest (above)\"; exit 4; }}"
    );
    s.push_str(&MANIFEST_READER.replace("@MAX_FORMAT@", &MANIFEST_FORMAT.to_string()));
    let _ = writeln!(s, "PY");
    let _ = writeln!(
        s,
        "modules=(); digests=(); starts=(); inits=(); records=(); due=(); BUNDLE_NAME=\"\"; BUNDLE_VERSION=\"\""
    );
    let _ = writeln!(s, "# shellcheck source=/dev/null");
    let _ = writeln!(s, ". \"$work/plan.sh\"");
}

/// The script lines that run every due init, recording it as `bundle-bootstrap` does, then every
/// start; the first failure stops the script (exit 5).
fn run_modules(s: &mut String, o: &UserdataOptions) {
    let _ = writeln!(
        s,
        "export BUNDLE_NAME BUNDLE_VERSION BUNDLE_ROOT=\"$root\" BUNDLE_STATE_DIR=\"$STATE\""
    );
    let exports: String = o
        .env
        .iter()
        .map(|(k, v)| format!(" export {k}={};", q(v)))
        .collect();
    let _ = writeln!(s, "# --env: over the bundle's settings.");
    let _ = writeln!(s, "user_env() {{{exports} :; }}");
    let _ = writeln!(s, "run_script() {{ # index, phase, script");
    let _ = writeln!(s, "  local m=${{modules[$1]}} status=0");
    let _ = writeln!(s, "  say \"$m: $2\"");
    let _ = writeln!(
        s,
        "  (\"settings_$1\"; user_env; cd \"$root/$m\" && export BUNDLE_MODULE=\"$m\" BUNDLE_PHASE=\"$2\" \\"
    );
    let _ = writeln!(
        s,
        "    && if [ -x \"$3\" ]; then exec \"./$3\"; else exec bash \"./$3\"; fi) || status=$?"
    );
    let _ = writeln!(
        s,
        "  [ \"$status\" = 0 ] || {{ say \"module $m failed: $2 exited with status $status; later modules not run\"; exit 5; }}"
    );
    let _ = writeln!(s, "}}");
    let _ = writeln!(
        s,
        "# Init records as bundle-bootstrap keeps them: STATE/init/MODULE@sha256_HEX, written once init succeeded."
    );
    let _ = writeln!(s, "RUN_ID=\"$(date -u +%Y%m%dT%H%M%SZ)-$$\"");
    let _ = writeln!(s, "for i in \"${{!modules[@]}}\"; do");
    let _ = writeln!(s, "  [ \"${{due[$i]}}\" = 1 ] || continue");
    let _ = writeln!(s, "  run_script \"$i\" init \"${{inits[$i]}}\"");
    let _ = writeln!(
        s,
        "  printf 'module=%s\\ndigest=%s\\nrun=%s\\nfinished=%s\\n' \"${{modules[$i]}}\" \"${{digests[$i]}}\" \"$RUN_ID\" \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" > \"${{records[$i]}}.new\""
    );
    let _ = writeln!(s, "  mv -f \"${{records[$i]}}.new\" \"${{records[$i]}}\"");
    let _ = writeln!(s, "done");
    let _ = writeln!(
        s,
        "for i in \"${{!modules[@]}}\"; do run_script \"$i\" start \"${{starts[$i]}}\"; done"
    );
    let _ = writeln!(
        s,
        "say \"ok: $BUNDLE_NAME $BUNDLE_VERSION: ${{#modules[@]}} modules started\""
    );
}
