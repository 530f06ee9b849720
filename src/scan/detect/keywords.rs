//! The keyword prefilter: every occurrence of every rule keyword (ASCII case-insensitive, overlapping),
//! found in one pass over the content.
//!
//! Three forms with the same matches, each built when it pays for itself:
//! - a contiguous NFA from aho-corasick, built at once (under a millisecond, ~0.1 MB): a pre-commit scan
//!   of a few files needs nothing more;
//! - once the scan has read [`DFA_AFTER`] bytes, aho-corasick's DFA, turned into a [`Table`]: states
//!   renumbered breadth-first (the shallow states, where text spends its time, share a few pages of
//!   cache), 16-bit transitions over the DFA's byte classes with the match flag in the top bit, and the
//!   content searched as four interleaved streams. A DFA walks one byte per memory load; four
//!   independent walks keep four loads in flight. On kernel source this runs ~2.3× faster than
//!   aho-corasick's own overlapping search over the same DFA (README, scan, issue 14.2's paragraph);
//! - aho-corasick's DFA searched by the crate, for a keyword set too large for 16-bit states.

use aho_corasick::automaton::{Automaton, OverlappingState, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Anchored, Input, MatchKind};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes scanned after which the DFA pays for its build.
pub(super) const DFA_AFTER: u64 = 2 << 20;

/// One keyword occurrence: `content[start..end]` is keyword number `keyword`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hit {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset after the last byte.
    pub end: usize,
    /// Index of the keyword in the list the automaton was built from.
    pub keyword: u32,
}

impl From<aho_corasick::Match> for Hit {
    fn from(m: aho_corasick::Match) -> Hit {
        Hit {
            start: m.start(),
            end: m.end(),
            keyword: m.pattern().as_u32(),
        }
    }
}

/// The keyword automaton, shareable across threads.
pub(super) struct Keywords {
    keywords: Vec<String>,
    nfa: AhoCorasick,
    fast: OnceLock<Option<Fast>>,
    scanned: AtomicU64,
}

/// The forms searched once enough has been read.
enum Fast {
    Table(Table),
    Dfa(DFA),
}

impl Keywords {
    /// The automaton over `keywords` (lower-case; matched ASCII case-insensitively).
    pub(super) fn new(keywords: Vec<String>) -> anyhow::Result<Keywords> {
        let mut b = AhoCorasickBuilder::new();
        b.ascii_case_insensitive(true)
            // Overlapping matches: a keyword that starts inside another one's hit
            // (`authorization` in `"authorization`, after the `"auth` keyword) must
            // still trigger its rules.
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::ContiguousNFA));
        let nfa = b
            .build(&keywords)
            .map_err(|e| anyhow::anyhow!("cannot build the keyword automaton: {e}"))?;
        Ok(Keywords {
            keywords,
            nfa,
            fast: OnceLock::new(),
            scanned: AtomicU64::new(0),
        })
    }

    /// Appends every keyword occurrence in `content` to `out`, ordered by end (then by keyword, as
    /// aho-corasick's overlapping search reports them).
    pub(super) fn hits(&self, content: &[u8], out: &mut Vec<Hit>) {
        match self.fast(content.len()) {
            None => out.extend(self.nfa.find_overlapping_iter(content).map(Hit::from)),
            Some(Fast::Table(t)) => t.find(content, out),
            Some(Fast::Dfa(d)) => overlapping(d, content, out),
        }
    }

    /// Whether the fast form serves the searches now.
    #[cfg(test)]
    pub(super) fn fast_ready(&self) -> bool {
        matches!(self.fast.get(), Some(Some(_)))
    }

    /// The fast form for `len` more bytes, once the scan has read enough for it to pay.
    fn fast(&self, len: usize) -> Option<&Fast> {
        let before = self.scanned.fetch_add(len as u64, Relaxed);
        if before + len as u64 <= DFA_AFTER {
            return None;
        }
        self.fast
            .get_or_init(|| {
                let dfa = dfa(&self.keywords)?;
                Some(match Table::new(&dfa, Table::MAX_STATES) {
                    Some(t) => Fast::Table(t),
                    None => Fast::Dfa(dfa),
                })
            })
            .as_ref()
    }
}

/// aho-corasick's DFA over `keywords`, with the NFA's semantics; `None` when it cannot be built (the
/// NFA then serves every search).
fn dfa(keywords: &[String]) -> Option<DFA> {
    DFA::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .start_kind(aho_corasick::StartKind::Unanchored)
        .build(keywords)
        .ok()
}

/// Every match of `dfa` in `content` by the crate's overlapping search.
fn overlapping(dfa: &DFA, content: &[u8], out: &mut Vec<Hit>) {
    let input = Input::new(content);
    let mut state = OverlappingState::start();
    while let Ok(()) = dfa.try_find_overlapping(&input, &mut state) {
        let Some(m) = state.get_match() else { break };
        out.push(m.into());
    }
}

