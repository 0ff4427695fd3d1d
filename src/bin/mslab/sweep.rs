//! `mslab sweep`: a grid of runs from a sweep file, resumable (issue 9).
//! STUB: being written; refuses to run until then.

use clap::Args;

use super::Failure;
use momentum_smoothing::Error;

/// Arguments of this subcommand (placeholder).
#[derive(Args)]
pub struct SweepArgs {}

pub fn run(_a: SweepArgs) -> Result<(), Failure> {
    Err(Failure(Error::invalid("command", "sweep", "not implemented yet")))
}
