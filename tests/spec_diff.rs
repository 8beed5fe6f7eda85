//! The spec-diff corpus: each mutation of the project's spec gives the
//! expected verdict and a reviewed report (a snapshot).
//!
//! Update the reports with
//! `EXPECTORATE=overwrite cargo test -p anthropic-environments-tests --test spec_diff`.

use anthropic_environments_spec_diff::{self as spec_diff, mutations};
use anthropic_environments_tests::{SPEC, read, root};
use serde_json::Value;

fn corpus() -> Vec<mutations::Mutation> {
    mutations::load(&read("tests/spec-diff/mutations.yaml")).unwrap()
}

#[test]
fn corpus_of_mutations() {
    let base_text = read(SPEC);
    let base: Value = serde_yaml_ng::from_str(&base_text).unwrap();
    let mutations = corpus();
    assert!(mutations.len() >= 25, "{}", mutations.len());
    for (i, m) in mutations.iter().enumerate() {
        let head_text = m.apply(&base).unwrap_or_else(|e| panic!("{e:#}"));
        let report = spec_diff::diff("base", &base_text, &m.name, &head_text)
            .unwrap_or_else(|e| panic!("{}: {e:#}", m.name));
        let verdict = if report.is_breaking() {
            "breaking"
        } else {
            "compatible"
        };
        assert_eq!(verdict, m.expect, "{}:\n{}", m.name, report.to_markdown());
        if m.name != "description-only" {
            assert!(!report.changes.is_empty(), "{}: no change found", m.name);
        }
        expectorate::assert_contents(
            root().join(format!(
                "tests/snapshots/spec-diff/{:02}-{}.md",
                i + 1,
                m.name
            )),
            &report.to_markdown(),
        );
    }
}

#[test]
fn identical_specs_have_no_changes() {
    let text = read(SPEC);
    let report = spec_diff::diff("a", &text, "b", &text).unwrap();
    assert!(report.changes.is_empty() && report.surface_diff.is_none());
    assert_eq!(report.to_json()["breaking"], false);
}

#[test]
fn an_invalid_spec_is_an_error() {
    let err = spec_diff::diff("a", &read(SPEC), "b", "openapi: 3.0.3\npaths: 5\n").unwrap_err();
    assert!(format!("{err:#}").contains("b: invalid spec"), "{err:#}");
}

#[test]
fn reordering_keys_changes_nothing() {
    // The same spec with every object's keys sorted (as serde_json writes
    // it): the components, properties and union variants come in another
    // order, which no user of the generated code can see.
    let text = read(SPEC);
    let sorted: Value = serde_yaml_ng::from_str(&text).unwrap();
    let sorted = serde_json::to_string_pretty(&sorted).unwrap();
    assert_ne!(sorted.find("BetaNetworking"), None);
    let report = spec_diff::diff("yaml", &text, "sorted json", &sorted).unwrap();
    assert!(report.changes.is_empty(), "{}", report.to_markdown());
    assert_eq!(report.surface_diff, None, "{}", report.to_markdown());
}

#[test]
fn the_tool_comparison_covers_the_corpus() {
    // docs/spec-diff-comparison.md holds a table written by
    // `cargo xtask spec-diff-compare` (which needs npm); this checks, without
    // npm, that the table is of the current corpus and shows our verdicts.
    let doc = read("docs/spec-diff-comparison.md");
    let table = doc
        .split("<!-- BEGIN table")
        .nth(1)
        .and_then(|rest| rest.split("<!-- END table -->").next())
        .expect("the table markers");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
        .map(|l| l.split(" | ").map(str::trim).collect())
        .collect();
    let mutations = corpus();
    assert_eq!(
        rows.len(),
        mutations.len(),
        "rerun `cargo xtask spec-diff-compare`"
    );
    for (row, m) in rows.iter().zip(&mutations) {
        assert_eq!((row[1], row[2]), (m.name.as_str(), m.expect.as_str()));
        let ours = format!("{}:", m.expect);
        assert!(row[3].starts_with(&ours), "{}: {}", m.name, row[3]);
    }
}
