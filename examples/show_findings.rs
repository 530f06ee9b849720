//! Prints every finding of the built-in rules under a directory (secrets shown: for test data only).
//!
//! `cargo run --release --example show_findings -- DIR [MAX_MB]`
use stevedore::scan::detect::Detector;

fn walk(dir: &std::path::Path, max: usize, total: &mut usize, d: &Detector) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut es: Vec<_> = rd.flatten().collect();
    es.sort_by_key(|e| e.path());
    for e in es {
        if *total >= max {
            return;
        }
        let p = e.path();
        if p.is_dir() {
            walk(&p, max, total, d);
        } else if let Ok(b) = std::fs::read(&p) {
            if b.len() > 10 << 20 || b[..b.len().min(8000)].contains(&0) {
                continue;
            }
            *total += b.len();
            let path = p.display().to_string();
            for f in d.scan(&path, None, &b) {
                let m: String = f.matched.chars().take(110).collect();
                println!("{} {}:{} {:?}", f.rule_id, path, f.start_line, m);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(args.first().expect("usage: show_findings DIR [MAX_MB]"));
    let max: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let mut total = 0;
    walk(&dir, max << 20, &mut total, &Detector::builtin());
}
