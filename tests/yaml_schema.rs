//! Every YAML file we ship is valid against GitLab's CI schema (`shared/specs/gitlab-ci.schema.json`):
//! each document of the template (the `spec:` header, and the jobs once its inputs are interpolated as
//! GitLab does, with the defaults and with other allowed values) and our own `.gitlab-ci.yml`. Also the
//! template's contract: the inputs it declares are the ones it uses, the jobs and rules the issue names,
//! and tag rules identical to `stevedore run`'s.

use saphyr::{LoadableYamlNode, ScalarOwned, YamlOwned};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

const TEMPLATE: &str = "ci/stevedore.gitlab-ci.yml";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// GitLab's schema: `$STEVEDORE_GITLAB_CI_SCHEMA`, else `shared/specs/` beside the checkout or one of its
/// parents (a worktree sits one level deeper than the main checkout).
fn schema_path() -> PathBuf {
    if let Some(p) = std::env::var_os("STEVEDORE_GITLAB_CI_SCHEMA") {
        return PathBuf::from(p);
    }
    manifest()
        .ancestors()
        .map(|a| a.join("shared/specs/gitlab-ci.schema.json"))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "GitLab's CI schema is missing: expected shared/specs/gitlab-ci.schema.json beside the \
                 checkout ({}/../shared/specs/) or STEVEDORE_GITLAB_CI_SCHEMA=/path/to/gitlab-ci.schema.json",
                manifest().display()
            )
        })
}

fn validator() -> jsonschema::Validator {
    let path = schema_path();
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    jsonschema::draft7::options()
        .build(&schema)
        .unwrap_or_else(|e| panic!("cannot compile {}: {e}", path.display()))
}

/// YAML → JSON, as GitLab reads it (mapping keys become strings).
fn to_json(y: &YamlOwned) -> Value {
    match y {
        YamlOwned::Value(s) => match s {
            ScalarOwned::Null => Value::Null,
            ScalarOwned::Boolean(b) => Value::Bool(*b),
            ScalarOwned::Integer(i) => json!(i),
            ScalarOwned::FloatingPoint(f) => json!(f.into_inner()),
            ScalarOwned::String(s) => Value::String(s.clone()),
        },
        YamlOwned::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        YamlOwned::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match to_json(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                assert!(!out.contains_key(&key), "duplicate key {key}");
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        YamlOwned::Tagged(tag, inner) => panic!("unexpected YAML tag !{tag:?} on {inner:?}"),
        other => panic!("unsupported YAML node {other:?}"),
    }
}

/// The documents of a YAML file, as JSON.
fn documents(rel: &str) -> Vec<Value> {
    let path = manifest().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let docs = YamlOwned::load_from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    docs.iter().map(to_json).collect()
}

fn assert_valid(v: &jsonschema::Validator, what: &str, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is not valid against GitLab's CI schema:\n{}",
        errors.join("\n")
    );
}

