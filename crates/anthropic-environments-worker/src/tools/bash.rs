//! `bash`: one persistent `/bin/bash --noprofile --norc` per session (cwd,
//! exports and functions persist between calls), in its own process group,
//! with every `ANTHROPIC_*` variable removed from its environment (§4.2).
//!
//! Each command runs in a brace group with stdin from `/dev/null` and
//! stderr merged, followed by a sentinel line carrying `$?`; the sentinel's
//! marker is split in what is written (`'__ANTENV_''END_<nonce>'`), so only
//! the shell's own output holds it whole and a command cannot spoof the end
//! or the exit code.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::ToolOutput;

/// The budget of a command without `timeout_ms`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The result of a call whose shell ended (an `exit`) without output, as
/// the official Python runner words it.
pub(crate) const SHELL_ENDED: &str = "bash: bash session terminated; restart required";
/// The most output kept (the last bytes).
pub(crate) const MAX_OUTPUT: usize = 100 * 1024;

/// A running shell.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Shell {
    /// Kills the shell's whole process group.
    fn kill(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The session's bash tool.
pub(crate) struct Bash {
    workdir: PathBuf,
    env: Vec<(OsString, OsString)>,
    shell: Option<Shell>,
}

/// The input of `bash`.
#[derive(Deserialize)]
struct BashInput {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    restart: bool,
    #[serde(default)]
    timeout_ms: Option<i64>,
}

/// The process's environment without `ANTHROPIC_*` (any case), for a shell
/// the agent drives: it never sees a credential.
pub(crate) fn scrubbed_env() -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            !k.to_str()
                .is_some_and(|k| k.to_ascii_uppercase().starts_with("ANTHROPIC_"))
                && !k
                    .to_str()
                    .is_some_and(|k| matches!(k, "PS1" | "PS2" | "TERM"))
        })
        .collect();
    env.push(("PS1".into(), "".into()));
    env.push(("PS2".into(), "".into()));
    env.push(("TERM".into(), "dumb".into()));
    env
}

/// Drops ANSI CSI sequences (colours, cursor moves).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte @-~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

impl Bash {
    /// A bash tool working in `workdir` with the scrubbed environment.
    pub(crate) fn new(workdir: PathBuf) -> Self {
        Bash {
            workdir,
            env: scrubbed_env(),
            shell: None,
        }
    }

