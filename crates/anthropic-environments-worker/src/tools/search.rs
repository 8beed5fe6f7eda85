//! `glob` and `grep` (§4.6-§4.7): walks with ripgrep's `ignore` walker
//! (no symlinks followed, `.git` and `node_modules` skipped, at most 50 000
//! entries), patterns by `globset` and the `regex` crate (which cannot
//! backtrack catastrophically).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::Value;

use super::ToolOutput;
use super::paths::Confinement;

/// The most entries one walk visits.
const MAX_ENTRIES: usize = 50_000;
/// The most paths `glob` lists.
const MAX_MATCHES: usize = 200;
/// The most output `grep` gives.
const MAX_GREP_OUTPUT: usize = 100 * 1024;
/// Lines longer than this are skipped by `grep`.
const MAX_LINE: usize = 2000;
/// How long one `grep` may search.
const GREP_BUDGET: Duration = Duration::from_secs(60);

/// The regular files under `root`, without following links, skipping
/// `.git` and `node_modules`, at most [`MAX_ENTRIES`] entries visited.
fn walk(root: &Path) -> impl Iterator<Item = PathBuf> {
    ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .filter_entry(|e| {
            e.depth() == 0 || !matches!(e.file_name().to_str(), Some(".git" | "node_modules"))
        })
        .build()
        .take(MAX_ENTRIES)
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(ignore::DirEntry::into_path)
}

/// The search root: the optional `path` (confined), else the workdir.
fn root(tool: &str, confinement: &Confinement, path: Option<&str>) -> Result<PathBuf, ToolOutput> {
    match path {
        None => Ok(confinement.workdir().to_owned()),
        Some(p) => confinement
            .resolve(p)
            .map_err(|e| ToolOutput::error(format!("{tool}: {e}"))),
    }
}

/// The input of `glob`.
#[derive(Deserialize)]
struct GlobInput {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
}

/// `glob`: regular files matching the pattern under the root, newest
/// first, at most 200, as absolute paths.
pub(crate) fn glob(confinement: &Confinement, input: &Value) -> ToolOutput {
    let input: GlobInput = match serde_json::from_value(input.clone()) {
        Ok(i) => i,
        Err(e) => return ToolOutput::error(format!("glob: invalid input: {e}")),
    };
    let pattern = input.pattern.as_str();
    let parent_dir = pattern
        .split(['/', '{', '}', ','])
        .any(|segment| segment == "..");
    if pattern.starts_with('/') || parent_dir {
        return ToolOutput::error(format!(
            "glob: {pattern:?}: patterns must be relative and without '..'"
        ));
    }
    let root = match root("glob", confinement, input.path.as_deref()) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let matcher = match globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
    {
        Ok(g) => g.compile_matcher(),
        Err(e) => return ToolOutput::error(format!("glob: invalid pattern: {e}")),
    };
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.clone());
    let mut found: Vec<(SystemTime, PathBuf)> = walk(&root)
        .filter(|p| {
            p.strip_prefix(&root)
                .is_ok_and(|relative| matcher.is_match(relative))
        })
        // A match reached through a link out of the root is dropped.
        .filter(|p| {
            p.canonicalize()
                .is_ok_and(|c| c.starts_with(&canonical_root))
        })
        .map(|p| {
            let modified = p
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (modified, p)
        })
        .collect();
    if found.is_empty() {
        return ToolOutput::text("no matches");
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let listed: Vec<String> = found
        .into_iter()
        .take(MAX_MATCHES)
        .map(|(_, p)| p.display().to_string())
        .collect();
    ToolOutput::text(listed.join("\n"))
}

/// The input of `grep`.
#[derive(Deserialize)]
struct GrepInput {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
}

