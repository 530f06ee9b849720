//! `stevedore prune` against the real daemon: 44 images of different sizes, ages, labels and repositories
//! (crafted docker-archives with old `created` dates, loaded without pulling), some used by containers, one
//! parent/child chain. Every run is scoped with a label unique to the test, so only images the test made are
//! ever candidates.

mod common;
mod prune_support;

use prune_support::{DAY, Fixture, MB, Spec, docker_usage};
use std::collections::BTreeSet;

fn spec(tag: Option<&str>, age_secs: i64, mb: usize) -> Spec {
    Spec {
        tag: tag.map(String::from),
        age_secs,
        size: mb * MB,
        ..Default::default()
    }
}

/// The images of the main scenario. Returns the specs and, by name, their indices.
fn scenario() -> (Vec<Spec>, Vec<&'static str>) {
    let d = DAY;
    let m = 60;
    let rows: Vec<(&'static str, Option<&'static str>, i64, usize)> = vec![
        // repo app: 6 tags, the 2 newest kept by --keep-recent
        ("app:1", Some("app:1"), 90 * d, 3),
        ("app:2", Some("app:2"), 80 * d, 2),
        ("app:3", Some("app:3"), 70 * d, 4),
        ("app:4", Some("app:4"), 60 * d, 1),
        ("app:5", Some("app:5"), 10 * d, 1),
        ("app:6", Some("app:6"), 5 * d, 1),
        // repo api: api:3 is old but stevedore's record says it was used 2 days ago
        ("api:1", Some("api:1"), 85 * d, 5),
        ("api:2", Some("api:2"), 75 * d, 2),
        ("api:3", Some("api:3"), 65 * d, 3),
        ("api:4", Some("api:4"), 8 * d, 1),
        ("api:5", Some("api:5"), 4 * d, 1),
        // repo web: web:1 is the big one the threshold lands in (half of it is the margin for other
        // jobs changing Docker's usage meanwhile on a shared daemon)
        ("web:1", Some("web:1"), 95 * d, 30),
        ("web:2", Some("web:2"), 50 * d, 2),
        ("web:3", Some("web:3"), 7 * d, 1),
        ("web:4", Some("web:4"), 3 * d, 1),
        ("lib:1", Some("lib:1"), 55 * d, 3),
        ("lib:2", Some("lib:2"), 6 * d, 1),
        ("lib:3", Some("lib:3"), 2 * d, 1),
        // dangling
        ("d1", None, 30 * d, 2),
        ("d2", None, 20 * d, 3),
        ("d3", None, 40 * d, 1),
        ("d4", None, 12 * d, 2),
        // base:1 is the oldest image; chain:1 is made from it
        ("base:1", Some("base:1"), 100 * d, 4),
        ("base:2", Some("base:2"), 9 * d, 1),
        ("base:3", Some("base:3"), d, 1),
        ("chain:1", Some("chain:1"), 45 * d, 3),
        ("chain:2", Some("chain:2"), 8 * d, 1),
        ("chain:3", Some("chain:3"), 2 * d, 1),
        // --keep pinned:old$
        ("pinned:old", Some("pinned:old"), 99 * d, 2),
        ("pinned:a", Some("pinned:a"), 2 * d, 1),
        ("pinned:b", Some("pinned:b"), d, 1),
        // keep label
        ("lbl:old1", Some("lbl:old1"), 97 * d, 2),
        ("lbl:old2", Some("lbl:old2"), 96 * d, 1),
        ("lbl:n1", Some("lbl:n1"), 2 * d, 1),
        ("lbl:n2", Some("lbl:n2"), d, 1),
        // used by (created, never started) containers
        ("used:old1", Some("used:old1"), 94 * d, 2),
        ("used:old2", Some("used:old2"), 93 * d, 1),
        ("used:n1", Some("used:n1"), 2 * d, 1),
        ("used:n2", Some("used:n2"), d, 1),
        // younger than --min-age
        ("y:1", Some("y:1"), 50 * m, 1),
        ("y:2", Some("y:2"), 40 * m, 1),
        ("y:3", Some("y:3"), 30 * m, 1),
        ("dy", None, 10 * m, 1),
        // outside the scope: never a candidate
        ("unscoped:old", Some("unscoped:old"), 100 * d, 1),
    ];
    let mut specs = Vec::new();
    let mut names = Vec::new();
    for (name, tag, age, mb) in rows {
        let mut s = spec(tag, age, mb);
        if name.starts_with("lbl:old") {
            s.labels.push(("stevedore.keep".into(), "true".into()));
        }
        if name == "unscoped:old" {
            s.unscoped = true;
        }
        specs.push(s);
        names.push(name);
    }
    let base = names.iter().position(|n| *n == "base:1").unwrap();
    let chain = names.iter().position(|n| *n == "chain:1").unwrap();
    specs[chain].parent = Some(base);
    (specs, names)
}

