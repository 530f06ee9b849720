//! Provider `docker`: replace a named container on a Docker host by one from the new image, keeping its
//! configuration (env, ports, mounts, networks, restart policy, labels — inspected and recreated), wait
//! until it runs and its HEALTHCHECK passes, and roll back to the previous container when it does not.
//! Verified by image ID.
//!
//! Only what the container adds to its image is carried over (its own env entries, labels, command…), so
//! the new image's defaults — its HEALTHCHECK, its labels, its env — apply to the new container.

use super::report::{TargetResult, TargetStatus};
use super::settings::Timing;
use super::target::TargetConfig;
use super::template::Vars;
use crate::output::{Output, human_duration};
use crate::signal;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, HealthStatusEnum, HostConfig,
    ImageConfig, NetworkConnectRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, RemoveContainerOptions, RenameContainerOptions,
    StopContainerOptions,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Connects to a target's Docker host: its `docker_host`, else `DOCKER_HOST`, else the local socket
/// (TLS from `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH` either way), through the shared [`crate::docker`]
/// connection. A daemon that does not answer is an outside failure (exit 4).
pub async fn connect(host: Option<&str>) -> anyhow::Result<(Docker, String)> {
    let target = target(host);
    let conn =
        crate::docker::connect_to(&target, REQUEST_TIMEOUT, crate::docker::PING_TIMEOUT).await?;
    Ok((conn.docker, target.host))
}

/// Where a target's containers run: its `docker_host` over the environment's `DOCKER_HOST`.
pub fn target(host: Option<&str>) -> crate::docker::Target {
    crate::docker::Target::from_env().with_host(host, "the target's docker_host")
}

/// How long one request to a target's daemon may take (an image pull included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

