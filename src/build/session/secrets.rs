//! Build secrets: `--secret id=NAME[,env=VAR|,src=FILE]` (the syntax of `docker buildx build --secret`)
//! and `[build] secrets`, served to `RUN --mount=type=secret,id=NAME` through the session's Secrets
//! service — never in the context, a layer, the history or the log.
//!
//! buildx's rules, followed exactly: the fields are CSV (`"src=a,b"` quotes a comma); keys are
//! case-insensitive; `src` and `source` are the same; `type=env|file` is optional (`type=env,src=VAR`
//! reads `VAR`); with neither `env` nor `src`, the secret comes from the environment variable named
//! like the ID when it is set, else from the file of that name. A file is read relative to the working
//! directory and may hold at most 500 KB.

use crate::exit::{ExitCode, coded};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{
    GetSecretRequest, GetSecretResponse, secrets_server,
};
use std::collections::HashMap;
use std::path::PathBuf;
use tonic::{Request, Response, Status};

/// The largest secret BuildKit accepts (buildx refuses bigger files the same way).
pub const MAX_SIZE: u64 = 500 * 1024;

/// Where a secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An environment variable.
    Env(String),
    /// A file (relative to the working directory).
    File(PathBuf),
}

/// One `--secret`: its ID and where its value comes from (never the value itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The ID `RUN --mount=type=secret,id=…` names.
    pub id: String,
    /// Where the value is read.
    pub source: Source,
}

fn usage(msg: String) -> anyhow::Error {
    coded(ExitCode::Usage, msg)
}

/// Splits one CSV record as Go's `encoding/csv` does for a single line: fields separated by commas, a
/// field may be double-quoted (`""` inside is a quote).
fn csv_fields(raw: &str) -> anyhow::Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut chars = raw.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => anyhow::bail!("an unterminated quote"),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                anyhow::bail!("text after a closing quote");
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// Parses one `--secret` value (see the module docs); `from` names where it was given (`--secret`,
/// `[build] secrets`). Checks that the variable is set or the file readable and small enough.
pub fn parse(raw: &str, from: &str) -> anyhow::Result<Spec> {
    let bad = |why: String| {
        usage(format!(
            "{from} {raw:?}: {why} — write id=NAME,env=VAR or id=NAME,src=FILE"
        ))
    };
    let fields = csv_fields(raw).map_err(|e| bad(e.to_string()))?;
    let (mut id, mut src, mut env, mut typ) = (None, None, None, None);
    for field in fields {
        let Some((k, v)) = field.split_once('=') else {
            return Err(bad(format!("field {field:?} must be a key=value pair")));
        };
        match k.to_ascii_lowercase().as_str() {
            "type" if v == "file" || v == "env" => typ = Some(v.to_string()),
            "type" => return Err(bad(format!("unsupported secret type {v:?} (file or env)"))),
            "id" => id = Some(v.to_string()),
            "source" | "src" => src = Some(v.to_string()),
            "env" => env = Some(v.to_string()),
            other => return Err(bad(format!("unexpected key {other:?}"))),
        }
    }
    if typ.as_deref() == Some("env") && env.as_deref().unwrap_or("").is_empty() {
        env = src.take();
    }
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad("the secret has no id".into()))?;
    let env = env.filter(|e| !e.is_empty());
    let src = src.filter(|s| !s.is_empty());
    let source = match (env, src) {
        (Some(e), _) => Source::Env(e),
        (None, Some(s)) => Source::File(PathBuf::from(s)),
        (None, None) if std::env::var_os(&id).is_some() => Source::Env(id.clone()),
        (None, None) => Source::File(PathBuf::from(&id)),
    };
    let spec = Spec { id, source };
    spec.read()?;
    Ok(spec)
}

impl Spec {
    /// Reads the value now; a variable that is not set or a file that cannot be read (or is over
    /// 500 KB) is exit 2 naming it.
    pub fn read(&self) -> anyhow::Result<Vec<u8>> {
        let id = &self.id;
        match &self.source {
            Source::Env(var) => std::env::var_os(var)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| {
                    usage(format!(
                        "secret {id}: the environment variable {var} is not set — set it, or give the secret with src=FILE"
                    ))
                }),
            Source::File(path) => {
                let meta = std::fs::metadata(path).map_err(|e| {
                    usage(format!(
                        "secret {id}: cannot read {} ({e}) — give an existing file with src=FILE (relative to the working directory) or a variable with env=VAR",
                        path.display()
                    ))
                })?;
                if meta.len() > MAX_SIZE {
                    return Err(usage(format!(
                        "secret {id}: {} is {} bytes; BuildKit takes secrets of at most 500 KB",
                        path.display(),
                        meta.len()
                    )));
                }
                std::fs::read(path).map_err(|e| {
                    usage(format!("secret {id}: cannot read {} ({e})", path.display()))
                })
            }
        }
    }
}

