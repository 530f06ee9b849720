//! How stevedore talks: GitLab collapsible sections in CI, progress bars on a terminal, plain progress
//! lines in CI logs, a summary table at the end of every command — all of it through [`crate::redact`].

use crate::redact::redact;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal (or in CI, whose log viewer renders ANSI colours).
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The output settings of one stevedore process.
#[derive(Debug)]
pub struct Output {
    ci: bool,
    quiet: bool,
    verbose: bool,
    color: bool,
    tty: bool,
    results_to_log: bool,
    lock: Mutex<()>,
}

impl Output {
    /// Output for a process: `ci` selects GitLab sections and plain progress lines.
    pub fn new(ci: bool, quiet: bool, verbose: bool, color: ColorChoice) -> Output {
        let tty = std::io::stderr().is_terminal();
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => (tty || ci) && std::env::var_os("NO_COLOR").is_none(),
        };
        Output {
            ci,
            quiet,
            verbose,
            color,
            tty,
            results_to_log: false,
            lock: Mutex::new(()),
        }
    }

    /// Output that prints plainly (tests, library use).
    pub fn plain() -> Output {
        Output {
            ci: false,
            quiet: false,
            verbose: false,
            color: false,
            tty: false,
            results_to_log: false,
            lock: Mutex::new(()),
        }
    }

    /// The same settings for a step run inside another (build's disk guard running prune): its result
    /// lines go to the log (stderr), so the outer command's stdout (e.g. `--json`) stays its own.
    pub fn nested(&self) -> Output {
        Output {
            ci: self.ci,
            quiet: self.quiet,
            verbose: self.verbose,
            color: self.color,
            tty: self.tty,
            results_to_log: true,
            lock: Mutex::new(()),
        }
    }

    /// True in a CI job.
    pub fn is_ci(&self) -> bool {
        self.ci
    }

    /// True with `--quiet`.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// True with `--verbose`.
    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn emit_err(&self, line: &str) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{}", redact(line));
    }

    fn emit_out(&self, line: &str) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{}", redact(line));
    }

    /// A normal log line (stderr), hidden by `--quiet`.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            self.emit_err(msg.as_ref());
        }
    }

    /// A detail line shown only with `--verbose`.
    pub fn detail(&self, msg: impl AsRef<str>) {
        if self.verbose && !self.quiet {
            self.emit_err(msg.as_ref());
        }
    }

    /// A warning (stderr), shown even with `--quiet`.
    pub fn warn(&self, msg: impl AsRef<str>) {
        let line = format!("{} {}", self.paint("33;1", "warning:"), msg.as_ref());
        self.emit_err(&line);
    }

    /// An error (stderr), always shown.
    pub fn error(&self, msg: impl AsRef<str>) {
        let m = msg.as_ref();
        let line = match m.strip_prefix("error:") {
            Some(rest) => format!("{}{}", self.paint("31;1", "error:"), rest),
            None => m.to_string(),
        };
        self.emit_err(&line);
    }

    /// A result line on stdout (what a script would capture), shown even with `--quiet`.
    pub fn result(&self, msg: impl AsRef<str>) {
        if self.results_to_log {
            self.emit_err(msg.as_ref());
            return;
        }
        self.emit_out(msg.as_ref());
    }

    /// Opens a log section; it closes when the returned guard drops. In CI it is a GitLab collapsible
    /// section (`collapsed` folds it by default); elsewhere a header line.
    pub fn section(&self, name: &str, header: &str, collapsed: bool) -> Section<'_> {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if self.ci {
            let flag = if collapsed { "[collapsed=true]" } else { "" };
            self.emit_err(&format!(
                "\x1b[0Ksection_start:{}:{name}{flag}\r\x1b[0K{}",
                unix_now(),
                self.paint("36;1", header)
            ));
        } else if !self.quiet {
            self.emit_err(&self.paint("1", &format!("==> {header}")));
        }
        Section {
            out: self,
            name,
            started: Instant::now(),
        }
    }

    /// A progress indicator: an indicatif bar on a terminal, plain lines (at most one every few
    /// seconds) in CI logs, nothing with `--quiet`. `len` is the total, when known.
    pub fn progress(&self, what: &str, len: Option<u64>, bytes: bool) -> Progress {
        let bar = if self.tty && !self.ci && !self.quiet {
            let pb = match len {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            let tmpl = match (len.is_some(), bytes) {
                (true, true) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                (true, false) => "{msg} [{bar:30}] {pos}/{len} {eta}",
                (false, true) => "{spinner} {msg} {bytes} {bytes_per_sec}",
                (false, false) => "{spinner} {msg} {pos}",
            };
            pb.set_style(
                ProgressStyle::with_template(tmpl).unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            pb.set_message(what.to_string());
            pb.enable_steady_tick(Duration::from_millis(120));
            Some(pb)
        } else {
            None
        };
        Progress {
            bar,
            plain: self.ci && !self.quiet,
            what: what.to_string(),
            len,
            bytes,
            pos: 0,
            last: Instant::now(),
        }
    }

    /// Prints a table: a header row and aligned columns (on stderr, as part of the log).
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        if self.quiet {
            return;
        }
        for line in format_table(headers, rows) {
            self.emit_err(&line);
        }
    }

    /// Prints the closing summary of a command: a title and name/value rows.
    pub fn summary(&self, title: &str, rows: &[(String, String)]) {
        if self.quiet || rows.is_empty() {
            return;
        }
        self.emit_err(&self.paint("1", &format!("--- {title} ---")));
        let w = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in rows {
            self.emit_err(&format!("{k:<w$}  {v}"));
        }
    }
}

