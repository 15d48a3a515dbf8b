//! What the packed names hold, read as a reader of every parameter would.

use std::collections::BTreeMap;

use onboard_shared::names::{NamesPaths, layout_of};
use onboard_shared::published::ParameterPrefix;

/// One user's published entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The display name; `None` once removed, or when the user has none.
    pub name: Option<String>,
    pub version: u64,
    pub removed: bool,
}

/// Every user the parameters under `prefix` hold, by id.
pub fn names_in(prefix: &str, parameters: &BTreeMap<String, String>) -> BTreeMap<String, Name> {
    let paths = NamesPaths::new(
        &ParameterPrefix::parse(prefix).unwrap_or_else(|err| panic!("{prefix}: {err}")),
    );
    let layout = layout_of(&paths, parameters);
    let mut names = BTreeMap::new();
    for (_, placed) in layout.leaves() {
        for (key, entry) in placed.leaf.entries() {
            let Some(user) = key.user_id() else { continue };
            names.insert(
                user.as_str().to_owned(),
                Name {
                    name: entry.name.clone(),
                    version: entry.revision.version.get(),
                    removed: entry.revision.removed,
                },
            );
        }
    }
    names
}

/// The parameters of a replay's JSON report (`parameters`: name and value).
pub fn reported(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["parameters"]
        .as_array()
        .map(|parameters| {
            parameters
                .iter()
                .filter_map(|p| {
                    Some((
                        p["name"].as_str()?.to_owned(),
                        p["value"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}
