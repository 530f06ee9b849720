//! A local Zulip on 127.0.0.1 for the notify tests: a small HTTP/1.1 server on a std `TcpListener` that
//! checks every `POST /api/v1/messages` against the send-message contract
//! (`/work/shared/specs/zulip-send-message.yaml`: method, path, basic auth, form encoding, known and
//! required fields, `type` enum, topic ≤ 60 characters, content ≤ 10,000 bytes) and answers as Zulip does,
//! following a script: success, 429 with `retry-after`, 400 `STREAM_DOES_NOT_EXIST`, 401 `INVALID_API_KEY`,
//! 500, or no answer at all. Anything under `/hooks/` is taken as a webhook and must be JSON.
//!
//! Every contract violation is recorded; tests assert there were none.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fields the contract knows for `POST /messages` (plus `subject`, the deprecated alias of `topic`).
const KNOWN_FIELDS: &[&str] = &[
    "type",
    "to",
    "content",
    "topic",
    "subject",
    "queue_id",
    "local_id",
    "read_by_sender",
];
/// The `type` enum.
const TYPES: &[&str] = &["direct", "channel", "stream", "private"];
/// Zulip's limits (max_topic_length, max_message_length).
pub const MAX_TOPIC_CHARS: usize = 60;
pub const MAX_CONTENT_BYTES: usize = 10_000;

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 `{"result":"success","msg":"","id":N}`.
    Success(u64),
    /// 429 `RATE_LIMIT_HIT` with `Retry-After` header and `retry-after` in the body (seconds).
    RateLimited(u64),
    /// 400 `STREAM_DOES_NOT_EXIST` naming the stream of the request.
    StreamMissing,
    /// 401 `INVALID_API_KEY`.
    InvalidKey,
    /// 500 with an HTML body, as a proxy in front of a failing server sends.
    ServerError,
    /// Reads the request and never answers.
    Hang,
    /// 301 to another address.
    Redirect(String),
    /// 502 from a misconfigured proxy that echoes the request's headers and some padding in its body
    /// (the `Authorization` header among them).
    EchoHeaders,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The decoded form fields (Zulip requests).
    pub form: Vec<(String, String)>,
    /// The decoded JSON (webhook requests).
    pub json: Option<serde_json::Value>,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// A form field's value.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Answer>,
    requests: Vec<Received>,
    violations: Vec<String>,
}

