//! The official Python SDK drives every endpoint of the mock server, its
//! responses validate against the spec, and the SDK's own worker loop runs
//! against it. Needs the interpreter `cargo xtask test` installs (named by
//! `ANTHROPIC_ENVIRONMENTS_PYTHON`); plain `cargo test` skips it.

use anthropic_environments_mock::MockServer;
use anthropic_environments_tests::root;

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_drives_the_mock() {
    let Ok(python) = std::env::var("ANTHROPIC_ENVIRONMENTS_PYTHON") else {
        eprintln!("skipped: ANTHROPIC_ENVIRONMENTS_PYTHON is not set (run `cargo xtask test`)");
        return;
    };
    let server = MockServer::start().await;
    let script = root().join("tests/python/drive_mock.py");
    let spec = root().join("openapi/environments.yaml");
    let base_url = server.base_url();
    let output = tokio::process::Command::new(python)
        .arg(script)
        .arg(&base_url)
        .arg(spec)
        .current_dir(std::env::temp_dir())
        .env("ANTHROPIC_API_KEY", "unused")
        .output()
        .await
        .expect("running python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("22 passed, 0 failed"), "{stdout}");
}
