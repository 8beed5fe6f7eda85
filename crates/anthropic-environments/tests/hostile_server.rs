//! No server input panics the client: every response type's decoder on
//! arbitrary JSON, and every operation against a server that answers
//! arbitrary statuses and bodies (property tests).

mod common;

use std::sync::{Arc, Mutex};

use anthropic_environments::types;
use anthropic_environments::types::{
    BetaEnvironment, BetaEnvironmentDeleteResponse, BetaEnvironmentListResponse,
    BetaSelfHostedWork, BetaSelfHostedWorkHeartbeatResponse, BetaSelfHostedWorkListResponse,
    BetaSelfHostedWorkQueueStats, BetaWorkData, ErrorDetails, ErrorResponse,
};
use anthropic_environments::{Client, MetadataPatch, SessionEvent};
use common::*;
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            ".{0,12}",
            Just("session".to_owned()),
            Just("healthcheck".to_owned()),
            Just("heartbeat_precondition_failed".to_owned()),
            Just("queued".to_owned()),
            Just("stopped".to_owned()),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,10}",
                    Just("type".to_owned()),
                    Just("id".to_owned()),
                    Just("data".to_owned()),
                    Just("error_code".to_owned()),
                    Just("next_page".to_owned()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid body of some response type with one field replaced or removed.
fn mutated_valid_body() -> impl Strategy<Value = Value> {
    let bases = vec![
        work_json("work_1", "active"),
        env_json("env_1"),
        json!({"data": [work_json("work_1", "queued")], "next_page": "p1"}),
        json!({"last_heartbeat": "t", "lease_extended": true, "state": "active",
               "ttl_seconds": 30, "type": "work_heartbeat"}),
        json!({"id": "sevt_1", "type": "agent.tool_use", "name": "bash",
               "input": {"command": "ls"}, "processed_at": "t", "evaluated_permission": "ask"}),
        json!({"id": "sevt_2", "type": "user.tool_result", "tool_use_id": "sevt_1",
               "is_error": false, "content": [{"type": "text", "text": "x"},
               {"type": "search_result", "source": "https://e.x", "title": "t",
                "content": [{"type": "text", "text": "y"}], "citations": {"enabled": true}}]}),
        json!({"id": "sevt_3", "type": "session.status_idle", "processed_at": "t",
               "stop_reason": {"type": "requires_action", "event_ids": ["sevt_1"]},
               "stop_details": null}),
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "m",
               "details": {"error_code": "heartbeat_precondition_failed",
                           "current_state": {"last_heartbeat": null, "lease_extended": false,
                                             "state": "active", "ttl_seconds": 60}}}}),
    ];
    (
        proptest::sample::select(bases),
        "[a-z_]{1,12}",
        json_value(),
        any::<bool>(),
    )
        .prop_map(|(mut base, key, value, remove)| {
            let object = base.as_object_mut().expect("objects");
            let key = object
                .keys()
                .nth(key.len() % object.len().max(1))
                .cloned()
                .unwrap_or(key);
            if remove {
                object.remove(&key);
            } else {
                object.insert(key, value);
            }
            base
        })
}

