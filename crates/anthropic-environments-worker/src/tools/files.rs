//! The file tools of the agent toolset: `read`, `write` and `edit`, each
//! confined (see [`paths`](super::paths)), with the notes' limits and error
//! meanings (§4.3-§4.5).

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::paths::{PathError, reason};
use super::{FileScope, ToolOutput};

/// The largest image `read` returns (raw bytes; base64 stays under 5 MiB).
const MAX_IMAGE_BYTES: u64 = 3 * 1024 * 1024 + 768 * 1024;
/// The largest PDF `read` returns.
const MAX_PDF_BYTES: u64 = 20 * 1024 * 1024;

fn path_error(tool: &str, e: PathError) -> ToolOutput {
    ToolOutput::error(format!("{tool}: {e}"))
}

fn io_error(tool: &str, given: &str, e: &std::io::Error) -> ToolOutput {
    ToolOutput::error(format!("{tool}: {given}: {}", reason(e)))
}

/// The input of `read`.
#[derive(Deserialize)]
struct ReadInput {
    file_path: String,
    #[serde(default)]
    view_range: Option<Vec<i64>>,
}

/// `read`: a text file (whole, or lines `view_range = [start, end]`,
/// 1-indexed, inclusive, `end <= 0` to the end), or an image or PDF as a
/// content block.
pub(crate) fn read(scope: &FileScope, input: &Value) -> ToolOutput {
    let input: ReadInput = match serde_json::from_value(input.clone()) {
        Ok(i) => i,
        Err(e) => return ToolOutput::error(format!("read: invalid input: {e}")),
    };
    let given = input.file_path.as_str();
    let path = match scope.paths.resolve(given) {
        Ok(p) => p,
        Err(e) => return path_error("read", e),
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => return io_error("read", given, &e),
    };
    if !meta.is_file() {
        return ToolOutput::error(format!("read: {given}: not a regular file"));
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let media = match extension.as_str() {
        "png" => Some(("image", "image/png", MAX_IMAGE_BYTES)),
        "jpg" | "jpeg" => Some(("image", "image/jpeg", MAX_IMAGE_BYTES)),
        "gif" => Some(("image", "image/gif", MAX_IMAGE_BYTES)),
        "webp" => Some(("image", "image/webp", MAX_IMAGE_BYTES)),
        "pdf" => Some(("document", "application/pdf", MAX_PDF_BYTES)),
        _ => None,
    };
    if let Some((kind, media_type, limit)) = media {
        if input.view_range.as_deref().is_some_and(|r| !r.is_empty()) {
            return ToolOutput::error("read: view_range is not supported for image/PDF files");
        }
        let limit = scope.limits.media.map_or(limit, |l| l.min(limit));
        if meta.len() > limit {
            return ToolOutput::error(format!(
                "read: {given} is {} bytes, exceeds {limit}-byte limit for image/PDF files.",
                meta.len()
            ));
        }
        return match std::fs::read(&path) {
            Ok(bytes) => ToolOutput::blocks(vec![json!({
                "type": kind,
                "source": {
                    "type": "base64",
                    "media_type": media_type,
                    "data": base64::engine::general_purpose::STANDARD.encode(bytes),
                },
            })]),
            Err(e) => io_error("read", given, &e),
        };
    }
    let range = match input.view_range.as_deref() {
        None | Some([]) => None,
        Some([start, end]) => Some((*start, *end)),
        Some(_) => {
            return ToolOutput::error("read: view_range must be [start_line, end_line]");
        }
    };
    let cap = scope.limits.text;
    let Some((start, end)) = range else {
        if let Some(cap) = cap.filter(|&cap| meta.len() > cap) {
            return ToolOutput::error(format!(
                "read: {given} is {} bytes, exceeds {cap}-byte limit. Use the view_range parameter to read specific line ranges, e.g. view_range: [1, 500].",
                meta.len()
            ));
        }
        return match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => ToolOutput::text(text),
                Err(_) => ToolOutput::error(format!("read: {given}: {NOT_UTF8_READ}")),
            },
            Err(e) => io_error("read", given, &e),
        };
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return io_error("read", given, &e),
    };
    let (asked_start, asked_end) = (start, end);
    let start = u64::try_from(start).unwrap_or(0).max(1);
    let end = u64::try_from(end).ok().filter(|&e| e > 0);
    let cap = cap.unwrap_or(u64::MAX - 1);
    match select_lines(file, start, end, cap) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => ToolOutput::text(text),
            Err(_) => ToolOutput::error(format!("read: {given}: {NOT_UTF8_READ}")),
        },
        Err(Selection::LineTooLong(n)) => ToolOutput::error(format!(
            "read: line {n} of {given} alone exceeds {cap}-byte limit. The read tool cannot return part of a line, so view_range cannot narrow this further."
        )),
        Err(Selection::TooLong) => ToolOutput::error(format!(
            "read: view_range [{asked_start}, {asked_end}] of {given} exceeds {cap}-byte limit. Narrow the view_range to read a smaller portion."
        )),
        Err(Selection::Io(e)) => io_error("read", given, &e),
    }
}

