//! `bash`: one persistent `/bin/bash --noprofile --norc` per session (cwd,
//! exports and functions persist between calls), in its own process group,
//! with every `ANTHROPIC_*` variable removed from its environment (§4.2).
//!
//! Each command is given to `eval` as one quoted word, in a brace group
//! with stdin from `/dev/null` and stderr merged, followed on the same line
//! by a sentinel carrying `$?`; the sentinel's marker is split in what is
//! written (`'__ANTENV_' 'END_<nonce>'`), so only the shell's own output
//! holds it whole, and the shell has read the whole line before the
//! command runs: a command can neither spoof the end or the exit code nor
//! read the sentinel ahead. At most the last 100 KiB of output are kept,
//! however much is printed.

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
/// the official Python runner words it (the next call starts a new shell
/// all the same).
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
    scrub(std::env::vars_os())
}

/// `vars` without `ANTHROPIC_*` (any case, also in names that are not
/// UTF-8) and the prompt variables, plus `PS1=` `PS2=` `TERM=dumb`.
fn scrub(vars: impl Iterator<Item = (OsString, OsString)>) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = vars
        .filter(|(k, _)| {
            let k = k.as_encoded_bytes();
            let credential = k.len() >= 10 && k[..10].eq_ignore_ascii_case(b"ANTHROPIC_");
            !credential && !matches!(k, b"PS1" | b"PS2" | b"TERM")
        })
        .collect();
    env.push(("PS1".into(), "".into()));
    env.push(("PS2".into(), "".into()));
    env.push(("TERM".into(), "dumb".into()));
    env
}

/// The line written for one call: the command as one single-quoted word
/// given to `eval` (so a syntax error is the command's error, not the
/// shell's end, and the whole line is read before anything runs: a command
/// cannot read ahead to the sentinel), in a brace group with stdin from
/// `/dev/null` and stderr merged, then the sentinel and `$?` on a line of
/// their own. The sentinel is split in what is written, so only the shell's
/// output holds it whole.
fn call_script(command: &str, nonce: &str) -> String {
    let quoted = command.replace('\'', "'\\''");
    format!(
        "{{ eval '{quoted}'; }} < /dev/null 2>&1; printf '\\n%s%s %d\\n' '__ANTENV_' 'END_{nonce}' \"$?\"\n"
    )
}

/// A command's output as it is read: at most [`MAX_OUTPUT`] bytes kept
/// (the last ones), whatever the command prints.
#[derive(Default)]
struct Output {
    kept: Vec<u8>,
    dropped: bool,
    /// Read but not yet known not to be the start of the sentinel.
    pending: Vec<u8>,
}

impl Output {
    /// Looks for the sentinel line (`marker`, then the exit code and a
    /// newline) in what is pending: `Some(code)` once it is whole;
    /// otherwise keeps what cannot be part of it.
    fn take(&mut self, marker: &str) -> Option<Option<i32>> {
        let marker = marker.as_bytes();
        if let Some(at) = find(&self.pending, marker) {
            let rest = &self.pending[at + marker.len()..];
            let end = rest.iter().position(|&b| b == b'\n')?;
            let code = std::str::from_utf8(&rest[..end])
                .ok()
                .and_then(|c| c.trim().parse::<i32>().ok());
            let before: Vec<u8> = self.pending[..at].to_vec();
            self.keep(&before);
            self.pending.clear();
            return Some(code);
        }
        // Everything but a tail that could begin the marker is output.
        let safe = self.pending.len().saturating_sub(marker.len());
        let head: Vec<u8> = self.pending.drain(..safe).collect();
        self.keep(&head);
        None
    }

    /// The shell ended: what is pending is output.
    fn end(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        self.keep(&rest);
    }

