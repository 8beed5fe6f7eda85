//! The mock over plain HTTP: auth, betas, malformed input, control routes,
//! faults.

mod common;

use anthropic_environments::Client;
use anthropic_environments_mock::{Fault, FaultConfig, MockServer};
use serde_json::{Value, json};

const BETA: &str = "managed-agents-2026-04-01";

async fn send(
    server: &MockServer,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
    auth: bool,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.base_url()));
    if auth {
        req = req.bearer_auth("k").header("anthropic-beta", BETA);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    assert!(resp.headers().contains_key("request-id"), "{path}");
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn credentials_and_beta_are_required() {
    let server = MockServer::start().await;
    let url = format!("{}/v1/environments", server.base_url());
    let http = reqwest::Client::new();
    let r = http
        .get(&url)
        .header("anthropic-beta", BETA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
    let r = http
        .get(&url)
        .header("x-api-key", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no beta");
    let r = http
        .get(&url)
        .header("x-api-key", "k")
        .header("anthropic-beta", format!("files-api-2025-04-14,{BETA}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let locked = MockServer::builder().api_key("right").start().await;
    let wrong = Client::builder()
        .api_key("wrong")
        .base_url(locked.base_url())
        .build()
        .unwrap();
    assert!(
        wrong
            .environments()
            .list()
            .send()
            .await
            .unwrap_err()
            .is_authentication_error()
    );
    let right = Client::builder()
        .api_key("right")
        .base_url(locked.base_url())
        .build()
        .unwrap();
    right.environments().list().send().await.unwrap();
}

#[tokio::test]
async fn malformed_input_is_a_400_naming_the_field_and_changes_nothing() {
    use reqwest::Method;
    let server = MockServer::start().await;
    let cases: &[(&str, &str)] = &[
        ("{not json", "request body"),
        ("{}", "name"),
        (r#"{"name": 5}"#, "name"),
        (r#"{"name": "x", "scope": "team"}"#, "scope"),
        (r#"{"name": "x", "config": {"type": "gpu"}}"#, "config"),
        (
            r#"{"name": "x", "config": {"type": "cloud", "networking": {"type": "proxy"}}}"#,
            "networking",
        ),
        (r#"{"name": "x", "metadata": {"k": 1}}"#, "metadata.k"),
        (
            r#"{"name": "x", "config": {"type": "cloud", "networking": {"type": "limited", "allow_package_managers": false}, "packages": {"pip": ["x"]}}}"#,
            "allow_package_managers",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = send(&server, Method::POST, "/v1/environments", Some(body), true).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(message(&v).contains(field), "{body}: {}", message(&v));
    }
    let (_, list) = send(&server, Method::GET, "/v1/environments", None, true).await;
    assert_eq!(list["data"], json!([]), "no state changed");

    let (_, env) = send(
        &server,
        Method::POST,
        "/v1/environments",
        Some(r#"{"name":"w","config":{"type":"self_hosted"}}"#),
        true,
    )
    .await;
    let id = env["id"].as_str().unwrap();
    for (path, field) in [
        (
            format!("/v1/environments/{id}/work/poll?block_ms=0"),
            "block_ms",
        ),
        (
            format!("/v1/environments/{id}/work/poll?block_ms=1000"),
            "block_ms",
        ),
        (
            format!("/v1/environments/{id}/work/poll?block_ms=abc"),
            "block_ms",
        ),
        ("/v1/environments?limit=-1".to_owned(), "limit"),
        (
            "/v1/environments?include_archived=maybe".to_owned(),
            "include_archived",
        ),
    ] {
        let (status, v) = send(&server, Method::GET, &path, None, true).await;
        assert_eq!(status, 400, "{path}");
        assert!(message(&v).contains(field), "{path}: {}", message(&v));
    }
    let (status, v) = send(
        &server,
        Method::POST,
        &format!("/v1/environments/{id}/work/w/stop"),
        Some(r#"{"force": "yes"}"#),
        true,
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("force"), "{}", message(&v));
    let (status, _) = send(
        &server,
        Method::POST,
        &format!("/v1/environments/{id}/work/nope/ack"),
        None,
        true,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn control_routes_queue_and_list_work_and_set_faults() {
    use reqwest::Method;
    let server = MockServer::start().await;
    let (_, env) = send(
        &server,
        Method::POST,
        "/v1/environments",
        Some(r#"{"name":"w","config":{"type":"self_hosted"}}"#),
        true,
    )
    .await;
    let id = env["id"].as_str().unwrap();
    let (status, work) = send(
        &server,
        Method::POST,
        &format!("/_mock/environments/{id}/work"),
        Some(r#"{"session_id":"session_9","metadata":{"k":"v"}}"#),
        false,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(work["data"]["id"], "session_9");
    assert_eq!(work["metadata"]["k"], "v");
    let (status, all) = send(
        &server,
        Method::GET,
        &format!("/_mock/environments/{id}/work"),
        None,
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(server.work_items(id).len(), 1);
    let (status, _) = send(
        &server,
        Method::PUT,
        "/_mock/faults",
        Some(r#"{"sequence": [{"status": 503}]}"#),
        false,
    )
    .await;
    assert_eq!(status, 204);
    let (status, v) = send(&server, Method::GET, "/v1/environments", None, true).await;
    assert_eq!(status, 503);
    assert_eq!(v["error"]["type"], "api_error");
    let (status, _) = send(&server, Method::GET, "/v1/environments", None, true).await;
    assert_eq!(status, 200, "the sequence is used up");
}

#[tokio::test]
async fn the_facade_retries_through_injected_faults() {
    let mut faults = FaultConfig::sequence([
        Fault::Status(429),
        Fault::BreakBody,
        Fault::CloseConnection,
        Fault::Status(529),
    ]);
    faults.retry_after_secs = Some(0.01);
    let server = MockServer::builder().faults(faults).start().await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .max_retries(4)
        .build()
        .unwrap();
    let env = client
        .environments()
        .create("survivor")
        .send()
        .await
        .unwrap();
    assert_eq!(env.name, "survivor");
    let list = client.environments().list().send().await.unwrap();
    assert_eq!(
        list.data.len(),
        1,
        "created exactly once: faults hit before the handler"
    );
}

#[tokio::test]
async fn random_faults_are_seeded() {
    let server = MockServer::builder()
        .faults(FaultConfig::errors(0.5, 99))
        .start()
        .await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .max_retries(0)
        .build()
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..40 {
        outcomes.push(client.environments().list().send().await.is_ok());
    }
    let server2 = MockServer::builder()
        .faults(FaultConfig::errors(0.5, 99))
        .start()
        .await;
    let client2 = Client::builder()
        .api_key("k")
        .base_url(server2.base_url())
        .max_retries(0)
        .build()
        .unwrap();
    let mut again = Vec::new();
    for _ in 0..40 {
        again.push(client2.environments().list().send().await.is_ok());
    }
    assert_eq!(outcomes, again);
    let failures = outcomes.iter().filter(|ok| !**ok).count();
    assert!((8..=32).contains(&failures), "{failures}");
}

/// One request with an explicit bearer; the status and the JSON body.
async fn send_as(
    server: &MockServer,
    bearer: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", server.base_url()))
        .bearer_auth(bearer)
        .header("anthropic-beta", BETA);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_credential_model_over_http() {
    use reqwest::Method;
    let server = MockServer::builder().strict_credentials().start().await;
    let (status, env) = send_as(
        &server,
        "sk-ant-api-admin",
        Method::POST,
        "/v1/environments",
        Some(json!({"name": "h", "config": {"type": "self_hosted"}})),
    )
    .await;
    assert_eq!(status, 200);
    let env = env["id"].as_str().unwrap().to_owned();
    let (status, key) = send(
        &server,
        Method::GET,
        &format!("/_mock/environments/{env}/key"),
        None,
        false,
    )
    .await;
    assert_eq!(status, 200);
    let key = key["environment_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk-ant-oat01-"));
    let queue = |body: Value| {
        let server = &server;
        let env = env.clone();
        async move {
            send(
                server,
                Method::POST,
                &format!("/_mock/environments/{env}/work"),
                Some(&body.to_string()),
                false,
            )
            .await
        }
    };
    let (status, hc) = queue(json!({"data": {"type": "healthcheck", "id": "hc_1"}})).await;
    assert_eq!(
        (status, hc["data"]["type"].as_str()),
        (201, Some("healthcheck"))
    );
    let (status, _) =
        queue(json!({"session_id": "s", "data": {"type": "session", "id": "s"}})).await;
    assert_eq!(status, 400, "one of session_id and data");
    // `?beta=true` (the Go SDK's) is ignored; the API key may not list work.
    let list = format!("/v1/environments/{env}/work?beta=true");
    let (status, refused) = send_as(&server, "sk-ant-api-admin", Method::GET, &list, None).await;
    assert_eq!(
        (status, refused["error"]["type"].as_str()),
        (403, Some("permission_error"))
    );
    let (status, page) = send_as(&server, &key, Method::GET, &list, None).await;
    assert_eq!(
        (status, page["data"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    // Poll hands out the item with a secret whose token is valid for it.
    let poll = format!("/v1/environments/{env}/work/poll?beta=true");
    let (status, work) = send_as(&server, &key, Method::GET, &poll, None).await;
    assert_eq!(status, 200);
    let secret = work["secret"].as_str().unwrap();
    assert!(!secret.contains('='), "URL-safe base64 without padding");
    let id = work["id"].as_str().unwrap().to_owned();
    let (status, retrieved) = send_as(
        &server,
        "sk-ant-api-admin",
        Method::GET,
        &format!("/v1/environments/{env}/work/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(retrieved["secret"].is_null(), "only poll shows the secret");
    let (status, _) = send_as(&server, "sk-ant-oat01-unknown", Method::GET, &poll, None).await;
    assert_eq!(status, 401);
    // Any desired_ttl_seconds is taken; the TTL applied is answered.
    let (status, _) = send_as(
        &server,
        &key,
        Method::POST,
        &format!("/v1/environments/{env}/work/{id}/ack"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let beat = |ttl: &'static str, expected: String| {
        let (server, key, env, id) = (&server, key.clone(), env.clone(), id.clone());
        async move {
            send_as(
                server,
                &key,
                Method::POST,
                &format!("/v1/environments/{env}/work/{id}/heartbeat?desired_ttl_seconds={ttl}&expected_last_heartbeat={expected}"),
                None,
            )
            .await
        }
    };
    let (status, hb) = beat("0", "NO_HEARTBEAT".into()).await;
    assert_eq!(
        (status, hb["ttl_seconds"].as_i64()),
        (200, Some(30)),
        "{hb}"
    );
    let last = hb["last_heartbeat"].as_str().unwrap().to_owned();
    let (status, hb) = beat("9999999999", last).await;
    assert_eq!(
        (status, hb["ttl_seconds"].as_i64()),
        (200, Some(3600)),
        "{hb}"
    );
    // The journal over HTTP: kinds of callers, never the credentials.
    let (status, journal) = send(&server, Method::GET, "/_mock/requests", None, false).await;
    assert_eq!(status, 200);
    let text = journal.to_string();
    assert!(
        !text.contains(&key) && !text.contains("sk-ant-api-admin"),
        "{text}"
    );
    let entries = journal.as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["operation"] == "poll_work" && e["caller"]["kind"] == "environment_key")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["status"] == 401 && e["caller"]["kind"] == "unknown")
    );
    let (status, polls) = send(
        &server,
        Method::GET,
        "/_mock/requests?operation=poll_work",
        None,
        false,
    )
    .await;
    assert_eq!(status, 200);
    let polls = polls.as_array().unwrap();
    assert!(!polls.is_empty() && polls.iter().all(|e| e["operation"] == "poll_work"));
    let (status, _) = send(&server, Method::DELETE, "/_mock/requests", None, false).await;
    assert_eq!(status, 204);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_journal_keeps_bodies_and_headers_and_reset_empties_everything() {
    use reqwest::Method;
    let server = MockServer::start().await;
    let (status, env) = send(
        &server,
        Method::POST,
        "/v1/environments",
        Some(r#"{"name": "j", "config": {"type": "self_hosted"}}"#),
        true,
    )
    .await;
    assert_eq!(status, 200);
    let env = env["id"].as_str().unwrap().to_owned();
    server.queue_work(&env, "s").unwrap();
    server.set_faults(FaultConfig::errors(0.5, 1));
    let created = &server.requests_for("create_environment")[0];
    assert_eq!(created.json().unwrap()["name"], "j");
    assert_eq!(created.header("authorization"), Some("Bearer <redacted>"));
    assert_eq!(created.header("anthropic-beta"), Some(BETA));
    assert_eq!(created.status, 200);

    // Rust: reset.
    server.reset();
    assert!(server.requests().is_empty());
    assert!(server.work_items(&env).is_empty());
    let (status, _) = send(
        &server,
        Method::GET,
        &format!("/v1/environments/{env}"),
        None,
        true,
    )
    .await;
    assert_eq!(status, 404, "the environment is gone");
    let (status, faults) = send(&server, Method::GET, "/_mock/faults", None, false).await;
    assert_eq!((status, faults["error_rate"].as_f64()), (200, Some(0.0)));

    // HTTP: reset.
    let (status, _) = send(
        &server,
        Method::POST,
        "/v1/environments",
        Some(r#"{"name": "k"}"#),
        true,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(server.requests().len(), 2, "the 404 and the create");
    let (status, _) = send(&server, Method::POST, "/_mock/reset", None, false).await;
    assert_eq!(status, 204);
    assert!(server.requests().is_empty());
    let (status, page) = send(&server, Method::GET, "/v1/environments", None, true).await;
    assert_eq!(
        (status, page["data"].as_array().map(Vec::len)),
        (200, Some(0))
    );
}

#[tokio::test]
async fn targeted_faults_over_http_and_from_rust() {
    use anthropic_environments_mock::FaultRule;
    use reqwest::Method;
    let server = MockServer::start().await;
    let client = common::client(&server);
    let env = common::self_hosted(&client, "targets").await;
    // Over HTTP: the second stats call gets a 503 with every retry header;
    // a bad spec is a 400 and changes nothing.
    let rules = json!({"rules": [{"operation": "work_stats", "method": "GET", "nth": 2,
        "action": {"status": 503}, "retry_after": "7", "retry_after_ms": "7000",
        "x_should_retry": false}]});
    let (status, _) = send(
        &server,
        Method::PUT,
        "/_mock/faults",
        Some(&rules.to_string()),
        false,
    )
    .await;
    assert_eq!(status, 204);
    for bad in [
        json!({"error_rate": 1.5}),
        json!({"rules": [{"action": {"status": 1000}}]}),
        json!({"rules": [{"operation": "x"}]}),
        json!({"unknown_field": 1}),
    ] {
        let (status, v) = send(
            &server,
            Method::PUT,
            "/_mock/faults",
            Some(&bad.to_string()),
            false,
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert!(!message(&v).is_empty(), "{bad}");
    }
    let stats = || client.work(&env).stats().send();
    stats().await.unwrap();
    let url = format!("{}/v1/environments/{env}/work/stats", server.base_url());
    let raw = reqwest::Client::new()
        .get(&url)
        .bearer_auth("k")
        .header("anthropic-beta", BETA)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 503);
    let header = |name: &str| {
        raw.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("retry-after").as_deref(), Some("7"));
    assert_eq!(header("retry-after-ms").as_deref(), Some("7000"));
    assert_eq!(header("x-should-retry").as_deref(), Some("false"));
    stats().await.unwrap();

    // From Rust: every ack closes the connection before any status line.
    server.set_faults(FaultConfig::rules([FaultRule::on_operation(
        "ack_work",
        Fault::CloseConnection,
    )]));
    let item = server.queue_work(&env, "s").unwrap();
    let err = client.work(&env).ack(&item.id).send().await.unwrap_err();
    assert!(
        matches!(err, anthropic_environments::Error::Connection { .. }),
        "{err:?}"
    );
    assert_eq!(
        server.work_items(&env)[0].state.as_str(),
        "queued",
        "nothing happened"
    );
    let closed = server.requests_for("ack_work");
    assert_eq!(closed.len(), 1);
}

/// A raw HTTP/1.1 exchange: a closed connection means no status line at
/// all, a broken body means a 200 status line first.
#[tokio::test]
async fn a_closed_connection_sends_no_status_line_and_a_broken_body_does() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for (fault, expect_status_line) in [(Fault::CloseConnection, false), (Fault::BreakBody, true)] {
        let server = MockServer::builder()
            .faults(FaultConfig::sequence([fault]))
            .start()
            .await;
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        stream
            .write_all(
                format!(
                    "GET /v1/environments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k\r\nanthropic-beta: {BETA}\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(
            text.starts_with("HTTP/1.1 200"),
            expect_status_line,
            "{fault:?}: {text:?}"
        );
        if !expect_status_line {
            assert!(answer.is_empty(), "{text:?}");
        }
    }
}

/// Every operation of the generated table has a route: a request to its
/// path template (made concrete) is journaled as that operation and never
/// answered "no such route" or 501 (an operation without a handler); a
/// path of no operation is "no such route".
#[tokio::test]
async fn every_operation_of_the_table_is_routed() {
    let server = MockServer::start().await;
    for op in anthropic_environments_raw::operations::ALL {
        let path: String = op
            .path
            .split('/')
            .map(|segment| match segment.starts_with('{') {
                true => "x_1",
                false => segment,
            })
            .collect::<Vec<_>>()
            .join("/");
        server.clear_requests();
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        let body = (op.method == "POST").then_some("{}");
        let (status, answer) = send(&server, method, &path, body, true).await;
        assert!(
            !message(&answer).contains("no such route"),
            "{} {path}: {status} {answer}",
            op.id
        );
        // A handler of its own, not the answer for operations the mock
        // does not serve.
        assert_ne!(status, 501, "{} {path}: {answer}", op.id);
        let journaled = server.requests();
        assert_eq!(journaled.len(), 1, "{}", op.id);
        assert_eq!(journaled[0].operation.as_deref(), Some(op.id), "{path}");
    }
    let (status, answer) = send(&server, reqwest::Method::GET, "/v1/nothing", None, true).await;
    assert_eq!(status, 404);
    assert!(message(&answer).contains("no such route"), "{answer}");
}

/// A method an operation's path does not take is refused 405 in the API's
/// error envelope, on a path the table routes (poll is a GET; the
/// environment's path takes GET, POST and DELETE, not PUT).
#[tokio::test]
async fn a_method_the_path_does_not_take_is_405_in_the_envelope() {
    let server = MockServer::start().await;
    for (method, path) in [
        (reqwest::Method::POST, "/v1/environments/env_1/work/poll"),
        (reqwest::Method::PUT, "/v1/environments/env_1"),
    ] {
        let (status, answer) = send(&server, method.clone(), path, Some("{}"), true).await;
        assert_eq!(status, 405, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error", "{answer}");
        assert_eq!(message(&answer), "method not allowed", "{answer}");
    }
}
