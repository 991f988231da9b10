//! A Merkle tree's right edge: the roots of the perfect subtrees that make
//! up a tree of `size` leaves, largest first (RFC 9162 trees split at the
//! largest power of two, so these are the binary digits of `size`).
//!
//! It is all a signer needs to append leaves and compute the root: the
//! writer signs the tree head of millions of events after reading only
//! the events since its last checkpoint, and `verify` checks every signed
//! root in the one pass it makes anyway. A pruned chain keeps its edge in
//! the checkpoint it starts from.

use super::tree_hash::{Hash, decode_hash, empty_root, leaf_hash, node_hash};
use crate::error::{Error, Result};

/// The right edge of a tree of `size` leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    // INVARIANT: `nodes.len() == size.count_ones()`; node `i` is the root
    // of the subtree for the `i`-th set bit of `size`, highest bit first.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the leaf of an event whose chain hash is `event`.
    pub fn push_event(&mut self, event: &Hash) {
        self.push_leaf(leaf_hash(event));
    }

    /// Appends a leaf hash.
    pub fn push_leaf(&mut self, leaf: Hash) {
        self.push_subtree(leaf, 0);
    }

    /// Appends the root of a perfect subtree of `2^height` leaves; the
    /// tree's size must be a multiple of that. Equal-sized subtrees merge,
    /// as a binary counter carries.
    fn push_subtree(&mut self, root: Hash, height: u32) {
        let mut node = root;
        let mut carry = self.size >> height;
        while carry & 1 == 1 {
            let Some(left) = self.nodes.pop() else {
                break;
            };
            node = node_hash(&left, &node);
            carry >>= 1;
        }
        self.nodes.push(node);
        self.size += 1 << height;
    }

    /// Appends the leaves of `other`, a tree of the leaves that follow
    /// this one's, built apart (on another thread). Only possible when
    /// this tree's size is a multiple of `other`'s largest subtree: then
    /// every subtree of `other` is one of the whole tree's. `false`, and
    /// nothing changed, otherwise.
    pub fn append(&mut self, other: &Frontier) -> bool {
        let heights: Vec<u32> = (0..u64::BITS)
            .rev()
            .filter(|h| other.size >> h & 1 == 1)
            .collect();
        let Some(&top) = heights.first() else {
            return true;
        };
        if self.size % (1 << top) != 0 {
            return false;
        }
        for (node, height) in other.nodes.iter().zip(heights) {
            self.push_subtree(*node, height);
        }
        true
    }

    /// The tree's root (RFC 9162 MTH): the subtrees folded from the right.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }

    /// The nodes as hex, one after another (the size is stored beside).
    pub fn encode(&self) -> String {
        self.nodes.iter().map(hex::encode).collect()
    }

    /// The edge of a tree of `size` leaves from [`Frontier::encode`]'s text.
    pub fn decode(size: u64, text: &str) -> Result<Self> {
        let bad = || Error::corrupt(format!("the Merkle edge of a checkpoint at {size}"));
        let want = usize::try_from(size.count_ones()).map_err(|_| bad())?;
        if text.len() != want * 64 || !text.is_ascii() {
            return Err(bad());
        }
        let nodes = (0..want)
            .map(|i| decode_hash(&text[i * 64..(i + 1) * 64]).map_err(|_| bad()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { size, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::super::merkle::{Tree, root};
    use super::*;

    fn events(n: u8) -> Vec<Hash> {
        (0..n).map(|i| [i; 32]).collect()
    }

    #[test]
    fn every_root_matches_the_whole_tree_as_leaves_are_appended() {
        let events = events(70);
        let mut edge = Frontier::default();
        assert_eq!(edge.root(), root(&[]));
        for (i, event) in events.iter().enumerate() {
            edge.push_event(event);
            let whole = Tree::of_events(&events[..=i]).root();
            assert_eq!(edge.root(), whole, "size {}", i + 1);
            assert_eq!(edge.nodes.len() as u32, edge.size.count_ones());
        }
    }

    #[test]
    fn an_edge_survives_its_text_and_goes_on_growing() {
        let events = events(45);
        let mut edge = Frontier::default();
        for event in &events[..37] {
            edge.push_event(event);
        }
        let mut back = Frontier::decode(37, &edge.encode()).expect("decodes");
        assert_eq!(back, edge);
        for event in &events[37..] {
            back.push_event(event);
        }
        assert_eq!(back.root(), Tree::of_events(&events).root());
    }

    #[test]
    fn trees_built_apart_join_only_where_they_align() {
        let events = events(70);
        let tree = |range: std::ops::Range<usize>| {
            let mut edge = Frontier::default();
            for event in &events[range] {
                edge.push_event(event);
            }
            edge
        };
        for (split, end) in [(32, 70), (32, 45), (64, 70), (16, 31), (0, 9)] {
            let mut joined = tree(0..split);
            assert!(joined.append(&tree(split..end)), "{split}..{end}");
            assert_eq!(joined, tree(0..end), "{split}..{end}");
        }
        // 20 leaves, then 16 more: the 16 straddle the 16-leaf boundary.
        let mut misaligned = tree(0..20);
        assert!(!misaligned.append(&tree(20..36)));
        assert_eq!(misaligned, tree(0..20), "nothing changed");
    }

    #[test]
    fn an_edge_of_the_wrong_length_is_refused() {
        let mut edge = Frontier::default();
        for event in &events(6) {
            edge.push_event(event);
        }
        // 6 leaves: two subtrees (4 and 2); as a tree of 7, three are needed.
        assert!(Frontier::decode(7, &edge.encode()).is_err());
        assert!(Frontier::decode(6, &edge.encode()[1..]).is_err());
        assert!(Frontier::decode(6, &edge.encode()).is_ok());
    }
}
