//! Values taken from the command line, each parsed once into a library type with the rule that
//! decides it: `bundle userdata` and `bundle-bootstrap` cannot disagree about what a valid
//! `--env` or `--sha256` is, because they use the same type.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// `KEY=VALUE` for a module's environment: KEY is a shell variable name (letters, digits, `_`, not
/// starting with a digit), so `export KEY=…` renders and runs the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub key: String,
    /// Its value (any text).
    pub value: String,
}

impl EnvVar {
    /// Whether `key` is a portable variable name.
    pub fn valid_key(key: &str) -> bool {
        crate::names::valid_env_key(key)
    }

    /// The pair as a tuple.
    pub fn pair(&self) -> (String, String) {
        (self.key.clone(), self.value.clone())
    }
}

impl FromStr for EnvVar {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: write KEY=VALUE"))?;
        if !Self::valid_key(key) {
            return Err(format!(
                "{key:?} is not a variable name: use letters, digits and _, not starting with a digit"
            ));
        }
        Ok(EnvVar {
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

impl fmt::Display for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// A sha256 as 64 hex digits, kept lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// The 64 lower-case hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Sha256Hex {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Sha256Hex(text.to_ascii_lowercase()))
        } else {
            Err(format!(
                "{text:?} is not a sha256: give the 64 hex digits `sha256sum FILE` (or `bundle pack`) prints"
            ))
        }
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A duration flag: `90s`, `5m`, `1h30m`, `250ms` or seconds; prints back in a form it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        crate::duration::parse(text).map(Dur)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let secs = d.as_secs();
        if d.subsec_nanos() != 0 {
            write!(f, "{}ms", d.as_millis())
        } else if secs != 0 && secs.is_multiple_of(3600) {
            write!(f, "{}h", secs / 3600)
        } else if secs != 0 && secs.is_multiple_of(60) {
            write!(f, "{}m", secs / 60)
        } else {
            write!(f, "{secs}s")
        }
    }
}

/// A percentage flag: `10` or `10%`; prints back as `10%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent(pub u8);

impl FromStr for Percent {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
        number
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= 100)
            .map(Percent)
            .ok_or_else(|| format!("{text:?}: write a whole percentage, like 10 or 10%"))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// A size flag: `2G`, `512M`, `64K` or bytes; prints back in a form it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        crate::size::parse(text).map(Size)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
        for (unit, suffix) in UNITS {
            if self.0 != 0 && self.0.is_multiple_of(unit) {
                return write!(f, "{}{suffix}", self.0 / unit);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// `--expires`: an RFC 3339 date, or a duration from the moment of signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// At this UNIX time.
    At(u64),
    /// This long after signing.
    In(Duration),
}

impl Expiry {
    /// The UNIX time it names, for a signature made at `now`.
    pub fn at(self, now: u64) -> u64 {
        match self {
            Expiry::At(t) => t,
            Expiry::In(d) => now.saturating_add(d.as_secs() + u64::from(d.subsec_nanos() > 0)),
        }
    }
}

impl FromStr for Expiry {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let looks_like_date = text.len() >= 10 && text.as_bytes()[4] == b'-';
        if looks_like_date {
            return crate::date::parse_rfc3339(text).map(Expiry::At);
        }
        crate::duration::parse(text).map(Expiry::In).map_err(|_| {
            format!(
                "{text:?}: give a duration from now (720h, 90m) or an RFC 3339 date (2026-12-31)"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!("10".parse(), Ok(Percent(10)));
        assert_eq!(" 25% ".parse(), Ok(Percent(25)));
        assert_eq!(Percent(10).to_string().parse(), Ok(Percent(10)));
        for bad in ["", "%", "0.1", "101", "-5", "ten"] {
            assert!(bad.parse::<Percent>().is_err(), "{bad}");
        }
    }

    #[test]
    fn env_names_are_checked_once() {
        assert_eq!(
            "A_1=x=y".parse::<EnvVar>().unwrap(),
            EnvVar {
                key: "A_1".into(),
                value: "x=y".into()
            }
        );
        for bad in ["A B=1", "1X=2", "=v", "NOEQUALS", "A-B=1"] {
            assert!(bad.parse::<EnvVar>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sha256_is_64_hex_digits() {
        let upper = "AB".repeat(32);
        assert_eq!(
            upper.parse::<Sha256Hex>().unwrap().as_str(),
            "ab".repeat(32)
        );
        for bad in ["abc", "zz".repeat(32).as_str(), ""] {
            assert!(bad.parse::<Sha256Hex>().is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_print_in_a_form_they_read_back() {
        for d in [
            Duration::from_secs(300),
            Duration::from_secs(30 * 60),
            Duration::from_secs(10),
            Duration::from_secs(3600),
            Duration::from_millis(250),
        ] {
            assert_eq!(Dur(d).to_string().parse::<Dur>().unwrap(), Dur(d));
        }
        for s in [2u64 << 30, 4 << 30, 1000, 64 << 10] {
            assert_eq!(Size(s).to_string().parse::<Size>().unwrap(), Size(s));
        }
        assert_eq!(Size(2 << 30).to_string(), "2G");
    }

    #[test]
    fn expiry_is_a_date_or_a_duration_from_now() {
        assert_eq!("1h".parse::<Expiry>().unwrap().at(1000), 4600);
        assert_eq!("250ms".parse::<Expiry>().unwrap().at(1000), 1001);
        assert_eq!("2026-12-31".parse::<Expiry>().unwrap().at(0), 1_798_675_200);
        assert!("soon".parse::<Expiry>().is_err());
    }
}
