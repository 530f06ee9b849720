//! The pruning policy, as pure decisions: given the images, the rules and Docker's usage, which images go, in
//! which order, and why every other one stays. Nothing here talks to Docker.
//!
//! Never removed: an image used by any container (running or stopped); one a running build holds a lease
//! on (its base image or cache source); one created less than `min_age` ago,
//! or used (by a container or in stevedore's record) less than `min_age` ago; one carrying a keep label; one
//! with a tag matching a keep pattern; the `keep_recent` newest tags of each repository; a parent of any
//! image that stays. Of the rest, dangling images go first, then the least recently used (last use = the
//! latest of creation, newest container made from it, stevedore's record), until the projected usage is
//! under the limit — or all of them with `all`. A parent always goes after its children.

use regex::Regex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// What the policy needs to know about one image.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// `sha256:…`
    pub id: String,
    /// The parent image's ID, if it has one.
    pub parent_id: Option<String>,
    /// `repo:tag` references (none when dangling).
    pub tags: Vec<String>,
    /// `repo@sha256:…` references.
    pub digests: Vec<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Bytes of all its layers.
    pub size: u64,
    /// Bytes of its layers shared with other images.
    pub shared_size: u64,
    /// Containers made from it, running or stopped.
    pub containers: u64,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Creation time of the newest container made from it.
    pub last_container: Option<i64>,
    /// Last use in stevedore's record.
    pub recorded_use: Option<i64>,
    /// Who holds it when a running build's lease names it (see [`super::lease`]).
    pub leased: Option<String>,
    /// An intermediate image `/system/df` does not list (untagged, with children) that a container uses:
    /// never a candidate, never shown, but its ancestors stay.
    pub hidden: bool,
}

/// Where an image's last use comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UseSource {
    /// Its creation.
    Created,
    /// The newest container made from it.
    Container,
    /// stevedore's record of what it built and used.
    Record,
}

impl fmt::Display for UseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UseSource::Created => "created",
            UseSource::Container => "container",
            UseSource::Record => "record",
        })
    }
}

impl Image {
    /// True when the image has no tag.
    pub fn dangling(&self) -> bool {
        self.tags.is_empty()
    }

    /// The last use: the latest of creation, newest container and recorded use.
    pub fn last_use(&self) -> (i64, UseSource) {
        let mut best = (self.created, UseSource::Created);
        if let Some(t) = self.last_container.filter(|t| *t > best.0) {
            best = (t, UseSource::Container);
        }
        if let Some(t) = self.recorded_use.filter(|t| *t > best.0) {
            best = (t, UseSource::Record);
        }
        best
    }

    /// A name for people: the first tag, else the short ID.
    pub fn name(&self) -> String {
        self.tags
            .first()
            .cloned()
            .unwrap_or_else(|| short_id(&self.id))
    }
}

/// The first 12 hex digits of an image ID.
pub fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

/// The repository of a `repo:tag` reference (`registry:5000/a/b:1` → `registry:5000/a/b`).
pub fn repository(tag: &str) -> &str {
    let slash = tag.rfind('/').map_or(0, |i| i + 1);
    match tag[slash..].rfind(':') {
        Some(i) => &tag[..slash + i],
        None => tag,
    }
}

/// The rules.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Younger (or more recently used) images stay, in seconds.
    pub min_age_secs: i64,
    /// Images with a tag matching one of these stay.
    pub keep: Vec<Regex>,
    /// Images carrying one of these labels (`key`, `value`) stay.
    pub keep_labels: Vec<(String, String)>,
    /// The newest tags of each repository that stay.
    pub keep_recent: usize,
    /// Remove everything the policy allows, whatever the usage.
    pub all: bool,
    /// Only images with this label (`key`, `value`) are considered.
    pub scope: Option<(String, String)>,
}

