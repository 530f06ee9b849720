//! Our own BuildKit session with the daemon: what a BuildKit build asks of the client while it runs.
//!
//! The docker CLI opens it the same way: `POST /session` with `Upgrade: h2c`, naming the session
//! (`X-Docker-Expose-Session-Uuid`, `-Name`, `-Sharedkey`) and every gRPC method the client serves
//! (`X-Docker-Expose-Session-Grpc-Method`, one header each). After `101 Switching Protocols` the daemon
//! is the gRPC client on that connection and we serve HTTP/2: health checks, the context and the
//! Dockerfile ([`filesync`]), build secrets
//! ([`secrets`]), SSH agents ([`ssh`]) and registry credentials (the job's, looked up per registry as
//! the docker CLI does, for private base images and registry cache sources).
//! The build request names the session with `session=ID`.

pub mod filesync;
pub mod secrets;
pub mod ssh;
pub mod ssh_agent;

use crate::docker::Raw;
use anyhow::Context;
use bollard_buildkit_proto::health;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::SecretsServer;
use bollard_buildkit_proto::moby::filesync::v1 as auth;
use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::SshServer;
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::{Request, Response, Status};

/// Finds the credentials for a registry host (`None`: anonymous); the session's Auth service asks it.
pub type CredentialLookup = std::sync::Arc<dyn Fn(&str) -> Option<(String, String)> + Send + Sync>;

/// What the session serves besides health checks.
#[derive(Default)]
pub struct Attachments {
    /// Registry credentials for the daemon's pulls (`None`: every pull is anonymous).
    pub credentials: Option<CredentialLookup>,
    /// Build secrets for `RUN --mount=type=secret`.
    pub secrets: Option<secrets::Store>,
    /// SSH agents for `RUN --mount=type=ssh`.
    pub ssh: Option<ssh::Agents>,
    /// The context and the Dockerfile's directory, for a build with `remote=client-session`.
    pub files: Option<filesync::FileSync>,
    /// The private SSH agents of `--ssh ID=KEY`, kept alive as long as the session.
    pub private_agents: Vec<ssh_agent::PrivateAgent>,
}

impl Attachments {
    /// The gRPC methods served, for the `X-Docker-Expose-Session-Grpc-Method` headers.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut m = vec![
            "/grpc.health.v1.Health/Check",
            "/moby.filesync.v1.Auth/Credentials",
            "/moby.filesync.v1.Auth/FetchToken",
            "/moby.filesync.v1.Auth/GetTokenAuthority",
            "/moby.filesync.v1.Auth/VerifyTokenAuthority",
        ];
        if self.files.is_some() {
            m.push("/moby.filesync.v1.FileSync/DiffCopy");
        }
        if self.secrets.is_some() {
            m.push("/moby.buildkit.secrets.v1.Secrets/GetSecret");
        }
        if self.ssh.is_some() {
            m.push("/moby.sshforward.v1.SSH/CheckAgent");
            m.push("/moby.sshforward.v1.SSH/ForwardAgent");
        }
        m
    }
}

/// A running session: its ID (the build's `session` parameter); dropping it ends the session and,
/// at once, its private SSH agents (killed, their sockets removed).
pub struct Session {
    /// The session ID.
    pub id: String,
    server: tokio::task::JoinHandle<()>,
    _private_agents: Vec<ssh_agent::PrivateAgent>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A session ID unique enough for one daemon.
pub fn new_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("stevedore-{}-{nanos:x}", std::process::id())
}

