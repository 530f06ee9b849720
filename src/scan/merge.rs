//! `stevedore scan merge REPORT…`: the reports of a sharded scan (`scan --shard I/N`) merged into one, in
//! the format they were written in (gitlab, sarif, json, csv or junit, told from the content). Every
//! finding of every report is kept once: a finding present in several reports (the same report given
//! twice, overlapping runs) is written once; nothing else is dropped.

use super::report::ReportFormat;
use crate::exit::{CodeExt, ExitCode, coded};
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Arguments of `stevedore scan merge`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct MergeArgs {
    /// The reports to merge (every one in the same format), e.g. the shard reports
    /// `.stevedore/gl-secret-detection-report-*-of-*.json`.
    #[arg(value_name = "REPORT", required = true, num_args = 1..)]
    pub reports: Vec<PathBuf>,
    /// Where to write the merged report (`-`: stdout, the default).
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
}

/// Runs `scan merge`: reads every report, merges, writes; says how many findings the result holds.
pub fn run(app: &crate::app::App, args: &MergeArgs) -> anyhow::Result<i32> {
    let mut docs = Vec::with_capacity(args.reports.len());
    for p in &args.reports {
        let text = std::fs::read_to_string(p)
            .with_context(|| {
                format!(
                    "cannot read the report {}: a shard that left no report cannot be merged (check the shard job)",
                    p.display()
                )
            })
            .code(ExitCode::Usage)?;
        docs.push((p.clone(), text));
    }
    let (format, text, n) = merge(&docs)?;
    write(&args.output, &text)?;
    app.out.info(format!(
        "merged {} {} report(s): {n} finding(s){}",
        docs.len(),
        format.name(),
        if args.output == Path::new("-") {
            String::new()
        } else {
            format!(" in {}", args.output.display())
        }
    ));
    Ok(0)
}