/// The secrets a session serves, read once when the build starts.
pub struct Store {
    values: HashMap<String, Vec<u8>>,
}

impl Store {
    /// Reads every secret (see [`Spec::read`]) and registers each value for redaction, so no log line
    /// or report of this process can show it.
    pub fn load(specs: &[Spec]) -> anyhow::Result<Store> {
        let mut values = HashMap::new();
        for s in specs {
            let v = s.read()?;
            if let Ok(text) = std::str::from_utf8(&v) {
                crate::redact::register(text);
            }
            values.insert(s.id.clone(), v);
        }
        Ok(Store { values })
    }
}

#[tonic::async_trait]
impl secrets_server::Secrets for Store {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = &request.get_ref().id;
        match self.values.get(id) {
            Some(v) => Ok(Response::new(GetSecretResponse { data: v.clone() })),
            None => Err(Status::not_found(format!("secret {id} not found"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::code_of;

    #[test]
    fn buildx_syntax() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("tok, a.txt");
        std::fs::write(&f, "x").unwrap();
        let src = format!("id=tok,\"src={}\"", f.display());
        assert_eq!(
            parse(&src, "--secret").unwrap(),
            Spec {
                id: "tok".into(),
                source: Source::File(f.clone())
            }
        );
        let upper = format!("ID=tok,\"SOURCE={}\",TYPE=file", f.display());
        assert_eq!(
            parse(&upper, "--secret").unwrap().source,
            Source::File(f.clone())
        );
        // SAFETY: tests in this module use their own variable names.
        unsafe { std::env::set_var("STEVEDORE_T_SECRET_A", "v") };
        assert_eq!(
            parse("id=a,env=STEVEDORE_T_SECRET_A", "--secret")
                .unwrap()
                .source,
            Source::Env("STEVEDORE_T_SECRET_A".into())
        );
        assert_eq!(
            parse("type=env,id=a,src=STEVEDORE_T_SECRET_A", "--secret")
                .unwrap()
                .source,
            Source::Env("STEVEDORE_T_SECRET_A".into())
        );
        // Neither env nor src: the variable named like the ID when set...
        assert_eq!(
            parse("id=STEVEDORE_T_SECRET_A", "--secret").unwrap().source,
            Source::Env("STEVEDORE_T_SECRET_A".into())
        );
        // ...else the file of that name (here missing: exit 2 naming it).
        let e = parse("id=STEVEDORE_T_SECRET_UNSET", "--secret").unwrap_err();
        assert_eq!(code_of(&e), ExitCode::Usage);
        assert!(
            format!("{e:#}").contains("cannot read STEVEDORE_T_SECRET_UNSET"),
            "{e}"
        );
    }

    #[test]
    fn bad_secrets_are_exit_2_naming_the_fix() {
        for (raw, says) in [
            (
                "id=a,env=STEVEDORE_T_SECRET_NOPE",
                "STEVEDORE_T_SECRET_NOPE is not set",
            ),
            ("src=/x", "no id"),
            ("id=a,type=ssh", "unsupported secret type"),
            ("id=a,mode=0400", "unexpected key"),
            ("id=a,oops", "key=value"),
            (
                "id=a,src=/nonexistent/stevedore-secret",
                "/nonexistent/stevedore-secret",
            ),
            ("\"id=a", "unterminated quote"),
        ] {
            let e = parse(raw, "--secret").unwrap_err();
            assert_eq!(code_of(&e), ExitCode::Usage, "{raw}");
            assert!(format!("{e:#}").contains(says), "{raw}: {e}");
        }
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big");
        std::fs::write(&big, vec![b'x'; 500 * 1024 + 1]).unwrap();
        let e = parse(&format!("id=big,src={}", big.display()), "--secret").unwrap_err();
        assert!(format!("{e:#}").contains("at most 500 KB"), "{e}");
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(
            csv_fields("a=1,\"b=2,3\",\"c=\"\"q\"\"\"").unwrap(),
            ["a=1", "b=2,3", "c=\"q\""]
        );
        assert!(csv_fields("\"a").is_err());
    }
}
