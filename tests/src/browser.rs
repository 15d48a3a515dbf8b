//! What the browser tests need, installed by the project itself the first
//! time a test asks: Debian's `chromium` (and Node.js, where the machine has
//! none) with `apt-get`, and the pinned `playwright-core` of
//! `tests/browser/package-lock.json` with `npm ci`. Each under a file lock,
//! so test processes running side by side install once.
//!
//! `ONBOARD_CHROMIUM` names another Chromium to drive.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, with_lock, workspace};

/// The browser tests' folder: the test scripts and their package.
pub fn browser_tests() -> PathBuf {
    workspace().join("tests/browser")
}

/// The Chromium to drive, installed from Debian's packages when missing.
pub fn chromium() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("ONBOARD_CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    let found = || which("chromium");
    if let Some(path) = found() {
        return Ok(path);
    }
    with_lock(".chromium", || {
        if found().is_none() {
            apt_install(&["chromium"])?;
        }
        Ok(())
    })?;
    found().ok_or_else(|| "apt-get installed chromium, but it is not on the PATH".to_owned())
}

/// `node`, with `playwright-core` installed in the browser tests' folder.
pub fn node_with_playwright() -> Result<PathBuf, String> {
    let dir = browser_tests();
    let lock = std::fs::read_to_string(dir.join("package-lock.json"))
        .map_err(|err| format!("tests/browser/package-lock.json: {err}"))?;
    let stamp = dir.join("node_modules/onboard-package-lock.json");
    let ready = || std::fs::read_to_string(&stamp).ok().as_ref() == Some(&lock);
    with_lock(".node", || {
        if which("node").is_none() || which("npm").is_none() {
            apt_install(&["nodejs", "npm"])?;
        }
        if !ready() {
            run(Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir))
            .map_err(|err| format!("npm ci in tests/browser: {err}"))?;
            std::fs::write(&stamp, &lock).map_err(|err| format!("{}: {err}", stamp.display()))?;
        }
        Ok(())
    })?;
    which("node").ok_or_else(|| "node is not on the PATH".to_owned())
}

/// Installs Debian packages: what the project's own files do on a fresh
/// machine (CI runs as root, as the development machines do).
fn apt_install(packages: &[&str]) -> Result<(), String> {
    let apt = |args: &[&str]| {
        run(Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    let hint = || {
        format!(
            "install Debian's {} (apt-get install {}), as root",
            packages.join(" and "),
            packages.join(" ")
        )
    };
    apt(&["update", "-qq"]).map_err(|err| format!("apt-get update: {err}; {}", hint()))?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    apt(&install).map_err(|err| format!("apt-get install: {err}; {}", hint()))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| is_executable(path))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
