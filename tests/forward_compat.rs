//! Values the server may add later deserialise instead of failing, and
//! serialise back unchanged.

use anthropic_environments_raw::types::{
    BetaEnvironment, BetaEnvironmentConfig, BetaEnvironmentScope, BetaNetworking,
    BetaSelfHostedWork, BetaSelfHostedWorkHeartbeatResponse, BetaWorkState, ErrorDetails,
    ErrorResponse, ErrorType,
};
use serde_json::{Value, json};

use anthropic_environments_raw::types;
use anthropic_environments_raw::types::{
    BetaEnvironmentListResponse, BetaSelfHostedWorkListResponse, BetaSelfHostedWorkQueueStats,
    BetaWorkLeaseState,
};
use anthropic_environments_tests::{SPEC, read, spec};
use openapiv3::{ReferenceOr, SchemaKind, Type};

fn work(state: &str) -> Value {
    json!({
        "id": "work_1", "acknowledged_at": null, "created_at": "2026-03-15T10:00:00Z",
        "data": {"id": "session_1", "type": "session"}, "environment_id": "env_1",
        "latest_heartbeat_at": null, "metadata": {}, "started_at": null, "state": state,
        "stop_requested_at": null, "stopped_at": null, "type": "work"
    })
}

fn environment(config: Value) -> Value {
    json!({
        "id": "env_1", "archived_at": null, "config": config,
        "created_at": "2026-03-15T10:00:00Z", "description": "d", "metadata": {"k": "v"},
        "name": "n", "type": "environment", "updated_at": "2026-03-15T10:00:00Z"
    })
}

#[test]
fn unknown_work_state_is_kept() {
    let w: BetaSelfHostedWork = serde_json::from_value(work("paused")).unwrap();
    assert_eq!(w.state, BetaWorkState::from("paused"));
    assert!(matches!(&w.state, BetaWorkState::Unknown(v) if v.as_str() == "paused"));
    assert!(w.state.is_unknown());
    assert_eq!(serde_json::to_value(&w).unwrap(), work("paused"));
}

#[test]
fn known_work_states_decode_to_their_variants() {
    for (wire, state) in [
        ("queued", BetaWorkState::Queued),
        ("starting", BetaWorkState::Starting),
        ("active", BetaWorkState::Active),
        ("stopping", BetaWorkState::Stopping),
        ("stopped", BetaWorkState::Stopped),
    ] {
        let w: BetaSelfHostedWork = serde_json::from_value(work(wire)).unwrap();
        assert_eq!(w.state, state);
        assert_eq!(state.as_str(), wire);
        assert_eq!(state.to_string(), wire);
        assert_eq!(wire.parse::<BetaWorkState>().unwrap(), state);
    }
    assert_eq!(BetaWorkState::KNOWN.len(), 5);
}

#[test]
fn unknown_config_type_is_kept_whole() {
    let config = json!({"type": "gpu_cluster", "gpus": 8});
    let env: BetaEnvironment = serde_json::from_value(environment(config.clone())).unwrap();
    assert_eq!(env.config, BetaEnvironmentConfig::Unknown(config.clone()));
    assert_eq!(env.config.tag(), Some("gpu_cluster"));
    assert_eq!(serde_json::to_value(&env).unwrap(), environment(config));
}

#[test]
fn config_without_a_type_is_unknown_not_an_error() {
    let config = json!({"something": "else"});
    let env: BetaEnvironment = serde_json::from_value(environment(config.clone())).unwrap();
    assert!(env.config.is_unknown());
    assert_eq!(env.config.tag(), None);
}

#[test]
fn a_malformed_known_variant_is_still_an_error() {
    // `cloud` promises networking and packages: their absence is a contract
    // violation, not a new variant.
    let err = serde_json::from_value::<BetaEnvironment>(environment(json!({"type": "cloud"})))
        .unwrap_err();
    assert!(err.to_string().contains("networking"), "{err}");
}