fn idx(names: &[&str], n: &str) -> usize {
    names.iter().position(|x| *x == n).unwrap()
}

/// The names printed for removals, in order, in stevedore's output (`remove #k` rows or `removed X` lines).
fn planned(stdout: &str, fx: &Fixture) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.contains(" remove #"))
        .map(|l| short(l.split_whitespace().next().unwrap(), fx))
        .collect()
}

fn short(name: &str, fx: &Fixture) -> String {
    name.strip_prefix(&format!("{}/", fx.prefix))
        .unwrap_or(name)
        .to_string()
}

/// What a name prints as: the tag, or the short ID of a dangling image.
fn shown(fx: &Fixture, names: &[&str], n: &str) -> String {
    let m = &fx.made[idx(names, n)];
    match &m.tag {
        Some(_) => n.to_string(),
        None => m.id.trim_start_matches("sha256:")[..12].to_string(),
    }
}

#[test]
fn prune_policy_against_the_real_daemon() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let (specs, names) = scenario();
    assert!(specs.len() >= 30);
    let mut fx = Fixture::new("main");
    fx.load(&specs);
    fx.container(idx(&names, "used:old1"));
    fx.container(idx(&names, "used:old2"));
    fx.container(idx(&names, "used:old2"));
    assert_eq!(fx.existing().len(), specs.len(), "all test images loaded");

    // chain:1's parent is base:1, as loaded.
    let parent = common::docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Parent}}",
        &fx.made[idx(&names, "chain:1")].id,
    ]);
    assert_eq!(parent, fx.made[idx(&names, "base:1")].id);

    let project = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // stevedore's record: api:3 was used two days ago.
    let rec = state.path().join("record.json");
    let now = chrono::Utc::now().timestamp();
    stevedore::prune::record::record_use_at(
        &rec,
        &fx.made[idx(&names, "api:3")].tag.clone().unwrap(),
        now - 2 * DAY,
    )
    .unwrap();
    let state_env = state.path().to_str().unwrap().to_string();
    let env = [("STEVEDORE_STATE_DIR", state_env.as_str())];
    let keep = format!("^{}/pinned:old$", regex::escape(&fx.prefix));
    let run = |extra: &[&str], dry: bool| {
        let mut args: Vec<&str> = Vec::new();
        if dry {
            args.push("--dry-run");
        }
        args.extend(["prune", "--scope-label", &fx.scope, "--keep", &keep]);
        args.extend(extra);
        let (code, out, err) = common::stevedore(project.path(), &args, &env);
        assert_eq!(code, 0, "stevedore {args:?} failed:\n{out}\n{err}");
        assert!(!err.contains("could not remove"), "{err}");
        (out, err)
    };

    // Expected order: dangling by last use (d3 40d, d1 30d, d2 20d, d4 12d), then least recently used:
    // base:1 (100d) — its child chain:1 first — then web:1 (95d). With the threshold halfway into web:1's
    // 30 MB, exactly these seven go.
    let expected: Vec<&str> = vec!["d3", "d1", "d2", "d4", "chain:1", "base:1", "web:1"];
    let before_web: usize = [1, 2, 3, 2, 3, 4].iter().sum::<usize>() * MB;
    let limit_now = || docker_usage() - before_web as u64 - 15 * MB as u64;
    let limit = limit_now();
    let threshold = limit.to_string();

    // 1. Dry run: the plan, nothing removed.
    let (out, err) = run(&["--threshold", &threshold], true);
    let want: Vec<String> = expected.iter().map(|n| shown(&fx, &names, n)).collect();
    assert_eq!(planned(&out, &fx), want, "plan:\n{out}\n{err}");
    assert!(out.contains("would remove 7 images"), "{out}");
    assert_eq!(fx.existing().len(), specs.len(), "dry run removed nothing");
    // Each keep rule is named for its image.
    let line = |n: &str| -> String {
        let full = match fx.made[idx(&names, n)].tag.clone() {
            Some(t) => t,
            None => shown(&fx, &names, n),
        };
        out.lines()
            .find(|l| l.starts_with(&format!("{full} ")))
            .unwrap_or_else(|| panic!("no plan row for {n}:\n{out}"))
            .to_string()
    };
    assert!(
        line("pinned:old").contains("matches --keep"),
        "{}",
        line("pinned:old")
    );
    assert!(line("lbl:old1").contains("keep label stevedore.keep=true"));
    assert!(line("used:old1").contains("used by 1 container"));
    assert!(line("used:old2").contains("used by 2 containers"));
    assert!(line("y:1").contains("younger than --min-age"));
    assert!(line("dy").contains("younger than --min-age"));
    assert!(line("app:5").contains("#2 newest tag"));
    assert!(line("app:6").contains("#1 newest tag"));
    assert!(line("api:3").contains("(record)"), "{}", line("api:3"));
    assert!(line("app:1").contains("usage is under the threshold"));
    assert!(line("chain:1").contains("children first"));
    assert!(line("web:1").contains("least recently used"));
    assert!(
        !out.contains("unscoped"),
        "out-of-scope images are not considered"
    );

    // 2. The real run: exactly the seven go, children before parents, usage ends under the threshold.
    let limit = limit_now();
    let threshold = limit.to_string();
    let (out, _err) = run(&["--threshold", &threshold], false);
    let gone: BTreeSet<usize> = expected.iter().map(|n| idx(&names, n)).collect();
    let left: BTreeSet<usize> = fx.existing().into_iter().collect();
    let want_left: BTreeSet<usize> = (0..specs.len()).filter(|i| !gone.contains(i)).collect();
    assert_eq!(
        left.iter().map(|&i| names[i]).collect::<Vec<_>>(),
        want_left.iter().map(|&i| names[i]).collect::<Vec<_>>(),
        "{out}"
    );
    let after = docker_usage();
    assert!(after < limit, "usage {after} not under {limit}");
    let removed_lines: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("removed "))
        .map(|l| short(l.split_whitespace().nth(1).unwrap(), &fx))
        .collect();
    assert_eq!(removed_lines, want);
    assert!(
        out.lines()
            .any(|l| l.starts_with("freed 45.") && l.contains("in total (7 images)")),
        "{out}"
    );
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(project.path().join(stevedore::summary::FILE)).unwrap(),
    )
    .unwrap();
    let facts = &summary["steps"][0]["facts"];
    assert_eq!(summary["steps"][0]["step"], "prune");
    assert_eq!(facts["removed"].as_array().unwrap().len(), 7);
    let freed = facts["freed_bytes"].as_u64().unwrap();
    let expected_freed = (before_web + 30 * MB) as u64;
    assert!(
        freed.abs_diff(expected_freed) < 200_000,
        "freed {freed}, expected about {expected_freed}"
    );
    // The record now remembers the containers' images.
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&rec).unwrap()).unwrap();
    assert!(
        record["images"][&fx.made[idx(&names, "used:old1")].id].is_object(),
        "{record}"
    );

    // 3. A second run right after frees nothing more.
    let (out, err) = run(&["--threshold", &threshold], false);
    assert!(!out.contains("removed "), "{out}");
    assert!(out.contains("freed 0 B in total (0 images)"), "{out}");
    assert!(err.contains("images removed  0"), "{err}");
    assert_eq!(fx.existing().into_iter().collect::<BTreeSet<_>>(), left);

    // 4. --all: everything the policy allows goes; every keep rule holds.
    let (out, _) = run(&["--all", "--threshold", &threshold], false);
    let kept: BTreeSet<&str> = [
        "app:5",
        "app:6",
        "api:4",
        "api:5",
        "web:3",
        "web:4",
        "lib:2",
        "lib:3",
        "base:2",
        "base:3",
        "chain:2",
        "chain:3",
        "pinned:old",
        "pinned:a",
        "pinned:b",
        "lbl:old1",
        "lbl:old2",
        "lbl:n1",
        "lbl:n2",
        "used:old1",
        "used:old2",
        "used:n1",
        "used:n2",
        "y:1",
        "y:2",
        "y:3",
        "dy",
        "unscoped:old",
    ]
    .into_iter()
    .collect();
    let left: BTreeSet<&str> = fx.existing().into_iter().map(|i| names[i]).collect();
    assert_eq!(left, kept, "{out}");

    // 5. And again: nothing more.
    let (out, _) = run(&["--all"], false);
    assert!(!out.contains("removed "), "{out}");
    assert_eq!(fx.existing().len(), kept.len());
}