fn decode_all(value: &Value) {
    macro_rules! decode {
        ($($ty:ty),*) => {$(
            let _ = serde_json::from_value::<$ty>(value.clone());
        )*};
    }
    decode!(
        BetaEnvironment,
        BetaEnvironmentListResponse,
        BetaEnvironmentDeleteResponse,
        BetaSelfHostedWork,
        Option<BetaSelfHostedWork>,
        BetaSelfHostedWorkListResponse,
        BetaSelfHostedWorkHeartbeatResponse,
        BetaSelfHostedWorkQueueStats,
        BetaWorkData,
        ErrorDetails,
        ErrorResponse,
        types::BetaManagedAgentsSession,
        types::BetaManagedAgentsSessionEventListResponse,
        types::BetaManagedAgentsSendSessionEvents,
        types::BetaManagedAgentsToolResultContent,
        types::BetaSkillVersion
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Decoding never panics, and whatever decodes serialises back to JSON
    /// that decodes to the same value (open enums and unions keep unknown
    /// values).
    #[test]
    fn every_response_decoder_takes_any_json(value in prop_oneof![json_value(), mutated_valid_body()]) {
        decode_all(&value);
        if let Ok(work) = serde_json::from_value::<BetaSelfHostedWork>(value.clone()) {
            let again: BetaSelfHostedWork =
                serde_json::from_value(serde_json::to_value(&work).unwrap()).unwrap();
            prop_assert_eq!(again, work);
        }
        if let Ok(data) = serde_json::from_value::<BetaWorkData>(value.clone()) {
            let again: BetaWorkData =
                serde_json::from_value(serde_json::to_value(&data).unwrap()).unwrap();
            prop_assert_eq!(again, data);
        }
        // Session events and result blocks: whatever decodes comes back the
        // same; a type this version does not know is kept as it came.
        if let Ok(event) = serde_json::from_value::<SessionEvent>(value.clone()) {
            let back = serde_json::to_value(&event).unwrap();
            let again: SessionEvent = serde_json::from_value(back.clone()).unwrap();
            prop_assert_eq!(&again, &event);
            if event.is_unknown() {
                prop_assert_eq!(back, value.clone());
            }
        }
        if let Ok(block) = serde_json::from_value::<types::BetaManagedAgentsToolResultContent>(value.clone()) {
            let back = serde_json::to_value(&block).unwrap();
            let again: types::BetaManagedAgentsToolResultContent = serde_json::from_value(back.clone()).unwrap();
            prop_assert_eq!(&again, &block);
            if block.is_unknown() {
                prop_assert_eq!(back, value);
            }
        }
    }
}

/// What the hostile server answers next.
type Answer = Arc<Mutex<(u16, Vec<u8>)>>;

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        mutated_valid_body().prop_map(|v| v.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..64),
        Just(b"null".to_vec()),
        Just(Vec::new()),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(201),
        Just(204),
        Just(400),
        Just(404),
        Just(409),
        Just(412),
        Just(429),
        Just(500),
        Just(529),
        100u16..600,
    ]
    .prop_filter("a status hyper can send with a body", |s| {
        *s >= 200 && *s != 204 && *s != 205 && *s != 304
    })
}

/// Sends every operation once; each must return, never panic.
async fn every_operation(client: &Client) {
    let envs = client.environments();
    let work = client.work("env_1");
    let _ = envs.create("n").send().await;
    let _ = envs.list().send().await;
    let _ = envs.retrieve("env_1").send().await;
    let _ = envs.update("env_1").name("m").send().await;
    let _ = envs.delete("env_1").send().await;
    let _ = envs.archive("env_1").send().await;
    let _ = work.list().send().await;
    let _ = work.poll().block_ms(1).send().await;
    let _ = work.stats().send().await;
    let _ = work.retrieve("work_1").send().await;
    let _ = work
        .update("work_1")
        .metadata_patch(MetadataPatch::new().set("k", "v"))
        .send()
        .await;
    let _ = work.ack("work_1").send().await;
    let _ = work.heartbeat("work_1").first().send().await;
    let _ = work.stop("work_1").send().await;
    let sessions = client.sessions();
    let _ = sessions.retrieve("sesn_1").send().await;
    let _ = sessions.events("sesn_1").list().send().await;
    let _ = sessions.events("sesn_1").send(Vec::new()).send().await;
    if let Ok(stream) = sessions.events("sesn_1").stream().send().await {
        let _ = futures::StreamExt::collect::<Vec<_>>(stream).await;
    }
    let _ = client
        .skills()
        .retrieve_version("skill_1", "latest")
        .send()
        .await;
    if let Ok(content) = client
        .skills()
        .download_version("skill_1", "v1")
        .send()
        .await
    {
        let _ = futures::StreamExt::collect::<Vec<_>>(content).await;
    }
}

#[test]
fn no_answer_of_a_hostile_server_panics_the_client() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer: Answer = Arc::new(Mutex::new((200, Vec::new())));
    let served = answer.clone();
    let server = runtime.block_on(server(move |_| {
        let (status, body) = served.lock().unwrap().clone();
        (
            StatusCode::from_u16(status).unwrap(),
            vec![("request-id".into(), "req_h".into())],
            String::from_utf8_lossy(&body).into_owned(),
        )
    }));
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&server.base_url)
        .max_retries(0)
        .build()
        .unwrap();
    proptest!(ProptestConfig::with_cases(48), |(status in status(), body in body_bytes())| {
        *answer.lock().unwrap() = (status, body);
        runtime.block_on(every_operation(&client));
    });
    assert!(server.requests().len() >= 48 * 20);
}
