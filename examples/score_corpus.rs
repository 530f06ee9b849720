//! Scores the built-in detector on a labelled corpus of samples (JSON lines with `kind` tp/fp, `text`,
//! optional `path`, optional `in_default_config`, `rule_id`).
//!
//! `cargo run --release --example score_corpus -- /work/shared/bench/gitleaks-cases.jsonl [-v]`
//!
//! Prints recall on the tp samples, the share of fp samples flagged, the misses per rule and (with
//! `-v`) every missed tp and flagged fp sample.

use stevedore::scan::detect::Detector;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.iter().find(|a| !a.starts_with('-')) else {
        anyhow::bail!(
            "usage: score_corpus CASES.jsonl [-v] — give the path of the labelled corpus"
        );
    };
    let verbose = args.iter().any(|a| a == "-v");
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {file}: {e}"))?;
    let detector = Detector::builtin();
    let score = stevedore::scan::detect::score_cases(&detector, &text)?;
    let mut misses: Vec<_> = score.missed_by_rule.iter().collect();
    misses.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("rules: {}", detector.rule_count());
    println!(
        "tp reported: {}/{} = {:.2}%",
        score.tp_hit,
        score.tp,
        score.recall() * 100.0
    );
    println!(
        "fp flagged (raw): {}/{} = {:.2}%",
        score.fp_hit,
        score.fp,
        score.fp_rate() * 100.0
    );
    println!(
        "fp flagged (consistent samples: leaving out the {} fp samples that are verbatim tp samples too): {}/{} = {:.2}%",
        score.fp_contradictory,
        score.fp_hit - score.fp_hit_contradictory,
        score.fp - score.fp_contradictory,
        score.fp_rate_consistent() * 100.0
    );
    println!("misses per rule:");
    for (rule, n) in misses {
        println!("  {rule}: {n}");
    }
    let mut fps: Vec<_> = score.fp_by_rule.iter().collect();
    fps.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("flagged fp samples by detecting rule:");
    for (rule, n) in fps {
        println!("  {rule}: {n}");
    }
    if verbose {
        for s in &score.missed {
            println!("MISS {s}");
        }
        for s in &score.flagged {
            println!("FP   {s}");
        }
    }
    println!("scan time: {:.1} ms", score.elapsed.as_secs_f64() * 1000.0);
    Ok(())
}
