//! SSH agent forwarding: `--ssh default|ID=SOCKET|ID=KEY[,KEY…]` (the syntax of `docker buildx build
//! --ssh`) for `RUN --mount=type=ssh[,id=ID]`, served through the session's SSH service. The daemon asks
//! whether an agent with the ID exists (`CheckAgent`), then opens one stream per connection made to the
//! mounted socket (`ForwardAgent`, the ID in the `buildkit.ssh.id` metadata); each stream is joined to a
//! new connection to the agent's socket. `default` alone is `$SSH_AUTH_SOCK`; a path that is a socket is
//! an agent; paths that are files are private keys, loaded into a private agent for the build
//! ([`super::ssh_agent`]). Private keys stay on this machine: only the agent protocol crosses.

use crate::exit::{ExitCode, coded};
use bollard_buildkit_proto::moby::sshforward::v1::{
    BytesMessage, CheckAgentRequest, CheckAgentResponse, ssh_server,
};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Request, Response, Status, Streaming};

/// The metadata key BuildKit names the agent ID with.
const ID_KEY: &str = "buildkit.ssh.id";

/// The agent ID BuildKit uses when `RUN --mount=type=ssh` names none.
pub const DEFAULT_ID: &str = "default";

/// Where the keys of one `--ssh` ID come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A running agent's unix socket, forwarded as it is.
    Agent(PathBuf),
    /// Private key files, loaded into a private agent that lives as long as the build.
    Keys(Vec<PathBuf>),
}

/// One `--ssh`: an ID and where its keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The ID `RUN --mount=type=ssh,id=…` names (`default` when it names none).
    pub id: String,
    /// The agent socket or the key files.
    pub source: Source,
}

fn usage(msg: String) -> anyhow::Error {
    coded(ExitCode::Usage, msg)
}

/// Parses one `--ssh` value as `docker buildx build --ssh` does: `default` (or `ID` alone) forwards
/// `$SSH_AUTH_SOCK`; `ID=PATH[,PATH…]` forwards the agent socket at PATH when PATH is a socket, and
/// otherwise loads the private key files into a private agent for the build. Checks that each path
/// exists and is a socket or a regular file (nothing is read yet).
pub fn parse(raw: &str, ssh_auth_sock: Option<&str>) -> anyhow::Result<Spec> {
    let (id, paths) = match raw.split_once('=') {
        Some((id, p)) => (id.trim(), p),
        None => (raw.trim(), ""),
    };
    if id.is_empty() {
        return Err(usage(format!(
            "--ssh {raw:?} has no ID — write --ssh default, --ssh ID=/path/to/agent.sock or --ssh ID=/path/to/key"
        )));
    }
    let paths: Vec<&str> = paths
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let source = if paths.is_empty() {
        let Some(s) = ssh_auth_sock.filter(|s| !s.is_empty()) else {
            return Err(usage(format!(
                "--ssh {raw}: SSH_AUTH_SOCK is not set, so there is no agent to forward — start one (`eval $(ssh-agent)` and `ssh-add KEY`), or give the agent's socket or a key file: --ssh {id}=/path/to/agent.sock or --ssh {id}=$HOME/.ssh/id_ed25519"
            )));
        };
        let socket = PathBuf::from(s);
        if kind(raw, &socket)? != Kind::Socket {
            return Err(usage(format!(
                "--ssh {raw}: SSH_AUTH_SOCK ({}) is not an agent socket — fix SSH_AUTH_SOCK or give a key file: --ssh {id}=/path/to/key",
                socket.display()
            )));
        }
        Source::Agent(socket)
    } else {
        source(raw, &paths)?
    };
    Ok(Spec {
        id: id.to_string(),
        source,
    })
}

/// What a `--ssh` path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Socket,
    File,
}

fn kind(raw: &str, path: &Path) -> anyhow::Result<Kind> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_socket() => Ok(Kind::Socket),
        Ok(m) if m.is_file() => Ok(Kind::File),
        Ok(_) => Err(usage(format!(
            "--ssh {raw}: {} is neither an agent socket nor a private key file",
            path.display()
        ))),
        Err(e) => Err(usage(format!(
            "--ssh {raw}: cannot use {} ({e}) — give an agent socket or a private key file that exists",
            path.display()
        ))),
    }
}

