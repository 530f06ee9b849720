//! The built-in rules on the public peer corpus (gitleaks' own rule tests): recall ≥ 99.5% on the tp
//! samples (issue 14; 6084/6097 = 99.79% reached: the Flutterwave public keys are reported at low
//! severity; 6 of the 13 misses are Kubernetes Secrets whose decoded values are a certificate,
//! `admin:password` or a documented `mypassword` — public or placeholder by the issue's own decoy
//! rules); of the fp samples at most 5.5% flagged (19/372 = 5.11% reached; gitleaks itself flags
//! 8.3%, measured the same way), and — the target — at most 1% of those that are not also,
//! verbatim, a tp sample of a sibling rule (22 fp samples are: e.g. a Cloudflare API token listed as
//! an fp of the global-key rule and a tp of its own; 3/350 = 0.86% reached).
//!
//! The corpus is found through `STEVEDORE_BENCH_CASES`, else at `../shared/bench/gitleaks-cases.jsonl`
//! beside the crate. When it is absent the test fails in CI (`CI` set) and is skipped elsewhere.

use stevedore::scan::detect::{Detector, score_cases};

#[test]
fn peer_corpus_recall_and_false_positives() {
    let path = std::env::var("STEVEDORE_BENCH_CASES").unwrap_or_else(|_| {
        format!(
            "{}/../shared/bench/gitleaks-cases.jsonl",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let Ok(text) = std::fs::read_to_string(&path) else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "peer corpus not found at {path}: copy shared/bench beside the crate or set STEVEDORE_BENCH_CASES"
            );
        }
        eprintln!(
            "note: peer corpus not found at {path}; skipping (set STEVEDORE_BENCH_CASES to run it)"
        );
        return;
    };
    let score = score_cases(&Detector::builtin(), &text).expect("corpus parses");
    assert!(
        score.tp > 6000 && score.fp > 300,
        "unexpected corpus size: {} tp, {} fp",
        score.tp,
        score.fp
    );
    let recall = score.recall();
    let fp = score.fp_rate();
    eprintln!(
        "recall {:.2}%, fp flagged {:.2}% (consistent samples {:.2}%)",
        recall * 100.0,
        fp * 100.0,
        score.fp_rate_consistent() * 100.0
    );
    assert!(
        recall >= 0.995,
        "recall {:.2}% < 99.5%; misses per rule: {:?}",
        recall * 100.0,
        score.missed_by_rule
    );
    assert!(
        fp <= 0.055,
        "fp flagged {:.2}% > 5.5%; by rule: {:?}",
        fp * 100.0,
        score.fp_by_rule
    );
    let consistent = score.fp_rate_consistent();
    assert!(
        consistent <= 0.01,
        "consistent fp flagged {:.2}% > 1%; by rule: {:?}",
        consistent * 100.0,
        score.fp_by_rule
    );
}
