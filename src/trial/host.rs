//! What a `bundle try` run is about to do to this host, said before anything runs: which modules
//! run and where each comes from, as which user, and the lines of their `start`/`init` scripts that
//! install packages, start services or add users.
//!
//! A reading of the scripts' text, not a sandbox: it names what it finds, and a run as root or a run
//! of library modules asks first whatever it finds (a script can change the host in ways no reading
//! sees). Reads module folders only; runs nothing, knows no terminal: the caller asks.

use std::fs;
use std::path::Path;

use crate::personality::{Module, Origin};

/// At most this many found lines are shown per module.
const SHOWN_PER_MODULE: usize = 4;
/// A found line is shown cut to this many characters.
const SHOWN_LINE: usize = 100;
/// A script larger than this is not read (it is still run; the run asks first anyway when it
/// comes from a library or runs as root).
const MAX_SCRIPT: u64 = 1024 * 1024;

/// Package managers whose `install` (or `add`) installs packages.
const PACKAGE_MANAGERS: &[(&str, &str)] = &[
    ("apt-get", "install"),
    ("apt", "install"),
    ("dnf", "install"),
    ("yum", "install"),
    ("zypper", "install"),
    ("apk", "add"),
    ("pip", "install"),
    ("pip3", "install"),
    ("gem", "install"),
];
/// Commands that install packages by themselves (the standard library's `pkg_install`).
const PACKAGE_COMMANDS: &[&str] = &["pkg_install", "cpanm"];
/// `systemctl` verbs that start or enable a service.
const SYSTEMCTL_VERBS: &[&str] = &["start", "restart", "reload", "enable", "reenable"];
/// Commands that start or enable a service by themselves (the standard library's helpers).
const SERVICE_COMMANDS: &[&str] = &["service_enable_start", "service_restart", "service_enable"];
/// `service NAME VERB` verbs that start a service.
const SERVICE_VERBS: &[&str] = &["start", "restart", "reload"];
/// Commands that add or change users and groups.
const USER_COMMANDS: &[&str] = &["useradd", "usermod", "groupadd", "adduser", "addgroup"];

/// A kind of change to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Installs packages (apt-get, dnf, yum, `pkg_install`…).
    Packages,
    /// Starts or enables a service (systemctl, `service_enable_start`…).
    Services,
    /// Adds or changes users and groups.
    Users,
}

impl Change {
    /// What it does, as a verb phrase.
    pub fn describe(self) -> &'static str {
        match self {
            Change::Packages => "installs packages",
            Change::Services => "starts services",
            Change::Users => "adds users",
        }
    }
}

/// One script line that changes the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it changes.
    pub change: Change,
    /// The script's file name (`start`, `init.sh`).
    pub script: String,
    /// Its line number (of the first line, for a line continued with `\`).
    pub line: usize,
    /// The line, trimmed and made printable.
    pub text: String,
}

/// One module that will run.
#[derive(Debug, Clone)]
pub struct ModuleNote {
    /// Its name.
    pub name: String,
    /// Where it comes from.
    pub origin: Origin,
    /// The lines of its scripts that change the host, in script then line order.
    pub found: Vec<Finding>,
}

impl ModuleNote {
    /// The kinds of change its scripts make, each once, in [`Change`] order.
    pub fn changes(&self) -> Vec<Change> {
        let mut kinds: Vec<Change> = self.found.iter().map(|f| f.change).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }
}

/// Who runs the scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAs {
    /// Root: every script may change anything.
    Root,
    /// Another user (its uid).
    User(u32),
}

impl RunAs {
    /// The effective user of this process.
    pub fn current() -> RunAs {
        let uid = rustix::process::geteuid();
        if uid.is_root() {
            RunAs::Root
        } else {
            RunAs::User(uid.as_raw())
        }
    }
}

/// What the run is about to do to this host.
#[derive(Debug, Clone)]
pub struct HostChanges {
    /// Who runs the scripts.
    pub run_as: RunAs,
    /// The modules, in run order.
    pub modules: Vec<ModuleNote>,
}

