//! The published names, packed many users to a parameter.
//!
//! Parameter Store's standard tier holds 10,000 parameters an account and
//! Region, 4 KB each: one parameter a user stops at 10,000 users. Here a
//! parameter holds every user whose stable hash ([`key::user_hash`]) starts
//! with its bits ([`leaf::LeafId`]), one short line each ([`leaf::Leaf`]);
//! a parameter that would outgrow its tier's limit splits in two by the
//! next bit of the hash, so the layout starts as one parameter and grows
//! with its users; a split's halves are names never used (a deleted name
//! cannot be created again for about 30 seconds). A leaf that loses a
//! user's name moves to its other name, and the parameter that held it is
//! deleted with every version of it ([`value`]).
//!
//! Every entry carries its user's revision, so a merge never goes backwards
//! and merging the same change twice changes nothing.

pub mod key;
pub mod layout;
pub mod leaf;
pub mod reader;
pub mod store;
pub mod summary;
#[cfg(test)]
mod tests;
pub mod value;

pub use crate::parameter_tier::Tier;
pub use key::{UserKey, user_hash};
pub use layout::{Layout, LayoutError, Plan, Put};
pub use leaf::{Entry, Leaf, LeafError, LeafId, MAX_NAME_BYTES, Merged};
pub use reader::{Held, NamesReader};
pub use store::{NamesPaths, PathLeaves, Search, find_path, layout_of, read_summary};
pub use summary::Summary;
pub use value::{Generation, Placed, ROTATION_GAP_SECS, Side, read_value};
