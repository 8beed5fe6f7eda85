//! The admin commands against the mock: a transcript of their JSON and
//! table output (snapshot), and their error exits.

mod common;

use common::{API_KEY, fixture, output};

/// Replaces RFC 3339 timestamps (which change every run) with a marker.
fn normalise(text: &str) -> String {
    let re = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap();
    re.replace_all(text, "<timestamp>").into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_transcript() {
    let f = fixture().await;
    // The fixture's environment is env_...0001; sessions for the work.
    f.queue_session("session_a");
    f.queue_session("session_b");
    f.server
        .queue_healthcheck(&f.environment_id, "hc_1")
        .unwrap();
    let env = f.environment_id.clone();
    let config_file = f.path("config.json");
    std::fs::write(&config_file, r#"{"type": "self_hosted"}"#).unwrap();
    let config_arg = format!("@{}", config_file.display());
    let steps: Vec<(bool, Vec<&str>)> = vec![
        (
            true,
            vec![
                "environments",
                "create",
                "--name",
                "staging",
                "--description",
                "pre-prod",
                "--config",
                &config_arg,
                "--metadata",
                "team=infra",
            ],
        ),
        (true, vec!["environments", "get", &env]),
        (
            true,
            vec![
                "environments",
                "update",
                "env_01mock0000000000000005",
                "--name",
                "staging-2",
                "--set",
                "owner=ops",
                "--unset",
                "team",
            ],
        ),
        (true, vec!["environments", "list", "--output", "table"]),
        (true, vec!["environments", "list", "--page-size", "1"]),
        (
            true,
            vec![
                "environments",
                "archive",
                "env_01mock0000000000000005",
                "-o",
                "table",
            ],
        ),
        (
            true,
            vec!["environments", "list", "--include-archived", "-o", "table"],
        ),
        (
            true,
            vec!["environments", "delete", "env_01mock0000000000000005"],
        ),
        (false, vec!["work", "list", "--output", "table"]),
        (false, vec!["work", "stats"]),
        (false, vec!["work", "poll", "--worker-id", "admin-1"]),
        (
            true,
            vec!["work", "get", "work_01mock0000000000000002", "-o", "table"],
        ),
        (
            true,
            vec![
                "work",
                "update",
                "work_01mock0000000000000002",
                "--set",
                "ticket=OPS-1",
            ],
        ),
        (
            true,
            vec![
                "work",
                "stop",
                "work_01mock0000000000000003",
                "--force",
                "-o",
                "table",
            ],
        ),
        (true, vec!["work", "stats", "-o", "table"]),
        (false, vec!["work", "list", "--page-size", "2"]),
    ];
    let mut transcript = String::new();
    for (with_api_key, args) in steps {
        let cmd = if with_api_key {
            f.admin(&args)
        } else {
            f.worker(&args)
        };
        let (code, stdout, stderr) = output(cmd).await;
        assert_eq!(code, 0, "antenv {args:?}: {stderr}");
        let key = if with_api_key {
            "ANTHROPIC_API_KEY"
        } else {
            "ANTHROPIC_ENVIRONMENT_KEY"
        };
        transcript.push_str(&format!(
            "$ {key}=... antenv {}\n{stdout}\n",
            args.join(" ")
        ));
    }
    // The poll's secret is redacted unless asked for.
    assert!(!transcript.contains("sk-ant-req-"));
    let transcript = normalise(&transcript).replace(&config_arg, "@config.json");
    expectorate::assert_contents("tests/snapshots/admin-transcript.txt", &transcript);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_print_the_api_error_and_exit_with_documented_codes() {
    let f = fixture().await;
    // The API's answer: type, message, request id; exit 3.
    let (code, stdout, stderr) = output(f.admin(["environments", "get", "env_missing"])).await;
    assert_eq!((code, stdout.as_str()), (3, ""), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("404") && stderr.contains("not_found_error"),
        "{stderr}"
    );
    assert!(stderr.contains("request-id req_"), "{stderr}");

    // The credential model, from the spec's x-credentials: `work list`
    // takes the environment key only, so an API key alone is refused before
    // any request (exit 2, naming what to set).
    let before = f.server.requests().len();
    let (code, _, stderr) = output(f.admin(["work", "list"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("this command needs the environment key: set ANTHROPIC_ENVIRONMENT_KEY"),
        "{stderr}"
    );
    assert!(!stderr.contains(API_KEY), "{stderr}");
    assert_eq!(f.server.requests().len(), before, "nothing was sent");
    // A key the API rejects is its answer (exit 3).
    let mut cmd = f.antenv(["work", "list"]);
    cmd.env("ANTHROPIC_ENVIRONMENT_KEY", "sk-ant-oat01-not-this-one");
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("authentication_error"), "{stderr}");

    // No credential, bad input: exit 2, nothing sent.
    let before = f.server.requests().len();
    for args in [
        vec!["environments", "list"],
        vec![
            "environments",
            "create",
            "--name",
            "x",
            "--config",
            "{not json",
        ],
        vec![
            "environments",
            "create",
            "--name",
            "x",
            "--config",
            "@/nonexistent.json",
        ],
        vec!["environments", "update", "env_x", "--set", "novalue"],
        vec!["work", "update", "work_x"],
        vec!["work", "poll", "--block-ms", "5000"],
        vec!["frobnicate"],
    ] {
        let cmd = if args[0] == "environments" && args[1] == "list" {
            f.antenv(&args)
        } else {
            f.admin(&args)
        };
        let (code, _, stderr) = output(cmd).await;
        assert_eq!(code, 2, "antenv {args:?}: {stderr}");
        assert!(stderr.contains("error"), "{stderr}");
    }
    assert_eq!(f.server.requests().len(), before, "nothing was sent");

    // Unreachable: exit 4.
    let mut cmd = f.admin(["environments", "list"]);
    cmd.env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9");
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("connection"), "{stderr}");
}

/// Every command's `--help`, as users read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_snapshots() {
    let f = fixture().await;
    let commands: &[&[&str]] = &[
        &[],
        &["worker"],
        &["worker", "poll"],
        &["worker", "run"],
        &["worker", "webhook"],
        &["environments"],
        &["environments", "list"],
        &["environments", "get"],
        &["environments", "create"],
        &["environments", "update"],
        &["environments", "archive"],
        &["environments", "delete"],
        &["work"],
        &["work", "list"],
        &["work", "get"],
        &["work", "update"],
        &["work", "stop"],
        &["work", "stats"],
        &["work", "poll"],
        &["work", "stuck"],
    ];
    for path in commands {
        let mut cmd = f.antenv(path.iter().chain(&["--help"]));
        // The help shows variables' values: show none.
        cmd.env_remove("ANTHROPIC_BASE_URL")
            .env_remove("ANTHROPIC_ENVIRONMENT_ID");
        let (code, stdout, stderr) = output(cmd).await;
        assert_eq!(code, 0, "{path:?}: {stderr}");
        assert!(stdout.contains("Usage: antenv"), "{stdout}");
        let name = if path.is_empty() {
            "antenv".to_owned()
        } else {
            format!("antenv-{}", path.join("-"))
        };
        expectorate::assert_contents(format!("tests/snapshots/help/{name}.txt"), &stdout);
    }
}

/// `ANTHROPIC_LOG=debug|info` turns on the client's request logging (as the
/// official SDK's variable does); without it an admin command's stderr is
/// quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_log_turns_on_request_logging() {
    let f = fixture().await;
    let (code, _, quiet) = output(f.admin(["environments", "list"])).await;
    assert_eq!((code, quiet.as_str()), (0, ""));
    let mut cmd = f.admin(["environments", "list", "--log-format", "json"]);
    cmd.env("ANTHROPIC_LOG", "debug");
    let (code, _, logged) = output(cmd).await;
    assert_eq!(code, 0, "{logged}");
    let answered: Vec<serde_json::Value> = logged
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["message"] == "answered")
        .collect();
    assert_eq!(answered.len(), 1, "{logged}");
    assert_eq!(answered[0]["status"], 200);
    assert_eq!(answered[0]["level"], "DEBUG");
    assert!(!logged.contains(API_KEY), "{logged}");
}

/// `-o id` prints ids alone, one a line: what a script captures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_output_is_the_ids_alone() {
    let f = fixture().await;
    let create = f.admin([
        "environments",
        "create",
        "--name",
        "scripted",
        "--config",
        r#"{"type":"self_hosted"}"#,
        "-o",
        "id",
    ]);
    let (code, created, stderr) = output(create).await;
    assert_eq!(code, 0, "{stderr}");
    let id = created.trim_end_matches('\n');
    assert!(
        id.starts_with("env_") && !id.contains(char::is_whitespace),
        "{created:?}"
    );
    let (code, listed, stderr) = output(f.admin(["environments", "list", "-o", "id"])).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(listed, format!("{}\n{id}\n", f.environment_id));
}