/// Why a text file that is not UTF-8 cannot be read, as the official
/// runner says it.
const NOT_UTF8_READ: &str =
    "not valid UTF-8 text (binary files are only supported for image/PDF extensions)";

/// Why lines could not be selected.
#[derive(Debug)]
enum Selection {
    /// One line alone is over the limit.
    LineTooLong(u64),
    /// The lines together are.
    TooLong,
    Io(std::io::Error),
}

/// Lines `start..=end` (1-indexed; `end` `None`: to the end) of `file`,
/// split on `\n` and joined with it, read in 64 KiB chunks and never more
/// than `limit` bytes of them held.
fn select_lines(
    file: std::fs::File,
    start: u64,
    end: Option<u64>,
    limit: u64,
) -> Result<Vec<u8>, Selection> {
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    // Lines before the range: skipped without being held.
    for _ in 1..start {
        if reader.skip_until(b'\n').map_err(Selection::Io)? == 0 {
            return Ok(Vec::new());
        }
    }
    let mut selected = Vec::new();
    let mut number = start;
    loop {
        if end.is_some_and(|end| number > end) {
            return Ok(selected);
        }
        let mut line = Vec::new();
        let room = limit.saturating_sub(selected.len() as u64) + 1;
        (&mut reader)
            .take(room)
            .read_until(b'\n', &mut line)
            .map_err(Selection::Io)?;
        let complete = line.last() == Some(&b'\n');
        if complete {
            line.pop();
        }
        if number > start {
            selected.push(b'\n');
        }
        selected.extend_from_slice(&line);
        if selected.len() as u64 > limit {
            // One line asked for: it alone is too long.
            return Err(if end == Some(start) {
                Selection::LineTooLong(number)
            } else {
                Selection::TooLong
            });
        }
        if !complete {
            // The end of the file (a last line without a newline, or the
            // empty line after the last newline).
            return Ok(selected);
        }
        number += 1;
    }
}

/// Writes `content` to `path` atomically: a temporary file beside it,
/// synced, renamed over it. A new file is 0600; an existing one keeps its
/// mode. Missing parents are created (0700).
fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    let mut temp = tempfile::Builder::new()
        .prefix(".antenv-write-")
        .tempfile_in(parent)?;
    temp.write_all(content)?;
    temp.as_file().sync_all()?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The input of `write`.
#[derive(Deserialize)]
struct WriteInput {
    file_path: String,
    content: String,
}

/// `write`: creates or replaces a file, atomically.
pub(crate) fn write(scope: &FileScope, input: &Value) -> ToolOutput {
    let input: WriteInput = match serde_json::from_value(input.clone()) {
        Ok(i) => i,
        Err(e) => return ToolOutput::error(format!("write: invalid input: {e}")),
    };
    let given = input.file_path.as_str();
    let path = match scope.paths.resolve_writable(given) {
        Ok(p) => p,
        Err(e) => return path_error("write", e),
    };
    if path.is_dir() {
        return ToolOutput::error(format!("write: {given}: is a directory"));
    }
    match write_atomically(&path, input.content.as_bytes()) {
        Ok(()) => ToolOutput::text(format!("wrote {} bytes to {given}", input.content.len())),
        Err(e) => io_error("write", given, &e),
    }
}