impl HostChanges {
    /// Reads the scripts of `modules` (in run order) for a run as `run_as`.
    pub fn scan(modules: &[Module], run_as: RunAs) -> HostChanges {
        let modules = modules
            .iter()
            .map(|m| ModuleNote {
                name: m.name.clone(),
                origin: m.origin.clone(),
                found: std::iter::once(&m.start)
                    .chain(m.init.as_ref())
                    .flat_map(|script| scan_file(&m.dir.join(script), script))
                    .collect(),
            })
            .collect();
        HostChanges { run_as, modules }
    }

    /// Whether the run must be agreed to first: it runs as root, runs library modules, or its
    /// scripts were seen changing the host.
    pub fn needs_consent(&self) -> bool {
        !self.reasons().is_empty()
    }

    /// Why it must be agreed to, shortly (empty when it need not be).
    pub fn reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.run_as == RunAs::Root {
            reasons.push("it runs as root".to_string());
        }
        let library: Vec<&str> = self
            .modules
            .iter()
            .filter(|m| m.origin != Origin::Local)
            .map(|m| m.name.as_str())
            .collect();
        if !library.is_empty() {
            reasons.push(format!("it runs library modules ({})", library.join(", ")));
        }
        for change in [Change::Packages, Change::Services, Change::Users] {
            let by: Vec<&str> = self
                .modules
                .iter()
                .filter(|m| m.changes().contains(&change))
                .map(|m| m.name.as_str())
                .collect();
            if !by.is_empty() {
                reasons.push(format!("{} ({})", change.describe(), by.join(", ")));
            }
        }
        reasons
    }

    /// The announcement, one line each: who runs what, from where, and what it was seen changing.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        lines.push(match self.run_as {
            RunAs::Root => "runs these modules as root, so any of their scripts may change anything on this host:".to_string(),
            RunAs::User(uid) => format!("runs these modules as uid {uid}:"),
        });
        for m in &self.modules {
            let changes = m.changes();
            let what = if changes.is_empty() {
                "nothing seen that installs packages, starts services or adds users".to_string()
            } else {
                changes
                    .iter()
                    .map(|c| c.describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            lines.push(format!("  {} ({}): {what}", m.name, m.origin.describe()));
            for f in m.found.iter().take(SHOWN_PER_MODULE) {
                lines.push(format!("    {}:{}: {}", f.script, f.line, f.text));
            }
            if m.found.len() > SHOWN_PER_MODULE {
                lines.push(format!(
                    "    … and {} more such lines",
                    m.found.len() - SHOWN_PER_MODULE
                ));
            }
        }
        lines
    }
}

/// The findings of one script file; an unreadable or huge one has none (it is still announced as
/// a module, and the checks before packing have read it already).
fn scan_file(path: &Path, script: &str) -> Vec<Finding> {
    match fs::metadata(path) {
        Ok(m) if m.len() <= MAX_SCRIPT => {}
        _ => return Vec::new(),
    }
    match fs::read(path) {
        Ok(bytes) => scan_text(&String::from_utf8_lossy(&bytes), script),
        Err(_) => Vec::new(),
    }
}

/// The lines of a shell script that change the host, continued lines joined.
pub fn scan_text(text: &str, script: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut joined = String::new();
    let mut first = 0;
    for (i, raw) in text.lines().enumerate() {
        if joined.is_empty() {
            first = i + 1;
        }
        if let Some(head) = raw.strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            continue;
        }
        joined.push_str(raw);
        let line = std::mem::take(&mut joined);
        let code = strip_comment(&line);
        let mut kinds: Vec<Change> = commands(code).filter_map(|c| classify(&c)).collect();
        kinds.sort();
        kinds.dedup();
        for change in kinds {
            found.push(Finding {
                change,
                script: script.to_string(),
                line: first,
                text: shown(line.trim()),
            });
        }
    }
    found
}

