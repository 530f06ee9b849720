//! The report formats (gitlab validated against GitLab's schema, json field names, sarif structure, csv
//! header, junit XML) and gitleaks-configuration compatibility, through the CLI.

mod common;
mod scan_support;

use common::stevedore;
use scan_support::*;
use std::path::PathBuf;

const ANN: &str = "Ann Coder <ann@example.org>";

/// A repository with one secret in history only and one in the working tree.
fn repo_with_findings() -> Repo {
    let r = Repo::new();
    r.write("old/creds.ini", format!("[aws]\nkey = {KEY_A}\n"));
    r.commit("add creds, with \"quotes\", commas & <xml>", ANN);
    r.write("old/creds.ini", "[aws]\nkey = from-vault\n");
    r.commit("remove creds", ANN);
    r.write("src/app.js", format!("const k = \"{KEY_B}\", other = 1;\n"));
    r.commit("app", ANN);
    r
}

fn report(r: &Repo, fmt: &str, path: &str) -> String {
    let (code, out, err) = stevedore(
        r.path(),
        &[
            "scan",
            "--history",
            "--report-format",
            fmt,
            "--report-path",
            path,
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    let text = std::fs::read_to_string(r.file(path)).unwrap();
    assert!(!text.contains(KEY_A) && !text.contains(KEY_B), "{text}");
    text
}

/// GitLab's schema: `$STEVEDORE_SPECS_DIR`, else `../shared/specs` next to the crate (also from a
/// worktree one level deeper). Missing is a failure, not a skip.
fn gitlab_schema() -> serde_json::Value {
    let name = "secret-detection-report-format.json";
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("STEVEDORE_SPECS_DIR") {
        candidates.push(PathBuf::from(d).join(name));
    }
    candidates.push(manifest.join("../shared/specs").join(name));
    candidates.push(manifest.join("../../shared/specs").join(name));
    let p = candidates.iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("GitLab's schema {name} not found in {candidates:?}: set STEVEDORE_SPECS_DIR")
    });
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn gitlab_report_validates_against_gitlabs_schema() {
    let schema = gitlab_schema();
    assert_eq!(schema["self"]["version"], "15.2.1");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    // The validator is not vacuous: a report without `scan` or with a bad severity fails.
    assert!(!validator.is_valid(&serde_json::json!({"version": "15.2.1", "vulnerabilities": []})));
    let r = repo_with_findings();
    let text = report(&r, "gitlab", "gl-secret-detection-report.json");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{text}");
    assert_eq!(doc["version"], "15.2.1");
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 2);
    let hist = vulns
        .iter()
        .find(|v| v["location"]["file"] == "old/creds.ini")
        .unwrap();
    assert_eq!(
        hist["location"]["commit"]["message"],
        "add creds, with \"quotes\", commas & <xml>"
    );
    assert_eq!(hist["identifiers"][0]["value"], "aws-access-key-id");
    let tree = vulns
        .iter()
        .find(|v| v["location"]["file"] == "src/app.js")
        .unwrap();
    assert_eq!(
        tree["location"]["commit"]["sha"],
        r.git(&["rev-parse", "HEAD"]).as_str()
    );
    // Ids are stable between runs.
    let again: serde_json::Value = serde_json::from_str(&report(&r, "gitlab", "gl2.json")).unwrap();
    assert_eq!(
        again["vulnerabilities"][0]["id"],
        doc["vulnerabilities"][0]["id"]
    );
    // An empty report is valid too.
    let clean = Repo::new();
    clean.write("a.txt", "fine\n");
    clean.commit("a", ANN);
    let (code, _, _) = stevedore(clean.path(), &["scan", "--report-format", "gitlab"], &[]);
    assert_eq!(code, 0);
    // The default report path is in stevedore's output directory.
    let empty = clean.json(".stevedore/gl-secret-detection-report.json");
    assert!(validator.is_valid(&empty), "{empty}");
}

#[test]
fn the_same_secret_twice_in_a_file_gives_two_gitlab_vulnerabilities_with_their_own_ids() {
    // The stable fingerprint leaves the line out, so both occurrences share it; GitLab keys
    // vulnerabilities by id, so each needs its own (and keeps it between runs).
    let r = Repo::new();
    r.write(
        "twice.ini",
        format!("[a]\nkey = {KEY_A}\n[b]\nkey = {KEY_A}\n"),
    );
    r.commit("twice", ANN);
    let ids = |name: &str| -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_str(&report(&r, "gitlab", name)).unwrap();
        let vulns = doc["vulnerabilities"].as_array().unwrap().clone();
        let lines: Vec<_> = vulns
            .iter()
            .map(|v| v["location"]["start_line"].clone())
            .collect();
        assert_eq!(lines, [2, 4], "{doc}");
        vulns
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    };
    let first = ids("a.json");
    assert_ne!(first[0], first[1]);
    assert_eq!(first, ids("b.json"));
}