#[test]
fn known_config_variants_decode() {
    let env: BetaEnvironment =
        serde_json::from_value(environment(json!({"type": "self_hosted"}))).unwrap();
    assert!(matches!(env.config, BetaEnvironmentConfig::SelfHosted(_)));
    let cloud = json!({
        "type": "cloud",
        "networking": {"type": "unrestricted"},
        "packages": {"apt": [], "cargo": [], "gem": [], "go": [], "npm": [], "pip": ["numpy"]}
    });
    let env: BetaEnvironment = serde_json::from_value(environment(cloud.clone())).unwrap();
    let BetaEnvironmentConfig::Cloud(c) = &env.config else {
        panic!("{:?}", env.config)
    };
    assert!(matches!(c.networking, BetaNetworking::Unrestricted(_)));
    assert_eq!(serde_json::to_value(&env).unwrap(), environment(cloud));
}

#[test]
fn unknown_networking_type_is_kept() {
    let cloud = json!({
        "type": "cloud",
        "networking": {"type": "proxied", "proxy": "http://proxy"},
        "packages": {"apt": [], "cargo": [], "gem": [], "go": [], "npm": [], "pip": []}
    });
    let env: BetaEnvironment = serde_json::from_value(environment(cloud.clone())).unwrap();
    let BetaEnvironmentConfig::Cloud(c) = &env.config else {
        panic!()
    };
    assert_eq!(c.networking.tag(), Some("proxied"));
    assert_eq!(serde_json::to_value(&env).unwrap(), environment(cloud));
}

#[test]
fn unknown_scope_and_extra_fields_are_tolerated() {
    let mut v = environment(json!({"type": "self_hosted"}));
    v["scope"] = json!("team");
    v["brand_new_field"] = json!({"nested": true});
    let env: BetaEnvironment = serde_json::from_value(v).unwrap();
    assert_eq!(env.scope, Some(BetaEnvironmentScope::from("team")));
    assert!(
        env.scope
            .as_ref()
            .is_some_and(BetaEnvironmentScope::is_unknown)
    );
}

#[test]
fn heartbeat_with_unknown_state() {
    let hb: BetaSelfHostedWorkHeartbeatResponse = serde_json::from_value(json!({
        "last_heartbeat": "", "lease_extended": false, "state": "migrating",
        "ttl_seconds": 30, "type": "work_heartbeat"
    }))
    .unwrap();
    assert_eq!(hb.state.as_str(), "migrating");
}

#[test]
fn error_envelope_with_heartbeat_details() {
    let body = json!({
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "lease held elsewhere",
            "details": {
                "error_code": "heartbeat_precondition_failed",
                "current_state": {
                    "last_heartbeat": null, "lease_extended": false,
                    "state": "active", "ttl_seconds": 60
                }
            }
        }
    });
    let e: ErrorResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(e.error.type_, ErrorType::InvalidRequestError);
    let Some(ErrorDetails::HeartbeatPreconditionFailed(d)) = &e.error.details else {
        panic!("{:?}", e.error.details)
    };
    assert_eq!(d.current_state.state, BetaWorkState::Active);
    assert_eq!(d.current_state.last_heartbeat, None);
    assert_eq!(serde_json::to_value(&e).unwrap(), body);
}

#[test]
fn error_envelope_with_unknown_type_and_details() {
    let body = json!({
        "type": "error",
        "error": {"type": "teapot_error", "message": "short and stout",
                  "details": {"error_code": "spout_missing", "spout": 0}}
    });
    let e: ErrorResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(e.error.type_.as_str(), "teapot_error");
    assert_eq!(
        e.error.details.as_ref().unwrap().tag(),
        Some("spout_missing")
    );
    assert!(e.error.details.as_ref().unwrap().is_unknown());
    assert_eq!(serde_json::to_value(&e).unwrap(), body);
}

