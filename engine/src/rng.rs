//! A small seeded random number generator (SplitMix64).
//!
//! The engine never draws randomness on its own: event ids take their random
//! bits from a generator the caller seeds, so that a simulation with a given
//! seed writes the same log every time. SplitMix64 is tiny, fast and good
//! enough for ids and simulated traffic; it is not for secrets.

/// The SplitMix64 generator: 64 bits of state, one seed, the same sequence for
/// the same seed.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator that starts from `seed`; any value, zero included, is a fine
    /// seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift; the bias is
    /// below 2^-32 for the small ranges used here.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no values");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// A uniformly chosen element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A version-7 UUID: 48 bits of milliseconds, then random bits.
    pub fn uuid_v7(&mut self, unix_ms: i64) -> uuid::Uuid {
        let ms = (unix_ms.max(0) as u64) & 0xFFFF_FFFF_FFFF;
        let (a, b) = (self.next_u64(), self.next_u64());
        let hi = (ms << 16) | 0x7000 | (a & 0x0FFF);
        let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        uuid::Uuid::from_u64_pair(hi, lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_v7_ids() {
        let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
        assert_eq!(a.next_u64(), b.next_u64());
        let id = a.uuid_v7(1_700_000_000_000);
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
    }
}
