//! SSH agent forwarding: `--ssh default|ID=SOCKET` (the syntax of `docker buildx build --ssh`) for
//! `RUN --mount=type=ssh[,id=ID]`, served through the session's SSH service. The daemon asks whether
//! an agent with the ID exists (`CheckAgent`), then opens one stream per connection made to the mounted
//! socket (`ForwardAgent`, the ID in the `buildkit.ssh.id` metadata); each stream is joined to a new
//! connection to the agent's socket. `default` is `$SSH_AUTH_SOCK`. Private keys stay on this machine:
//! only the agent protocol crosses.

use crate::exit::{ExitCode, coded};
use bollard_buildkit_proto::moby::sshforward::v1::{
    BytesMessage, CheckAgentRequest, CheckAgentResponse, ssh_server,
};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Request, Response, Status, Streaming};

/// The metadata key BuildKit names the agent ID with.
const ID_KEY: &str = "buildkit.ssh.id";

/// The agent ID BuildKit uses when `RUN --mount=type=ssh` names none.
pub const DEFAULT_ID: &str = "default";

/// One `--ssh`: an ID and the agent socket it forwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The ID `RUN --mount=type=ssh,id=…` names (`default` when it names none).
    pub id: String,
    /// The agent's unix socket.
    pub socket: PathBuf,
}

fn usage(msg: String) -> anyhow::Error {
    coded(ExitCode::Usage, msg)
}

/// Parses one `--ssh` value: `default` (or `ID` alone) forwards `$SSH_AUTH_SOCK`; `ID=PATH` forwards the
/// agent socket at PATH. Checks that the socket exists and is a socket; a key file is refused with the
/// fix (load it into an agent with `ssh-add` and forward the agent).
pub fn parse(raw: &str, ssh_auth_sock: Option<&str>) -> anyhow::Result<Spec> {
    let (id, paths) = match raw.split_once('=') {
        Some((id, p)) => (id.trim(), Some(p)),
        None => (raw.trim(), None),
    };
    if id.is_empty() {
        return Err(usage(format!(
            "--ssh {raw:?} has no ID — write --ssh default or --ssh ID=/path/to/agent.sock"
        )));
    }
    let socket = match paths.filter(|p| !p.is_empty()) {
        Some(p) if p.contains(',') => {
            return Err(usage(format!(
                "--ssh {raw}: stevedore forwards one agent socket per ID — load the keys into an agent (`ssh-add KEY…`) and give its socket"
            )));
        }
        Some(p) => PathBuf::from(p),
        None => match ssh_auth_sock.filter(|s| !s.is_empty()) {
            Some(s) => PathBuf::from(s),
            None => {
                return Err(usage(format!(
                    "--ssh {raw}: SSH_AUTH_SOCK is not set, so there is no agent to forward — start one (`eval $(ssh-agent)` and `ssh-add KEY`) or give --ssh {id}=/path/to/agent.sock"
                )));
            }
        },
    };
    check_socket(raw, &socket)?;
    Ok(Spec {
        id: id.to_string(),
        socket,
    })
}

fn check_socket(raw: &str, socket: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(socket) {
        Ok(m) if m.file_type().is_socket() => Ok(()),
        Ok(_) => Err(usage(format!(
            "--ssh {raw}: {} is not an agent socket (a key file?) — load the key into an agent with `ssh-add {}` and forward the agent: --ssh default",
            socket.display(),
            socket.display()
        ))),
        Err(e) => Err(usage(format!(
            "--ssh {raw}: cannot use the agent socket {} ({e}) — start an agent or fix the path",
            socket.display()
        ))),
    }
}

/// The agents a session forwards, by ID.
pub struct Agents {
    sockets: BTreeMap<String, PathBuf>,
}

impl Agents {
    /// The agents of `specs` (a later spec with the same ID wins).
    pub fn new(specs: &[Spec]) -> Agents {
        Agents {
            sockets: specs
                .iter()
                .map(|s| (s.id.clone(), s.socket.clone()))
                .collect(),
        }
    }

    fn socket(&self, id: &str) -> Result<&PathBuf, Status> {
        let id = if id.is_empty() { DEFAULT_ID } else { id };
        self.sockets.get(id).ok_or_else(|| {
            Status::not_found(format!(
                "no SSH agent with ID {id} (give --ssh {id}=SOCKET)"
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
        assert_eq!(
            parse("default", Some(&s)).unwrap(),
            Spec {
                id: "default".into(),
                socket: sock.clone()
            }
        );
        assert_eq!(parse(&format!("git={s}"), None).unwrap().id, "git");
        assert_eq!(parse("git", Some(&s)).unwrap().socket, sock);
        let key = d.path().join("id_ed25519");
        std::fs::write(&key, "k").unwrap();
        for (raw, env, says) in [
            ("default".to_string(), None, "SSH_AUTH_SOCK is not set"),
            (format!("x={}", key.display()), None, "ssh-add"),
            (
                format!("x={},{}", key.display(), key.display()),
                None,
                "one agent socket",
            ),
            (
                "x=/nonexistent/agent.sock".to_string(),
                None,
                "/nonexistent/agent.sock",
            ),
            ("=a".to_string(), None, "no ID"),
        ] {
            let e = parse(&raw, env).unwrap_err();
            assert_eq!(code_of(&e), ExitCode::Usage, "{raw}");
            assert!(format!("{e:#}").contains(says), "{raw}: {e}");
        }
    }
}
