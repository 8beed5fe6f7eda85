//! `cargo xtask spec-diff`: classify the changes between two specs.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

use crate::{SPEC, workspace_root};

/// A spec named on the command line: a file, or a git revision whose
/// `openapi/environments.yaml` is read. `Err` is bad input (exit 2).
fn spec_source(root: &Path, name: &str) -> Result<String> {
    let path = Path::new(name);
    if path.is_file() {
        return std::fs::read_to_string(path).with_context(|| format!("reading {name}"));
    }
    let git = |args: &[&str]| Command::new("git").current_dir(root).args(args).output();
    let verify = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{name}^{{commit}}"),
    ])?;
    if !verify.status.success() {
        anyhow::bail!("{name} is neither a spec file nor a git revision");
    }
    let show = git(&["show", &format!("{name}:{SPEC}")])?;
    if !show.status.success() {
        anyhow::bail!("revision {name} has no {SPEC}");
    }
    Ok(String::from_utf8(show.stdout)?)
}

/// The merge base of HEAD with main (or origin/main).
fn merge_base(root: &Path) -> Result<String> {
    for main in ["main", "origin/main"] {
        let out = Command::new("git")
            .current_dir(root)
            .args(["merge-base", "HEAD", main])
            .output()?;
        if out.status.success() {
            return Ok(String::from_utf8(out.stdout)?.trim().to_owned());
        }
    }
    anyhow::bail!("no merge base with main: name BASE explicitly")
}

pub fn spec_diff(args: &[String]) -> Result<ExitCode> {
    let root = workspace_root();
    let mut positional = Vec::new();
    let (mut json, mut allow_breaking) = (false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--allow-breaking" => allow_breaking = true,
            "--format" => match it.next().map(String::as_str) {
                Some("json") => json = true,
                Some("md") | Some("markdown") => json = false,
                other => anyhow::bail!("--format takes md or json, not {other:?}"),
            },
            flag if flag.starts_with("--") => anyhow::bail!("unknown option {flag}"),
            _ => positional.push(a.clone()),
        }
    }
    if positional.len() > 2 {
        anyhow::bail!("spec-diff takes at most BASE and HEAD");
    }
    let (base_name, base) = match positional.first() {
        Some(name) => (name.clone(), spec_source(&root, name)?),
        None => {
            let rev = merge_base(&root)?;
            let short = rev.chars().take(12).collect::<String>();
            (
                format!("{short} (merge base with main)"),
                spec_source(&root, &rev)?,
            )
        }
    };
    let (head_name, head) = match positional.get(1) {
        Some(name) => (name.clone(), spec_source(&root, name)?),
        None => (
            format!("{SPEC} (working tree)"),
            std::fs::read_to_string(root.join(SPEC)).with_context(|| format!("reading {SPEC}"))?,
        ),
    };
    let report = anthropic_environments_spec_diff::diff(&base_name, &base, &head_name, &head)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_markdown());
    }
    if report.is_breaking() && !allow_breaking {
        eprintln!("breaking changes: acknowledge them with --allow-breaking");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
