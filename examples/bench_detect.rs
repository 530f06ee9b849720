//! Micro benchmark of the detector: scans every file under a directory (default: the crates in
//! `~/.cargo/registry/src`), read into memory first, on one thread, and prints MB/s.
//!
//! `cargo run --release --example bench_detect -- [DIR] [MAX_MB]`

use std::path::PathBuf;
use std::time::Instant;
use stevedore::scan::detect::Detector;

fn collect(dir: &PathBuf, max: usize, out: &mut Vec<(String, Vec<u8>)>, total: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        if *total >= max {
            return;
        }
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            collect(&p, max, out, total);
        } else if ft.is_file() {
            let Ok(data) = std::fs::read(&p) else {
                continue;
            };
            if data.len() > 10 << 20 || data[..data.len().min(8000)].contains(&0) {
                continue;
            }
            *total += data.len();
            out.push((p.display().to_string(), data));
        }
    }
}

/// CPU seconds (user + system) this process has used, from /proc (Linux): throughput per CPU second
/// is steadier than wall time on a shared machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        PathBuf::from(home).join(".cargo/registry/src")
    });
    let max_mb: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let mut files = Vec::new();
    let mut total = 0;
    collect(&dir, max_mb << 20, &mut files, &mut total);
    let t = Instant::now();
    let skip: Vec<String> = std::env::var("SKIP_RULES")
        .map(|s| s.split(',').map(String::from).collect())
        .unwrap_or_default();
    let only: Vec<String> = std::env::var("ONLY_RULES")
        .map(|s| s.split(',').map(String::from).collect())
        .unwrap_or_default();
    let rules = stevedore::scan::rules::builtin_rules()
        .into_iter()
        .filter(|r| !skip.contains(&r.id) && (only.is_empty() || only.contains(&r.id)))
        .map(|mut r| {
            if std::env::var_os("AC_ONLY").is_some() && r.regex.is_some() {
                r.regex = Some("NEVERMATCHES\\x00".into());
            }
            r
        })
        .collect();
    let detector = Detector::new(rules, Vec::new()).expect("built-in rules compile");
    let compile = t.elapsed();
    // A first pass compiles the rules met (lazily); the second pass is the steady state.
    let t = Instant::now();
    for (path, data) in &files {
        let _ = detector.scan(path, None, data);
    }
    let first = t.elapsed().as_secs_f64();
    let mut findings = 0;
    let mut per_rule = std::collections::BTreeMap::<String, usize>::new();
    let cpu = cpu_seconds();
    let t = Instant::now();
    for (path, data) in &files {
        for f in detector.scan(path, None, data) {
            findings += 1;
            *per_rule.entry(f.rule_id).or_default() += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let mb = total as f64 / (1024.0 * 1024.0);
    println!(
        "{} rules compiled in {:.0} ms",
        detector.rule_count(),
        compile.as_secs_f64() * 1000.0
    );
    println!(
        "first pass (compiling rules on first use): {:.0} MB/s",
        total as f64 / 1048576.0 / first
    );
    println!(
        "scanned {} files, {:.1} MB in {:.3} s: {:.0} MB/s on one thread",
        files.len(),
        mb,
        secs,
        mb / secs
    );
    println!(
        "{:.0} MB per CPU second ({cpu:.2} CPU s)",
        mb / cpu.max(0.01)
    );
    println!("{findings} findings");
    let mut v: Vec<_> = per_rule.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    for (r, n) in v.iter().take(15) {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "  {r}: {n}");
    }
}
