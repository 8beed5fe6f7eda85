//! How the admin commands print what the API returned: pretty JSON, or a
//! compact table whose columns are picked from the JSON (so a field or
//! variant the API adds later never breaks the output).

use std::io::Write;

use futures::{Stream, StreamExt};
use serde::Serialize;
use serde_json::Value;

use crate::cli::OutputFormat;
use crate::error::CliError;

/// The kind of object printed: decides the table's columns.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// An environment.
    Environment,
    /// A work item.
    Work,
    /// A queue's statistics.
    QueueStats,
    /// A stuck work item (`work stuck`).
    Stuck,
    /// The answer to a delete.
    Deleted,
}

impl Kind {
    /// (header, JSON pointer) of each column.
    fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Environment => &[
                ("ID", "/id"),
                ("NAME", "/name"),
                ("CONFIG", "/config/type"),
                ("SCOPE", "/scope"),
                ("ARCHIVED", "/archived_at"),
                ("CREATED", "/created_at"),
            ],
            Kind::Work => &[
                ("ID", "/id"),
                ("STATE", "/state"),
                ("TYPE", "/data/type"),
                ("DATA ID", "/data/id"),
                ("CREATED", "/created_at"),
                ("LAST HEARTBEAT", "/latest_heartbeat_at"),
            ],
            Kind::QueueStats => &[
                ("DEPTH", "/depth"),
                ("PENDING", "/pending"),
                ("WORKERS POLLING", "/workers_polling"),
                ("OLDEST QUEUED", "/oldest_queued_at"),
            ],
            Kind::Stuck => &[
                ("ID", "/id"),
                ("STATE", "/state"),
                ("REASON", "/reason"),
                ("SILENT (S)", "/silent_for_seconds"),
                ("DATA ID", "/data_id"),
                ("STOPPED", "/stopped"),
            ],
            Kind::Deleted => &[("ID", "/id"), ("TYPE", "/type")],
        }
    }
}

/// One table cell: strings bare, null and absent as `-`, others as JSON.
fn cell(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn table(kind: Kind, rows: &[Value]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(kind.columns().iter().map(|(h, _)| *h));
    for row in rows {
        table.add_row(kind.columns().iter().map(|(_, p)| cell(row, p)));
    }
    // The preset pads every column with a space on both sides.
    table
        .lines()
        .map(|l| l.trim().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, CliError> {
    serde_json::to_value(value).map_err(|e| CliError::Failed(format!("cannot encode: {e}")))
}

fn write_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| CliError::Failed(format!("cannot write the output: {e}"))),
    }
}

/// Renders one object.
pub fn render_one(value: &Value, kind: Kind, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => pretty(value),
        OutputFormat::Table => table(kind, std::slice::from_ref(value)),
        OutputFormat::Id => id_line(value),
    }
}

/// An object's id on a line of its own (`-` for an object without one).
fn id_line(value: &Value) -> String {
    cell(value, "/id")
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Prints one object on stdout.
pub fn print_one<T: Serialize>(
    value: &T,
    kind: Kind,
    format: OutputFormat,
) -> Result<(), CliError> {
    write_out(&render_one(&to_json(value)?, kind, format))
}

/// Prints every item of a list, page after page. JSON is written as it
/// arrives (one array, one page in memory); a table needs every row for
/// its widths.
pub async fn print_stream<T, S>(items: S, kind: Kind, format: OutputFormat) -> Result<(), CliError>
where
    T: Serialize,
    S: Stream<Item = anthropic_environments::Result<T>>,
{
    futures::pin_mut!(items);
    match format {
        OutputFormat::Table => {
            let mut rows = Vec::new();
            while let Some(item) = items.next().await {
                rows.push(to_json(&item?)?);
            }
            write_out(&table(kind, &rows))
        }
        OutputFormat::Id => {
            while let Some(item) = items.next().await {
                let line = id_line(&to_json(&item?)?);
                let mut out = std::io::stdout().lock();
                if let Err(e) = writeln!(out, "{line}") {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(CliError::Failed(format!("cannot write the output: {e}")));
                }
            }
            Ok(())
        }
        OutputFormat::Json => {
            let mut first = true;
            while let Some(item) = items.next().await {
                let text = indent(&pretty(&to_json(&item?)?));
                let lead = if first { "[\n" } else { ",\n" };
                first = false;
                let mut out = std::io::stdout().lock();
                if let Err(e) = write!(out, "{lead}{text}") {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(CliError::Failed(format!("cannot write the output: {e}")));
                }
            }
            write_out(if first { "[]" } else { "\n]" })
        }
    }
}

/// Indents every line by two spaces (an element of the printed array).
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_pick_columns_and_survive_unknown_shapes() {
        let rows = [
            json!({"id": "work_1", "state": "queued", "data": {"type": "session", "id": "session_1"},
                   "created_at": "2026-01-01T00:00:00Z", "latest_heartbeat_at": null}),
            json!({"id": "work_2", "state": "some_new_state", "data": {"type": "future"},
                   "created_at": "2026-01-02T00:00:00Z"}),
        ];
        let text = table(Kind::Work, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("ID"), "{text}");
        assert!(
            lines[1].contains("session_1") && lines[1].ends_with('-'),
            "{text}"
        );
        assert!(
            lines[2].contains("some_new_state") && lines[2].contains("future"),
            "{text}"
        );
    }

    #[test]
    fn numbers_and_nulls() {
        let stats = json!({"depth": 3, "pending": 1, "workers_polling": null});
        let text = render_one(&stats, Kind::QueueStats, OutputFormat::Table);
        let row = text.lines().nth(1).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells, ["3", "1", "-", "-"]);
    }
}
