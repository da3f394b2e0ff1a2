//! Walking a tree the code under test made, without ever following a symlink, and resolving a
//! symlink the way the kernel would, to see where it really leads.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Component, Path, PathBuf};

/// Linux gives up after 40 symlinks in one lookup (`MAXSYMLINKS`, path_resolution(7)).
const MAX_SYMLINK_HOPS: usize = 40;

/// Every path below `root` (not `root` itself) with its own metadata, parents before children.
pub(crate) fn tree(root: &Path) -> io::Result<Vec<(PathBuf, Metadata)>> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let meta = fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                pending.push(path.clone());
            }
            out.push((path, meta));
        }
    }
    Ok(out)
}

/// One step of a symlink target.
enum Step {
    Up,
    Name(OsString),
}

/// Where a lookup of `link` leads, step by step as path_resolution(7) describes, following every
/// symlink it meets; `Err` names the first step that left `root`. A missing component ends the
/// walk: the kernel would fail there, having gone no further.
pub(crate) fn resolve_inside(root: &Path, link: &Path) -> Result<(), String> {
    let mut at = link
        .parent()
        .ok_or_else(|| format!("{} has no parent", link.display()))?
        .to_path_buf();
    let mut todo = steps(link)?;
    let mut hops = 1;
    while let Some(step) = todo.pop_front() {
        match step {
            Step::Up => {
                at.pop();
            }
            Step::Name(name) => {
                let next = at.join(name);
                match fs::symlink_metadata(&next) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        hops += 1;
                        if hops > MAX_SYMLINK_HOPS {
                            return Ok(()); // ELOOP: the lookup fails, going nowhere.
                        }
                        let mut rest = steps(&next)?;
                        rest.extend(todo.drain(..));
                        todo = rest;
                    }
                    Ok(_) => at = next,
                    Err(_) => return Ok(()),
                }
            }
        }
        if !at.starts_with(root) {
            return Err(format!(
                "{} leads outside the unpacked folder, to {}",
                link.display(),
                at.display()
            ));
        }
    }
    Ok(())
}

/// The steps of `link`'s target; an absolute target is itself an escape.
fn steps(link: &Path) -> Result<VecDeque<Step>, String> {
    let target = fs::read_link(link).map_err(|e| format!("readlink {}: {e}", link.display()))?;
    let mut out = VecDeque::new();
    for part in target.components() {
        match part {
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "{} points to the absolute path {}",
                    link.display(),
                    target.display()
                ));
            }
            Component::CurDir => {}
            Component::ParentDir => out.push_back(Step::Up),
            Component::Normal(name) => out.push_back(Step::Name(name.to_os_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::scratch::Scratch;

    /// The resolver must see the escape the extractor's rule exists for: `e -> d/..` with
    /// `d -> .` looks inside lexically but leads to the folder above (tar-rs CVE-2021-38511 class).
    #[test]
    fn resolver_sees_escapes_through_other_links() {
        let scratch = Scratch::new("walk-test").unwrap();
        let root = fs::canonicalize(scratch.path()).unwrap().join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/x"), "x").unwrap();
        symlink(".", root.join("d")).unwrap();
        symlink("d/..", root.join("e")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../sub/x", root.join("sub/up")).unwrap();
        symlink("sub/../..", root.join("lexical")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("missing/../../..", root.join("dangling")).unwrap();
        for inside in ["d", "sub/up", "loop1", "dangling"] {
            assert_eq!(
                resolve_inside(&root, &root.join(inside)),
                Ok(()),
                "{inside}"
            );
        }
        for escape in ["e", "abs", "lexical"] {
            assert!(
                resolve_inside(&root, &root.join(escape)).is_err(),
                "{escape}"
            );
        }
        // The walk lists links but never enters them (`d` leads back to the root).
        let paths: Vec<_> = tree(&root).unwrap().into_iter().map(|(p, _)| p).collect();
        let d = root.join("d");
        assert!(paths.contains(&root.join("sub/up")) && paths.contains(&d));
        assert!(!paths.iter().any(|p| p != &d && p.starts_with(&d)));
    }
}
