//! Sets of 128-bit keys (address keys, Robinson hashes): what a plan
//! loads a million of and probes a million times.
//!
//! The keys are already hashes, so neither set runs a hash function over
//! them again (one multiply spreads them), and a
//! lookup reads one or two cache lines, where a general hash set reads its
//! control bytes and then the key, two lines apart (`perf` put 90% of a
//! plan's checking in those two loads, BENCHMARKS.md).
//! - [`KeySet`] grows as keys come (the plan's duplicates);
//! - [`SortedKeys`] is built once from a list (the opt-outs and the
//!   Robinson list): sorted, in half the memory, with no random writes.

use std::hash::BuildHasher;

/// A set of 128-bit keys in one open-addressed table, at most half full.
#[derive(Clone)]
pub struct KeySet {
    /// A slot is empty while it holds 0; the key 0 itself is `zero`.
    slots: Vec<u128>,
    /// `64 - log2(slots.len())`: the product's top bits pick the slot.
    shift: u32,
    len: usize,
    zero: bool,
    /// Random per set: keys chosen to collide in one process's table do
    /// not collide in another's.
    seed: u64,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("len", &self.len).finish()
    }
}

impl Default for KeySet {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

const MIN_SLOTS: usize = 16;

impl KeySet {
    /// An empty set that takes `n` keys without growing.
    pub fn with_capacity(n: usize) -> Self {
        let slots = n.saturating_mul(2).next_power_of_two().max(MIN_SLOTS);
        Self {
            slots: vec![0; slots],
            shift: 64 - slots.trailing_zeros(),
            len: 0,
            zero: false,
            seed: foldhash::fast::RandomState::default().hash_one(0_u8),
        }
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn home(&self, key: u128) -> usize {
        let mixed =
            (key as u64 ^ (key >> 64) as u64 ^ self.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // The shift keeps at most log2(slots) bits, which fit a usize.
        usize::try_from(mixed >> self.shift).unwrap_or(0)
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn slot(&self, key: u128) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        // INVARIANT: the table is at most half full, so an empty slot ends
        // every probe.
        while self.slots[i] != 0 && self.slots[i] != key {
            i = (i + 1) & mask;
        }
        i
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &u128) -> bool {
        if *key == 0 {
            return self.zero;
        }
        self.slots[self.slot(*key)] == *key
    }

    /// Adds `key`; false if it was there already.
    pub fn insert(&mut self, key: u128) -> bool {
        if key == 0 {
            let new = !self.zero;
            self.zero = true;
            self.len += usize::from(new);
            return new;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let i = self.slot(key);
        if self.slots[i] == key {
            return false;
        }
        self.slots[i] = key;
        self.len += 1;
        true
    }

    fn grow(&mut self) {
        let mut bigger = Self::with_capacity(self.slots.len());
        bigger.seed = self.seed;
        bigger.zero = self.zero;
        bigger.len = self.len;
        for &key in self.slots.iter().filter(|&&k| k != 0) {
            let i = bigger.slot(key);
            bigger.slots[i] = key;
        }
        *self = bigger;
    }
}

impl Extend<u128> for KeySet {
    fn extend<I: IntoIterator<Item = u128>>(&mut self, keys: I) {
        for key in keys {
            self.insert(key);
        }
    }
}

/// A fixed set of 128-bit keys: sorted, with a directory of where each
/// range of leading bits starts, small enough to stay in the CPU's cache
/// (half a MiB for a million keys): a lookup then reads one or two cache
/// lines of keys. 16.5 bytes a key, where a hash set at most half full
/// takes 32.
#[derive(Debug, Clone, Default)]
pub struct SortedKeys {
    keys: Vec<u128>,
    /// `starts[r]` is the first key whose leading `bits` bits are `r`; one
    /// more entry closes the last range. Empty when positions would not
    /// fit in 32 bits (then every lookup searches all keys).
    starts: Vec<u32>,
    bits: u32,
}

/// About this many keys share a range of leading bits: two cache lines.
const KEYS_PER_RANGE: usize = 8;

impl SortedKeys {
    /// The set of `keys` (in any order, repeats allowed).
    pub fn new(mut keys: Vec<u128>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        keys.shrink_to_fit();
        let (starts, bits) = Self::directory(&keys).unwrap_or_default();
        Self { keys, starts, bits }
    }

    fn directory(keys: &[u128]) -> Option<(Vec<u32>, u32)> {
        let ranges = (keys.len() / KEYS_PER_RANGE).max(1).next_power_of_two();
        let bits = ranges.trailing_zeros();
        let mut starts = Vec::with_capacity(ranges + 1);
        let mut at = 0;
        for range in 0..ranges {
            while at < keys.len() && Self::range_of(keys[at], bits) < range {
                at += 1;
            }
            starts.push(u32::try_from(at).ok()?);
        }
        starts.push(u32::try_from(keys.len()).ok()?);
        Some((starts, bits))
    }

    fn range_of(key: u128, bits: u32) -> usize {
        if bits == 0 {
            return 0;
        }
        usize::try_from(key >> (128 - bits)).unwrap_or(usize::MAX)
    }

    /// How many different keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &u128) -> bool {
        let range = Self::range_of(*key, self.bits);
        let (lo, hi) = match (self.starts.get(range), self.starts.get(range + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => (0, self.keys.len()),
        };
        // Keys chosen to share their leading bits only make one range
        // longer: the search stays logarithmic.
        self.keys[lo..hi].binary_search(key).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn sorted_keys_hold_exactly_their_keys_whatever_their_spread() {
        let spread: Vec<u128> = (0..10_000_u128)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
            .collect();
        let clustered: Vec<u128> = (0..10_000_u128).map(awkward).collect();
        for keys in [spread, clustered, vec![], vec![0, u128::MAX, 0]] {
            let model: HashSet<u128> = keys.iter().copied().collect();
            let set = SortedKeys::new(keys.clone());
            assert_eq!(set.len(), model.len());
            for &k in &keys {
                assert!(set.contains(&k), "{k:#x}");
                for other in [k.wrapping_add(1), k.wrapping_sub(1), !k] {
                    assert_eq!(set.contains(&other), model.contains(&other), "{other:#x}");
                }
            }
        }
    }

    /// Keys with many equal bits, as a careless hash would give.
    fn awkward(i: u128) -> u128 {
        (i % 7) << 100 | (i / 7) << 3
    }

    #[test]
    fn a_key_set_holds_what_a_hash_set_holds_through_growth() {
        let mut ours = KeySet::default();
        let mut model = HashSet::new();
        for i in 0..50_000_u128 {
            let key = if i % 3 == 0 {
                awkward(i)
            } else {
                awkward(i / 2)
            };
            assert_eq!(ours.insert(key), model.insert(key), "insert {key:#x}");
        }
        assert_eq!(ours.len(), model.len());
        for i in 0..120_000_u128 {
            let key = awkward(i);
            assert_eq!(ours.contains(&key), model.contains(&key), "{key:#x}");
        }
    }

    #[test]
    fn the_key_zero_is_a_key_like_any_other() {
        let mut set = KeySet::with_capacity(4);
        assert!(!set.contains(&0));
        assert!(set.insert(0));
        assert!(!set.insert(0));
        assert!(set.contains(&0));
        assert_eq!(set.len(), 1);
        set.extend([1, 2, 0]);
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn a_presized_set_does_not_grow() {
        let mut set = KeySet::with_capacity(1_000);
        let slots = set.slots.len();
        set.extend((1..=1_000).map(|i: u128| i << 64));
        assert_eq!(set.slots.len(), slots);
        assert_eq!(set.len(), 1_000);
    }
}