/// Why an image stays.
#[derive(Clone, Debug, PartialEq)]
pub enum KeepWhy {
    /// Containers use it.
    InUse(u64),
    /// A running build uses it (who holds the lease).
    Leased(String),
    /// Created less than min-age ago (age in seconds).
    Young(i64),
    /// Used less than min-age ago (seconds since the use, and where the use was seen).
    RecentlyUsed(i64, UseSource),
    /// It carries a keep label (`k=v`).
    KeepLabel(String),
    /// A tag matches a keep pattern (pattern, tag).
    KeepPattern(String, String),
    /// Among the newest tags of its repository (tag, rank from 1).
    KeepRecent(String, usize),
    /// An image made from it stays (that image's name).
    ParentOfKept(String),
    /// Removing it failed earlier in this run.
    RemovalFailed,
    /// Usage is already under the threshold without removing it.
    UnderThreshold,
}

impl fmt::Display for KeepWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = super::size::short_duration;
        match self {
            KeepWhy::InUse(n) => {
                write!(f, "used by {n} container{}", if *n == 1 { "" } else { "s" })
            }
            KeepWhy::Leased(who) => write!(f, "a running build uses it ({who})"),
            KeepWhy::Young(a) => write!(f, "younger than --min-age (created {} ago)", d(*a)),
            KeepWhy::RecentlyUsed(a, src) => {
                write!(f, "used within --min-age ({} ago, {src})", d(*a))
            }
            KeepWhy::KeepLabel(l) => write!(f, "has keep label {l}"),
            KeepWhy::KeepPattern(p, t) => write!(f, "{t} matches --keep {p}"),
            KeepWhy::KeepRecent(t, r) => write!(f, "{t} is the #{r} newest tag of its repository"),
            KeepWhy::ParentOfKept(c) => write!(f, "parent of {c}, which stays"),
            KeepWhy::RemovalFailed => f.write_str("removing it failed"),
            KeepWhy::UnderThreshold => f.write_str("not needed: usage is under the threshold"),
        }
    }
}

/// Why an image goes.
#[derive(Clone, Debug, PartialEq)]
pub enum RemoveWhy {
    /// It has no tag.
    Dangling,
    /// Least recently used, and usage is over the threshold.
    LeastRecentlyUsed,
    /// `--all`.
    All,
    /// Its parent goes, and children go first (the parent's name).
    ChildOf(String),
}

impl fmt::Display for RemoveWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveWhy::Dangling => f.write_str("dangling"),
            RemoveWhy::LeastRecentlyUsed => {
                f.write_str("least recently used, usage over threshold")
            }
            RemoveWhy::All => f.write_str("--all: nothing keeps it"),
            RemoveWhy::ChildOf(p) => write!(f, "made from {p}, which goes: children first"),
        }
    }
}

/// The decision on one image.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Remove it.
    Remove(RemoveWhy),
    /// Keep it.
    Keep(KeepWhy),
}

/// One image's decision.
#[derive(Clone, Debug)]
pub struct Decision {
    /// Index into the images the plan was made from.
    pub index: usize,
    /// What happens to it and why.
    pub verdict: Verdict,
    /// Bytes its removal is expected to free (0 when kept).
    pub estimate: u64,
}

/// The plan: removals first, in the order they must happen, then every other image in scope.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Decisions, removals first in order.
    pub decisions: Vec<Decision>,
    /// Images outside `--scope-label`, not considered.
    pub out_of_scope: usize,
    /// Docker's usage when planning.
    pub usage: u64,
    /// The limit usage must end under.
    pub limit: u64,
    /// Bytes the removals are expected to free.
    pub to_free: u64,
}

impl Plan {
    /// The removals, in order.
    pub fn removals(&self) -> impl Iterator<Item = &Decision> {
        self.decisions
            .iter()
            .filter(|d| matches!(d.verdict, Verdict::Remove(_)))
    }

    /// The usage expected after the removals.
    pub fn projected(&self) -> u64 {
        self.usage.saturating_sub(self.to_free)
    }
}

