//! The mock's binary: its flags, and clear errors for bad input.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The binary, built with the `cli` feature only. Without it these tests
/// are reported ignored, saying why (`cargo xtask test` turns it on and runs
/// them, and fails here if the binary is still missing).
const BINARY: Option<&str> = option_env!("CARGO_BIN_EXE_anthropic-environments-mock");

fn binary() -> Command {
    Command::new(BINARY.expect("the mock's binary is built with --features cli"))
}

/// A running binary, killed on drop.
struct Running {
    child: Child,
    base_url: String,
    lines: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free port; reads its first line and the
/// `seeded environment` lines.
fn start(args: &[&str], seeded: usize) -> Running {
    let mut child = binary()
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..=seeded {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        lines.push(line.trim().to_owned());
    }
    let base_url = lines[0].strip_prefix("listening on ").unwrap().to_owned();
    Running {
        child,
        base_url,
        lines,
    }
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mock-binary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

async fn get(url: &str, bearer: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(bearer)
        .header("anthropic-beta", "managed-agents-2026-04-01")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
#[cfg_attr(not(feature = "cli"), ignore = "the binary needs --features cli")]
async fn seed_faults_timing_and_strict_credentials_from_flags() {
    let seed = temp_file(
        "seed.json",
        &json!({"environments": [
            {"name": "workers", "config": {"type": "self_hosted"},
             "work": [{"session_id": "s1"}, {"data": {"type": "healthcheck", "id": "hc"}}]},
            {"name": "cloud"}
        ]})
        .to_string(),
    );
    let faults = temp_file(
        "faults.json",
        &json!({"rules": [{"operation": "list_environments", "nth": 1, "action": {"status": 503}}]})
            .to_string(),
    );
    let server = start(
        &[
            "--credentials",
            "strict",
            "--seed",
            seed.to_str().unwrap(),
            "--faults",
            faults.to_str().unwrap(),
            "--timing",
            "default_ttl_ms=2000",
        ],
        2,
    );
    let env = server.lines[1]
        .strip_prefix("seeded environment ")
        .unwrap()
        .to_owned();
    assert!(server.lines[2].starts_with("seeded environment env_"));
    let list = format!("{}/v1/environments", server.base_url);
    assert_eq!(
        get(&list, "sk-ant-api-x").await.0,
        503,
        "the fault from --faults"
    );
    let (status, page) = get(&list, "sk-ant-api-x").await;
    assert_eq!((status, page["data"].as_array().unwrap().len()), (200, 2));
    let (_, key) = get(
        &format!("{}/_mock/environments/{env}/key", server.base_url),
        "x",
    )
    .await;
    let key = key["environment_key"].as_str().unwrap().to_owned();
    let work = format!("{}/v1/environments/{env}/work", server.base_url);
    assert_eq!(
        get(&work, "sk-ant-api-x").await.0,
        403,
        "strict: list_work takes the environment key"
    );
    let (status, items) = get(&work, &key).await;
    assert_eq!((status, items["data"].as_array().unwrap().len()), (200, 2));
    // --timing: the lease an ack starts lasts 2 s.
    let (_, polled) = get(&format!("{work}/poll"), &key).await;
    let id = polled["id"].as_str().unwrap();
    let ack = reqwest::Client::new()
        .post(format!("{work}/{id}/ack"))
        .bearer_auth(&key)
        .header("anthropic-beta", "managed-agents-2026-04-01")
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 200);
    let beat = reqwest::Client::new()
        .post(format!(
            "{work}/{id}/heartbeat?expected_last_heartbeat=NO_HEARTBEAT"
        ))
        .bearer_auth(&key)
        .header("anthropic-beta", "managed-agents-2026-04-01")
        .send()
        .await
        .unwrap();
    let beat: Value = beat.json().await.unwrap();
    assert_eq!(beat["ttl_seconds"], 2, "{beat}");
}

#[tokio::test]
#[cfg_attr(not(feature = "cli"), ignore = "the binary needs --features cli")]
async fn the_stateless_mode_from_the_flag() {
    let server = start(&["--mode", "stateless"], 0);
    let (status, work) = get(
        &format!("{}/v1/environments/env_a/work/work_b", server.base_url),
        "k",
    )
    .await;
    assert_eq!((status, work["id"].as_str()), (200, Some("work_b")));
    let (status, error) = get(
        &format!(
            "{}/v1/environments/env_a/work/poll?block_ms=5000",
            server.base_url
        ),
        "k",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("block_ms")
    );
}

#[test]
#[cfg_attr(not(feature = "cli"), ignore = "the binary needs --features cli")]
fn bad_flags_and_files_exit_2_with_a_message() {
    let bad_seed = temp_file("bad-seed.json", r#"{"environments": [{"nme": "x"}]}"#);
    let empty_name = temp_file("empty-name.json", r#"{"environments": [{"name": " "}]}"#);
    let bad_faults = temp_file("bad-faults.json", r#"{"error_rate": 3}"#);
    let cases: [(&[&str], &str); 7] = [
        (&["--mode", "sideways"], "sideways"),
        (&["--credentials", "maybe"], "maybe"),
        (&["--timing", "ttl=5"], "unknown timing"),
        (&["--timing", "default_ttl_ms=soon"], "milliseconds"),
        (&["--seed", bad_seed.to_str().unwrap()], "--seed"),
        (&["--seed", empty_name.to_str().unwrap()], "environments[0]"),
        (&["--faults", bad_faults.to_str().unwrap()], "error_rate"),
    ];
    for (args, expected) in cases {
        let output = binary()
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let missing = binary()
        .args(["--seed", "/nonexistent/seed.json"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/seed.json"));
    let help = binary().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--listen",
        "--credentials",
        "--mode",
        "--seed",
        "--faults",
        "--timing",
        "Examples:",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
}
