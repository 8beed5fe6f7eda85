//! Every error status maps to a typed error with the envelope's type and
//! message and the request id; odd bodies keep their status.

mod common;

use anthropic_environments::Error;
use anthropic_environments::types::BetaWorkState;
use common::*;

#[tokio::test]
async fn every_error_status_maps_to_an_api_error() {
    let cases: [(u16, &str); 10] = [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (408, "timeout_error"),
        (409, "conflict_error"),
        (412, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ];
    for (status, kind) in cases {
        let server = server(move |_| api_error(status, kind, "it went wrong")).await;
        let (client, _) = client(&server);
        let err = client
            .environments()
            .retrieve("env_1")
            .max_retries(0)
            .send()
            .await
            .unwrap_err();
        let api = err.api().unwrap_or_else(|| panic!("{status}: {err:?}"));
        assert_eq!(api.status, status);
        assert_eq!(api.error_type.as_ref().map(|t| t.as_str()), Some(kind));
        assert_eq!(api.message, "it went wrong");
        assert_eq!(
            api.request_id.as_deref(),
            Some(format!("req_{status}").as_str())
        );
        assert_eq!(err.request_id(), Some(format!("req_{status}").as_str()));
        assert_eq!(err.is_not_found(), status == 404, "{status}");
        assert_eq!(err.is_conflict(), status == 409, "{status}");
        assert_eq!(err.is_lease_held_elsewhere(), status == 412, "{status}");
        assert_eq!(err.is_rate_limited(), status == 429, "{status}");
        assert_eq!(err.is_authentication_error(), status == 401, "{status}");
        assert_eq!(err.is_permission_denied(), status == 403, "{status}");
        assert_eq!(err.is_server_error(), status >= 500, "{status}");
        assert_eq!(
            err.is_retryable(),
            matches!(status, 408 | 409 | 429) || status >= 500,
            "{status}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&status.to_string()) && text.contains("it went wrong"),
            "{text}"
        );
        assert!(text.contains(&format!("req_{status}")), "{text}");
    }
}

#[tokio::test]
async fn refused_heartbeat_exposes_the_lease_state() {
    let server = server(|_| {
        (
            StatusCode::PRECONDITION_FAILED,
            vec![("request-id".into(), "req_hb".into())],
            json!({"type": "error", "error": {
                "type": "invalid_request_error", "message": "lease mismatch",
                "details": {"error_code": "heartbeat_precondition_failed",
                            "current_state": {"last_heartbeat": "2026-03-15T10:00:30Z",
                                              "lease_extended": false, "state": "active",
                                              "ttl_seconds": 60}}}})
            .to_string(),
        )
    })
    .await;
    let (client, _) = client(&server);
    let err = client
        .work("env_1")
        .heartbeat("work_1")
        .expected_last_heartbeat("2026-03-15T10:00:00Z")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_lease_held_elsewhere());
    assert!(!err.is_retryable());
    let lease = err.api().unwrap().lease_state().expect("lease state");
    assert_eq!(lease.state, BetaWorkState::Active);
    assert_eq!(
        lease.last_heartbeat.as_deref(),
        Some("2026-03-15T10:00:30Z")
    );
    assert!(!lease.lease_extended);
    assert_eq!(server.requests().len(), 1, "a 412 is not retried");
}

#[tokio::test]
async fn an_error_status_with_a_non_envelope_body_keeps_its_status() {
    let server = server(|_| {
        (
            StatusCode::BAD_GATEWAY,
            vec![("request-id".into(), "req_proxy".into())],
            "<html>bad gateway</html>".into(),
        )
    })
    .await;
    let (client, _) = client(&server);
    let err = client
        .environments()
        .retrieve("e")
        .max_retries(0)
        .send()
        .await
        .unwrap_err();
    let api = err.api().expect("api error");
    assert_eq!(api.status, 502);
    assert_eq!(api.error_type, None);
    assert!(api.message.contains("bad gateway"));
    assert_eq!(api.request_id.as_deref(), Some("req_proxy"));
}

#[tokio::test]
async fn an_unknown_error_type_is_kept() {
    let server = server(|_| api_error(418, "teapot_error", "short and stout")).await;
    let (client, _) = client(&server);
    let err = client
        .environments()
        .retrieve("e")
        .send()
        .await
        .unwrap_err();
    let error_type = err.api().unwrap().error_type.clone().unwrap();
    assert!(error_type.is_unknown());
    assert_eq!(error_type.as_str(), "teapot_error");
}

