//! The one rule for the names and versions that come from outside — `bundle.toml`, `module.toml`,
//! a bundle's `bundle.json`, the folders of a hand-made bundle, a signature's trusted comment — and
//! the one way to print text that came from outside.
//!
//! A name becomes a folder name in the archive and the state folder, a log file name, an init
//! record, a `[module] ` prefix on the console, a pointer (`NAME.latest`), a rollback counter
//! (`STATE/seq/NAME`) and `BUNDLE_MODULE`/`BUNDLE_NAME`; a version becomes `BUNDLE_VERSION` and
//! part of every summary line. Each is checked where it enters (pack time, boot time, signature
//! time) with the functions here, so `café` and `cafü` can never share a log file and init record
//! (both are refused), and a newline or an escape sequence can never forge a console line.
//!
//! Pure: no files, no environment.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// The longest version, in bytes.
pub const MAX_VERSION_LEN: usize = 64;
/// The name rule, for messages.
pub const NAME_RULE: &str = "a name is a letter or digit, then letters, digits, `.`, `_` or `-`, \
                             at most 64 bytes";
/// The version rule, for messages.
pub const VERSION_RULE: &str = "a version is printable ASCII without spaces (`1.2.3`, \
                                `2024-05-01+build.7`), at most 64 bytes";

/// Why a name or a version breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than its limit, in bytes.
    TooLong(usize),
    /// The name does not start with a letter or digit.
    BadFirst(char),
    /// The name holds a character its rule does not allow.
    BadChar(char),
    /// The name (a folder's) is not UTF-8.
    NotUtf8,
    /// A version breaks [`VERSION_RULE`] (what is wrong, as one of the other variants).
    Version(Box<NameError>),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (problem, rule) = match self {
            NameError::Version(inner) => (inner.problem(), VERSION_RULE),
            other => (other.problem(), NAME_RULE),
        };
        write!(f, "{problem}; {rule}")
    }
}

impl NameError {
    /// What is wrong, without the rule.
    fn problem(&self) -> String {
        match self {
            NameError::Empty => "is empty".into(),
            NameError::TooLong(n) => format!("is {n} bytes long"),
            NameError::BadFirst(c) => format!("starts with {c:?}"),
            NameError::BadChar(c) => format!("holds {c:?}"),
            NameError::NotUtf8 => "is not UTF-8".into(),
            NameError::Version(inner) => inner.problem(),
        }
    }
}

impl std::error::Error for NameError {}

/// Checks a module, data folder or bundle name: `[A-Za-z0-9][A-Za-z0-9._-]*`, at most
/// [`MAX_NAME_LEN`] bytes. Safe as a folder and file name (no `/`, no `..`, no leading `-` or
/// `.`), as a URL path segment and S3 key (nothing to percent-encode), as a log prefix and as an
/// environment value; and two different names never map to one file.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(NameError::Empty);
    };
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.len()));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(NameError::BadFirst(first));
    }
    match chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        Some(c) => Err(NameError::BadChar(c)),
        None => Ok(()),
    }
}

/// Checks a version: printable ASCII (`!` to `~`: no space, no control character), 1 to
/// [`MAX_VERSION_LEN`] bytes.
pub fn validate_version(version: &str) -> Result<(), NameError> {
    let wrap = |e| Err(NameError::Version(Box::new(e)));
    if version.is_empty() {
        return wrap(NameError::Empty);
    }
    if let Some(c) = version.chars().find(|c| !c.is_ascii_graphic()) {
        return wrap(NameError::BadChar(c));
    }
    if version.len() > MAX_VERSION_LEN {
        return wrap(NameError::TooLong(version.len()));
    }
    Ok(())
}

/// Whether `key` is a portable environment variable name: letters, digits and `_`, not starting
/// with a digit, so `export KEY=…` renders and runs the same in every shell.
pub fn valid_env_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A name made from `text` by the name rule, for a name nobody chose (a hand-made bundle's URL
/// file name): every other character becomes `_`, leading ones that cannot start a name are
/// dropped, and it is cut to [`MAX_NAME_LEN`]; `fallback` when nothing is left.
pub fn derive_name(text: &str, fallback: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(MAX_NAME_LEN)
        .collect();
    if mapped.is_empty() {
        fallback.to_string()
    } else {
        mapped
    }
}

/// Whether `c` must not reach a terminal as is: a control character (C0, DEL, C1: newline,
/// carriage return, escape sequences) or a bidirectional control, which reorders what follows it
/// on the screen (CVE-2021-42574, "Trojan Source").
fn unsafe_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` safe to print on a terminal or a log line: every character of [`unsafe_on_terminal`]
/// written as an escape (`\n`, `\t`, `\r`, else `\u{1b}`), everything else as is. For text that
/// came from outside (a folder name, a manifest field) and is not checked by a rule.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if unsafe_on_terminal(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`printable`] for a path (lossy for bytes that are not UTF-8).
pub fn printable_path(path: &Path) -> String {
    printable(&path.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for n in ["java", "10-java", "a", "9", "erlang_otp.26", "A-b.c_d"] {
            assert_eq!(validate_name(n), Ok(()), "{n}");
        }
        assert_eq!(validate_name(&"x".repeat(MAX_NAME_LEN)), Ok(()));
    }

    #[test]
    fn bad_names() {
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name(".hidden"), Err(NameError::BadFirst('.')));
        assert_eq!(validate_name("-x"), Err(NameError::BadFirst('-')));
        assert_eq!(validate_name("_x"), Err(NameError::BadFirst('_')));
        assert_eq!(validate_name("my java"), Err(NameError::BadChar(' ')));
        assert_eq!(validate_name("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(validate_name("café"), Err(NameError::BadChar('é')));
        assert_eq!(validate_name("a+b"), Err(NameError::BadChar('+')));
        assert_eq!(
            validate_name("x\n\u{1b}[31m"),
            Err(NameError::BadChar('\n'))
        );
        assert_eq!(
            validate_name(&"x".repeat(MAX_NAME_LEN + 1)),
            Err(NameError::TooLong(65))
        );
        let text = NameError::BadChar('\u{1b}').to_string();
        assert!(text.starts_with("holds '\\u{1b}'; a name is"), "{text}");
    }

    #[test]
    fn versions() {
        for v in ["0", "1.2.3", "2024-05-01+build.7", "v1_rc~2"] {
            assert_eq!(validate_version(v), Ok(()), "{v}");
        }
        for v in ["", "1 2", "1.0\n", "ünï", "\u{1b}[2J", &"1".repeat(65)] {
            let e = validate_version(v).unwrap_err();
            assert!(
                e.to_string().contains("a version is printable ASCII"),
                "{e}"
            );
        }
    }

    #[test]
    fn derived_names_follow_the_rule() {
        for (text, want) in [
            ("shop.bundle", "shop.bundle"),
            ("my bundle.enc", "my_bundle.enc"),
            ("..x", "x"),
            ("café", "caf_"),
            ("", "bundle"),
            ("%%%", "bundle"),
        ] {
            let got = derive_name(text, "bundle");
            assert_eq!(got, want, "{text:?}");
            assert_eq!(validate_name(&got), Ok(()));
        }
        assert_eq!(derive_name(&"y".repeat(100), "b").len(), MAX_NAME_LEN);
    }

    #[test]
    fn printable_escapes_what_forges_lines() {
        assert!(matches!(printable("plain café"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\nb\u{1b}[31mc\u{202e}d\r\t"),
            "a\\nb\\u{1b}[31mc\\u{202e}d\\r\\t"
        );
        assert_eq!(printable_path(Path::new("/s/x\ny")), "/s/x\\ny");
    }
}
