//! The committed generated code equals a fresh generation from the spec.

use anthropic_environments_tests::{GENERATED, SPEC, read};

#[test]
fn committed_generated_code_matches_the_spec() {
    let fresh = anthropic_environments_codegen::generate(&read(SPEC), SPEC).expect("generation");
    let committed = read(GENERATED);
    assert!(
        committed == fresh,
        "{GENERATED} is stale: run `cargo xtask generate` and commit the result"
    );
}

#[test]
fn generation_is_deterministic() {
    let spec = read(SPEC);
    let a = anthropic_environments_codegen::generate(&spec, SPEC).unwrap();
    let b = anthropic_environments_codegen::generate(&spec, SPEC).unwrap();
    assert_eq!(a, b);
}

#[test]
fn generated_file_says_what_it_is() {
    let committed = read(GENERATED);
    let first = committed.lines().next().unwrap();
    assert!(first.starts_with("// @generated"), "{first}");
    assert!(first.contains(SPEC), "{first}");
}

#[test]
fn all_fourteen_operations_are_generated() {
    let surface =
        anthropic_environments_codegen::surface::public_surface(&read(GENERATED)).unwrap();
    let ops: Vec<&str> = surface
        .lines()
        .filter(|l| l.starts_with("Client"))
        .collect();
    for op in [
        "ClientEnvironmentsExt::create_environment",
        "ClientEnvironmentsExt::list_environments",
        "ClientEnvironmentsExt::retrieve_environment",
        "ClientEnvironmentsExt::update_environment",
        "ClientEnvironmentsExt::delete_environment",
        "ClientEnvironmentsExt::archive_environment",
        "ClientWorkExt::retrieve_work",
        "ClientWorkExt::poll_work",
        "ClientWorkExt::ack_work",
        "ClientWorkExt::heartbeat_work",
        "ClientWorkExt::stop_work",
        "ClientWorkExt::list_work",
        "ClientWorkExt::update_work",
        "ClientWorkExt::work_stats",
        "ClientSessionsExt::retrieve_session",
        "ClientSessionsExt::list_session_events",
        "ClientSessionsExt::send_session_events",
        "ClientSessionsExt::stream_session_events",
        "ClientSkillsExt::retrieve_skill_version",
        "ClientSkillsExt::download_skill_version_content",
    ] {
        assert!(
            ops.iter().any(|l| l.starts_with(&format!("{op} "))),
            "missing {op}"
        );
    }
    // The 14 environment and work operations, and the 6 session and skill
    // calls a worker makes.
    assert_eq!(ops.len(), 20, "{ops:#?}");
}

#[test]
fn the_mocks_copy_of_the_spec_is_the_spec() {
    let copy = read("crates/anthropic-environments-mock/spec/environments.yaml");
    let spec = read(SPEC);
    assert!(copy.starts_with("# @generated"), "the copy says what it is");
    assert!(
        copy.ends_with(&spec),
        "the mock's spec copy is stale: run `cargo xtask generate` and commit the result"
    );
}