/// Decides which images go. `failed` holds IDs whose removal already failed (they stay).
pub fn plan(
    images: &[Image],
    policy: &Policy,
    now: i64,
    usage: u64,
    limit: u64,
    failed: &HashSet<String>,
) -> Plan {
    let g = Graph::new(images);
    let scoped: Vec<usize> = (0..images.len())
        .filter(|&i| in_scope(&images[i], policy))
        .collect();
    let recent = recent_tags(images, &scoped, policy.keep_recent);
    let mut keep: HashMap<usize, KeepWhy> = HashMap::new();
    let mut eligible: HashSet<usize> = HashSet::new();
    for &i in &scoped {
        match protection(&images[i], policy, now, recent.get(&i), failed) {
            Some(w) => {
                keep.insert(i, w);
            }
            None => {
                eligible.insert(i);
            }
        }
    }
    // A parent stays when anything made from it stays (or is outside the scope).
    let parent_kept: Vec<(usize, usize)> = eligible
        .iter()
        .filter_map(|&i| {
            g.descendants(i)
                .into_iter()
                .find(|d| !eligible.contains(d))
                .map(|d| (i, d))
        })
        .collect();
    for (i, d) in parent_kept {
        eligible.remove(&i);
        keep.insert(i, KeepWhy::ParentOfKept(images[d].name()));
    }
    let mut order: Vec<usize> = eligible.into_iter().collect();
    order.sort_by_key(|&i| lru_key(&images[i]));
    let (mut decisions, to_free) = removals(&g, &order, policy, usage, limit);
    let planned: HashSet<usize> = decisions.iter().map(|d| d.index).collect();
    for &i in order.iter().filter(|i| !planned.contains(i)) {
        keep.insert(i, KeepWhy::UnderThreshold);
    }
    let mut kept: Vec<(usize, KeepWhy)> = keep.into_iter().collect();
    kept.sort_by_key(|(i, _)| lru_key(&images[*i]));
    decisions.extend(kept.into_iter().map(|(index, w)| Decision {
        index,
        verdict: Verdict::Keep(w),
        estimate: 0,
    }));
    Plan {
        decisions,
        out_of_scope: images.iter().filter(|im| !im.hidden).count() - scoped.len(),
        usage,
        limit,
        to_free,
    }
}

/// The order images go in: dangling first, then least recently used, oldest first.
fn lru_key(im: &Image) -> (bool, i64, i64, String) {
    (!im.dangling(), im.last_use().0, im.created, im.id.clone())
}

/// True when the policy considers the image at all.
fn in_scope(im: &Image, policy: &Policy) -> bool {
    match &policy.scope {
        _ if im.hidden => false,
        None => true,
        Some((k, v)) => im.labels.get(k) == Some(v),
    }
}

/// The images among the `keep` newest tags of their repository (in scope): index → (tag, rank from 1).
fn recent_tags(images: &[Image], scoped: &[usize], keep: usize) -> HashMap<usize, (String, usize)> {
    let mut recent = HashMap::new();
    if keep == 0 {
        return recent;
    }
    let mut repos: BTreeMap<&str, Vec<(i64, &str, usize)>> = BTreeMap::new();
    for &i in scoped {
        for t in &images[i].tags {
            repos
                .entry(repository(t))
                .or_default()
                .push((images[i].created, t, i));
        }
    }
    for tags in repos.values_mut() {
        tags.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(a.1)));
        for (rank, (_, t, i)) in tags.iter().take(keep).enumerate() {
            recent.entry(*i).or_insert((t.to_string(), rank + 1));
        }
    }
    recent
}

/// Why an image stays on its own account, if it does (parents of kept images are decided later).
fn protection(
    im: &Image,
    policy: &Policy,
    now: i64,
    recent: Option<&(String, usize)>,
    failed: &HashSet<String>,
) -> Option<KeepWhy> {
    if im.containers > 0 {
        return Some(KeepWhy::InUse(im.containers));
    }
    if let Some(who) = &im.leased {
        return Some(KeepWhy::Leased(who.clone()));
    }
    if now - im.created < policy.min_age_secs {
        return Some(KeepWhy::Young(now - im.created));
    }
    let (last, src) = im.last_use();
    if now - last < policy.min_age_secs {
        return Some(KeepWhy::RecentlyUsed(now - last, src));
    }
    if let Some((k, v)) = policy
        .keep_labels
        .iter()
        .find(|(k, v)| im.labels.get(k) == Some(v))
    {
        return Some(KeepWhy::KeepLabel(format!("{k}={v}")));
    }
    for re in &policy.keep {
        if let Some(t) = im.tags.iter().find(|t| re.is_match(t)) {
            return Some(KeepWhy::KeepPattern(re.as_str().to_string(), t.clone()));
        }
    }
    if let Some((t, r)) = recent {
        return Some(KeepWhy::KeepRecent(t.clone(), *r));
    }
    if failed.contains(&im.id) {
        return Some(KeepWhy::RemovalFailed);
    }
    None
}

