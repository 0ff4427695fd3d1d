//! Helpers shared by the theorem checks (`mod common;` in a test file). Not a test target.
#![allow(dead_code)] // each test file uses a subset

use std::sync::Arc;

use momentum_smoothing::experiments::{bounds, ClaimReport, Scale, Verdict};
use momentum_smoothing::landscape::{Landscape, MultiWell, Quadratic, Rastrigin};
use momentum_smoothing::noise::NoiseLaw;
use momentum_smoothing::runner::{InitBox, Problem};

/// The landscapes of the bound property tests: (f, a curvature bound L on the domain, the
/// initial box). `which`: 0 rotated quadratic, 1 multi-well, otherwise Rastrigin.
pub fn property_landscape(which: u8, d: usize) -> (Arc<dyn Landscape>, f64, (f64, f64)) {
    match which {
        0 => (
            Arc::new(Quadratic::new(bounds::quadratic_eigenvalues(d), Some(3), 10.0).unwrap()),
            4.0,
            (-3.0, 3.0),
        ),
        1 => (
            Arc::new(MultiWell::new(d, 1.0, 0.3).unwrap()),
            44.0,
            (-2.0, 2.0),
        ),
        _ => (
            Arc::new(Rastrigin::new(d, 10.0).unwrap()),
            2.0 + 40.0 * std::f64::consts::PI * std::f64::consts::PI,
            (-5.12, 5.12),
        ),
    }
}

/// A property landscape with isotropic Gaussian noise σ and x_0 drawn from its initial box,
/// and its curvature bound L (see [`property_landscape`]).
pub fn property_problem(which: u8, d: usize, sigma: f64) -> (Problem, f64) {
    let (landscape, l, (low, high)) = property_landscape(which, d);
    let problem = Problem {
        landscape,
        noise: NoiseLaw::Gaussian { sigma },
        init: InitBox { low, high },
    };
    (problem, l)
}

/// Prints a claim report's verdict, evidence, counter-example and the time since `start`.
pub fn print_report(r: &ClaimReport, start: std::time::Instant) {
    println!(
        "{:?}: {}\n{:?}\n{:.1}s",
        r.verdict,
        r.evidence,
        r.counter_example,
        start.elapsed().as_secs_f64()
    );
}

/// Runs a claim experiment at full scale, prints its verdict and evidence with the time taken,
/// writes `target/claims/<ID>.json`, and asserts the verdict the proofs file records.
pub fn full_scale(
    id: &str,
    experiment: fn(Scale) -> momentum_smoothing::Result<ClaimReport>,
    expected: Verdict,
) -> ClaimReport {
    let t = std::time::Instant::now();
    let r = experiment(Scale::Full).unwrap();
    println!(
        "{id} full ({:.1}s): {:?}: {}",
        t.elapsed().as_secs_f64(),
        r.verdict,
        r.evidence
    );
    std::fs::create_dir_all("target/claims").unwrap();
    std::fs::write(
        format!("target/claims/{id}.json"),
        serde_json::to_string_pretty(&r).unwrap(),
    )
    .unwrap();
    assert_eq!(r.verdict, expected);
    r
}

/// A valid two-dimensional Gaussian quadratic landscape file (the CLI tests' starting point).
pub const GOOD_LANDSCAPE: &str = "name = \"q\"\nkind = \"quadratic\"\ndim = 2\n[params]\neigenvalues = [1.0, 2.0]\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n";

/// Run the `mslab` binary in `cwd` with `args` and extra `env` (MSLAB_SHARD and MSLAB_DEVICES
/// from the caller's environment removed): (exit code, stdout, stderr).
pub fn mslab_in<S: AsRef<std::ffi::OsStr>>(
    cwd: &std::path::Path,
    args: &[S],
    env: &[(&str, String)],
) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mslab"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("MSLAB_SHARD")
        .env_remove("MSLAB_DEVICES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run mslab");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Side of the images of [`write_data`] (torch tests).
pub const IDX_SIDE: usize = 12;

/// An idx file (MNIST format, u8 data): magic, dimensions, data.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// A learnable Fashion-MNIST-shaped idx data set written to `dir` (H×H grey, H = [`IDX_SIDE`]): class c lights row c, plus hashed noise.
pub fn write_data(dir: &std::path::Path, n_train: usize, n_test: usize) {
    for (prefix, n, off) in [("train", n_train, 0usize), ("t10k", n_test, 7919)] {
        let mut px = Vec::with_capacity(n * IDX_SIDE * IDX_SIDE);
        let mut lb = Vec::with_capacity(n);
        for i in 0..n {
            let c = (i * 7 + off) % 10;
            lb.push(c as u8);
            for r in 0..IDX_SIDE {
                for col in 0..IDX_SIDE {
                    let hash = ((i + off) * 2654435761 + r * 40503 + col * 97) % 101;
                    let base = if r == c { 150 } else { 20 };
                    px.push((base + hash) as u8);
                }
            }
        }
        let d = [n as u32, IDX_SIDE as u32, IDX_SIDE as u32];
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            idx_bytes(&d, &px),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            idx_bytes(&[n as u32], &lb),
        )
        .unwrap();
    }
}

/// Instrument settings small enough for the CPU torch tests (128-example subset, 4 micro-batches
/// of 16, 3 projections).
#[cfg(feature = "torch")]
pub fn tiny_measure() -> momentum_smoothing::torch::instruments::MeasureConfig {
    momentum_smoothing::torch::instruments::MeasureConfig {
        subset: 128,
        chunk: 64,
        micro_batches: 4,
        micro_size: 16,
        projections: 3,
        proj_dim: 256,
        noise: true,
    }
}
