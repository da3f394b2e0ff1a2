//! Which `bundle-bootstrap` an instance downloads and the sha256 it must have: one URL, with
//! `{arch}` in it when there is one build per architecture, and a pin per architecture (or one pin
//! for every architecture, for a URL without `{arch}`). The script picks the pin by `uname -m`
//! and stops, before downloading anything, on an architecture it has no pin for.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::arch::Arch;
use crate::cli::Sha256Hex;
use crate::shell::quote as q;

use super::UserdataError;

/// What `--bootstrap-url` may hold for the instance's architecture.
pub const ARCH_PLACEHOLDER: &str = "{arch}";

/// One `--bootstrap-sha256`: `HEX`, for whatever architecture the instance has, or `ARCH=HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapPin {
    /// The architecture this pin is for; `None` for every architecture.
    pub arch: Option<Arch>,
    /// The sha256 the downloaded file must have.
    pub sha256: Sha256Hex,
}

impl FromStr for BootstrapPin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (arch, hex) = match text.split_once('=') {
            Some((arch, hex)) => (
                Some(arch.parse::<Arch>().map_err(|e| format!("{text:?}: {e}"))?),
                hex,
            ),
            None => (None, text),
        };
        let sha256 = hex.parse::<Sha256Hex>().map_err(|_| {
            format!(
                "{text:?} is not a sha256 pin: give the 64 hex digits `sha256sum FILE` prints, or \
                 ARCH=HEX (x86_64=…, aarch64=…), or --bootstrap-file FILE instead"
            )
        })?;
        Ok(BootstrapPin { arch, sha256 })
    }
}

