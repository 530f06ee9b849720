//! `stevedore deploy` against a local HTTP server on 127.0.0.1 playing a hosting provider's API (basic auth
//! with a token key and value, JSON). The server checks every request against the contract — method, path,
//! auth header, content type, JSON body — and plays a client per scenario: accepts at once, rolls out
//! slowly, rolls out the wrong image, answers 500, never answers.

mod common;

use common::{sh, stevedore};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "mk-key-id-4711";
const SECRET: &str = "mk-secret-value-0f9e8d7c6b5a";
const OLD: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
const NEW: &str = "sha256:abababababababababababababababababababababababababababababababab";
const OTHER: &str = "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
const REPO: &str = "registry.example.com/acme/app";

#[derive(Default)]
struct State {
    /// Image each client currently runs.
    current: HashMap<String, String>,
    /// For "slow": status polls left before the new image shows.
    slow_left: HashMap<String, u32>,
    /// Every request seen: (method, path).
    seen: Vec<(String, String)>,
    /// Contract violations.
    violations: Vec<String>,
}

struct Provider {
    port: u16,
    state: Arc<Mutex<State>>,
}

fn read_request(s: &mut TcpStream) -> Option<(String, String, HashMap<String, String>, String)> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((
        method,
        path,
        headers,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

fn respond(s: &mut TcpStream, code: u16, body: &str) {
    let reason = match code {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let _ = write!(
        s,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn basic() -> String {
    let b64 = sh(
        "sh",
        &["-c", &format!("printf %s '{KEY}:{SECRET}' | base64 -w0")],
    );
    format!("Basic {b64}")
}

impl Provider {
    fn start() -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let auth = basic();
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { continue };
                let st = st.clone();
                let auth = auth.clone();
                std::thread::spawn(move || handle(&mut s, &st, &auth));
            }
        });
        Provider { port, state }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn handle(s: &mut TcpStream, st: &Mutex<State>, auth: &str) {
    let Some((method, path, headers, body)) = read_request(s) else {
        return;
    };
    if let Some(c) = path
        .strip_prefix("/clients/")
        .and_then(|r| r.strip_suffix("/version"))
    {
        // A client's own public version URL: no credentials may be sent there.
        let mut g = st.lock().unwrap();
        g.seen.push((method.clone(), path.clone()));
        if headers.contains_key("authorization") {
            g.violations
                .push(format!("{method} {path}: credentials sent to a client URL"));
        }
        let deployed = g.current.contains_key(c);
        drop(g);
        let v = if deployed { "v1.6.0" } else { "v1.5.0" };
        return respond(s, 200, &format!(r#"{{"version":"{v}","db":"ok"}}"#));
    }
    let client = path.strip_prefix("/v1/services/").unwrap_or("").to_string();
    {
        let mut g = st.lock().unwrap();
        g.seen.push((method.clone(), path.clone()));
        if headers.get("authorization").map(String::as_str) != Some(auth) {
            g.violations
                .push(format!("{method} {path}: wrong or missing Authorization"));
            drop(g);
            return respond(s, 401, r#"{"error":"unauthorized"}"#);
        }
        if client.is_empty() || client.contains('/') {
            g.violations.push(format!("{method} {path}: unknown path"));
            drop(g);
            return respond(s, 404, r#"{"error":"no such service"}"#);
        }
    }
    match method.as_str() {
        "PUT" => {
            let mut g = st.lock().unwrap();
            if headers.get("content-type").map(String::as_str) != Some("application/json") {
                g.violations
                    .push(format!("PUT {path}: content-type is not application/json"));
            }
            if headers.get("x-team").map(String::as_str) != Some(&format!("ops-{client}")) {
                g.violations
                    .push(format!("PUT {path}: X-Team header missing"));
            }
            let j: serde_json::Value = match serde_json::from_str(&body) {
                Ok(j) => j,
                Err(e) => {
                    g.violations
                        .push(format!("PUT {path}: body is not JSON: {e}"));
                    drop(g);
                    return respond(s, 400, r#"{"error":"json"}"#);
                }
            };
            let want = serde_json::json!({
                "service": client,
                "image": format!("{REPO}@{NEW}"),
                "labels": {"version": "1.6.0", "digest": NEW},
                "replicas": 1,
            });
            if j != want {
                g.violations.push(format!("PUT {path}: body {j} != {want}"));
                drop(g);
                return respond(s, 400, r#"{"error":"bad body"}"#);
            }
            match client.as_str() {
                "broken" => {
                    drop(g);
                    respond(s, 500, r#"{"error":"internal error, cluster unavailable"}"#)
                }
                "silent" => {
                    drop(g);
                    std::thread::sleep(Duration::from_secs(20));
                }
                "echo" => {
                    // A gateway that echoes the request headers in its error body.
                    drop(g);
                    let echoed: Vec<String> =
                        headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    respond(
                        s,
                        502,
                        &format!("bad gateway; request was: {}", echoed.join("\r\n")),
                    )
                }
                "wrong" => {
                    g.current.insert(client, format!("{REPO}@{OTHER}"));
                    drop(g);
                    respond(s, 202, r#"{"status":"updating"}"#)
                }
                "slow" => {
                    g.slow_left.insert(client, 3);
                    drop(g);
                    respond(s, 202, r#"{"status":"updating"}"#)
                }
                _ => {
                    g.current.insert(client, format!("{REPO}@{NEW}"));
                    drop(g);
                    respond(s, 202, r#"{"status":"updating"}"#)
                }
            }
        }
        "GET" => {
            let mut g = st.lock().unwrap();
            if let Some(left) = g.slow_left.get_mut(&client) {
                if *left == 0 {
                    g.slow_left.remove(&client);
                    g.current.insert(client.clone(), format!("{REPO}@{NEW}"));
                } else {
                    *left -= 1;
                }
            }
            let image = g
                .current
                .get(&client)
                .cloned()
                .unwrap_or_else(|| format!("{REPO}@{OLD}"));
            drop(g);
            let body = serde_json::json!({"service": {"name": client, "image": image, "state": "Running"}});
            respond(s, 200, &body.to_string())
        }
        _ => {
            st.lock()
                .unwrap()
                .violations
                .push(format!("{method} {path}: method not allowed"));
            respond(s, 400, r#"{"error":"method"}"#)
        }
    }
}

fn target(name: &str, env: &str, base: &str) -> String {
    format!(
        r#"
[[deploy.targets]]
name = "{name}"
environment = "{env}"
provider = "http"
url = "{base}/v1/services/{{client}}"
headers = {{ "X-Team" = "ops-{{client}}" }}
auth = "basic"
user_env = "MEDSTACK_KEY"
password_env = "MEDSTACK_CREDENTIAL"
body = {{ service = "{{client}}", image = "{{image}}", labels = {{ version = "{{version}}", digest = "{{digest}}" }}, replicas = 1 }}
[deploy.targets.verify]
pointer = "/service/image"
health_pointer = "/service/state"
"#
    )
}

fn project(targets: &[(&str, &str)], base: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = String::from(
        "[deploy]\npoll_interval = \"200ms\"\nrequest_timeout = \"1s\"\nverify_timeout = \"3s\"\n",
    );
    for (n, e) in targets {
        cfg.push_str(&target(n, e, base));
    }
    std::fs::write(dir.path().join("stevedore.toml"), cfg).unwrap();
    dir
}

fn deploy(dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> (i32, String, String) {
    let image = format!("{REPO}@{NEW}");
    let mut env = vec![
        ("IMAGE_DIGEST", image.as_str()),
        ("VERSION", "1.6.0"),
        ("MEDSTACK_KEY", KEY),
        ("MEDSTACK_CREDENTIAL", SECRET),
    ];
    env.extend_from_slice(extra);
    let mut a = vec!["deploy"];
    a.extend_from_slice(args);
    stevedore(dir, &a, &env)
}

/// The variables of a CI job for `tag` in the project `dir`, on a protected ref or not.
fn ci_job<'a>(dir: &'a Path, tag: &'a str, protected: bool) -> [(&'a str, &'a str); 4] {
    [
        ("CI", "true"),
        ("CI_PROJECT_DIR", dir.to_str().unwrap()),
        ("CI_COMMIT_TAG", tag),
        (
            "CI_COMMIT_REF_PROTECTED",
            if protected { "true" } else { "false" },
        ),
    ]
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(dir.join(stevedore::deploy::report::FILE)).unwrap(),
    )
    .unwrap()
}

fn by_name<'a>(r: &'a serde_json::Value, n: &str) -> &'a serde_json::Value {
    r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == n)
        .unwrap_or_else(|| panic!("no {n} in {r}"))
}

#[test]
fn every_scenario_ends_as_the_provider_says() {
    let p = Provider::start();
    let names = ["acme", "slow", "wrong", "broken", "silent"];
    let targets: Vec<(&str, &str)> = names.iter().map(|n| (*n, "production")).collect();
    let dir = project(&targets, &p.url());
    let (code, out, err) = deploy(
        dir.path(),
        &[
            "--environment",
            "production",
            "--force",
            "--json",
            "--verify-timeout",
            "2s",
        ],
        &[],
    );
    eprintln!("{err}");
    assert_eq!(code, 1, "a failed target fails the job: {err}");
    let all = format!(
        "{out}{err}{}",
        std::fs::read_to_string(dir.path().join(stevedore::deploy::report::FILE)).unwrap()
    );
    assert!(
        !all.contains(SECRET) && !all.contains(KEY),
        "credentials leaked: {all}"
    );
    let r = report(dir.path());
    assert_eq!(r["environment"], "production");
    assert_eq!(r["digest"], NEW);
    let expect_new = format!("{REPO}@{NEW}");
    let t = by_name(&r, "acme");
    assert_eq!(t["status"], "ok", "{t}");
    assert_eq!(t["observed"], expect_new.as_str());
    let t = by_name(&r, "slow");
    assert_eq!(
        t["status"], "ok",
        "slow rollout is ok within the timeout: {t}"
    );
    assert!(
        t["duration_ms"].as_u64().unwrap() >= 600,
        "three polls of 200ms: {t}"
    );
    let t = by_name(&r, "wrong");
    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["expected"], NEW);
    assert_eq!(t["observed"], format!("{REPO}@{OTHER}").as_str());
    assert!(t["error"].as_str().unwrap().contains("expected"), "{t}");
    let ms = t["duration_ms"].as_u64().unwrap();
    assert!(
        (1500..2900).contains(&ms),
        "--verify-timeout 2s overrides the file's 3s: {ms}ms"
    );
    let t = by_name(&r, "broken");
    assert_eq!(t["status"], "failed", "{t}");
    assert!(t["error"].as_str().unwrap().contains("500"), "{t}");
    assert!(
        t["error"].as_str().unwrap().contains("cluster unavailable"),
        "{t}"
    );
    let t = by_name(&r, "silent");
    assert_eq!(t["status"], "timeout", "{t}");
    assert!(t["error"].as_str().unwrap().contains("no answer"), "{t}");
    for n in names {
        let t = by_name(&r, n);
        assert!(
            t["duration_ms"].is_u64()
                && t["provider"] == "http"
                && t["environment"] == "production"
        );
        assert!(
            t["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/v1/services/{n}"))
        );
    }
    // The table and the run summary carry the same.
    assert!(err.contains("target") && err.contains("timeout"), "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["targets"].as_array().unwrap().len(), 5);
    let s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(stevedore::summary::FILE)).unwrap(),
    )
    .unwrap();
    let d = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["step"] == "deploy")
        .unwrap();
    assert_eq!(d["status"], "failed");
    assert_eq!(d["facts"]["targets"].as_array().unwrap().len(), 5);
    assert_eq!(d["facts"]["ok"], 2);
    let v = p.state.lock().unwrap().violations.clone();
    assert!(v.is_empty(), "contract violations: {v:?}");
}

#[test]
fn only_fail_fast_and_environment_from_the_release() {
    let p = Provider::start();
    let dir = project(
        &[
            ("acme", "production"),
            ("beta-acme", "staging"),
            ("broken", "staging"),
            ("zeta", "staging"),
        ],
        &p.url(),
    );
    // --only: one client, the others skipped.
    let (code, _, err) = deploy(
        dir.path(),
        &["--environment", "production", "--force", "--only", "acme"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = deploy(
        dir.path(),
        &["--environment", "staging", "--only", "beta-acme"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let r = report(dir.path());
    assert_eq!(by_name(&r, "beta-acme")["status"], "ok");
    assert_eq!(by_name(&r, "zeta")["status"], "skipped");
    assert_eq!(by_name(&r, "broken")["status"], "skipped");
    assert!(
        !p.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .any(|(_, path)| path.ends_with("/zeta"))
    );
    // --only with an unknown name is a usage error.
    let (code, _, err) = deploy(
        dir.path(),
        &["--environment", "staging", "--only", "nope"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("beta-acme"), "lists the targets: {err}");
    // Environment from release's dotenv (ENVIRONMENT), and --fail-fast one at a time: broken fails,
    // zeta is not started.
    let (code, _, err) = deploy(
        dir.path(),
        &["--fail-fast", "--parallel", "1"],
        &[("ENVIRONMENT", "staging")],
    );
    assert_eq!(code, 1, "{err}");
    let r = report(dir.path());
    assert_eq!(r["environment"], "staging");
    assert_eq!(by_name(&r, "beta-acme")["status"], "ok");
    assert_eq!(by_name(&r, "broken")["status"], "failed");
    assert_eq!(by_name(&r, "zeta")["status"], "skipped");
    assert!(
        by_name(&r, "zeta")["error"]
            .as_str()
            .unwrap()
            .contains("fail-fast")
    );
    // Environment computed from the tag, as release does.
    let (code, _, err) = deploy(
        dir.path(),
        &["--only", "acme"],
        &ci_job(dir.path(), "v1.6.0", true),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(report(dir.path())["environment"], "production");
    // The same tag unprotected: deploy itself refuses production (exit 3), sends nothing, and says why —
    // the tag printed escaped.
    let sent = p.state.lock().unwrap().seen.len();
    let (code, _, err) = deploy(
        dir.path(),
        &["--only", "acme", "--environment", "production"],
        &ci_job(dir.path(), "v1.6.0", false),
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("deploy refused") && err.contains("not protected"),
        "{err}"
    );
    assert_eq!(
        p.state.lock().unwrap().seen.len(),
        sent,
        "a refused deploy sends nothing"
    );
    let (code, _, err) = deploy(
        dir.path(),
        &["--only", "acme", "--environment", "production", "--force"],
        &ci_job(dir.path(), "v1.6.0\nINFO all good", true),
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("v1.6.0\\nINFO all good") && !err.contains("\nINFO all good"),
        "{err}"
    );
    assert!(err.contains("--force applies only outside CI"), "{err}");
    // Outside CI production needs --force, and says what it could not check.
    let (code, _, err) = deploy(
        dir.path(),
        &["--only", "acme", "--environment", "production"],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("pass --force"), "{err}");
    let (code, _, err) = deploy(
        dir.path(),
        &["--only", "acme", "--environment", "production", "--force"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: deploying to production from outside CI (--force)"),
        "{err}"
    );
    let v = p.state.lock().unwrap().violations.clone();
    assert!(v.is_empty(), "contract violations: {v:?}");
}

#[test]
fn dry_run_prints_requests_redacted_and_sends_nothing() {
    let p = Provider::start();
    let dir = project(&[("acme", "production")], &p.url());
    let (code, out, err) = stevedore(
        dir.path(),
        &[
            "--dry-run",
            "deploy",
            "--environment",
            "production",
            "--force",
            "--at",
            "03:00",
        ],
        &[
            ("IMAGE_DIGEST", &format!("{REPO}@{NEW}")),
            ("VERSION", "1.6.0"),
            ("MEDSTACK_KEY", KEY),
            ("MEDSTACK_CREDENTIAL", SECRET),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let all = format!("{out}{err}");
    assert!(!all.contains(SECRET) && !all.contains(KEY), "{all}");
    assert!(
        err.contains(&format!("PUT {}/v1/services/acme", p.url())),
        "{err}"
    );
    assert!(err.contains("Authorization: Basic [redacted]"), "{err}");
    assert!(err.contains("X-Team: ops-acme"), "{err}");
    assert!(
        err.contains(&format!("\"image\":\"{REPO}@{NEW}\"")),
        "{err}"
    );
    assert!(err.contains("then GET"), "{err}");
    assert!(
        err.contains("would wait") || err.contains("open now"),
        "says what it waits for: {err}"
    );
    assert!(
        p.state.lock().unwrap().seen.is_empty(),
        "a dry run sends nothing"
    );
    let (code, _, err) = stevedore(
        dir.path(),
        &[
            "--dry-run",
            "deploy",
            "--environment",
            "production",
            "--force",
            "--at",
            "25:00",
        ],
        &[("IMAGE_DIGEST", &format!("{REPO}@{NEW}"))],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("HH:MM"), "{err}");
}

#[test]
fn refuses_mutable_tags_and_missing_credentials() {
    let p = Provider::start();
    let dir = project(&[("acme", "production")], &p.url());
    let (code, _, err) = deploy(
        dir.path(),
        &["--environment", "production", "--force"],
        &[("IMAGE_DIGEST", "registry.example.com/acme/app:1.6.0")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("mutable tag"), "{err}");
    let (code, _, err) = stevedore(
        dir.path(),
        &["deploy", "--environment", "production", "--force"],
        &[
            ("IMAGE_DIGEST", &format!("{REPO}@{NEW}")),
            ("VERSION", "1.6.0"),
            ("MEDSTACK_KEY", KEY),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("MEDSTACK_CREDENTIAL is not set"), "{err}");
    // A dry run checks every credential variable the real run reads, and fails the same way.
    let (code, _, err) = stevedore(
        dir.path(),
        &[
            "--dry-run",
            "deploy",
            "--environment",
            "production",
            "--force",
        ],
        &[
            ("IMAGE_DIGEST", &format!("{REPO}@{NEW}")),
            ("VERSION", "1.6.0"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("MEDSTACK_KEY is not set") && err.contains("MEDSTACK_CREDENTIAL is not set"),
        "names every unset variable: {err}"
    );
    // The body sends {version}: with no version known that is an error, never "" in a request.
    let (code, _, err) = stevedore(
        dir.path(),
        &["deploy", "--environment", "production", "--force"],
        &[
            ("IMAGE_DIGEST", &format!("{REPO}@{NEW}")),
            ("MEDSTACK_KEY", KEY),
            ("MEDSTACK_CREDENTIAL", SECRET),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("uses the release version") && err.contains("--release-version"),
        "{err}"
    );
    assert!(p.state.lock().unwrap().seen.is_empty(), "nothing sent");
    // A provider that cannot be reached at all is an outside failure (exit 4).
    let closed = common::free_port();
    let dir = project(
        &[("acme", "production")],
        &format!("http://127.0.0.1:{closed}"),
    );
    let (code, _, err) = deploy(dir.path(), &["--environment", "production", "--force"], &[]);
    assert_eq!(code, 4, "{err}");
}

#[test]
fn verifies_the_version_on_the_clients_own_url() {
    let p = Provider::start();
    let dir = tempfile::tempdir().unwrap();
    let base = p.url();
    let t = target("acme", "production", &base).replace(
        "pointer = \"/service/image\"\nhealth_pointer = \"/service/state\"\n",
        &format!(
            r#"url = "{base}/clients/{{client}}/version"
auth = false
expect = "version"
pointer = "/version"
health_contains = '"db":"ok"'
"#
        ),
    );
    let cfg = format!("[deploy]\npoll_interval = \"200ms\"\nrequest_timeout = \"1s\"\n{t}");
    std::fs::write(dir.path().join("stevedore.toml"), cfg).unwrap();
    let (code, _, err) = deploy(dir.path(), &["--environment", "production", "--force"], &[]);
    assert_eq!(code, 0, "{err}");
    let r = report(dir.path());
    let t = by_name(&r, "acme");
    assert_eq!(t["expected"], "1.6.0");
    assert_eq!(t["observed"], "v1.6.0");
    let g = p.state.lock().unwrap();
    assert!(
        g.violations.is_empty(),
        "contract violations: {:?}",
        g.violations
    );
    assert!(
        g.seen
            .iter()
            .any(|(m, path)| m == "GET" && path == "/clients/acme/version")
    );
}

#[test]
fn waits_for_the_deploy_window() {
    let p = Provider::start();
    let dir = project(&[("acme", "production")], &p.url());
    let cfg = std::fs::read_to_string(dir.path().join("stevedore.toml")).unwrap();
    std::fs::write(
        dir.path().join("stevedore.toml"),
        cfg.replacen(
            "[deploy]\n",
            "[deploy]\nwindow = \"22:00-02:00\"\nutc_offset = \"+01:00\"\n",
            1,
        ),
    )
    .unwrap();
    // 20:59:58 UTC is 21:59:58 at +01:00: two seconds before the window opens.
    let start = std::time::Instant::now();
    let (code, _, err) = deploy(
        dir.path(),
        &["--environment", "production", "--force"],
        &[("STEVEDORE_NOW", "2026-03-01T20:59:58Z")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "waiting 2.0s for the deploy window 22:00-02:00 UTC+01:00 (until 2026-03-01 22:00)"
        ),
        "{err}"
    );
    assert!(start.elapsed() >= Duration::from_millis(1900), "it waited");
    assert_eq!(by_name(&report(dir.path()), "acme")["status"], "ok");
    // Inside the window it goes at once; --at overrides the window (a dry run only says so).
    let (code, _, err) = deploy(
        dir.path(),
        &["--environment", "production", "--force"],
        &[("STEVEDORE_NOW", "2026-03-01T23:30:00Z")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("open now (00:30)"), "{err}");
    let (code, _, err) = stevedore(
        dir.path(),
        &[
            "--dry-run",
            "deploy",
            "--environment",
            "production",
            "--force",
            "--at",
            "06:15",
        ],
        &[
            ("IMAGE_DIGEST", &format!("{REPO}@{NEW}")),
            ("STEVEDORE_NOW", "2026-03-01T23:30:00Z"),
            ("VERSION", "1.6.0"),
            ("MEDSTACK_KEY", KEY),
            ("MEDSTACK_CREDENTIAL", SECRET),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("would wait 5h45m for --at 06:15 UTC+01:00 (until 2026-03-02 06:15)"),
        "{err}"
    );
}

/// Runs `stevedore deploy` as a child, sends it `sig` once `ready` says so, and returns (code, stderr).
fn interrupted(
    dir: &Path,
    args: &[&str],
    sig: &str,
    ready: impl Fn() -> bool,
) -> (Option<i32>, String, Duration) {
    let mut cmd = std::process::Command::new(common::stevedore_bin());
    cmd.arg("deploy").args(args).current_dir(dir);
    for (k, _) in std::env::vars().filter(|(k, _)| k == "CI" || k.starts_with("CI_")) {
        cmd.env_remove(k);
    }
    let child = cmd
        .env("IMAGE_DIGEST", format!("{REPO}@{NEW}"))
        .env("VERSION", "1.6.0")
        .env("MEDSTACK_KEY", KEY)
        .env("MEDSTACK_CREDENTIAL", SECRET)
        .env("STEVEDORE_NOW", "2026-03-01T12:00:00Z")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(20), "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let signalled = std::time::Instant::now();
    sh("kill", &[sig, &child.id().to_string()]);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        signalled.elapsed(),
    )
}

#[test]
fn a_signal_ends_every_wait_promptly_and_the_report_says_how_targets_were_left() {
    let p = Provider::start();
    let dir = project(&[("acme", "staging"), ("wrong", "staging")], &p.url());
    // SIGTERM while waiting for the deploy window: nothing deployed, exit 143 at once.
    let (code, err, took) = interrupted(
        dir.path(),
        &["--environment", "staging", "--at", "03:00"],
        "-TERM",
        || true,
    );
    assert_eq!(code, Some(143), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {err}");
    assert!(err.contains("nothing was deployed"), "{err}");
    let r = report(dir.path());
    for n in ["acme", "wrong"] {
        let t = by_name(&r, n);
        assert_eq!(t["status"], "skipped", "{t}");
        assert!(t["error"].as_str().unwrap().contains("SIGTERM"), "{t}");
    }
    assert!(p.state.lock().unwrap().seen.is_empty(), "nothing sent");
    // SIGINT while polling a rollout that never verifies: exit 130, the target says it was not verified.
    let st = p.state.clone();
    let (code, err, took) = interrupted(
        dir.path(),
        &[
            "--environment",
            "staging",
            "--only",
            "wrong",
            "--verify-timeout",
            "5m",
        ],
        "-INT",
        move || st.lock().unwrap().seen.iter().any(|(m, _)| m == "PUT"),
    );
    assert_eq!(code, Some(130), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {err}");
    let t = by_name(&report(dir.path()), "wrong").clone();
    assert_eq!(t["status"], "failed", "{t}");
    let e = t["error"].as_str().unwrap();
    assert!(
        e.contains("stopped by SIGINT") && e.contains("not verified"),
        "{e}"
    );
    assert!(err.contains("stopped by SIGINT (exit 130)"), "{err}");
}

#[test]
fn echoed_credentials_never_reach_the_log_the_report_or_the_summary() {
    use base64::Engine;
    let p = Provider::start();
    let dir = project(&[("echo", "staging")], &p.url());
    let (code, out, err) = deploy(dir.path(), &["--environment", "staging", "--json"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("502") && err.contains("bad gateway"),
        "quotes the body: {err}"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"));
    let mut all = format!("{out}{err}");
    for f in walk(dir.path()) {
        all.push_str(&std::fs::read_to_string(f).unwrap_or_default());
    }
    assert!(all.contains("[redacted]"), "{all}");
    for leak in [b64.as_str(), b64.trim_end_matches('='), KEY, SECRET] {
        assert!(!all.contains(leak), "{leak} leaked: {all}");
    }
    assert!(p.state.lock().unwrap().violations.is_empty());
}

/// Every file under `dir` (the report, the summary, wherever they are kept).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

/// `deploy --shard I/N` (issue 13): each target is deployed by exactly one of N shards, each shard writes
/// `.stevedore/deploy-report-I-of-N.json`, and `notify` in a later job gathers every shard into one
/// message — the failing shard's job link, every client, and a missing shard named, never a success.
#[test]
fn shards_deploy_each_target_once_and_notify_gathers_them() {
    let p = Provider::start();
    let mut names: Vec<String> = (1..=9).map(|i| format!("client-{i:02}")).collect();
    names.push("broken".into());
    let targets: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "staging")).collect();
    let dir = project(&targets, &p.url());
    let n = 4;
    let mut seen: Vec<String> = Vec::new();
    for i in 1..=n {
        let job = format!("https://gitlab.example.com/acme/app/-/jobs/{}", 200 + i);
        let (idx, tot) = (i.to_string(), n.to_string());
        let (code, out, err) = deploy(
            dir.path(),
            &["--environment", "staging"],
            &[
                ("CI_NODE_INDEX", &idx),
                ("CI_NODE_TOTAL", &tot),
                ("CI_JOB_URL", &job),
            ],
        );
        let rel = format!(".stevedore/deploy-report-{i}-of-{n}.json");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(&rel)).unwrap()).unwrap();
        assert_eq!(r["shard"], format!("{i}/{n}"));
        let mine: Vec<String> = r["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        // Sorted by name, every 4th: 10 targets make shards of 3, 3, 2, 2.
        assert_eq!(mine.len(), if i <= 2 { 3 } else { 2 }, "{mine:?}");
        let broken = mine.iter().any(|m| m == "broken");
        assert_eq!(code, if broken { 1 } else { 0 }, "shard {i}: {out}\n{err}");
        assert!(
            err.contains(&format!("shard {i}/{n}")) || out.contains(&format!("shard {i}/{n}")),
            "{out}{err}"
        );
        seen.extend(mine);
    }
    seen.sort();
    let mut all = names.clone();
    all.sort();
    assert_eq!(seen, all, "each target in exactly one shard");
    // The provider saw one deploy per target.
    let puts = p
        .state
        .lock()
        .unwrap()
        .seen
        .iter()
        .filter(|(m, _)| m == "PUT")
        .count();
    assert_eq!(puts, names.len());
    assert!(!dir.path().join(stevedore::deploy::report::FILE).exists());

    // One message for all shards: every client, failed, with the failing shard's job link.
    let (code, out, err) = stevedore(dir.path(), &["notify", "--status", "auto"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let text = format!("{out}\n{err}");
    for c in &names {
        assert!(
            text.contains(c.as_str()),
            "{c} missing from the message: {text}"
        );
    }
    let broken = (1..=n)
        .find(|i| {
            let rel = format!(".stevedore/deploy-report-{i}-of-{n}.json");
            std::fs::read_to_string(dir.path().join(rel))
                .unwrap()
                .contains("broken")
        })
        .unwrap();
    assert!(text.contains("failed"), "{text}");
    assert!(
        text.contains(&format!("/-/jobs/{}", 200 + broken)),
        "the failing shard's job link: {text}"
    );

    // The failing shard's job crashed and left nothing: every shard that reported passed, yet the
    // message names the missing shard and is not a success.
    for f in [
        format!(".stevedore/summary-deploy-{broken}-of-{n}.json"),
        format!(".stevedore/deploy-report-{broken}-of-{n}.json"),
    ] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    let (code, out, err) = stevedore(dir.path(), &["notify", "--status", "auto"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let text = format!("{out}\n{err}");
    assert!(
        text.contains(&format!("shard {broken}/{n} of {n} left no report")),
        "{text}"
    );
    assert!(text.contains("failed"), "{text}");
    println!("{text}");
}
