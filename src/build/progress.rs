//! Reading the daemon's build output: lines streamed live into the step's log, the failing instruction
//! and its output kept for the error message.
//!
//! The classic builder sends text (`Step 2/4 : RUN …`, the command's output, ` ---> id`); BuildKit sends
//! status messages (vertices started, logs, completed, errors). Either way the daemon answers HTTP 200
//! and reports a failure as an error item in the stream, so every error item fails the build.

use bollard::moby::buildkit::v1::StatusResponse;
use bollard::models::{BuildInfo, BuildInfoAux};
use std::collections::{HashMap, HashSet, VecDeque};

/// Lines of output kept per step for the error message.
const KEEP: usize = 40;

/// What the build stream has told so far.
#[derive(Default)]
pub struct Tracker {
    /// The current (classic) or failing (BuildKit) instruction.
    step: Option<String>,
    /// The last lines of output of the current step.
    output: VecDeque<String>,
    /// BuildKit: vertex digest → (number, name).
    vertices: HashMap<String, (usize, String)>,
    /// BuildKit: vertex digest → its last lines.
    vertex_logs: HashMap<String, VecDeque<String>>,
    /// BuildKit: the vertex that failed.
    failed_vertex: Option<String>,
    /// The image ID announced by the daemon, if any.
    pub image_id: Option<String>,
    /// Output not yet ended by a newline: by BuildKit vertex digest, the classic builder's under "".
    partial: HashMap<String, String>,
    announced: HashSet<String>,
    finished: HashSet<String>,
}

fn keep(q: &mut VecDeque<String>, line: String) {
    if q.len() == KEEP {
        q.pop_front();
    }
    q.push_back(line);
}

