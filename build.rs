//! Embeds `bundle-templates/` and the standard module library `modules/` into the library crate,
//! so `bundle new DIR --template NAME` and `bundle.toml`'s `modules = ["base"]` work from an
//! installed `bundle`, far from this repository. Generates `$OUT_DIR/templates.rs` and
//! `$OUT_DIR/modules.rs`: each a sorted table of (folder, relative path, mode, bytes) that
//! `src/templates.rs` and `src/personality/builtin.rs` include. `bundle-bootstrap` never refers
//! to either table, so the linker leaves them out of it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Permission bits kept: read and execute; write bits and the rest are the extractor's choice.
const MODE_MASK: u32 = 0o755;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, out);
        } else if meta.is_file() {
            out.push(path);
        }
    }
}

/// The table of every file inside the folders of `root/folder`, as Rust source. Loose files
/// beside those folders (a README, `.shellcheckrc`) are not part of any of them.
fn table(root: &Path, folder: &str, doc: &str) -> String {
    let base = root.join(folder);
    println!("cargo:rerun-if-changed={folder}");
    let mut files = Vec::new();
    walk(&base, &mut files);
    let mut table = format!("/// {doc}: (folder, path inside it, mode, contents).\n");
    table.push_str("pub static FILES: &[(&str, &str, u32, &[u8])] = &[\n");
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let rel = path.strip_prefix(&base).expect("walked under the folder");
        let mut parts = rel.components();
        let Some(name) = parts.next() else { continue };
        let inner = parts.as_path();
        if inner.as_os_str().is_empty() {
            continue; // a loose file beside the folders, not inside one
        }
        let mode = fs::metadata(&path)
            .map(|m| m.permissions().mode() & MODE_MASK)
            .unwrap_or(0o644);
        table.push_str(&format!(
            "    ({:?}, {:?}, 0o{:o}, include_bytes!({:?})),\n",
            name.as_os_str().to_string_lossy(),
            inner.to_string_lossy(),
            mode,
            path.to_string_lossy()
        ));
    }
    table.push_str("];\n");
    table
}

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (folder, file, doc) in [
        (
            "bundle-templates",
            "templates.rs",
            "Every file of every template",
        ),
        (
            "modules",
            "modules.rs",
            "Every file of every module of the standard library",
        ),
    ] {
        fs::write(out.join(file), table(&root, folder, doc)).expect("write a table");
    }
    // The static bootstraps (.ci/dist builds them for musl): no unwind tables in the file, about
    // 420 KiB of the x86_64 one. The release profile aborts on panic, so nothing unwinds; only a
    // backtrace would read them (`RUST_BACKTRACE` then shows no frames; a panic still prints its
    // message and location).
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("musl") {
        let script = root.join("build/no-unwind-tables.ld");
        println!("cargo:rerun-if-changed=build/no-unwind-tables.ld");
        println!(
            "cargo:rustc-link-arg-bin=bundle-bootstrap=-Wl,-T,{}",
            script.display()
        );
        println!("cargo:rustc-link-arg-bin=bundle-bootstrap=-Wl,--no-eh-frame-hdr");
    }
}
