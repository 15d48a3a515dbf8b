//! The project-local Python venvs the tests run their tools from, each
//! holding exactly the requirements pinned in a file of the repository.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::workspace;

/// A project-local Python venv holding exactly the requirements pinned in a
/// file of the repository.
#[derive(Debug, Clone, Copy)]
pub struct Venv {
    /// The venv's folder, at the workspace root.
    dir: &'static str,
    /// The pinned requirements, relative to the workspace root.
    requirements: &'static str,
}

impl Venv {
    /// moto's server, the AWS API emulator.
    pub const EMULATOR: Venv = Venv {
        dir: ".venv",
        requirements: "tests/moto/requirements.txt",
    };
    /// The template's linters and the Lambda release build.
    pub const INFRA: Venv = Venv {
        dir: ".venv-infra",
        requirements: "tests/infra/requirements.txt",
    };
    /// The SAM CLI and translator (their pins conflict with checkov's).
    pub const SAM: Venv = Venv {
        dir: ".venv-sam",
        requirements: "tests/sam/requirements.txt",
    };

    /// The venv's Python, the venv built first when needed.
    pub fn python(self) -> Result<PathBuf, String> {
        self.tool("python")
    }

    /// A program the venv installed (`cfn-lint`, `cargo-lambda`, ...), the
    /// venv built first when needed.
    pub fn tool(self, name: &str) -> Result<PathBuf, String> {
        self.ensure(&workspace())?;
        Ok(workspace().join(self.dir).join("bin").join(name))
    }

    /// Makes the venv hold exactly the pinned requirements, once.
    fn ensure(self, root: &Path) -> Result<(), String> {
        let venv = root.join(self.dir);
        let python = venv.join("bin/python");
        let requirements = root.join(self.requirements);
        let wanted = std::fs::read_to_string(&requirements)
            .map_err(|err| format!("{}: {err}", requirements.display()))?;
        let stamp = venv.join("onboard-requirements.txt");
        let ready =
            || python.exists() && std::fs::read_to_string(&stamp).ok().as_ref() == Some(&wanted);
        if ready() {
            return Ok(());
        }

        // Several test processes may get here at once: one builds, the others wait.
        with_lock(self.dir, || {
            if ready() {
                return Ok(());
            }
            if !python.exists() {
                let base = std::env::var("ONBOARD_PYTHON").unwrap_or_else(|_| "python3".to_owned());
                run(Command::new(&base).args(["-m", "venv"]).arg(&venv))
                    .map_err(|err| format!("creating {} with {base}: {err}", venv.display()))?;
            }
            run(Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements))
            .map_err(|err| format!("installing {}: {err}", requirements.display()))?;
            std::fs::write(&stamp, &wanted).map_err(|err| format!("{}: {err}", stamp.display()))?;
            Ok(())
        })
    }
}

/// Runs `f` holding `<name>.lock` at the workspace root, so that test
/// processes running side by side install a thing once.
pub(crate) fn with_lock(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let path = workspace().join(format!("{name}.lock"));
    let lock = File::create(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    lock.lock()
        .map_err(|err| format!("locking {}: {err}", path.display()))?;
    f()
}

/// Runs a command to its end; its standard error when it fails.
pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|err| err.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