#[test]
fn json_report_uses_gitleaks_field_names() {
    let r = repo_with_findings();
    let doc: serde_json::Value = serde_json::from_str(&report(&r, "json", "r.json")).unwrap();
    let want = [
        "RuleID",
        "Description",
        "File",
        "StartLine",
        "EndLine",
        "StartColumn",
        "EndColumn",
        "Commit",
        "Author",
        "Email",
        "Date",
        "Message",
        "Fingerprint",
        "Secret",
        "Match",
        "Entropy",
        "Tags",
    ];
    for f in doc.as_array().unwrap() {
        let obj = f.as_object().unwrap();
        for k in want {
            assert!(obj.contains_key(k), "missing {k}: {f}");
        }
        assert_eq!(f["Secret"], "REDACTED");
        assert!(f["Tags"].is_array() && f["Entropy"].is_number() && f["StartLine"].is_u64());
    }
}

#[test]
fn sarif_report_structure() {
    let r = repo_with_findings();
    let doc: serde_json::Value = serde_json::from_str(&report(&r, "sarif", "r.sarif")).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "stevedore");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules[0]["id"], "aws-access-key-id");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for res in results {
        assert_eq!(res["ruleId"], "aws-access-key-id");
        assert_eq!(res["ruleIndex"], 0);
        let loc = &res["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].is_string());
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(res["message"]["text"].is_string());
    }
    assert!(
        results
            .iter()
            .any(|x| x["partialFingerprints"]["commitSha"].is_string())
    );
}

#[test]
fn csv_report_has_gitleaks_header_and_one_quoted_row_per_finding() {
    let r = repo_with_findings();
    let text = report(&r, "csv", "r.csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "RuleID,Commit,File,SymlinkFile,Secret,Match,StartLine,EndLine,StartColumn,EndColumn,Author,Message,Date,Email,Fingerprint,Tags"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{text}");
    // The commit message holds quotes and commas: quoted and doubled.
    assert!(
        text.contains("\"add creds, with \"\"quotes\"\", commas & <xml>\""),
        "{text}"
    );
}

#[test]
fn junit_report_is_well_formed_xml_with_a_failure_per_finding() {
    let r = repo_with_findings();
    let text = report(&r, "junit", "r.xml");
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2);
    for c in &cases {
        let fail = c
            .children()
            .find(|n| n.has_tag_name("failure"))
            .expect("failure");
        assert_eq!(fail.attribute("type"), Some("aws-access-key-id"));
        assert!(fail.text().unwrap().contains("\"RuleID\""));
    }
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("failures"), Some("2"));
}

#[test]
fn report_format_is_taken_from_the_path_or_refused() {
    let r = repo_with_findings();
    let (code, _, _) = stevedore(r.path(), &["scan", "--report-path", "out.sarif"], &[]);
    assert_eq!(code, 1);
    assert_eq!(r.json("out.sarif")["version"], "2.1.0");
    let (code, _, err) = stevedore(r.path(), &["scan", "--report-path", "out.txt"], &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = stevedore(r.path(), &["scan", "--report-format", "pdf"], &[]);
    assert_eq!(code, 2);
    // `-` is stdout, and then the table is not printed there.
    let (code, out, _) = stevedore(
        r.path(),
        &["scan", "--report-format", "json", "--report-path", "-"],
        &[],
    );
    assert_eq!(code, 1);
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc[0]["File"], "src/app.js");
}

const ACME: &str = "acme_q7w3e9r1t5y2u8i4o6p0a3s5";

/// A repository with an AWS key and a custom-format token.
fn repo_for_config() -> Repo {
    let r = Repo::new();
    r.write(
        "src/keys.py",
        format!("{}\nACME = \"{ACME}\"\n", py_with_key(KEY_A, 1)),
    );
    r.write("vendor/lib/keys.py", format!("ACME = \"{ACME}\"\n"));
    r.commit("keys", ANN);
    r
}

