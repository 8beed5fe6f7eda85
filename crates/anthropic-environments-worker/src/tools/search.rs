//! `glob` and `grep` (§4.6-§4.7), on ripgrep's own crates: the `ignore`
//! walker (`.git` and `node_modules` skipped, at most 50 000 entries),
//! `globset` patterns, and `grep-searcher` with `grep-regex` (files
//! streamed line by line, binary files skipped, a regex engine that cannot
//! backtrack catastrophically). grep never runs an `rg` executable: the
//! same engine in-process, with nothing on `PATH` to trust.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use grep_regex::RegexMatcher;
use grep_searcher::{BinaryDetection, SearcherBuilder, sinks::Lossy};
use serde::Deserialize;
use serde_json::Value;

use super::paths::{Confinement, reason};
use super::{FileScope, ToolOutput};

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

/// The regular files under `root`, skipping `.git` and `node_modules`, at
/// most [`MAX_ENTRIES`] entries visited. With `links_inside`, symbolic
/// links are followed when they lead inside `canonical_root` (looping ones
/// are dropped); otherwise never.
fn walk(root: &Path, canonical_root: &Path, links_inside: bool) -> impl Iterator<Item = PathBuf> {
    let inside = canonical_root.to_owned();
    ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .follow_links(links_inside)
        .filter_entry(move |e| {
            if e.depth() > 0 && matches!(e.file_name().to_str(), Some(".git" | "node_modules")) {
                return false;
            }
            // A link is entered (or listed) only when it stays inside.
            !e.path_is_symlink()
                || e.path()
                    .canonicalize()
                    .is_ok_and(|target| target.starts_with(&inside))
        })
        .build()
        .take(MAX_ENTRIES)
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(ignore::DirEntry::into_path)
}

