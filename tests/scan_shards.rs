//! `stevedore scan --shard I/N` (issue 13): the union of N shards' findings is the unsharded scan's, for
//! several N, on a history where secrets are carried, moved, repeated and removed; every blob and file
//! is read by exactly one shard; each shard fails on its own findings only.

mod common;
mod scan_support;

use common::stevedore;
use scan_support::*;
use stevedore::scan::found::Limits;
use stevedore::scan::history::{History, Range};

const ANN: &str = "Ann Coder <ann@example.org>";

/// An AWS-access-key-shaped test value, made at run time (`AKIA` + 16 of `[A-Z2-7]`) from `n`.
fn key(n: u64) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B;
    let mut s = String::from("AKIA");
    for _ in 0..16 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push(ALPHA[(x % 32) as usize] as char);
    }
    s
}

/// A repository whose history holds secrets in every shape the history scan deduplicates: a secret
/// carried through many revisions of one file, one moved to another file, one written twice in a file,
/// one removed later, one merged from a branch; plus the same secret still in the working tree and one
/// only in an uncommitted file.
fn repo() -> Repo {
    let r = Repo::new();
    for c in 0..12u64 {
        for f in 0..8u64 {
            if (c + f) % 3 == 0 {
                let body: String = (0..(20 + c * f))
                    .map(|i| format!("line {i} of rev {c}\n"))
                    .collect();
                r.write(&format!("src/mod{f}/file{f}.txt"), body);
            }
        }
        // Carried: the same secret in every revision of config.py.
        r.write(
            "config.py",
            format!("{}rev = {c}\n", py_with_key(&key(1), 3)),
        );
        if c == 2 {
            r.write("old/secrets.env", format!("AWS_KEY={}\n", key(2)));
            r.write(
                "twice.py",
                py_with_key(&key(3), 1) + &py_with_key(&key(3), 2),
            );
        }
        if c == 5 {
            // Moved: the file gets a new name, the secret stays.
            std::fs::rename(r.file("old/secrets.env"), r.file("new/secrets.env")).ok();
            std::fs::create_dir_all(r.file("new")).unwrap();
            r.write("new/secrets.env", format!("AWS_KEY={}\nX=1\n", key(2)));
        }
        if c == 7 {
            std::fs::remove_file(r.file("twice.py")).unwrap();
        }
        if c == 8 {
            r.git(&["checkout", "-q", "-b", "side"]);
            r.write("side.py", py_with_key(&key(4), 5));
            r.commit("side work", ANN);
            r.git(&["checkout", "-q", "main"]);
            r.git(&["merge", "-q", "--no-ff", "side", "-m", "merge side"]);
        }
        r.write(
            &format!("rev{c}.py"),
            py_with_key(&key(10 + c), 1 + c as usize),
        );
        r.commit(&format!("rev {c}"), ANN);
    }
    r.write("local.env", format!("AWS_KEY={}\n", key(99)));
    r
}