/// GitLab's `$[[ inputs.NAME ]]` interpolation: a string that is only the placeholder takes the input's
/// value (of any type); a placeholder inside a longer string is replaced by the value's text.
fn interpolate(doc: &Value, inputs: &Map<String, Value>, used: &mut Vec<String>) -> Value {
    match doc {
        Value::String(s) => {
            let re = regex::Regex::new(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]").unwrap();
            let value_of = |name: &str| -> Value {
                inputs
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("the template uses undeclared input {name}"))
            };
            for c in re.captures_iter(s) {
                used.push(c[1].to_string());
            }
            if let Some(c) = re.captures(s)
                && c.get(0).unwrap().as_str() == s.as_str()
            {
                return value_of(&c[1]);
            }
            Value::String(
                re.replace_all(s, |c: &regex::Captures| match value_of(&c[1]) {
                    Value::String(t) => t,
                    other => other.to_string(),
                })
                .into_owned(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| interpolate(x, inputs, used)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), interpolate(x, inputs, used)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The template's declared inputs and their defaults.
fn template_inputs(header: &Value) -> Map<String, Value> {
    header["spec"]["inputs"]
        .as_object()
        .expect("spec.inputs")
        .iter()
        .map(|(k, v)| {
            let d = v
                .get("default")
                .cloned()
                .unwrap_or_else(|| panic!("input {k} has no default: the include would need it"));
            (k.clone(), d)
        })
        .collect()
}

#[test]
fn the_template_is_two_valid_documents_with_every_input_used() {
    let v = validator();
    let docs = documents(TEMPLATE);
    assert_eq!(
        docs.len(),
        2,
        "the template is a spec header, `---`, then the jobs"
    );
    assert_valid(&v, "the template's spec header", &docs[0]);
    let defaults = template_inputs(&docs[0]);
    for name in [
        "image",
        "scan_stage",
        "build_stage",
        "deploy_stage",
        "dockerfile",
        "context",
        "staging_environment",
        "production_environment",
        "production_when",
        "zulip_stream",
    ] {
        assert!(defaults.contains_key(name), "input {name} is missing");
    }
    let mut used = Vec::new();
    let jobs = interpolate(&docs[1], &defaults, &mut used);
    assert_valid(&v, "the template's jobs (input defaults)", &jobs);
    for name in defaults.keys() {
        assert!(
            used.contains(name),
            "input {name} is declared but never used"
        );
    }
    // Other allowed values: production deploys at once, a socket instead of dind.
    let mut other = defaults.clone();
    other.insert("production_when".into(), json!("on_success"));
    other.insert("docker_services".into(), json!([]));
    other.insert("docker_host".into(), json!("unix:///var/run/docker.sock"));
    other.insert("docker_tls_verify".into(), json!(""));
    other.insert("scan_args".into(), json!("--history"));
    let jobs2 = interpolate(&docs[1], &other, &mut Vec::new());
    assert_valid(&v, "the template's jobs (other inputs)", &jobs2);
    assert_eq!(jobs2["deploy-production"]["rules"][0]["when"], "on_success");
    assert_eq!(jobs2["build-image"]["services"], json!([]));
    assert_eq!(
        docs[0]["spec"]["inputs"]["production_when"]["options"],
        json!(["manual", "on_success"])
    );
}

#[test]
fn the_template_keeps_the_pipeline_contract() {
    let docs = documents(TEMPLATE);
    let jobs = interpolate(&docs[1], &template_inputs(&docs[0]), &mut Vec::new());
    assert_eq!(jobs["stages"], json!(["scan", "build", "deploy"]));
    // secret-scan: GitLab's secret-detection report, shown in merge requests.
    let scan = &jobs["secret-scan"];
    assert_eq!(scan["stage"], "scan");
    assert!(scan["script"][0].as_str().unwrap().starts_with(
        "stevedore scan --report-format gitlab --report-path .stevedore/gl-secret-detection-report.json"
    ));
    assert_eq!(
        scan["artifacts"]["reports"]["secret_detection"],
        ".stevedore/gl-secret-detection-report.json"
    );
    // build-image: prune first, then build and push; the digest in a dotenv report.
    let image = &jobs["build-image"];
    assert_eq!(image["stage"], "build");
    assert!(
        image["script"][0]
            .as_str()
            .unwrap()
            .starts_with("stevedore prune")
    );
    assert!(
        image["script"][1]
            .as_str()
            .unwrap()
            .starts_with("stevedore build --push --dotenv build.env")
    );
    assert_eq!(image["artifacts"]["reports"]["dotenv"], "build.env");
    // The image scan before the push: its report is a secret_detection artifact of build-image,
    // at the path the gate writes it to.
    assert_eq!(
        image["artifacts"]["reports"]["secret_detection"],
        format!(
            "{}/{}",
            stevedore::summary::DIR,
            stevedore::scan::image::GATE_REPORT
        )
    );
    // deploys: staging on prereleases, production on protected release tags, manual by default.
    let staging = &jobs["deploy-staging"];
    assert_eq!(staging["environment"]["name"], "staging");
    assert_eq!(
        staging["rules"][0]["if"],
        r#"$CI_COMMIT_TAG =~ /^v?\d+\.\d+\.\d+-(beta|rc)\.\d+$/ && $STEVEDORE_DEPLOY_PARALLEL == "1""#
    );
    assert_eq!(
        staging["script"][0],
        "stevedore release --dotenv release.env"
    );
    let prod = &jobs["deploy-production"];
    assert_eq!(prod["environment"]["name"], "production");
    assert_eq!(
        prod["rules"][0]["if"],
        r#"$CI_COMMIT_TAG =~ /^v?\d+\.\d+\.\d+$/ && $CI_COMMIT_REF_PROTECTED == "true" && $STEVEDORE_DEPLOY_PARALLEL == "1""#
    );
    assert_eq!(prod["rules"][0]["when"], "manual");
    assert_eq!(prod["rules"].as_array().unwrap().len(), 1);
    let refused = &jobs["production-refused"];
    assert!(refused.get("environment").is_none());
    assert_eq!(refused["script"][2], "exit 3");
    // Every stevedore job keeps the run summary and reports from after_script.
    let base = &jobs[".stevedore"];
    assert_eq!(base["artifacts"]["when"], "always");
    assert_eq!(
        base["artifacts"]["paths"],
        json!([format!("{}/", stevedore::summary::DIR)])
    );
    assert!(
        base["after_script"][0]
            .as_str()
            .unwrap()
            .contains("stevedore notify --status auto")
    );
    for job in [
        "secret-scan",
        "build-image",
        "deploy-staging",
        "deploy-production",
        "production-refused",
    ] {
        assert_eq!(jobs[job]["extends"], ".stevedore", "{job}");
    }
    for job in ["deploy-staging", "deploy-production"] {
        let paths = jobs[job]["artifacts"]["paths"].as_array().unwrap();
        assert!(
            paths.contains(&json!(format!("{}/", stevedore::summary::DIR))),
            "{job}: the output directory (summary, deploy report) travels on"
        );
    }
    // The secret-detection report is written where the artifact says.
    let scan = &jobs["secret-scan"];
    let report = scan["artifacts"]["reports"]["secret_detection"]
        .as_str()
        .unwrap();
    assert!(report.starts_with(".stevedore/"), "{report}");
    assert!(
        scan["script"][0]
            .as_str()
            .unwrap()
            .contains(&format!("--report-path {report}"))
    );
}

#[test]
fn the_template_routes_tags_like_stevedore_run() {
    use stevedore::run::steps::{PRODUCTION_TAG, STAGING_TAG};
    let text = std::fs::read_to_string(manifest().join(TEMPLATE)).unwrap();
    assert!(text.contains(&format!("$CI_COMMIT_TAG =~ /{STAGING_TAG}/")));
    assert!(text.contains(&format!("$CI_COMMIT_TAG =~ /{PRODUCTION_TAG}/ &&")));
}

#[test]
fn our_own_pipeline_is_valid() {
    let v = validator();
    let docs = documents(".gitlab-ci.yml");
    assert_eq!(docs.len(), 1);
    assert_valid(&v, ".gitlab-ci.yml", &docs[0]);
    let p = &docs[0];
    assert_eq!(p["include"][0]["local"], TEMPLATE);
    assert_eq!(p["test"]["script"], json!(["bash ci/test"]));
    assert!(p["publish"]["release"]["tag_name"] == "$CI_COMMIT_TAG");
}

#[test]
fn the_schema_check_rejects_what_gitlab_rejects() {
    let v = validator();
    let bad = json!({
        "stages": ["build"],
        "job": { "stage": "build", "script": ["true"], "when": "sometimes" },
    });
    assert!(
        v.iter_errors(&bad).next().is_some(),
        "when: sometimes passed"
    );
    let bad = json!({ "job": { "script": ["true"], "artifact": { "paths": ["x"] } } });
    assert!(
        v.iter_errors(&bad).next().is_some(),
        "a misspelt keyword passed"
    );
    let good = json!({ "job": { "script": ["true"], "artifacts": { "paths": ["x"] } } });
    assert!(v.iter_errors(&good).next().is_none());
}

#[test]
fn the_readme_pipeline_examples_are_valid() {
    let v = validator();
    let readme = std::fs::read_to_string(manifest().join("README.md")).unwrap();
    let mut blocks = 0;
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + 8..];
        let end = body
            .find("```")
            .expect("an unclosed ```yaml block in README.md");
        for (i, y) in YamlOwned::load_from_str(&body[..end])
            .unwrap_or_else(|e| panic!("README.md yaml block {blocks}: {e}"))
            .iter()
            .enumerate()
        {
            assert_valid(
                &v,
                &format!("README.md yaml block {blocks}.{i}"),
                &to_json(y),
            );
        }
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert!(blocks >= 1, "README.md shows no pipeline example");
}

/// Issue 13: `scan_parallel` and `deploy_parallel` (default 1: the single jobs, nothing sharded) turn
/// on `parallel:` shard jobs and one final notify job that gathers them; valid against the schema.
#[test]
fn the_template_shards_scan_and_deploy_over_parallel_jobs() {
    let v = validator();
    let docs = documents(TEMPLATE);
    let defaults = template_inputs(&docs[0]);
    assert_eq!(defaults["scan_parallel"], json!(1));
    assert_eq!(defaults["deploy_parallel"], json!(1));
    let one = interpolate(&docs[1], &defaults, &mut Vec::new());
    assert_eq!(
        one[".stevedore"]["variables"]["STEVEDORE_SCAN_PARALLEL"],
        json!(1)
    );
    assert_eq!(
        one["secret-scan"]["rules"][0]["if"],
        r#"$STEVEDORE_SCAN_PARALLEL == "1""#
    );
    assert_eq!(one["notify"]["rules"][0]["when"], "never");
    let mut inputs = defaults.clone();
    inputs.insert("scan_parallel".into(), json!(3));
    inputs.insert("deploy_parallel".into(), json!(4));
    let jobs = interpolate(&docs[1], &inputs, &mut Vec::new());
    assert_valid(
        &v,
        "the template's jobs (3 scan and 4 deploy shards)",
        &jobs,
    );
    assert_eq!(jobs["secret-scan-shards"]["parallel"], json!(3));
    assert_eq!(
        jobs["secret-scan-shards"]["artifacts"]["reports"]["secret_detection"],
        ".stevedore/gl-secret-detection-report-*-of-*.json"
    );
    for job in ["deploy-staging-shards", "deploy-production-shards"] {
        assert_eq!(jobs[job]["parallel"], json!(4), "{job}");
        assert!(
            jobs[job].get("resource_group").is_none(),
            "{job} would run one shard at a time"
        );
        assert!(
            jobs[job]["rules"][0]["if"]
                .as_str()
                .unwrap()
                .ends_with(r#"$STEVEDORE_DEPLOY_PARALLEL != "1""#)
        );
    }
    let notify = &jobs["notify"];
    let needs: Vec<&str> = notify["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["optional"], true);
            n["job"].as_str().unwrap()
        })
        .collect();
    for j in [
        "secret-scan-shards",
        "deploy-staging-shards",
        "deploy-production-shards",
    ] {
        assert!(needs.contains(&j), "notify does not wait for {j}");
    }
    assert_eq!(notify["rules"][1]["when"], "always");
    assert_eq!(
        notify["rules"][1]["variables"]["STEVEDORE_NOTIFY_SHARDS"],
        "scan=3,deploy=4"
    );
    assert_eq!(
        notify["rules"][3]["variables"]["STEVEDORE_NOTIFY_SHARDS"],
        "scan=3"
    );
    assert!(
        notify["script"][0]
            .as_str()
            .unwrap()
            .contains("stevedore notify --status auto")
    );
}