    fn keep(&mut self, bytes: &[u8]) {
        self.kept.extend_from_slice(bytes);
        if self.kept.len() > MAX_OUTPUT {
            let cut = self.kept.len() - MAX_OUTPUT;
            self.kept.drain(..cut);
            self.dropped = true;
        }
    }
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Seconds as the official runner prints its timeouts (`120.0`, `0.2`).
fn python_seconds(budget: Duration) -> String {
    let seconds = budget.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.1}")
    } else {
        format!("{seconds}")
    }
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
    /// A bash tool working in `workdir` with `env` as its whole
    /// environment (`None`: the process's, scrubbed).
    pub(crate) fn new(workdir: PathBuf, env: Option<Vec<(OsString, OsString)>>) -> Self {
        Bash {
            workdir,
            env: env.unwrap_or_else(scrubbed_env),
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
                return ToolOutput::text("bash session restarted");
            }
        }
        // An empty command is no command, as the official runner has it.
        let Some(command) = input.command.filter(|c| !c.is_empty()) else {
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
        let marker = format!("\n__ANTENV_END_{nonce} ");
        let script = call_script(&command, &nonce);
        let Some(shell) = self.shell.as_mut() else {
            return ToolOutput::error("bash: no shell".to_owned());
        };
        let run = async {
            shell.stdin.write_all(script.as_bytes()).await?;
            shell.stdin.flush().await?;
            let mut output = Output::default();
            loop {
                let chunk = shell.stdout.fill_buf().await?;
                if chunk.is_empty() {
                    output.end();
                    return Ok::<_, std::io::Error>((output, None));
                }
                let n = chunk.len();
                output.pending.extend_from_slice(chunk);
                shell.stdout.consume(n);
                if let Some(code) = output.take(&marker) {
                    return Ok((output, code));
                }
            }
        };
        let outcome = tokio::time::timeout(budget, run).await;
        let (Output { kept, dropped, .. }, code) = match outcome {
            Err(_) => {
                // The next call gets a fresh shell.
                self.close();
                return ToolOutput::error(format!(
                    "bash: bash command timed out after {}s",
                    python_seconds(budget)
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
        let mut bash = Bash::new(dir.path().to_owned(), None);
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
        let mut bash = Bash::new(dir.path().to_owned(), None);
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
        let mut bash = Bash::new(dir.path().to_owned(), None);
        let out = bash
            .call(&json!({"command": "export Y=1; sleep 30", "timeout_ms": 200}))
            .await;
        assert_eq!(
            (out.is_error, text(&out)),
            (true, "bash: bash command timed out after 0.2s")
        );
        assert_eq!(python_seconds(DEFAULT_TIMEOUT), "120.0");
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

    #[tokio::test]
    async fn syntax_errors_and_empty_commands_keep_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let mut bash = Bash::new(dir.path().to_owned(), None);
        bash.call(&json!({"command": "export KEPT=yes"})).await;
        let out = bash.call(&json!({"command": "echo ("})).await;
        assert!(
            out.is_error && text(&out).contains("syntax error"),
            "{out:?}"
        );
        let out = bash.call(&json!({"command": ""})).await;
        assert_eq!(
            (out.is_error, text(&out)),
            (true, "bash: command is required")
        );
        let out = bash
            .call(&json!({"command": "echo \"it's $KEPT\"; # a comment"}))
            .await;
        assert_eq!(text(&out), "it's yes", "the same shell, quotes intact");
        let out = bash.call(&json!({"command": "cat <<EOF\na\nEOF"})).await;
        assert_eq!(text(&out), "a", "here-documents work");
    }

    #[tokio::test]
    async fn a_command_cannot_read_the_sentinel_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let mut bash = Bash::new(dir.path().to_owned(), None);
        let out = bash
            .call(&json!({"command": "for fd in 0 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 255; do read -t 0.2 -r L <&$fd 2>/dev/null && echo \"fd $fd: $L\"; done; exit 7"}))
            .await;
        assert!(!text(&out).contains("__ANTENV_"), "{out:?}");
    }

    #[tokio::test]
    async fn exit_codes_restarts_and_trailing_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let mut bash = Bash::new(dir.path().to_owned(), None);
        let out = bash.call(&json!({"command": "false"})).await;
        assert_eq!((out.is_error, text(&out)), (true, "exit code 1"));
        let out = bash.call(&json!({"command": "printf 'a\\n\\n\\n'"})).await;
        assert_eq!(text(&out), "a");
        bash.call(&json!({"command": "export Z=1"})).await;
        let out = bash.call(&json!({"restart": true})).await;
        assert_eq!(
            (out.is_error, text(&out)),
            (false, "bash session restarted")
        );
        let out = bash
            .call(&json!({"command": "echo ${Z:-gone} \"[$PS1][$PS2]\""}))
            .await;
        assert_eq!(text(&out), "gone [][]");
        let out = bash
            .call(&json!({"command": "echo x", "timeout_ms": -5}))
            .await;
        assert_eq!(text(&out), "x", "a budget <= 0 is the default");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut bash = Bash::new(dir.path().to_owned(), None);
        bash.call(&json!({"command": "mkfifo held"})).await;
        // A reader of the FIFO sees its end once every writer is gone: the
        // background `sleep` holds it open until it is killed.
        let fifo = dir.path().join("held");
        let (ended, ended_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut held = std::fs::File::open(fifo).unwrap();
            let _ = std::io::Read::read_to_end(&mut held, &mut Vec::new());
            let _ = ended.send(());
        });
        let out = bash
            .call(&json!({"command": "sleep 600 > held & wait", "timeout_ms": 300}))
            .await;
        assert!(out.is_error && text(&out).contains("timed out"), "{out:?}");
        assert!(
            ended_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the background child survived the timeout"
        );
    }

    #[tokio::test]
    async fn a_configured_environment_replaces_the_process_one() {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("ONLY".into(), "this".into()),
            ("PATH".into(), "/usr/bin:/bin".into()),
        ];
        let mut bash = Bash::new(dir.path().to_owned(), Some(env));
        let out = bash
            .call(&json!({"command": "echo $ONLY ${HOME:-nohome}"}))
            .await;
        assert_eq!(text(&out), "this nohome");
    }

    #[test]
    fn scrubbing_drops_credentials_in_any_case_and_keeps_path() {
        let vars = [
            ("ANTHROPIC_API_KEY", "k"),
            ("anthropic_environment_key", "k"),
            ("Anthropic_X", "k"),
            ("PATH", "/bin"),
            ("PS1", "$ "),
            ("ANTHROPICX", "kept"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let env = scrub(vars.into_iter());
        let names: Vec<_> = env.iter().map(|(k, _)| k.to_str().unwrap()).collect();
        assert_eq!(names, ["PATH", "ANTHROPICX", "PS1", "PS2", "TERM"]);
        assert!(env.iter().all(|(k, v)| k != "PS1" || v.is_empty()));
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