/// The line without a `#` comment (a `#` at the start of a word; `$#` and `${#a[@]}` stay).
fn strip_comment(line: &str) -> &str {
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        if c == '#' && prev.is_whitespace() {
            return &line[..i];
        }
        prev = c;
    }
    line
}

/// The simple commands of a line (split at `;`, `&`, `|`, parentheses and backquotes), as words
/// without quotes.
fn commands(line: &str) -> impl Iterator<Item = Vec<String>> + '_ {
    line.split([';', '&', '|', '(', ')', '`', '{', '}'])
        .map(|part| {
            part.split_whitespace()
                .map(|w| w.trim_matches(['"', '\'', '$']).to_string())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|words| !words.is_empty())
}

/// What one simple command changes, if anything. Leading `sudo`, `env`, `exec`, `if`, `!`… and
/// `VAR=value` assignments are skipped.
fn classify(words: &[String]) -> Option<Change> {
    let skip = [
        "sudo", "env", "exec", "command", "nohup", "if", "then", "else", "elif", "do", "while",
        "until", "!", "time",
    ];
    let start = words
        .iter()
        .position(|w| !skip.contains(&w.as_str()) && !is_assignment(w))?;
    let (head, rest) = (words[start].as_str(), &words[start + 1..]);
    let has = |word: &str| rest.iter().any(|w| w == word);
    if PACKAGE_COMMANDS.contains(&head)
        || PACKAGE_MANAGERS
            .iter()
            .any(|(cmd, verb)| head == *cmd && has(verb))
    {
        return Some(Change::Packages);
    }
    let service_verb = rest
        .get(1)
        .is_some_and(|v| SERVICE_VERBS.contains(&v.as_str()));
    if SERVICE_COMMANDS.contains(&head)
        || (head == "systemctl" && SYSTEMCTL_VERBS.iter().any(|v| has(v)))
        || (head == "service" && service_verb)
    {
        return Some(Change::Services);
    }
    USER_COMMANDS.contains(&head).then_some(Change::Users)
}

/// `NAME=value`, a shell assignment before a command.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit()
    })
}

/// A line as shown: printable, cut to [`SHOWN_LINE`] characters.
fn shown(line: &str) -> String {
    let text = crate::names::printable(line);
    if text.chars().count() <= SHOWN_LINE {
        return text.into_owned();
    }
    let cut: String = text.chars().take(SHOWN_LINE).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(usize, Change)> {
        scan_text(text, "start")
            .into_iter()
            .map(|f| (f.line, f.change))
            .collect()
    }

    #[test]
    fn finds_packages_services_and_users() {
        let script = "#!/bin/bash\n\
            # apt-get install nothing: a comment\n\
            pkg_install rabbitmq-server\n\
            DEBIAN_FRONTEND=noninteractive apt-get -q -y \\\n  install curl\n\
            apt-get update\n\
            systemctl is-active --quiet x || systemctl enable --now x\n\
            [ -n \"$x\" ] && sudo service nginx restart\n\
            id u >/dev/null || useradd -m u # adds u\n\
            echo \"$#\" systemctl start  # just words after echo\n\
            ((${#a[@]} == 0)) || pkg_install \"${a[@]}\"\n";
        assert_eq!(
            kinds(script),
            [
                (3, Change::Packages),
                (4, Change::Packages),
                (7, Change::Services),
                (8, Change::Services),
                (9, Change::Users),
                (11, Change::Packages),
            ]
        );
    }

    #[test]
    fn quiet_scripts_find_nothing() {
        let script = "#!/bin/sh\nset -eu\necho hello > \"$BUNDLE_STATE_DIR/x\"\ndnf info x\n";
        assert!(kinds(script).is_empty());
    }

    #[test]
    fn shown_lines_are_printable_and_cut() {
        let long = format!("pkg_install {}\u{1b}[2J", "x".repeat(200));
        let found = scan_text(&long, "init");
        assert_eq!(found.len(), 1);
        assert!(found[0].text.ends_with('…'), "{}", found[0].text);
        assert!(!found[0].text.contains('\u{1b}'));
        assert_eq!(found[0].script, "init");
    }
}