fn not_found(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The name under which the previous container waits while the new one proves healthy.
pub fn previous_name(name: &str) -> String {
    format!("{name}-stevedore-previous")
}

/// Entries of `list` that `base` does not have.
fn minus(list: &Option<Vec<String>>, base: &Option<Vec<String>>) -> Option<Vec<String>> {
    let b = base.clone().unwrap_or_default();
    list.as_ref()
        .map(|l| {
            l.iter()
                .filter(|x| !b.contains(x))
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
}

/// `mine` when it differs from the image's default, else none (the new image's default applies).
fn own<T: PartialEq + Clone>(mine: &Option<T>, image: &Option<T>) -> Option<T> {
    if mine == image { None } else { mine.clone() }
}

/// The create body of a replacement: the old container's own settings on the new image. Returns it and
/// the extra networks to connect after creation (API 1.41 creates with one network only).
pub fn recreate_body(
    old: &ContainerInspectResponse,
    old_image: &ImageConfig,
    new_image: &str,
) -> (ContainerCreateBody, Vec<(String, EndpointSettings)>) {
    let c = old.config.clone().unwrap_or_default();
    let img = old_image;
    let short_id: String = old
        .id
        .clone()
        .unwrap_or_default()
        .chars()
        .take(12)
        .collect();
    let labels = c.labels.as_ref().map(|l| {
        let base = img.labels.clone().unwrap_or_default();
        l.iter()
            .filter(|(k, v)| base.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    });
    let host_config = with_anonymous_volumes(old);
    let (networking_config, extra) = networks(old, &host_config, &short_id);
    let body = ContainerCreateBody {
        hostname: c.hostname.clone().filter(|h| *h != short_id),
        domainname: c.domainname.clone().filter(|d| !d.is_empty()),
        user: own(&c.user, &img.user),
        attach_stdin: c.attach_stdin,
        attach_stdout: c.attach_stdout,
        attach_stderr: c.attach_stderr,
        exposed_ports: minus(&c.exposed_ports, &img.exposed_ports),
        tty: c.tty,
        open_stdin: c.open_stdin,
        stdin_once: c.stdin_once,
        env: minus(&c.env, &img.env),
        cmd: own(&c.cmd, &img.cmd),
        healthcheck: own(&c.healthcheck, &img.healthcheck),
        image: Some(new_image.to_string()),
        working_dir: own(&c.working_dir, &img.working_dir),
        entrypoint: own(&c.entrypoint, &img.entrypoint),
        labels: labels.filter(|l| !l.is_empty()),
        stop_signal: own(&c.stop_signal, &img.stop_signal),
        stop_timeout: c.stop_timeout,
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    };
    (body, extra)
}

/// The old container's host config, with its anonymous volumes (an image's VOLUME holds data too)
/// mounted by name so the new container gets the same data.
fn with_anonymous_volumes(old: &ContainerInspectResponse) -> HostConfig {
    let mut host_config = old.host_config.clone().unwrap_or_default();
    let mut covered: Vec<String> = host_config
        .binds
        .iter()
        .flatten()
        .filter_map(|b| b.split(':').nth(1).map(str::to_string))
        .collect();
    covered.extend(
        host_config
            .mounts
            .iter()
            .flatten()
            .filter_map(|m| m.target.clone()),
    );
    for m in old.mounts.iter().flatten() {
        if let (Some("volume"), Some(name), Some(dest)) = (
            m.typ.as_deref(),
            m.name.as_deref(),
            m.destination.as_deref(),
        ) && !covered.iter().any(|c| c == dest)
        {
            host_config
                .binds
                .get_or_insert_with(Vec::new)
                .push(format!("{name}:{dest}"));
        }
    }
    host_config
}

/// The primary network to create with (unless a default one) and the others to connect afterwards,
/// with their aliases (without the generated short-id alias), links and IPAM settings.
fn networks(
    old: &ContainerInspectResponse,
    host_config: &HostConfig,
    short_id: &str,
) -> (Option<NetworkingConfig>, Vec<(String, EndpointSettings)>) {
    let mode = host_config.network_mode.clone().unwrap_or_default();
    let clean = |e: &EndpointSettings| EndpointSettings {
        aliases: e
            .aliases
            .as_ref()
            .map(|a| a.iter().filter(|x| *x != short_id).cloned().collect()),
        links: e.links.clone(),
        ipam_config: e.ipam_config.clone(),
        driver_opts: e.driver_opts.clone(),
        ..Default::default()
    };
    let all = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default();
    let mut primary = None;
    let mut extra = Vec::new();
    for (name, ep) in all {
        if name == mode || (mode == "default" && name == "bridge") {
            primary = Some((name, clean(&ep)));
        } else {
            extra.push((name, clean(&ep)));
        }
    }
    extra.sort_by(|a, b| a.0.cmp(&b.0));
    let networking_config = primary
        .filter(|(n, _)| !["bridge", "host", "none", "default"].contains(&n.as_str()))
        .map(|(n, ep)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n, ep)])),
        });
    (networking_config, extra)
}

/// How a container came up.
enum Health {
    Healthy,
    Failed(String),
    /// A signal arrived while waiting.
    Interrupted(signal::Cancelled),
}

