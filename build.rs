//! Embeds `bundle-templates/` into `bundle`, so `bundle new DIR --template NAME` works from an
//! installed binary, far from this repository. Generates `$OUT_DIR/templates.rs`: a sorted table of
//! (template, relative path, mode, bytes) that `src/templates.rs` includes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let templates = root.join("bundle-templates");
    println!("cargo:rerun-if-changed=bundle-templates");
    let mut files = Vec::new();
    walk(&templates, &mut files);
    let mut table = String::from(
        "/// Every file of every template: (template, path inside it, mode, contents).\n",
    );
    table.push_str("pub static FILES: &[(&str, &str, u32, &[u8])] = &[\n");
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let rel = path
            .strip_prefix(&templates)
            .expect("walked under the templates folder");
        let mut parts = rel.components();
        let Some(name) = parts.next() else { continue };
        let inner = parts.as_path();
        if inner.as_os_str().is_empty() {
            continue; // a loose file beside the templates, not inside one
        }
        let mode = fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o755)
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
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("templates.rs");
    fs::write(out, table).expect("write the templates table");
}
