//! The API key never shows in Debug output, errors or traces.

mod common;

use anthropic_environments::Client;
use anthropic_environments::credentials::{Credential, WorkSecret};
use common::*;

#[tokio::test]
async fn the_key_is_never_printed() {
    let (logs, _guard) = CapturedLogs::install();

    let server = server(|_| api_error(401, "authentication_error", "invalid x-api-key")).await;
    let (client, _) = client(&server);
    let builder = Client::builder().api_key(KEY);
    for text in [
        format!("{client:?}"),
        format!("{builder:?}"),
        format!("{:?}", Credential::api_key(KEY)),
        format!("{:?}", Credential::environment_key(KEY)),
        format!(
            "{:?}",
            client
                .with_credential(Credential::sessions_token(KEY))
                .unwrap()
        ),
    ] {
        assert!(!text.contains(KEY), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }
    let err = client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_authentication_error() || err.is_permission_denied());
    assert!(!format!("{err}").contains("SECRET"));
    assert!(!format!("{err:?}").contains("SECRET"));

    let logs = logs.text();
    assert!(
        logs.contains("anthropic.environments.retrieve"),
        "the request span is traced: {logs}"
    );
    assert!(!logs.contains("SECRET"), "{logs}");
}

/// {"sessions_token":"sk-ant-req-SECRET"} in URL-safe base64.
const WORK_SECRET: &str = "eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEtU0VDUkVUIn0";

#[test]
fn a_work_secret_and_a_work_item_never_print_their_secret() {
    let secret = WorkSecret::decode(WORK_SECRET).unwrap();
    assert_eq!(secret.sessions_token().expose(), "sk-ant-req-SECRET");
    let work: anthropic_environments::Work = serde_json::from_value(serde_json::json!({
        "id": "work_1", "environment_id": "env_1", "created_at": "",
        "data": {"type": "session", "id": "session_1"}, "metadata": {},
        "state": "queued", "type": "work", "secret": WORK_SECRET,
    }))
    .unwrap();
    let decoded: anthropic_environments::types::BetaWorkSecret =
        serde_json::from_value(serde_json::json!({"sessions_token": "sk-ant-req-SECRET"})).unwrap();
    for text in [
        format!("{secret:?}"),
        format!("{work:?}"),
        format!("{work:#?}"),
        format!("{decoded:?}"),
    ] {
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!text.contains(WORK_SECRET), "{text}");
    }
}
