//! Sizes on the command line: `4G`, `512M`, `64K`, `1048576` (binary units: K = 1024).

/// Parses `4G`, `512MiB`, `64k`, `1048576`. Used as a clap value parser (`--max-size`, `--max-unpacked`).
pub fn parse(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}' is not a size: write 4G, 512M, 64K or a number of bytes");
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let shift = match t[digits..].to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Formats a byte count for people: `512 B`, `3.4 KiB`, `12.0 MiB`, `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Two sizes for people, side by side (`12.3 MiB` and `40.0 MiB`): in exact bytes when rounding
/// would make them read the same (`2147483649 B` and `2147483648 B`, not `2.0 GiB` twice).
pub fn human_pair(a: u64, b: u64) -> (String, String) {
    let (ha, hb) = (human(a), human(b));
    if ha == hb && a != b {
        (format!("{a} B"), format!("{b} B"))
    } else {
        (ha, hb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sizes() {
        assert_eq!(parse("4G"), Ok(4 << 30));
        assert_eq!(parse("512MiB"), Ok(512 << 20));
        assert_eq!(parse("64k"), Ok(64 << 10));
        assert_eq!(parse("100"), Ok(100));
        for bad in ["", "G", "1.5G", "-1", "9999999999999T"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prints_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 20), "3.0 MiB");
        assert_eq!(
            human_pair(12_900_000, 40 << 20),
            ("12.3 MiB".into(), "40.0 MiB".into())
        );
        assert_eq!(
            human_pair((2 << 30) + 1, 2 << 30),
            ("2147483649 B".into(), "2147483648 B".into())
        );
    }
}
