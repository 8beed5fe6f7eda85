//! The deployment files (`Dockerfile`, `deploy/`): validated offline with
//! `kubernetes-validate` and `hadolint` (installed into target/py by
//! `cargo xtask test`), and checked for the invariants that keep a fleet
//! safe (grace periods, probes, scripts, no secrets inline).

use std::path::{Path, PathBuf};
use std::process::Command;

use anthropic_environments_tests::root;
use serde_yaml_ng::Value;

/// A tool of the `target/py` environment (beside the interpreter that
/// `cargo xtask test` names in `ANTHROPIC_ENVIRONMENTS_PYTHON`).
fn python_tool(name: &str) -> PathBuf {
    let python = std::env::var("ANTHROPIC_ENVIRONMENTS_PYTHON").expect(
        "ANTHROPIC_ENVIRONMENTS_PYTHON names target/py's interpreter: run `cargo xtask test`",
    );
    Path::new(&python).parent().unwrap().join(name)
}

/// Every Kubernetes manifest under deploy/ (not the kustomizations).
fn manifests() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in [
        "deploy/always-on",
        "deploy/sandbox-per-session",
        "deploy/webhook",
        "deploy/autoscaling",
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            // KEDA's resource is checked against KEDA's own schema.
            let keda = name.starts_with("keda-");
            if name.ends_with(".yaml") && name != "kustomization.yaml" && !keda {
                found.push(path);
            }
        }
    }
    found.sort();
    assert!(found.len() >= 7, "{found:?}");
    found
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn validate(paths: &[PathBuf]) {
    let output = Command::new(python_tool("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.33.0"])
        .args(paths)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(!text.contains("ERROR") && !text.contains("WARN"), "{text}");
}

#[test]
#[ignore = "needs kubernetes-validate from target/py: run `cargo xtask test`"]
fn manifests_validate_against_kubernetes_schemas() {
    validate(&manifests());
}