/// Every property the spec marks required and nullable, as
/// `(component, property)`.
fn required_nullable() -> Vec<(String, String)> {
    let spec = spec();
    let mut found = Vec::new();
    for (name, schema) in &spec.components.as_ref().unwrap().schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let SchemaKind::Type(Type::Object(object)) = &schema.schema_kind else {
            continue;
        };
        for (property, value) in &object.properties {
            let nullable = match value {
                ReferenceOr::Item(p) => p.schema_data.nullable,
                ReferenceOr::Reference { .. } => false,
            };
            if nullable && object.required.contains(property) {
                found.push((name.clone(), property.clone()));
            }
        }
    }
    found.sort();
    found
}

/// Decodes `value` as the component `name`, re-encoded as JSON.
fn decode_as(name: &str, value: Value) -> Result<Value, serde_json::Error> {
    fn round<T: serde::de::DeserializeOwned + serde::Serialize>(
        v: Value,
    ) -> Result<Value, serde_json::Error> {
        Ok(serde_json::to_value(serde_json::from_value::<T>(v)?).unwrap())
    }
    match name {
        "BetaEnvironment" => round::<BetaEnvironment>(value),
        "BetaEnvironmentListResponse" => round::<BetaEnvironmentListResponse>(value),
        "BetaSelfHostedWork" => round::<BetaSelfHostedWork>(value),
        "BetaSelfHostedWorkListResponse" => round::<BetaSelfHostedWorkListResponse>(value),
        "BetaSelfHostedWorkQueueStats" => round::<BetaSelfHostedWorkQueueStats>(value),
        "BetaWorkLeaseState" => round::<BetaWorkLeaseState>(value),
        "BetaManagedAgentsSession" => round::<types::BetaManagedAgentsSession>(value),
        "BetaManagedAgentsSessionAgent" => round::<types::BetaManagedAgentsSessionAgent>(value),
        "BetaManagedAgentsOutcomeEvaluationResource" => {
            round::<types::BetaManagedAgentsOutcomeEvaluationResource>(value)
        }
        "BetaManagedAgentsSessionRefusalStopDetails" => {
            round::<types::BetaManagedAgentsSessionRefusalStopDetails>(value)
        }
        "BetaManagedAgentsSessionStatusIdleEvent" => {
            round::<types::BetaManagedAgentsSessionStatusIdleEvent>(value)
        }
        "BetaManagedAgentsSessionThreadStatusIdleEvent" => {
            round::<types::BetaManagedAgentsSessionThreadStatusIdleEvent>(value)
        }
        "BetaManagedAgentsSessionEventListResponse" => {
            round::<types::BetaManagedAgentsSessionEventListResponse>(value)
        }
        other => panic!("no sample for {other}: add one to this test"),
    }
}

/// The spec's `Session` example, the source of the session samples.
fn session_example() -> Value {
    let spec: Value = serde_yaml_ng::from_str(&read(SPEC)).unwrap();
    spec["components"]["examples"]["Session"]["value"].clone()
}

fn sample(name: &str) -> Value {
    match name {
        "BetaEnvironment" => environment(json!({"type": "self_hosted"})),
        "BetaEnvironmentListResponse" => {
            json!({"data": [environment(json!({"type": "self_hosted"}))], "next_page": null})
        }
        "BetaSelfHostedWork" => work("queued"),
        "BetaSelfHostedWorkListResponse" => json!({"data": [work("queued")], "next_page": null}),
        "BetaSelfHostedWorkQueueStats" => json!({"depth": 0, "oldest_queued_at": null,
            "pending": 0, "type": "work_queue_stats", "workers_polling": null}),
        "BetaWorkLeaseState" => json!({"last_heartbeat": null, "lease_extended": false,
            "state": "active", "ttl_seconds": 60}),
        "BetaManagedAgentsSession" => session_example(),
        "BetaManagedAgentsSessionAgent" => session_example()["agent"].clone(),
        "BetaManagedAgentsOutcomeEvaluationResource" => json!({"type": "outcome_evaluation",
            "outcome_id": "out_1", "description": "d", "iteration": 1, "result": "passed",
            "explanation": null, "completed_at": null}),
        "BetaManagedAgentsSessionRefusalStopDetails" => json!({"type": "refusal",
            "category": null, "explanation": null}),
        "BetaManagedAgentsSessionStatusIdleEvent" => json!({"id": "sevt_1",
            "type": "session.status_idle", "processed_at": "2026-03-15T10:00:05Z",
            "stop_reason": {"type": "end_turn"}, "stop_details": null}),
        "BetaManagedAgentsSessionThreadStatusIdleEvent" => json!({"id": "sevt_1",
            "type": "session.thread_status_idle", "processed_at": "2026-03-15T10:00:05Z",
            "agent_name": "a", "session_thread_id": "sthr_1",
            "stop_reason": {"type": "end_turn"}, "stop_details": null}),
        "BetaManagedAgentsSessionEventListResponse" => json!({"data": [], "next_page": null}),
        other => panic!("no sample for {other}: add one to this test"),
    }
}

