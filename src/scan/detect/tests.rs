//! Unit tests of the detector engine.

use super::*;
use crate::scan::rules::checks_for_tests::github_token;

fn rule(id: &str, re: &str, kw: &[&str]) -> Rule {
    Rule {
        id: id.into(),
        description: id.into(),
        regex: Some(re.into()),
        keywords: kw.iter().map(|s| s.to_string()).collect(),
        ..Rule::default()
    }
}

fn scan1(
    rules: Vec<Rule>,
    global: Vec<Allowlist>,
    path: &str,
    commit: Option<&str>,
    text: &str,
) -> Vec<Finding> {
    Detector::new(rules, global)
        .unwrap()
        .scan(path, commit, text.as_bytes())
}

/// [`scan1`] with one rule, no global allowlist and no commit.
fn scan_with(rule: Rule, path: &str, text: &str) -> Vec<Finding> {
    scan1(vec![rule], vec![], path, None, text)
}

#[test]
fn line_and_column_are_one_based_bytes() {
    let text = "first line\nsecond tok_ABC123 here\n\nx tok_ZZZ999\n";
    let f = scan_with(rule("t", r"tok_[A-Z]{3}\d{3}", &["tok_"]), "a.txt", text);
    assert_eq!(f.len(), 2);
    assert_eq!(
        (
            f[0].start_line,
            f[0].start_column,
            f[0].end_line,
            f[0].end_column
        ),
        (2, 8, 2, 17)
    );
    assert_eq!((f[1].start_line, f[1].start_column), (4, 3));
    assert_eq!(f[0].secret, "tok_ABC123");
    assert_eq!(f[0].matched, "tok_ABC123");
}

#[test]
fn secret_group_first_group_or_whole_match() {
    let text = "key=tok_ABC123;";
    let whole = scan_with(rule("t", r"key=tok_[A-Z]{3}\d{3}", &["tok_"]), "a", text);
    assert_eq!(whole[0].secret, "key=tok_ABC123");
    let first = scan_with(
        rule("t", r"(key)=(tok_[A-Z]{3}\d{3})", &["tok_"]),
        "a",
        text,
    );
    assert_eq!(first[0].secret, "key");
    let mut r = rule("t", r"(key)=(tok_[A-Z]{3}\d{3})", &["tok_"]);
    r.secret_group = Some(2);
    let second = scan_with(r, "a", text);
    assert_eq!(second[0].secret, "tok_ABC123");
    assert_eq!(second[0].matched, "key=tok_ABC123");
}

#[test]
fn keywords_gate_rules_case_insensitively() {
    let r = rule("t", r"[0-9]{6}", &["magic"]);
    assert!(scan_with(r.clone(), "a", "value 123456\n").is_empty());
    assert_eq!(scan_with(r.clone(), "a", "MAGIC value 123456\n").len(), 1);
    // The keyword must be near: three lines away is out of a custom rule's window.
    assert!(scan_with(r, "a", "magic\n\n\n\n123456\n").is_empty());
}

#[test]
fn rules_without_keywords_run_everywhere() {
    let f = scan_with(rule("t", r"zz[0-9]{4}", &[]), "a", "a zz1234 b zz5678");
    assert_eq!(f.len(), 2);
}

#[test]
fn entropy_floor_and_path() {
    let mut r = rule("t", r"v=([a-z0-9]{8})", &["v="]);
    r.entropy = Some(2.5);
    assert!(scan_with(r.clone(), "a", "v=aaaaaaaa").is_empty());
    let f = scan_with(r.clone(), "a", "v=a1b2c3d4");
    assert_eq!(f.len(), 1);
    assert!((f[0].entropy - 3.0).abs() < 1e-9);
    r.path = Some(r"\.env$".into());
    assert!(scan_with(r.clone(), "x.txt", "v=a1b2c3d4").is_empty());
    assert_eq!(scan_with(r, "prod.env", "v=a1b2c3d4").len(), 1);
}

#[test]
fn path_only_rules_report_the_file() {
    let r = Rule {
        id: "p12".into(),
        path: Some(r"\.p12$".into()),
        ..Rule::default()
    };
    let f = scan_with(r.clone(), "certs/client.p12", "");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule_id, "p12");
    assert!(scan_with(r, "certs/client.pem", "").is_empty());
}