/// The input of `edit`.
#[derive(Deserialize)]
struct EditInput {
    file_path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

/// `edit`: replaces an exact, unique match of `old_string` (every match
/// with `replace_all`), literally, atomically.
pub(crate) fn edit(scope: &FileScope, input: &Value) -> ToolOutput {
    let input: EditInput = match serde_json::from_value(input.clone()) {
        Ok(i) => i,
        Err(e) => return ToolOutput::error(format!("edit: invalid input: {e}")),
    };
    let given = input.file_path.as_str();
    if input.old_string.is_empty() {
        return ToolOutput::error("edit: old_string must not be empty".to_owned());
    }
    let path = match scope.paths.resolve_writable(given) {
        Ok(p) => p,
        Err(e) => return path_error("edit", e),
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => return io_error("edit", given, &e),
    };
    if !meta.is_file() {
        return ToolOutput::error(format!("edit: {given}: not a regular file"));
    }
    if let Some(cap) = scope.limits.text.filter(|&cap| meta.len() > cap) {
        return ToolOutput::error(format!(
            "edit: {given} is {} bytes, exceeds {cap}-byte limit. The edit tool loads the whole file and cannot modify a file this large.",
            meta.len()
        ));
    }
    let text = match std::fs::read(&path).map(String::from_utf8) {
        Ok(Ok(t)) => t,
        Ok(Err(_)) => {
            return ToolOutput::error(format!(
                "edit: {given}: not valid UTF-8 text (cannot edit binary files)"
            ));
        }
        Err(e) => return io_error("edit", given, &e),
    };
    let count = text.matches(input.old_string.as_str()).count();
    if count == 0 {
        return ToolOutput::error(format!("edit: old_string not found in {given}"));
    }
    if count > 1 && !input.replace_all {
        return ToolOutput::error(format!(
            "edit: old_string appears {count} times in {given} (must be unique)"
        ));
    }
    let edited = if input.replace_all {
        text.replace(&input.old_string, &input.new_string)
    } else {
        text.replacen(&input.old_string, &input.new_string, 1)
    };
    match write_atomically(&path, edited.as_bytes()) {
        Ok(()) => ToolOutput::text(format!("edited {given} ({count} replacement(s))")),
        Err(e) => io_error("edit", given, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::FileLimits;
    use crate::tools::paths::Confinement;

    const MAX_FILE_BYTES: u64 = FileLimits::DEFAULT_TEXT;

    fn setup() -> (tempfile::TempDir, FileScope) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Confinement::new(dir.path(), &[], &[], false).unwrap();
        let c = FileScope {
            paths,
            limits: FileLimits::default(),
        };
        (dir, c)
    }

    fn text(out: &ToolOutput) -> String {
        out.blocks[0]["text"].as_str().unwrap().to_owned()
    }

    #[test]
    fn write_read_and_view_ranges() {
        let (dir, c) = setup();
        let out = write(
            &c,
            &json!({"file_path": "a/b.txt", "content": "1\n2\n3\n4"}),
        );
        assert!(!out.is_error, "{out:?}");
        let mode = std::fs::metadata(dir.path().join("a/b.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            text(&read(&c, &json!({"file_path": "a/b.txt"}))),
            "1\n2\n3\n4"
        );
        let range = |r: Value| text(&read(&c, &json!({"file_path": "a/b.txt", "view_range": r})));
        assert_eq!(range(json!([2, 3])), "2\n3");
        assert_eq!(range(json!([2, 0])), "2\n3\n4");
        assert_eq!(range(json!([])), "1\n2\n3\n4");
        assert_eq!(range(json!([3, 2])), "(no output)");
        assert_eq!(range(json!([9, 12])), "(no output)");
        assert!(read(&c, &json!({"file_path": "a/b.txt", "view_range": [1]})).is_error);
        assert!(read(&c, &json!({"file_path": "a"})).is_error, "a directory");
        assert!(read(&c, &json!({"file_path": "../x"})).is_error);
    }

    #[test]
    fn edits_are_exact_unique_and_literal() {
        let (_dir, c) = setup();
        write(&c, &json!({"file_path": "f", "content": "a $1 a"}));
        let out = edit(
            &c,
            &json!({"file_path": "f", "old_string": "a", "new_string": "b"}),
        );
        assert!(
            out.is_error && text(&out).contains("appears 2 times"),
            "{out:?}"
        );
        let out = edit(
            &c,
            &json!({"file_path": "f", "old_string": "$1", "new_string": "$&"}),
        );
        assert!(!out.is_error);
        assert_eq!(text(&read(&c, &json!({"file_path": "f"}))), "a $& a");
        let out = edit(
            &c,
            &json!({"file_path": "f", "old_string": "a", "new_string": "z", "replace_all": true}),
        );
        assert!(text(&out).contains("(2 replacement(s))"));
        assert!(
            edit(
                &c,
                &json!({"file_path": "f", "old_string": "", "new_string": "x"})
            )
            .is_error
        );
        assert!(
            edit(
                &c,
                &json!({"file_path": "f", "old_string": "nope", "new_string": "x"})
            )
            .is_error
        );
    }

    #[test]
    fn images_are_blocks_and_big_files_are_refused() {
        let (dir, c) = setup();
        std::fs::write(dir.path().join("p.PNG"), [0x89, b'P', b'N', b'G']).unwrap();
        let out = read(&c, &json!({"file_path": "p.PNG"}));
        assert_eq!(out.blocks[0]["type"], "image");
        assert_eq!(out.blocks[0]["source"]["media_type"], "image/png");
        std::fs::write(
            dir.path().join("big"),
            vec![b'x'; MAX_FILE_BYTES as usize + 1],
        )
        .unwrap();
        let out = read(&c, &json!({"file_path": "big"}));
        assert!(out.is_error && text(&out).contains("view_range"));
        std::fs::write(dir.path().join("bin"), [0xff, 0xfe]).unwrap();
        assert!(text(&read(&c, &json!({"file_path": "bin"}))).contains("UTF-8"));
    }

    #[test]
    fn view_ranges_stream_and_bound_what_they_select() {
        let (dir, c) = setup();
        let range = |f: &str, r: Value| read(&c, &json!({"file_path": f, "view_range": r}));
        std::fs::write(dir.path().join("nl"), "a\nb\n").unwrap();
        assert_eq!(
            text(&range("nl", json!([1, 0]))),
            "a\nb\n",
            "no newline lost"
        );
        assert_eq!(text(&range("nl", json!([-4, 1]))), "a");
        // A file far over the cap, of which a few lines are asked for.
        let mut big = "x".repeat(MAX_FILE_BYTES as usize * 3);
        big.push_str("\nsmall\ntail");
        std::fs::write(dir.path().join("big"), &big).unwrap();
        assert_eq!(text(&range("big", json!([2, 0]))), "small\ntail");
        let out = range("big", json!([1, 1]));
        assert_eq!(
            text(&out),
            format!(
                "read: line 1 of big alone exceeds {MAX_FILE_BYTES}-byte limit. The read tool cannot return part of a line, so view_range cannot narrow this further."
            )
        );
        let lines = "y".repeat(1000) + "\n";
        std::fs::write(dir.path().join("many"), lines.repeat(300)).unwrap();
        let out = range("many", json!([1, 0]));
        assert_eq!(
            text(&out),
            format!(
                "read: view_range [1, 0] of many exceeds {MAX_FILE_BYTES}-byte limit. Narrow the view_range to read a smaller portion."
            )
        );
        assert_eq!(text(&range("many", json!([300, 300]))).len(), 1000);
    }

    #[test]
    fn writes_keep_modes_count_bytes_and_follow_dangling_links_inside() {
        let (dir, c) = setup();
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "old").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = write(&c, &json!({"file_path": "run.sh", "content": "é"}));
        assert_eq!(text(&out), "wrote 2 bytes to run.sh");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&script), 0o755, "an existing file keeps its mode");
        edit(
            &c,
            &json!({"file_path": "run.sh", "old_string": "é", "new_string": "e"}),
        );
        assert_eq!(mode(&script), 0o755, "also through edit");
        write(&c, &json!({"file_path": "new/deep/f", "content": "x"}));
        assert_eq!(mode(&dir.path().join("new")), 0o700);
        assert_eq!(mode(&dir.path().join("new/deep")), 0o700);
        std::os::unix::fs::symlink("target/inside.txt", dir.path().join("dangling")).unwrap();
        let out = write(&c, &json!({"file_path": "dangling", "content": "through"}));
        assert!(!out.is_error, "{out:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("target/inside.txt")).unwrap(),
            "through"
        );
    }

