//! The check `bundle userdata` makes of the `bundle-bootstrap run` command line it renders: parsed
//! with the very parser the instance will use ([`RunArgs`]), so a misspelt flag, a flag given twice
//! or a bad value is refused when rendering, with the parser's own words, instead of in the
//! instance's console minutes after launch. Reads nothing, runs nothing.

use std::path::Path;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Args as _, FromArgMatches as _};

use super::RunArgs;
use crate::sign::TrustedKey;

/// The name the parser calls itself in its messages.
const RUN: &str = "bundle-bootstrap run";

/// Parses `args` (what follows `run`: the URL, then the flags) as `bundle-bootstrap run` will, and
/// checks what it can check away from the instance: the signature flags need `--pubkey`, and a
/// `--pubkey` is a base64 minisign key or an absolute path (a key file on the instance). Returns
/// the long names (`--pubkey`) of the flags given, in the parser's order; or the parser's message.
pub fn check_run_line(args: &[String]) -> Result<Vec<String>, String> {
    let command = RunArgs::augment_args(clap::Command::new(RUN))
        .disable_help_flag(true)
        .disable_version_flag(true);
    let matches = command
        .clone()
        .try_get_matches_from(std::iter::once(RUN.to_string()).chain(args.iter().cloned()))
        .map_err(|e| parser_message(&e, &command))?;
    let run = RunArgs::from_arg_matches(&matches).map_err(|e| parser_message(&e, &command))?;
    run.check_signature_flags()?;
    for key in &run.pubkey {
        if !Path::new(key).is_absolute() {
            TrustedKey::from_base64(key.trim(), key).map_err(|e| {
                format!(
                    "--pubkey {key:?}: {e}; give the base64 key (the second line of the .pub \
                     file), or the absolute path of a .pub file on the instance"
                )
            })?;
        }
    }
    Ok(command
        .get_arguments()
        .filter(|arg| matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .collect())
}

/// clap's message without its `error: ` prefix, its usage lines (which would show `bundle-bootstrap
/// run`'s usage under a `bundle userdata` command) and its tips (which suggest `--`, where the flag
/// already is); for an unknown flag, the closest flag `run` has.
fn parser_message(e: &clap::Error, command: &clap::Command) -> String {
    let rendered = e.render().to_string();
    let text = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    let text = text.split("\n\nUsage:").next().unwrap_or(text);
    let mut message: Vec<&str> = text
        .split("\n\n")
        .filter(|part| !part.trim_start().starts_with("tip:"))
        .collect();
    let unknown = match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) => Some(arg.clone()),
        _ => None,
    };
    let suggestion = unknown
        .and_then(|arg| closest_flag(&arg, command))
        .map(|flag| format!("did you mean {flag}?"));
    if let Some(suggestion) = &suggestion {
        message.push(suggestion);
    }
    format!("{RUN} would refuse this: {}", message.join("; ").trim_end())
}

/// The long flag of `command` closest to `given` (a typo's likely meaning), if one is close.
fn closest_flag(given: &str, command: &clap::Command) -> Option<String> {
    let given = given.split('=').next().unwrap_or(given);
    command
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .map(|flag| (edit_distance(given, &flag), flag))
        .filter(|(distance, flag)| *distance <= flag.len() / 4 + 1)
        .min()
        .map(|(_, flag)| flag)
}

/// Levenshtein distance: insertions, deletions and substitutions of one character.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> Result<Vec<String>, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        check_run_line(&args)
    }

    #[test]
    fn typos_duplicates_and_bad_values_are_the_parsers_refusals() {
        let typo = check(&["https://h/b", "--module-timout", "5m"]).unwrap_err();
        assert!(typo.contains("'--module-timout'"), "{typo}");
        assert!(typo.contains("did you mean --module-timeout?"), "{typo}");
        assert!(!typo.contains("tip"), "{typo}");
        assert!(!typo.contains("Usage"), "{typo}");
        let twice = check(&["https://h/b", "--state-dir", "/a", "--state-dir", "/b"]).unwrap_err();
        assert!(twice.contains("--state-dir"), "{twice}");
        let value = check(&["https://h/b", "--module-timeout", "soon"]).unwrap_err();
        assert!(value.contains("soon"), "{value}");
        let unsigned = check(&["https://h/b", "--allow-downgrade"]).unwrap_err();
        assert!(unsigned.contains("give --pubkey"), "{unsigned}");
        let far = check(&["https://h/b", "--frobnicate"]).unwrap_err();
        assert!(!far.contains("did you mean"), "{far}");
        let key = check(&["https://h/b", "--pubkey", "notakey"]).unwrap_err();
        assert!(key.contains("notakey"), "{key}");
    }

    #[test]
    fn a_good_line_names_its_flags() {
        let given = check(&[
            "https://h/b",
            "--state-dir",
            "/s",
            "--pubkey",
            "/etc/keys/bundle.pub",
            "--module-timeout",
            "1h",
            "--env",
            "A=1",
            "--env",
            "B=2",
        ])
        .unwrap();
        assert_eq!(
            given,
            ["--pubkey", "--state-dir", "--env", "--module-timeout"]
        );
    }
}