fn allow_rule(a: Allowlist) -> Rule {
    let mut r = rule("t", r"(?P<all>secret=([A-Za-z0-9]{10}))", &["secret="]);
    r.secret_group = Some(2);
    r.allowlists = vec![a];
    r
}

const LINE: &str = "conf secret=Ab12Cd34Ef # note\n"; // stevedore:allow (fixture)

#[test]
fn allowlist_each_criterion() {
    let hits = |a: Allowlist, path: &str, commit: Option<&str>| {
        scan1(vec![allow_rule(a)], vec![], path, commit, LINE).len()
    };
    let regex = |re: &str| Allowlist {
        regexes: vec![re.into()],
        ..Default::default()
    };
    let stopword = |w: &str| Allowlist {
        stopwords: vec![w.into()],
        ..Default::default()
    };
    // Regex against the secret (default), the match and the line.
    assert_eq!(hits(regex("^Ab12"), "a", None), 0);
    assert_eq!(hits(regex("^secret="), "a", None), 1);
    let m = Allowlist {
        regex_target: RegexTarget::Match,
        ..regex("^secret=")
    };
    assert_eq!(hits(m, "a", None), 0);
    let l = Allowlist {
        regex_target: RegexTarget::Line,
        ..regex("# note")
    };
    assert_eq!(hits(l, "a", None), 0);
    // Paths.
    let p = Allowlist {
        paths: vec![r"^test/".into()],
        ..Default::default()
    };
    assert_eq!(hits(p.clone(), "test/a.py", None), 0);
    assert_eq!(hits(p, "src/a.py", None), 1);
    // Stopwords, case-insensitive.
    assert_eq!(hits(stopword("cd34"), "a", None), 0);
    assert_eq!(hits(stopword("zzzz"), "a", None), 1);
    // Commits.
    let c = Allowlist {
        commits: vec!["abc123".into()],
        ..Default::default()
    };
    assert_eq!(hits(c.clone(), "a", Some("ABC123")), 0);
    assert_eq!(hits(c.clone(), "a", Some("def456")), 1);
    assert_eq!(hits(c, "a", None), 1);
}

#[test]
fn allowlist_and_or_condition() {
    let both = |and: bool, path: &str| {
        let a = Allowlist {
            condition_and: and,
            paths: vec![r"^test/".into()],
            stopwords: vec!["ab12".into()],
            ..Default::default()
        };
        scan_with(allow_rule(a), path, LINE).len()
    };
    // OR: either criterion allows.
    assert_eq!(both(false, "src/a"), 0);
    // AND: the stopword matches but the path does not.
    assert_eq!(both(true, "src/a"), 1);
    assert_eq!(both(true, "test/a"), 0);
}

#[test]
fn global_allowlists_apply_to_every_rule() {
    let r = allow_rule(Allowlist::default());
    let g = Allowlist {
        paths: vec![r"vendor/".into()],
        ..Default::default()
    };
    assert!(scan1(vec![r.clone()], vec![g.clone()], "vendor/x", None, LINE).is_empty());
    assert_eq!(scan1(vec![r], vec![g], "src/x", None, LINE).len(), 1);
}

#[test]
fn inline_allow_comments() {
    let r = allow_rule(Allowlist::default());
    assert!(scan_with(r.clone(), "a", "secret=Ab12Cd34Ef # gitleaks:allow\n").is_empty());
    assert!(scan_with(r.clone(), "a", "secret=Ab12Cd34Ef // stevedore:allow\n").is_empty());
    // Only the finding's own line.
    assert_eq!(
        scan_with(r, "a", "# stevedore:allow\nsecret=Ab12Cd34Ef\n").len(),
        1
    );
}

#[test]
fn bad_regex_names_the_rule() {
    let err = Detector::new(vec![rule("broken-rule", "(", &["x"])], vec![])
        .err()
        .unwrap();
    assert!(err.to_string().contains("broken-rule"), "{err}");
}