/// The findings of a json report as sorted `(fingerprint, commit, line, column)` rows.
fn rows(r: &Repo, rel: &str) -> Vec<(String, String, u64, u64)> {
    let mut v: Vec<_> = r
        .json(rel)
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["Fingerprint"].as_str().unwrap().to_string(),
                f["Commit"].as_str().unwrap().to_string(),
                f["StartLine"].as_u64().unwrap(),
                f["StartColumn"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The scan facts a shard recorded, from its own summary file.
fn shard_facts(r: &Repo, i: u32, n: u32) -> serde_json::Value {
    let shard = stevedore::shard::Shard::new(i, n).unwrap();
    let p = stevedore::summary::shard_file(r.path(), "scan", shard);
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert_eq!(s["steps"][0]["shard"], format!("{i}/{n}"));
    s["steps"][0]["facts"].clone()
}

#[test]
fn the_union_of_n_shards_is_the_unsharded_scan_for_several_n() {
    let r = repo();
    let base = ["--history", "--report-format", "json"];
    let (code, out, err) = stevedore(
        r.path(),
        &[
            &["scan"][..],
            &base,
            &["--report-path", ".stevedore/all.json"],
        ]
        .concat(),
        &[],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    let all = rows(&r, ".stevedore/all.json");
    let all_facts = r.facts();
    assert!(all.len() >= 14, "{all:#?}");
    for n in [2u32, 3, 4, 7] {
        let mut union = Vec::new();
        let (mut blobs, mut files, mut bytes) = (0, 0, 0);
        for i in 1..=n {
            let shard = format!("{i}/{n}");
            let rel = format!(".stevedore/shard-{i}-of-{n}.json");
            let (code, out, err) = stevedore(
                r.path(),
                &[
                    &["scan", "--shard", &shard][..],
                    &base,
                    &["--report-path", &rel],
                ]
                .concat(),
                &[],
            );
            let mine = rows(&r, &rel);
            // Each shard fails on its own findings only.
            assert_eq!(
                code,
                if mine.is_empty() { 0 } else { 1 },
                "{shard}: {out}\n{err}"
            );
            assert!(
                out.contains(&format!("shard {shard}")) || err.contains(&format!("shard {shard}")),
                "{out}{err}"
            );
            let f = shard_facts(&r, i, n);
            blobs += f["blobs_scanned"].as_u64().unwrap();
            files += f["files_scanned"].as_u64().unwrap();
            bytes += f["bytes_scanned"].as_u64().unwrap();
            union.extend(mine);
        }
        union.sort();
        assert_eq!(
            union, all,
            "N={n}: the union differs from the unsharded scan"
        );
        // Every blob and file was read by exactly one shard.
        assert_eq!(blobs, all_facts["blobs_scanned"].as_u64().unwrap(), "N={n}");
        assert_eq!(files, all_facts["files_scanned"].as_u64().unwrap(), "N={n}");
        assert_eq!(bytes, all_facts["bytes_scanned"].as_u64().unwrap(), "N={n}");
    }
}

#[test]
fn each_blob_falls_in_exactly_one_shard_with_similar_bytes() {
    let r = repo();
    let limits = Limits::default();
    let h = History::list(r.path(), &Range::all(), &limits).unwrap();
    assert!(h.blob_count() > 50);
    for n in [1u32, 2, 3, 4, 8] {
        let a = h.split(&limits, n).unwrap();
        assert_eq!(a.len(), h.blob_count());
        assert!(a.iter().all(|s| *s < n));
        // The split is a function of the repository: listing again gives the same.
        let again = History::list(r.path(), &Range::all(), &limits).unwrap();
        assert_eq!(again.split(&limits, n).unwrap(), a, "N={n}");
        if n > 1 {
            let mut count = vec![0usize; n as usize];
            for s in &a {
                count[*s as usize] += 1;
            }
            assert!(count.iter().all(|c| *c > 0), "N={n}: {count:?}");
        }
    }
}

#[test]
fn ci_node_variables_pick_the_shard_and_name_its_report() {
    let r = repo();
    let env = [("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")];
    let (code, out, err) = stevedore(
        r.path(),
        &[
            "scan",
            "--history",
            "--report-format",
            "gitlab",
            "--dry-run",
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("shard 2/3"), "{out}");
    assert!(
        out.contains(".stevedore/gl-secret-detection-report-2-of-3.json"),
        "{out}"
    );
    // A bad value names the variable; --shard with a single file or --staged is refused.
    let (code, _, err) = stevedore(
        r.path(),
        &["scan"],
        &[("CI_NODE_INDEX", "4"), ("CI_NODE_TOTAL", "3")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("CI_NODE_INDEX"), "{err}");
    for args in [
        &["scan", "--shard", "1/2", "--staged"][..],
        &["scan", "--shard", "1/2", "config.py"][..],
    ] {
        let (code, _, err) = stevedore(r.path(), args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    let (code, _, err) = stevedore(r.path(), &["scan", "--shard", "0/2"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("1-based"), "{err}");
    // The CI variables leave a single-file scan alone.
    let (code, out, err) = stevedore(r.path(), &["scan", "rev0.py"], &env);
    assert_eq!(code, 1, "{out}\n{err}");
}

/// One sorted key per finding of a report, whatever its format.
fn finding_keys(format: &str, text: &str) -> Vec<String> {
    let mut v: Vec<String> = match format {
        "gitlab" => {
            let d: serde_json::Value = serde_json::from_str(text).unwrap();
            d["vulnerabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.to_string())
                .collect()
        }
        "sarif" => {
            let d: serde_json::Value = serde_json::from_str(text).unwrap();
            let run = &d["runs"][0];
            let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
            run["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    // The rule index must point at the result's rule in the merged list.
                    let i = r["ruleIndex"].as_u64().unwrap() as usize;
                    assert_eq!(rules[i]["id"], r["ruleId"], "{text}");
                    let mut r = r.clone();
                    r["ruleIndex"] = serde_json::json!(0);
                    r.to_string()
                })
                .collect()
        }
        "json" => {
            let d: serde_json::Value = serde_json::from_str(text).unwrap();
            d.as_array()
                .unwrap()
                .iter()
                .map(|x| x.to_string())
                .collect()
        }
        "csv" => text.lines().skip(1).map(str::to_string).collect(),
        "junit" => text
            .split("<testcase")
            .skip(1)
            .map(|c| c.split("</testcase>").next().unwrap().to_string())
            .collect(),
        _ => unreachable!(),
    };
    v.sort();
    v
}

#[test]
fn merging_the_shard_reports_gives_the_unsharded_report_in_every_format() {
    let r = repo();
    let dir = r.path().join(".stevedore");
    for format in ["gitlab", "sarif", "json", "csv", "junit"] {
        let all = format!(".stevedore/all.{format}");
        let (code, _, err) = stevedore(
            r.path(),
            &[
                "scan",
                "--history",
                "--report-format",
                format,
                "--report-path",
                &all,
            ],
            &[],
        );
        assert_eq!(code, 1, "{err}");
        let mut shards = Vec::new();
        for i in 1..=3 {
            let rel = format!(".stevedore/part-{i}.{format}");
            let shard = format!("{i}/3");
            stevedore(
                r.path(),
                &[
                    "scan",
                    "--history",
                    "--shard",
                    &shard,
                    "--report-format",
                    format,
                    "--report-path",
                    &rel,
                ],
                &[],
            );
            shards.push(rel);
        }
        let merged = format!(".stevedore/merged.{format}");
        let mut args = vec!["scan", "merge", "-o", merged.as_str()];
        args.extend(shards.iter().map(String::as_str));
        // The same report twice adds nothing.
        args.push(shards[0].as_str());
        let (code, out, err) = stevedore(r.path(), &args, &[]);
        assert_eq!(code, 0, "{format}: {out}\n{err}");
        let want = finding_keys(format, &std::fs::read_to_string(r.file(&all)).unwrap());
        let got = finding_keys(format, &std::fs::read_to_string(r.file(&merged)).unwrap());
        assert!(want.len() >= 14, "{format}");
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|x| !b.contains(x)).cloned().collect()
        };
        assert!(
            got == want,
            "{format}: merged shards differ from the unsharded report: only merged {:#?}\nonly unsharded {:#?}",
            only(&got, &want),
            only(&want, &got)
        );
        assert!(err.contains(&format!("{} finding(s)", want.len())), "{err}");
    }
    // To stdout by default; a missing shard report or mixed formats: exit 2 naming the file.
    let (code, out, _) = stevedore(r.path(), &["scan", "merge", ".stevedore/part-1.json"], &[]);
    assert_eq!(code, 0);
    assert!(out.trim_start().starts_with('['), "{out}");
    let (code, _, err) = stevedore(
        r.path(),
        &[
            "scan",
            "merge",
            ".stevedore/part-1.json",
            ".stevedore/part-9.json",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("part-9.json"), "{err}");
    let (code, _, err) = stevedore(
        r.path(),
        &[
            "scan",
            "merge",
            ".stevedore/part-1.json",
            ".stevedore/part-1.sarif",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("one format"), "{err}");
    drop(dir);
}
