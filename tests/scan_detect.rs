//! The built-in detector on our own labelled corpus (`tests/data/detect/`): realistic files in many
//! languages holding fake secrets of real formats, and look-alikes that hold none. Every expected rule
//! must be reported (exact recall) and nothing else (zero false positives). A label `rule@LINE` also
//! says on which line the finding must be located (the line of the secret value; a multi-line key's
//! BEGIN line); a file whose labels carry lines is compared as `rule@line` throughout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use stevedore::scan::detect::Detector;

fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("corpus dir readable") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            walk(&p, base, out);
        } else {
            out.push(
                p.strip_prefix(base)
                    .expect("under base")
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

#[test]
fn labelled_corpus_exact_recall_and_no_false_positives() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/detect");
    let manifest = std::fs::read_to_string(root.join("expected.toml")).expect("expected.toml");
    let expected: BTreeMap<String, Vec<String>> =
        toml::from_str(&manifest).expect("expected.toml parses");
    let files_dir = root.join("files");
    let mut files = Vec::new();
    walk(&files_dir, &files_dir, &mut files);
    files.sort();
    let listed: Vec<&String> = expected.keys().collect();
    assert_eq!(
        files.iter().collect::<Vec<_>>(),
        listed,
        "every corpus file must be labelled in expected.toml"
    );

    let detector = Detector::builtin();
    let mut problems = Vec::new();
    let (mut want_total, mut found_total) = (0, 0);
    for (file, want) in &expected {
        let content = std::fs::read(files_dir.join(file)).expect("corpus file");
        let findings = detector.scan(file, None, &content);
        let with_lines = want.iter().any(|w| w.contains('@'));
        let mut got: Vec<String> = findings
            .iter()
            .map(|f| match with_lines {
                true => format!("{}@{}", f.rule_id, f.start_line),
                false => f.rule_id.clone(),
            })
            .collect();
        got.sort();
        let mut want = want.clone();
        want.sort();
        want_total += want.len();
        found_total += got.iter().filter(|g| want.contains(g)).count();
        if got != want {
            let detail: Vec<String> = findings
                .iter()
                .map(|f| format!("{}@{}:{}", f.rule_id, f.start_line, f.start_column))
                .collect();
            problems.push(format!("{file}: expected {want:?}, got {detail:?}"));
        }
        for f in &findings {
            assert!(
                !f.secret.is_empty(),
                "{file}: {} has an empty secret",
                f.rule_id
            );
            assert!(
                f.start_line >= 1 && f.start_column >= 1,
                "{file}: bad position {f:?}"
            );
        }
    }
    assert!(
        problems.is_empty(),
        "recall {found_total}/{want_total}; mismatches:\n{}",
        problems.join("\n")
    );
    assert!(
        want_total >= 35,
        "the corpus should hold at least 35 secrets, has {want_total}"
    );
}
