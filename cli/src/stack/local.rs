//! What this folder says of an emulator used here before: a person whose
//! command finds no AWS credentials most likely meant the emulator, when
//! the folder holds local state or an endpoint given on an earlier run.

use std::path::Path;

/// The folder every local run keeps its state in.
const LOCAL_DIR: &str = ".onboard";
/// The loopback endpoint the last stack command here was given.
const LAST_ENDPOINT: &str = ".onboard/endpoint";

/// Notes a loopback endpoint given to a command run in a folder that keeps
/// local state (`.onboard/`, which `replay` and `dev` make), for the hint;
/// any other folder is left as it is. Best effort: a folder that cannot be
/// written to only loses the hint.
pub(super) fn remember_endpoint(url: &str) {
    if Path::new(LOCAL_DIR).is_dir() {
        let _ = std::fs::write(LAST_ENDPOINT, format!("{url}\n"));
    }
}

/// The credentials line, with the way to an emulator when this folder was
/// used with one (still one line).
pub(super) fn with_endpoint_hint(line: String) -> String {
    hint_in(Path::new("."), line)
}

fn hint_in(folder: &Path, line: String) -> String {
    let last = std::fs::read_to_string(folder.join(LAST_ENDPOINT))
        .ok()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty() && !url.contains(char::is_whitespace));
    match last {
        Some(url) => format!(
            "{line}; or, for the emulator used here before, --endpoint-url {url} (or AWS_ENDPOINT_URL)"
        ),
        None if folder.join(LOCAL_DIR).is_dir() => {
            format!("{line}; or, for a local emulator, --endpoint-url URL (or AWS_ENDPOINT_URL)")
        }
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_names_the_endpoint_used_before_or_the_flag_where_local_state_is() {
        let folder = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let line = || "no AWS credentials were found: set AWS_PROFILE".to_owned();
        assert_eq!(hint_in(folder.path(), line()), line(), "nothing local here");

        std::fs::create_dir(folder.path().join(LOCAL_DIR)).unwrap_or_else(|err| panic!("{err}"));
        let hinted = hint_in(folder.path(), line());
        assert!(
            hinted.contains("--endpoint-url URL (or AWS_ENDPOINT_URL)"),
            "{hinted}"
        );

        std::fs::write(folder.path().join(LAST_ENDPOINT), "http://127.0.0.1:5000\n")
            .unwrap_or_else(|err| panic!("{err}"));
        let hinted = hint_in(folder.path(), line());
        assert!(
            hinted.ends_with("--endpoint-url http://127.0.0.1:5000 (or AWS_ENDPOINT_URL)"),
            "{hinted}"
        );
        assert!(!hinted.contains('\n'), "{hinted}");
    }
}
