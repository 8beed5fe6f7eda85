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

/// The README's per-operation credential table is the spec's (its
/// `x-credentials`), row for row: written from the generated operation
/// table and looked up in the README.
#[test]
fn the_readme_credential_table_is_the_specs() {
    use anthropic_environments_raw::operation::Credential;
    use anthropic_environments_raw::operations;
    let name = |c: &Credential| match c {
        Credential::ApiKey => "API key",
        Credential::EnvironmentKey => "environment key",
        Credential::SessionsToken => "the item's sessions token",
        _ => "?",
    };
    let mut table = String::from(
        "| operation | request | accepts (the official workers' choice first) |\n| --- | --- | --- |\n",
    );
    for op in operations::ALL {
        let accepts: Vec<&str> = op.credentials.iter().map(name).collect();
        table.push_str(&format!(
            "| `{}` | `{} {}` | {} |\n",
            op.id,
            op.method,
            op.path,
            accepts.join(", ")
        ));
    }
    let readme = read("README.md");
    assert!(
        readme.contains(&table),
        "the README's credential table differs from the spec's x-credentials; it should read:\n\n{table}"
    );
}

/// Every operation of the project's spec says its span name and the
/// credentials it accepts (codegen would fall back to a made-up span name
/// and no credential), and the wire constants are in `info`.
#[test]
fn every_operation_says_its_span_and_credentials() {
    let spec = anthropic_environments_tests::spec();
    for (path, method, op) in spec.operations() {
        for extension in ["x-span-name", "x-credentials"] {
            assert!(
                op.extensions.contains_key(extension),
                "{method} {path} has no {extension}"
            );
        }
    }
    for extension in ["x-managed-agents-beta", "x-no-heartbeat"] {
        assert!(
            spec.info.extensions.contains_key(extension),
            "info.{extension}"
        );
    }
}