    fn start(&self) -> std::io::Result<Shell> {
        let mut child = Command::new("/bin/bash")
            .args(["--noprofile", "--norc"])
            .current_dir(&self.workdir)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("the shell's pipes are missing"));
        };
        Ok(Shell {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// Kills the shell (the session is over).
    pub(crate) fn close(&mut self) {
        self.shell = None;
    }

    /// Runs one call.
    pub(crate) async fn call(&mut self, input: &Value) -> ToolOutput {
        let input: BashInput = match serde_json::from_value(input.clone()) {
            Ok(i) => i,
            Err(e) => return ToolOutput::error(format!("bash: invalid input: {e}")),
        };
        if input.restart {
            self.close();
            if input.command.is_none() {
                return ToolOutput::text("bash: the shell was restarted");
            }
        }
        let Some(command) = input.command else {
            return ToolOutput::error("bash: command is required".to_owned());
        };
        let budget = match input.timeout_ms {
            Some(ms) if ms > 0 => Duration::from_millis(ms as u64),
            _ => DEFAULT_TIMEOUT,
        };
        if self.shell.is_none() {
            match self.start() {
                Ok(shell) => self.shell = Some(shell),
                Err(e) => return ToolOutput::error(format!("bash: cannot start the shell: {e}")),
            }
        }
        let nonce = format!("{:016x}", fastrand::u64(..));
        let marker = format!("__ANTENV_END_{nonce}");
        let script = format!(
            "{{ {command}\n}} < /dev/null 2>&1\nprintf '\\n%s%s %d\\n' '__ANTENV_' 'END_{nonce}' \"$?\"\n"
        );
        let Some(shell) = self.shell.as_mut() else {
            return ToolOutput::error("bash: no shell".to_owned());
        };
        let run = async {
            shell.stdin.write_all(script.as_bytes()).await?;
            shell.stdin.flush().await?;
            let mut kept: Vec<u8> = Vec::new();
            let mut dropped = false;
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = shell.stdout.read_until(b'\n', &mut line).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>((kept, dropped, None));
                }
                let text = String::from_utf8_lossy(&line);
                if let Some(code) = text.trim_end().strip_prefix(&format!("{marker} ")) {
                    return Ok((kept, dropped, code.trim().parse::<i32>().ok()));
                }
                kept.extend_from_slice(&line);
                if kept.len() > MAX_OUTPUT {
                    let cut = kept.len() - MAX_OUTPUT;
                    kept.drain(..cut);
                    dropped = true;
                }
            }
        };
        let outcome = tokio::time::timeout(budget, run).await;
        let (kept, dropped, code) = match outcome {
            Err(_) => {
                // The next call gets a fresh shell.
                self.close();
                return ToolOutput::error(format!(
                    "bash: the command timed out after {} ms",
                    budget.as_millis()
                ));
            }
            Ok(Err(e)) => {
                self.close();
                return ToolOutput::error(format!("bash: the shell failed: {e}"));
            }
            Ok(Ok(done)) => done,
        };
        let mut text = strip_ansi(&String::from_utf8_lossy(&kept));
        // The newline the sentinel's printf put before itself, and any
        // trailing ones.
        while text.ends_with('\n') {
            text.pop();
        }
        if dropped {
            text = format!("[output truncated]\n{text}");
        }
        match code {
            Some(0) => ToolOutput::text(text),
            Some(code) if text.is_empty() => ToolOutput::error(format!("exit code {code}")),
            Some(_) => ToolOutput::error(text),
            None => {
                // The shell ended (an `exit`): the next call gets a fresh one.
                self.close();
                ToolOutput::error(if text.is_empty() {
                    SHELL_ENDED.to_owned()
                } else {
                    text
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(out: &ToolOutput) -> &str {
        out.blocks[0]["text"].as_str().unwrap()
    }

    #[tokio::test]
    async fn state_persists_errors_are_errors_and_restart_is_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let mut bash = Bash::new(dir.path().to_owned());
        let out = bash
            .call(&json!({"command": "export X=42; mkdir d; cd d; f() { echo fn; }"}))
            .await;
        assert!(!out.is_error, "{out:?}");
        assert_eq!(text(&out), "(no output)");
        let out = bash
            .call(&json!({"command": "echo $X; basename $PWD; f"}))
            .await;
        assert_eq!(text(&out), "42\nd\nfn");
        let out = bash.call(&json!({"command": "echo oops >&2; false"})).await;
        assert!(out.is_error);
        assert_eq!(text(&out), "oops");
        assert_eq!(
            text(&bash.call(&json!({"command": "exit 3"})).await),
            SHELL_ENDED
        );
        let out = bash.call(&json!({"command": "echo ${X:-unset}"})).await;
        assert_eq!(text(&out), "unset", "a fresh shell after exit");
        let out = bash.call(&json!({"restart": true, "command": "pwd"})).await;
        assert_eq!(
            text(&out),
            dir.path().canonicalize().unwrap().to_str().unwrap()
        );
        assert!(bash.call(&json!({})).await.is_error, "command required");
    }

    #[tokio::test]
    async fn output_cannot_spoof_the_end_and_stdin_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut bash = Bash::new(dir.path().to_owned());
        let out = bash
            .call(&json!({"command": "echo __ANTENV_END_0000000000000000 0; cat; echo after"}))
            .await;
        assert_eq!(text(&out), "__ANTENV_END_0000000000000000 0\nafter");
        let out = bash
            .call(&json!({"command": "printf '\\033[31mred\\033[0m'"}))
            .await;
        assert_eq!(text(&out), "red");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_shell_and_huge_output_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut bash = Bash::new(dir.path().to_owned());
        let out = bash
            .call(&json!({"command": "export Y=1; sleep 30", "timeout_ms": 200}))
            .await;
        assert!(out.is_error && text(&out).contains("timed out"), "{out:?}");
        let out = bash.call(&json!({"command": "echo ${Y:-fresh}"})).await;
        assert_eq!(text(&out), "fresh");
        let out = bash
            .call(&json!({"command": "head -c 300000 /dev/zero | tr '\\0' x; echo; echo end"}))
            .await;
        let t = text(&out);
        assert!(
            t.starts_with("[output truncated]\n") && t.ends_with("end"),
            "{}",
            &t[..40]
        );
        assert!(t.len() <= MAX_OUTPUT + 40);
    }

    #[test]
    fn credentials_never_reach_the_shell() {
        let env = scrubbed_env();
        assert!(env.iter().all(|(k, _)| {
            !k.to_string_lossy()
                .to_ascii_uppercase()
                .starts_with("ANTHROPIC_")
        }));
        assert!(env.iter().any(|(k, v)| k == "TERM" && v == "dumb"));
    }
}
