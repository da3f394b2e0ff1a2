//! Path rules shared by the writer and the extractor, so `bundle pack` refuses exactly what
//! `bundle-bootstrap` would refuse at boot. Pure string logic: no file system here.
//!
//! Archive paths are `/`-separated and relative to the unpack root. The rules stop the known
//! extraction escapes: tar-slip (absolute paths and `..` components, e.g. CVE-2018-1002200) and
//! symlink escapes (a link pointing outside the root then used as a path prefix, the class of
//! CVE-2018-20997 and CVE-2021-38511 in tar-rs). They also bound what one path may cost: depth,
//! length, and no NUL byte (issue 9: a NUL in a PAX path was a local I/O error, exit 1).

/// Why a path or link target breaks a rule, in words for the error message.
pub(crate) type Rule = &'static str;

/// Most components an archive path may have. A directory bomb nests folders; the depth also bounds
/// the work and the open handles of every walk of the tree (the extractor's, `remove_dir_all`'s,
/// the planner's). Real bundles nest about 15 deep (`start-up-bundle/10-java/app/WEB-INF/classes/
/// com/…`); 64 leaves room for deep `node_modules`.
pub(crate) const MAX_DEPTH: usize = 64;
/// Longest archive path or link target, in bytes. The unpacked tree is later used by absolute
/// paths below the state folder, and Linux refuses paths of `PATH_MAX` (4096) bytes and more;
/// half of it leaves room for any state folder.
pub(crate) const MAX_PATH_LEN: usize = 2048;
/// Longest component (`NAME_MAX` on Linux): a longer one would fail as a local I/O error (exit
/// 1) instead of a refused entry (exit 4).
pub(crate) const MAX_NAME_LEN: usize = 255;

/// The rules shared by every path and link target: no NUL (a PAX record can carry one, and no
/// system call can take it), not over-long.
fn check_bytes(text: &str) -> Result<(), Rule> {
    if text.contains('\0') {
        return Err("the path holds a NUL byte");
    }
    if text.len() > MAX_PATH_LEN {
        return Err("the path is longer than 2048 bytes");
    }
    Ok(())
}

/// The rules for one component of a path.
fn check_component(part: &str) -> Result<(), Rule> {
    if part.len() > MAX_NAME_LEN {
        return Err("a path component is longer than 255 bytes");
    }
    Ok(())
}

/// The depth rule.
fn check_depth(parts: usize) -> Result<(), Rule> {
    if parts > MAX_DEPTH {
        return Err("the path is more than 64 folders deep");
    }
    Ok(())
}

/// Splits an entry path as written in a tar header into its components, dropping empty and `.`
/// components (`./a//b/` → `a`, `b`). An empty result means the root itself (`./`).
pub(crate) fn split_entry_path(raw: &str) -> Result<Vec<&str>, Rule> {
    if raw.is_empty() {
        return Err("the path is empty");
    }
    if raw.starts_with('/') {
        return Err("absolute path");
    }
    check_bytes(raw)?;
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` component (tar-slip)"),
            _ => {
                check_component(part)?;
                parts.push(part);
            }
        }
    }
    check_depth(parts.len())?;
    Ok(parts)
}

/// Checks the target of a symlink whose own folder lies `depth` components below the root.
///
/// Accepted: relative targets whose `..` components all come first and climb no higher than the
/// root (`../lib/x`, `b/c`). A `..` after a folder name (`a/../..`) is refused, because the kernel
/// resolves it from wherever `a` really leads (perhaps another symlink), so a lexical check could not
/// vouch for it. With this rule every link resolves inside the root, whatever other links it meets.
pub(crate) fn check_symlink_target(depth: usize, target: &str) -> Result<(), Rule> {
    if target.is_empty() {
        return Err("the symlink target is empty");
    }
    if target.starts_with('/') {
        return Err("the symlink target is an absolute path");
    }
    check_bytes(target)?;
    let mut ups = 0usize;
    let mut named = false;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." if named => return Err("the symlink target has `..` after a folder name"),
            ".." => ups += 1,
            _ => named = true,
        }
    }
    if ups > depth {
        return Err("the symlink target points outside the archive");
    }
    Ok(())
}

/// Checks a path handed to `pack`: the canonical form we write (`a/b`, no leading or trailing `/`,
/// no empty, `.` or `..` components).
pub(crate) fn check_pack_path(path: &str) -> Result<(), Rule> {
    if path.is_empty() {
        return Err("the path is empty");
    }
    if path.starts_with('/') {
        return Err("absolute path");
    }
    check_bytes(path)?;
    let mut depth = 0;
    for part in path.split('/') {
        match part {
            "" => return Err("the path has an empty component (`//` or a trailing `/`)"),
            "." => return Err("the path has a `.` component"),
            ".." => return Err("the path has a `..` component"),
            _ => check_component(part)?,
        }
        depth += 1;
    }
    check_depth(depth)
}

