//! Running one script for one work item: its environment, its standard
//! input, the forwarded secret's file, a timeout, and the SIGTERM-then-
//! SIGKILL ending when it must stop.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The variable that names the forwarded secret's file.
pub const SECRET_FILE_VAR: &str = "ANTHROPIC_WORK_SECRET_FILE";
/// The variable the official workers read the secret from (never set for a
/// script; removed from the environment it inherits).
pub const SECRET_VAR: &str = "ANTHROPIC_WORK_SECRET";

/// What to run: a program (looked up like exec) and its arguments.
#[derive(Clone, Debug)]
pub struct Program {
    /// The program.
    pub path: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Program {
    /// Checks that the program can be found and executed, as exec would
    /// look it up (a path with a `/` as is, else each `PATH` entry).
    pub fn check(&self) -> Result<(), String> {
        let name = &self.path;
        let executable = |p: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        if name.as_os_str().is_empty() {
            return Err("the program name is empty".into());
        }
        if name.to_string_lossy().contains('/') {
            use std::os::unix::fs::PermissionsExt;
            // Say what is wrong: absent, not a file, or not executable.
            return match std::fs::metadata(name) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(format!("{} does not exist", name.display()))
                }
                Err(e) => Err(format!("{}: {e}", name.display())),
                Ok(m) if !m.is_file() => Err(format!("{} is not a file", name.display())),
                Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(format!(
                    "{} is not executable (chmod +x it)",
                    name.display()
                )),
                Ok(_) => Ok(()),
            };
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        match std::env::split_paths(&path).any(|dir| executable(&dir.join(name))) {
            true => Ok(()),
            false => Err(format!("{} is not on PATH", name.display())),
        }
    }
}

/// One run of a script.
pub struct Launch<'a> {
    /// What to run.
    pub program: &'a Program,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(&'static str, OsString)>,
    /// Written to the script's standard input, which is then closed; `None`
    /// lets it inherit ours.
    pub stdin: Option<Vec<u8>>,
    /// The item's secret, to forward in a private file.
    pub forward_secret: Option<&'a str>,
    /// The script's time limit.
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Cancelled when the script must stop (lease ended, item stopping,
    /// shutdown).
    pub cancel: CancellationToken,
    /// Where its standard output and error go.
    pub output: Output,
}

/// Where a script's standard output and error go.
#[derive(Clone, Debug)]
pub enum Output {
    /// Ours (the command is the process's main program, as `worker run`'s).
    Inherit,
    /// One log record per line, with the item's ids: a worker's log
    /// stream stays one format (JSON lines stay JSON).
    Log {
        /// The item.
        work_id: String,
        /// Its session.
        session_id: String,
        /// Values replaced by `<redacted>` wherever a line shows them (the
        /// environment key, the item's secret and sessions token).
        secrets: Vec<String>,
    },
}

/// The longest line logged as one record; a longer one is logged in
/// pieces of about this size (cut between characters, never inside a
/// secret: see [`Pieces`]), so a flood without
/// newlines holds no more, and a JSON record stays under the 16 KiB a line
/// of Docker's log driver holds.
const MAX_LINE: usize = 8 * 1024;

/// Where to cut `bytes` (longer than `max`) at most `max` bytes in,
/// between two UTF-8 characters when the text is UTF-8 there, and never
/// inside one of `secrets` (each piece is redacted on its own, so a secret
/// cut in two would show in halves): before a secret the cut would split,
/// or just after it when it starts the piece (a piece then runs past `max`
/// by less than the secret's length).
fn cut_point(bytes: &[u8], max: usize, secrets: &[String]) -> usize {
    let mut cut = match std::str::from_utf8(&bytes[..max]) {
        // A character split by the cut: cut before it.
        Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => e.valid_up_to(),
        _ => max,
    };
    // Moving the cut back can put it inside another secret: look again
    // until no secret straddles it (each move goes back, or forward once).
    'moved: loop {
        for secret in secrets.iter().map(String::as_bytes).filter(|s| s.len() > 1) {
            let from = cut.saturating_sub(secret.len() - 1);
            let to = (cut + secret.len() - 1).min(bytes.len());
            let straddling = bytes[from..to]
                .windows(secret.len())
                .position(|w| w == secret)
                .map(|at| from + at);
            if let Some(at) = straddling {
                cut = match at {
                    0 => secret.len(),
                    at => at,
                };
                if at == 0 {
                    break 'moved;
                }
                continue 'moved;
            }
        }
        break;
    }
    cut
}

/// One line as logged: lossy UTF-8, without its `\r`, secrets redacted.
fn shown(line: &[u8], secrets: &[String]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut line = String::from_utf8_lossy(line).into_owned();
    for secret in secrets {
        if line.contains(secret.as_str()) {
            line = line.replace(secret.as_str(), "<redacted>");
        }
    }
    line
}

