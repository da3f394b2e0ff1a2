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