/// Waits until the container runs and (when it has a HEALTHCHECK) reports healthy; fails when it exits,
/// reports unhealthy, or the deadline passes.
async fn wait_healthy(d: &Docker, id: &str, timeout: Duration) -> anyhow::Result<Health> {
    let start = Instant::now();
    let mut running_since: Option<Instant> = None;
    loop {
        let i = d.inspect_container(id, None).await?;
        let st = i.state.unwrap_or_default();
        let running = st.running.unwrap_or(false) && !st.restarting.unwrap_or(false);
        let health = st.health.as_ref().and_then(|h| h.status);
        if !running && st.status.map(|s| s.to_string()) != Some("created".into()) {
            return Ok(Health::Failed(format!(
                "the new container is not running (status {}, exit code {})",
                st.status.map(|s| s.to_string()).unwrap_or_default(),
                st.exit_code.unwrap_or_default()
            )));
        }
        match health {
            Some(HealthStatusEnum::HEALTHY) => return Ok(Health::Healthy),
            Some(HealthStatusEnum::UNHEALTHY) => {
                let log = st
                    .health
                    .as_ref()
                    .and_then(|h| h.log.as_ref())
                    .and_then(|l| l.last())
                    .map(|r| {
                        let o = r.output.clone().unwrap_or_default();
                        match o.trim() {
                            "" => format!("exit {}", r.exit_code.unwrap_or_default()),
                            o => format!("exit {}: {o}", r.exit_code.unwrap_or_default()),
                        }
                    })
                    .unwrap_or_default();
                return Ok(Health::Failed(format!(
                    "the new container's HEALTHCHECK fails ({log})"
                )));
            }
            Some(HealthStatusEnum::STARTING) => {}
            _ => {
                // No health check: running for two seconds is as good as it gets.
                if running {
                    let since = *running_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= Duration::from_secs(2) {
                        return Ok(Health::Healthy);
                    }
                }
            }
        }
        if start.elapsed() >= timeout {
            return Ok(Health::Failed(format!(
                "the new container is not healthy after {} (health {})",
                human_duration(timeout),
                health
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "none".into())
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Makes sure the image is on the host (pulls it, with the registry credentials of the CI context when
/// given) and returns its image ID.
async fn ensure_image(
    d: &Docker,
    image: &str,
    creds: Option<bollard::auth::DockerCredentials>,
    out: &Output,
    target: &str,
) -> anyhow::Result<String> {
    match d.inspect_image(image).await {
        Ok(i) => return Ok(i.id.unwrap_or_default()),
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    out.info(format!("{target}: pulling {image}"));
    let mut s = d.create_image(
        Some(CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        }),
        None,
        creds,
    );
    while let Some(item) = s.next().await {
        item.map_err(|e| {
            anyhow::anyhow!("cannot pull {image}: {e} — check the registry and its credentials")
        })?;
    }
    Ok(d.inspect_image(image).await?.id.unwrap_or_default())
}

/// Deploys one docker target.
pub async fn deploy(
    t: &TargetConfig,
    vars: &Vars,
    creds: Option<bollard::auth::DockerCredentials>,
    s: &Timing,
    out: &Output,
) -> TargetResult {
    let mut res = TargetResult::new(t, TargetStatus::Failed, vars.digest.clone());
    let (d, host) = match connect(t.docker_host.as_deref()).await {
        Ok(x) => x,
        Err(e) => {
            let mut r = res.err(
                TargetStatus::Failed,
                crate::exit::render(&e).replace("error: ", ""),
            );
            r.unreachable = true;
            return r;
        }
    };
    res.url = Some(host);
    let job = Job {
        d: &d,
        t,
        vars,
        s,
        out,
        name: t.container.clone().unwrap_or_default(),
    };
    match job.replace(creds, &mut res).await {
        Ok(()) => res,
        Err(e) => {
            let msg = format!("{e:#}");
            res.err(TargetStatus::Failed, msg)
        }
    }
}

/// One target's replacement: the daemon, the target and the container name.
struct Job<'a> {
    d: &'a Docker,
    t: &'a TargetConfig,
    vars: &'a Vars,
    s: &'a Timing,
    out: &'a Output,
    name: String,
}

/// The container that serves now and the one a replacement sets aside.
struct Found {
    /// The container under the target's name, if any.
    live: Option<ContainerInspectResponse>,
    /// `NAME-stevedore-previous` left by an interrupted deploy: the last good container.
    left: Option<ContainerInspectResponse>,
}

fn image_of(c: &ContainerInspectResponse) -> String {
    c.image.clone().unwrap_or_default()
}

fn is_running(c: &ContainerInspectResponse) -> bool {
    c.state.as_ref().and_then(|s| s.running).unwrap_or(false)
}

impl Job<'_> {
    async fn inspect(&self, name: &str) -> anyhow::Result<Option<ContainerInspectResponse>> {
        match self.d.inspect_container(name, None).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn replace(
        &self,
        creds: Option<bollard::auth::DockerCredentials>,
        res: &mut TargetResult,
    ) -> anyhow::Result<()> {
        let (name, prev) = (&self.name, previous_name(&self.name));
        let live = self.inspect(name).await?;
        let left = self
            .inspect(&prev)
            .await?
            .filter(|p| live.as_ref().is_none_or(|l| l.id != p.id));
        if live.is_none() && left.is_none() {
            anyhow::bail!(
                "container {name} not found on {}: create it once by hand; stevedore replaces an existing container",
                res.url.clone().unwrap_or_default()
            );
        }
        let pulled = signal::or_cancel(ensure_image(
            self.d,
            &self.vars.image,
            creds,
            self.out,
            &self.t.name,
        ));
        let new_image_id = match pulled.await {
            Ok(r) => r?,
            Err(c) => anyhow::bail!(
                "{c} while pulling {}: {name} left untouched",
                self.vars.image
            ),
        };
        res.expected = new_image_id.clone();
        let found = Found { live, left };
        res.observed = found.live.as_ref().or(found.left.as_ref()).map(image_of);
        match found {
            Found {
                live: Some(live),
                left: None,
            } => self.fresh(live, &new_image_id, res).await,
            Found {
                live,
                left: Some(good),
            } => self.resume(live, good, &new_image_id, res).await,
            Found {
                live: None,
                left: None,
            } => unreachable!("checked above"),
        }
    }

    /// The usual case: the live container is the last good one.
    async fn fresh(
        &self,
        old: ContainerInspectResponse,
        new_image_id: &str,
        res: &mut TargetResult,
    ) -> anyhow::Result<()> {
        let (name, prev) = (&self.name, previous_name(&self.name));
        let old_id = old.id.clone().unwrap_or_default();
        let was_running = is_running(&old);
        if image_of(&old) == new_image_id && was_running {
            self.out.info(format!(
                "{}: {name} already runs {}",
                self.t.name, self.vars.image
            ));
            let health = signal::or_cancel(wait_healthy(self.d, &old_id, self.s.verify_timeout));
            match health.await {
                Err(c) => anyhow::bail!("{c} while checking {name}: left it running as it was"),
                Ok(h) => {
                    if let Health::Failed(why) = h? {
                        anyhow::bail!("{name} runs the new image but is not healthy: {why}");
                    }
                }
            }
            res.status = TargetStatus::Ok;
            return Ok(());
        }
        let body = self.body_from(&old).await;
        self.out.info(format!(
            "{}: replacing {name} ({}) by {}",
            self.t.name,
            super::report::short(&image_of(&old)),
            self.vars.image
        ));
        let _critical = signal::critical(format!("deploy: {name} is being replaced"));
        if was_running {
            self.d
                .stop_container(
                    &old_id,
                    Some(StopContainerOptions {
                        t: Some(30),
                        ..Default::default()
                    }),
                )
                .await?;
        }
        if let Err(e) = self
            .d
            .rename_container(&old_id, RenameContainerOptions { name: prev.clone() })
            .await
        {
            if was_running {
                let _ = self.d.start_container(&old_id, None).await;
            }
            anyhow::bail!(
                "cannot set {name} aside as {prev}: {e} — left {name} as it was (restarted); remove any container named {prev} and deploy again"
            );
        }
        let started = start_new(self.d, name, body.0, &body.1).await;
        self.settle(started, &old, was_running, new_image_id, res)
            .await
    }

    /// A `-previous` container left by an interrupted deploy is the last good one: it stays until the
    /// new container is verified, and a failure rolls back to it — never to the unverified container.
    async fn resume(
        &self,
        live: Option<ContainerInspectResponse>,
        good: ContainerInspectResponse,
        new_image_id: &str,
        res: &mut TargetResult,
    ) -> anyhow::Result<()> {
        let (name, prev) = (&self.name, previous_name(&self.name));
        self.out.warn(format!(
            "{}: found {prev} (image {}) left by an interrupted deploy: keeping it as the last good container until the new one is verified{}",
            self.t.name,
            super::report::short(&image_of(&good)),
            match &live {
                Some(l) => format!("; {name} (image {}) was never verified and is replaced", super::report::short(&image_of(l))),
                None => String::new(),
            }
        ));
        let _critical = signal::critical(format!(
            "deploy: {name} is being replaced ({prev} is the last good one)"
        ));
        let started = match live {
            Some(l) if image_of(&l) == new_image_id && is_running(&l) => {
                Ok(l.id.clone().unwrap_or_default())
            }
            Some(l) => {
                let id = l.id.clone().unwrap_or_default();
                self.d
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptions {
                            force: true,
                            ..Default::default()
                        }),
                    )
                    .await?;
                let body = self.body_from(&good).await;
                start_new(self.d, name, body.0, &body.1).await
            }
            None => {
                let body = self.body_from(&good).await;
                start_new(self.d, name, body.0, &body.1).await
            }
        };
        self.settle(started, &good, true, new_image_id, res).await
    }

    /// The create body of the replacement of `old` (its own settings on the new image).
    async fn body_from(
        &self,
        old: &ContainerInspectResponse,
    ) -> (ContainerCreateBody, Vec<(String, EndpointSettings)>) {
        let cfg = self
            .d
            .inspect_image(&image_of(old))
            .await
            .ok()
            .and_then(|i| i.config)
            .unwrap_or_default();
        recreate_body(old, &cfg, &self.vars.image)
    }

    /// Waits for the new container; keeps it and removes the last good one when it is healthy, else
    /// (unhealthy, timeout, or a signal) rolls back to the last good one.
    async fn settle(
        &self,
        started: anyhow::Result<String>,
        good: &ContainerInspectResponse,
        start_good: bool,
        new_image_id: &str,
        res: &mut TargetResult,
    ) -> anyhow::Result<()> {
        let (name, prev) = (&self.name, previous_name(&self.name));
        let health = match &started {
            Ok(id) => {
                match signal::or_cancel(wait_healthy(self.d, id, self.s.verify_timeout)).await {
                    Ok(h) => h.unwrap_or_else(|e| Health::Failed(format!("{e:#}"))),
                    Err(c) => Health::Interrupted(c),
                }
            }
            Err(e) => Health::Failed(format!("{e:#}")),
        };
        let why = match health {
            Health::Healthy => {
                let id = started.as_ref().map(String::clone).unwrap_or_default();
                return self.keep(&id, good, new_image_id, res).await;
            }
            Health::Failed(why) => why,
            Health::Interrupted(c) => format!("{c} before the new container was verified"),
        };
        let old_image = super::report::short(&image_of(good));
        self.out.warn(format!(
            "{}: {why}; rolling back {name} to {old_image}",
            self.t.name
        ));
        rollback(self.d, name, &prev, start_good).await.map_err(|e| {
            anyhow::anyhow!(
                "{why}; ROLLBACK FAILED: {e:#} — the previous container is {prev}: rename it to {name} and start it"
            )
        })?;
        let now = self.d.inspect_container(name, None).await?;
        res.observed = now.image.clone();
        self.out.info(format!(
            "{}: rolled back: {name} runs {old_image} again",
            self.t.name
        ));
        anyhow::bail!("{why}: rolled back, {name} runs the previous image {old_image} again")
    }

    /// The new container is healthy: check it runs the new image, then remove the last good one.
    async fn keep(
        &self,
        id: &str,
        good: &ContainerInspectResponse,
        new_image_id: &str,
        res: &mut TargetResult,
    ) -> anyhow::Result<()> {
        let name = &self.name;
        let now = self.d.inspect_container(id, None).await?;
        let observed = image_of(&now);
        res.observed = Some(observed.clone());
        if observed != new_image_id {
            anyhow::bail!("{name} runs image {observed}, expected {new_image_id}");
        }
        let good_id = good.id.clone().unwrap_or_default();
        self.d
            .remove_container(
                &good_id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await?;
        self.out.info(format!(
            "{}: {name} runs {} and is healthy",
            self.t.name,
            super::report::short(new_image_id)
        ));
        res.status = TargetStatus::Ok;
        Ok(())
    }
}

async fn start_new(
    d: &Docker,
    name: &str,
    body: ContainerCreateBody,
    extra_networks: &[(String, EndpointSettings)],
) -> anyhow::Result<String> {
    let created = d
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.to_string()),
                ..Default::default()
            }),
            body,
        )
        .await?;
    for (net, ep) in extra_networks {
        d.connect_network(
            net,
            NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(ep.clone()),
            },
        )
        .await?;
    }
    d.start_container(&created.id, None).await?;
    Ok(created.id)
}