fn rules_found(r: &Repo, args: &[&str]) -> Vec<(String, String)> {
    let mut a = vec![
        "scan",
        "--report-format",
        "json",
        "--report-path",
        "/dev/stdout",
    ];
    a.extend_from_slice(args);
    let (code, out, err) = stevedore(r.path(), &a, &[]);
    assert!(code == 0 || code == 1, "{code}: {err}");
    let json_start = out.find('[').unwrap_or_else(|| panic!("{out}\n{err}"));
    let json_end = out.find("\n]").map(|i| i + 2).unwrap_or(out.len());
    let doc: serde_json::Value = serde_json::from_str(&out[json_start..json_end]).unwrap();
    let mut v: Vec<(String, String)> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["RuleID"].as_str().unwrap().into(),
                f["File"].as_str().unwrap().into(),
            )
        })
        .collect();
    v.sort();
    v
}

const CUSTOM_RULE: &str = r#"
[[rules]]
id = "acme-token"
description = "Acme API token"
regex = '''acme_[a-z0-9]{24}'''
keywords = ["acme_"]
tags = ["custom"]
"#;

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn gitleaks_config_custom_rules_use_default_and_disabled_rules() {
    let r = repo_for_config();
    // A .gitleaks.toml in the scanned directory is picked up; without useDefault only its rules run.
    r.write(".gitleaks.toml", CUSTOM_RULE);
    assert_eq!(
        rules_found(&r, &[]),
        [
            pair("acme-token", "src/keys.py"),
            pair("acme-token", "vendor/lib/keys.py")
        ]
    );
    // useDefault adds the built-in rules.
    r.write(
        ".gitleaks.toml",
        format!("[extend]\nuseDefault = true\n{CUSTOM_RULE}"),
    );
    let found = rules_found(&r, &[]);
    assert!(
        found.contains(&pair("aws-access-key-id", "src/keys.py")),
        "{found:?}"
    );
    assert!(
        found.contains(&pair("acme-token", "src/keys.py")),
        "{found:?}"
    );
    // disabledRules turns a built-in rule off.
    r.write(
        ".gitleaks.toml",
        format!(
            "[extend]\nuseDefault = true\ndisabledRules = [\"aws-access-key-id\"]\n{CUSTOM_RULE}"
        ),
    );
    assert!(
        rules_found(&r, &[])
            .iter()
            .all(|(id, _)| id == "acme-token")
    );
    std::fs::remove_file(r.file(".gitleaks.toml")).unwrap();
    // --config pointing at a gitleaks file elsewhere.
    r.write("ci/leaks.toml", CUSTOM_RULE);
    let found = rules_found(&r, &["--config", "ci/leaks.toml"]);
    assert!(
        found.iter().all(|(id, _)| id == "acme-token") && !found.is_empty(),
        "{found:?}"
    );
    // [scan] gitleaks_config, plus our own exclude and disabled_rules.
    r.write(
        "stevedore.toml",
        "[scan]\ngitleaks_config = \"ci/leaks.toml\"\nexclude = [\"vendor/\"]\n",
    );
    assert_eq!(rules_found(&r, &[]), [pair("acme-token", "src/keys.py")]);
    r.write(
        "stevedore.toml",
        "[scan]\ndisabled_rules = [\"aws-access-key-id\"]\n",
    );
    assert!(rules_found(&r, &[]).is_empty());
}

/// The placeholder detector on the `scan` branch ignores rule paths and allowlists; the real one
/// (branch `scanrules`) honours them. Probe which one is linked.
fn detector_honours_paths_and_allowlists() -> bool {
    use stevedore::scan::detect::Detector;
    use stevedore::scan::rule::{Allowlist, Rule};
    let rule = Rule {
        id: "p".into(),
        regex: Some("zzz_[0-9]{6}".into()),
        path: Some(r"\.env$".into()),
        ..Rule::default()
    };
    let d = Detector::new(vec![rule.clone()], vec![]).unwrap();
    let al = Allowlist {
        paths: vec!["^fixtures/".into()],
        ..Allowlist::default()
    };
    let d2 = Detector::new(vec![Rule { path: None, ..rule }], vec![al]).unwrap();
    d.scan("a.txt", None, b"zzz_123456").is_empty()
        && d2.scan("fixtures/a.txt", None, b"zzz_123456").is_empty()
}

