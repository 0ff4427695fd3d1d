//! `mslab igo`: implicit graduated optimization schedules against global solvers (issue 4).
//! STUB: being written; refuses to run until then.

use clap::Args;

use super::Failure;
use momentum_smoothing::Error;

/// Arguments of this subcommand (placeholder).
#[derive(Args)]
pub struct IgoArgs {}

pub fn run(_a: IgoArgs) -> Result<(), Failure> {
    Err(Failure(Error::invalid("command", "igo", "not implemented yet")))
}
