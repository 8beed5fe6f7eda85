//! The span of one work item, named and attributed as the official
//! workers' (see `anthropic_environments::telemetry`).

use tracing::field::Empty;

/// The span of one work item: kind INTERNAL, its status set when the item
/// ends ([`ItemOutcome::record_on`](crate::ItemOutcome)).
pub(crate) fn work_item_span(
    environment_id: &str,
    work_id: &str,
    session_id: Option<&str>,
) -> tracing::Span {
    tracing::info_span!(
        target: "anthropic_environments",
        "anthropic.environment.work",
        "otel.kind" = "internal",
        "anthropic.environment.id" = environment_id,
        "anthropic.environment.work.id" = work_id,
        "anthropic.session.id" = session_id,
        "otel.status_code" = Empty,
        "error.type" = Empty,
    )
}
