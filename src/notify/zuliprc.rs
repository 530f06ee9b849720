//! Zulip credentials the way Zulip's own tools find them: `ZULIP_SITE`, `ZULIP_EMAIL` and `ZULIP_API_KEY`
//! first, each missing one taken from the zuliprc file named by `ZULIP_CONFIG` (INI, section `[api]`,
//! keys `key`, `email`, `site`). A site without a scheme gets `https://` (`http://` for `localhost`).
//!
//! Unlike Zulip's tools, `~/.zuliprc` is not read: a pipeline reproduced on a laptop must not post to the
//! team's stream because someone has a personal zuliprc.

use crate::redact;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What was found in the environment and the zuliprc, before deciding whether it is enough.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// `ZULIP_SITE` (or `--zulip-site`).
    pub site: Option<String>,
    /// `ZULIP_EMAIL` (or `--zulip-email`).
    pub email: Option<String>,
    /// `ZULIP_API_KEY` (environment only: a key on the command line would show in the process list).
    pub key: Option<String>,
    /// `ZULIP_CONFIG` (or `--zulip-config`): a zuliprc file.
    pub config_file: Option<PathBuf>,
}

/// Complete credentials for the Zulip API.
#[derive(Clone)]
pub struct Credentials {
    /// The server's base URL, scheme included, without a trailing `/` or `/api`.
    pub site: String,
    /// The bot's email (the basic-auth user).
    pub email: String,
    /// The bot's API key (the basic-auth password); registered with the redaction layer.
    pub key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("site", &self.site)
            .field("email", &self.email)
            .field("key", &redact::MASK)
            .finish()
    }
}

impl Credentials {
    /// The send-message endpoint.
    pub fn messages_url(&self) -> String {
        format!("{}/api/v1/messages", self.site)
    }
}

/// Whether Zulip is set up.
#[derive(Clone, Debug)]
pub enum Setup {
    /// Nothing about Zulip is set: the message goes to the log.
    NotConfigured,
    /// Something is set but not everything: the names of what is missing.
    Incomplete(Vec<&'static str>),
    /// Everything needed to send.
    Ready(Credentials),
}

/// One line telling how to configure Zulip.
pub const HINT: &str = "Zulip is not configured, so the message is only in this log: set ZULIP_SITE, ZULIP_EMAIL, \
ZULIP_API_KEY (masked CI/CD variables) and ZULIP_STREAM, or point ZULIP_CONFIG at the bot's zuliprc file.";

/// Parses INI text as Python's configparser reads a zuliprc: `[section]` headers, `key = value` or
/// `key: value`, `#` and `;` comment lines, keys case-insensitive, values trimmed, indented lines
/// continuing the previous value. Returns section → key → value.
pub fn parse_ini(text: &str) -> Result<HashMap<String, HashMap<String, String>>, String> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t'])
            && let (Some(s), Some(k)) = (&section, &last_key)
        {
            {
                let v = out
                    .entry(s.clone())
                    .or_default()
                    .entry(k.clone())
                    .or_default();
                if !v.is_empty() {
                    v.push('\n');
                }
                v.push_str(trimmed);
                continue;
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(format!("line {line_no}: a section header must end with ]"));
            };
            section = Some(name.trim().to_string());
            out.entry(name.trim().to_string()).or_default();
            last_key = None;
            continue;
        }
        let Some(s) = &section else {
            return Err(format!(
                "line {line_no}: a setting before any [section] header (a zuliprc starts with [api])"
            ));
        };
        let pos = trimmed
            .find(['=', ':'])
            .ok_or_else(|| format!("line {line_no}: expected key = value"))?;
        let key = trimmed[..pos].trim().to_lowercase();
        let value = trimmed[pos + 1..].trim().to_string();
        out.entry(s.clone()).or_default().insert(key.clone(), value);
        last_key = Some(key);
    }
    Ok(out)
}

/// Normalises a site as Zulip's tools do: scheme added when missing, trailing `/` and `/api` dropped.
pub fn normalize_site(site: &str) -> String {
    let s = site.trim();
    let mut s = if s.starts_with("http://") || s.starts_with("https://") {
        s.to_string()
    } else if s.starts_with("localhost") {
        format!("http://{s}")
    } else {
        format!("https://{s}")
    };
    while s.ends_with('/') {
        s.pop();
    }
    if let Some(base) = s.strip_suffix("/api/v1").or_else(|| s.strip_suffix("/api")) {
        s = base.trim_end_matches('/').to_string();
    }
    s
}