#[test]
fn gitleaks_config_allowlists_and_path_rules() {
    if !detector_honours_paths_and_allowlists() {
        eprintln!("SKIPPED: the linked detector is the placeholder (no path rules, no allowlists)");
        return;
    }
    let r = repo_for_config();
    r.write("deploy/prod.pem", "-----BEGIN NOTHING-----\n");
    // The same assignment in an .env file (the path rule applies) and in a text file (it does not).
    r.write("deploy/secrets.env", "DB_PASSWORD=Zq8xW2vN5mK9pL3rT7yB\n"); // stevedore:allow (fixture)
    r.write("deploy/notes.txt", "DB_PASSWORD=Zq8xW2vN5mK9pL3rT7yB\n"); // stevedore:allow (fixture)
    r.write(
        ".gitleaks.toml",
        format!(
            r#"{CUSTOM_RULE}
[[rules.allowlists]]
paths = ['''^vendor/''']

[[rules]]
id = "env-db-password"
regex = '''DB_PASSWORD=([A-Za-z0-9]{{16,}})'''
secretGroup = 1
path = '''\.env$'''

[[rules]]
id = "pem-file"
description = "a private key file"
path = '''\.pem$'''

[allowlist]
description = "global"
paths = ['''^src/''']
"#
        ),
    );
    let found = rules_found(&r, &[]);
    assert!(
        found.contains(&pair("env-db-password", "deploy/secrets.env")),
        "{found:?}"
    );
    assert!(
        found.contains(&pair("pem-file", "deploy/prod.pem")),
        "{found:?}"
    );
    assert!(
        !found
            .iter()
            .any(|(_, f)| f.starts_with("vendor/") || f.starts_with("src/")),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(_, f)| f == "deploy/notes.txt"),
        "{found:?}"
    );
    // [[scan.allowlists]] in stevedore.toml applies on top.
    r.write(
        "stevedore.toml",
        "[scan]\n[[scan.allowlists]]\npaths = ['''^deploy/''']\n",
    );
    let found = rules_found(&r, &[]);
    assert!(
        !found.iter().any(|(_, f)| f.starts_with("deploy/")),
        "{found:?}"
    );
}

#[test]
fn a_real_world_gitleaks_file_is_read_unchanged() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/scan/gitleaks-team.toml");
    let loaded = stevedore::scan::gitleaks::load(&data).unwrap_or_else(|e| panic!("{e:#}"));
    let ids: Vec<&str> = loaded.rules.iter().map(|r| r.id.as_str()).collect();
    for want in [
        "acme-internal-token",
        "acme-db-url",
        "acme-legacy-header",
        "keystore-file",
        "terraform-state",
    ] {
        assert!(ids.contains(&want), "{want} in {ids:?}");
    }
    // useDefault brought the built-in rules.
    assert!(ids.contains(&"aws-access-key-id"), "{ids:?}");
    assert!(!ids.contains(&"generic-api-key"));
    let legacy = loaded
        .rules
        .iter()
        .find(|r| r.id == "acme-legacy-header")
        .unwrap();
    assert!(
        legacy
            .regex
            .as_deref()
            .unwrap()
            .starts_with(r"X\-Acme\-Auth: "),
        "{legacy:?}"
    );
    assert_eq!(legacy.allowlists.len(), 1, "targetRules attached");
    assert_eq!(loaded.global.len(), 1);
    let token = loaded
        .rules
        .iter()
        .find(|r| r.id == "acme-internal-token")
        .unwrap();
    assert_eq!(token.allowlists.len(), 2);
    assert!(token.allowlists[1].condition_and);

    // Through the CLI: --config pointing at it, a custom-rule finding and a built-in one.
    let r = Repo::new();
    r.write(
        "svc/main.go",
        format!("const tok = \"acme_live_k3j5h7g9f2d4s6a8q1w3e5r7\"\nconst aws = \"{KEY_C}\"\n"),
    );
    r.commit("svc", ANN);
    let found = rules_found(&r, &["--config", data.to_str().unwrap()]);
    assert!(
        found.contains(&pair("aws-access-key-id", "svc/main.go")),
        "{found:?}"
    );
    assert!(
        found.contains(&pair("acme-internal-token", "svc/main.go")),
        "{found:?}"
    );
}

/// The gitleaks-compatibility fixture (see tests/data/gitleaks-compat/generate.sh).
fn compat(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gitleaks-compat")
        .join(rel)
}

