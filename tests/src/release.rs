//! The functions built as Lambda ships them: `cargo lambda build --release`,
//! the command `sam build` runs, with cargo-lambda (and zig, which links the
//! arm64 build) from the infra venv. The release report (`lambda-release`)
//! and the benchmark (`lambda-bench`) build through here.

use std::path::{Path, PathBuf};
use std::process::Command;

use onboard_shared::catalogue::Function;

use crate::{Venv, workspace};

/// The five functions, by package name (the catalogue's names).
pub const FUNCTIONS: [&str; 6] = [
    Function::PostConfirmation.name(),
    Function::StreamRouter.name(),
    Function::ArchiveConsumer.name(),
    Function::PublishConsumer.name(),
    Function::Greeting.name(),
    Function::Account.name(),
];

const MIB: u64 = 1024 * 1024;

/// The size a function's binary may reach. 6 MiB, but for the greeting:
/// for `GET /me/data` it reads Parameter Store, DynamoDB and S3, and S3's
/// client alone is 1.6 MiB of any binary that links it (6.24 MiB with the
/// SDK's crates at their smallest). The export could move to a function of
/// its own, which would then need the same three clients and the same
/// budget, but would keep the greeting's hot path lean: a question for the
/// cost work (docs/deploying.md).
pub fn budget(function: &str) -> u64 {
    if function == onboard_shared::catalogue::Function::Greeting.name() {
        13 * MIB / 2
    } else {
        6 * MIB
    }
}

/// The smallest `lambda_runtime` function, built with the same profile:
/// the floor the benchmark measures start-up against.
pub const HELLO: &str = "hello-lambda";

/// What a release build builds: the functions, and the floor beside them
/// (built together, so that the benchmark's build and the release report's
/// are one and the same).
pub const PACKAGES: [&str; 7] = [
    FUNCTIONS[0],
    FUNCTIONS[1],
    FUNCTIONS[2],
    FUNCTIONS[3],
    FUNCTIONS[4],
    FUNCTIONS[5],
    HELLO,
];

/// Where the build of `arch` (`x86_64`, `arm64`) puts each package's
/// `bootstrap`: `<dir>/<package>/bootstrap`.
pub fn out_dir(arch: &str) -> PathBuf {
    workspace().join("target/lambda-release").join(arch)
}

/// The `bootstrap` of `package` in the build of `arch`.
pub fn bootstrap(arch: &str, package: &str) -> PathBuf {
    out_dir(arch).join(package).join("bootstrap")
}

/// Builds `packages` for the architecture `flag` selects (none: x86_64,
/// `--arm64`) into `out_dir`.
///
/// # Errors
///
/// When cargo-lambda cannot be had or the build fails.
pub fn build(packages: &[&str], flag: Option<&str>, out_dir: &Path) -> Result<(), String> {
    let cargo_lambda = Venv::INFRA.tool("cargo-lambda")?;
    let mut command = Command::new(&cargo_lambda);
    command
        .args(["lambda", "build", "--release"])
        .args(flag)
        .arg("--lambda-dir")
        .arg(out_dir)
        .current_dir(workspace());
    for package in packages {
        command.args(["--package", package]);
    }
    // zig, for the arm64 link, is the venv's `python -m ziglang`.
    let venv_bin: PathBuf = cargo_lambda
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv_bin];
    paths.extend(std::env::split_paths(&path));
    command.env(
        "PATH",
        std::env::join_paths(paths).map_err(|err| err.to_string())?,
    );
    let status = command
        .status()
        .map_err(|err| format!("{} did not run: {err}", cargo_lambda.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo lambda build failed: {status}"))
    }
}