/// The search root: the optional `path` (confined; it must exist), else
/// the workdir; and its canonical form.
fn root(
    tool: &str,
    confinement: &Confinement,
    path: Option<&str>,
) -> Result<(PathBuf, PathBuf), ToolOutput> {
    let (given, root) = match path {
        None => (".", confinement.workdir().to_owned()),
        Some(p) => (
            p,
            confinement
                .resolve(p)
                .map_err(|e| ToolOutput::error(format!("{tool}: {e}")))?,
        ),
    };
    match root.canonicalize() {
        Ok(canonical) => Ok((root, canonical)),
        Err(e) => Err(ToolOutput::error(format!(
            "{tool}: {given}: {}",
            reason(&e)
        ))),
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
pub(crate) fn glob(scope: &FileScope, input: &Value) -> ToolOutput {
    let input: GlobInput = match serde_json::from_value(input.clone()) {
        Ok(i) => i,
        Err(e) => return ToolOutput::error(format!("glob: invalid input: {e}")),
    };
    let pattern = input.pattern.as_str();
    let parent_dir = pattern
        .split(['/', '{', '}', ','])
        .any(|segment| segment == "..");
    if pattern.starts_with('/') {
        return ToolOutput::error(
            "glob: absolute pattern not permitted; pass a relative pattern (and optionally path)",
        );
    }
    if parent_dir {
        return ToolOutput::error("glob: '..' is not permitted in the pattern");
    }
    let (root, canonical_root) = match root("glob", &scope.paths, input.path.as_deref()) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if !canonical_root.is_dir() {
        return ToolOutput::error(format!(
            "glob: {}: not a directory",
            input.path.as_deref().unwrap_or(".")
        ));
    }
    let matcher = match globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
    {
        Ok(g) => g.compile_matcher(),
        Err(e) => return ToolOutput::error(format!("glob: invalid pattern: {e}")),
    };
    let mut found: Vec<(SystemTime, PathBuf)> = walk(&root, &canonical_root, true)
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
/// or under the directory `path` (default the workdir); binary files and
/// lines over 2000 bytes skipped, 100 KiB of output, 60 s of searching.
pub(crate) fn grep(scope: &FileScope, input: &Value) -> ToolOutput {
    let input: GrepInput = match serde_json::from_value(input.clone()) {
        Ok(i) => i,
        Err(e) => return ToolOutput::error(format!("grep: invalid input: {e}")),
    };
    let matcher = match RegexMatcher::new(&input.pattern) {
        Ok(m) => m,
        Err(e) => return ToolOutput::error(format!("grep: invalid regex: {e}")),
    };
    let (root, canonical_root) = match root("grep", &scope.paths, input.path.as_deref()) {
        Ok(r) => r,
        Err(e) => return e,
    };
    search(
        &matcher,
        &root,
        &canonical_root,
        Instant::now() + GREP_BUDGET,
    )
}

/// Why a search ended before its end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CutShort {
    Output,
    Time,
}

/// Searches the file or the tree at `root` until `deadline`.
fn search(
    matcher: &RegexMatcher,
    root: &Path,
    canonical_root: &Path,
    deadline: Instant,
) -> ToolOutput {
    let files: Box<dyn Iterator<Item = PathBuf>> = if canonical_root.is_file() {
        Box::new(std::iter::once(root.to_owned()))
    } else {
        Box::new(walk(root, canonical_root, false))
    };
    let mut searcher = SearcherBuilder::new()
        .binary_detection(BinaryDetection::quit(0))
        .line_number(true)
        .build();
    let mut out = String::new();
    let mut cut_short = None;
    for file in files {
        let shown = file.display().to_string();
        let sink = Lossy(|number, line| {
            let line = line.strip_suffix('\n').unwrap_or(line);
            if line.len() <= MAX_LINE {
                let entry = format!("{shown}:{number}:{line}\n");
                if out.len() + entry.len() > MAX_GREP_OUTPUT {
                    cut_short = Some(CutShort::Output);
                    return Ok(false);
                }
                out.push_str(&entry);
            }
            if Instant::now() >= deadline {
                cut_short = Some(CutShort::Time);
                return Ok(false);
            }
            Ok(true)
        });
        // An unreadable file is skipped, as rg does.
        let _ = searcher.search_path(matcher, &file, sink);
        if cut_short.is_none() && Instant::now() >= deadline {
            cut_short = Some(CutShort::Time);
        }
        if cut_short.is_some() {
            break;
        }
    }
    if out.is_empty() {
        return match cut_short {
            Some(CutShort::Time) => {
                ToolOutput::error(format!("grep: timed out after {}s", GREP_BUDGET.as_secs()))
            }
            _ => ToolOutput::text("no matches"),
        };
    }
    match cut_short {
        Some(CutShort::Output) => out.push_str("[output truncated]"),
        Some(CutShort::Time) => out.push_str("[search cut short: time limit]"),
        None => {
            out.pop();
        }
    }
    ToolOutput::text(out)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(out: &ToolOutput) -> &str {
        out.blocks[0]["text"].as_str().unwrap()
    }

    fn setup() -> (tempfile::TempDir, FileScope) {
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
        let paths = Confinement::new(&w, &[], &[], false).unwrap();
        let c = FileScope {
            paths,
            limits: crate::tools::FileLimits::default(),
        };
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

    #[test]
    fn glob_keeps_links_that_stay_inside_and_survives_loops() {
        let (_dir, c) = setup();
        let w = c.paths.workdir().to_owned();
        std::os::unix::fs::symlink("src/a.ts", w.join("linked.ts")).unwrap();
        std::os::unix::fs::symlink("src/deep", w.join("linked-dir")).unwrap();
        std::os::unix::fs::symlink(".", w.join("src/self")).unwrap();
        let out = glob(&c, &json!({"pattern": "*.ts"}));
        assert!(text(&out).ends_with("linked.ts"), "{out:?}");
        let out = glob(&c, &json!({"pattern": "linked-dir/*.ts"}));
        assert!(text(&out).ends_with("linked-dir/b.ts"), "{out:?}");
        let out = glob(&c, &json!({"pattern": "**/b.ts"}));
        assert!(!out.is_error, "{out:?}");
        assert!(text(&out).lines().count() >= 2, "{out:?}");
    }

    #[test]
    fn a_missing_or_wrong_kind_of_root_is_an_error() {
        let (_dir, c) = setup();
        let out = glob(&c, &json!({"pattern": "*", "path": "nope"}));
        assert_eq!(
            (out.is_error, text(&out)),
            (true, "glob: nope: no such file or directory")
        );
        let out = glob(&c, &json!({"pattern": "*", "path": "src/a.ts"}));
        assert_eq!(text(&out), "glob: src/a.ts: not a directory");
        let out = grep(&c, &json!({"pattern": "x", "path": "nope"}));
        assert_eq!(text(&out), "grep: nope: no such file or directory");
    }

    #[test]
    fn grep_skips_long_lines_keeps_whitespace_and_caps_its_output() {
        let (_dir, c) = setup();
        let w = c.paths.workdir().to_owned();
        let long = format!("needle {}\nneedle short   \n", "x".repeat(MAX_LINE));
        std::fs::write(w.join("long.txt"), long).unwrap();
        let out = grep(&c, &json!({"pattern": "needle", "path": "long.txt"}));
        assert_eq!(
            text(&out),
            format!("{}:2:needle short   ", w.join("long.txt").display())
        );
        let many = "needle\n".repeat(MAX_GREP_OUTPUT / 4);
        std::fs::write(w.join("many.txt"), many).unwrap();
        let out = grep(&c, &json!({"pattern": "needle", "path": "many.txt"}));
        let t = text(&out);
        assert!(
            t.ends_with("\n[output truncated]"),
            "{}",
            &t[t.len() - 60..]
        );
        assert!(t.len() <= MAX_GREP_OUTPUT + 20, "{}", t.len());
    }

    #[test]
    fn the_time_bound_gives_partial_hits_or_an_error() {
        let (_dir, c) = setup();
        let matcher = RegexMatcher::new("needle").unwrap();
        let file = c.paths.workdir().join("src/a.ts");
        let past = Instant::now();
        let out = search(&matcher, &file, &file, past);
        assert!(!out.is_error);
        assert!(
            text(&out).ends_with("a.ts:2:needle here\n[search cut short: time limit]"),
            "{out:?}"
        );
        let none = RegexMatcher::new("absent").unwrap();
        let out = search(&none, &file, &file, past);
        assert!(out.is_error && text(&out).contains("timed out"), "{out:?}");
    }

    #[test]
    fn glob_lists_newest_first_at_most_200_and_skips_git() {
        let (_dir, c) = setup();
        let w = c.paths.workdir().to_owned();
        std::fs::create_dir_all(w.join(".git")).unwrap();
        std::fs::write(w.join(".git/x.ts"), "").unwrap();
        let old = std::fs::File::create(w.join("old.ts")).unwrap();
        old.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1))
            .unwrap();
        let new = std::fs::File::create(w.join("new.ts")).unwrap();
        new.set_modified(SystemTime::now() + Duration::from_secs(3600))
            .unwrap();
        let out = glob(&c, &json!({"pattern": "*.ts"}));
        let lines: Vec<&str> = text(&out).lines().collect();
        assert!(
            lines[0].ends_with("/new.ts") && lines[1].ends_with("/old.ts"),
            "{lines:?}"
        );
        let out = glob(&c, &json!({"pattern": "**/*.ts"}));
        assert!(!text(&out).contains(".git"), "{out:?}");
        assert_eq!(
            text(&glob(&c, &json!({"pattern": "[.][.]/*"}))),
            "no matches"
        );
        std::fs::create_dir(w.join("many")).unwrap();
        for i in 0..250 {
            std::fs::write(w.join(format!("many/{i}.txt")), "").unwrap();
        }
        let out = glob(&c, &json!({"pattern": "many/*.txt"}));
        assert_eq!(text(&out).lines().count(), MAX_MATCHES);
    }
}
