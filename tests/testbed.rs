//! The test bed itself works: the daemon answers, the base image runs, the registry demands credentials.

mod common;

use common::*;

#[test]
fn busybox_base_image_runs_without_pulling() {
    let img = busybox_image();
    let out = docker(&["run", "--rm", img, "sh", "-c", "echo hello-from-busybox"]);
    assert_eq!(out, "hello-from-busybox");
}

#[test]
fn registry_requires_auth() {
    let reg = Registry::start();
    // Unauthenticated: 401 from the v2 endpoint.
    let mut s = std::net::TcpStream::connect(&reg.host).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        reg.host
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
}

#[test]
fn cli_context_prints_redacted_json() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = stevedore(
        dir.path(),
        &["context", "--json"],
        &[
            ("CI", "true"),
            ("CI_REGISTRY_PASSWORD", "do-not-print-me-123"),
            ("CI_COMMIT_TAG", "v1.0.0"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("do-not-print-me-123") && !err.contains("do-not-print-me-123"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["commit_tag"], "v1.0.0");
    assert_eq!(v["ci"], true);
}

#[test]
fn cli_bad_config_is_exit_2_naming_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stevedore.toml"), "[scan]\n[nope]\n").unwrap();
    let (code, _out, err) = stevedore(
        dir.path(),
        &["context"],
        &[
            ("CI", "true"),
            ("CI_PROJECT_DIR", dir.path().to_str().unwrap()),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stevedore.toml:2"), "{err}");
}
