//! `antenv worker ...`: the poller and the single-item runner.

pub mod health;
pub mod poll;
pub mod run;
pub mod script;
