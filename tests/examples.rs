//! Every example response of the spec deserialises into the generated type
//! and serialises back to an equal JSON value; the spec's examples are the
//! reference's.

use anthropic_environments_raw::types;
use anthropic_environments_tests::{read, root, spec};
use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind};
use serde_json::Value;

/// Decodes `value` as the generated type of component `schema` and encodes it back.
fn round_trip(schema: &str, value: &Value) -> Value {
    fn rt<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value) -> Value {
        let typed: T =
            serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value:#}"));
        serde_json::to_value(typed).unwrap()
    }
    match schema {
        "BetaEnvironment" => rt::<types::BetaEnvironment>(value),
        "BetaEnvironmentListResponse" => rt::<types::BetaEnvironmentListResponse>(value),
        "BetaEnvironmentDeleteResponse" => rt::<types::BetaEnvironmentDeleteResponse>(value),
        "BetaSelfHostedWork" => rt::<types::BetaSelfHostedWork>(value),
        "BetaSelfHostedWork?" => rt::<Option<types::BetaSelfHostedWork>>(value),
        "BetaSelfHostedWorkListResponse" => rt::<types::BetaSelfHostedWorkListResponse>(value),
        "BetaSelfHostedWorkHeartbeatResponse" => {
            rt::<types::BetaSelfHostedWorkHeartbeatResponse>(value)
        }
        "BetaSelfHostedWorkQueueStats" => rt::<types::BetaSelfHostedWorkQueueStats>(value),
        "ErrorResponse" => rt::<types::ErrorResponse>(value),
        "BetaManagedAgentsSession" => rt::<types::BetaManagedAgentsSession>(value),
        "BetaManagedAgentsSessionEventListResponse" => {
            rt::<types::BetaManagedAgentsSessionEventListResponse>(value)
        }
        "BetaManagedAgentsSendSessionEvents" => {
            rt::<types::BetaManagedAgentsSendSessionEvents>(value)
        }
        "EventSendParams" => rt::<types::EventSendParams>(value),
        "BetaSkillVersion" => rt::<types::BetaSkillVersion>(value),
        other => panic!("no generated type mapped for schema {other}: add it to round_trip"),
    }
}

fn component(reference: &str) -> &str {
    reference.trim_start_matches("#/components/schemas/")
}

/// The component a response schema names; `X?` for `nullable allOf [X]`.
fn schema_name(schema: &ReferenceOr<Schema>) -> String {
    match schema {
        ReferenceOr::Reference { reference } => component(reference).to_owned(),
        ReferenceOr::Item(Schema {
            schema_data,
            schema_kind: SchemaKind::AllOf { all_of },
        }) if schema_data.nullable && all_of.len() == 1 => match &all_of[0] {
            ReferenceOr::Reference { reference } => format!("{}?", component(reference)),
            other => panic!("unexpected allOf member {other:?}"),
        },
        other => panic!("unexpected response schema {other:?}"),
    }
}

fn example_value(spec: &OpenAPI, example: &ReferenceOr<openapiv3::Example>) -> Value {
    match example {
        ReferenceOr::Item(e) => e.value.clone().unwrap_or(Value::Null),
        ReferenceOr::Reference { reference } => {
            let name = reference.trim_start_matches("#/components/examples/");
            let found = &spec.components.as_ref().unwrap().examples[name];
            example_value(spec, found)
        }
    }
}

fn response<'a>(
    spec: &'a OpenAPI,
    r: &'a ReferenceOr<openapiv3::Response>,
) -> &'a openapiv3::Response {
    match r {
        ReferenceOr::Item(r) => r,
        ReferenceOr::Reference { reference } => {
            let name = reference.trim_start_matches("#/components/responses/");
            match &spec.components.as_ref().unwrap().responses[name] {
                ReferenceOr::Item(r) => r,
                _ => panic!("nested response reference"),
            }
        }
    }
}

