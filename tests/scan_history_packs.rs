//! The history scan decodes packs with a parallel delta-tree traversal (issue 14.2). It must report
//! exactly what reading every blob by id reports, on a repository where blobs are deltas of deltas
//! (many revisions of the same files after `git gc --aggressive`), a second pack, and loose objects.

mod scan_support;

use scan_support::*;
use stevedore::scan::detect::Detector;
use stevedore::scan::found::Limits;
use stevedore::scan::history::{Decode, History, Range};

const ANN: &str = "Ann Coder <ann@example.org>";

/// A long file that changes a little in every revision (so `gc` stores it as deltas), holding `key`
/// from revision `from` on, at a line that moves as lines are added above it.
fn settings(rev: usize, key: &str, from: usize) -> String {
    let mut s = String::new();
    for i in 0..400 {
        s.push_str(&format!(
            "SETTING_{i} = {}\n",
            i * 7 + usize::from(i == rev % 400)
        ));
        if i % 50 == 0 && i / 50 <= rev % 9 {
            s.push_str(&format!("# note {rev}/{i}\n"));
        }
    }
    if rev >= from {
        s.push_str(&py_with_key(key, 2));
    }
    s
}

/// 60 revisions packed aggressively, 10 more in a second pack, 6 more left loose; secrets appear,
/// stay, move and disappear across all three stores.
fn repo() -> Repo {
    let r = Repo::new();
    let mut rev = 0;
    let mut step = |r: &Repo, upto: usize| {
        while rev < upto {
            r.write("app/settings.py", settings(rev, KEY_A, 20));
            let held = (30..45).contains(&rev) || rev >= 64;
            let other = if held {
                py_with_key(KEY_B, 1 + rev % 5)
            } else {
                settings(rev + 3, KEY_B, 1000)
            };
            r.write("app/other.py", other);
            if rev % 11 == 0 {
                r.write(
                    &format!("docs/page{rev}.md"),
                    format!("page {rev}\n").repeat(50),
                );
            }
            if rev == 65 {
                r.write("mid.env", format!("AWS_KEY={KEY_C}\n"));
            }
            if rev == 72 {
                r.write("late.env", format!("AWS_KEY={KEY_A}\n"));
            }
            r.commit(&format!("rev {rev}"), ANN);
            rev += 1;
        }
    };
    step(&r, 60);
    r.git(&["gc", "-q", "--aggressive"]);
    step(&r, 70);
    r.git(&["repack", "-q", "-d"]);
    step(&r, 76);
    r
}

/// A finding as `(file, line, column, commit message, fingerprint)`.
type Row = (String, usize, usize, String, String);

/// The findings of a scan as sorted rows, with its counts (blobs and bytes scanned).
fn scan(r: &Repo, decode: Decode) -> (Vec<Row>, (u64, u64)) {
    let limits = Limits::default();
    let mut h = History::list(r.path(), &Range::all(), &limits).unwrap();
    h.set_decode(decode);
    let res = h
        .scan(&Detector::builtin(), &limits, None, &|_| {})
        .unwrap();
    let mut rows: Vec<_> = res
        .findings
        .iter()
        .map(|f| {
            (
                f.file.clone(),
                f.finding.start_line,
                f.finding.start_column,
                f.commit.as_ref().unwrap().message.clone(),
                f.fingerprint.clone(),
            )
        })
        .collect();
    rows.sort();
    (rows, (res.stats.blobs_scanned, res.stats.bytes_scanned))
}

#[test]
fn pack_traversal_finds_what_reading_by_id_finds_across_deltas_packs_and_loose_objects() {
    let r = repo();
    // The repository has what the test is about: two packs, deltas, loose objects.
    let packs = std::fs::read_dir(r.file(".git/objects/pack"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
        .count();
    assert_eq!(packs, 2);
    let deltas = r.git(&[
        "cat-file",
        "--batch-all-objects",
        "--batch-check=%(objecttype) %(deltabase)",
    ]);
    let blob_deltas = deltas
        .lines()
        .filter(|l| l.starts_with("blob ") && !l.ends_with(&"0".repeat(40)))
        .count();
    assert!(blob_deltas > 50, "{blob_deltas} delta blobs");
    let loose = r.git(&["count-objects"]);
    assert!(!loose.starts_with("0 objects"), "{loose}");

    let (by_id, counts) = scan(&r, Decode::ById);
    let (packs, pack_counts) = scan(&r, Decode::Packs);
    let (auto, auto_counts) = scan(&r, Decode::Auto);
    assert_eq!(packs, by_id);
    assert_eq!(auto, by_id);
    assert_eq!(pack_counts, counts);
    assert_eq!(auto_counts, counts);
    // And what it finds is right: KEY_A once in settings.py, where it was introduced (rev 20, in the
    // aggressive pack), not again at the lines it moved to; KEY_B once in other.py although it left and
    // came back (rev 64); KEY_C in the second pack; KEY_A again in another file, a loose object.
    let at = |file: &str, commit: &str| {
        by_id
            .iter()
            .filter(|x| x.0 == file && x.3 == commit)
            .count()
    };
    assert_eq!(at("app/settings.py", "rev 20"), 1, "{by_id:#?}");
    assert_eq!(by_id.iter().filter(|x| x.0 == "app/settings.py").count(), 1);
    assert_eq!(at("app/other.py", "rev 30"), 1, "{by_id:#?}");
    assert_eq!(by_id.iter().filter(|x| x.0 == "app/other.py").count(), 1);
    assert_eq!(at("mid.env", "rev 65"), 1, "{by_id:#?}");
    assert_eq!(at("late.env", "rev 72"), 1, "{by_id:#?}");
    assert_eq!(by_id.len(), 4, "{by_id:#?}");
}