/// `grep`: `path:line:text` of every line matching the regex, in the file
/// or under the directory `path` (default the workdir).
pub(crate) fn grep(confinement: &Confinement, input: &Value) -> ToolOutput {
    let input: GrepInput = match serde_json::from_value(input.clone()) {
        Ok(i) => i,
        Err(e) => return ToolOutput::error(format!("grep: invalid input: {e}")),
    };
    let regex = match regex::Regex::new(&input.pattern) {
        Ok(r) => r,
        Err(e) => return ToolOutput::error(format!("grep: invalid pattern: {e}")),
    };
    let root = match root("grep", confinement, input.path.as_deref()) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let started = Instant::now();
    let files: Box<dyn Iterator<Item = PathBuf>> = if root.is_file() {
        Box::new(std::iter::once(root.clone()))
    } else {
        Box::new(walk(&root))
    };
    let mut out = String::new();
    let mut cut_short = None;
    'files: for file in files {
        if started.elapsed() > GREP_BUDGET {
            cut_short = Some("[search cut short: time limit]");
            break;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        if bytes.iter().take(512).any(|&b| b == 0) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.split('\n').enumerate() {
            if line.len() > MAX_LINE || !regex.is_match(line) {
                continue;
            }
            let entry = format!("{}:{}:{}\n", file.display(), n + 1, line);
            if out.len() + entry.len() > MAX_GREP_OUTPUT {
                cut_short = Some("[output truncated]");
                break 'files;
            }
            out.push_str(&entry);
        }
    }
    if out.is_empty() && cut_short.is_none() {
        return ToolOutput::text("no matches");
    }
    if let Some(marker) = cut_short {
        out.push_str(marker);
    }
    ToolOutput::text(out.trim_end().to_owned())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(out: &ToolOutput) -> &str {
        out.blocks[0]["text"].as_str().unwrap()
    }

    fn setup() -> (tempfile::TempDir, Confinement) {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("work");
        std::fs::create_dir_all(w.join("src/deep")).unwrap();
        std::fs::create_dir_all(w.join("node_modules/x")).unwrap();
        std::fs::write(w.join("src/a.ts"), "let a = 1;\nneedle here\n").unwrap();
        std::fs::write(w.join("src/deep/b.ts"), "needle again\n").unwrap();
        std::fs::write(w.join("node_modules/x/c.ts"), "needle hidden\n").unwrap();
        std::fs::write(w.join("bin.dat"), b"needle\0binary").unwrap();
        std::fs::write(dir.path().join("secret.ts"), "needle outside\n").unwrap();
        std::os::unix::fs::symlink(dir.path(), w.join("up")).unwrap();
        let c = Confinement::new(&w, &[], &[], false).unwrap();
        (dir, c)
    }

    #[test]
    fn glob_finds_nested_files_and_never_leaves_the_root() {
        let (_dir, c) = setup();
        let out = glob(&c, &json!({"pattern": "**/*.ts"}));
        let lines: Vec<&str> = text(&out).lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines
                .iter()
                .all(|l| l.ends_with("a.ts") || l.ends_with("b.ts"))
        );
        let scoped = glob(&c, &json!({"pattern": "*.ts", "path": "src/deep"}));
        assert!(text(&scoped).ends_with("src/deep/b.ts"));
        assert_eq!(text(&glob(&c, &json!({"pattern": "*.rs"}))), "no matches");
        for bad in ["/etc/*", "../*", "src/{..,x}/*"] {
            assert!(glob(&c, &json!({"pattern": bad})).is_error, "{bad}");
        }
        // Through the link out of the root: nothing.
        assert_eq!(
            text(&glob(&c, &json!({"pattern": "up/*.ts"}))),
            "no matches"
        );
    }

    #[test]
    fn grep_prints_file_line_text_and_skips_binaries() {
        let (_dir, c) = setup();
        let out = grep(&c, &json!({"pattern": "needle"}));
        let t = text(&out);
        assert!(t.contains("src/a.ts:2:needle here"), "{t}");
        assert!(t.contains("src/deep/b.ts:1:needle again"), "{t}");
        assert!(
            !t.contains("hidden") && !t.contains("binary") && !t.contains("outside"),
            "{t}"
        );
        assert_eq!(text(&grep(&c, &json!({"pattern": "zzz"}))), "no matches");
        assert!(grep(&c, &json!({"pattern": "("})).is_error);
        let one = grep(&c, &json!({"pattern": "let", "path": "src/a.ts"}));
        assert!(text(&one).ends_with("a.ts:1:let a = 1;"));
    }
}
