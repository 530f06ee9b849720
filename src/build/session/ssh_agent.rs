//! A private `ssh-agent` for `--ssh ID=KEY[,KEY…]`: buildx loads key files into an agent of its own;
//! stevedore starts OpenSSH's `ssh-agent -D` on a socket in a directory of its own (mode 0700, under the
//! temporary directory), loads each key with `ssh-add -` (the key on its standard input, so the file's
//! mode does not matter and nothing asks for a passphrase: `SSH_ASKPASS` is never used, and a
//! passphrase-protected key is an error naming the file), and forwards that socket as any agent's. The
//! agent is killed and its directory removed when the [`PrivateAgent`] is dropped: when the build
//! ends, fails, or is stopped by a signal (the step is dropped before the process exits). Key bytes are
//! never printed, logged, or sent anywhere but to `ssh-add`.

use crate::exit::{ExitCode, coded};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long the agent has to create its socket.
const READY: Duration = Duration::from_secs(10);

/// A running private agent; dropping it kills the agent and removes its socket and directory.
pub struct PrivateAgent {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl Drop for PrivateAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn missing(tool: &str, id: &str) -> anyhow::Error {
    coded(
        ExitCode::Usage,
        format!(
            "--ssh {id}=KEY needs OpenSSH's {tool} on PATH to load the key for the build, and it was not found — install it (Debian: apt-get install openssh-client; Alpine: apk add openssh-client), or load the key into an agent yourself and forward that: --ssh {id}=$SSH_AUTH_SOCK"
        ),
    )
}

/// A new directory only this user can enter, for the agent's socket.
fn private_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("stevedore-ssh-{}-{nanos:x}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| {
            coded(
                ExitCode::Usage,
                format!(
                    "cannot create {} for the build's SSH agent ({e}) — set TMPDIR to a writable directory",
                    dir.display()
                ),
            )
        })?;
    Ok(dir)
}

impl PrivateAgent {
    /// Starts an agent for the `--ssh` ID and loads `keys` into it.
    pub async fn start(id: &str, keys: &[PathBuf]) -> anyhow::Result<PrivateAgent> {
        let dir = private_dir()?;
        let socket = dir.join("agent.sock");
        let log = std::fs::File::create(dir.join("agent.log"));
        let spawned = log.and_then(|log| {
            Command::new("ssh-agent")
                .arg("-D")
                .arg("-a")
                .arg(&socket)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
        });
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(match e.kind() {
                    std::io::ErrorKind::NotFound => missing("ssh-agent", id),
                    _ => coded(
                        ExitCode::Usage,
                        format!("cannot start ssh-agent for --ssh {id}: {e}"),
                    ),
                });
            }
        };
        let mut agent = PrivateAgent { child, dir, socket };
        agent.ready(id).await?;
        for key in keys {
            agent.add(id, key).await?;
        }
        Ok(agent)
    }

    /// The agent's socket, to forward.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Waits for the agent's socket (an error when the agent exits first or takes too long).
    async fn ready(&mut self, id: &str) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        while !self.socket.exists() {
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > READY {
                let said = std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default();
                return Err(coded(
                    ExitCode::Usage,
                    format!(
                        "ssh-agent for --ssh {id} did not start ({}): {}",
                        exited.map_or("no socket after 10 s".into(), |s| s.to_string()),
                        said.trim()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Loads one key file into the agent with `ssh-add -` (the key on standard input).
    async fn add(&self, id: &str, key: &Path) -> anyhow::Result<()> {
        let usage = |msg: String| coded(ExitCode::Usage, msg);
        let bytes = std::fs::read(key).map_err(|e| {
            usage(format!(
                "--ssh {id}: cannot read the key file {} ({e})",
                key.display()
            ))
        })?;
        let mut child = tokio::process::Command::new("ssh-add")
            .arg("-q")
            .arg("-")
            .env("SSH_AUTH_SOCK", &self.socket)
            .env("SSH_ASKPASS_REQUIRE", "never")
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => missing("ssh-add", id),
                _ => usage(format!("cannot run ssh-add for --ssh {id}: {e}")),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A key ssh-add refuses may close the pipe early; its exit status tells.
            let _ = stdin.write_all(&bytes).await;
        }
        drop(bytes);
        let out = child.wait_with_output().await?;
        if out.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        Err(usage(refusal(id, key, &said)))
    }
}

/// Why `ssh-add` did not load `key`, from what it said (its messages name the key `(stdin)` and hold
/// no key material).
fn refusal(id: &str, key: &Path, said: &str) -> String {
    if said.contains("passphrase") {
        return format!(
            "--ssh {id}: the key {} is protected by a passphrase, and stevedore does not ask for one — load it into an agent yourself (`eval $(ssh-agent)`, `ssh-add {}`) and forward the agent: --ssh {id}=$SSH_AUTH_SOCK",
            key.display(),
            key.display()
        );
    }
    let said = said.replace("(stdin)", &key.display().to_string());
    format!(
        "--ssh {id}: ssh-add could not load {} as a private key ({}) — give an OpenSSH, PEM or PKCS#8 private key file, or an agent socket",
        key.display(),
        said.trim()
    )
}

/// Starts a private agent for every `--ssh` ID given key files; returns them with the agent socket of
/// every ID (the ones given as sockets as they are).
pub async fn start_all(
    specs: &[super::ssh::Spec],
) -> anyhow::Result<(Vec<PrivateAgent>, Vec<(String, PathBuf)>)> {
    let mut agents = Vec::new();
    let mut sockets = Vec::new();
    for spec in specs {
        let socket = match &spec.source {
            super::ssh::Source::Agent(s) => s.clone(),
            super::ssh::Source::Keys(keys) => {
                let agent = PrivateAgent::start(&spec.id, keys).await?;
                let s = agent.socket().to_path_buf();
                agents.push(agent);
                s
            }
        };
        sockets.push((spec.id.clone(), socket));
    }
    Ok((agents, sockets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_file_and_the_fix() {
        let key = Path::new("/keys/id_ed25519");
        let m = refusal("git", key, "Enter passphrase for (stdin): ");
        assert!(
            m.contains("/keys/id_ed25519") && m.contains("passphrase"),
            "{m}"
        );
        assert!(m.contains("--ssh git=$SSH_AUTH_SOCK"), "{m}");
        let m = refusal(
            "git",
            key,
            "Error loading key \"(stdin)\": invalid format\n",
        );
        assert!(
            m.contains("Error loading key \"/keys/id_ed25519\": invalid format"),
            "{m}"
        );
    }
}