/// The removals, in order, until the projected usage is under `limit` (or all with `--all`): each
/// eligible image after everything made from it. Returns the decisions and the bytes they free.
fn removals(
    g: &Graph,
    order: &[usize],
    policy: &Policy,
    usage: u64,
    limit: u64,
) -> (Vec<Decision>, u64) {
    let mut decisions = Vec::new();
    let mut planned: HashSet<usize> = HashSet::new();
    let mut to_free = 0u64;
    let mut push = |i: usize, why: RemoveWhy, to_free: &mut u64| {
        let e = g.estimate(i);
        *to_free += e;
        decisions.push(Decision {
            index: i,
            verdict: Verdict::Remove(why),
            estimate: e,
        });
    };
    for &i in order {
        if planned.contains(&i) {
            continue;
        }
        if !policy.all && usage.saturating_sub(to_free) < limit {
            break;
        }
        for d in g.descendants(i) {
            if planned.insert(d) {
                push(d, RemoveWhy::ChildOf(g.images[i].name()), &mut to_free);
            }
        }
        planned.insert(i);
        let why = if policy.all {
            RemoveWhy::All
        } else if g.images[i].dangling() {
            RemoveWhy::Dangling
        } else {
            RemoveWhy::LeastRecentlyUsed
        };
        push(i, why, &mut to_free);
    }
    (decisions, to_free)
}

/// The images with their parent/child links.
struct Graph<'a> {
    images: &'a [Image],
    by_id: HashMap<&'a str, usize>,
    children: HashMap<usize, Vec<usize>>,
}