async fn rollback(d: &Docker, name: &str, prev: &str, start: bool) -> anyhow::Result<()> {
    match d
        .remove_container(
            name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => {}
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    d.rename_container(
        prev,
        RenameContainerOptions {
            name: name.to_string(),
        },
    )
    .await?;
    if start {
        d.start_container(name, None).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerConfig, NetworkSettings, RestartPolicy};

    /// A client's container on a v1 image: own env, label, restart policy, bind mount, anonymous
    /// volume, two networks.
    fn client_container() -> ContainerInspectResponse {
        ContainerInspectResponse {
            id: Some("0123456789abcdef".into()),
            config: Some(ContainerConfig {
                hostname: Some("0123456789ab".into()),
                env: Some(vec![
                    "PATH=/bin".into(),
                    "APP_VERSION=v1".into(),
                    "CLIENT=acme".into(),
                ]),
                cmd: Some(vec!["/bin/app".into()]),
                labels: Some(HashMap::from([
                    ("app.version".into(), "v1".into()),
                    ("client".into(), "acme".into()),
                ])),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some("front".into()),
                restart_policy: Some(RestartPolicy {
                    name: Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                binds: Some(vec!["/srv/acme:/data".into()]),
                ..Default::default()
            }),
            mounts: Some(vec![
                bollard::models::MountPoint {
                    typ: Some("bind".into()),
                    source: Some("/srv/acme".into()),
                    destination: Some("/data".into()),
                    ..Default::default()
                },
                bollard::models::MountPoint {
                    typ: Some("volume".into()),
                    name: Some("f00dfeed".into()),
                    destination: Some("/cache".into()),
                    ..Default::default()
                },
            ]),
            network_settings: Some(NetworkSettings {
                networks: Some(HashMap::from([
                    (
                        "front".to_string(),
                        EndpointSettings {
                            aliases: Some(vec!["web".into(), "0123456789ab".into()]),
                            ip_address: Some("172.18.0.5".into()),
                            ..Default::default()
                        },
                    ),
                    ("back".to_string(), EndpointSettings::default()),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn recreate_keeps_own_settings_and_takes_the_new_images_defaults() {
        let img = ImageConfig {
            env: Some(vec!["PATH=/bin".into(), "APP_VERSION=v1".into()]),
            cmd: Some(vec!["/bin/app".into()]),
            labels: Some(HashMap::from([("app.version".into(), "v1".into())])),
            ..Default::default()
        };
        let (body, extra) = recreate_body(&client_container(), &img, "r/app@sha256:x");
        assert_eq!(body.image.as_deref(), Some("r/app@sha256:x"));
        assert_eq!(body.env, Some(vec!["CLIENT=acme".to_string()]));
        assert_eq!(body.cmd, None, "the new image's command applies");
        assert_eq!(
            body.hostname, None,
            "the generated hostname is not carried over"
        );
        let labels = body.labels.unwrap();
        assert_eq!(labels.get("client").map(String::as_str), Some("acme"));
        assert!(!labels.contains_key("app.version"));
        let hc = body.host_config.unwrap();
        assert_eq!(
            hc.binds,
            Some(vec![
                "/srv/acme:/data".to_string(),
                "f00dfeed:/cache".to_string()
            ]),
            "the anonymous volume is kept"
        );
        assert!(hc.restart_policy.is_some());
        let eps = body.networking_config.unwrap().endpoints_config.unwrap();
        let front = &eps["front"];
        assert_eq!(front.aliases, Some(vec!["web".to_string()]));
        assert_eq!(
            front.ip_address, None,
            "runtime addresses are not requested"
        );
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].0, "back");
    }
}
