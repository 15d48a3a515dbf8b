//! Finding a user's leaf in Parameter Store without listing the leaves:
//! the summary says at which depths leaves are; the names on the user's
//! hash path at those depths are asked for, ten a `GetParameters` call,
//! and the deepest that exists holds the user.

use std::ops::RangeInclusive;

use crate::error::PortError;
use crate::names::layout::{Layout, Placed, Summary};
use crate::names::leaf::{LeafId, read_value};
use crate::ports::{NAMES_PER_CALL, NamesStore};
use crate::published::ParameterPrefix;

/// The parameters of the packed names, under `/<prefix>/names`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamesPaths {
    base: String,
}

impl NamesPaths {
    pub fn new(prefix: &ParameterPrefix) -> Self {
        Self {
            base: prefix.names_path(),
        }
    }

    /// `/<prefix>/names/<depth>.<bits>`.
    pub fn leaf(&self, id: LeafId) -> String {
        format!("{}/{}", self.base, id.segment())
    }

    /// `/<prefix>/names/summary`: how many leaves at each depth and tier.
    pub fn summary(&self) -> String {
        format!("{}/summary", self.base)
    }

    /// The leaf a parameter name holds, `None` for any other name.
    pub fn leaf_id(&self, name: &str) -> Option<LeafId> {
        let segment = name.strip_prefix(&self.base)?.strip_prefix('/')?;
        LeafId::parse_segment(segment)
    }
}

/// The layout a set of parameters holds (every leaf among them, by name;
/// any other parameter left out): what a reader of all of them sees.
pub fn layout_of<'a>(
    paths: &NamesPaths,
    parameters: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Layout {
    let leaves = parameters.into_iter().filter_map(|(name, value)| {
        let id = paths.leaf_id(name)?;
        let (tier, leaf) = read_value(value).ok()?;
        Some((id, Placed { tier, leaf }))
    });
    Layout::of(usize::MAX, leaves)
}

/// The summary the writer last wrote; `None` before the first user.
///
/// # Errors
///
/// When the store cannot be read, or holds a summary this layout did not write.
pub async fn read_summary(
    store: &dyn NamesStore,
    paths: &NamesPaths,
) -> Result<Option<Summary>, PortError> {
    let name = paths.summary();
    let found = store.get_many(std::slice::from_ref(&name)).await?;
    found
        .get(&name)
        .map(|value| {
            serde_json::from_str(value).map_err(|err| {
                PortError::rejected("GetParameters", format!("the summary does not read: {err}"))
            })
        })
        .transpose()
}

/// The leaves on one hash path that exist: the deepest holds the user; any
/// other is a leaf that split and whose delete did not happen yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathLeaves {
    /// Shallowest first.
    pub found: Vec<(LeafId, String)>,
}

impl PathLeaves {
    /// The leaf that holds the path's users, and its value.
    pub fn holder(&self) -> Option<&(LeafId, String)> {
        self.found.last()
    }
}

/// How far [`find_path`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// At the summary's depths only (a reader: a leaf the summary does not
    /// count yet is read once it does).
    Summary,
    /// At every other depth too when none is there (the writer: a summary
    /// behind the layout must not make it open a leaf that exists).
    Everywhere,
}

/// The leaves on a hash's path, asked for at `depths` (ten a call) and, as
/// `search` says, at every other depth when none is there.
///
/// # Errors
///
/// When the store cannot be read.
pub async fn find_path(
    store: &dyn NamesStore,
    paths: &NamesPaths,
    hash: u64,
    depths: RangeInclusive<u8>,
    search: Search,
) -> Result<PathLeaves, PortError> {
    let first: Vec<u8> = depths.clone().collect();
    let mut found = ask(store, paths, hash, &first).await?;
    if found.is_empty() && search == Search::Everywhere {
        let rest: Vec<u8> = (0..=LeafId::MAX_DEPTH)
            .filter(|depth| !depths.contains(depth))
            .collect();
        found = ask(store, paths, hash, &rest).await?;
    }
    found.sort_by_key(|(id, _)| id.depth());
    Ok(PathLeaves { found })
}

async fn ask(
    store: &dyn NamesStore,
    paths: &NamesPaths,
    hash: u64,
    depths: &[u8],
) -> Result<Vec<(LeafId, String)>, PortError> {
    let mut found = Vec::new();
    for chunk in depths.chunks(NAMES_PER_CALL) {
        let names: Vec<String> = chunk
            .iter()
            .map(|depth| paths.leaf(LeafId::of(hash, *depth)))
            .collect();
        for (name, value) in store.get_many(&names).await? {
            if let Some(id) = paths.leaf_id(&name) {
                found.push((id, value));
            }
        }
    }
    Ok(found)
}
