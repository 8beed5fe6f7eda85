//! `cargo xtask spec-diff` as a reviewer and CI run it: the exit status
//! (0 compatible, 1 breaking, 2 bad input), `--allow-breaking`,
//! `--format json`, and spec files beside git revisions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A directory of this test's own below target/, emptied.
fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target/xtask-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spec() -> Value {
    let text = std::fs::read_to_string(root().join("openapi/environments.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn write(dir: &Path, name: &str, spec: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(spec).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The base spec, a compatible head (a new optional query parameter) and a
/// breaking head (a renamed operation), as files.
fn specs(dir: &Path) -> (String, String, String) {
    let base = spec();
    let mut compatible = base.clone();
    compatible["paths"]["/v1/environments"]["get"]["parameters"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "order", "in": "query", "required": false,
                     "schema": {"type": "string"}}));
    let mut breaking = base.clone();
    breaking["paths"]["/v1/environments"]["get"]["operationId"] = json!("list_all_environments");
    (
        write(dir, "base.json", &base),
        write(dir, "compatible.json", &compatible),
        write(dir, "breaking.json", &breaking),
    )
}

#[test]
fn compatible_change_exits_0_with_a_report() {
    let dir = scratch("compatible");
    let (base, compatible, _) = specs(&dir);
    let out = xtask(&["spec-diff", &base, &compatible]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(report.starts_with("# Spec diff: "), "{report}");
    assert!(report.contains("Result: compatible"), "{report}");
    assert!(report.contains("`order`"), "{report}");
}

#[test]
fn breaking_change_exits_1_unless_allowed() {
    let dir = scratch("breaking");
    let (base, _, breaking) = specs(&dir);
    let out = xtask(&["spec-diff", &base, &breaking]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("**breaking**"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("--allow-breaking"),
        "{}",
        stderr(&out)
    );

    let allowed = xtask(&["spec-diff", &base, &breaking, "--allow-breaking"]);
    assert_eq!(allowed.status.code(), Some(0));
    assert_eq!(stdout(&allowed), stdout(&out));
}

#[test]
fn json_format_is_machine_readable() {
    let dir = scratch("json");
    let (base, _, breaking) = specs(&dir);
    let out = xtask(&["spec-diff", &base, &breaking, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["breaking"], true);
    let changes = report["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["severity"] == "breaking"
            && c["detail"]
                .as_str()
                .unwrap()
                .contains("list_all_environments")),
        "{report:#}"
    );
}

#[test]
fn a_git_revision_is_a_base() {
    // HEAD's spec against the working tree's file: the same unless the
    // working tree changed the spec, and never bad input.
    let out = xtask(&["spec-diff", "HEAD", "openapi/environments.yaml"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("# Spec diff: HEAD -> "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = scratch("bad");
    let (base, _, _) = specs(&dir);
    let invalid = dir.join("invalid.yaml");
    std::fs::write(&invalid, "openapi: 3.0.3\npaths: 5\n").unwrap();
    let invalid = invalid.to_str().unwrap();
    let missing = dir.join("missing.yaml");
    let missing = missing.to_str().unwrap();
    for (args, expected) in [
        (
            vec!["spec-diff", &base, missing],
            "is neither a spec file nor a git revision",
        ),
        (
            vec!["spec-diff", "no-such-revision-5f3a", &base],
            "no-such-revision-5f3a is neither a spec file nor a git revision",
        ),
        (vec!["spec-diff", &base, invalid], "invalid spec"),
        (
            vec!["spec-diff", &base, &base, "--format", "xml"],
            "--format takes md or json",
        ),
        (
            vec!["spec-diff", &base, &base, "--colour"],
            "unknown option --colour",
        ),
        (
            vec!["spec-diff", &base, &base, &base],
            "at most BASE and HEAD",
        ),
    ] {
        let out = xtask(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        assert!(
            stderr(&out).starts_with("error: ") && stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
