//! `mslab train`: real networks through tch (feature `torch`, issue 5).
//! STUB: being written; refuses to run until then.

use clap::Args;

use super::Failure;
use momentum_smoothing::Error;

/// Arguments of this subcommand (placeholder).
#[derive(Args)]
pub struct TrainArgs {}

pub fn run(_a: TrainArgs) -> Result<(), Failure> {
    Err(Failure(Error::invalid("command", "train", "not implemented yet")))
}
