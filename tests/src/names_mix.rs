//! Display names as a large user base has them, drawn reproducibly from a
//! seed: a median of about 12 characters, one in ten over 25, one in a
//! hundred at the 128-character maximum, and one in five outside ASCII
//! (accented Latin, CJK, emoji).

/// A stream of names and user ids from a seed.
#[derive(Debug, Clone)]
pub struct NameMix {
    state: u64,
}

const LATIN: &[char] = &[
    'a', 'e', 'i', 'o', 'u', 'n', 'r', 's', 't', 'l', 'm', 'd', 'k',
];
const ACCENTED: &[char] = &['é', 'è', 'ü', 'ö', 'ñ', 'ø', 'å', 'ç', 'ł', 'ș'];
const CJK: &[char] = &[
    '王', '李', '张', '刘', '陈', '杨', '黄', '赵', '山', '田', '中', '佐', '藤',
];
const EMOJI: &[char] = &['😀', '🚀', '🌸', '🎉', '💡', '🐙'];

impl NameMix {
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        }
    }

    /// The next number of a xorshift generator.
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A Cognito `sub`: a random (version 4) UUID.
    pub fn sub(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    /// A display name of the mix.
    pub fn name(&mut self) -> String {
        let length = match self.below(100) {
            0 => 128,
            1..=9 => 26 + self.below(35) as usize,
            _ => 5 + self.below(15) as usize,
        };
        let script = self.below(100);
        let mut name = String::new();
        for i in 0..length {
            let c = if i > 0 && i % 7 == 0 {
                ' '
            } else {
                match script {
                    0..=79 => LATIN[self.below(LATIN.len() as u64) as usize],
                    80..=87 if self.below(3) == 0 => {
                        ACCENTED[self.below(ACCENTED.len() as u64) as usize]
                    }
                    80..=87 => LATIN[self.below(LATIN.len() as u64) as usize],
                    88..=95 => CJK[self.below(CJK.len() as u64) as usize],
                    _ if i % 4 == 3 => EMOJI[self.below(EMOJI.len() as u64) as usize],
                    _ => LATIN[self.below(LATIN.len() as u64) as usize],
                }
            };
            name.push(c);
        }
        name.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_the_one_stated() {
        let mut mix = NameMix::new(7);
        let mut lengths: Vec<usize> = Vec::new();
        let mut non_ascii = 0;
        for _ in 0..20_000 {
            let name = mix.name();
            lengths.push(name.chars().count());
            non_ascii += usize::from(!name.is_ascii());
        }
        lengths.sort_unstable();
        let share = |f: &dyn Fn(usize) -> bool| {
            lengths.iter().filter(|&&n| f(n)).count() as f64 / lengths.len() as f64
        };
        assert!((11..=13).contains(&lengths[lengths.len() / 2]), "median");
        assert!((0.08..0.12).contains(&share(&|n| n > 25)), "over 25");
        assert!((0.007..0.013).contains(&share(&|n| n == 128)), "at 128");
        let outside = non_ascii as f64 / lengths.len() as f64;
        assert!((0.17..0.23).contains(&outside), "non-ASCII {outside}");
        assert_eq!(mix.sub().len(), 36);
    }
}