/// The source of `ID=PATH[,PATH…]`: one socket, or key files only (as buildx: a socket and keys, or
/// two sockets, under one ID are refused).
fn source(raw: &str, paths: &[&str]) -> anyhow::Result<Source> {
    let mut keys = Vec::new();
    for p in paths {
        let path = PathBuf::from(p);
        match kind(raw, &path)? {
            Kind::Socket if paths.len() == 1 => return Ok(Source::Agent(path)),
            Kind::Socket => {
                return Err(usage(format!(
                    "--ssh {raw}: {} is an agent socket, and an ID forwards one agent socket alone or key files only — give the socket on its own, or load the keys into that agent (`ssh-add KEY…`)",
                    path.display()
                )));
            }
            Kind::File => keys.push(path),
        }
    }
    Ok(Source::Keys(keys))
}

/// The agents a session forwards, by ID.
pub struct Agents {
    sockets: BTreeMap<String, PathBuf>,
}

impl Agents {
    /// The agent sockets by ID (a later one with the same ID wins).
    pub fn new(sockets: impl IntoIterator<Item = (String, PathBuf)>) -> Agents {
        Agents {
            sockets: sockets.into_iter().collect(),
        }
    }

    fn socket(&self, id: &str) -> Result<&PathBuf, Status> {
        let id = if id.is_empty() { DEFAULT_ID } else { id };
        self.sockets.get(id).ok_or_else(|| {
            Status::not_found(format!(
                "no SSH agent with ID {id} (give --ssh {id}=SOCKET or --ssh {id}=KEYFILE)"
            ))
        })
    }
}

/// Copies the daemon's stream into the agent connection and the agent's answers back.
fn join(
    mut from_daemon: Streaming<BytesMessage>,
    agent: tokio::net::UnixStream,
) -> super::Streamed<BytesMessage> {
    let (read, mut write) = agent.into_split();
    tokio::spawn(async move {
        while let Some(Ok(m)) = from_daemon.next().await {
            if write.write_all(&m.data).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    });
    Box::pin(futures_util::stream::unfold(
        (read, vec![0u8; 32 * 1024]),
        |(mut read, mut buf)| async move {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    let data = buf[..n].to_vec();
                    Some((Ok(BytesMessage { data }), (read, buf)))
                }
            }
        },
    ))
}

#[tonic::async_trait]
impl ssh_server::Ssh for Agents {
    async fn check_agent(
        &self,
        request: Request<CheckAgentRequest>,
    ) -> Result<Response<CheckAgentResponse>, Status> {
        self.socket(&request.get_ref().id)?;
        Ok(Response::new(CheckAgentResponse {}))
    }

    type ForwardAgentStream = super::Streamed<BytesMessage>;

    async fn forward_agent(
        &self,
        request: Request<Streaming<BytesMessage>>,
    ) -> Result<Response<Self::ForwardAgentStream>, Status> {
        let id = request
            .metadata()
            .get(ID_KEY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(DEFAULT_ID)
            .to_string();
        let socket = self.socket(&id)?;
        let agent = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
            Status::unavailable(format!(
                "cannot connect to the SSH agent {}: {e}",
                socket.display()
            ))
        })?;
        Ok(Response::new(join(request.into_inner(), agent)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::code_of;

    #[test]
    fn specs() {
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("agent.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let s = sock.display().to_string();
        let agent = |id: &str| Spec {
            id: id.into(),
            source: Source::Agent(sock.clone()),
        };
        assert_eq!(parse("default", Some(&s)).unwrap(), agent("default"));
        assert_eq!(parse(&format!("git={s}"), None).unwrap(), agent("git"));
        assert_eq!(parse("git", Some(&s)).unwrap(), agent("git"));
        let key = d.path().join("id_ed25519");
        let key2 = d.path().join("id_rsa");
        std::fs::write(&key, "k").unwrap();
        std::fs::write(&key2, "k").unwrap();
        let (k, k2) = (key.display(), key2.display());
        assert_eq!(
            parse(&format!("default={k}"), Some(&s)).unwrap(),
            Spec {
                id: "default".into(),
                source: Source::Keys(vec![key.clone()])
            }
        );
        assert_eq!(
            parse(&format!("git={k},{k2}"), None).unwrap().source,
            Source::Keys(vec![key.clone(), key2.clone()])
        );
        for (raw, env, says) in [
            ("default".to_string(), None, "SSH_AUTH_SOCK is not set"),
            (
                "default".to_string(),
                Some(k.to_string()),
                "not an agent socket",
            ),
            (format!("x={s},{k}"), None, "alone or key files only"),
            (
                "x=/nonexistent/agent.sock".to_string(),
                None,
                "/nonexistent/agent.sock",
            ),
            (format!("x={}", d.path().display()), None, "neither"),
            ("=a".to_string(), None, "no ID"),
        ] {
            let e = parse(&raw, env.as_deref()).unwrap_err();
            assert_eq!(code_of(&e), ExitCode::Usage, "{raw}");
            assert!(format!("{e:#}").contains(says), "{raw}: {e}");
        }
    }
}
