//! Erased users checked in every version of every parameter that could
//! hold them: the leaves on their hash path, under both names.

use onboard_shared::domain::UserId;
use onboard_shared::local::QuotaParameters;
use onboard_shared::names::{LeafId, NamesPaths, Side, UserKey, read_value, user_hash};

/// How many kept versions of any parameter still hold an erased user's
/// name (it must be none).
pub(crate) fn versions_holding(
    quota: &QuotaParameters,
    paths: &NamesPaths,
    erased: &[String],
) -> usize {
    let mut holding = 0;
    for sub in erased {
        let user = UserId::parse(sub).unwrap_or_else(|err| panic!("{sub}: {err}"));
        let (hash, key) = (user_hash(&user), UserKey::of(&user));
        for depth in 0..=LeafId::MAX_DEPTH {
            for side in Side::BOTH {
                let name = paths.leaf(LeafId::of(hash, depth), side);
                holding += quota
                    .history(&name)
                    .iter()
                    .filter_map(|value| read_value(value).ok())
                    .filter(|placed| placed.leaf.get(&key).is_some_and(|e| e.name.is_some()))
                    .count();
            }
        }
    }
    holding
}