#[test]
fn github_checksum_valid_and_invalid() {
    let d = Detector::builtin();
    let good = github_token("ghp_", 7);
    let f = d.scan("a.txt", None, format!("token: {good}\n").as_bytes());
    assert!(
        f.iter()
            .any(|f| f.rule_id == "github-pat" && f.secret == good),
        "{f:?}"
    );
    assert!(
        f.iter().all(|f| !f.description.contains("checksum")),
        "{f:?}"
    );
    // Break the checksum (issue 17.4): still a GitHub PAT — a typo, a made-up value or an edited real
    // token — with a note, never a generic-api-key.
    let mut bad = good.clone();
    let last = if bad.ends_with('A') { "B" } else { "A" };
    bad.replace_range(bad.len() - 1.., last);
    let f = d.scan("a.txt", None, format!("GITHUB_TOKEN={bad}\n").as_bytes());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_id, "github-pat", "{f:?}");
    assert!(
        f[0].description.contains("checksum does not match"),
        "{f:?}"
    );
    assert!(
        f[0].tags.iter().any(|t| t == "note:checksum-mismatch"),
        "{f:?}"
    );
}

/// Asserts the built-in rules find nothing in each of `texts` (as a file at `path`).
fn assert_no_findings(path: &str, texts: &[&str]) {
    let d = Detector::builtin();
    for text in texts {
        let f = d.scan(path, None, text.as_bytes());
        assert!(f.is_empty(), "{text:?} -> {f:?}");
    }
}

#[test]
fn builtin_ignores_placeholders_and_references() {
    assert_no_findings(
        "config.txt",
        &[
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
            "api_key = \"<your-key>\"\n",
            "api_key = \"your_api_key_here\"\n",
            "password: changeme\n",
            "password: ${DB_PASSWORD}\n",
            "password: \"{{ .Values.db.password }}\"\n",
            "token = $(cat /run/secrets/token)\n",
            "api_key = env('API_KEY')\n",
            "secret = os.environ['SECRET']\n",
            "const apiToken = process.env.API_TOKEN;\n",
            "STRIPE_KEY=pk_live_51Hc8aLKcR3b9VQm0dS7Xz2\n",
        ],
    );
}

#[test]
fn detector_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detector>();
}

#[test]
fn github_published_example_checksum_verifies() {
    // The example token from the description of GitHub's token format.
    let d = Detector::builtin();
    let f = d.scan("a", None, b"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\n"); // stevedore:allow (fixture)
    assert!(f.iter().any(|f| f.rule_id == "github-pat"), "{f:?}");
    assert!(
        f.iter().all(|f| !f.description.contains("checksum")),
        "{f:?}"
    );
    let f = d.scan("a", None, b"ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq18\n"); // stevedore:allow (fixture)
    assert!(
        f.iter()
            .any(|f| f.rule_id == "github-pat" && f.description.contains("checksum")),
        "{f:?}"
    );
}

#[test]
fn multi_line_private_key_spans_lines() {
    let body: String = (0..6)
        .map(|i| format!("MIIEow{i}AgEAAoIBAQC7vbqajDw4o6gJy8UtmIbkcpnkO3Kwc4qsEnSZp/TR+fQi\n"))
        .collect();
    let text = format!(
        "# deploy key\n-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\n"
    );
    let f = Detector::builtin().scan("id_rsa", None, text.as_bytes());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_id, "private-key");
    assert_eq!((f[0].start_line, f[0].start_column), (2, 1));
    assert_eq!(f[0].end_line, 9);
    // An empty or placeholder body is not a key.
    let f = Detector::builtin().scan(
        "a",
        None,
        b"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
    );
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn public_and_publishable_keys_are_not_findings() {
    assert_no_findings(
        "x.txt",
        &[
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----\n",
            "const stripe = Stripe('pk_live_51HcBxyLKcR3b9VQm0dS7Xz2aBcDeFgHiJk');\n",
            "commit: 9a038989604e8da62ecddbe2094b16ce1b778be1\n",
            "request_id = \"e8e4df51-2054-49b0-ab1c-516ac95c691d\"\n",
            "\"integrity\": \"sha512-Zq8v0pQou3uOfbCdqfa2Zq8v0pQou3uOfbCdqfa2Zq8v0pQou3uOfbCdqfa2Zq8v0pQou3uOfbCdqw==\"\n",
        ],
    );
}

#[test]
fn incremental_line_counting_matches_direct_counting() {
    let text = b"a\nbb\n\nccc tok\nx";
    let mut lc = LineCounter::default();
    for off in [0, 2, 3, 5, 6, 10, 11, 4, 15] {
        assert_eq!(lc.line_col(text, off), line_col(text, off), "offset {off}");
    }
}