/// The pins, checked against the URL: the script's choice of one by `uname -m`.
#[derive(Debug)]
pub(super) enum Pins<'a> {
    /// One file for every architecture.
    Any(&'a str),
    /// One file per architecture, by [`Arch::ALL`]'s order.
    PerArch(Vec<(Arch, &'a str)>),
}

impl<'a> Pins<'a> {
    /// The pins for `url`, or why they cannot work: none at all, two for one architecture, a pin
    /// for every architecture beside a URL that differs by architecture, or pins for two
    /// architectures beside a URL that serves one file.
    pub(super) fn check(url: &str, given: &'a [BootstrapPin]) -> Result<Pins<'a>, UserdataError> {
        if given.is_empty() {
            return Err(UserdataError::NoBootstrapPin);
        }
        let per_arch = url.contains(ARCH_PLACEHOLDER);
        let mut pins: Vec<(Option<Arch>, &str)> = Vec::new();
        for pin in given {
            if pins.iter().any(|(arch, _)| *arch == pin.arch) {
                let which = pin
                    .arch
                    .map_or("every architecture".into(), |a| a.to_string());
                return Err(UserdataError::Pins(format!(
                    "two bundle-bootstrap pins for {which}: give one --bootstrap-sha256 or \
                     --bootstrap-file per architecture"
                )));
            }
            pins.push((pin.arch, pin.sha256.as_str()));
        }
        match (per_arch, pins.as_slice()) {
            (false, [(None, sha)]) => Ok(Pins::Any(sha)),
            (false, [(Some(arch), sha)]) => Ok(Pins::PerArch(vec![(*arch, *sha)])),
            (false, _) => Err(UserdataError::Pins(format!(
                "--bootstrap-url has no {ARCH_PLACEHOLDER}, so every instance downloads one file, \
                 but pins for {} were given: put {ARCH_PLACEHOLDER} in the URL \
                 (…/bundle-bootstrap-{ARCH_PLACEHOLDER}) to serve one file per architecture",
                names(&pins)
            ))),
            (true, _) if pins.iter().any(|(arch, _)| arch.is_none()) => {
                Err(UserdataError::Pins(format!(
                    "--bootstrap-url holds {ARCH_PLACEHOLDER}, so each architecture downloads its own \
                     file: pin each with --bootstrap-sha256 ARCH=HEX (x86_64=…, aarch64=…) or \
                     --bootstrap-file FILE, not with a plain HEX"
                )))
            }
            (true, _) => {
                let mut by_arch: Vec<(Arch, &str)> = pins
                    .iter()
                    .filter_map(|(a, s)| a.map(|a| (a, *s)))
                    .collect();
                by_arch.sort();
                Ok(Pins::PerArch(by_arch))
            }
        }
    }

    /// The script lines that set `$ARCH` (when pins are per architecture) and
    /// `$BOOTSTRAP_SHA256`, or stop on an architecture without a pin — before anything is
    /// downloaded.
    pub(super) fn render(&self, s: &mut String) {
        let per_arch = match self {
            Pins::Any(sha) => {
                let _ = writeln!(s, "BOOTSTRAP_SHA256={}", q(sha));
                return;
            }
            Pins::PerArch(pins) => pins,
        };
        let _ = writeln!(
            s,
            "# bundle-bootstrap is built per architecture: this instance's, as uname -m names it."
        );
        let _ = writeln!(s, "ARCH=$(uname -m)");
        let _ = writeln!(s, "case \"$ARCH\" in");
        for arch in Arch::ALL {
            let _ = writeln!(s, "  {}) ARCH={arch} ;;", arch.aliases().join("|"));
        }
        let _ = writeln!(s, "esac");
        let _ = writeln!(s, "case \"$ARCH\" in");
        for (arch, sha) in per_arch {
            let _ = writeln!(s, "  {arch}) BOOTSTRAP_SHA256={} ;;", q(sha));
        }
        let pinned: Vec<String> = per_arch.iter().map(|(a, _)| a.to_string()).collect();
        let stop = format!(
            "this user-data pins bundle-bootstrap for {} only: render it again with \
             --bootstrap-sha256 $ARCH=HEX or --bootstrap-file for a $ARCH build; nothing was downloaded",
            pinned.join(" and ")
        );
        let _ = writeln!(
            s,
            "  *) say \"this instance is $ARCH, and {}\"; exit 1 ;;",
            stop.replace('"', "\\\"")
        );
        let _ = writeln!(s, "esac");
    }
}

/// The script's word for `url` with `{arch}` made `$ARCH`.
pub(super) fn url_word(url: &str) -> String {
    url.split(ARCH_PLACEHOLDER)
        .map(|part| {
            if part.is_empty() {
                String::new()
            } else {
                q(part)
            }
        })
        .collect::<Vec<_>>()
        .join("\"$ARCH\"")
}

fn names(pins: &[(Option<Arch>, &str)]) -> String {
    let names: Vec<String> = pins
        .iter()
        .map(|(arch, _)| arch.map_or("every architecture".into(), |a| a.to_string()))
        .collect();
    names.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(text: &str) -> BootstrapPin {
        text.parse().unwrap()
    }

    #[test]
    fn pins_parse_plain_or_per_architecture() {
        let hex = "ab".repeat(32);
        assert_eq!(pin(&hex).arch, None);
        assert_eq!(pin(&format!("arm64={hex}")).arch, Some(Arch::Aarch64));
        assert!(
            "zzz"
                .parse::<BootstrapPin>()
                .unwrap_err()
                .contains("64 hex")
        );
        assert!(
            format!("riscv64={hex}")
                .parse::<BootstrapPin>()
                .unwrap_err()
                .contains("riscv64")
        );
        assert!(
            format!("x86_64={}", &hex[1..])
                .parse::<BootstrapPin>()
                .is_err()
        );
    }

    #[test]
    fn pins_must_fit_the_url() {
        let hex = "ab".repeat(32);
        let x86 = pin(&format!("x86_64={hex}"));
        let arm = pin(&format!("aarch64={hex}"));
        let any = pin(&hex);
        let both = [arm.clone(), x86.clone()];
        let Ok(Pins::PerArch(sorted)) = Pins::check("https://h/b-{arch}", &both) else {
            panic!("two architectures, one URL with {{arch}}");
        };
        assert_eq!(sorted[0].0, Arch::X86_64);
        assert!(matches!(
            Pins::check("https://h/b", std::slice::from_ref(&any)),
            Ok(Pins::Any(_))
        ));
        assert!(matches!(
            Pins::check("https://h/b", std::slice::from_ref(&x86)),
            Ok(Pins::PerArch(_))
        ));
        for (url, given) in [
            ("https://h/b", &both[..]),
            ("https://h/b-{arch}", &[any.clone()][..]),
            ("https://h/b-{arch}", &[x86.clone(), x86.clone()][..]),
            ("https://h/b-{arch}", &[][..]),
        ] {
            assert!(Pins::check(url, given).is_err(), "{url} {given:?}");
        }
    }

    #[test]
    fn the_url_takes_the_architecture_from_the_script() {
        assert_eq!(url_word("https://h/b-{arch}"), "https://h/b-\"$ARCH\"");
        assert_eq!(url_word("https://h/{arch}/b"), "https://h/\"$ARCH\"/b");
        assert_eq!(url_word("https://h/my b"), "'https://h/my b'");
    }
}