/// Splits a stream into the pieces logged: its lines, and a line longer
/// than `max_line` in pieces of about that size, never cut inside one of
/// `secrets`. A piece ends where a cut is safe: within a line seen to its
/// end, or with the longest secret's length more of the stream in hand.
struct Pieces<'s> {
    pending: Vec<u8>,
    max_line: usize,
    secrets: &'s [String],
    /// How much more than `max_line` must be in hand to cut a line whose
    /// end is not: enough to see whole any secret the cut might fall in.
    look_ahead: usize,
}

impl<'s> Pieces<'s> {
    fn new(max_line: usize, secrets: &'s [String]) -> Self {
        let longest = secrets.iter().map(String::len).max().unwrap_or(0);
        Pieces {
            pending: Vec::new(),
            max_line,
            secrets,
            look_ahead: longest.saturating_sub(1),
        }
    }

    /// Takes more of the stream; emits every piece now complete.
    fn push(&mut self, bytes: &[u8], emit: &mut impl FnMut(&[u8])) {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(end) if end <= self.max_line => {
                    emit(&rest[..end]);
                    start += end + 1;
                }
                // A whole line, too long: cut within it.
                Some(end) => {
                    let cut = cut_point(&rest[..end], self.max_line, self.secrets);
                    emit(&rest[..cut]);
                    start += cut;
                }
                None if rest.len() >= self.max_line + self.look_ahead => {
                    let cut = cut_point(rest, self.max_line, self.secrets);
                    emit(&rest[..cut]);
                    start += cut;
                }
                None => break,
            }
        }
        self.pending.drain(..start);
    }

    /// The stream ended: emits what is left.
    fn finish(self, emit: &mut impl FnMut(&[u8])) {
        let mut rest = &self.pending[..];
        while rest.len() > self.max_line {
            let cut = cut_point(rest, self.max_line, self.secrets);
            emit(&rest[..cut]);
            rest = &rest[cut..];
        }
        if !rest.is_empty() {
            emit(rest);
        }
    }
}

/// Logs what `pipe` carries, a record per line, until it closes.
async fn log_lines(
    mut pipe: impl tokio::io::AsyncRead + Unpin,
    stream: &'static str,
    (work_id, session_id): (String, String),
    secrets: std::sync::Arc<Vec<String>>,
) {
    let mut emit = |line: &[u8]| {
        let line = shown(line, &secrets);
        tracing::info!(target: "antenv::script", work_id, session_id, stream, "{line}");
    };
    let mut pieces = Pieces::new(MAX_LINE, &secrets);
    let mut chunk = vec![0; 8 * 1024];
    loop {
        let read = match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pieces.push(&chunk[..read], &mut emit);
    }
    pieces.finish(&mut emit);
}

/// How a script ended.
#[derive(Debug)]
pub struct Ended {
    /// Its exit status.
    pub status: ExitStatus,
    /// How long it ran.
    pub duration: Duration,
    /// Whether it was signalled for running past its timeout.
    pub timed_out: bool,
    /// Whether it was signalled because it had to stop.
    pub cancelled: bool,
}

impl Ended {
    /// The exit code, or 128 + the signal that killed it (as shells
    /// report it).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .or_else(|| self.status.signal().map(|s| 128 + s))
            .unwrap_or(1)
    }

    /// A short label for metrics and logs: the code, or `signal`.
    pub fn label(&self) -> String {
        match self.status.code() {
            Some(code) => code.to_string(),
            None => "signal".to_owned(),
        }
    }

    /// The signal that killed it, by name (`SIGTERM`), when one did.
    pub fn signal_name(&self) -> Option<String> {
        let number = self.status.signal()?;
        Some(match Signal::try_from(number) {
            Ok(signal) => signal.as_str().to_owned(),
            Err(_) => format!("signal {number}"),
        })
    }

    /// How it ended, in words: `exited with code 3`, `was killed by
    /// SIGTERM`.
    pub fn describe(&self) -> String {
        match self.signal_name() {
            Some(signal) => format!("was killed by {signal}"),
            None => format!("exited with code {}", self.code()),
        }
    }
}

