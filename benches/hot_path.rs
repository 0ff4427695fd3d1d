//! Criterion benchmarks of the simulator's hot path.
//!
//! - `reference_workload_small`: the core engine's reference workload (SHB, η = 0.002, β = 0.9,
//!   b = 32, 100-d Rastrigin, σ = 1, ω measured every step) at 16 seeds × 1,000 steps, through
//!   the same `runner::run` that `mslab simulate` calls.
//! - `rastrigin_gradient_100d`, `gaussian_minibatch_100d`, `shb_direction_100d`: the pieces.
//!
//! Run: `cargo bench --bench hot_path`. The full reference workload (1,000 seeds × 10,000 steps)
//! is timed through the CLI: see BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use momentum_smoothing::landscape::{Landscape, Rastrigin};
use momentum_smoothing::noise::{NoiseLaw, NoiseScratch};
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::runner::{run, InitBox, Problem, RunConfig};

fn reference_problem() -> Problem {
    Problem {
        landscape: Arc::new(Rastrigin::new(100, 10.0).expect("valid rastrigin")),
        noise: NoiseLaw::Gaussian { sigma: 1.0 },
        init: InitBox {
            low: -5.12,
            high: 5.12,
        },
    }
}

fn bench(c: &mut Criterion) {
    let problem = reference_problem();
    let opt = Optimizer::new(OptimizerKind::Shb, 0.002, 0.9, 0.0).expect("valid optimizer");
    let cfg = RunConfig {
        optimizer: opt,
        batch: 32,
        steps: 1000,
        burn_in: 0,
        seeds: 16,
        seed: 0,
        every: 1,
    };
    let mut group = c.benchmark_group("simulator");
    group.sample_size(10);
    group.throughput(Throughput::Elements((cfg.seeds * cfg.steps * 100) as u64));
    group.bench_function("reference_workload_small", |b| {
        b.iter(|| black_box(run(&problem, &cfg, None).expect("run")))
    });
    group.finish();

    let land = Rastrigin::new(100, 10.0).expect("valid rastrigin");
    let x: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin() * 4.0).collect();
    let mut g = vec![0.0; 100];
    let mut pieces = c.benchmark_group("pieces");
    pieces.throughput(Throughput::Elements(100));
    pieces.bench_function("rastrigin_gradient_100d", |b| {
        b.iter(|| land.gradient(black_box(&x), &mut g))
    });
    let noise = NoiseLaw::Gaussian { sigma: 1.0 };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut scratch = NoiseScratch::new(100);
    let grad = g.clone();
    let mut out = vec![0.0; 100];
    pieces.bench_function("gaussian_minibatch_100d", |b| {
        b.iter(|| {
            noise.sample_minibatch(
                &land,
                &x,
                black_box(&grad),
                32,
                &mut rng,
                &mut scratch,
                &mut out,
            )
        })
    });
    let mut m = vec![0.0; 100];
    let mut d = vec![0.0; 100];
    pieces.bench_function("shb_direction_100d", |b| {
        b.iter(|| opt.direction(black_box(&grad), &mut m, &mut d))
    });
    pieces.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