/// Merges reports given as `(path, text)`: the format (all must share it), the merged text and its
/// number of findings.
pub fn merge(docs: &[(PathBuf, String)]) -> anyhow::Result<(ReportFormat, String, usize)> {
    let mut format = None;
    for (p, t) in docs {
        let f = detect(t).ok_or_else(|| {
            coded(
                ExitCode::Usage,
                format!(
                    "{} is not a report stevedore writes (gitlab, sarif, json, csv or junit)",
                    p.display()
                ),
            )
        })?;
        match format {
            None => format = Some(f),
            Some(first) if first != f => {
                return Err(coded(
                    ExitCode::Usage,
                    format!(
                        "{} is a {} report but {} is {}: merge reports of one format",
                        p.display(),
                        f.name(),
                        docs[0].0.display(),
                        first.name()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let format = format.ok_or_else(|| coded(ExitCode::Usage, "no report to merge"))?;
    let texts: Vec<&str> = docs.iter().map(|(_, t)| t.as_str()).collect();
    let (text, n) = match format {
        ReportFormat::Gitlab => gitlab(&parse_all(docs)?),
        ReportFormat::Sarif => sarif(&parse_all(docs)?),
        ReportFormat::Json => json_array(&parse_all(docs)?),
        ReportFormat::Csv => csv(&texts),
        ReportFormat::Junit => junit(&texts),
    };
    Ok((format, text, n))
}

/// The format of a report, from its content.
pub fn detect(text: &str) -> Option<ReportFormat> {
    let t = text.trim_start();
    if t.starts_with("<?xml") || t.starts_with("<testsuites") {
        return t.contains("<testsuites").then_some(ReportFormat::Junit);
    }
    if t.starts_with('{') || t.starts_with('[') {
        let v: Value = serde_json::from_str(t).ok()?;
        return match &v {
            Value::Array(_) => Some(ReportFormat::Json),
            Value::Object(o) if o.get("vulnerabilities").is_some_and(Value::is_array) => {
                Some(ReportFormat::Gitlab)
            }
            Value::Object(o) if o.get("runs").is_some_and(Value::is_array) => {
                Some(ReportFormat::Sarif)
            }
            _ => None,
        };
    }
    let header = super::report::csv_header();
    (t.lines().next() == Some(header.as_str())).then_some(ReportFormat::Csv)
}

fn parse_all(docs: &[(PathBuf, String)]) -> anyhow::Result<Vec<Value>> {
    docs.iter()
        .map(|(p, t)| {
            serde_json::from_str(t)
                .with_context(|| format!("{} is not valid JSON", p.display()))
                .code(ExitCode::Usage)
        })
        .collect()
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Keeps the first of each key.
fn dedup<T: Clone>(items: impl IntoIterator<Item = T>, key: impl Fn(&T) -> String) -> Vec<T> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|i| seen.insert(key(i))).collect()
}

/// GitLab: the vulnerabilities of every report (each once); the scan from the first report, started
/// at the earliest start and ended at the latest end.
fn gitlab(docs: &[Value]) -> (String, usize) {
    let vulns = dedup(
        docs.iter()
            .flat_map(|d| d["vulnerabilities"].as_array().cloned().unwrap_or_default()),
        // The whole entry: `id` is shared by two occurrences of a secret in one blob.
        Value::to_string,
    );
    let times = |k: &'static str| docs.iter().filter_map(move |d| d["scan"][k].as_str());
    let mut out = docs[0].clone();
    if let Some(t) = times("start_time").min() {
        out["scan"]["start_time"] = json!(t);
    }
    if let Some(t) = times("end_time").max() {
        out["scan"]["end_time"] = json!(t);
    }
    if docs.iter().any(|d| d["scan"]["status"] == "failure") {
        out["scan"]["status"] = json!("failure");
    }
    let n = vulns.len();
    out["vulnerabilities"] = Value::Array(vulns);
    (pretty(&out), n)
}

/// SARIF: the results of every report's run (each finding once), the rules of all, indexes renumbered.
fn sarif(docs: &[Value]) -> (String, usize) {
    let run = |d: &Value| d["runs"][0].clone();
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    for d in docs {
        for r in run(d)["tool"]["driver"]["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            rules.entry(id).or_insert(r);
        }
    }
    let index: BTreeMap<String, usize> = rules
        .keys()
        .cloned()
        .enumerate()
        .map(|(i, k)| (k, i))
        .collect();
    let results = dedup(
        docs.iter()
            .flat_map(|d| run(d)["results"].as_array().cloned().unwrap_or_default()),
        |r| {
            // The whole result but its rule index (each report numbers its own rules).
            let mut r = r.clone();
            r["ruleIndex"] = Value::Null;
            r.to_string()
        },
    );
    let results: Vec<Value> = results
        .into_iter()
        .map(|mut r| {
            if let Some(i) = r["ruleId"].as_str().and_then(|id| index.get(id)) {
                r["ruleIndex"] = json!(i);
            }
            r
        })
        .collect();
    let n = results.len();
    let mut out = docs[0].clone();
    out["runs"][0]["tool"]["driver"]["rules"] = Value::Array(rules.into_values().collect());
    out["runs"][0]["results"] = Value::Array(results);
    (pretty(&out), n)
}

/// gitleaks-style JSON: the findings of every report, each once.
fn json_array(docs: &[Value]) -> (String, usize) {
    let all = dedup(
        docs.iter()
            .flat_map(|d| d.as_array().cloned().unwrap_or_default()),
        Value::to_string,
    );
    let n = all.len();
    (pretty(&Value::Array(all)), n)
}

/// CSV: one header, then the rows of every report, each row once.
fn csv(texts: &[&str]) -> (String, usize) {
    let header = super::report::csv_header();
    let rows = dedup(
        texts
            .iter()
            .flat_map(|t| csv_records(t).into_iter().skip(1)),
        |r: &String| r.clone(),
    );
    let mut out = format!("{header}\n");
    for r in &rows {
        out.push_str(r);
        out.push('\n');
    }
    (out, rows.len())
}

/// The records of a CSV text (a quoted cell may hold line breaks), without their line endings.
fn csv_records(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for line in text.split_inclusive('\n') {
        cur.push_str(line);
        quoted ^= line.matches('"').count() % 2 == 1;
        if !quoted {
            let rec = cur.trim_end_matches(['\n', '\r']).to_string();
            if !rec.is_empty() {
                out.push(rec);
            }
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim_end_matches(['\n', '\r']).to_string());
    }
    out
}

/// JUnit: the test cases of every report (each once) in one suite, counts recomputed, stamped with the
/// earliest report's time.
fn junit(texts: &[&str]) -> (String, usize) {
    let cases = dedup(texts.iter().flat_map(|t| testcases(t)), |c: &String| {
        c.clone()
    });
    let stamp = texts
        .iter()
        .filter_map(|t| attr(t, "testsuite", "timestamp"))
        .min()
        .unwrap_or_default();
    let n = cases.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites tests=\"{n}\" failures=\"{n}\">\n  <testsuite name=\"stevedore scan\" tests=\"{n}\" failures=\"{n}\" timestamp=\"{stamp}\">\n"
    ));
    for c in &cases {
        out.push_str(&format!("    {c}\n"));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    (out, n)
}

/// The `<testcase …>…</testcase>` elements of a JUnit text (their content is escaped, so the closing
/// tag cannot occur inside).
fn testcases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<testcase") {
        let Some(len) = rest[start..].find("</testcase>") else {
            break;
        };
        let end = start + len + "</testcase>".len();
        out.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// The value of attribute `name` on the first `<tag …>` of `text`.
fn attr(text: &str, tag: &str, name: &str) -> Option<String> {
    let open = format!("<{tag} ");
    let start = text.find(&open)? + open.len();
    let head = &text[start..start + text[start..].find('>')?];
    let key = format!("{name}=\"");
    let v = head.find(&key)? + key.len();
    Some(head[v..v + head[v..].find('"')?].to_string())
}

/// Writes the merged report (`-`: stdout).
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if path == Path::new("-") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return out
            .write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .context("cannot write the merged report to stdout")
            .code(ExitCode::Outside);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))
            .code(ExitCode::Usage)?;
    }
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the merged report to {}", path.display()))
        .code(ExitCode::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_keep_quoted_line_breaks() {
        let t = "a,b\n1,\"x\ny\"\n2,z\n";
        assert_eq!(csv_records(t), vec!["a,b", "1,\"x\ny\"", "2,z"]);
    }

    #[test]
    fn detects_every_format() {
        assert_eq!(detect("[]"), Some(ReportFormat::Json));
        assert_eq!(
            detect("{\"vulnerabilities\": []}"),
            Some(ReportFormat::Gitlab)
        );
        assert_eq!(detect("{\"runs\": []}"), Some(ReportFormat::Sarif));
        assert_eq!(
            detect("<?xml version=\"1.0\"?>\n<testsuites tests=\"0\">"),
            Some(ReportFormat::Junit)
        );
        assert_eq!(
            detect(&format!("{}\n", super::super::report::csv_header())),
            Some(ReportFormat::Csv)
        );
        assert_eq!(detect("hello"), None);
        assert_eq!(detect("{\"a\": 1}"), None);
    }

    #[test]
    fn mixed_formats_and_unknown_files_are_refused() {
        let docs = vec![
            (PathBuf::from("a.json"), "[]".to_string()),
            (PathBuf::from("b.sarif"), "{\"runs\": []}".to_string()),
        ];
        let e = merge(&docs).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
        assert!(crate::exit::render(&e).contains("b.sarif is a sarif report"));
        let e = merge(&[(PathBuf::from("x.txt"), "hi".into())]).unwrap_err();
        assert!(crate::exit::render(&e).contains("x.txt is not a report"));
    }

    #[test]
    fn junit_attr() {
        let t =
            "<testsuites>\n  <testsuite name=\"s\" tests=\"1\" timestamp=\"2024-01-01T00:00:00\">";
        assert_eq!(
            attr(t, "testsuite", "timestamp").as_deref(),
            Some("2024-01-01T00:00:00")
        );
    }
}
