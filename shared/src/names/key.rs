//! Where a user's name lives: a compact key for the user inside a value, and
//! a stable 64-bit hash that picks the parameter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::domain::{UserId, uuid_text};

/// A user as written inside a parameter of names: a Cognito `sub` (a UUID
/// in its canonical lowercase form) as its 16 bytes in base64url, 22
/// characters instead of 36; any other id as `~` and the id itself (`~` is
/// not a character an id may hold, so the two never meet).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserKey(String);

/// The marker of a key that is the id itself.
const RAW: char = '~';

impl UserKey {
    pub fn of(user: &UserId) -> Self {
        match uuid_bytes(user.as_str()) {
            Some(bytes) => Self(URL_SAFE_NO_PAD.encode(bytes)),
            None => Self(format!("{RAW}{}", user.as_str())),
        }
    }

    /// The key as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key read back from a value; `None` when it is not one this
    /// layout writes.
    pub fn parse(raw: &str) -> Option<Self> {
        let key = Self(raw.to_owned());
        key.user_id().map(|_| key)
    }

    /// The user this key stands for.
    pub fn user_id(&self) -> Option<UserId> {
        if let Some(raw) = self.0.strip_prefix(RAW) {
            return UserId::parse(raw).ok();
        }
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).ok()?;
        let bytes: [u8; 16] = bytes.try_into().ok()?;
        UserId::parse(uuid_text(&bytes)).ok()
    }
}

/// The stable hash of a user: the first eight bytes of the SHA-256 of its
/// id, big-endian. It never changes between releases: it is where every
/// published name already is.
pub fn user_hash(user: &UserId) -> u64 {
    let digest = Sha256::digest(user.as_str().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The 16 bytes of a UUID in canonical lowercase form (8-4-4-4-12), else
/// `None`: an uppercase or unhyphenated id would not come back the same.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    let bytes = id.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let value = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        out[nibbles / 2] |= if nibbles % 2 == 0 { value << 4 } else { value };
        nibbles += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    #[test]
    fn a_cognito_sub_is_22_characters_and_comes_back() {
        let sub = id("1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9");
        let key = UserKey::of(&sub);
        assert_eq!(key.as_str().len(), 22);
        assert_eq!(UserKey::parse(key.as_str()).unwrap().user_id(), Some(sub));
    }

    #[test]
    fn any_other_id_is_kept_as_it_is_and_never_taken_for_a_sub() {
        // 22 characters of the base64url alphabet, as a packed sub is.
        for raw in [
            "8f1e",
            "1B2C3D4E-5F60-4718-8293-A4B5C6D7E8F9",
            "1b2c3d4e5f6047188293a4b5c6d7e8f9",
            "abcdefghijklmnopqrstuv",
        ] {
            let key = UserKey::of(&id(raw));
            assert_eq!(key.as_str(), format!("~{raw}"));
            assert_eq!(key.user_id(), Some(id(raw)));
        }
    }

    #[test]
    fn the_hash_is_the_same_in_every_release() {
        // Pinned (the SHA-256 of "a" begins ca978112ca1bbdca): a change
        // here would move every published name.
        assert_eq!(user_hash(&id("a")), 0xca97_8112_ca1b_bdca);
    }
}
