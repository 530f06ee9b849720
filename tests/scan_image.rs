//! `stevedore scan --image` / `--archive` and the scan gate of `build --push`, against the real daemon
//! and a real registry, with images built here `FROM` the scratch + busybox base.

mod common;
mod scan_support;

use common::*;
use scan_support::{KEY_A, KEY_B, KEY_C};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Removes the images a test created (and only those) when dropped.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for i in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

fn name(what: &str) -> String {
    format!("stevedore-test-imagescan/{what}-{}:1", std::process::id())
}

/// Builds `dockerfile` (classic builder, so `RUN` history shows build arguments as Docker 20.10's
/// users see them) with extra context files and build args; returns the tag.
fn build(tag: &str, dockerfile: &str, files: &[(&str, &str)], args: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("Dockerfile"),
        format!("FROM {}\n{dockerfile}", busybox_image()),
    )
    .unwrap();
    for (n, b) in files {
        std::fs::write(d.path().join(n), b).unwrap();
    }
    let mut a = vec!["build", "-q", "-t", tag];
    a.extend_from_slice(args);
    let dir = d.path().display().to_string();
    a.push(&dir);
    let out = Command::new("docker")
        .args(&a)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn read_json(p: &Path) -> Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&t).unwrap()
}

fn summary_facts(dir: &Path, step: &str) -> Value {
    for p in [
        dir.join(".stevedore/summary.json"),
        dir.join("stevedore-summary.json"),
    ] {
        if p.is_file() {
            let s = read_json(&p);
            if let Some(f) = s["steps"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["step"] == step))
            {
                return f["facts"].clone();
            }
        }
    }
    panic!("no {step} step in the run summary under {}", dir.display());
}

