//! Builds the six functions as Lambda ships them (`cargo lambda build
//! --release`, the command `sam build` runs) and prints each binary's size
//! against its budget (6 MiB; the greeting's 6.5, see `release::budget`); exits 1
//! when one is over.
//!
//! ```sh
//! cargo run -p onboard-tests --bin lambda-release            # x86_64, and arm64 where installed
//! cargo run -p onboard-tests --bin lambda-release -- arm64   # arm64 only
//! ```
//!
//! cargo-lambda and zig (which links the arm64 build) come from the infra
//! venv. arm64 needs Rust's `aarch64-unknown-linux-gnu` target; without it,
//! that build is skipped and the report says so.

use std::process::{Command, ExitCode};

use onboard_tests::release::{self, FUNCTIONS, budget};
#[derive(Debug, Clone, Copy)]
struct Arch {
    name: &'static str,
    rust_target: &'static str,
    flag: Option<&'static str>,
}

const X86_64: Arch = Arch {
    name: "x86_64",
    rust_target: "x86_64-unknown-linux-gnu",
    flag: None,
};
const ARM64: Arch = Arch {
    name: "arm64",
    rust_target: "aarch64-unknown-linux-gnu",
    flag: Some("--arm64"),
};

fn main() -> ExitCode {
    let asked: Vec<String> = std::env::args().skip(1).collect();
    let arches: Vec<Arch> = match asked.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => vec![X86_64, ARM64],
        ["x86_64"] => vec![X86_64],
        ["arm64"] => vec![ARM64],
        _ => {
            eprintln!("usage: lambda-release [x86_64|arm64]");
            return ExitCode::from(2);
        }
    };
    let explicit = !asked.is_empty();
    match run(&arches, explicit) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("lambda-release: {err}");
            ExitCode::from(2)
        }
    }
}

/// Builds and reports; true when every binary built is within budget.
fn run(arches: &[Arch], explicit: bool) -> Result<bool, String> {
    let installed = installed_targets();
    let mut within = true;
    let mut rows = Vec::new();
    for arch in arches {
        if !explicit && !installed.iter().any(|t| t == arch.rust_target) {
            println!(
                "{}: not built: Rust's {} target is not installed (rustup target add {})",
                arch.name, arch.rust_target, arch.rust_target
            );
            continue;
        }
        println!(
            "building {} for {}",
            release::PACKAGES.join(", "),
            arch.name
        );
        release::build(&release::PACKAGES, arch.flag, &release::out_dir(arch.name))
            .map_err(|err| format!("{}: {err}", arch.name))?;
        for function in FUNCTIONS {
            let path = release::bootstrap(arch.name, function);
            let bytes = std::fs::metadata(&path)
                .map_err(|err| format!("{}: {err}", path.display()))?
                .len();
            within &= bytes <= budget(function);
            rows.push((function, arch.name, bytes));
        }
    }
    println!();
    println!(
        "{:<20} {:<8} {:>12} {:>10}",
        "function", "arch", "bytes", "MiB"
    );
    for (function, arch, bytes) in &rows {
        #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
        let mib = *bytes as f64 / 1_048_576.0;
        #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
        let budget_mib = budget(function) as f64 / 1_048_576.0;
        let verdict = if *bytes <= budget(function) {
            String::new()
        } else {
            format!("  over the {budget_mib} MiB budget")
        };
        println!("{function:<20} {arch:<8} {bytes:>12} {mib:>10.2}{verdict}");
    }
    Ok(within)
}

/// Rust's installed targets (none known when rustup is not there).
fn installed_targets() -> Vec<String> {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
