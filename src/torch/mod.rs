//! Real networks through tch (libtorch 2.11.0), behind the cargo feature `torch`.
//!
//! - [`device`]: `cpu` / `cuda[:N]` parsing, loading `libtorch_cuda.so` at start-up (CUDA is not
//!   registered otherwise), loud failure when CUDA is requested but absent, provenance fields.
//! - [`data`]: MNIST / Fashion-MNIST idx readers (raw or `.gz`), CIFAR-10/100 binary readers;
//!   datasets held on the device whole, batches drawn by index from a seeded generator.
//! - [`models`]: MLP, a small CNN and ResNet-18 with the CIFAR stem, each with
//!   `--norm batch|group|none`.
//! - [`optim`]: SGD, SHB, NSHB, QHM(ν), Nesterov as tensor code, exposing the search direction
//!   d_t (theory.md §2, the same definitions as [`crate::optimizer`]).
//! - [`instruments`]: ω_t = d_t − ∇f(x_t) at the pre-update iterate with an eval-mode full
//!   gradient that leaves BatchNorm buffers and every RNG untouched; C², B_simple, K, normality.
//! - [`train`]: the training loop behind `mslab train`, with checkpoint/resume.

pub mod data;
pub mod device;
pub mod instruments;
pub mod models;
pub mod optim;
pub mod train;

use crate::error::Error;

/// The libtorch version tch 0.24.0 is built against (checked by torch-sys at build time).
pub const LIBTORCH_VERSION: &str = "2.11.0";

/// Turn a tch error into the toolkit's error, naming what was being done.
pub fn tch_err(what: &str, e: tch::TchError) -> Error {
    Error::Failed(format!("libtorch error while {what}: {e}"))
}