fn gitlab_schema() -> Value {
    let name = "secret-detection-report-format.json";
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut c: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("STEVEDORE_SPECS_DIR") {
        c.push(PathBuf::from(d).join(name));
    }
    c.push(manifest.join("../shared/specs").join(name));
    c.push(manifest.join("../../shared/specs").join(name));
    let p = c
        .iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found in {c:?}: set STEVEDORE_SPECS_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

const LEAKY: &str = "COPY .env /app/.env\nRUN rm /app/.env\nARG DEPLOY_KEY\nRUN echo deploying with \"$DEPLOY_KEY\" > /dev/null\nENV AWS_ACCESS_KEY_ID=";

#[test]
fn leaky_image_reports_deleted_env_build_arg_and_env_with_every_report_format() {
    require_docker();
    let tag = name("leaky");
    let _c = Images(vec![tag.clone()]);
    let env = format!("AWS_ACCESS_KEY_ID={KEY_A}\n");
    let build_arg = format!("DEPLOY_KEY={KEY_B}");
    let _ctx = build(
        &tag,
        &format!("{LEAKY}{KEY_C}\n"),
        &[(".env", &env)],
        &["--build-arg", &build_arg],
    );
    let work = tempfile::tempdir().unwrap();
    let (code, out, err) = stevedore(
        work.path(),
        &[
            "scan",
            "--image",
            &tag,
            "--report-format",
            "json",
            "--report-path",
            "r.json",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    let r = read_json(&work.path().join("r.json"));
    let arr = r.as_array().unwrap();
    let find = |file: &str| {
        arr.iter()
            .find(|f| f["File"] == file)
            .unwrap_or_else(|| panic!("no {file} in {r:#}"))
    };
    let dotenv = find("/app/.env");
    assert_eq!(dotenv["Image"], tag.as_str());
    // The base is two layers (busybox and its links).
    assert_eq!(dotenv["Layer"], 3, "{dotenv:#}");
    assert!(
        dotenv["LayerDigest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        dotenv["Location"]
            .as_str()
            .unwrap()
            .ends_with("deleted by layer 4: still in the image"),
        "{dotenv:#}"
    );
    assert!(
        find("config:history")["Fix"]
            .as_str()
            .unwrap()
            .contains("--mount=type=secret")
    );
    assert_eq!(find("config:Env")["RuleID"], "aws-access-key-id");
    assert_eq!(arr.len(), 3, "{r:#}");
    for k in [KEY_A, KEY_B, KEY_C] {
        assert!(
            !out.contains(k) && !err.contains(k) && !r.to_string().contains(k),
            "a secret leaked into the output"
        );
    }
    assert!(
        out.contains("still in the image") && out.contains("--mount=type=secret"),
        "{out}"
    );
    // Every format; the GitLab report is valid against the 15.2.1 schema and names image and layer.
    for (fmt, file) in [
        ("gitlab", "gl.json"),
        ("sarif", "r.sarif"),
        ("csv", "r.csv"),
        ("junit", "r.xml"),
    ] {
        let (code, _, err) = stevedore(
            work.path(),
            &[
                "scan",
                "--image",
                &tag,
                "--report-format",
                fmt,
                "--report-path",
                file,
            ],
            &[],
        );
        assert_eq!(code, 1, "{fmt}: {err}");
        let text = std::fs::read_to_string(work.path().join(file)).unwrap();
        assert!(
            text.contains(&tag) && text.contains("/app/.env"),
            "{fmt}: {text}"
        );
    }
    let doc = read_json(&work.path().join("gl.json"));
    let schema = gitlab_schema();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let loc = doc["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["location"]["file"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(
        loc.iter()
            .any(|l| l.contains(&tag) && l.contains("layer 3 (sha256:") && l.contains("/app/.env")),
        "{loc:?}"
    );
}

#[test]
fn suppressions_work_for_image_findings_and_fingerprints_survive_a_rebuild() {
    require_docker();
    let tag = name("suppressed");
    let _c = Images(vec![tag.clone()]);
    let env = format!("AWS_ACCESS_KEY_ID={KEY_A}\n");
    let _ctx = build(&tag, "COPY .env /srv/.env\n", &[(".env", &env)], &[]);
    let work = tempfile::tempdir().unwrap();
    let (code, _, err) = stevedore(
        work.path(),
        &[
            "scan",
            "--image",
            &tag,
            "--report-format",
            "json",
            "--report-path",
            "a.json",
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    let fp = read_json(&work.path().join("a.json"))[0]["Fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    // A rebuild with another layer underneath: the layer digest changes, the fingerprint does not.
    let _ctx2 = build(
        &tag,
        "RUN echo other > /other\nCOPY .env /srv/.env\n",
        &[(".env", &env)],
        &[],
    );
    let (_, _, _) = stevedore(
        work.path(),
        &[
            "scan",
            "--image",
            &tag,
            "--report-format",
            "json",
            "--report-path",
            "b.json",
        ],
        &[],
    );
    let b = read_json(&work.path().join("b.json"));
    assert_eq!(b[0]["Fingerprint"], fp.as_str());
    assert_eq!(b[0]["Layer"], 4);
    // The baseline suppresses it, then an ignore file does.
    let (code, _, err) = stevedore(
        work.path(),
        &["scan", "--image", &tag, "--baseline", "a.json"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    std::fs::write(work.path().join(".gitleaksignore"), format!("{fp}\n")).unwrap();
    let (code, _, err) = stevedore(work.path(), &["scan", "--image", &tag], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("suppressed (ignore file)"), "{err}");
}

#[test]
fn a_clean_image_with_many_files_has_no_finding_and_counts_skips() {
    require_docker();
    let tag = name("clean");
    let _c = Images(vec![tag.clone()]);
    let df = "RUN mkdir -p /app/src /usr/share/doc/pkg && for i in $(seq 1 1500); do echo \"def f$i(): return $i  # plain code\" > /app/src/m$i.py; done && echo 'token = AKIA example in docs' > /usr/share/doc/pkg/README\n";
    let _ctx = build(&tag, df, &[], &[]);
    let work = tempfile::tempdir().unwrap();
    let (code, out, err) = stevedore(work.path(), &["scan", "--image", &tag], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let f = summary_facts(work.path(), "image-scan");
    assert_eq!(f["findings"], 0, "{f}");
    assert!(f["files_scanned"].as_u64().unwrap() >= 1500, "{f}");
    assert_eq!(f["skipped_per_pattern"]["/usr/share/doc/**"], 1, "{f}");
    assert!(err.contains("skipped by /usr/share/doc/**"), "{err}");
}

/// An OCI layout tar with one gzip layer holding a key, made here.
fn oci_archive_with_gzip_layer(path: &Path) {
    let mut layer = tar::Builder::new(Vec::new());
    let body = format!("[default]\naws_access_key_id = {KEY_A}\n");
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o600);
    layer
        .append_data(&mut h, "root/.aws/credentials", body.as_bytes())
        .unwrap();
    let raw = layer.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    let hex = |b: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["sha256:{}"]}},"history":[{{"created_by":"COPY credentials"}}]}}"#,
        hex(&raw)
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{}","size":{}}}]}}"#,
        hex(config.as_bytes()),
        config.len(),
        hex(&gz),
        gz.len()
    );
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":{}}}]}}"#,
        hex(manifest.as_bytes()),
        manifest.len()
    );
    let mut out = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |n: &str, d: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        out.append_data(&mut h, n, d).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", index.as_bytes());
    add(
        &format!("blobs/sha256/{}", hex(manifest.as_bytes())),
        manifest.as_bytes(),
    );
    add(
        &format!("blobs/sha256/{}", hex(config.as_bytes())),
        config.as_bytes(),
    );
    add(&format!("blobs/sha256/{}", hex(&gz)), &gz);
    out.finish().unwrap();
}

#[test]
fn a_key_in_a_gzip_layer_of_an_oci_archive_and_a_docker_save_archive() {
    require_docker();
    let work = tempfile::tempdir().unwrap();
    let oci = work.path().join("oci.tar");
    oci_archive_with_gzip_layer(&oci);
    let sub = work.path().join("elsewhere");
    std::fs::create_dir_all(&sub).unwrap();
    let (code, _, err) = stevedore(
        &sub,
        &[
            "scan",
            "--archive",
            "../oci.tar",
            "--report-format",
            "json",
            "--report-path",
            "r.json",
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    let r = read_json(&sub.join("r.json"));
    assert_eq!(r[0]["File"], "/root/.aws/credentials");
    assert_eq!(r[0]["Layer"], 1);
    // The same image through `docker save` (Docker 20.10's own archive format).
    let tag = name("saved");
    let _c = Images(vec![tag.clone()]);
    let env = format!("AWS_ACCESS_KEY_ID={KEY_A}\n");
    let _ctx = build(&tag, "COPY .env /app/.env\n", &[(".env", &env)], &[]);
    let saved = work.path().join("saved.tar");
    docker(&["save", &tag, "-o", saved.to_str().unwrap()]);
    let (code, _, err) = stevedore(
        work.path(),
        &[
            "scan",
            "--archive",
            "saved.tar",
            "--report-format",
            "json",
            "--report-path",
            "s.json",
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        read_json(&work.path().join("s.json"))[0]["File"],
        "/app/.env"
    );
    let (code, _, err) = stevedore(work.path(), &["scan", "--archive", "missing.tar"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("docker save"), "{err}");
    let (code, _, err) = stevedore(
        work.path(),
        &["scan", "--image", "stevedore-test-imagescan/none:404"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("build it first"), "{err}");
}

fn tags_of(reg: &Registry, path: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-u",
            &format!("{}:{}", reg.user, reg.password),
            &format!("http://{}/v2/{path}/tags/list", reg.host),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn build_push_of_a_leaky_image_pushes_nothing_and_exits_1() {
    require_docker();
    let reg = Registry::start();
    let d = tempfile::tempdir().unwrap();
    let env = format!("AWS_ACCESS_KEY_ID={KEY_A}\n");
    std::fs::write(
        d.path().join("Dockerfile"),
        format!(
            "FROM {}\nCOPY .env /app/.env\nRUN rm /app/.env\n",
            busybox_image()
        ),
    )
    .unwrap();
    std::fs::write(d.path().join(".env"), &env).unwrap();
    let path = format!("group/leaky-{}", std::process::id());
    let image = format!("{}/{path}", reg.host);
    let _c = Images(vec![format!("{image}:3.0.0"), format!("{image}:latest")]);
    let dotenv = d.path().join("build.env");
    let dir = d.path().display().to_string();
    let ci = [
        ("CI", "true"),
        ("CI_PROJECT_DIR", dir.as_str()),
        ("CI_REGISTRY", reg.host.as_str()),
        ("CI_REGISTRY_IMAGE", image.as_str()),
        ("CI_REGISTRY_USER", reg.user.as_str()),
        ("CI_REGISTRY_PASSWORD", reg.password.as_str()),
        ("CI_COMMIT_TAG", "v3.0.0"),
    ];
    let (code, out, err) = stevedore(
        d.path(),
        &["build", "--push", "--dotenv", dotenv.to_str().unwrap(), "."],
        &ci,
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("push refused"), "{err}");
    assert!(!dotenv.exists(), "no dotenv after a refused push");
    let tags = tags_of(&reg, &path);
    assert!(
        !tags.contains("3.0.0") && !tags.contains("latest"),
        "nothing pushed: {tags}"
    );
    let report = read_json(
        &d.path()
            .join(".stevedore/gl-secret-detection-image-report.json"),
    );
    assert_eq!(
        report["vulnerabilities"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    assert!(!report.to_string().contains(KEY_A));
    // Turned off, it says so and pushes.
    let (code, out, err) = stevedore(
        d.path(),
        &[
            "build",
            "--push",
            "--no-scan-image",
            "--dotenv",
            dotenv.to_str().unwrap(),
            ".",
        ],
        &ci,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("image scan before push is off"), "{err}");
    assert!(tags_of(&reg, &path).contains("3.0.0"));
}
