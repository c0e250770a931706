//! The destination-prefix index: carrier tables are mostly routes whose destination filter is
//! a country/network prefix (`^336`, `^\+?4477`, `^(33|34)\d+`). Such a filter yields a
//! [`DestPrefix`]: a *necessary* condition ("the destination starts with one of these digit
//! strings, with or without a leading `+`") that a digit trie answers in one walk over the
//! destination. A lookup returns, in table order, the routes whose prefix the destination
//! starts with, merged with every route that has no indexable filter; the table then evaluates
//! exactly those routes, in that order, with all their filters. Routes left out cannot match,
//! so the decision is the linear scan's, only faster.
//!
//! When the regex is nothing more than the prefix (`^\+?336`, `336.*`, `336\d*`) the trie hit
//! is the whole answer and the regex is not run again.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::Filter;

/// How a destination prefix treats a leading `+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plus {
    /// No `+`: the destination starts with the digits.
    No,
    /// `\+?`: with or without a `+` before the digits.
    Optional,
    /// `\+`: a `+` then the digits.
    Required,
}

/// A necessary condition on the destination address derived from a regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestPrefix {
    pub plus: Plus,
    /// The destination (after the `+` handling) starts with one of these digit strings.
    pub prefixes: Vec<String>,
    /// The regex matches exactly when the condition holds (no need to run it).
    pub exact: bool,
}

impl DestPrefix {
    /// Does `dest` satisfy the condition? (What the trie computes; used by tests.)
    pub fn admits(&self, dest: &str) -> bool {
        let (has_plus, digits) = match dest.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, dest),
        };
        let subject = match (self.plus, has_plus) {
            (Plus::No, false) => dest,
            (Plus::No, true) => return false,
            (Plus::Optional, _) => digits,
            (Plus::Required, true) => digits,
            (Plus::Required, false) => return false,
        };
        self.prefixes
            .iter()
            .any(|p| subject.starts_with(p.as_str()))
    }
}

