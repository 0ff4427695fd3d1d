//! # momentum-smoothing
//!
//! Reproducible checks of what momentum does to the noise of SGD. Sato & Iiduka define the
//! search-direction noise ω_t = d_t − ∇f(x_t) and claim it smooths f with a degree δ = η ψ; this
//! crate measures ω on landscapes whose truth is known exactly and sets the measurement beside
//! the predicted ψ and δ. See `ARCHITECTURE.md` for where each object of the theory lives.

// No unwrap/expect on paths that user input reaches (tests may use them).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod error;
pub mod experiments;
pub mod fastmath;
pub mod landscape;
pub mod linalg;
pub mod noise;
pub mod optimizer;
pub mod output;
pub mod plot;
pub mod runner;
pub mod solver;
pub mod stationary;
pub mod stats;
pub mod sweep;
pub mod theory;
#[cfg(feature = "torch")]
pub mod torch;

pub use error::{Error, Result};