/// Opens a session on the daemon `raw` speaks to and serves `attachments` on it until dropped.
/// `name` and `shared_key` are what the docker CLI sends (the context's name and a key for the
/// daemon's cache of local files).
pub async fn start(
    raw: &Raw,
    name: &str,
    shared_key: &str,
    mut attachments: Attachments,
) -> anyhow::Result<Session> {
    let id = new_id();
    let private_agents = std::mem::take(&mut attachments.private_agents);
    let mut req = raw
        .builder("POST", "/session")
        .header("Connection", "Upgrade")
        .header("Upgrade", "h2c")
        .header("X-Docker-Expose-Session-Uuid", &id)
        .header("X-Docker-Expose-Session-Name", name)
        .header("X-Docker-Expose-Session-Sharedkey", shared_key);
    for m in attachments.methods() {
        req = req.header("X-Docker-Expose-Session-Grpc-Method", m);
    }
    let req = req.body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let resp = raw.open(req).await?;
    let status = resp.status();
    if status != hyper::StatusCode::SWITCHING_PROTOCOLS {
        use http_body_util::BodyExt;
        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
        anyhow::bail!(
            "the Docker daemon refused a BuildKit session ({status}): {}",
            crate::redact::quote_body(&body.unwrap_or_default())
        );
    }
    let upgraded = hyper::upgrade::on(resp)
        .await
        .context("the Docker daemon did not switch the session to HTTP/2")?;
    let conn = Conn(TokioIo::new(upgraded));
    let server = tokio::spawn(serve(conn, attachments));
    Ok(Session {
        id,
        server,
        _private_agents: private_agents,
    })
}

/// Serves gRPC on the upgraded connection until the daemon closes it.
async fn serve(conn: Conn, attachments: Attachments) {
    let mut router = tonic::transport::Server::builder()
        .add_service(health::health_server::HealthServer::new(Health))
        .add_service(auth::auth_server::AuthServer::new(RegistryAuth(
            attachments.credentials,
        )));
    router = router.add_optional_service(attachments.secrets.map(SecretsServer::new));
    router = router.add_optional_service(attachments.ssh.map(SshServer::new));
    router = router.add_optional_service(attachments.files);
    let incoming = futures_util::stream::iter([Ok::<_, std::io::Error>(conn)]);
    if let Err(e) = router.serve_with_incoming(incoming).await {
        tracing::debug!("BuildKit session ended: {e}");
    }
}

/// The upgraded connection, as tonic's server wants it.
struct Conn(TokioIo<hyper::upgrade::Upgraded>);

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A boxed response stream.
pub type Streamed<T> = Pin<Box<dyn futures_util::Stream<Item = Result<T, Status>> + Send>>;

/// The health service the daemon polls: always serving while the session is up.
struct Health;

#[tonic::async_trait]
impl health::health_server::Health for Health {
    async fn check(
        &self,
        _: Request<health::HealthCheckRequest>,
    ) -> Result<Response<health::HealthCheckResponse>, Status> {
        Ok(Response::new(health::HealthCheckResponse {
            status: health::health_check_response::ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _: Request<health::HealthListRequest>,
    ) -> Result<Response<health::HealthListResponse>, Status> {
        Err(Status::unimplemented("list"))
    }

    type WatchStream = Streamed<health::HealthCheckResponse>;

    async fn watch(
        &self,
        _: Request<health::HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

/// Registry credentials, as the docker CLI serves them: BuildKit asks per registry host when it pulls a
/// base image or reads a registry cache; an unknown host gets an empty answer (an anonymous pull).
struct RegistryAuth(Option<CredentialLookup>);

#[tonic::async_trait]
impl auth::auth_server::Auth for RegistryAuth {
    async fn credentials(
        &self,
        req: Request<auth::CredentialsRequest>,
    ) -> Result<Response<auth::CredentialsResponse>, Status> {
        let host = req.into_inner().host;
        let Some(lookup) = self.0.clone() else {
            return Ok(Response::new(auth::CredentialsResponse::default()));
        };
        // A credential helper is a process: keep it off the session's task.
        let found = tokio::task::spawn_blocking(move || lookup(&host))
            .await
            .ok()
            .flatten();
        let (username, secret) = found.unwrap_or_default();
        Ok(Response::new(auth::CredentialsResponse {
            username,
            secret,
        }))
    }
    async fn fetch_token(
        &self,
        _: Request<auth::FetchTokenRequest>,
    ) -> Result<Response<auth::FetchTokenResponse>, Status> {
        Err(Status::unimplemented("fetch token"))
    }
    async fn get_token_authority(
        &self,
        _: Request<auth::GetTokenAuthorityRequest>,
    ) -> Result<Response<auth::GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("token authority"))
    }
    async fn verify_token_authority(
        &self,
        _: Request<auth::VerifyTokenAuthorityRequest>,
    ) -> Result<Response<auth::VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("token authority"))
    }
}
