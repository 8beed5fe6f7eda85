//! The README's first screen, run as a newcomer would: its one-command demo
//! is the command `session_demo` runs, and its walk-through block runs in
//! bash against the built binaries.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

/// The marker line before the walk-through's shell block.
const WALK_THROUGH: &str = "<!-- walk-through: cargo xtask test runs this block -->";

/// The README's offline demo: a session served end to end by the session
/// runner on the embedded mock (`examples/session_demo.rs` of the worker
/// crate).
pub fn session_demo(root: &Path, cargo: &str) -> Result<()> {
    println!("running the session demo (examples/session_demo.rs)");
    // No `-p`: the whole workspace is selected, as in the test run, so
    // the dependencies built for it are reused.
    let args = ["run", "--example", "session_demo"];
    // The README's first screen says this command: the same, word for word.
    let shown = demo_command(root)?;
    let ours = format!("cargo {}", args.join(" "));
    if shown != ours {
        anyhow::bail!("the README's demo command is {shown:?}; the test runs {ours:?}");
    }
    let output = Command::new(cargo)
        .current_dir(root)
        .args(args)
        .arg("--quiet")
        .output()
        .context("running the session demo")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    let done = "served 1 session, 6 tool calls answered, item stopped: true";
    if !output.status.success() || !stdout.contains(done) {
        anyhow::bail!(
            "the session demo failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!("session_demo: 1 passed, 0 failed");
    Ok(())
}

/// The command of the README's first shell block (the offline demo).
pub fn demo_command(root: &Path) -> Result<String> {
    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let start = readme
        .find("```sh\n")
        .context("the README has no shell block")?;
    let block = shell_block(&readme[start..]).context("the README's first shell block")?;
    Ok(block.trim().to_owned())
}

/// Runs the walk-through block with the workspace's debug binaries first on
/// PATH, its mock on a free loopback port, and no `ANTHROPIC_*` variable
/// of ours; checks that the tool call's result came back. Its caller builds
/// the binaries first ([`crate::build_workspace_binaries`]).
pub fn walk_through(root: &Path) -> Result<()> {
    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let at = readme
        .find(WALK_THROUGH)
        .context("the README's walk-through marker is gone")?;
    let block = shell_block(&readme[at..]).context("no shell block after the marker")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let script = block.replace("127.0.0.1:4010", &format!("127.0.0.1:{port}"));
    let path = format!(
        "{}:{}",
        root.join("target/debug").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    println!("running the README's walk-through (mock on 127.0.0.1:{port})");
    let mut command = Command::new("bash");
    // Whatever fails ends it; a mock left behind is killed on the way out.
    command
        .args(["-euo", "pipefail", "-c"])
        .arg(format!(
            "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}"
        ))
        .current_dir(std::env::temp_dir())
        .env("PATH", path);
    // Not the developer's own settings: their keys, or a RUST_LOG that
    // hides the lines checked below.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ANTHROPIC_") {
            command.env_remove(name);
        }
    }
    command.env_remove("RUST_LOG");
    let output = command.output().context("running bash")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let answered = stdout.contains(r#""text":"hello from the sandbox""#)
        && stdout.contains(r#""type":"user.tool_result""#)
        && stdout.contains(r#""stop_reason":{"type":"end_turn"}"#)
        && stderr.contains("queue drained");
    if !output.status.success() || !answered {
        anyhow::bail!(
            "the README's walk-through failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
    }
    println!("readme walk-through: 1 passed, 0 failed");
    Ok(())
}

/// The body of the first ```sh block in `text`.
fn shell_block(text: &str) -> Option<&str> {
    let start = text.find("```sh\n")? + "```sh\n".len();
    let len = text[start..].find("\n```")?;
    Some(&text[start..start + len + 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_block_after_its_fence() {
        let text = "intro\n```sh\necho one\necho two\n```\nafter\n```sh\nlater\n```\n";
        assert_eq!(shell_block(text), Some("echo one\necho two\n"));
        assert_eq!(shell_block("```rust\nfn x() {}\n```\n"), None);
    }
}
