//! Reviewing a change of the spec: which API changes it makes, and whether
//! each breaks code that uses the generated client and the facade
//! ([`diff()`]), with the corpus of mutations its verdicts are tested on
//! ([`mutations`]). `cargo xtask spec-diff` is its command line.
#![forbid(unsafe_code)]

pub mod diff;
pub mod mutations;
pub mod report;

pub use diff::{Change, Report, Severity, diff};