#[test]
fn a_parent_stays_while_its_child_is_kept_and_goes_after_it_otherwise() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let mut fx = Fixture::new("chain");
    let mut specs = vec![
        spec(Some("p:1"), 30 * DAY, 1),
        spec(Some("c:1"), 20 * DAY, 1),
        spec(Some("g:1"), 10 * DAY, 1),
    ];
    specs[1].parent = Some(0);
    specs[2].parent = Some(1);
    fx.load(&specs);
    let project = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let env = [("STEVEDORE_STATE_DIR", state.path().to_str().unwrap())];
    let keep_g = "/g:1$".to_string();
    let args = |keep: Option<&str>| {
        let mut a = vec![
            "prune".to_string(),
            "--all".into(),
            "--keep-recent".into(),
            "0".into(),
            "--scope-label".into(),
            fx.scope.clone(),
        ];
        if let Some(k) = keep {
            a.push("--keep".into());
            a.push(k.into());
        }
        a
    };
    // The grandchild is kept: its parent and grandparent stay too.
    let a = args(Some(&keep_g));
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    let (code, out, err) = common::stevedore(project.path(), &a, &env);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fx.existing(), vec![0, 1, 2], "{out}{err}");
    assert!(err.contains("parent of"), "{err}");
    // Nothing kept: grandchild, child, parent, in that order, without a conflict.
    let a = args(None);
    let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    let (code, out, err) = common::stevedore(project.path(), &a, &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("could not remove"), "{err}");
    assert_eq!(fx.existing(), Vec::<usize>::new(), "{out}{err}");
    let order: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("removed "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        order,
        [fx.r("g:1"), fx.r("c:1"), fx.r("p:1")]
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_image_in_two_repositories_goes_reference_by_reference() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let mut fx = Fixture::new("tags");
    fx.load(&[
        spec(Some("a:1"), 30 * DAY, 1),
        spec(Some("b:1"), 20 * DAY, 1),
    ]);
    // The daemon refuses to remove by ID an image referenced in several repositories.
    common::docker(&["tag", &fx.made[0].id, &fx.r("other:1")]);
    let (code, out, err) = prune_fresh(&fx, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("could not remove"), "{err}");
    assert_eq!(fx.existing(), Vec::<usize>::new(), "{out}{err}");
}