#[test]
#[ignore = "needs kubernetes-validate from target/py: run `cargo xtask test`"]
fn the_rendered_session_job_validates() {
    let rendered = render_session_job("work_01AbC", "session_01XyZ", "env_01QrS").unwrap();
    let dir = std::env::temp_dir().join(format!("antenv-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("job.yaml");
    std::fs::write(&file, &rendered).unwrap();
    validate(std::slice::from_ref(&file));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs hadolint from target/py: run `cargo xtask test`"]
fn the_dockerfile_passes_hadolint() {
    let output = Command::new(python_tool("hadolint"))
        .args(["--failure-threshold", "info"])
        .arg(root().join("Dockerfile"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the launcher script in dry-run mode: the Job it would create.
fn render_session_job(work: &str, session: &str, environment: &str) -> Result<String, String> {
    render_session_job_with(work, session, environment, "2026-12-01T23:59:59.123456Z")
}

/// The same, with the lease's last heartbeat the poller passes.
fn render_session_job_with(
    work: &str,
    session: &str,
    environment: &str,
    last_heartbeat: &str,
) -> Result<String, String> {
    let output = Command::new("sh")
        .arg(root().join("deploy/sandbox-per-session/launch-session-job.sh"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("ANTENV_DRY_RUN", "1")
        .env("ANTHROPIC_WORK_ID", work)
        .env("ANTHROPIC_SESSION_ID", session)
        .env("ANTHROPIC_ENVIRONMENT_ID", environment)
        .env("ANTHROPIC_WORK_LAST_HEARTBEAT", last_heartbeat)
        .output()
        .unwrap();
    match output.status.success() {
        true => Ok(String::from_utf8(output.stdout).unwrap()),
        false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

#[test]
fn the_launcher_renders_one_job_per_item_and_refuses_odd_ids() {
    let job = render_session_job("work_01AbC", "session_01XyZ", "env_01QrS").unwrap();
    assert!(!job.contains("__"), "every placeholder replaced:\n{job}");
    let doc: Value = serde_yaml_ng::from_str(&job).unwrap();
    let name = doc["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("antenv-work-01abc-"), "{name}");
    assert!(
        name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "{name}"
    );
    let env = &doc["spec"]["template"]["spec"]["containers"][0]["env"];
    let var = |n: &str| {
        env.as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(var("ANTHROPIC_WORK_ID")["value"], "work_01AbC");
    assert_eq!(var("ANTHROPIC_SESSION_ID")["value"], "session_01XyZ");
    assert_eq!(var("ANTHROPIC_ENVIRONMENT_ID")["value"], "env_01QrS");
    assert_eq!(
        var("ANTHROPIC_WORK_LAST_HEARTBEAT")["value"],
        "2026-12-01T23:59:59.123456Z",
        "the sandbox continues the launcher's lease"
    );
    // The key comes from the Secret, never inline.
    assert!(var("ANTHROPIC_ENVIRONMENT_KEY")["valueFrom"]["secretKeyRef"].is_mapping());
    // Two renders of one item: two Jobs (an item served again).
    let again = render_session_job("work_01AbC", "session_01XyZ", "env_01QrS").unwrap();
    let again: Value = serde_yaml_ng::from_str(&again).unwrap();
    assert_ne!(again["metadata"]["name"], doc["metadata"]["name"]);
    // Anything that could escape the YAML is refused.
    for bad in ["work\"; rm -rf /", "work\nkind: Pod", "", "work/../x"] {
        let err = render_session_job(bad, "session_1", "env_1").unwrap_err();
        assert!(err.contains("refusing"), "{bad:?}: {err}");
    }
    for bad in ["", "2026-12-01\"; x", "now\nkind: Pod"] {
        let err = render_session_job_with("work_1", "session_1", "env_1", bad).unwrap_err();
        assert!(err.contains("refusing"), "{bad:?}: {err}");
    }
}

/// How long `antenv`'s shutdown may take with these flags after `grace`:
/// a signalled script's kill grace plus the worker's 1 s, then the stop
/// phase (defaults 10 s each).
fn shutdown_bound(args: &[String], grace: u64) -> u64 {
    let kill_grace = flag_seconds(args, "--kill-grace").unwrap_or(10);
    let stop_timeout = flag_seconds(args, "--stop-timeout").unwrap_or(10);
    grace + kill_grace + 1 + stop_timeout
}

/// A duration flag's value in seconds (`--grace=45s`).
fn flag_seconds(args: &[String], flag: &str) -> Option<u64> {
    let value = args
        .iter()
        .find_map(|a| a.strip_prefix(&format!("{flag}=")))?;
    Some(value.trim_end_matches('s').parse().unwrap())
}

#[test]
fn pollers_outlast_their_grace_and_probe_their_health_port() {
    for (file, script_dir) in [
        ("deploy/always-on/deployment.yaml", "deploy/always-on"),
        (
            "deploy/sandbox-per-session/launcher.yaml",
            "deploy/sandbox-per-session",
        ),
    ] {
        let doc = &documents(&root().join(file))[0];
        let pod = &doc["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let args: Vec<String> = container["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(&args[..2], ["worker", "poll"], "{file}");
        // The shutdown's bound (see `antenv worker poll --help`): the
        // grace, a signalled script's kill grace plus the worker's 1 s, and
        // the stop phase; the kubelet must wait longer, with a margin.
        let grace = flag_seconds(&args, "--grace").expect("--grace");
        let bound = shutdown_bound(&args, grace);
        let termination = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert!(
            termination >= bound + 5,
            "{file}: terminationGracePeriodSeconds {termination} < {bound} + 5 s of margin"
        );
        // The probes reach the health server.
        let listen = args
            .iter()
            .find_map(|a| a.strip_prefix("--health-listen="))
            .unwrap();
        let port: u64 = listen.rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(
            container["ports"][0]["containerPort"].as_u64(),
            Some(port),
            "{file}"
        );
        for probe in ["readinessProbe", "livenessProbe"] {
            assert_eq!(
                container[probe]["httpGet"]["path"], "/healthz",
                "{file} {probe}"
            );
            assert_eq!(
                container[probe]["httpGet"]["port"], container["ports"][0]["name"],
                "{file}"
            );
        }
        // The key from a Secret; the script exists and is executable.
        let env = container["env"].as_sequence().unwrap();
        let key = env
            .iter()
            .find(|e| e["name"] == "ANTHROPIC_ENVIRONMENT_KEY")
            .unwrap();
        assert!(key["valueFrom"]["secretKeyRef"].is_mapping(), "{file}");
        let script = args
            .iter()
            .find_map(|a| a.strip_prefix("--on-work="))
            .unwrap();
        let local = root()
            .join(script_dir)
            .join(Path::new(script).file_name().unwrap());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&local).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{} is not executable", local.display());
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{file}");
    }
}

/// The per-session Job runs `worker run`, whose shutdown ends within the
/// script's kill grace (plus the worker's 1 s) and the stop phase; the
/// kubelet waits longer, with a margin.
#[test]
fn the_session_job_outlasts_worker_runs_shutdown() {
    let doc = &documents(&root().join("deploy/sandbox-per-session/session-job.yaml"))[0];
    let pod = &doc["spec"]["template"]["spec"];
    let command: Vec<String> = pod["containers"][0]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(&command[1..3], ["worker", "run"]);
    let bound = shutdown_bound(&command, 0);
    let termination = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(termination >= bound + 5, "{termination} < {bound} + 5");
}

/// The webhook-triggered workers: `worker webhook` listening where the
/// Service sends deliveries, the signing key and the environment key from
/// Secrets, and a termination grace above the shutdown's bound.
#[test]
fn webhook_workers_listen_where_their_service_points() {
    let doc = &documents(&root().join("deploy/webhook/deployment.yaml"))[0];
    let pod = &doc["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<String> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(&args[..2], ["worker", "webhook"]);
    let listen = args
        .iter()
        .find_map(|a| a.strip_prefix("--listen="))
        .expect("--listen");
    let port: u64 = listen.rsplit(':').next().unwrap().parse().unwrap();
    let ports = container["ports"].as_sequence().unwrap();
    let webhook = ports
        .iter()
        .find(|p| p["containerPort"].as_u64() == Some(port))
        .unwrap();
    let service = &documents(&root().join("deploy/webhook/service.yaml"))[0];
    assert_eq!(service["spec"]["ports"][0]["targetPort"], webhook["name"]);
    assert_eq!(
        service["spec"]["selector"], doc["spec"]["selector"]["matchLabels"],
        "the Service selects the workers"
    );
    let env = container["env"].as_sequence().unwrap();
    for secret in ["ANTHROPIC_ENVIRONMENT_KEY", "ANTHROPIC_WEBHOOK_SIGNING_KEY"] {
        let var = env.iter().find(|e| e["name"] == secret).unwrap();
        assert!(var["valueFrom"]["secretKeyRef"].is_mapping(), "{secret}");
    }
    let grace = flag_seconds(&args, "--grace").expect("--grace");
    let bound = shutdown_bound(&args, grace);
    let termination = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(termination >= bound + 5, "{termination} < {bound} + 5");
    assert!(
        !args.iter().any(|a| a.starts_with("--drain")),
        "worker webhook refuses --drain"
    );
}

/// Validates `deploy/autoscaling/keda-scaledobject.yaml` against KEDA's
/// own CRD (vendored in tests/vendor/keda with its source and version),
/// every object closed to unknown fields as the API server's pruning
/// would drop them.
#[test]
#[ignore = "needs jsonschema and PyYAML from target/py: run `cargo xtask test`"]
fn the_keda_scaled_object_validates_against_kedas_crd() {
    const CHECK: &str = r#"
import sys, yaml, jsonschema
crd = yaml.safe_load(open(sys.argv[1]))
resource = yaml.safe_load(open(sys.argv[2]))
version = resource["apiVersion"].split("/")[1]
assert crd["spec"]["group"] == resource["apiVersion"].split("/")[0], "group"
assert crd["spec"]["names"]["kind"] == resource["kind"], "kind"
schema = next(v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v["name"] == version)
def close(node):
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node \
                and "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for value in node.values():
            close(value)
    elif isinstance(node, list):
        for value in node:
            close(value)
close(schema)
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(resource), key=str)
for error in errors:
    print(f"{list(error.absolute_path)}: {error.message}")
sys.exit(1 if errors else 0)
"#;
    let python = std::env::var("ANTHROPIC_ENVIRONMENTS_PYTHON").expect(
        "ANTHROPIC_ENVIRONMENTS_PYTHON names target/py's interpreter: run `cargo xtask test`",
    );
    let check = |resource: &Path| {
        Command::new(&python)
            .args(["-c", CHECK])
            .arg(root().join("tests/vendor/keda/keda.sh_scaledobjects.yaml"))
            .arg(resource)
            .output()
            .unwrap()
    };
    let output = check(&root().join("deploy/autoscaling/keda-scaledobject.yaml"));
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The check can fail: a misspelt field is refused.
    let dir = std::env::temp_dir().join(format!("antenv-keda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    let text = std::fs::read_to_string(root().join("deploy/autoscaling/keda-scaledobject.yaml"))
        .unwrap()
        .replace("minReplicaCount", "minReplicas");
    std::fs::write(&bad, text).unwrap();
    let output = check(&bad);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!output.status.success(), "a misspelt field passed");
    assert!(String::from_utf8_lossy(&output.stdout).contains("minReplicas"));
}

/// Both autoscalers scale the always-on pollers, never below one replica,
/// on the depth those pollers export (`--stats-interval`); the CLI's own
/// tests check that antenv exports the metric they name.
#[test]
fn the_autoscalers_scale_the_always_on_pollers_on_their_depth() {
    let deployment = &documents(&root().join("deploy/always-on/deployment.yaml"))[0];
    let name = &deployment["metadata"]["name"];
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap();
    assert!(
        args.iter()
            .any(|a| a.as_str().unwrap().starts_with("--stats-interval=")),
        "the pollers export the queue's gauges"
    );
    let keda = &documents(&root().join("deploy/autoscaling/keda-scaledobject.yaml"))[0];
    assert_eq!(&keda["spec"]["scaleTargetRef"]["name"], name);
    assert!(keda["spec"]["minReplicaCount"].as_u64().unwrap() >= 1);
    let query = keda["spec"]["triggers"][0]["metadata"]["query"]
        .as_str()
        .unwrap();
    assert!(query.contains("antenv_queue_depth"), "{query}");
    let hpa = &documents(&root().join("deploy/autoscaling/hpa.yaml"))[0];
    assert_eq!(&hpa["spec"]["scaleTargetRef"]["name"], name);
    assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 1);
    assert_eq!(
        hpa["spec"]["metrics"][0]["external"]["metric"]["name"],
        "antenv_queue_depth"
    );
}