/// A DFA as a flat table of 16-bit transitions (see the module doc).
struct Table {
    /// `table[state << shift | class]`: the next state, with [`MATCH`] set when it is a match state.
    table: Vec<u16>,
    classes: [u8; 256],
    shift: u32,
    /// The keywords (index, length) that end in each state.
    matches: Vec<Vec<(u32, u32)>>,
    /// Bytes a stream reads before its own part: the longest keyword less one.
    warm: usize,
}

/// The match flag of a transition.
const MATCH: u16 = 0x8000;

/// Streams searched side by side.
const STREAMS: usize = 4;

impl Table {
    /// States a table can number beside the match flag.
    const MAX_STATES: usize = MATCH as usize;

    /// The table of `dfa`, or `None` when it has more than `max_states` states.
    fn new(dfa: &DFA, max_states: usize) -> Option<Table> {
        let (order, next) = breadth_first(dfa, max_states)?;
        let (classes, count) = byte_classes(&next);
        let shift = count.next_power_of_two().trailing_zeros();
        let matches: Vec<Vec<(u32, u32)>> = order
            .iter()
            .map(|&s| match dfa.is_match(s) {
                false => Vec::new(),
                true => (0..dfa.match_len(s))
                    .map(|k| {
                        let p = dfa.match_pattern(s, k);
                        (p.as_u32(), dfa.pattern_len(p) as u32)
                    })
                    .collect(),
            })
            .collect();
        let mut table = vec![0u16; order.len() << shift];
        for (s, row) in next.iter().enumerate() {
            for (b, &t) in row.iter().enumerate() {
                let flag = if matches[t as usize].is_empty() {
                    0
                } else {
                    MATCH
                };
                table[(s << shift) | usize::from(classes[b])] = t | flag;
            }
        }
        Some(Table {
            table,
            classes,
            shift,
            matches,
            warm: dfa.max_pattern_len().saturating_sub(1),
        })
    }

    /// The state after `state` reads `byte`.
    #[inline(always)]
    fn step(&self, state: u16, byte: u8) -> u16 {
        let i = (usize::from(state & !MATCH) << self.shift)
            | usize::from(self.classes[usize::from(byte)]);
        // In bounds: every state below the table's count, every class below 1 << shift.
        self.table[i]
    }

    /// Appends the keywords ending in `state` after `end` bytes.
    fn emit(&self, state: u16, end: usize, out: &mut Vec<Hit>) {
        for &(keyword, len) in &self.matches[usize::from(state & !MATCH)] {
            out.push(Hit {
                start: end - len as usize,
                end,
                keyword,
            });
        }
    }

    /// Every keyword occurrence in `hay`: [`STREAMS`] equal parts walked side by side, each from the
    /// start state [`Table::warm`] bytes before its part (no keyword ending in a part starts earlier),
    /// each reporting what ends in its part; then the parts' hits in order.
    #[allow(
        clippy::needless_range_loop,
        reason = "one index walks the four parts in step"
    )]
    fn find(&self, hay: &[u8], out: &mut Vec<Hit>) {
        let part = hay.len() / STREAMS;
        let mut state = [0u16; STREAMS];
        let mut found: [Vec<Hit>; STREAMS] = Default::default();
        for (k, s) in state.iter_mut().enumerate().skip(1) {
            let from = k * part;
            for &b in &hay[from.saturating_sub(self.warm)..from] {
                *s = self.step(*s, b);
            }
        }
        let parts: [&[u8]; STREAMS] = std::array::from_fn(|k| &hay[k * part..(k + 1) * part]);
        for i in 0..part {
            let mut any = 0;
            for k in 0..STREAMS {
                state[k] = self.step(state[k], parts[k][i]);
                any |= state[k];
            }
            if any & MATCH != 0 {
                for k in 0..STREAMS {
                    if state[k] & MATCH != 0 {
                        self.emit(state[k], k * part + i + 1, &mut found[k]);
                    }
                }
            }
        }
        let last = STREAMS - 1;
        for (p, &b) in hay.iter().enumerate().skip(STREAMS * part) {
            state[last] = self.step(state[last], b);
            if state[last] & MATCH != 0 {
                self.emit(state[last], p + 1, &mut found[last]);
            }
        }
        for f in found {
            out.extend(f);
        }
    }
}

/// The states of `dfa` reachable from its unanchored start, breadth-first (the start is 0), with each
/// state's 256 transitions as indexes into that order; `None` beyond `max_states`.
fn breadth_first(dfa: &DFA, max_states: usize) -> Option<(Vec<StateID>, Vec<[u16; 256]>)> {
    let start = dfa.start_state(Anchored::No).ok()?;
    let mut index: HashMap<StateID, u16> = HashMap::from([(start, 0)]);
    let mut order = vec![start];
    let mut next = Vec::new();
    let mut i = 0;
    while let Some(&s) = order.get(i) {
        let mut row = [0u16; 256];
        for (b, slot) in row.iter_mut().enumerate() {
            let t = dfa.next_state(Anchored::No, s, b as u8);
            *slot = match index.get(&t) {
                Some(&n) => n,
                None if order.len() >= max_states => return None,
                None => {
                    let n = order.len() as u16;
                    index.insert(t, n);
                    order.push(t);
                    n
                }
            };
        }
        next.push(row);
        i += 1;
    }
    Some((order, next))
}