#[tokio::test]
async fn a_malformed_success_body_is_a_decode_error_with_an_excerpt() {
    let server = server(|_| {
        (
            StatusCode::OK,
            vec![("request-id".into(), "req_bad".into())],
            r#"{"id": 42, "not": "an environment"}"#.into(),
        )
    })
    .await;
    let (client, _) = client(&server);
    let err = client
        .environments()
        .retrieve("e")
        .send()
        .await
        .unwrap_err();
    let Error::Decode {
        status,
        request_id,
        excerpt,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 200);
    assert_eq!(request_id.as_deref(), Some("req_bad"));
    assert!(excerpt.contains("an environment"), "{excerpt}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_long_garbage_body_is_cut_in_the_excerpt() {
    let server = server(|_| (StatusCode::OK, vec![], "x".repeat(10_000))).await;
    let (client, _) = client(&server);
    let err = client
        .environments()
        .retrieve("e")
        .send()
        .await
        .unwrap_err();
    let Error::Decode { excerpt, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(excerpt.chars().count() <= 201, "{}", excerpt.len());
}

#[tokio::test]
async fn error_codes_and_statuses_users_branch_on() {
    let cases: [(u16, &str, Option<&str>); 11] = [
        (400, "invalid_request_error", Some("environment_archived")),
        (
            400,
            "invalid_request_error",
            Some("invalid_config_type_change"),
        ),
        (400, "invalid_request_error", Some("invalid_metadata")),
        (401, "authentication_error", None),
        (403, "permission_error", Some("environment_create_disabled")),
        (403, "permission_error", Some("environment_update_disabled")),
        (404, "not_found_error", Some("environment_not_found")),
        (413, "invalid_request_error", Some("a_code_from_the_future")),
        (422, "invalid_request_error", None),
        (500, "api_error", None),
        (529, "overloaded_error", None),
    ];
    for (status, kind, code) in cases {
        let server = server(move |_| {
            let mut error = json!({"type": kind, "message": "m"});
            if let Some(code) = code {
                error["details"] = json!({"error_code": code});
            }
            (
                StatusCode::from_u16(status).unwrap(),
                vec![("request-id".into(), "req_x".into())],
                json!({"type": "error", "error": error}).to_string(),
            )
        })
        .await;
        let (client, _) = client(&server);
        let err = client
            .environments()
            .retrieve("env_1")
            .max_retries(0)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.error_code(), code, "{status}");
        assert_eq!(err.error_type().map(|t| t.as_str()), Some(kind), "{status}");
        let flags = [
            err.is_bad_request(),
            err.is_authentication_error(),
            err.is_permission_denied(),
            err.is_not_found(),
            err.is_payload_too_large(),
            err.is_unprocessable(),
            err.is_internal_server_error(),
            err.is_overloaded(),
        ];
        let expected = match status {
            400 => 0,
            401 => 1,
            403 => 2,
            404 => 3,
            413 => 4,
            422 => 5,
            500 => 6,
            _ => 7,
        };
        for (i, flag) in flags.iter().enumerate() {
            assert_eq!(*flag, i == expected, "{status}: helper {i}");
        }
        if code == Some("environment_archived") {
            assert!(matches!(
                err.api().unwrap().details,
                Some(anthropic_environments::types::ErrorDetails::EnvironmentArchived(_))
            ));
        }
    }
}

/// A refused connection says so in `Display`, not only in `Debug`: the
/// cause chain is part of the message.
#[tokio::test]
async fn a_refused_connection_says_why_in_its_message() {
    let client = anthropic_environments::Client::builder()
        .api_key("sk-ant-api03-test")
        .base_url(closed_loopback_url())
        .build()
        .unwrap();
    let err = client
        .environments()
        .retrieve("env_1")
        .max_retries(0)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    let text = err.to_string().to_lowercase();
    assert!(text.contains("connection error"), "{text}");
    assert!(
        text.contains("refused"),
        "the cause is in the message: {text}"
    );
    assert!(!text.contains("sk-ant-api03-test"), "{text}");
}