/// A required + nullable field the server leaves out decodes as null (both
/// official SDKs accept it), and still serialises as an explicit null.
#[test]
fn every_required_nullable_field_may_be_absent() {
    let fields = required_nullable();
    assert_eq!(fields.len(), 25, "{fields:?}");
    for (name, property) in fields {
        let mut absent = sample(&name);
        let mut explicit = absent.clone();
        explicit[property.as_str()] = Value::Null;
        absent.as_object_mut().unwrap().remove(&property);
        let decoded = decode_as(&name, absent).unwrap_or_else(|e| panic!("{name}.{property}: {e}"));
        assert_eq!(decoded[property.as_str()], Value::Null, "{name}.{property}");
        assert_eq!(
            decoded,
            decode_as(&name, explicit).unwrap(),
            "{name}.{property}"
        );
    }
    // Nested too: a refused heartbeat without current_state.last_heartbeat.
    let details: ErrorDetails = serde_json::from_value(json!({
        "error_code": "heartbeat_precondition_failed",
        "current_state": {"lease_extended": false, "state": "active", "ttl_seconds": 60}
    }))
    .unwrap();
    assert!(
        matches!(details, ErrorDetails::HeartbeatPreconditionFailed(d) if d.current_state.last_heartbeat.is_none())
    );
}

/// The generated types decode with any self-describing format, not only
/// serde_json's own deserializer: open unions must not depend on it (a
/// `RawValue`-based decode was measured 23% faster on a 1,000-environment
/// page, and rejected because it broke every other deserializer, wrappers
/// such as `serde_path_to_error` included).
#[test]
fn open_unions_decode_through_other_deserializers() {
    use anthropic_environments_raw::types::BetaWorkData;
    let yaml = r#"
id: env_1
type: environment
name: yaml
description: null
archived_at: null
created_at: "2026-01-01T00:00:00Z"
updated_at: "2026-01-01T00:00:00Z"
metadata: {}
scope: organization
config:
  type: cloud
  networking: {type: limited, allowed_hosts: [pypi.org], allow_mcp_servers: false, allow_package_managers: true}
  packages: {type: packages, apt: [], cargo: [], gem: [], go: [], npm: [], pip: [numpy]}
"#;
    let env: BetaEnvironment = serde_yaml_ng::from_str(yaml).unwrap();
    assert!(
        matches!(env.config, BetaEnvironmentConfig::Cloud(_)),
        "{:?}",
        env.config
    );
    let future: BetaWorkData = serde_yaml_ng::from_str("{type: future_kind, id: x1}").unwrap();
    assert_eq!(future.tag(), Some("future_kind"));
}

/// Unknown values are opaque (only parsing makes them, so they never hold
/// a value a variant stands for); `try_parse` refuses them.
#[test]
fn unknown_values_are_opaque_and_try_parse_is_strict() {
    // A known value always parses to its variant, never to Unknown.
    for known in BetaWorkState::KNOWN {
        assert_eq!(BetaWorkState::from(known.as_str()), *known);
        assert_eq!(BetaWorkState::try_parse(known.as_str()).as_ref(), Ok(known));
    }
    let paused = BetaWorkState::from("paused");
    assert!(paused.is_unknown());
    assert_eq!(paused.to_string(), "paused");
    let err = BetaWorkState::try_parse("paused").unwrap_err();
    assert_eq!(err.value(), "paused");
    assert_eq!(err.to_string(), "unknown BetaWorkState value \"paused\"");
    let scope = BetaEnvironmentScope::try_parse("account");
    assert!(scope.is_ok_and(|s| !s.is_unknown()));
}