/// (operation summary, status, schema name, example value) for every example.
fn all_examples(spec: &OpenAPI) -> Vec<(String, String, String, Value)> {
    let mut out = Vec::new();
    for (_, method, op) in spec.operations() {
        let summary = op.summary.clone().unwrap_or_else(|| method.to_owned());
        for (status, r) in &op.responses.responses {
            let r = response(spec, r);
            let Some(media) = r.content.get("application/json") else {
                continue;
            };
            let schema = schema_name(media.schema.as_ref().expect("response schema"));
            for example in media.examples.values() {
                out.push((
                    summary.clone(),
                    status.to_string(),
                    schema.clone(),
                    example_value(spec, example),
                ));
            }
        }
    }
    out
}

#[test]
fn every_example_round_trips_through_the_generated_types() {
    let spec = spec();
    let examples = all_examples(&spec);
    // 14 operations with a 200 example each, poll's `null`, the 412 and the
    // shared error example on each of the 14 operations' 4XX and 5XX.
    assert!(examples.len() >= 16, "{}", examples.len());
    for (op, status, schema, value) in examples {
        let back = round_trip(&schema, &value);
        assert_eq!(back, value, "{op} {status} ({schema}) did not round-trip");
    }
}

#[test]
fn every_operation_has_a_success_example() {
    let spec = spec();
    let examples = all_examples(&spec);
    for (_, _, op) in spec.operations() {
        let summary = op.summary.as_deref().unwrap();
        // A stream and a download answer bytes, not JSON: their 200 is an
        // event stream's text (stream) or an archive (download).
        if ["Stream Events", "Download Skill Version"].contains(&summary) {
            continue;
        }
        assert!(
            examples
                .iter()
                .any(|(s, st, _, _)| s == summary && st == "200"),
            "{summary} has no 200 example"
        );
    }
}

#[test]
fn poll_no_work_null_decodes_to_none() {
    let none: Option<types::BetaSelfHostedWork> = serde_json::from_str("null").unwrap();
    assert!(none.is_none());
}

/// The `#### Response` JSON of each `## <operation>` section of a reference file.
fn reference_examples(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut section = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("## ") {
            section = Some(title.trim().to_owned());
        } else if line.trim() == "#### Response" {
            let fence = lines.by_ref().find(|l| l.trim_start().starts_with("```"));
            assert!(fence.is_some());
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.trim_start().starts_with("```"))
                .collect();
            let value: Value = serde_json::from_str(&body.join("\n")).unwrap();
            out.push((section.clone().expect("a section title"), value));
        }
    }
    out
}

/// The reference's example responses, vendored from the seeds into
/// `tests/fixtures/reference-examples.json` so that a plain clone checks
/// them (`vendored_reference_examples_match_the_seeds` keeps the copy true).
fn vendored_reference_examples() -> Vec<(String, Value)> {
    let fixture: Value =
        serde_json::from_str(&read("tests/fixtures/reference-examples.json")).unwrap();
    fixture["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["response"].clone(),
            )
        })
        .collect()
}

/// The vendored examples are those of the reference in `../shared/seeds/`.
#[test]
#[ignore = "needs the reference in ../shared/seeds beside the checkout (CI has it); cargo xtask test runs it"]
fn vendored_reference_examples_match_the_seeds() {
    let seeds = root().join("../shared/seeds/000_3e43d81b5c454090.txt");
    let reference =
        std::fs::read_to_string(&seeds).unwrap_or_else(|e| panic!("{}: {e}", seeds.display()));
    assert_eq!(
        reference_examples(&reference),
        vendored_reference_examples()
    );
}

/// The spec's 200 examples are exactly the reference's example responses.
#[test]
fn spec_examples_are_the_reference_examples() {
    let reference = vendored_reference_examples();
    assert_eq!(
        reference.len(),
        14,
        "the reference has one example per operation"
    );
    let spec = spec();
    let examples = all_examples(&spec);
    for (title, expected) in reference {
        let ours: Vec<_> = examples
            .iter()
            .filter(|(s, st, _, _)| *s == title && st == "200")
            .map(|(_, _, _, v)| v)
            .collect();
        assert!(!ours.is_empty(), "no 200 example for {title}");
        assert_eq!(
            ours[0], &expected,
            "the example of {title} differs from the reference"
        );
        // ...and it round-trips through the generated type.
        let (_, _, schema, _) = examples
            .iter()
            .find(|(s, st, _, _)| *s == title && st == "200")
            .unwrap();
        assert_eq!(round_trip(schema, &expected), expected, "{title}");
    }
}
