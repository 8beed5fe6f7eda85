//! The official Python SDK drives every endpoint of the mock server, its
//! responses validate against the spec, and the SDK's own worker loop runs
//! against it. Needs the interpreter `cargo xtask test` installs (named by
//! `ANTHROPIC_ENVIRONMENTS_PYTHON`): the tests are `#[ignore]`d for plain
//! `cargo test`, and `cargo xtask test` runs them with `--include-ignored`.

use anthropic_environments_mock::MockServer;
use anthropic_environments_tests::root;

/// Runs a script with the interpreter `cargo xtask test` installs the
/// official SDK into (`ANTHROPIC_ENVIRONMENTS_PYTHON`); its standard output,
/// after checking that it succeeded.
async fn run_script(script: &std::path::Path, args: &[&str]) -> String {
    let python = std::env::var("ANTHROPIC_ENVIRONMENTS_PYTHON").expect(
        "ANTHROPIC_ENVIRONMENTS_PYTHON names the interpreter with the SDK: run `cargo xtask test`",
    );
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .await
        .expect("running python");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the official Python SDK that `cargo xtask test` installs and runs ignored tests with"]
async fn the_python_sdk_drives_the_mock() {
    let server = MockServer::start().await;
    let script = root().join("tests/python/drive_mock.py");
    let spec = root().join("openapi/environments.yaml");
    let base_url = server.base_url();
    let stdout = run_script(&script, &[base_url.as_str(), spec.to_str().unwrap()]).await;
    assert!(stdout.contains("22 passed, 0 failed"), "{stdout}");
}

/// The official SDK's own poller, holding only the environment key, drains
/// the mock in strict credential mode; the mock's journal shows every call
/// authenticated with that key.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the official Python SDK that `cargo xtask test` installs and runs ignored tests with"]
async fn the_official_poller_works_the_strict_mock_with_the_environment_key() {
    let server = MockServer::builder().strict_credentials().start().await;
    let script = root().join("tests/python/official_poller.py");
    let stdout = run_script(&script, &[server.base_url().as_str()]).await;
    assert!(stdout.contains("5 passed, 0 failed"), "{stdout}");
}

/// The stateless conformance mode: every operation with only its required
/// inputs and with every optional input, each answer validated against the
/// spec's response schema, and invalid requests for every operation.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the official Python SDK that `cargo xtask test` installs and runs ignored tests with"]
async fn the_stateless_mode_answers_every_documented_request_from_the_spec() {
    use anthropic_environments_mock::MockMode;
    let server = MockServer::builder()
        .mode(MockMode::Stateless)
        .start()
        .await;
    let script = root().join("tests/python/stateless.py");
    let spec = root().join("openapi/environments.yaml");
    let stdout = run_script(
        &script,
        &[server.base_url().as_str(), spec.to_str().unwrap()],
    )
    .await;
    assert!(stdout.contains("53 passed, 0 failed"), "{stdout}");
    assert_eq!(
        server.requests().len(),
        28 + 23,
        "every request was journaled"
    );
}

// The official SDK's own session runner serves a scripted session on the
// mock's binary: `cargo xtask test` runs tests/python/official_runner.py
// against it (see xtask's `official_runner_against_the_mock`).
