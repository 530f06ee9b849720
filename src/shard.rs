//! Shards: one step's work split over GitLab's `parallel:` jobs (issue 13).
//!
//! A job of `parallel: N` runs with `CI_NODE_INDEX` (1-based) and `CI_NODE_TOTAL`; `--shard I/N` says the
//! same by hand. Every shard computes the same split from the same input, whatever the machine, so each
//! piece of work falls in exactly one shard:
//! - [`balance`] splits weighted items (the scan's blobs and files, by bytes) so that shards get similar
//!   totals: largest first, each to the lightest shard so far, ties broken by key;
//! - [`round_robin`] splits named items (the deploy's targets) by sorted name, so shard sizes differ by at
//!   most one and a target stays in its shard while the list does not change.

use crate::exit::{ExitCode, coded};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

/// One shard of N: `index` is 1-based, as GitLab's `CI_NODE_INDEX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    /// 1..=total.
    pub index: u32,
    /// How many shards there are (≥ 1).
    pub total: u32,
}

impl Shard {
    /// Checks `1 ≤ index ≤ total`.
    pub fn new(index: u32, total: u32) -> Result<Shard, String> {
        if total == 0 || index == 0 || index > total {
            return Err(format!(
                "shard {index}/{total} does not exist: I/N needs 1 ≤ I ≤ N (1-based, like CI_NODE_INDEX)"
            ));
        }
        Ok(Shard { index, total })
    }

    /// The file-name suffix of this shard's outputs: `-I-of-N`.
    pub fn suffix(&self) -> String {
        format!("-{}-of-{}", self.index, self.total)
    }

    /// True for the one shard that also does what is done once (shard 1).
    pub fn is_first(&self) -> bool {
        self.index == 1
    }

    /// The 0-based slot of this shard.
    pub fn slot(&self) -> usize {
        (self.index - 1) as usize
    }

    /// The shard given by `CI_NODE_INDEX` / `CI_NODE_TOTAL` (a job with `parallel:`); `None` outside one
    /// or with `CI_NODE_TOTAL` 1. Malformed values are a usage error naming the variable.
    pub fn from_env() -> anyhow::Result<Option<Shard>> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let (Some(i), Some(n)) = (var("CI_NODE_INDEX"), var("CI_NODE_TOTAL")) else {
            return Ok(None);
        };
        let num = |k: &str, v: &str| {
            v.trim().parse::<u32>().map_err(|_| {
                coded(
                    ExitCode::Usage,
                    format!("{k}={v:?} is not a number: GitLab sets it for jobs with `parallel:`"),
                )
            })
        };
        let s = Shard::new(num("CI_NODE_INDEX", &i)?, num("CI_NODE_TOTAL", &n)?)
            .map_err(|e| coded(ExitCode::Usage, format!("CI_NODE_INDEX/CI_NODE_TOTAL: {e}")))?;
        Ok((s.total > 1).then_some(s))
    }

    /// `--shard I/N` when given (N = 1 means no sharding), else [`Shard::from_env`].
    pub fn resolve(flag: Option<Shard>) -> anyhow::Result<Option<Shard>> {
        match flag {
            Some(s) => Ok((s.total > 1).then_some(s)),
            None => Shard::from_env(),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl serde::Serialize for Shard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Shard {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Shard, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard takes I/N (e.g. 2/4, 1-based), not {s:?}");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse::<u32>().map_err(|_| bad())?;
        let n = n.trim().parse::<u32>().map_err(|_| bad())?;
        Shard::new(i, n)
    }
}

/// The 0-based shard of each item, balancing the sum of `cost` over `total` shards: items by cost,
/// largest first (equal costs by key), each to the shard with the least cost so far (the lowest index on
/// a tie). Deterministic: the same items give the same split in any order.
pub fn balance<K: Ord>(items: &[(K, u64)], total: u32) -> Vec<u32> {
    let total = total.max(1);
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        items[b]
            .1
            .cmp(&items[a].1)
            .then_with(|| items[a].0.cmp(&items[b].0))
    });
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = (0..total).map(|s| Reverse((0, s))).collect();
    let mut out = vec![0u32; items.len()];
    for i in order {
        let Some(Reverse((load, s))) = heap.pop() else {
            break;
        };
        out[i] = s;
        heap.push(Reverse((load.saturating_add(items[i].1), s)));
    }
    out
}

/// The 0-based shard of each named item: sorted by name, the k-th goes to shard k mod `total`.
pub fn round_robin<K: Ord>(names: &[K], total: u32) -> Vec<u32> {
    let total = total.max(1);
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]).then(a.cmp(&b)));
    let mut out = vec![0u32; names.len()];
    for (k, i) in order.into_iter().enumerate() {
        out[i] = (k as u32) % total;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_i_of_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, total: 4 }));
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap().suffix(), "-1-of-1");
        for bad in ["0/3", "4/3", "2", "a/b", "1/0", "-1/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert!("5/3".parse::<Shard>().unwrap_err().contains("1 ≤ I ≤ N"));
    }

    #[test]
    fn one_shard_is_no_sharding() {
        assert_eq!(
            Shard::resolve(Some(Shard::new(1, 1).unwrap())).unwrap(),
            None
        );
        let s = Shard::new(3, 8).unwrap();
        assert_eq!(Shard::resolve(Some(s)).unwrap(), Some(s));
        assert_eq!(s.to_string(), "3/8");
    }

    #[test]
    fn balance_puts_each_item_in_one_shard_with_similar_totals() {
        let items: Vec<(String, u64)> = (0..1000u64)
            .map(|i| (format!("{i:04}"), (i * 7919) % 5000 + 1))
            .collect();
        let sum: u64 = items.iter().map(|i| i.1).sum();
        for n in [1u32, 2, 3, 4, 8] {
            let a = balance(&items, n);
            assert_eq!(a.len(), items.len());
            let mut loads = vec![0u64; n as usize];
            for (i, s) in a.iter().enumerate() {
                assert!(*s < n);
                loads[*s as usize] += items[i].1;
            }
            assert_eq!(loads.iter().sum::<u64>(), sum);
            let max = *loads.iter().max().unwrap();
            let min = *loads.iter().min().unwrap();
            // Largest-first greedy: shards differ by at most the largest item.
            assert!(max - min <= 5000, "n={n}: {loads:?}");
            // The same split whatever the input order.
            let mut rev = items.clone();
            rev.reverse();
            let b = balance(&rev, n);
            for (i, s) in b.iter().enumerate() {
                assert_eq!(*s, a[items.len() - 1 - i]);
            }
        }
    }

    #[test]
    fn round_robin_is_stable_and_even() {
        let names = ["c", "a", "d", "b", "e"];
        assert_eq!(round_robin(&names, 2), vec![0, 0, 1, 1, 0]);
        let a = round_robin(&names, 3);
        let mut count = [0; 3];
        for s in &a {
            count[*s as usize] += 1;
        }
        assert_eq!(count, [2, 2, 1]);
    }
}
