//! `stevedore scan` end to end on real git repositories: working tree, history, --since, --staged, CI
//! defaults, suppression (ignore files, baseline, stable fingerprints), exit codes and redaction.

mod common;
mod scan_support;

use common::stevedore;
use scan_support::*;

const ANN: &str = "Ann Coder <ann@example.org>";
const BOB: &str = "Bob Builder <bob@example.org>";

fn scan(r: &Repo, args: &[&str]) -> (i32, String, String) {
    let mut a = vec!["scan"];
    a.extend_from_slice(args);
    stevedore(r.path(), &a, &[])
}

/// `scan ARGS --report-format json --report-path REPORT` in `r`.
fn scan_json(r: &Repo, report: &str, args: &[&str]) -> (i32, String, String) {
    let mut a = args.to_vec();
    a.extend_from_slice(&["--report-format", "json", "--report-path", report]);
    scan(r, &a)
}

#[test]
fn tree_finds_planted_secret_and_skips_ignored_binary_and_oversized_files() {
    let r = Repo::new();
    r.write("app/settings.py", py_with_key(KEY_A, 3));
    r.write(".gitignore", "local.env\nbuild/\n");
    r.write("local.env", format!("AWS_KEY={KEY_B}\n"));
    r.write("build/out.txt", format!("{KEY_B}\n"));
    let mut bin = b"\x7fELF\x00\x00binary".to_vec();
    bin.extend_from_slice(KEY_C.as_bytes());
    r.write("tool.bin", bin);
    let mut big = "x".repeat(3000);
    big.push_str(&format!("\nkey = {KEY_C}\n"));
    r.write("data/big.txt", big);
    r.commit("initial", ANN);
    // Untracked but not ignored: scanned.
    r.write("notes.md", format!("temporary key {KEY_C} do not commit\n"));

    let (code, out, err) = scan_json(&r, "reports/r.json", &["--max-file-size", "2kB"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let rep = r.json("reports/r.json");
    assert_eq!(files_of(&rep), ["app/settings.py", "notes.md"], "{rep:#}");
    let f = &rep[0];
    assert_eq!(f["RuleID"], "aws-access-key-id");
    assert_eq!(f["StartLine"], 3);
    let facts = r.facts();
    assert_eq!(facts["skipped_binary"], 1, "{facts}");
    assert_eq!(facts["skipped_too_large"], 1, "{facts}");
    assert_eq!(facts["findings"], 2);
    assert_eq!(facts["findings_per_rule"]["aws-access-key-id"], 2);
    assert!(
        err.contains("skipped binary") && err.contains("skipped too large"),
        "{err}"
    );
    assert!(
        out.contains("app/settings.py:3"),
        "human table on stdout: {out}"
    );
}

#[test]
fn clean_tree_exits_zero_and_exit_code_flag_changes_the_failure_code() {
    let r = Repo::new();
    r.write("main.go", "package main\nfunc main() {}\n");
    r.commit("clean", ANN);
    let (code, _, err) = scan(&r, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(r.facts()["findings"], 0);
    r.write("leak.txt", format!("{KEY_A}\n"));
    assert_eq!(scan(&r, &[]).0, 1);
    assert_eq!(scan(&r, &["--exit-code", "7"]).0, 7);
    // A path that is not a directory is a usage error.
    assert_eq!(scan(&r, &["does-not-exist"]).0, 2);
}

#[test]
fn history_names_the_commit_that_introduced_a_removed_secret() {
    let r = Repo::new();
    r.write("README.md", "hello\n");
    r.commit("start", BOB);
    r.write(
        "deploy/config.yml",
        format!("aws:\n  access_key: {KEY_A}\n"),
    );
    let introduced = r.commit("add deploy config", ANN);
    r.write(
        "deploy/config.yml",
        format!("aws:\n  access_key: {KEY_A}\n  region: eu-west-1\n"),
    );
    r.commit("set region", BOB);
    r.write(
        "deploy/config.yml",
        "aws:\n  access_key: ${AWS_ACCESS_KEY_ID}\n",
    );
    r.commit("use a variable", BOB);

    // The working tree is clean now.
    assert_eq!(scan(&r, &[]).0, 0);
    let (code, out, err) = scan_json(&r, "h.json", &["--history", "--no-tree"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let rep = r.json("h.json");
    let arr = rep.as_array().unwrap();
    assert_eq!(
        arr.len(),
        1,
        "reported once although two blobs hold it: {rep:#}"
    );
    let f = &arr[0];
    assert_eq!(f["Commit"], introduced.as_str());
    assert_eq!(f["Author"], "Ann Coder");
    assert_eq!(f["Email"], "ann@example.org");
    assert_eq!(f["Message"], "add deploy config");
    assert_eq!(f["File"], "deploy/config.yml");
    assert_eq!(f["StartLine"], 2);
    assert!(f["Date"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.facts()["commits_scanned"], 4);
}

#[test]
fn a_blob_carried_by_many_commits_is_scanned_once() {
    let r = Repo::new();
    r.write("secrets/aws.txt", format!("{KEY_B}\n"));
    r.write("counter.txt", "0\n");
    r.commit("c0", ANN);
    for i in 1..12 {
        r.write("counter.txt", format!("{i}\n"));
        r.commit(&format!("c{i}"), ANN);
    }
    let (code, out, err) = scan_json(&r, "h.json", &["--history", "--no-tree"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let facts = r.facts();
    assert_eq!(facts["commits_scanned"], 12, "{facts}");
    // One aws.txt blob plus twelve versions of counter.txt.
    assert_eq!(facts["blobs_scanned"], 13, "{facts}");
    assert_eq!(r.json("h.json").as_array().unwrap().len(), 1);
}

#[test]
fn since_scans_only_the_range() {
    let r = Repo::new();
    r.write("old.py", py_with_key(KEY_A, 2));
    r.commit("old secret", ANN);
    r.git(&["tag", "v1.0.0"]);
    // Touch the file holding the old secret inside the range: still not a new finding.
    r.write("old.py", format!("# a comment\n{}", py_with_key(KEY_A, 2)));
    r.commit("comment", BOB);
    r.write("new.py", py_with_key(KEY_B, 1));
    let new = r.commit("new secret", BOB);
    let (code, out, err) = scan_json(&r, "s.json", &["--since", "v1.0.0", "--no-tree"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let rep = r.json("s.json");
    assert_eq!(files_of(&rep), ["new.py"], "{rep:#}");
    assert_eq!(rep[0]["Commit"], new.as_str());
    assert_eq!(r.facts()["commits_scanned"], 2);
    // An unknown revision is a usage error naming it.
    let (code, _, err) = scan(&r, &["--since", "no-such-tag", "--no-tree"]);
    assert_eq!(code, 2);
    assert!(err.contains("no-such-tag"), "{err}");
    assert_eq!(
        scan(&r, &["--no-tree"]).0,
        2,
        "--no-tree alone scans nothing"
    );
}

#[test]
fn staged_scans_what_the_next_commit_records() {
    let r = Repo::new();
    r.write("app.py", "print('hi')\n");
    r.write("legacy.py", py_with_key(KEY_C, 1));
    r.commit("base", ANN);
    assert_eq!(scan(&r, &["--staged"]).0, 0, "nothing staged");
    r.write("config.py", py_with_key(KEY_A, 4));
    r.git(&["add", "config.py"]);
    // Unstaged changes are not part of the commit.
    r.write("app.py", format!("KEY = '{KEY_B}'\n"));
    // A staged edit of a file that already held a secret does not report that secret again.
    r.write("legacy.py", format!("# edited\n{}", py_with_key(KEY_C, 1)));
    r.git(&["add", "legacy.py"]);
    let (code, out, err) = scan_json(&r, "/dev/stdout", &["--staged"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("config.py"), "{out}");
    assert!(!out.contains("app.py\""), "{out}");
    assert!(!out.contains("legacy.py"), "{out}");
    assert_eq!(r.facts()["blobs_scanned"], 2);
    r.git(&["commit", "-q", "-m", "with key"]);
    assert_eq!(
        scan(&r, &["--staged"]).0,
        0,
        "nothing staged after the commit"
    );
}

#[test]
fn ci_defaults_scan_since_the_previous_release_tag_or_the_push() {
    let r = Repo::new();
    r.write("a.py", py_with_key(KEY_A, 1));
    r.commit("a", ANN);
    r.write("a.py", "clean\n");
    let before = r.commit("remove a", ANN);
    r.git(&["tag", "v1.0.0"]);
    r.write("b.py", py_with_key(KEY_B, 1));
    r.commit("b", BOB);
    r.write("b.py", "clean\n");
    let head = r.commit("remove b", BOB);
    r.git(&["tag", "v1.1.0"]);
    let dir = r.path().to_str().unwrap();
    let ci = |extra: &[(&'static str, &str)]| {
        let mut env: Vec<(&str, &str)> = vec![
            ("CI", "true"),
            ("CI_PROJECT_DIR", dir),
            ("CI_COMMIT_SHA", &head),
        ];
        env.extend_from_slice(extra);
        let out = stevedore(
            r.path(),
            &[
                "scan",
                "--report-format",
                "json",
                "--report-path",
                "ci.json",
            ],
            &env,
        );
        (out.0, r.json("ci.json"), out.2)
    };
    // Tag pipeline: the commits since v1.0.0 — B, not A.
    let (code, rep, err) = ci(&[("CI_COMMIT_TAG", "v1.1.0")]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(files_of(&rep), ["b.py"], "{err}");
    // The first release: the whole history.
    let (_, rep, _) = ci(&[("CI_COMMIT_TAG", "v1.0.0")]);
    assert_eq!(files_of(&rep), ["a.py", "b.py"]);
    // Branch pipeline: CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA.
    let (_, rep, _) = ci(&[("CI_COMMIT_BEFORE_SHA", &before)]);
    assert_eq!(files_of(&rep), ["b.py"]);
    // Forty zeros (a new branch): the working tree only, which is clean.
    let zeros = "0".repeat(40);
    let (code, rep, err) = ci(&[("CI_COMMIT_BEFORE_SHA", &zeros)]);
    assert_eq!(code, 0, "{err}");
    assert!(rep.as_array().unwrap().is_empty());
}

#[test]
fn fingerprints_survive_moved_lines_and_baseline_fails_only_new_findings() {
    let r = Repo::new();
    r.write("svc/client.py", py_with_key(KEY_A, 2));
    r.commit("client", ANN);
    let (code, _, _) = scan_json(&r, "base.json", &[]);
    assert_eq!(code, 1);
    let base = r.json("base.json");
    let fp = base[0]["Fingerprint"].as_str().unwrap().to_string();
    assert!(!fp.contains(KEY_A));
    // Unrelated lines added above the secret.
    r.write("svc/client.py", py_with_key(KEY_A, 30));
    let (_, _, _) = scan_json(&r, "moved.json", &[]);
    let moved = r.json("moved.json");
    assert_eq!(moved[0]["StartLine"], 30);
    assert_eq!(
        moved[0]["Fingerprint"],
        fp.as_str(),
        "fingerprint must not depend on the line"
    );
    // Against the baseline: nothing new, exit 0.
    let (code, out, err) = scan(&r, &["--baseline", "base.json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("suppressed (baseline)"), "{err}");
    // A new secret fails the job, and only it is reported.
    r.write("svc/other.py", py_with_key(KEY_B, 1));
    let (code, _, _) = scan_json(&r, "new.json", &["--baseline", "base.json"]);
    assert_eq!(code, 1);
    assert_eq!(files_of(&r.json("new.json")), ["svc/other.py"]);
    // A gitlab or sarif report of an earlier run works as a baseline too.
    for fmt in ["gitlab", "sarif"] {
        scan(
            &r,
            &["--report-format", fmt, "--report-path", "earlier.out"],
        );
        let (code, out, err) = scan(&r, &["--baseline", "earlier.out"]);
        assert_eq!(code, 0, "{fmt}: {out}\n{err}");
        r.write("svc/third.py", py_with_key(KEY_C, 1));
        assert_eq!(scan(&r, &["--baseline", "earlier.out"]).0, 1, "{fmt}");
        std::fs::remove_file(r.file("svc/third.py")).unwrap();
    }
    // A missing baseline is a usage error.
    assert_eq!(scan(&r, &["--baseline", "nope.json"]).0, 2);
}

#[test]
fn ignore_files_accept_gitleaks_line_entries_and_stable_fingerprints() {
    let r = Repo::new();
    r.write("a.py", py_with_key(KEY_A, 5));
    r.write("b.py", py_with_key(KEY_B, 1));
    r.commit("two", ANN);
    let (_, _, _) = scan_json(&r, "r.json", &[]);
    let rep = r.json("r.json");
    let b_fp = rep
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["File"] == "b.py")
        .unwrap()["Fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    r.write(".gitleaksignore", "# known\na.py:aws-access-key-id:5\n");
    r.write(".stevedoreignore", format!("{b_fp}\n"));
    let (code, out, err) = scan(&r, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("suppressed (ignore file)"), "{err}");
    // The gitleaks entry is line-based: moving the secret un-ignores it; ours is not.
    r.write("a.py", py_with_key(KEY_A, 6));
    r.write("b.py", py_with_key(KEY_B, 9));
    let (code, _, _) = scan_json(&r, "r2.json", &[]);
    assert_eq!(code, 1);
    assert_eq!(files_of(&r.json("r2.json")), ["a.py"]);
}

#[test]
fn secrets_never_appear_in_output_or_reports_unless_redaction_is_off_locally() {
    let r = Repo::new();
    r.write("k.py", py_with_key(KEY_C, 1));
    r.commit("k", ANN);
    for fmt in ["json", "gitlab", "sarif", "csv", "junit"] {
        let path = format!("rep.{fmt}");
        let (code, out, err) = scan(
            &r,
            &[
                "--history",
                "-v",
                "--report-format",
                fmt,
                "--report-path",
                &path,
            ],
        );
        assert_eq!(code, 1);
        let text = std::fs::read_to_string(r.file(&path)).unwrap();
        for (what, s) in [("stdout", &out), ("stderr", &err), ("report", &text)] {
            assert!(!s.contains(KEY_C), "{fmt}: secret in {what}: {s}");
        }
        assert!(text.contains("k.py"), "{fmt}: {text}");
    }
    let summary = std::fs::read_to_string(stevedore::summary::RunSummary::path(r.path())).unwrap();
    assert!(!summary.contains(KEY_C));
    // Locally, --redact=false shows the secret in the report.
    let (code, _, _) = scan_json(&r, "raw.json", &["--redact=false"]);
    assert_eq!(code, 1);
    assert_eq!(r.json("raw.json")[0]["Secret"], KEY_C);
    // In CI it is refused.
    let dir = r.path().to_str().unwrap();
    let (code, out, err) = stevedore(
        r.path(),
        &["scan", "--redact=false"],
        &[("CI", "true"), ("CI_PROJECT_DIR", dir)],
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("--redact=false"), "{err}");
}

#[test]
fn bad_configuration_exits_2_naming_file_line_or_rule() {
    let r = Repo::new();
    r.write("a.txt", "nothing\n");
    r.commit("a", ANN);
    r.write(
        "stevedore.toml",
        "[scan]\nexit_code = 1\nmax_file_size = \"lots\"\n",
    );
    let (code, _, err) = scan(&r, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stevedore.toml:3"), "{err}");
    r.write("stevedore.toml", "[scan]\nreport_format = \"pdf\"\n");
    let (code, _, err) = scan(&r, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pdf"), "{err}");
    std::fs::remove_file(r.file("stevedore.toml")).unwrap();
    r.write(
        ".gitleaks.toml",
        "[[rules]]\nid = \"lookbehind\"\nregex = '''(?<=key=)[a-z]{8}'''\n",
    );
    let (code, _, err) = scan(&r, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(".gitleaks.toml") && err.contains("lookbehind"),
        "{err}"
    );
}

#[test]
fn a_secret_merged_from_a_branch_is_attributed_to_the_branch_commit() {
    let r = Repo::new();
    r.write("a.txt", "a\n");
    r.commit("base", ANN);
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("f.py", py_with_key(KEY_A, 1));
    let on_branch = r.commit("feature adds key", BOB);
    r.git(&["checkout", "-q", "main"]);
    r.write("b.txt", "b\n");
    r.commit("main moves on", ANN);
    r.git(&["merge", "-q", "--no-edit", "feature"]);
    // [scan] history = true and exit_code from the file.
    r.write("stevedore.toml", "[scan]\nhistory = true\nexit_code = 5\n");
    let (code, out, err) = scan_json(&r, "m.json", &[]);
    assert_eq!(code, 5, "{out}\n{err}");
    let rep = r.json("m.json");
    assert_eq!(rep.as_array().unwrap().len(), 1, "{rep:#}");
    assert_eq!(rep[0]["Commit"], on_branch.as_str());
    assert_eq!(rep[0]["Author"], "Bob Builder");
    assert_eq!(r.facts()["commits_scanned"], 4);
}

#[test]
fn scanning_a_subdirectory_reports_repository_paths() {
    let r = Repo::new();
    r.write("services/api/keys.py", py_with_key(KEY_B, 2));
    r.write("services/web/ok.py", "print(1)\n");
    r.commit("api", ANN);
    let (code, out, err) = scan_json(&r, "sub.json", &["services/api", "--history"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let rep = r.json("sub.json");
    // Found in the tree and in history: one finding, with the repository path and the commit.
    assert_eq!(rep.as_array().unwrap().len(), 1, "{rep:#}");
    assert_eq!(rep[0]["File"], "services/api/keys.py");
    assert!(!rep[0]["Commit"].as_str().unwrap().is_empty());
}

/// The FINGERPRINT column of the table, one per finding.
fn table_fingerprints(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| !l.starts_with("RULE"))
        .skip(2)
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .filter(|f| f.contains(":h"))
        .collect()
}

#[test]
fn a_fingerprint_copied_into_gitleaksignore_brings_the_scan_back_to_exit_0() {
    // The repro: a Laravel .env.production, its fingerprint pasted into .gitleaksignore.
    let r = Repo::new();
    r.write(".env.production", laravel_env());
    r.commit("env", ANN);
    let (code, out, err) = scan(&r, &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    let fps = table_fingerprints(&out);
    assert_eq!(fps.len(), 1, "{out}");
    assert!(
        fps[0].starts_with(".env.production:laravel-app-key:h"),
        "{out}"
    );
    assert!(
        !fps[0].contains("redacted") && !fps[0].contains(LARAVEL_KEY),
        "{out}"
    );
    r.write(".gitleaksignore", format!("{}\n", fps[0]));
    let (code, out, err) = scan(&r, &[]);
    assert_eq!(
        code, 0,
        "the ignore file itself must not be a finding:\n{out}\n{err}"
    );
    // Reports of every format and the summary left in the project dir are not findings either, run
    // after run; nor is the same fingerprint pasted anywhere else.
    r.write(
        "docs/known-findings.md",
        format!("Accepted: `{}`\n", fps[0]),
    );
    for fmt in ["json", "gitlab", "sarif", "csv", "junit"] {
        let (code, out, err) = scan(&r, &["--report-format", fmt]);
        assert_eq!(code, 0, "{fmt}:\n{out}\n{err}");
    }
    r.commit("reports", ANN);
    let (code, out, err) = scan(&r, &["--history"]);
    assert_eq!(code, 0, "committed reports and ignore file:\n{out}\n{err}");
}

#[test]
fn a_redacted_finding_still_shows_a_copyable_fingerprint() {
    // A secret that is also a substring elsewhere must not blank the fingerprint column.
    let r = Repo::new();
    r.write(".env.production", laravel_env());
    r.write("b.py", py_with_key(KEY_A, 2));
    let (code, out, _) = scan_json(&r, "r.json", &[]);
    assert_eq!(code, 1);
    let from_report: Vec<String> = r
        .json("r.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Fingerprint"].as_str().unwrap().to_string())
        .collect();
    let (code, out2, _) = scan(&r, &[]);
    assert_eq!(code, 1);
    for fp in &from_report {
        assert!(out2.contains(fp.as_str()), "{fp} not in the table:\n{out2}");
    }
    assert!(
        !out.contains("[redacted]") && !out2.contains("[redacted]"),
        "{out2}"
    );
}

#[test]
fn the_configured_baseline_and_stevedore_output_are_never_findings() {
    let r = Repo::new();
    r.write("a.py", py_with_key(KEY_A, 3));
    r.write(".env.production", laravel_env());
    r.commit("two", ANN);
    // The README's example: a committed baseline under ci/, configured in stevedore.toml.
    let (code, _, _) = scan_json(&r, "ci/secrets-baseline.json", &[]);
    assert_eq!(code, 1);
    r.write(
        "stevedore.toml",
        "[scan]\nbaseline = \"ci/secrets-baseline.json\"\n",
    );
    r.commit("baseline", ANN);
    let (code, out, err) = scan(&r, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("suppressed (baseline)"), "{err}");
    // Files under .stevedore/ and old-style output files are skipped, wherever they are.
    r.write(".stevedore/scan.json", format!("{{\"k\": \"{KEY_B}\"}}\n"));
    r.write("deploy-report-1-of-2.json", "{}\n");
    let (code, out, err) = scan(&r, &["--history"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // An ordinary file with a new secret still fails.
    r.write("c.py", py_with_key(KEY_C, 1));
    assert_eq!(scan(&r, &[]).0, 1);
}

#[test]
fn a_file_path_a_missing_path_and_partial_redaction_work_as_with_gitleaks_dir() {
    let r = Repo::new();
    r.write("config/services.php", py_with_key(KEY_A, 7));
    r.write("config/other.php", py_with_key(KEY_B, 1));
    r.commit("config", ANN);
    // A file: only it is scanned, named as in the repository, from another directory too.
    let (code, out, err) = scan_json(&r, "-", &["config/services.php"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let rep: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(files_of(&rep), ["config/services.php"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let abs = r.file("config/services.php");
    let (code, out, err) = stevedore(elsewhere.path(), &["scan", abs.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("config/services.php:7"), "{out}");
    // A missing path says so and exits 2.
    let (code, _, err) = scan(&r, &["config/nope.php"]);
    assert_eq!(code, 2);
    assert!(err.contains("config/nope.php does not exist"), "{err}");
    // --redact=N hides N% of each secret, as gitleaks does; bare --redact hides all of it.
    let (code, out, _) = scan(&r, &["config/services.php", "--redact=50"]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("{}...", &KEY_A[..10])), "{out}");
    assert!(!out.contains(KEY_A), "{out}");
    let (_, out, _) = scan(&r, &["config/services.php", "--redact"]);
    assert!(
        out.contains("REDACTED") && !out.contains(&KEY_A[..10]),
        "{out}"
    );
    let (code, _, err) = scan(&r, &["--redact=150"]);
    assert_eq!(code, 2, "{err}");
    let dir = r.path().to_str().unwrap();
    let (code, _, err) = stevedore(
        r.path(),
        &["scan", "--redact=20"],
        &[("CI", "true"), ("CI_PROJECT_DIR", dir)],
    );
    assert_eq!(code, 2, "partial redaction is refused in CI: {err}");
}

#[test]
fn verbose_prints_each_findings_context_line_redacted_and_staged_findings_say_so() {
    let r = Repo::new();
    r.write("app.py", "print('hi')\n");
    r.commit("base", ANN);
    r.write("config.py", py_with_key(KEY_A, 2));
    r.git(&["add", "config.py"]);
    let (code, out, err) = scan(&r, &["--staged", "-v"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("(staged)"), "{out}");
    assert!(
        out.contains("config.py:2 (staged) [aws-access-key-id]: AWS_ACCESS_KEY_ID = \"REDACTED\""),
        "{out}"
    );
    assert!(!out.contains(KEY_A) && !err.contains(KEY_A));
    // Without -v no context line.
    let (_, out, _) = scan(&r, &[]);
    assert!(!out.contains("AWS_ACCESS_KEY_ID ="), "{out}");
    let (_, out, _) = scan(&r, &["-v"]);
    assert!(
        out.contains("config.py:2 [aws-access-key-id]: AWS_ACCESS_KEY_ID = \"REDACTED\""),
        "{out}"
    );
    assert!(out.contains("(working tree)"), "{out}");
}

#[test]
fn dry_run_prints_the_plan_and_reads_nothing() {
    let r = Repo::new();
    r.write("a.py", py_with_key(KEY_A, 1));
    r.write(".gitleaksignore", "# none\n");
    let (code, out, err) = stevedore(
        r.path(),
        &["--dry-run", "scan", "--report-format", "gitlab"],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let text = format!("{out}{err}");
    for want in [
        "scan: working tree",
        "rules: built-in",
        "ignore files: ",
        ".gitleaksignore",
        "report: gitlab to .stevedore/gl-secret-detection-report.json",
        "never scanned: .stevedore/",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert!(
        !r.file(".stevedore/gl-secret-detection-report.json")
            .exists()
    );
}

/// The largest resident set of any child this test process has waited for, in bytes.
fn children_max_rss() -> u64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss as u64 * 1024
}

#[test]
fn large_and_sparse_files_are_skipped_without_being_read() {
    let r = Repo::new();
    r.write("a.py", py_with_key(KEY_A, 1));
    // 2 GB of holes under a 4 GB limit (the repro), and holes after a text start.
    let sparse = std::fs::File::create(r.file("disk.img")).unwrap();
    sparse.set_len(2_000_000_000).unwrap();
    let mut tail = std::fs::File::create(r.file("notes.txt")).unwrap();
    use std::io::Write;
    writeln!(tail, "{}", py_with_key(KEY_B, 1)).unwrap();
    tail.set_len(1_500_000_000).unwrap();
    // Over the default limit: 3 GB, never read.
    std::fs::File::create(r.file("huge.log"))
        .unwrap()
        .set_len(3_000_000_000)
        .unwrap();
    let (code, out, err) = scan(&r, &["--max-file-size", "4GB"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let facts = r.facts();
    assert_eq!(facts["files_scanned"], 1, "{facts}");
    assert_eq!(facts["skipped_binary"], 3, "{facts}");
    let (_, _, _) = scan(&r, &[]);
    assert_eq!(r.facts()["skipped_too_large"], 3, "{}", r.facts());
    let rss = children_max_rss();
    assert!(
        rss < 400_000_000,
        "a child held {rss} bytes: a sparse file was read"
    );
}

#[test]
fn a_tree_missing_from_the_object_database_is_named_and_fails_the_scan() {
    let r = Repo::new();
    r.write("app/deep/config.py", py_with_key(KEY_A, 1));
    r.commit("add config", ANN);
    r.write("README.md", "readme\n");
    r.commit("readme", BOB);
    let tree = r.git(&["rev-parse", "HEAD:app/deep"]);
    let tree = tree.trim();
    std::fs::remove_file(
        r.path()
            .join(format!(".git/objects/{}/{}", &tree[..2], &tree[2..])),
    )
    .unwrap();
    // The whole history, and a range whose parent outside it holds the tree.
    for args in [
        &["--history", "--no-tree"][..],
        &["--since", "HEAD~1", "--no-tree"],
    ] {
        let (code, out, err) = scan(&r, args);
        // Not findings (1): an outside failure, the object database.
        assert_eq!(code, 4, "{args:?}\n{out}\n{err}");
        assert!(err.contains("object database is damaged"), "{err}");
        assert!(err.contains(&format!("cannot read tree {tree}")), "{err}");
    }
}
