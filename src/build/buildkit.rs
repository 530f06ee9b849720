//! A BuildKit build through our own session ([`super::session`]): bollard's `build_image` starts its
//! own session that serves registry credentials only, so the build request is made here — the same
//! `POST /build` (query from bollard's `BuildImageOptions`), naming our session and
//! `remote=client-session` as `docker buildx` does: no tar upload, the daemon fetches the context and
//! the Dockerfile through the session's FileSync — with the answer read as the daemon's JSON message
//! stream.

use super::context::Stats;
use super::session::{self, Attachments, filesync, secrets, ssh, ssh_agent};
use super::settings::Settings;
use crate::docker::{Raw, Target};
use bollard::errors::Error as DockerError;
use bollard::models::BuildInfo;
use bollard::query_parameters::BuildImageOptions;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::BodyExt;
use std::collections::VecDeque;
use std::sync::Arc;

/// The session's services for the settings: the context and the Dockerfile's directory, the secrets
/// (read now, registered for redaction), the SSH agents (a private agent started now for each ID
/// given key files) and the registry credentials.
pub async fn attachments(
    settings: &Settings,
    stats: Arc<Stats>,
    credentials: Option<session::CredentialLookup>,
) -> anyhow::Result<Attachments> {
    let dockerfile = settings.dockerfile_path();
    let dirs = filesync::Dirs {
        context: settings.context.clone(),
        matcher: settings.session_matcher.clone(),
        dockerfile_dir: dockerfile
            .parent()
            .unwrap_or(&settings.context)
            .to_path_buf(),
        stats,
    };
    let secrets = (!settings.secrets.is_empty())
        .then(|| secrets::Store::load(&settings.secrets))
        .transpose()?;
    let (private_agents, sockets) = ssh_agent::start_all(&settings.ssh).await?;
    Ok(Attachments {
        credentials,
        files: Some(filesync::FileSync(Arc::new(dirs))),
        secrets,
        ssh: (!settings.ssh.is_empty()).then(|| ssh::Agents::new(sockets)),
        private_agents,
    })
}

/// The key the daemon files this context's local-file cache under, as the docker CLI derives it: a
/// digest of the context's path (stable per directory).
fn shared_key(settings: &Settings) -> String {
    let mut h = crc32fast::Hasher::new();
    h.update(settings.context.as_os_str().as_encoded_bytes());
    format!("{:08x}", h.finalize())
}

/// Starts the session and the build (`remote=client-session`: the daemon fetches the context and the
/// Dockerfile through the session; `stats` counts what the context sent); the stream yields the
/// daemon's messages (an error item fails the build, as with bollard) and keeps the session open until
/// it ends.
pub async fn build(
    docker: &bollard::Docker,
    settings: &Settings,
    mut options: BuildImageOptions,
    stats: Arc<Stats>,
    credentials: session::CredentialLookup,
) -> anyhow::Result<futures_util::stream::BoxStream<'static, Result<BuildInfo, DockerError>>> {
    let raw = Raw::new(
        &Target::from_env(),
        &docker.client_version().to_string(),
        settings.timeout,
    )?;
    let name = settings
        .context
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "context".into());
    let attachments = attachments(settings, stats, Some(credentials)).await?;
    let session = session::start(&raw, &name, &shared_key(settings), attachments).await?;
    options.session = Some(session.id.clone());
    options.remote = Some("client-session".into());
    // The daemon asks the `dockerfile` directory for this name.
    options.dockerfile = settings
        .dockerfile_path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| settings.dockerfile.clone());
    let query = serde_urlencoded::to_string(&options)?;
    let req = raw
        .builder("POST", &format!("/build?{query}"))
        .body(http_body_util::Empty::<Bytes>::new())?;
    let resp = raw.open(req).await?;
    let status = resp.status().as_u16();
    if status != 200 {
        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
        let body = body.unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(String::from))
            .unwrap_or_else(|| crate::redact::quote_body(&body));
        let e = DockerError::DockerResponseServerError {
            status_code: status,
            message,
        };
        return Ok(futures_util::stream::iter(vec![Err(e)]).boxed());
    }
    Ok(messages(resp.into_body(), session).boxed())
}

/// The daemon's JSON messages (one per line), an error message turned into an error item.
fn messages(
    body: hyper::body::Incoming,
    session: session::Session,
) -> impl Stream<Item = Result<BuildInfo, DockerError>> + Send {
    let state = (body, Vec::<u8>::new(), VecDeque::new(), Some(session));
    futures_util::stream::unfold(
        state,
        |(mut body, mut buf, mut ready, mut session)| async move {
            loop {
                if let Some(item) = ready.pop_front() {
                    return Some((item, (body, buf, ready, session)));
                }
                session.as_ref()?;
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            buf.extend_from_slice(&data);
                            ready.extend(lines(&mut buf, false));
                        }
                    }
                    Some(Err(e)) => {
                        session = None;
                        ready.push_back(Err(DockerError::HyperResponseError { err: e }));
                    }
                    None => {
                        session = None;
                        ready.extend(lines(&mut buf, true));
                    }
                }
            }
        },
    )
}

/// Takes the complete lines out of `buf` (all of it at the end) and parses each as a message.
fn lines(buf: &mut Vec<u8>, end: bool) -> Vec<Result<BuildInfo, DockerError>> {
    let cut = if end {
        buf.len()
    } else {
        match buf.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => return Vec::new(),
        }
    };
    let taken: Vec<u8> = buf.drain(..cut).collect();
    taken
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .map(|l| match serde_json::from_slice::<BuildInfo>(l) {
            Ok(BuildInfo {
                error_detail: Some(d),
                ..
            }) if d.message.is_some() => Err(DockerError::DockerStreamError {
                error: d.message.unwrap_or_default(),
            }),
            Ok(info) => Ok(info),
            Err(e) => Err(DockerError::JsonDataError {
                message: e.to_string(),
                column: e.column(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_on_lines_and_errors_fail() {
        let mut buf = b"{\"stream\":\"a\"}\r\n{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}\r\n{\"str".to_vec();
        let got = lines(&mut buf, false);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().unwrap().stream.as_deref(), Some("a"));
        assert!(
            matches!(&got[1], Err(DockerError::DockerStreamError { error }) if error == "boom")
        );
        assert_eq!(buf, b"{\"str");
        buf.extend_from_slice(b"eam\":\"b\"}");
        let last = lines(&mut buf, true);
        assert_eq!(last[0].as_ref().unwrap().stream.as_deref(), Some("b"));
    }
}
