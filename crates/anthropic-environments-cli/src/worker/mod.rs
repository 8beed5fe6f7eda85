//! `antenv worker ...`: the poller, the single-item runner and the
//! webhook-triggered worker.

pub mod health;
pub mod poll;
pub mod run;
pub mod script;
pub mod webhook;

use std::time::Duration;

use anthropic_environments_worker::{SessionRunner, WorkerTiming};

use crate::cli::{ScriptArgs, SessionArgs};

impl ScriptArgs {
    /// The worker's timing for these flags: the official defaults (times
    /// the hidden test scale), a signalled script's SIGTERM-to-SIGKILL
    /// grace as the handler's cancel grace (the worker still never lets it
    /// outlive the lease), and the stop phase's deadline.
    pub fn timing(&self) -> WorkerTiming {
        WorkerTiming {
            cancel_grace: self.kill_grace + Duration::from_secs(1),
            stop_timeout: self.stop_timeout,
            ..WorkerTiming::default().scaled(self.timing_scale)
        }
    }
}

impl SessionArgs {
    /// The in-process session runner these flags describe.
    pub fn runner(&self) -> SessionRunner {
        SessionRunner::new(&self.workdir)
            .max_idle(Some(self.max_idle))
            .unrestricted_paths(self.unrestricted_paths)
    }
}