/// Runs `test` on a runtime of its own, holding the daemon lock (the staged tests call prune's steps one by
/// one).
fn on_the_daemon(test: impl std::future::Future<Output = ()>) {
    common::require_docker();
    let _lock = common::daemon_lock();
    tokio::runtime::Runtime::new().unwrap().block_on(test);
}

/// Removes what `plan` says, as `stevedore prune` would, and returns the tally.
async fn apply(
    conn: &stevedore::prune::docker::Conn,
    plan: &stevedore::prune::policy::Plan,
    images: &[stevedore::prune::policy::Image],
) -> stevedore::prune::Tally {
    let app = stevedore::app::App::new(
        stevedore::ci::Context::from_env(),
        stevedore::config::Config::default(),
    );
    let mut tally = stevedore::prune::Tally::default();
    stevedore::prune::apply(&app, conn, plan, images, &mut tally).await;
    tally
}

/// Reads the daemon as prune does and plans the removal of every image in the fixture's scope
/// (`--all --keep-recent 0`), without removing anything.
async fn plan_everything_in_scope(
    fx: &Fixture,
) -> (
    stevedore::prune::docker::Conn,
    Vec<stevedore::prune::policy::Image>,
    stevedore::prune::policy::Plan,
) {
    use stevedore::prune::{self, docker, policy, usage};
    let conn = docker::connect().await.unwrap();
    let df = usage::read(&conn.raw).await.unwrap();
    let lin = prune::lineage(&conn).await.unwrap();
    let images = prune::images_of(&df, &lin, &prune::record::Record::default());
    let args = prune::PruneArgs {
        all: true,
        keep_recent: Some(0),
        scope_label: Some(fx.scope.clone()),
        ..Default::default()
    };
    let s = prune::Settings::resolve(&args, &Default::default()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let plan = policy::plan(&images, &s.policy, now, 0, 0, &Default::default());
    (conn, images, plan)
}

/// The race the issue names: a container is made from an image after the plan was made. The daemon refuses
/// that one removal; it is reported and skipped, the others go, and a parent whose child could not go is
/// skipped rather than attempted. The steps of `run` are called one by one to stage the race.
#[test]
fn a_refused_removal_is_reported_and_skipped() {
    on_the_daemon(refused_removal());
}

async fn refused_removal() {
    let mut fx = Fixture::new("race");
    let mut specs = vec![
        spec(Some("p:1"), 40 * DAY, 1),
        spec(Some("c:1"), 30 * DAY, 1),
        spec(Some("x:1"), 20 * DAY, 1),
        spec(Some("y:1"), 10 * DAY, 1),
    ];
    specs[1].parent = Some(0);
    fx.load(&specs);
    use stevedore::prune;
    let (conn, images, plan) = plan_everything_in_scope(&fx).await;
    let order: Vec<String> = plan.removals().map(|d| images[d.index].name()).collect();
    assert_eq!(order, [fx.r("c:1"), fx.r("p:1"), fx.r("x:1"), fx.r("y:1")]);
    // Now another job makes containers from c:1 and x:1.
    fx.container(1);
    fx.container(2);
    let tally = apply(&conn, &plan, &images).await;
    let failed: Vec<String> = tally
        .failures
        .iter()
        .map(|f| f["image"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        failed,
        [fx.r("c:1"), fx.r("p:1"), fx.r("x:1")],
        "{:?}",
        tally.failures
    );
    let why = |i: usize| tally.failures[i]["error"].as_str().unwrap().to_string();
    assert!(why(0).contains("container"), "{}", why(0));
    assert!(why(1).contains("could not be removed"), "{}", why(1));
    assert!(why(2).contains("container"), "{}", why(2));
    assert_eq!(tally.removed.len(), 1);
    assert_eq!(fx.existing(), vec![0, 1, 2]);
    // Issue 17.2: refusals fail the step — 1 when some went, 4 when the daemon refused every one.
    assert_eq!(
        prune::exit_of(tally.removed.len(), tally.failures.len()),
        Some(1)
    );
    assert_eq!(prune::exit_of(0, tally.failures.len()), Some(4));
}

#[test]
fn build_cache_pruning_is_accepted_by_the_engine() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let fx = Fixture::new("cache");
    let project = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let env = [("STEVEDORE_STATE_DIR", state.path().to_str().unwrap())];
    // Dry run names what it would do.
    let (code, out, err) = common::stevedore(
        project.path(),
        &[
            "--dry-run",
            "prune",
            "--build-cache",
            "--scope-label",
            &fx.scope,
            "--min-age",
            "2h",
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("would prune build cache unused for 2h beyond 5.0 GB"),
        "{out}"
    );
    // The real call with a budget nothing exceeds: the engine must accept the filter (one value each).
    let (code, out, err) = common::stevedore(
        project.path(),
        &[
            "prune",
            "--build-cache",
            "--build-cache-budget",
            "10000GB",
            "--min-age",
            "10000h",
            "--scope-label",
            &fx.scope,
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("build cache: removed 0 records, freed 0 B"),
        "{out}\n{err}"
    );
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn no_daemon_is_exit_4_with_the_fix() {
    let project = tempfile::tempdir().unwrap();
    let (code, _out, err) = common::stevedore(
        project.path(),
        &["prune", "--scope-label", "stevedore.test.prune=none"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("/nonexistent/docker.sock") && err.contains("DOCKER_HOST"),
        "{err}"
    );
}

#[test]
fn bad_values_are_usage_errors() {
    let project = tempfile::tempdir().unwrap();
    for (args, what) in [
        (vec!["prune", "--threshold", "lots"], "lots"),
        (vec!["prune", "--min-age", "soon"], "soon"),
        (vec!["prune", "--keep", "("], "--keep"),
        (vec!["prune", "--scope-label", "novalue"], "KEY=VALUE"),
    ] {
        let (code, _out, err) = common::stevedore(project.path(), &args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(what), "{args:?}: {err}");
    }
    std::fs::write(
        project.path().join("stevedore.toml"),
        "[prune]\nthreshold = \"lots\"\n",
    )
    .unwrap();
    let (code, _out, err) = common::stevedore(project.path(), &["prune"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("threshold") && err.contains("lots"), "{err}");
}

/// An untagged intermediate image (classic builds leave them; `/system/df` does not list them) between a
/// scoped image and a child outside the scope: the scoped parent stays, and nothing is refused.
#[test]
fn ancestry_through_hidden_intermediates_is_followed() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let mut fx = Fixture::new("hidden");
    let mut specs = vec![
        spec(Some("a:1"), 30 * DAY, 1),
        spec(None, 20 * DAY, 1),
        spec(Some("y:1"), 10 * DAY, 1),
        spec(Some("z:1"), 10 * DAY, 1),
    ];
    specs[1].parent = Some(0);
    specs[2].parent = Some(1);
    specs[2].unscoped = true;
    fx.load(&specs);
    let (code, out, err) = prune_fresh(&fx, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("could not remove"), "{err}");
    assert!(err.contains(&format!("parent of {}", fx.r("y:1"))), "{err}");
    assert_eq!(fx.existing(), vec![0, 1, 2], "{out}{err}");
}

/// Issue 17.2: every image `build` makes has several tags in one repository (version, moving and sha
/// tags). The daemon refuses to remove such an image by ID (409 "referenced in multiple repositories"), so
/// prune untags it tag by tag, then removes it — two and three tags in one repository, and tags across
/// repositories.
#[test]
fn an_image_with_several_tags_goes_tag_by_tag() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let mut fx = Fixture::new("multitag");
    fx.load(&[
        spec(Some("two:a"), 30 * DAY, 1),
        spec(Some("three:a"), 30 * DAY, 1),
        spec(Some("cross:a"), 30 * DAY, 1),
    ]);
    common::docker(&["tag", &fx.made[0].id, &fx.r("two:b")]);
    common::docker(&["tag", &fx.made[1].id, &fx.r("three:b")]);
    common::docker(&["tag", &fx.made[1].id, &fx.r("three:c")]);
    common::docker(&["tag", &fx.made[2].id, &fx.r("cross:b")]);
    common::docker(&["tag", &fx.made[2].id, &fx.r("elsewhere:a")]);
    // The repro of the issue: the daemon itself refuses the ID while two tags of one repository name it.
    let refused = std::process::Command::new("docker")
        .args(["rmi", &fx.made[0].id])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "the daemon removed a twice-tagged image by ID"
    );
    let (code, out, err) = prune_fresh(&fx, &["--min-age", "0s"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("could not remove"), "{err}");
    assert_eq!(fx.existing(), Vec::<usize>::new(), "{out}{err}");
    assert!(out.contains("in total (3 images)"), "{out}");
    for t in [
        "two:a",
        "two:b",
        "three:a",
        "three:b",
        "three:c",
        "cross:a",
        "cross:b",
        "elsewhere:a",
    ] {
        let gone = std::process::Command::new("docker")
            .args(["image", "inspect", &fx.r(t)])
            .output()
            .unwrap();
        assert!(!gone.status.success(), "{t} is still there");
    }
}

/// Issue 17.8: `--keep-label team=php` adds to the default `stevedore.keep=true` protection.
#[test]
fn keep_label_adds_to_the_default_protection() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let mut fx = Fixture::new("keeplabel");
    let mut specs = vec![
        spec(Some("k:default"), 30 * DAY, 1),
        spec(Some("k:php"), 30 * DAY, 1),
        spec(Some("k:other"), 30 * DAY, 1),
    ];
    specs[0]
        .labels
        .push(("stevedore.keep".into(), "true".into()));
    specs[1].labels.push(("team".into(), "php".into()));
    fx.load(&specs);
    let (code, out, err) = prune_fresh(&fx, &["--keep-label", "team=php"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fx.existing(), vec![0, 1], "{out}{err}");
    assert!(err.contains("has keep label stevedore.keep=true"), "{err}");
    assert!(err.contains("has keep label team=php"), "{err}");
}

/// Issue 15: a second prune on the same images never fails because the other removed an image first.
/// Staged deterministically: the plan is made, then "the other prune" removes two of its images (one
/// tagged twice), then this one runs the plan.
#[test]
fn an_image_another_prune_removed_first_is_not_a_failure() {
    on_the_daemon(removed_first());
}

async fn removed_first() {
    let mut fx = Fixture::new("first");
    fx.load(&[
        spec(Some("a:1"), 30 * DAY, 1),
        spec(Some("b:1"), 20 * DAY, 1),
        spec(Some("c:1"), 10 * DAY, 1),
    ]);
    common::docker(&["tag", &fx.made[1].id, &fx.r("b:2")]);
    let (conn, images, plan) = plan_everything_in_scope(&fx).await;
    assert_eq!(plan.removals().count(), 3);
    common::docker(&["rmi", &fx.r("a:1")]);
    common::docker(&["rmi", &fx.r("b:1"), &fx.r("b:2")]);
    let tally = apply(&conn, &plan, &images).await;
    assert!(tally.failures.is_empty(), "{:?}", tally.failures);
    assert_eq!(tally.already_gone.len(), 2, "{tally:?}");
    assert_eq!(tally.removed.len(), 1);
    assert_eq!(fx.existing(), Vec::<usize>::new());
}

/// Issue 15: two `stevedore prune` processes at once on the same images (several tags each): both exit 0,
/// neither reports a failure, and everything the policy allows is gone.
#[test]
fn two_prunes_at_once_both_succeed() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let mut fx = Fixture::new("twice");
    let specs: Vec<Spec> = (0..16)
        .map(|i| spec(Some(&format!("r{}:{i}", i % 4)), (30 + i) * DAY, 1))
        .collect();
    fx.load(&specs);
    for (i, m) in fx.made.clone().iter().enumerate().step_by(2) {
        common::docker(&["tag", &m.id, &fx.r(&format!("r{}:extra{i}", i % 4))]);
    }
    let project = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let spawn = || {
        std::process::Command::new(common::stevedore_bin())
            .args([
                "prune",
                "--scope-label",
                &fx.scope,
                "--all",
                "--keep-recent",
                "0",
            ])
            .current_dir(project.path())
            .env("STEVEDORE_STATE_DIR", state.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{o}{e}");
        assert!(!e.contains("could not remove"), "{e}");
    }
    assert_eq!(fx.existing(), Vec::<usize>::new());
}

/// An image in the fixture's scope made `FROM` the busybox base (so a build can `RUN` on it), built by
/// the docker CLI; returns its reference (the fixture removes it).
fn scoped_base(fx: &mut Fixture) -> String {
    let busybox = common::busybox_image();
    let base = fx.r("base:1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {busybox}\n")).unwrap();
    let out = std::process::Command::new("docker")
        .args(["build", "-q", "-t", &base, "--label", &fx.scope])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fx.made.push(prune_support::Made {
        id: image_id(&base),
        tag: Some(base.clone()),
    });
    base
}

fn image_id(r: &str) -> String {
    common::docker(&["image", "inspect", "-f", "{{.Id}}", r])
}

/// Starts `stevedore build` (BuildKit) of `FROM base` + `RUN sleep SECS` as `image:t` in `project`.
fn spawn_build(
    project: &std::path::Path,
    state: &std::path::Path,
    base: &str,
    image: &str,
    secs: u32,
) -> std::process::Child {
    std::fs::write(
        project.join("Dockerfile"),
        format!("FROM {base}\nRUN sleep {secs} && echo {image} > /built\n"),
    )
    .unwrap();
    std::process::Command::new(common::stevedore_bin())
        .args([
            "build",
            "--image",
            image,
            "--tag",
            "t",
            "--builder",
            "buildkit",
            ".",
        ])
        .current_dir(project)
        .env("STEVEDORE_STATE_DIR", state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The lease files in the state directory `state`.
fn lease_files(state: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(state.join("leases"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (at most a minute) for a build to take its lease; returns the lease.
fn wait_for_lease(state: &std::path::Path) -> serde_json::Value {
    let t0 = std::time::Instant::now();
    while lease_files(state).is_empty() {
        assert!(t0.elapsed().as_secs() < 60, "the build took no lease");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    serde_json::from_slice(&std::fs::read(&lease_files(state)[0]).unwrap()).unwrap()
}

/// `stevedore prune --scope-label SCOPE --all --keep-recent 0 FLAGS` in `project`, with its state in `state`:
/// (code, stdout, stderr).
fn prune_scope(
    fx: &Fixture,
    project: &std::path::Path,
    state: &std::path::Path,
    flags: &[&str],
) -> (i32, String, String) {
    let env = [("STEVEDORE_STATE_DIR", state.to_str().unwrap())];
    let mut args = vec![
        "prune",
        "--scope-label",
        &fx.scope,
        "--all",
        "--keep-recent",
        "0",
    ];
    args.extend_from_slice(flags);
    common::stevedore(project, &args, &env)
}

/// [`prune_scope`] in a fresh project and state directory.
fn prune_fresh(fx: &Fixture, flags: &[&str]) -> (i32, String, String) {
    let (project, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    prune_scope(fx, project.path(), state.path(), flags)
}

/// `stevedore prune --all --min-age 0s --keep-recent 0` in the fixture's scope: (code, stdout, stderr).
fn prune_all(
    fx: &Fixture,
    project: &std::path::Path,
    state: &std::path::Path,
) -> (i32, String, String) {
    prune_scope(fx, project, state, &["--min-age", "0s"])
}

/// Issue 20.2 and 15: `prune` racing a BuildKit `build` never removes the build's base image — BuildKit
/// holds no container on it, so only the build's lease protects it — and the base goes once the build is
/// over. The base is a real image in the test's scope, the build runs `sleep` so the prune lands in the
/// middle of it.
#[test]
fn a_running_build_keeps_its_base_image() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let mut fx = Fixture::new("lease");
    let base = scoped_base(&mut fx);
    let (project, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let app = fx.r("app");
    let build = spawn_build(project.path(), state.path(), &base, &app, 8);
    let lease = wait_for_lease(state.path());
    assert_eq!(lease["images"][0]["id"], fx.made[0].id.as_str(), "{lease}");
    let (code, out, err) = prune_all(&fx, project.path(), state.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        fx.exists(0),
        "prune removed the base of a running build:\n{out}{err}"
    );
    assert!(err.contains("a running build uses it"), "{err}");
    let built = build.wait_with_output().unwrap();
    let (bo, be) = (
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr),
    );
    assert_eq!(built.status.code(), Some(0), "build failed:\n{bo}{be}");
    fx.made.push(prune_support::Made {
        id: image_id(&format!("{app}:t")),
        tag: Some(format!("{app}:t")),
    });
    assert!(
        lease_files(state.path()).is_empty(),
        "the build released its lease"
    );
    // The build is over: its base goes like any other image.
    let (code, out, err) = prune_all(&fx, project.path(), state.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(!fx.exists(0), "{out}{err}");
}

/// Issue 20.2: a build killed with SIGKILL leaves its lease file behind; the lease is void as soon as the
/// process is gone — the next prune removes the base and deletes the file.
#[test]
fn a_killed_builds_lease_expires_with_its_process() {
    common::require_docker();
    let _lock = common::daemon_lock();
    let mut fx = Fixture::new("leasekill");
    let base = scoped_base(&mut fx);
    let (project, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut build = spawn_build(project.path(), state.path(), &base, &fx.r("app"), 30);
    wait_for_lease(state.path());
    build.kill().unwrap();
    build.wait().unwrap();
    assert_eq!(
        lease_files(state.path()).len(),
        1,
        "SIGKILL leaves the file"
    );
    let (code, out, err) = prune_all(&fx, project.path(), state.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !fx.exists(0),
        "a dead build's lease still kept the base:\n{out}{err}"
    );
    assert!(
        lease_files(state.path()).is_empty(),
        "the dead lease is deleted"
    );
}

/// Issue 20.2: a build that takes its lease after the plan was made still keeps its base — prune checks
/// the leases again at each removal — and the image's parent stays with it.
#[test]
fn a_lease_taken_after_the_plan_keeps_the_image() {
    on_the_daemon(lease_after_plan());
}

async fn lease_after_plan() {
    let mut fx = Fixture::new("leaselate");
    let mut specs = vec![
        spec(Some("p:1"), 40 * DAY, 1),
        spec(Some("c:1"), 30 * DAY, 1),
        spec(Some("x:1"), 20 * DAY, 1),
    ];
    specs[1].parent = Some(0);
    fx.load(&specs);
    use stevedore::prune::lease;
    let (conn, images, plan) = plan_everything_in_scope(&fx).await;
    assert_eq!(plan.removals().count(), 3);
    // Now a build starts from c:1 (in the state directory prune reads).
    let c = fx.r("c:1");
    let held = lease::take(
        &lease::dir(),
        "build of test",
        std::slice::from_ref(&c),
        std::time::Duration::from_secs(60),
        |_| async { None },
    )
    .await
    .unwrap();
    let tally = apply(&conn, &plan, &images).await;
    drop(held);
    assert!(tally.failures.is_empty(), "{:?}", tally.failures);
    let kept: Vec<&str> = tally
        .held
        .iter()
        .map(|h| h["image"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [c.as_str(), fx.r("p:1").as_str()], "{:?}", tally.held);
    assert_eq!(fx.existing(), vec![0, 1]);
}