/// Reads the credentials: environment values first, the zuliprc for what they leave out.
pub fn resolve(src: &Sources) -> Result<Setup, String> {
    let clean = |v: &Option<String>| {
        v.as_ref()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let mut site = clean(&src.site);
    let mut email = clean(&src.email);
    let mut key = clean(&src.key);
    if let Some(path) = &src.config_file {
        let rc = read_zuliprc(path)?;
        site = site.or(rc.get("site").cloned());
        email = email.or(rc.get("email").cloned());
        key = key.or(rc.get("key").cloned());
    }
    let site = site.filter(|s| !s.is_empty());
    let email = email.filter(|s| !s.is_empty());
    let key = key.filter(|s| !s.is_empty());
    if let Some(k) = &key {
        redact::register(k);
    }
    if site.is_none() && email.is_none() && key.is_none() && src.config_file.is_none() {
        return Ok(Setup::NotConfigured);
    }
    let mut missing = Vec::new();
    if site.is_none() {
        missing.push("ZULIP_SITE");
    }
    if email.is_none() {
        missing.push("ZULIP_EMAIL");
    }
    if key.is_none() {
        missing.push("ZULIP_API_KEY");
    }
    match (site, email, key) {
        (Some(site), Some(email), Some(key)) => Ok(Setup::Ready(Credentials {
            site: normalize_site(&site),
            email,
            key,
        })),
        _ => Ok(Setup::Incomplete(missing)),
    }
}

fn read_zuliprc(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the zuliprc file {} named by ZULIP_CONFIG: {e} — download the bot's zuliprc from Zulip \
             (Personal settings → Bots) and point ZULIP_CONFIG at it",
            path.display()
        )
    })?;
    let mut ini = parse_ini(&text).map_err(|e| format!("zuliprc {}: {e}", path.display()))?;
    let api = ini.remove("api").ok_or_else(|| {
        format!(
            "zuliprc {} has no [api] section: it needs [api] with key, email and site",
            path.display()
        )
    })?;
    if let Some(k) = api.get("key") {
        redact::register(k);
    }
    Ok(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_as_configparser_reads_it() {
        let text = "# downloaded from Zulip\n[api]\nemail=deploy-bot@chat.example.com\nKey = abcdEFGH1234\nsite: chat.example.com\n; comment\n\n[other]\nx=1\n";
        let ini = parse_ini(text).unwrap();
        let api = &ini["api"];
        assert_eq!(api["email"], "deploy-bot@chat.example.com");
        assert_eq!(api["key"], "abcdEFGH1234");
        assert_eq!(api["site"], "chat.example.com");
        assert_eq!(ini["other"]["x"], "1");
        assert!(parse_ini("key=1\n").unwrap_err().contains("line 1"));
        assert!(parse_ini("[api\n").is_err());
    }

    #[test]
    fn sites_get_a_scheme() {
        assert_eq!(
            normalize_site("chat.example.com"),
            "https://chat.example.com"
        );
        assert_eq!(
            normalize_site("https://chat.example.com/"),
            "https://chat.example.com"
        );
        assert_eq!(
            normalize_site("http://127.0.0.1:9991/api"),
            "http://127.0.0.1:9991"
        );
        assert_eq!(normalize_site("localhost:9991"), "http://localhost:9991");
    }

    #[test]
    fn environment_wins_over_zuliprc_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join("zuliprc");
        std::fs::write(
            &rc,
            "[api]\nkey=rc-key-0123456789\nemail=rc-bot@example.com\nsite=rc.example.com\n",
        )
        .unwrap();
        let src = Sources {
            email: Some("env-bot@example.com".into()),
            config_file: Some(rc.clone()),
            ..Default::default()
        };
        let Setup::Ready(c) = resolve(&src).unwrap() else {
            panic!()
        };
        assert_eq!(c.email, "env-bot@example.com");
        assert_eq!(c.key, "rc-key-0123456789");
        assert_eq!(c.site, "https://rc.example.com");
        assert!(!format!("{c:?}").contains("rc-key-0123456789"));
        assert!(!redact::redact("key rc-key-0123456789").contains("rc-key-0123456789"));
    }

    #[test]
    fn nothing_set_or_half_set() {
        assert!(matches!(
            resolve(&Sources::default()).unwrap(),
            Setup::NotConfigured
        ));
        let src = Sources {
            site: Some("chat.example.com".into()),
            ..Default::default()
        };
        let Setup::Incomplete(m) = resolve(&src).unwrap() else {
            panic!()
        };
        assert_eq!(m, vec!["ZULIP_EMAIL", "ZULIP_API_KEY"]);
        let src = Sources {
            config_file: Some("/nonexistent/zuliprc".into()),
            ..Default::default()
        };
        assert!(resolve(&src).unwrap_err().contains("ZULIP_CONFIG"));
    }
}
