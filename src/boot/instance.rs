//! Which instance this is: `BUNDLE_INSTANCE_ID` for every script, and `instance_id` in the status.
//!
//! From the instance metadata service (IMDSv2: `i-0123…` on EC2), else cloud-init's record of it
//! (`/var/lib/cloud/data/instance-id`, on other clouds and after IMDS is switched off), else the
//! machine id (`/etc/machine-id`, any systemd machine). `AWS_EC2_METADATA_DISABLED=true` skips IMDS,
//! as the AWS tools do. The id is trusted only as far as its shape: a short run of ASCII letters,
//! digits, `-`, `_` and `.`; anything else is not an id.

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::aws::imds::{ENV_IMDS_DISABLED, Imds};
use crate::fetch::tls;

/// Where cloud-init records the instance id of the current boot.
const CLOUD_INIT_ID: &str = "/var/lib/cloud/data/instance-id";
/// The systemd machine id.
const MACHINE_ID: &str = "/etc/machine-id";
/// The longest id accepted.
const MAX_ID: usize = 64;

/// This instance's id, by the first source that has a well-formed one; `None` when none has.
pub fn instance_id(imds_endpoint: &str) -> Option<String> {
    from_imds(imds_endpoint)
        .or_else(|| from_file(Path::new(CLOUD_INIT_ID)))
        .or_else(|| from_file(Path::new(MACHINE_ID)))
}

fn from_imds(endpoint: &str) -> Option<String> {
    let disabled = std::env::var(ENV_IMDS_DISABLED).is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled {
        return None;
    }
    let imds = Imds::open(endpoint, tls::client_config(None).ok()?).ok()?;
    imds.instance_id()
        .ok()
        .flatten()
        .filter(|id| well_formed(id))
}

fn from_file(path: &Path) -> Option<String> {
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_ID as u64 + 2).read_to_string(&mut text))
        .ok()?;
    let id = text.trim();
    well_formed(id).then(|| id.to_string())
}

/// A short run of ASCII letters, digits, `-`, `_`, `.`.
fn well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids() {
        assert!(well_formed("i-0abc123def4567890"));
        assert!(well_formed("3f1e0c6a9b2d4e5f8a7b6c5d4e3f2a1b"));
        for bad in ["", "i-0\nFORGED", "\u{1b}[31m", &"a".repeat(65), "a b"] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }
}