/// Bytes grouped by identical transitions in every state: each byte's class, and the class count.
fn byte_classes(next: &[[u16; 256]]) -> ([u8; 256], usize) {
    let mut classes = [0u8; 256];
    let mut columns: HashMap<Vec<u16>, u8> = HashMap::new();
    for (b, class) in classes.iter_mut().enumerate() {
        let column: Vec<u16> = next.iter().map(|row| row[b]).collect();
        let n = columns.len() as u8;
        *class = *columns.entry(column).or_insert(n);
    }
    (classes, columns.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn builtin_keywords() -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in crate::scan::rules::builtin_rules() {
            for k in r.keywords {
                let k = k.to_ascii_lowercase();
                if !k.is_empty() && !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        out
    }

    fn by_crate(k: &Keywords, hay: &[u8]) -> Vec<Hit> {
        k.nfa.find_overlapping_iter(hay).map(Hit::from).collect()
    }

    fn by_table(t: &Table, hay: &[u8]) -> Vec<Hit> {
        let mut out = Vec::new();
        t.find(hay, &mut out);
        out
    }

    /// Text made of keywords (in any case), their pieces and filler, at every length.
    fn text(keywords: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            (0..keywords.len(), any::<bool>()).prop_map(move |(i, upper)| {
                let k = keywords[i].clone();
                if upper { k.to_ascii_uppercase() } else { k }.into_bytes()
            }),
            "[a-z_=:\"' \n-]{0,6}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..4),
        ];
        proptest::collection::vec(piece, 0..300).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn the_table_finds_what_the_crate_finds(hay in text(builtin_keywords())) {
            let k = Keywords::new(builtin_keywords()).unwrap();
            let t = Table::new(&dfa(&k.keywords).unwrap(), Table::MAX_STATES).unwrap();
            prop_assert_eq!(by_table(&t, &hay), by_crate(&k, &hay));
        }
    }

    /// Any keyword set (a gitleaks config brings its own): short, long, non-ASCII, sharing prefixes
    /// and suffixes.
    fn keyword_sets() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::btree_set("[a-c_\\-é0-9]{1,12}|[a-z]{1,3}", 1..40)
            .prop_map(|set| set.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_keyword_set_finds_what_the_crate_finds(
            keywords in keyword_sets(),
            pieces in proptest::collection::vec(("[a-cA-C_\\-é0-9 ]{0,8}", any::<u8>()), 0..200),
        ) {
            let hay: Vec<u8> = pieces
                .iter()
                .flat_map(|(text, b)| text.bytes().chain(std::iter::once(*b)))
                .collect();
            let k = Keywords::new(keywords).unwrap();
            let t = Table::new(&dfa(&k.keywords).unwrap(), Table::MAX_STATES).unwrap();
            prop_assert_eq!(by_table(&t, &hay), by_crate(&k, &hay));
        }
    }

    #[test]
    fn keywords_across_every_part_boundary_are_found_once() {
        let k = Keywords::new(builtin_keywords()).unwrap();
        let t = Table::new(&dfa(&k.keywords).unwrap(), Table::MAX_STATES).unwrap();
        for len in [0, 1, 3, 4, 7, 26, 27, 64, 101, 1000] {
            for at in 0..len {
                let mut hay = vec![b'.'; len];
                let kw = b"Authorization";
                for (i, &b) in kw.iter().enumerate() {
                    if at + i < len {
                        hay[at + i] = b;
                    }
                }
                assert_eq!(by_table(&t, &hay), by_crate(&k, &hay), "len {len} at {at}");
            }
        }
    }

    #[test]
    fn a_large_keyword_set_falls_back_to_the_crates_search() {
        let k = Keywords::new(builtin_keywords()).unwrap();
        let d = dfa(&k.keywords).unwrap();
        assert!(Table::new(&d, 100).is_none());
        let hay = b"password=hunter2 AKIA... Bearer xoxb-1 PRIVATE KEY-----".repeat(50);
        let mut out = Vec::new();
        overlapping(&d, &hay, &mut out);
        assert_eq!(out, by_crate(&k, &hay));
        assert!(!out.is_empty());
    }

    #[test]
    fn every_form_serves_the_same_hits_as_the_scan_grows() {
        let k = Keywords::new(builtin_keywords()).unwrap();
        let small = b"token: abc\nsecret_key = 1\nAuthorization: Bearer x\n".repeat(100);
        let big = small.repeat(500);
        let (mut first, mut later) = (Vec::new(), Vec::new());
        k.hits(&small, &mut first);
        assert!(
            k.fast.get().is_none(),
            "the NFA serves the first {DFA_AFTER} bytes"
        );
        k.hits(&big, &mut later);
        assert!(matches!(k.fast.get(), Some(Some(Fast::Table(_)))));
        assert_eq!(first, by_crate(&k, &small));
        assert_eq!(later, by_crate(&k, &big));
        assert!(!first.is_empty());
    }
}
