//! The published names, packed many users to a parameter.
//!
//! Parameter Store's standard tier holds 10,000 parameters an account and
//! Region, 4 KB each: one parameter a user stops at 10,000 users. Here a
//! parameter holds every user whose stable hash ([`key::user_hash`]) starts
//! with its bits ([`leaf::LeafId`]), one short line each ([`leaf::Leaf`]);
//! a parameter that would outgrow its tier's limit splits in two by the
//! next bit of the hash, so the layout starts as one parameter and grows
//! with its users, and a parameter is never written again under a name it
//! had (a deleted name cannot be reused for about 30 seconds).
//!
//! Every entry carries its user's revision, so a merge never goes backwards
//! and merging the same change twice changes nothing.

pub mod key;
pub mod layout;
pub mod leaf;
pub mod reader;
pub mod store;
#[cfg(test)]
mod tests;

pub use crate::parameter_tier::Tier;
pub use key::{UserKey, user_hash};
pub use layout::{Layout, LayoutError, Placed, Plan, Put, Summary};
pub use leaf::{Entry, Leaf, LeafError, LeafId, MAX_NAME_BYTES, Merged, read_value, value_of};
pub use reader::NamesReader;
pub use store::{NamesPaths, PathLeaves, Search, find_path, layout_of, read_summary};