    #[test]
    fn errors_name_the_models_path_as_the_official_runner_does() {
        let (dir, c) = setup();
        write(&c, &json!({"file_path": "f", "content": "a a"}));
        let out = edit(
            &c,
            &json!({"file_path": "f", "old_string": "a", "new_string": "b"}),
        );
        assert_eq!(
            text(&out),
            "edit: old_string appears 2 times in f (must be unique)"
        );
        let out = edit(
            &c,
            &json!({"file_path": "f", "old_string": "zz", "new_string": "b"}),
        );
        assert_eq!(text(&out), "edit: old_string not found in f");
        let out = read(&c, &json!({"file_path": "missing"}));
        assert_eq!(text(&out), "read: missing: no such file or directory");
        std::fs::write(
            dir.path().join("big"),
            vec![b'x'; MAX_FILE_BYTES as usize + 1],
        )
        .unwrap();
        let out = edit(
            &c,
            &json!({"file_path": "big", "old_string": "x", "new_string": "y"}),
        );
        assert!(
            out.is_error && text(&out).starts_with("edit: big is "),
            "{out:?}"
        );
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let out = read(&c, &json!({"file_path": "fifo"}));
        assert_eq!(text(&out), "read: fifo: not a regular file");
    }

    #[test]
    fn an_explicit_cap_binds_every_kind_and_none_lifts_it() {
        let (dir, mut c) = setup();
        std::fs::write(
            dir.path().join("big.txt"),
            vec![b'x'; MAX_FILE_BYTES as usize + 1],
        )
        .unwrap();
        std::fs::write(dir.path().join("p.png"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        c.limits = FileLimits::explicit(None);
        let out = read(&c, &json!({"file_path": "big.txt"}));
        assert_eq!(text(&out).len(), MAX_FILE_BYTES as usize + 1, "uncapped");
        let out = read(&c, &json!({"file_path": "d"}));
        assert_eq!(
            text(&out),
            "read: d: not a regular file",
            "directories even uncapped"
        );
        c.limits = FileLimits::explicit(Some(50));
        let out = read(&c, &json!({"file_path": "p.png"}));
        assert_eq!(
            text(&out),
            "read: p.png is 100 bytes, exceeds 50-byte limit for image/PDF files."
        );
        c.limits = FileLimits::default();
        assert_eq!(
            read(&c, &json!({"file_path": "p.png"})).blocks[0]["type"],
            "image"
        );
        std::fs::write(dir.path().join("big.pdf"), vec![0u8; 20 * 1024 * 1024 + 1]).unwrap();
        let out = read(&c, &json!({"file_path": "big.pdf"}));
        assert!(
            text(&out).contains("exceeds 20971520-byte limit"),
            "{out:?}"
        );
        std::fs::write(dir.path().join("doc.pdf"), b"%PDF-1.4").unwrap();
        let out = read(&c, &json!({"file_path": "doc.pdf"}));
        assert_eq!(out.blocks[0]["type"], "document");
        assert_eq!(out.blocks[0]["source"]["media_type"], "application/pdf");
    }
}