impl<'a> Graph<'a> {
    fn new(images: &'a [Image]) -> Graph<'a> {
        let by_id: HashMap<&str, usize> = images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.id.as_str(), i))
            .collect();
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, im) in images.iter().enumerate() {
            if let Some(p) = im.parent_id.as_deref().and_then(|p| by_id.get(p)) {
                children.entry(*p).or_default().push(i);
            }
        }
        Graph {
            images,
            by_id,
            children,
        }
    }

    /// Everything made from `i`, post-order: deepest first, so children come before their parents.
    fn descendants(&self, i: usize) -> Vec<usize> {
        fn walk(i: usize, children: &HashMap<usize, Vec<usize>>, out: &mut Vec<usize>) {
            for &c in children.get(&i).map(|v| v.as_slice()).unwrap_or(&[]) {
                if !out.contains(&c) {
                    walk(c, children, out);
                    out.push(c);
                }
            }
        }
        let mut out = Vec::new();
        walk(i, &self.children, &mut out);
        out
    }

    /// Bytes removing `i` is expected to free: an image with children goes with everything made from it
    /// (the bytes it adds over its own parent); any other, the bytes no other image shares.
    fn estimate(&self, i: usize) -> u64 {
        let im = &self.images[i];
        if self.children.contains_key(&i) {
            let parent = im
                .parent_id
                .as_deref()
                .and_then(|p| self.by_id.get(p))
                .map_or(0, |&p| self.images[p].size);
            im.size.saturating_sub(parent)
        } else {
            im.size.saturating_sub(im.shared_size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000;
    const DAY: i64 = 86_400;

    fn img(id: &str, tag: Option<&str>, days_old: i64, size: u64) -> Image {
        Image {
            id: format!("sha256:{id}"),
            tags: tag.map(|t| vec![t.to_string()]).unwrap_or_default(),
            created: NOW - days_old * DAY,
            size,
            ..Default::default()
        }
    }

    fn policy() -> Policy {
        Policy {
            min_age_secs: 3600,
            keep: vec![],
            keep_labels: vec![("stevedore.keep".into(), "true".into())],
            keep_recent: 2,
            all: false,
            scope: None,
        }
    }

    fn removed(p: &Plan, images: &[Image]) -> Vec<String> {
        p.removals().map(|d| images[d.index].name()).collect()
    }

    fn why<'a>(p: &'a Plan, images: &[Image], name: &str) -> &'a Verdict {
        &p.decisions
            .iter()
            .find(|d| images[d.index].name() == name)
            .unwrap()
            .verdict
    }

    #[test]
    fn repositories() {
        assert_eq!(repository("a:1"), "a");
        assert_eq!(repository("reg:5000/a/b:1"), "reg:5000/a/b");
        assert_eq!(repository("reg:5000/a/b"), "reg:5000/a/b");
    }

    #[test]
    fn dangling_first_then_least_recently_used_until_under_limit() {
        let mut imgs = vec![
            img("01", Some("app:1"), 30, 100),
            img("02", Some("app:2"), 20, 100),
            img("03", Some("app:3"), 10, 100),
            img("04", Some("app:4"), 5, 100),
            img("05", Some("app:5"), 4, 100),
            img("06", None, 2, 50),
        ];
        // app:2 was used yesterday by a container since removed: it is recorded.
        imgs[1].recorded_use = Some(NOW - DAY);
        let p = plan(&imgs, &policy(), NOW, 1000, 800, &HashSet::new());
        // dangling (50) then app:1 (100) then app:3 (100) = 250 -> 750 < 800.
        assert_eq!(removed(&p, &imgs), ["06", "app:1", "app:3"]);
        assert_eq!(p.to_free, 250);
        assert!(p.projected() < 800);
        assert_eq!(
            why(&p, &imgs, "app:2"),
            &Verdict::Keep(KeepWhy::UnderThreshold)
        );
        assert_eq!(
            why(&p, &imgs, "app:5"),
            &Verdict::Keep(KeepWhy::KeepRecent("app:5".into(), 1))
        );
        // Already under the limit: nothing goes.
        let p = plan(&imgs, &policy(), NOW, 799, 800, &HashSet::new());
        assert_eq!(p.removals().count(), 0);
        // --all: everything the policy allows.
        let mut all = policy();
        all.all = true;
        let p = plan(&imgs, &all, NOW, 0, 800, &HashSet::new());
        assert_eq!(p.removals().count(), 4);
    }

    #[test]
    fn keep_rules_are_honoured() {
        let mut imgs = vec![
            img("01", Some("a:1"), 30, 10),
            img("02", Some("b:pinned"), 30, 10),
            img("03", Some("c:1"), 30, 10),
            img("04", Some("d:1"), 0, 10),
            img("05", Some("e:1"), 30, 10),
            img("06", Some("f:1"), 30, 10),
            img("07", Some("g:1"), 30, 10),
        ];
        imgs[0].containers = 1;
        imgs[2]
            .labels
            .insert("stevedore.keep".into(), "true".into());
        imgs[3].created = NOW - 600;
        imgs[4].last_container = Some(NOW - 60);
        imgs[5].labels.insert("team".into(), "other".into());
        let mut pol = policy();
        pol.all = true;
        pol.keep_recent = 0;
        pol.keep = vec![Regex::new(":pinned$").unwrap()];
        pol.scope = None;
        let p = plan(&imgs, &pol, NOW, 0, 0, &HashSet::new());
        assert_eq!(removed(&p, &imgs), ["f:1", "g:1"]);
        assert_eq!(why(&p, &imgs, "a:1"), &Verdict::Keep(KeepWhy::InUse(1)));
        assert!(matches!(
            why(&p, &imgs, "b:pinned"),
            Verdict::Keep(KeepWhy::KeepPattern(_, _))
        ));
        assert!(matches!(
            why(&p, &imgs, "c:1"),
            Verdict::Keep(KeepWhy::KeepLabel(_))
        ));
        assert!(matches!(
            why(&p, &imgs, "d:1"),
            Verdict::Keep(KeepWhy::Young(600))
        ));
        assert!(matches!(
            why(&p, &imgs, "e:1"),
            Verdict::Keep(KeepWhy::RecentlyUsed(60, UseSource::Container))
        ));
        // Scope: only f:1 carries team=other.
        pol.scope = Some(("team".into(), "other".into()));
        let p = plan(&imgs, &pol, NOW, 0, 0, &HashSet::new());
        assert_eq!(removed(&p, &imgs), ["f:1"]);
        assert_eq!(p.out_of_scope, 6);
        assert_eq!(p.decisions.len(), 1);
        // A failed removal stays.
        pol.scope = None;
        let failed: HashSet<String> = ["sha256:07".to_string()].into();
        let p = plan(&imgs, &pol, NOW, 0, 0, &failed);
        assert_eq!(removed(&p, &imgs), ["f:1"]);
        assert_eq!(
            why(&p, &imgs, "g:1"),
            &Verdict::Keep(KeepWhy::RemovalFailed)
        );
    }

    #[test]
    fn a_leased_image_and_its_parents_stay() {
        let mut imgs = vec![
            img("p", Some("base:1"), 60, 100),
            img("c", Some("app:1"), 50, 100),
            img("x", Some("x:1"), 40, 100),
        ];
        imgs[1].parent_id = Some("sha256:p".into());
        imgs[1].leased = Some("build of app, pid 7, 1m ago".into());
        let mut pol = policy();
        pol.all = true;
        pol.keep_recent = 0;
        let p = plan(&imgs, &pol, NOW, 0, 0, &HashSet::new());
        assert_eq!(removed(&p, &imgs), ["x:1"]);
        assert_eq!(
            why(&p, &imgs, "app:1"),
            &Verdict::Keep(KeepWhy::Leased("build of app, pid 7, 1m ago".into()))
        );
        assert_eq!(
            why(&p, &imgs, "base:1"),
            &Verdict::Keep(KeepWhy::ParentOfKept("app:1".into()))
        );
    }

    #[test]
    fn keep_recent_counts_tags_per_repository() {
        let imgs = vec![
            img("01", Some("r/a:1"), 40, 10),
            img("02", Some("r/a:2"), 30, 10),
            img("03", Some("r/a:3"), 20, 10),
            img("04", Some("r/b:1"), 50, 10),
        ];
        let mut pol = policy();
        pol.all = true;
        let p = plan(&imgs, &pol, NOW, 0, 0, &HashSet::new());
        assert_eq!(removed(&p, &imgs), ["r/a:1"]);
        pol.keep_recent = 1;
        let p = plan(&imgs, &pol, NOW, 0, 0, &HashSet::new());
        assert_eq!(removed(&p, &imgs), ["r/a:1", "r/a:2"]);
    }

    #[test]
    fn children_go_before_parents_and_keep_them() {
        let mut imgs = vec![
            img("p", Some("base:1"), 60, 100),
            img("c", Some("app:1"), 10, 130),
            img("g", Some("app:2"), 9, 150),
            img("x", Some("other:1"), 50, 10),
        ];
        imgs[1].parent_id = Some("sha256:p".into());
        imgs[2].parent_id = Some("sha256:c".into());
        imgs[0].shared_size = 100;
        imgs[1].shared_size = 130;
        imgs[2].shared_size = 130;
        let mut pol = policy();
        pol.keep_recent = 0;
        // base:1 is least recently used: its descendants go first, grandchild before child.
        let p = plan(&imgs, &pol, NOW, 1000, 990, &HashSet::new());
        assert_eq!(removed(&p, &imgs), ["app:2", "app:1", "base:1"]);
        assert_eq!(p.to_free, 20 + 30 + 100);
        // A hidden intermediate used by a container keeps its ancestors, and is never shown.
        let mut h = img("h", None, 5, 0);
        h.hidden = true;
        h.containers = 1;
        h.parent_id = Some("sha256:x".into());
        imgs.push(h);
        let p = plan(&imgs, &pol, NOW, 1000, 0, &HashSet::new());
        assert!(!removed(&p, &imgs).contains(&"other:1".to_string()));
        assert!(p.decisions.iter().all(|d| !imgs[d.index].hidden));
        assert_eq!(p.out_of_scope, 0);
        imgs.pop();
        // If the grandchild stays, both its ancestors stay.
        imgs[2].containers = 1;
        let p = plan(&imgs, &pol, NOW, 1000, 0, &HashSet::new());
        assert_eq!(removed(&p, &imgs), ["other:1"]);
        assert_eq!(
            why(&p, &imgs, "base:1"),
            &Verdict::Keep(KeepWhy::ParentOfKept("app:2".into()))
        );
        assert_eq!(
            why(&p, &imgs, "app:1"),
            &Verdict::Keep(KeepWhy::ParentOfKept("app:2".into()))
        );
    }
}
