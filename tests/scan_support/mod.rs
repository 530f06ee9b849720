//! Helpers shared by the scan integration tests: throwaway git repositories made with the git CLI,
//! and reading what a scan wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// AWS-access-key-shaped test secrets (`AKIA` + 16 of `[A-Z2-7]`), none of them a documented example.
pub const KEY_A: &str = "AKIAZ4QR7TXW2MLPKV3N"; // stevedore:allow (fixture)
/// A second one.
pub const KEY_B: &str = "AKIAJ6YH3BVC5NRQ2WXE"; // stevedore:allow (fixture)
/// A third one.
pub const KEY_C: &str = "AKIAT2GK7PZM4QXW6RDS"; // stevedore:allow (fixture)

/// A git repository in a temporary directory.
pub struct Repo {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// `git init` with a fixed identity and no signing.
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = Repo { dir };
        r.git(&["init", "-q", "-b", "main"]);
        r.git(&["config", "user.name", "Test Author"]);
        r.git(&["config", "user.email", "author@example.org"]);
        r.git(&["config", "commit.gpgsign", "false"]);
        r
    }

    /// The repository's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git in the repository and returns its trimmed stdout; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.path())
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes a file (parents created).
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Stages everything and commits as `author` (`Name <email>`); returns the commit SHA.
    pub fn commit(&self, msg: &str, author: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            msg,
            "--author",
            author,
        ]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Path of a file in the repository.
    pub fn file(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// Reads a JSON file in the repository.
    pub fn json(&self, rel: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}\n{text}"))
    }

    /// The scan step's facts from the run summary.
    pub fn facts(&self) -> serde_json::Value {
        let path = stevedore::summary::RunSummary::path(self.path());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let s: serde_json::Value = serde_json::from_str(&text).unwrap();
        s["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["step"] == "scan")
            .expect("scan recorded")["facts"]
            .clone()
    }
}

/// A Laravel `APP_KEY` (base64 of 32 random bytes), not a documented example.
pub const LARAVEL_KEY: &str = "base64:Yk9oM2ZqdVhZV0pKcG1YQ0xzbEZ5SHpQbTZ4d0VxTnI="; // stevedore:allow (fixture)

/// A Laravel `.env.production` holding [`LARAVEL_KEY`] on line 3.
pub fn laravel_env() -> String {
    format!("APP_NAME=Clinic\nAPP_ENV=production\nAPP_KEY={LARAVEL_KEY}\nAPP_DEBUG=false\n")
}

/// A python file holding `key` on line `line` (1-based), with ordinary code around it.
pub fn py_with_key(key: &str, line: usize) -> String {
    let mut s = String::new();
    for i in 1..line {
        s.push_str(&format!("# filler line {i}\n"));
    }
    s.push_str(&format!("AWS_ACCESS_KEY_ID = \"{key}\"\n"));
    s.push_str("def handler(event):\n    return event\n");
    s
}

/// The distinct `File` values of a json report.
pub fn files_of(report: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["File"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}