/// A copy of the fixture tree in a new git repository, committed with the identity and date
/// generate.sh used, so history findings carry the commit gitleaks' git-mode fingerprints name.
fn compat_repo() -> Repo {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let r = Repo::new();
    copy(&compat("tree"), r.path());
    let date = "2026-01-01T00:00:00Z";
    let out = std::process::Command::new("git")
        .args(["add", "-A"])
        .current_dir(r.path())
        .status()
        .unwrap();
    assert!(out.success());
    let st = std::process::Command::new("git")
        .args([
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "-m",
            "fixture",
        ])
        .current_dir(r.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", r.path())
        .envs([
            ("GIT_AUTHOR_NAME", "Ann"),
            ("GIT_AUTHOR_EMAIL", "ann@example.org"),
            ("GIT_COMMITTER_NAME", "Ann"),
            ("GIT_COMMITTER_EMAIL", "ann@example.org"),
            ("GIT_AUTHOR_DATE", date),
            ("GIT_COMMITTER_DATE", date),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    r
}

/// The rule ids of the findings that remain, from a json report on stdout.
fn remaining(r: &Repo, args: &[&str]) -> Vec<String> {
    let mut a = vec!["scan", "--report-format", "json", "--report-path", "-"];
    a.extend_from_slice(args);
    let (code, out, err) = stevedore(r.path(), &a, &[]);
    assert!(code == 0 || code == 1, "{out}\n{err}");
    let rep: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut ids: Vec<String> = rep
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["File"].as_str().unwrap(),
                f["RuleID"].as_str().unwrap()
            )
        })
        .collect();
    ids.sort();
    ids
}

/// Only the Laravel key, which gitleaks 8.30 does not find, is left once gitleaks' files are honoured.
const ONLY_LARAVEL: &[&str] = &[".env.production:laravel-app-key"];

#[test]
fn gitleaks_ignore_files_and_reports_written_by_real_gitleaks_are_honoured() {
    let r = compat_repo();
    let before = remaining(&r, &[]);
    assert!(
        before.len() > 20,
        "the fixture's secrets are found: {before:?}"
    );
    assert!(before.contains(&"config/services.php:aws-access-key-id".to_string()));
    // gitleaks dir's fingerprints (file:rule:line, gitleaks' rule ids) in .gitleaksignore.
    std::fs::copy(compat("gitleaksignore-dir"), r.file(".gitleaksignore")).unwrap();
    assert_eq!(remaining(&r, &[]), ONLY_LARAVEL);
    std::fs::remove_file(r.file(".gitleaksignore")).unwrap();
    // gitleaks dir's JSON report as the baseline.
    let dir_report = compat("gitleaks-dir.json");
    assert_eq!(
        remaining(&r, &["--baseline", dir_report.to_str().unwrap()]),
        ONLY_LARAVEL
    );
    // gitleaks git's fingerprints (commit:file:rule:line) and report, on the same commit.
    let head = r.git(&["rev-parse", "HEAD"]);
    let want = std::fs::read_to_string(compat("commit")).unwrap();
    assert_eq!(head, want.trim(), "the fixture commit is recreated exactly");
    let git_report = compat("gitleaks-git.json");
    assert_eq!(
        remaining(
            &r,
            &[
                "--history",
                "--no-tree",
                "--baseline",
                git_report.to_str().unwrap()
            ]
        ),
        ONLY_LARAVEL
    );
    std::fs::copy(compat("gitleaksignore-git"), r.file(".gitleaksignore")).unwrap();
    assert_eq!(remaining(&r, &["--history", "--no-tree"]), ONLY_LARAVEL);
}

#[test]
fn gitleaks_run_here_writes_files_stevedore_honours() {
    // The same against the gitleaks installed by ci/setup-testbed, run now on the fixture.
    if std::process::Command::new("gitleaks")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("gitleaks is not installed (ci/setup-testbed installs it): skipped");
        return;
    }
    let r = compat_repo();
    let gitleaks = |args: &[&str]| {
        let out = std::process::Command::new("gitleaks")
            .args(args)
            .args(["--no-banner", "--exit-code", "0", "--report-format", "json"])
            .current_dir(r.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir_report = tmp.path().join("dir.json");
    gitleaks(&["dir", ".", "--report-path", dir_report.to_str().unwrap()]);
    let git_report = tmp.path().join("git.json");
    gitleaks(&["git", ".", "--report-path", git_report.to_str().unwrap()]);
    // Unredacted reports: matched on the secret too.
    assert_eq!(
        remaining(&r, &["--baseline", dir_report.to_str().unwrap()]),
        ONLY_LARAVEL
    );
    assert_eq!(
        remaining(
            &r,
            &["--history", "--baseline", git_report.to_str().unwrap()]
        ),
        ONLY_LARAVEL
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dir_report).unwrap()).unwrap();
    let fps: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Fingerprint"].as_str().unwrap())
        .collect();
    r.write(".gitleaksignore", fps.join("\n"));
    assert_eq!(remaining(&r, &[]), ONLY_LARAVEL);
}
