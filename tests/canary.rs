//! Secrets under failure (issue 15): canary values planted in every credential variable stevedore reads
//! — the registry password, the job token and the repository URL holding it, `DOCKER_AUTH_CONFIG`,
//! the Zulip API key, a hosting provider's token — then every command run with `-v` and forced to fail
//! against servers that echo each request's headers back in their error bodies. Every byte stevedore
//! wrote (stdout, stderr, reports, the summary, dotenv files, `.stevedore/`, the state directory) is
//! searched for each canary and its derived forms (URL-encoded, JSON-escaped, base64 of `user:password`
//! with and without padding).

mod common;

use base64::Engine as _;
use common::{read_http_request, require_docker, stevedore};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A server on 127.0.0.1 answering every request with `status` and a body echoing the whole request
/// (headers and body), the worst a gateway can do. Returns its port and a count of requests carrying
/// an `Authorization` header. With `challenge`, a request without credentials first gets a 401 Basic
/// challenge (as a registry answers `GET /v2/`), so the client sends them.
fn echo_server(status: &'static str, challenge: bool) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let authed = Arc::new(AtomicUsize::new(0));
    let seen = authed.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                while let Some((head, body)) = read_http_request(&mut s) {
                    if head.to_ascii_lowercase().contains("\nauthorization:") {
                        seen.fetch_add(1, Ordering::SeqCst);
                    } else if challenge {
                        let _ = write!(
                            s,
                            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"canary\"\r\nContent-Length: 0\r\n\r\n"
                        );
                        continue;
                    }
                    let echo = serde_json::json!({
                        "error": "upstream failed",
                        "msg": format!("request was: {head}{}", String::from_utf8_lossy(&body)),
                    })
                    .to_string();
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{echo}",
                        echo.len()
                    );
                }
            });
        }
    });
    (port, authed)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every form of a credential that must never appear: the value, URL-encoded, JSON-escaped, and with a