impl Tracker {
    /// Takes one item of the stream and returns the log lines to print.
    pub fn item(&mut self, info: &BuildInfo) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(s) = &info.stream {
            // The daemon cuts a command's output where the command's writes end, not at lines: a line
            // (and a secret in it, which redaction must see whole) may come in several items.
            let buf = self.partial.entry(String::new()).or_default();
            buf.push_str(s);
            let complete = match buf.rfind('\n') {
                Some(i) => buf.drain(..=i).collect::<String>(),
                None => String::new(),
            };
            for line in complete.lines() {
                self.classic_line(line, &mut lines);
            }
        }
        if let Some(s) = &info.status {
            let id = info
                .id
                .as_deref()
                .map(|i| format!("{i}: "))
                .unwrap_or_default();
            if info.progress_detail.is_none() {
                lines.push(format!("{id}{s}"));
            }
        }
        match &info.aux {
            Some(BuildInfoAux::Default(img)) => {
                if let Some(id) = &img.id {
                    self.image_id = Some(id.clone());
                }
            }
            Some(BuildInfoAux::BuildKit(st)) => lines.extend(self.buildkit(st)),
            None => {}
        }
        lines
    }

    /// One whole line of the classic builder's output.
    fn classic_line(&mut self, line: &str, lines: &mut Vec<String>) {
        let line = line.trim_end().to_string();
        if line.is_empty() {
            return;
        }
        if line.starts_with("Step ") && line.contains(" : ") {
            self.step = Some(line.clone());
            self.output.clear();
        } else if !line.starts_with(" ---> ")
            && !line.starts_with("Removing intermediate container")
        {
            keep(&mut self.output, line.clone());
        }
        lines.push(line);
    }

    /// At the end of the stream: the output's last lines that did not end with a newline.
    pub fn finish(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest: Vec<(String, String)> = self.partial.drain().collect();
        rest.sort();
        for (vertex, text) in rest {
            if text.trim().is_empty() {
                continue;
            }
            if vertex.is_empty() {
                self.classic_line(&text, &mut lines);
            } else {
                let num = self.vertices.get(&vertex).map(|v| v.0).unwrap_or(0);
                let line = text.trim_end().to_string();
                keep(self.vertex_logs.entry(vertex).or_default(), line.clone());
                lines.push(format!("#{num} {line}"));
            }
        }
        lines
    }

    fn buildkit(&mut self, st: &StatusResponse) -> Vec<String> {
        let mut lines = Vec::new();
        for v in &st.vertexes {
            let n = self.vertices.len() + 1;
            let (num, name) = self
                .vertices
                .entry(v.digest.clone())
                .or_insert_with(|| (n, v.name.clone()))
                .clone();
            if (v.started.is_some() || v.cached) && self.announced.insert(v.digest.clone()) {
                lines.push(format!("#{num} {name}"));
            }
            if !v.error.is_empty() {
                lines.push(format!("#{num} ERROR: {}", v.error));
                if self.failed_vertex.is_none() {
                    self.failed_vertex = Some(v.digest.clone());
                    self.step = Some(name.clone());
                }
            } else if v.completed.is_some() && self.finished.insert(v.digest.clone()) {
                if v.cached {
                    lines.push(format!("#{num} CACHED"));
                } else if let (Some(s), Some(c)) = (&v.started, &v.completed) {
                    let secs = (c.seconds - s.seconds) as f64 + (c.nanos - s.nanos) as f64 / 1e9;
                    lines.push(format!("#{num} DONE {secs:.1}s"));
                } else {
                    lines.push(format!("#{num} DONE"));
                }
            }
        }
        for log in &st.logs {
            let num = self.vertices.get(&log.vertex).map(|v| v.0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log.msg);
            let buf = self.partial.entry(log.vertex.clone()).or_default();
            buf.push_str(&text);
            while let Some(i) = buf.find('\n') {
                let line: String = buf[..i].trim_end_matches('\r').to_string();
                buf.replace_range(..=i, "");
                keep(
                    self.vertex_logs.entry(log.vertex.clone()).or_default(),
                    line.clone(),
                );
                lines.push(format!("#{num} {line}"));
            }
        }
        for w in &st.warnings {
            lines.push(format!("WARNING: {}", String::from_utf8_lossy(&w.short)));
        }
        lines
    }

    /// The failing instruction and its last lines of output, for the error message.
    pub fn failure(&self, error: &str) -> String {
        let mut out = String::new();
        let step = self
            .step
            .clone()
            .unwrap_or_else(|| "(before the first instruction)".into());
        out.push_str(&format!("the build failed at {step}: {}", error.trim()));
        let output: Vec<String> = match &self.failed_vertex {
            Some(d) => self
                .vertex_logs
                .get(d)
                .map(|q| q.iter().cloned().collect())
                .unwrap_or_default(),
            None => self.output.iter().cloned().collect(),
        };
        if !output.is_empty() {
            out.push_str("\n  its output (last lines):");
            for l in output {
                out.push_str("\n    | ");
                out.push_str(&l);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> BuildInfo {
        BuildInfo {
            stream: Some(s.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_classic_line_cut_across_items_is_shown_whole() {
        let mut t = Tracker::default();
        assert_eq!(t.item(&text("Step 1/2 : RUN x\n")), ["Step 1/2 : RUN x"]);
        assert!(t.item(&text("token=ab")).is_empty());
        assert!(t.item(&text("cd")).is_empty());
        assert_eq!(t.item(&text("ef\nnext li")), ["token=abcdef"]);
        assert_eq!(t.finish(), ["next li"]);
        assert!(t.finish().is_empty());
    }

    #[test]
    fn classic_failure_names_the_step_and_its_output() {
        let mut t = Tracker::default();
        t.item(&text("Step 1/2 : FROM scratch\n"));
        t.item(&text(" ---> abc\n"));
        t.item(&text("Step 2/2 : RUN echo boom && false\n"));
        t.item(&text(" ---> Running in 123\n"));
        let lines = t.item(&text("boom\n"));
        assert_eq!(lines, ["boom"]);
        let f =
            t.failure("The command '/bin/sh -c echo boom && false' returned a non-zero code: 1");
        assert!(f.contains("Step 2/2 : RUN echo boom && false"), "{f}");
        assert!(f.contains("| boom"), "{f}");
    }

    #[test]
    fn buildkit_failure_names_the_vertex() {
        use bollard::moby::buildkit::v1::{Vertex, VertexLog};
        let mut t = Tracker::default();
        let st = StatusResponse {
            vertexes: vec![Vertex {
                digest: "sha256:1".into(),
                name: "[2/2] RUN exit 3".into(),
                started: Some(Default::default()),
                ..Default::default()
            }],
            logs: vec![VertexLog {
                vertex: "sha256:1".into(),
                msg: b"oops\npartial".to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let lines = t.buildkit(&st);
        assert_eq!(lines, ["#1 [2/2] RUN exit 3", "#1 oops"]);
        let err = StatusResponse {
            vertexes: vec![Vertex {
                digest: "sha256:1".into(),
                name: "[2/2] RUN exit 3".into(),
                error: "exit code: 3".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        t.buildkit(&err);
        let f = t.failure("executor failed running [/bin/sh -c exit 3]: exit code: 3");
        assert!(
            f.contains("[2/2] RUN exit 3") && f.contains("| oops"),
            "{f}"
        );
    }
}