/// How many folders lie between the root and the entry at `path` (`a/b/link` → 2).
pub(crate) fn folder_depth(parts: &[&str]) -> usize {
    parts.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_drop_dots_and_refuse_escapes() {
        assert_eq!(split_entry_path("./a//b/"), Ok(vec!["a", "b"]));
        assert_eq!(split_entry_path("./"), Ok(vec![]));
        assert!(split_entry_path("/etc/passwd").is_err());
        assert!(split_entry_path("a/../../x").is_err());
        assert!(split_entry_path("..").is_err());
        assert!(split_entry_path("").is_err());
        assert!(split_entry_path("a/b\0c").is_err());
        let deep = "d/".repeat(MAX_DEPTH);
        assert_eq!(split_entry_path(&deep).map(|p| p.len()), Ok(MAX_DEPTH));
        assert!(split_entry_path(&format!("{deep}f")).is_err());
        // Only real components count: `./` and `//` are not folders.
        assert!(split_entry_path(&format!("./{}f", "d//".repeat(MAX_DEPTH - 1))).is_ok());
        assert!(split_entry_path(&"n".repeat(MAX_NAME_LEN)).is_ok());
        assert!(split_entry_path(&"n".repeat(MAX_NAME_LEN + 1)).is_err());
        assert!(split_entry_path(&"a/".repeat(MAX_PATH_LEN / 2 + 1)).is_err());
    }

    #[test]
    fn symlink_targets_stay_inside() {
        assert!(check_symlink_target(0, "b/c").is_ok());
        assert!(check_symlink_target(1, "../x").is_ok());
        assert!(check_symlink_target(1, "./../x/./y").is_ok());
        assert!(check_symlink_target(0, "../x").is_err());
        assert!(check_symlink_target(2, "../../../x").is_err());
        assert!(check_symlink_target(3, "a/../b").is_err());
        assert!(check_symlink_target(3, "/etc").is_err());
        assert!(check_symlink_target(3, "").is_err());
        assert!(check_symlink_target(0, "a\0b").is_err());
        assert!(check_symlink_target(0, &"./".repeat(MAX_PATH_LEN)).is_err());
    }

    #[test]
    fn pack_paths_are_canonical() {
        assert!(check_pack_path("start-up-bundle/10-java/start").is_ok());
        for bad in ["", "/a", "a/", "a//b", "./a", "a/../b", "a\0b"] {
            assert!(check_pack_path(bad).is_err(), "{bad:?}");
        }
        // Pack refuses exactly the depths unpack refuses.
        let deep = vec!["d"; MAX_DEPTH].join("/");
        assert!(check_pack_path(&deep).is_ok());
        assert!(check_pack_path(&format!("{deep}/f")).is_err());
        assert!(check_pack_path(&"n".repeat(MAX_NAME_LEN + 1)).is_err());
        assert_eq!(folder_depth(&["a", "b", "l"]), 2);
        assert_eq!(folder_depth(&["l"]), 0);
    }
}