/// Why a script did not run.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// It could not be started.
    #[error("cannot start {program}: {source}")]
    CannotStart {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The secret's file could not be written.
    #[error("cannot write the secret's file: {0}")]
    SecretFile(std::io::Error),
    /// Waiting for the script failed (the operating system lost track of
    /// it); it was sent SIGKILL.
    #[error("cannot wait for {program}: {source}")]
    Wait {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Kills the script's process group when dropped before it was reaped (the
/// worker gave up on it): nothing it started outlives it.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.0 {
            // ESRCH: the group is gone already.
            let _ = killpg(pgid, signal);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

/// Writes the secret into a new private directory, in a file only this
/// user can read; both are removed when the returned directory is dropped.
fn secret_file(secret: &str) -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    // TempDir directories are created 0700.
    let dir = tempfile::Builder::new().prefix("antenv-work-").tempdir()?;
    let path = dir.path().join("secret");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    Ok((dir, path))
}

/// Runs the script to its end.
pub async fn run(launch: Launch<'_>) -> Result<Ended, LaunchError> {
    let secret = match launch.forward_secret {
        Some(secret) => Some(secret_file(secret).map_err(LaunchError::SecretFile)?),
        None => None,
    };
    let mut command = Command::new(&launch.program.path);
    command
        .args(&launch.program.args)
        .env_remove(SECRET_VAR)
        .env_remove(SECRET_FILE_VAR)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(if launch.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        // Its own process group: a terminal's Ctrl-C reaches the worker,
        // which decides when scripts are signalled, and a signal reaches
        // everything the script started.
        .process_group(0)
        .kill_on_drop(true);
    if matches!(launch.output, Output::Log { .. }) {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    if let Some((_, path)) = &secret {
        command.env(SECRET_FILE_VAR, path);
    }
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| LaunchError::CannotStart {
        program: launch.program.path.display().to_string(),
        source,
    })?;
    let mut guard = GroupGuard(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    let mut readers = tokio::task::JoinSet::new();
    if let Output::Log {
        work_id,
        session_id,
        secrets,
    } = &launch.output
    {
        // Short values could be anything; a credential is long.
        let secrets: Vec<String> = secrets.iter().filter(|s| s.len() >= 8).cloned().collect();
        let secrets = std::sync::Arc::new(secrets);
        let ids = (work_id.clone(), session_id.clone());
        if let Some(pipe) = child.stdout.take() {
            readers.spawn(log_lines(pipe, "stdout", ids.clone(), secrets.clone()));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.spawn(log_lines(pipe, "stderr", ids, secrets));
        }
    }
    if let (Some(input), Some(mut pipe)) = (launch.stdin, child.stdin.take()) {
        // Written beside the wait, so a script that never reads cannot
        // block the worker; a script that exits without reading is fine.
        tokio::spawn(async move {
            let _ = pipe.write_all(&input).await;
            let _ = pipe.shutdown().await;
        });
    }
    let deadline = async {
        match launch.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let (mut timed_out, mut cancelled) = (false, false);
    let waited = tokio::select! {
        status = child.wait() => Some(status),
        () = deadline => { timed_out = true; None }
        () = launch.cancel.cancelled() => { cancelled = true; None }
    };
    let status = match waited {
        Some(status) => status,
        None => {
            guard.signal(Signal::SIGTERM);
            match tokio::time::timeout(launch.kill_grace, child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    guard.signal(Signal::SIGKILL);
                    child.wait().await
                }
            }
        }
    };
    let status = status.map_err(|source| LaunchError::Wait {
        program: launch.program.path.display().to_string(),
        source,
    })?;
    // Reaped: the group id may be reused from now on.
    guard.0 = None;
    drop(secret);
    // Its last lines are logged before its end is; a child it left
    // holding the pipes does not hold the worker (its readers go on alone).
    let drained = async { while readers.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(1), drained)
        .await
        .is_err()
    {
        readers.detach_all();
    }
    Ok(Ended {
        status,
        duration: started.elapsed(),
        timed_out,
        cancelled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_between_characters() {
        // "é" is two bytes: a cut at 5 would split the third one.
        let text = "éééé".as_bytes();
        assert_eq!(cut_point(text, 5, &[]), 4);
        assert_eq!(cut_point(text, 4, &[]), 4);
        // Not UTF-8 at all: cut where asked.
        assert_eq!(cut_point(&[0xff; 10], 5, &[]), 5);
    }

    #[test]
    fn long_lines_are_never_cut_inside_a_secret() {
        let secrets = vec!["SECRET".to_owned()];
        // The cut at 8 would split SECRET (at 5..11): cut before it.
        assert_eq!(cut_point(b"abcdeSECRETxyz", 8, &secrets), 5);
        // A secret that starts the piece: cut after it.
        assert_eq!(cut_point(b"SECRETxyz", 3, &secrets), 6);
        // One ending at the cut is whole: the cut stays.
        assert_eq!(cut_point(b"abcSECRETxyz", 9, &secrets), 9);
        // No secret at the cut: where the characters allow.
        assert_eq!(cut_point(b"SECRET-----SECRET", 8, &secrets), 8);
        // Moved back into another (overlapping) secret: before that one too.
        let overlapping = vec!["ABCD".to_owned(), "CDEF".to_owned()];
        assert_eq!(cut_point(b"xxABCDEFyy", 7, &overlapping), 2);
    }

    /// The pieces of `stream` read `chunk` bytes at a time, as logged.
    fn logged(stream: &[u8], chunk: usize, max_line: usize, secrets: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut emit = |piece: &[u8]| out.push(shown(piece, secrets));
        let mut pieces = Pieces::new(max_line, secrets);
        for part in stream.chunks(chunk) {
            pieces.push(part, &mut emit);
        }
        pieces.finish(&mut emit);
        out
    }

    #[test]
    fn a_secret_across_the_end_of_a_read_is_never_split() {
        // The reader's 8 KiB reads end inside the secret.
        let secret = "sk-ant-oat01-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".to_owned();
        let mut line = "x".repeat(MAX_LINE - 10);
        line.push_str(&secret);
        line.push_str(&"y".repeat(12_000));
        let secrets = vec![secret];
        for chunk in [8 * 1024, 4 * 1024, 1000, 7] {
            let pieces = logged(line.as_bytes(), chunk, MAX_LINE, &secrets);
            assert!(pieces.len() > 1, "cut into pieces");
            for piece in &pieces {
                assert!(
                    !piece.contains("sk-ant") && !piece.contains("456789"),
                    "{chunk}"
                );
                assert!(piece.len() <= MAX_LINE + secrets[0].len(), "{chunk}");
            }
            assert_eq!(pieces.concat(), line.replace(&secrets[0], "<redacted>"));
        }
    }

    #[test]
    fn lines_are_pieces_and_a_long_one_is_cut() {
        let pieces = logged(b"one\ntwo\r\nthree-long-line\nlast", 3, 8, &[]);
        assert_eq!(pieces, ["one", "two", "three-lo", "ng-line", "last"]);
    }

    proptest::proptest! {
        /// Read in any chunks, a stream's pieces show no secret, whole or in
        /// part, and join to its lines with every secret redacted.
        #[test]
        fn streams_read_in_any_chunks_never_show_a_secret(
            parts in proptest::collection::vec(("[a-z \n]{0,30}", proptest::bool::ANY), 1..8),
            chunk in 1usize..40,
            max_line in 4usize..24,
        ) {
            let secret = "sk-ant-oat01-abcdef".to_owned();
            let mut stream = String::new();
            for (text, with_secret) in &parts {
                stream.push_str(text);
                if *with_secret {
                    stream.push_str(&secret);
                }
            }
            let secrets = vec![secret.clone()];
            let pieces = logged(stream.as_bytes(), chunk, max_line, &secrets);
            for piece in &pieces {
                proptest::prop_assert!(!piece.contains("sk-ant") && !piece.contains("abcdef"), "{piece:?}");
                proptest::prop_assert!(!piece.contains('\n'));
            }
            let expected: String = stream.replace(&secret, "<redacted>").split('\n').collect();
            proptest::prop_assert_eq!(pieces.concat(), expected);
        }

        /// However a line is cut, no piece shows a secret, whole or in part
        /// across the cut.
        #[test]
        fn pieces_never_show_a_secret(
            prefix in "[a-z ]{0,40}",
            suffix in "[a-z ]{0,40}",
            max in 2usize..30,
        ) {
            let secret = "sk-ant-oat01-abcdef".to_owned();
            let line = format!("{prefix}{secret}{suffix}{secret}");
            let secrets = vec![secret.clone()];
            let mut rest = line.as_bytes();
            let mut shown_pieces = String::new();
            while rest.len() >= max {
                let cut = cut_point(rest, max, &secrets);
                proptest::prop_assert!(cut > 0);
                let piece = shown(&rest[..cut], &secrets);
                proptest::prop_assert!(!piece.contains("sk-ant"), "{piece:?}");
                shown_pieces.push_str(&piece);
                rest = &rest[cut..];
            }
            shown_pieces.push_str(&shown(rest, &secrets));
            proptest::prop_assert_eq!(
                shown_pieces,
                format!("{prefix}<redacted>{suffix}<redacted>")
            );
        }
    }

    #[test]
    fn lines_are_shown_without_secrets_or_carriage_returns() {
        let secrets = vec!["sk-ant-oat01-secret".to_owned()];
        assert_eq!(
            shown(
                b"key=sk-ant-oat01-secret twice sk-ant-oat01-secret\r",
                &secrets
            ),
            "key=<redacted> twice <redacted>"
        );
        assert_eq!(shown(b"caf\xc3 \xff", &[]), "caf\u{fffd} \u{fffd}");
    }
}
