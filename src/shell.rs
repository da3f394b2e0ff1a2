//! Words for a POSIX shell: the one quoting rule for every command line we print or render
//! (the `openssl enc -d` line `pack` prints, user-data scripts).

/// Quotes a word for a POSIX shell when it needs it: single quotes, with `'` written as `'\''`.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@%,".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("/tmp/b.enc"), "/tmp/b.enc");
        assert_eq!(quote("my bundle"), "'my bundle'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