/// The running server; stops when dropped.
pub struct ZulipServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bot email it accepts.
    pub email: String,
    /// The API key it accepts.
    pub key: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl ZulipServer {
    /// Starts a server accepting `email`/`key`, answering with `script` in order and then with success.
    pub fn start(email: &str, key: &str, script: Vec<Answer>) -> ZulipServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ids = Arc::new(AtomicU64::new(100));
        let (st, sp, em, ky) = (
            state.clone(),
            stop.clone(),
            email.to_string(),
            key.to_string(),
        );
        std::thread::spawn(move || {
            while !sp.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (st, sp, em, ky, ids) =
                            (st.clone(), sp.clone(), em.clone(), ky.clone(), ids.clone());
                        std::thread::spawn(move || handle(conn, &st, &sp, &em, &ky, &ids));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ZulipServer {
            url,
            email: email.to_string(),
            key: key.to_string(),
            state,
            stop,
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The contract violations seen so far.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}

impl Drop for ZulipServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn handle(
    mut conn: TcpStream,
    state: &Mutex<State>,
    stop: &AtomicBool,
    email: &str,
    key: &str,
    ids: &AtomicU64,
) {
    conn.set_nonblocking(false).ok();
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    let mut violations = Vec::new();
    let (status, headers, body) = if req.path.starts_with("/hooks/") {
        check_webhook(&req, &mut violations)
    } else {
        let next = state.lock().unwrap().script.pop_front();
        match check_zulip(&req, email, key, &mut violations) {
            Some(refusal) => refusal,
            None => match next.unwrap_or(Answer::Success(ids.fetch_add(1, Ordering::SeqCst))) {
                Answer::Hang => {
                    record(state, req, violations);
                    let start = Instant::now();
                    while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60)
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    return;
                }
                a => zulip_answer(&a, &req),
            },
        }
    };
    record(state, req, violations);
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
    let _ = conn.flush();
}

fn record(state: &Mutex<State>, req: Received, violations: Vec<String>) {
    let mut s = state.lock().unwrap();
    s.violations.extend(violations);
    s.requests.push(req);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        _ => "Internal Server Error",
    }
}

type Reply = (u16, Vec<(String, String)>, String);

fn error(status: u16, code: &str, msg: &str) -> Reply {
    (
        status,
        Vec::new(),
        serde_json::json!({"result": "error", "msg": msg, "code": code}).to_string(),
    )
}

fn zulip_answer(a: &Answer, req: &Received) -> Reply {
    match a {
        Answer::Success(id) => (
            200,
            Vec::new(),
            serde_json::json!({"result": "success", "msg": "", "id": id}).to_string(),
        ),
        Answer::RateLimited(secs) => (
            429,
            vec![
                ("Retry-After".into(), secs.to_string()),
                ("X-RateLimit-Limit".into(), "200".into()),
                ("X-RateLimit-Remaining".into(), "0".into()),
            ],
            serde_json::json!({"result": "error", "msg": "API usage exceeded rate limit",
                               "code": "RATE_LIMIT_HIT", "retry-after": *secs as f64})
            .to_string(),
        ),
        Answer::StreamMissing => {
            let stream = req.field("to").unwrap_or("").to_string();
            (
                400,
                Vec::new(),
                serde_json::json!({"result": "error", "code": "STREAM_DOES_NOT_EXIST",
                                   "msg": format!("Channel '{stream}' does not exist"), "stream": stream})
                .to_string(),
            )
        }
        Answer::InvalidKey => invalid_key(),
        Answer::ServerError => (
            500,
            Vec::new(),
            "<html><body><h1>500 Internal Server Error</h1></body></html>".to_string(),
        ),
        Answer::Redirect(to) => (301, vec![("Location".into(), to.clone())], String::new()),
        Answer::EchoHeaders => {
            let mut body = String::from("<html><body><h1>502 Bad Gateway</h1><pre>");
            for (k, v) in &req.headers {
                body.push_str(&format!("{k}: {v}\n"));
            }
            body.push_str("</pre>");
            body.push_str(&"<!-- padding -->".repeat(200));
            body.push_str("</body></html>");
            (502, Vec::new(), body)
        }
        Answer::Hang => unreachable!(),
    }
}

fn invalid_key() -> Reply {
    let (s, mut h, b) = error(401, "INVALID_API_KEY", "Invalid API key");
    h.push(("WWW-Authenticate".into(), "Basic realm=\"zulip\"".into()));
    (s, h, b)
}

/// Checks a send-message request; returns the answer when the request is refused.
fn check_zulip(req: &Received, email: &str, key: &str, v: &mut Vec<String>) -> Option<Reply> {
    if req.method != "POST" {
        v.push(format!("method {} instead of POST", req.method));
        return Some(error(405, "BAD_REQUEST", "Method Not Allowed"));
    }
    if req.path != "/api/v1/messages" {
        v.push(format!("path {} instead of /api/v1/messages", req.path));
        return Some(error(404, "BAD_REQUEST", "Not Found"));
    }
    let ct = req.header("content-type").unwrap_or("");
    if !ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        v.push(format!(
            "content-type {ct:?} instead of application/x-www-form-urlencoded"
        ));
        return Some(error(400, "BAD_REQUEST", "Unsupported content type"));
    }
    // Basic auth with the bot's email and API key.
    let Some(auth) = req.header("authorization") else {
        v.push("no Authorization header (the contract requires HTTP basic auth)".into());
        return Some(error(
            401,
            "UNAUTHORIZED",
            "Missing 'Authorization' header.",
        ));
    };
    let Some(b64) = auth.strip_prefix("Basic ") else {
        v.push(format!(
            "Authorization is not Basic: {}",
            auth.split(' ').next().unwrap_or("")
        ));
        return Some(error(
            401,
            "UNAUTHORIZED",
            "This endpoint requires HTTP basic authentication.",
        ));
    };
    let Some(pair) = base64_decode(b64.trim()).and_then(|b| String::from_utf8(b).ok()) else {
        v.push("Authorization is not valid base64".into());
        return Some(error(
            401,
            "UNAUTHORIZED",
            "Invalid authorization header for basic auth",
        ));
    };
    let (user, pass) = pair.split_once(':').unwrap_or((&pair, ""));
    if user != email || pass != key {
        return Some(invalid_key());
    }
    // The form: known fields, no duplicates, required fields, enum, lengths.
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in &req.form {
        if !KNOWN_FIELDS.contains(&k.as_str()) {
            v.push(format!("unknown form field {k:?}"));
        }
        if seen.contains(&k.as_str()) {
            v.push(format!("form field {k:?} sent twice"));
        }
        seen.push(k);
    }
    for required in ["type", "to", "content"] {
        if req.field(required).is_none() {
            v.push(format!("required field {required} missing"));
            return Some((
                400,
                Vec::new(),
                serde_json::json!({"result": "error", "code": "REQUEST_VARIABLE_MISSING",
                                   "msg": format!("Missing '{required}' argument"), "var_name": required})
                .to_string(),
            ));
        }
    }
    let ty = req.field("type").unwrap();
    if !TYPES.contains(&ty) {
        v.push(format!("type {ty:?} not in {TYPES:?}"));
        return Some(error(400, "BAD_REQUEST", "Invalid message type"));
    }
    if ty == "stream" || ty == "channel" {
        match req.field("topic") {
            None => {
                v.push("a stream message without topic".into());
                return Some(error(400, "BAD_REQUEST", "Missing topic"));
            }
            Some(t) if t.chars().count() > MAX_TOPIC_CHARS => {
                v.push(format!(
                    "topic of {} characters (max {MAX_TOPIC_CHARS})",
                    t.chars().count()
                ));
                return Some(error(400, "BAD_REQUEST", "Topic too long"));
            }
            Some(t) if t.trim().is_empty() => {
                v.push("empty topic".into());
                return Some(error(400, "BAD_REQUEST", "Topic can't be empty!"));
            }
            _ => {}
        }
        if req.field("to").unwrap().trim().is_empty() {
            v.push("empty stream name in to".into());
            return Some(error(400, "BAD_REQUEST", "Invalid channel name"));
        }
    }
    let content = req.field("content").unwrap();
    if content.len() > MAX_CONTENT_BYTES {
        v.push(format!(
            "content of {} bytes (max {MAX_CONTENT_BYTES})",
            content.len()
        ));
        return Some(error(400, "BAD_REQUEST", "Message too long"));
    }
    if content.trim().is_empty() {
        v.push("empty content".into());
        return Some(error(400, "BAD_REQUEST", "Message must not be empty"));
    }
    None
}

fn check_webhook(req: &Received, v: &mut Vec<String>) -> Reply {
    if req.method != "POST" {
        v.push(format!("webhook: method {}", req.method));
    }
    let ct = req.header("content-type").unwrap_or("");
    if !ct.starts_with("application/json") {
        v.push(format!("webhook: content-type {ct:?}"));
    }
    match &req.json {
        Some(j) if j.get("text").and_then(|t| t.as_str()).is_some() => {
            (200, Vec::new(), "ok".to_string())
        }
        _ => {
            v.push("webhook: body is not JSON with a text string".into());
            (400, Vec::new(), "invalid_payload".to_string())
        }
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let is_form = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type") && v.starts_with("application/x-www-form-urlencoded")
    });
    let form = if is_form {
        form_decode(&body)
    } else {
        Vec::new()
    };
    let json = serde_json::from_slice(&body).ok();
    Some(Received {
        method,
        path,
        headers,
        body,
        form,
        json,
        at: Instant::now(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes `application/x-www-form-urlencoded`.
pub fn form_decode(body: &[u8]) -> Vec<(String, String)> {
    let s = String::from_utf8_lossy(body);
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes standard base64 (with padding).
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let s = s.trim_end_matches('=');
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
