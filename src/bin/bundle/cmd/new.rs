//! `bundle new DIR [--template NAME]`, `bundle new --list`.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::templates;

use super::{Ctx, done, println};

/// `new`'s flags.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The folder to create
    #[arg(required_unless_present = "list")]
    pub dir: Option<PathBuf>,
    /// The template
    #[arg(long, value_name = "NAME", default_value = templates::DEFAULT_TEMPLATE)]
    pub template: String,
    /// The personality's name (bundle.toml's `name`, the pointer NAME.latest) [default: DIR's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// List the templates
    #[arg(long)]
    pub list: bool,
}

impl NewArgs {
    /// Writes the template into DIR, or lists the templates.
    pub fn run(self, _ctx: &Ctx) -> Result<ExitCode, Failure> {
        if self.list {
            for name in templates::names() {
                println(&format!("{name:<16} {}", templates::summary(name)))?;
            }
            return done();
        }
        let Some(dir) = self.dir else {
            return Err(Failure::usage("name the folder to create: bundle new DIR"));
        };
        let name = self.name.unwrap_or_else(|| templates::default_name(&dir));
        let files = templates::write(&self.template, &dir, &name)?;
        println(&format!(
            "wrote the {} template into {} ({files} files) as the personality {name}",
            self.template,
            dir.display()
        ))?;
        println(&format!(
            "next: bundle check {0}, then bundle try {0}",
            dir.display()
        ))?;
        done()
    }
}
