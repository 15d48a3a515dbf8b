//! Finding a user's leaf in Parameter Store without listing the leaves:
//! the summary says at which depths leaves are; both names of the leaves
//! on the user's hash path at those depths are asked for, ten names a
//! `GetParameters` call, and the deepest leaf that exists holds the user
//! (under the name of its higher generation, when a rotation left both).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use crate::error::PortError;
use crate::names::layout::Layout;
use crate::names::leaf::LeafId;
use crate::names::summary::Summary;
use crate::names::value::{Placed, Side, read_value};
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

    /// `/<prefix>/names/<depth>.<bits>`, and `.b` after it for side B.
    pub fn leaf(&self, id: LeafId, side: Side) -> String {
        format!("{}/{}{}", self.base, id.segment(), side.suffix())
    }

    /// `/<prefix>/names/summary`: how many leaves at each depth and tier.
    pub fn summary(&self) -> String {
        format!("{}/summary", self.base)
    }

    /// The leaf and side a parameter name holds, `None` for any other name.
    pub fn leaf_id(&self, name: &str) -> Option<(LeafId, Side)> {
        let segment = name.strip_prefix(&self.base)?.strip_prefix('/')?;
        let (segment, side) = match segment.strip_suffix(Side::B.suffix()) {
            Some(segment) => (segment, Side::B),
            None => (segment, Side::A),
        };
        Some((LeafId::parse_segment(segment)?, side))
    }
}

/// The layout a set of parameters holds (every leaf among them, by name,
/// under its higher generation; any other parameter left out): what a
/// reader of all of them sees.
pub fn layout_of<'a>(
    paths: &NamesPaths,
    parameters: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Layout {
    let mut leaves: BTreeMap<LeafId, Placed> = BTreeMap::new();
    for (name, value) in parameters {
        let (Some((id, _)), Ok(placed)) = (paths.leaf_id(name), read_value(value)) else {
            continue;
        };
        match leaves.get(&id) {
            Some(held) if held.generation >= placed.generation => {}
            _ => {
                leaves.insert(id, placed);
            }
        }
    }
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathLeaves {
    /// Shallowest first, each under its higher generation's name.
    pub found: Vec<(LeafId, Side, Placed)>,
    /// Names a rotation left behind (its delete did not happen yet).
    pub superseded: Vec<(LeafId, Side)>,
    /// Names whose values this layout did not write.
    pub unreadable: Vec<(LeafId, Side)>,
}

impl PathLeaves {
    /// The leaf that holds the path's users, and its value.
    pub fn holder(&self) -> Option<&(LeafId, Side, Placed)> {
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
    let mut path = PathLeaves::default();
    let mut newest: BTreeMap<LeafId, (Side, Placed)> = BTreeMap::new();
    for (id, side, value) in found {
        let Ok(placed) = read_value(&value) else {
            path.unreadable.push((id, side));
            continue;
        };
        match newest.remove(&id) {
            Some((held_side, held)) if held.generation >= placed.generation => {
                path.superseded.push((id, side));
                newest.insert(id, (held_side, held));
            }
            Some((held_side, _)) => {
                path.superseded.push((id, held_side));
                newest.insert(id, (side, placed));
            }
            None => {
                newest.insert(id, (side, placed));
            }
        }
    }
    // A BTreeMap of leaves on one path: shallowest first.
    path.found = newest
        .into_iter()
        .map(|(id, (side, placed))| (id, side, placed))
        .collect();
    Ok(path)
}

/// Both names of the leaves at `depths` on a hash's path, ten names a call.
async fn ask(
    store: &dyn NamesStore,
    paths: &NamesPaths,
    hash: u64,
    depths: &[u8],
) -> Result<Vec<(LeafId, Side, String)>, PortError> {
    let names: Vec<String> = depths
        .iter()
        .flat_map(|depth| Side::BOTH.map(|side| paths.leaf(LeafId::of(hash, *depth), side)))
        .collect();
    let mut found = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        for (name, value) in store.get_many(chunk).await? {
            if let Some((id, side)) = paths.leaf_id(&name) {
                found.push((id, side, value));
            }
        }
    }
    Ok(found)
}
