//! Reading a ListObjectsV2 answer (`ListBucketResult` XML): keys, and the token for the next page.
//!
//! Pure string work over a well-known, flat document; no XML library is pulled in for it.

/// One page of a listing.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    /// The keys on this page, decoded.
    pub keys: Vec<String>,
    /// The token for the next page when the listing is truncated.
    pub next: Option<String>,
}

/// Parses a `ListBucketResult`; None when it is not one.
pub(crate) fn parse(xml: &str) -> Option<Page> {
    if !xml.contains("<ListBucketResult") {
        return None;
    }
    let mut page = Page::default();
    let mut rest = xml;
    while let Some((contents, after)) = element(rest, "Contents") {
        page.keys.push(unescape(element(contents, "Key")?.0));
        rest = after;
    }
    let truncated = element(xml, "IsTruncated").is_some_and(|(v, _)| v.trim() == "true");
    if truncated {
        page.next = Some(unescape(element(xml, "NextContinuationToken")?.0));
    }
    Some(page)
}

/// The text inside the first `<name>…</name>` of `xml`, and what follows it.
fn element<'a>(xml: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some((&xml[start..start + len], &xml[start + len + close.len()..]))
}

/// XML's five predefined entities and numeric character references (XML 1.0 §4.6, §4.1).
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';') else {
            out.push_str(&rest[amp..]);
            return out;
        };
        let entity = &after[..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[amp..amp + 1 + semi + 1]),
        }
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_and_the_next_token() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>r/</Prefix>
<KeyCount>2</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</NextContinuationToken>
<Contents><Key>r/a &amp; b.bundle</Key><Size>3</Size></Contents>
<Contents><Key>r/&#x20AC;&#65;</Key><Size>4</Size></Contents></ListBucketResult>"#;
        let page = parse(xml).unwrap();
        assert_eq!(page.keys, ["r/a & b.bundle", "r/€A"]);
        assert_eq!(page.next.as_deref(), Some("t&1"));
    }

    #[test]
    fn an_empty_listing_and_other_documents() {
        let empty = "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(parse(empty), Some(Page::default()));
        assert_eq!(parse("<Error><Code>AccessDenied</Code></Error>"), None);
        assert_eq!(unescape("a&bogus;b&"), "a&bogus;b&");
    }
}
