//! Target `plan`: arbitrary bytes as the one file an attacker controls in an unpacked bundle that
//! [`plan_unpacked`] parses, beside a fixed set of module folders. The first byte picks which file:
//! even, the rest is `start-up-bundle/bundle.json` (JSON, digests, run order from the manifest);
//! odd, there is no manifest and the rest is `beta/module.toml` (TOML, `requires`, ordering by
//! hand). Checks that it never panics and that a plan it accepts only names real module and data
//! folders inside the bundle, allowed script names inside them, each folder once, in an order that
//! puts every module after the ones it requires (data folders, never run, count as before all).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use startup_bundle::personality::{
    ARCHIVE_TOP, INIT_SCRIPTS, MANIFEST_NAME, MODULE_TOML, Plan, START_SCRIPTS, plan_unpacked,
    validate_module_name,
};

use crate::Verdict;
use crate::scratch::Scratch;

/// The names `plan_unpacked` falls back to when there is no manifest.
const FALLBACK_NAME: &str = "fallback";
const FALLBACK_VERSION: &str = "0";
/// The folder standing for the unpacked bundle inside the scratch folder.
const UNPACKED: &str = "unpacked";
/// The module whose `module.toml` the input becomes in [`Input::ModuleToml`] mode.
const TOML_MODULE: &str = "beta";
/// Scripts are executable, like those `bundle pack` writes.
const SCRIPT_MODE: u32 = 0o755;

/// Which file the input becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// `start-up-bundle/bundle.json`.
    Manifest,
    /// `start-up-bundle/beta/module.toml`, with no manifest.
    ModuleToml,
}

impl Input {
    /// The first byte of a fuzz input that selects this mode.
    pub fn selector(self) -> u8 {
        match self {
            Input::Manifest => 0,
            Input::ModuleToml => 1,
        }
    }

    fn from_selector(byte: u8) -> Input {
        if byte & 1 == 0 {
            Input::Manifest
        } else {
            Input::ModuleToml
        }
    }
}

/// Plans one input beside the fixed modules and checks the plan. Panics on a broken invariant.
pub fn check(data: &[u8]) -> Verdict {
    let Some((&selector, content)) = data.split_first() else {
        return Verdict::Refused;
    };
    let mode = Input::from_selector(selector);
    let scratch = match Scratch::new("plan") {
        Ok(s) => s,
        Err(e) => panic!("cannot make a scratch folder (not a finding; fix the machine): {e}"),
    };
    let unpacked = scratch.path().join(UNPACKED);
    if let Err(e) = write_fixture(&unpacked, mode, content) {
        panic!("cannot set up {} (not a finding): {e}", unpacked.display());
    }
    match plan_unpacked(&unpacked, FALLBACK_NAME, FALLBACK_VERSION) {
        Ok(plan) => {
            check_plan(&plan, &unpacked, mode);
            Verdict::Accepted
        }
        Err(_) => Verdict::Refused,
    }
}

/// Writes the module folders, with `content` as the file `mode` names.
///
/// `alpha` (start, init, a file in a subfolder and a symlink to it), `beta` (start.sh, requiring
/// alpha), `gamma` (no start script: skipped), `.hidden` (skipped), and `up`, a symlink to the
/// folder above, which must never be taken for a module folder.
pub fn write_fixture(unpacked: &Path, mode: Input, content: &[u8]) -> io::Result<()> {
    let top = unpacked.join(ARCHIVE_TOP);
    let alpha = top.join("alpha");
    let beta = top.join(TOML_MODULE);
    fs::create_dir_all(alpha.join("lib"))?;
    fs::create_dir_all(&beta)?;
    fs::create_dir_all(top.join("gamma"))?;
    fs::create_dir_all(top.join(".hidden"))?;
    script(&alpha.join("start"), "echo alpha\n")?;
    script(&alpha.join("init"), "echo once\n")?;
    fs::write(alpha.join("lib/helper.sh"), "helper() { :; }\n")?;
    symlink("lib/helper.sh", alpha.join("helper"))?;
    script(&beta.join("start.sh"), "echo beta\n")?;
    fs::write(top.join("gamma/notes.txt"), "no start script here\n")?;
    script(&top.join(".hidden/start"), "echo hidden\n")?;
    symlink("..", top.join("up"))?;
    match mode {
        Input::Manifest => {
            fs::write(beta.join(MODULE_TOML), "requires = [\"alpha\"]\n")?;
            fs::write(top.join(MANIFEST_NAME), content)
        }
        Input::ModuleToml => fs::write(beta.join(MODULE_TOML), content),
    }
}

fn script(path: &Path, body: &str) -> io::Result<()> {
    fs::write(path, format!("#!/bin/sh\n{body}"))?;
    fs::set_permissions(path, fs::Permissions::from_mode(SCRIPT_MODE))
}

/// What an accepted plan must look like.
fn check_plan(plan: &Plan, unpacked: &Path, mode: Input) {
    assert_eq!(
        plan.from_manifest,
        mode == Input::Manifest,
        "the plan's source does not match the files present"
    );
    assert!(
        plan.root.starts_with(unpacked),
        "the plan's root {} is outside {}",
        plan.root.display(),
        unpacked.display()
    );
    let mut earlier = BTreeSet::new();
    for d in &plan.data {
        assert!(
            validate_module_name(&d.name).is_ok(),
            "planned data folder {:?} has a name the rules refuse",
            d.name
        );
        assert_eq!(
            d.dir,
            plan.root.join(&d.name),
            "data {} lives elsewhere",
            d.name
        );
        assert!(
            fs::symlink_metadata(&d.dir).is_ok_and(|md| md.is_dir()),
            "data folder {} is not a real folder: {}",
            d.name,
            d.dir.display()
        );
        assert!(
            earlier.insert(d.name.as_str()),
            "data folder {} planned twice",
            d.name
        );
    }
    for m in &plan.modules {
        assert!(
            validate_module_name(&m.name).is_ok(),
            "planned module {:?} has a name the rules refuse",
            m.name
        );
        assert_eq!(
            m.dir,
            plan.root.join(&m.name),
            "module {} lives elsewhere",
            m.name
        );
        assert!(
            fs::symlink_metadata(&m.dir).is_ok_and(|md| md.is_dir()),
            "module {} is not a real folder: {}",
            m.name,
            m.dir.display()
        );
        check_script(&m.name, &m.dir, &m.start, START_SCRIPTS);
        if let Some(init) = &m.init {
            check_script(&m.name, &m.dir, init, INIT_SCRIPTS);
        }
        for r in &m.requires {
            assert!(
                earlier.contains(r.as_str()),
                "module {} runs before {r}, which it requires",
                m.name
            );
        }
        assert!(
            earlier.insert(m.name.as_str()),
            "module {} planned twice",
            m.name
        );
    }
}

fn check_script(module: &str, dir: &Path, script: &Path, allowed: [&str; 2]) {
    assert_eq!(
        script.parent(),
        Some(dir),
        "module {module}'s script {} is not in its folder",
        script.display()
    );
    let name = script.file_name().and_then(|n| n.to_str()).unwrap_or("");
    assert!(
        allowed.contains(&name),
        "module {module}'s script {} is not one of {allowed:?}",
        script.display()
    );
}