/// Every event type and result block the spec types decodes to its own
/// variant (not `Unknown`), and back to the same JSON.
#[test]
fn every_typed_event_and_block_decodes_to_its_own_variant() {
    let t = "2026-03-15T10:00:05Z";
    let events = [
        json!({"id": "e1", "type": "agent.tool_use", "name": "bash", "input": {}, "processed_at": t}),
        json!({"id": "e2", "type": "agent.custom_tool_use", "name": "lookup", "input": {}, "processed_at": t}),
        json!({"id": "e3", "type": "user.tool_result", "tool_use_id": "e1", "is_error": false,
               "content": [{"type": "text", "text": "ok"}]}),
        json!({"id": "e4", "type": "user.custom_tool_result", "custom_tool_use_id": "e2"}),
        json!({"id": "e5", "type": "user.tool_confirmation", "tool_use_id": "e1", "result": "allow"}),
        json!({"id": "e6", "type": "user.message", "content": [{"type": "text", "text": "hi"}]}),
        json!({"id": "e7", "type": "agent.message", "content": [{"type": "text", "text": "hi"}], "processed_at": t}),
        json!({"id": "e8", "type": "session.status_idle", "processed_at": t,
               "stop_reason": {"type": "requires_action", "event_ids": ["e1"]}, "stop_details": null}),
        json!({"id": "e9", "type": "session.status_running", "processed_at": t}),
        json!({"id": "e10", "type": "session.status_rescheduled", "processed_at": t}),
        json!({"id": "e11", "type": "session.status_terminated", "processed_at": t}),
        json!({"id": "e12", "type": "session.deleted", "processed_at": t}),
        json!({"id": "e13", "type": "session.thread_status_running", "processed_at": t,
               "agent_name": "a", "session_thread_id": "th"}),
        json!({"id": "e14", "type": "session.thread_status_idle", "processed_at": t,
               "agent_name": "a", "session_thread_id": "th",
               "stop_reason": {"type": "end_turn"}, "stop_details": null}),
        json!({"id": "e15", "type": "session.thread_status_rescheduled", "processed_at": t,
               "agent_name": "a", "session_thread_id": "th"}),
        json!({"id": "e16", "type": "session.thread_status_terminated", "processed_at": t,
               "agent_name": "a", "session_thread_id": "th"}),
    ];
    for event in events {
        let kind = event["type"].as_str().unwrap().to_owned();
        let decoded: types::BetaManagedAgentsSessionEvent =
            serde_json::from_value(event.clone()).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(!decoded.is_unknown(), "{kind} decoded as Unknown");
        assert_eq!(decoded.tag(), Some(kind.as_str()));
        assert_eq!(serde_json::to_value(&decoded).unwrap(), event, "{kind}");
    }
    let blocks = [
        json!({"type": "text", "text": "x"}),
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}),
        json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "AA=="}}),
        json!({"type": "search_result", "source": "https://e.x", "title": "t",
               "content": [{"type": "text", "text": "y"}], "citations": {"enabled": false}}),
    ];
    for block in blocks {
        let kind = block["type"].as_str().unwrap().to_owned();
        let decoded: types::BetaManagedAgentsToolResultContent =
            serde_json::from_value(block.clone()).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(!decoded.is_unknown(), "{kind} decoded as Unknown");
        assert_eq!(serde_json::to_value(&decoded).unwrap(), block, "{kind}");
    }
    // A type this version does not know: kept as it came.
    let later = json!({"id": "e99", "type": "agent.thinking", "processed_at": t, "new": [1]});
    let decoded: types::BetaManagedAgentsSessionEvent =
        serde_json::from_value(later.clone()).unwrap();
    assert!(decoded.is_unknown());
    assert_eq!(serde_json::to_value(&decoded).unwrap(), later);
}