/// user the base64 of `user:value` (padded and not).
fn forms(user: Option<&str>, value: &str) -> Vec<String> {
    let mut v = vec![
        value.to_string(),
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    ];
    let json = serde_json::to_string(value).unwrap();
    v.push(json[1..json.len() - 1].to_string());
    if let Some(u) = user {
        let b = b64(&format!("{u}:{value}"));
        v.push(b.trim_end_matches('=').to_string());
        v.push(b);
    }
    v
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// One command: its arguments, its environment, the exit codes it may end with.
type Run<'a> = (&'a [&'a str], &'a Vec<(&'a str, String)>, &'a [i32]);

#[test]
fn no_canary_credential_survives_in_anything_stevedore_writes_while_failing() {
    require_docker();
    let pid = std::process::id();
    // Canaries, made at run time (a file of this repository holds none whole).
    let reg_pw = format!("canary{}registry-pw-{pid}-Zq", "-");
    let job_token = format!("canary{}job-token-{pid}-Wx", "-");
    let dac_pw = format!("canary{}dockerauth/pw+{pid}", "-");
    let zulip_key = format!("canary{}zulip-key-{pid}-Kp", "-");
    let provider_secret = format!("canary{}provider secret:{pid}&x", "-");
    let url_pw = format!("canary{}url-pw-{pid}", "-");

    let (registry_port, registry_authed) = echo_server("500 Internal Server Error", true);
    let (zulip_port, zulip_authed) = echo_server("500 Internal Server Error", false);
    let (provider_port, provider_authed) = echo_server("502 Bad Gateway", false);
    let registry = format!("127.0.0.1:{registry_port}");

    let project = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {}\nLABEL canary=1\n", common::busybox_image()),
    )
    .unwrap();
    // A finding for scan to fail on (built from pieces; not one of the canaries).
    std::fs::write(
        dir.join("app.env"),
        format!(
            "AWS_ACCESS_KEY_ID={}Z4QR7TXW2MLPKV3N\n",
            ["AK", "IA"].concat()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("stevedore.toml"),
        format!(
            r#"[build]
min_free = "0"

[deploy]
poll_interval = "200ms"
request_timeout = "1s"
verify_timeout = "2s"

[[deploy.targets]]
name = "acme"
environment = "production"
provider = "http"
url = "http://127.0.0.1:{provider_port}/v1/services/{{client}}"
auth = "basic"
user_env = "PROVIDER_KEY"
password_env = "PROVIDER_SECRET"
body = {{ service = "{{client}}", image = "{{image}}" }}
[deploy.targets.verify]
pointer = "/service/image"
"#
        ),
    )
    .unwrap();

    let docker_auth = serde_json::json!({"auths": {registry.clone(): {"auth": b64(&format!("dac-user:{dac_pw}"))}}}).to_string();
    let repo_url = format!("https://gitlab-ci-token:{job_token}@gitlab.example.com/acme/app.git");
    let zulip_site = format!("http://127.0.0.1:{zulip_port}");
    let server_url = format!("https://ops:{url_pw}@gitlab.example.com");
    let image = format!("{registry}/canary/app-{pid}");
    let digest = format!("{image}@sha256:{}", "ab".repeat(32));
    let base: Vec<(&str, &str)> = vec![
        ("CI_PROJECT_DIR", dir.to_str().unwrap()),
        ("CI_JOB_TOKEN", &job_token),
        ("CI_REPOSITORY_URL", &repo_url),
        ("CI_SERVER_URL", &server_url),
        ("ZULIP_SITE", &zulip_site),
        ("ZULIP_EMAIL", "bot@example.com"),
        ("ZULIP_API_KEY", &zulip_key),
        ("ZULIP_STREAM", "deploys"),
        ("STEVEDORE_NOTIFY_TIMEOUT", "2s"),
        ("STEVEDORE_NOTIFY_RETRIES", "0"),
        ("PROVIDER_KEY", "provider-user"),
        ("PROVIDER_SECRET", &provider_secret),
        ("STEVEDORE_STATE_DIR", state.path().to_str().unwrap()),
        ("IMAGE_DIGEST", &digest),
        ("VERSION", "1.6.0"),
    ];
    let with = |extra: &[(&'static str, &str)]| -> Vec<(&str, String)> {
        base.iter()
            .chain(extra.iter())
            .map(|(k, v)| (*k, v.to_string()))
            .collect()
    };
    let registry_creds = with(&[
        ("CI_REGISTRY", &registry),
        ("CI_REGISTRY_USER", "canary-user"),
        ("CI_REGISTRY_PASSWORD", &reg_pw),
    ]);
    let docker_auth_only = with(&[("DOCKER_AUTH_CONFIG", &docker_auth)]);
    let bad_tag = with(&[
        ("CI_COMMIT_TAG", "v1.x-not-a-version"),
        ("CI_REGISTRY_PASSWORD", &reg_pw),
    ]);
    let push = [
        "-v",
        "build",
        "--push",
        "--image",
        &image,
        "--tag",
        "t",
        "--dotenv",
        ".stevedore/build.env",
        ".",
    ];
    let runs: Vec<Run> = vec![
        (&["-v", "context"], &registry_creds, &[0]),
        (&["-v", "context", "--json"], &docker_auth_only, &[0]),
        (&push, &registry_creds, &[4]),
        (&push, &docker_auth_only, &[4]),
        (&["-v", "scan", "."], &registry_creds, &[1]),
        (
            &["-v", "release", "--dotenv", ".stevedore/release.env"],
            &bad_tag,
            &[2, 3],
        ),
        (
            &["-v", "deploy", "--environment", "production", "--force"],
            &registry_creds,
            &[1, 4],
        ),
        (&["-v", "notify", "--strict"], &registry_creds, &[4]),
    ];
    let mut written = Vec::new();
    for (args, env, codes) in &runs {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, out, err) = stevedore(dir, args, &env);
        assert!(
            codes.contains(&code),
            "{args:?} exited {code}, expected one of {codes:?}\n{out}\n{err}"
        );
        if std::env::var_os("CANARY_SHOW").is_some() {
            eprintln!("== {args:?} exit {code}\n{out}\n{err}");
        }
        written.push((format!("stdout of {args:?}"), out.into_bytes()));
        written.push((format!("stderr of {args:?}"), err.into_bytes()));
    }
    // The credentials really were sent (so the echoes held them).
    assert!(
        registry_authed.load(Ordering::SeqCst) >= 2,
        "build did not send both registry credentials"
    );
    assert!(
        zulip_authed.load(Ordering::SeqCst) > 0,
        "notify never sent its credentials"
    );
    assert!(
        provider_authed.load(Ordering::SeqCst) > 0,
        "deploy never sent its credentials"
    );

    let mut files = Vec::new();
    walk(dir, &mut files);
    walk(state.path(), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains(".stevedore")),
        "no .stevedore output: {files:?}"
    );
    for f in files {
        written.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }

    let mut canaries = Vec::new();
    canaries.extend(forms(Some("canary-user"), &reg_pw));
    canaries.extend(forms(Some("gitlab-ci-token"), &job_token));
    canaries.extend(forms(Some("dac-user"), &dac_pw));
    canaries.extend(forms(Some("bot@example.com"), &zulip_key));
    canaries.extend(forms(Some("provider-user"), &provider_secret));
    canaries.extend(forms(Some("ops"), &url_pw));
    let mut leaks = Vec::new();
    for (what, bytes) in &written {
        for c in &canaries {
            if memchr::memmem::find(bytes, c.as_bytes()).is_some() {
                let text = String::from_utf8_lossy(bytes);
                let at = text.find(c.as_str()).unwrap_or(0);
                let from = text.floor_char_boundary(at.saturating_sub(80));
                leaks.push(format!(
                    "{c:?} in {what}: …{}…",
                    &text[from..text.ceil_char_boundary((at + c.len() + 40).min(text.len()))]
                ));
            }
        }
    }
    assert!(leaks.is_empty(), "canaries leaked:\n{}", leaks.join("\n"));
}