fn digits_at(b: &[u8], i: usize) -> usize {
    b[i..].iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Is the quantifier at `b[i]` one that allows zero repetitions (or a counted one)?
fn optional_quantifier(b: &[u8], i: usize) -> bool {
    matches!(b.get(i), Some(b'?' | b'*' | b'{'))
}

/// The literal digit prefix of a destination regex (matched from the start of the address),
/// if it has one: `^` (optional, the match is anchored anyway), then `\+?` or `\+`
/// (optional), then digits or a group of digit alternatives `(33|34)` / `(?:33|34)`, then
/// anything without `|`. Anything else (flags, classes, alternation elsewhere) is not
/// indexable and the route is evaluated for every message.
pub fn literal_prefix(src: &str) -> Option<DestPrefix> {
    let b = src.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'^') {
        i = 1;
    }
    let mut plus = Plus::No;
    if b[i..].starts_with(b"\\+") {
        i += 2;
        match b.get(i) {
            Some(b'?') => {
                plus = Plus::Optional;
                i += 1;
            }
            Some(b'*' | b'{' | b'+') => return None,
            _ => plus = Plus::Required,
        }
    }
    let mut exact_possible = true;
    let prefixes = match b.get(i) {
        Some(c) if c.is_ascii_digit() => {
            let n = digits_at(b, i);
            let mut p = src[i..i + n].to_string();
            i += n;
            if optional_quantifier(b, i) {
                p.pop();
                exact_possible = false;
            }
            vec![p]
        }
        Some(b'(') => {
            i += 1;
            if b[i..].starts_with(b"?:") {
                i += 2;
            } else if b.get(i) == Some(&b'?') {
                return None;
            }
            let mut alts = vec![];
            loop {
                let n = digits_at(b, i);
                if n == 0 {
                    return None;
                }
                alts.push(src[i..i + n].to_string());
                i += n;
                match b.get(i) {
                    Some(b'|') => i += 1,
                    Some(b')') => {
                        i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
            if optional_quantifier(b, i) {
                return None;
            }
            alts
        }
        _ => vec![String::new()],
    };
    let rest = &src[i..];
    if rest.contains('|') {
        return None;
    }
    // Indexing "" under Plus::No or Plus::Optional admits everything: pointless.
    if plus != Plus::Required && prefixes.iter().any(|p| p.is_empty()) {
        return None;
    }
    let exact = exact_possible && matches!(rest, "" | ".*" | "\\d*");
    Some(DestPrefix {
        plus,
        prefixes,
        exact,
    })
}

const NONE: u32 = 0;

#[derive(Debug, Default, Clone)]
struct Node {
    /// Child per digit (0 = none; the root is never a child).
    next: [u32; 10],
    /// Routes (positions in table order) whose prefix ends here, ascending.
    routes: Vec<u32>,
}

/// A digit trie from prefixes to route positions.
#[derive(Debug, Clone)]
struct Trie {
    nodes: Vec<Node>,
}

impl Default for Trie {
    fn default() -> Self {
        Trie {
            nodes: vec![Node::default()],
        }
    }
}

impl Trie {
    fn insert(&mut self, prefix: &str, pos: u32) {
        let mut n = 0usize;
        for d in prefix.bytes() {
            let k = (d - b'0') as usize;
            let next = self.nodes[n].next[k];
            n = if next == NONE {
                self.nodes.push(Node::default());
                let id = (self.nodes.len() - 1) as u32;
                self.nodes[n].next[k] = id;
                id as usize
            } else {
                next as usize
            };
        }
        let r = &mut self.nodes[n].routes;
        if r.last() != Some(&pos) {
            r.push(pos);
        }
    }

    /// Every route whose prefix `s` starts with.
    #[inline]
    fn walk(&self, s: &[u8], out: &mut Hits) {
        let mut n = 0usize;
        let mut i = 0;
        loop {
            let node = &self.nodes[n];
            for &p in &node.routes {
                out.push(p);
            }
            let Some(&c) = s.get(i) else { return };
            if !c.is_ascii_digit() {
                return;
            }
            let next = node.next[(c - b'0') as usize];
            if next == NONE {
                return;
            }
            n = next as usize;
            i += 1;
        }
    }
}

/// Trie hits collected without allocating in the common case.
struct Hits {
    buf: [u32; 48],
    n: usize,
    spill: Vec<u32>,
}

impl Hits {
    fn new() -> Self {
        Hits {
            buf: [0; 48],
            n: 0,
            spill: Vec::new(),
        }
    }
    #[inline]
    fn push(&mut self, p: u32) {
        if self.n < self.buf.len() {
            self.buf[self.n] = p;
            self.n += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.buf);
            }
            self.spill.push(p);
        }
    }
    fn sorted(&mut self) -> &[u32] {
        let s: &mut [u32] = if self.spill.is_empty() {
            &mut self.buf[..self.n]
        } else {
            &mut self.spill
        };
        s.sort_unstable();
        s
    }
}

/// The index of a table's routes (positions are indices in descending-order table order).
#[derive(Debug, Clone, Default)]
pub struct PrefixIndex {
    /// Prefixes for destinations without a leading `+`.
    plain: Trie,
    /// Prefixes for destinations with a leading `+` (matched after it).
    plus: Trie,
    /// Routes without an indexable filter: candidates for every message, ascending.
    always: Vec<u32>,
    /// Per route: the index of its indexed filter when that filter need not run again.
    skip: Vec<Option<usize>>,
    indexed: usize,
}

impl PrefixIndex {
    /// Index routes given by their filters, in table order.
    pub fn build<'a>(routes: impl IntoIterator<Item = &'a [Arc<dyn Filter>]>) -> PrefixIndex {
        let mut ix = PrefixIndex::default();
        for (pos, filters) in routes.into_iter().enumerate() {
            let pos = pos as u32;
            let found = filters
                .iter()
                .enumerate()
                .find_map(|(i, f)| f.destination_prefix().map(|p| (i, p)));
            let Some((fi, dp)) = found else {
                ix.always.push(pos);
                ix.skip.push(None);
                continue;
            };
            ix.indexed += 1;
            for p in &dp.prefixes {
                match dp.plus {
                    Plus::No => ix.plain.insert(p, pos),
                    Plus::Required => ix.plus.insert(p, pos),
                    Plus::Optional => {
                        ix.plain.insert(p, pos);
                        ix.plus.insert(p, pos);
                    }
                }
            }
            ix.skip.push(dp.exact.then_some(fi));
        }
        ix
    }

    /// How many routes are reached through the trie (the others are always candidates).
    pub fn indexed(&self) -> usize {
        self.indexed
    }

    /// The filter of route `pos` that the index already decided, if any.
    #[inline]
    pub fn skip(&self, pos: usize) -> Option<usize> {
        self.skip.get(pos).copied().flatten()
    }

    /// Call `f` with every candidate route for destination `dest`, in ascending position
    /// (table order), until it breaks.
    #[inline]
    pub fn for_each_candidate<B>(
        &self,
        dest: &str,
        mut f: impl FnMut(usize) -> ControlFlow<B>,
    ) -> Option<B> {
        let mut hits = Hits::new();
        match dest.as_bytes().split_first() {
            Some((b'+', rest)) => self.plus.walk(rest, &mut hits),
            _ => self.plain.walk(dest.as_bytes(), &mut hits),
        }
        let hits = hits.sorted();
        let (mut i, mut j) = (0, 0);
        let always = &self.always;
        let mut last = u32::MAX;
        while i < hits.len() || j < always.len() {
            let next = match (hits.get(i), always.get(j)) {
                (Some(&h), Some(&a)) if h < a => {
                    i += 1;
                    h
                }
                (Some(&h), None) => {
                    i += 1;
                    h
                }
                (_, Some(&a)) => {
                    j += 1;
                    a
                }
                (None, None) => break,
            };
            if next == last {
                continue; // one route reached through two of its prefixes
            }
            last = next;
            if let ControlFlow::Break(b) = f(next as usize) {
                return Some(b);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lp(s: &str) -> Option<(Plus, String, bool)> {
        literal_prefix(s).map(|d| (d.plus, d.prefixes.join(","), d.exact))
    }

    fn p(plus: Plus, prefixes: &str, exact: bool) -> Option<(Plus, String, bool)> {
        Some((plus, prefixes.to_string(), exact))
    }

    #[test]
    fn literal_prefixes_are_recognised() {
        assert_eq!(lp("^336"), p(Plus::No, "336", true));
        assert_eq!(lp("336"), p(Plus::No, "336", true));
        assert_eq!(lp(r"^\+?4477"), p(Plus::Optional, "4477", true));
        assert_eq!(lp(r"^\+33\d+"), p(Plus::Required, "33", false));
        assert_eq!(lp(r"^336\d*"), p(Plus::No, "336", true));
        assert_eq!(lp(r"^336.*"), p(Plus::No, "336", true));
        assert_eq!(lp(r"^336$"), p(Plus::No, "336", false));
        assert_eq!(lp(r"^336?"), p(Plus::No, "33", false));
        assert_eq!(lp(r"^33{2}"), p(Plus::No, "3", false));
        assert_eq!(lp(r"^336+"), p(Plus::No, "336", false));
        assert_eq!(lp(r"^(33|34)\d+"), p(Plus::No, "33,34", false));
        assert_eq!(lp(r"^\+?(?:33|34)"), p(Plus::Optional, "33,34", true));
        assert_eq!(lp(r"^\+"), p(Plus::Required, "", true));
        for none in [
            r"^3|^4",
            r"^33|44",
            r"^(33|4\d)",
            r"^(33)?4",
            r"(?i)33",
            r"^[34]5",
            r"^\d+",
            r".*33",
            r"^\+*33",
            r"^\+?",
            r"",
            r"^(?P<cc>33)",
        ] {
            assert_eq!(lp(none), None, "{none}");
        }
    }

    #[test]
    fn admits_follows_plus_modes() {
        let d = literal_prefix(r"^\+?33").unwrap();
        assert!(d.admits("33") && d.admits("+331") && !d.admits("34") && !d.admits("++33"));
        let d = literal_prefix(r"^\+33").unwrap();
        assert!(!d.admits("33") && d.admits("+331"));
        let d = literal_prefix(r"^33").unwrap();
        assert!(d.admits("331") && !d.admits("+33"));
    }

    proptest! {
        /// The extracted condition is necessary: whenever the regex matches, it holds.
        #[test]
        fn prefix_is_a_necessary_condition(
            pat in r"\^?(\\\+[?]?)?([0-9]{1,3}|\((\?:)?[0-9]{1,2}(\|[0-9]{1,2}){0,2}\))([?*+]|\{1,2\})?(\\d[*+]?|\.\*|\$|[0-9])?",
            dests in proptest::collection::vec(r"\+?[0-9+]{0,6}", 1..20),
        ) {
            let Ok(re) = regex::Regex::new(&format!("^(?:{pat})")) else { return Ok(()) };
            if let Some(d) = literal_prefix(&pat) {
                for dest in &dests {
                    if re.is_match(dest) {
                        prop_assert!(d.admits(dest), "{pat} matches {dest} but not admitted");
                    } else if d.exact {
                        prop_assert!(!d.admits(dest), "{pat} exact but admits {dest}");
                    }
                }
            }
        }
    }
}