/// Lays out a table as lines of aligned columns.
pub fn format_table(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let fmt_row = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{:<w$}  ", c, w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    let mut lines = vec![fmt_row(headers.to_vec())];
    lines.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    for r in rows {
        lines.push(fmt_row(r.iter().map(String::as_str).take(n).collect()));
    }
    lines
}

/// Seconds since the epoch, for section markers.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An open log section; closes on drop.
pub struct Section<'a> {
    out: &'a Output,
    name: String,
    started: Instant,
}

impl Section<'_> {
    /// How long the section has been open.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Section<'_> {
    fn drop(&mut self) {
        if self.out.ci {
            self.out.emit_err(&format!(
                "\x1b[0Ksection_end:{}:{}\r\x1b[0K",
                unix_now(),
                self.name
            ));
        }
    }
}

/// A progress indicator from [`Output::progress`].
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    what: String,
    len: Option<u64>,
    bytes: bool,
    pos: u64,
    last: Instant,
}

impl Progress {
    /// Advances by `n` units (bytes or items).
    pub fn inc(&mut self, n: u64) {
        self.pos += n;
        if let Some(b) = &self.bar {
            b.inc(n);
        } else if self.plain && self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            eprintln!("{}", redact(&self.line()));
        }
    }

    fn line(&self) -> String {
        let pos = if self.bytes {
            human_bytes(self.pos)
        } else {
            self.pos.to_string()
        };
        match self.len {
            Some(l) => {
                let total = if self.bytes {
                    human_bytes(l)
                } else {
                    l.to_string()
                };
                format!("{}: {pos} / {total}", self.what)
            }
            None => format!("{}: {pos}", self.what),
        }
    }

    /// Ends the indicator, printing a last line in CI.
    pub fn finish(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        } else if self.plain {
            eprintln!("{}", redact(&format!("{} (done)", self.line())));
        }
    }
}

/// Formats a byte count for people: `1.5 GB`, `320 MB`, `12 kB`, `17 B` (SI units, like Docker).
pub fn human_bytes(n: u64) -> String {
    const UNITS: &[&str] = &["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// Formats a duration for people: `850ms`, `12.3s`, `4m05s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns() {
        let t = format_table(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t[0], "a    bb");
        assert_eq!(t[2], "xxx  y");
    }

    #[test]
    fn humans() {
        assert_eq!(human_bytes(17), "17 B");
        assert_eq!(human_bytes(1_500_000_000), "1.5 GB");
        assert_eq!(human_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(human_duration(Duration::from_secs(245)), "4m05s");
    }
}
