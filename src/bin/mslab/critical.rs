//! `mslab critical`: SFO sweep over batch sizes, critical batch size b*, C² estimates (issue 4).
//! STUB: being written; refuses to run until then.

use clap::Args;

use super::Failure;
use momentum_smoothing::Error;

/// Arguments of this subcommand (placeholder).
#[derive(Args)]
pub struct CriticalArgs {}

pub fn run(_a: CriticalArgs) -> Result<(), Failure> {
    Err(Failure(Error::invalid("command", "critical", "not implemented yet")))
}