#[test]
fn many_findings_in_a_large_file_are_fast_and_numbered() {
    // 20,000 findings: line numbers must not cost a pass from the top for each one.
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("x{i} tok_ABC{:03}\n", i % 1000));
    }
    let f = scan1(
        vec![rule("t", r"tok_[A-Z]{3}\d{3}", &["tok_"])],
        vec![],
        "a",
        None,
        &text,
    );
    assert_eq!(f.len(), 20_000);
    assert_eq!(f[19_999].start_line, 20_000);
}

#[test]
fn base64_values_are_decoded_and_reported_under_the_inner_rule() {
    use base64::Engine;
    let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let token = github_token("ghp_", 7);
    // One level (a Helm value), and two (a whole .env file encoded, then encoded again).
    let inner = enc(&format!("GITHUB_TOKEN={token}\n"));
    let text = format!(
        "image: app\nvalues:\n  env: {inner}\n  twice: {}\n  logo: iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\n",
        enc(&inner)
    );
    let f = Detector::builtin().scan("values.yaml", None, text.as_bytes());
    let got: Vec<(&str, usize, &str)> = f
        .iter()
        .map(|f| (f.rule_id.as_str(), f.start_line, f.secret.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("github-pat", 3, token.as_str()),
            ("github-pat", 4, token.as_str())
        ],
        "{f:?}"
    );
    assert_eq!(f[0].start_column, 8);
    // Three levels deep is past the bound.
    let deep = format!("x: {}\n", enc(&enc(&inner)));
    assert!(
        Detector::builtin()
            .scan("v.yaml", None, deep.as_bytes())
            .is_empty()
    );
}

#[test]
fn a_finding_is_located_at_its_secret_not_at_the_match() {
    // The rule's match begins with the newline ending the previous line.
    let text = "header\nvalue tok_ABC123\n";
    let f = scan1(
        vec![rule("t", r"\n\w+ (tok_[A-Z]{3}\d{3})", &["tok_"])],
        vec![],
        "a.txt",
        None,
        text,
    );
    assert_eq!((f[0].start_line, f[0].start_column), (2, 7), "{f:?}");
}

#[test]
fn keyword_nfa_and_dfa_find_the_same() {
    let d = Detector::builtin();
    let good = github_token("ghp_", 3);
    // Built at run time, so the repository's self-scan stays clean.
    let pw = ["hunter2-", "Xq8vR2mZpL"].concat();
    let small = format!("a = 1\ntoken: {good}\npassword = \"{pw}\"\n");
    let before = d.scan("a.txt", None, small.as_bytes());
    assert!(!before.is_empty());
    // Past the threshold the DFA takes over: same findings.
    let big = "x".repeat(super::keywords::DFA_AFTER as usize + 1);
    d.scan("big.txt", None, big.as_bytes());
    assert!(d.ac.as_ref().unwrap().fast_ready());
    assert_eq!(d.scan("a.txt", None, small.as_bytes()), before);
}

#[test]
fn custom_regexes_compile_on_first_use() {
    let d = Detector::new(
        vec![rule("custom", r"custom-([a-z]{8})", &["custom-"])],
        vec![],
    )
    .unwrap();
    assert!(d.rules[0].re.as_ref().unwrap().cell.get().is_none());
    let f = d.scan("a.txt", None, b"x = custom-abcdefgh\n");
    assert_eq!(f.len(), 1);
    assert!(d.rules[0].re.as_ref().unwrap().cell.get().is_some());
}

#[test]
fn flutterwave_public_key_is_low_severity() {
    let d = Detector::builtin();
    let key = ["FLWPUBK_TEST-", "43ff19d8fe38fcdfe1e617fd94804933", "-X"].concat();
    let f = d.scan("a.env", None, format!("FLW_PUBLIC_KEY={key}\n").as_bytes());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_id, "flutterwave-public-key");
    assert!(
        f[0].tags
            .iter()
            .any(|t| t == crate::scan::rules::SEVERITY_LOW)
    );
    // The secret key stays a secret-key finding, not a low one.
    let sk = ["FLWSECK_TEST-", "ce03428eecbb80c0779dbc2ec75d8ced", "-X"].concat();
    let f = d.scan("a.env", None, format!("FLW_SECRET_KEY={sk}\n").as_bytes());
    assert_eq!(f[0].rule_id, "flutterwave-secret-key");
    assert!(
        !f[0]
            .tags
            .iter()
            .any(|t| t == crate::scan::rules::SEVERITY_LOW)
    );
}
