//! Criterion benchmarks of the critical-batch-size sweep (issue 4, C7/C8).
//!
//! - `critical/sweep_small/<rule>`: an SFO sweep on the 10-d critical quadratic (SGD, η = 0.1,
//!   C² = 40): 11 batch sizes 2^0..2^10 × 8 seeds × up to 10⁴ steps at ε = 0.25, so that every
//!   run below b ≈ 1,400 is censored at the horizon — the worst case, per step, of the
//!   performance requirement (11 × 64 × 10⁵, timed through the CLI: see the report / BENCHMARKS).
//! - `critical/bootstrap_1000`: 1,000 bootstrap replicates of b* over 64 seeds × 13 b × 7 ε.
//! - `critical/probe`: the variance probe (16 trajectories × 1,000 steps, 12 checkpoints).
//!
//! Run: `cargo bench --bench critical`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use momentum_smoothing::experiments::critical::{
    self, critical_problem, ProbeConfig, StopRule, SweepConfig,
};
use momentum_smoothing::noise::NoiseLaw;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};

fn bench(c: &mut Criterion) {
    let problem = critical_problem(NoiseLaw::Gaussian { sigma: 2.0 }).expect("problem");
    let opt = Optimizer::new(OptimizerKind::Sgd, 0.1, 0.0, 0.0).expect("optimizer");
    let mut group = c.benchmark_group("critical");
    group.sample_size(10);
    for rule in StopRule::ALL {
        let cfg = SweepConfig {
            optimizer: opt,
            batches: (0..11).map(|k| 1usize << k).collect(),
            eps: vec![0.25],
            rule,
            warmup: 10,
            check_every: 1,
            max_steps: 10_000,
            seeds: 8,
            seed: 0,
        };
        let steps = critical::sweep(&problem, &cfg)
            .expect("sweep")
            .steps_simulated;
        group.throughput(Throughput::Elements(steps));
        group.bench_function(format!("sweep_small/{}", rule.name()), |b| {
            b.iter(|| black_box(critical::sweep(&problem, &cfg).expect("sweep")))
        });
    }
    let cfg = SweepConfig {
        optimizer: opt,
        batches: (0..13).map(|k| 1usize << k).collect(),
        eps: vec![0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0],
        rule: StopRule::RunningMean,
        warmup: 10,
        check_every: 1,
        max_steps: 2_000,
        seeds: 64,
        seed: 0,
    };
    let runs = critical::sweep(&problem, &cfg).expect("sweep");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("bootstrap_1000", |b| {
        b.iter(|| black_box(critical::bootstrap(&runs, 1000, 0)))
    });
    let pc = ProbeConfig::new(opt, 8, 1000, 0);
    group.throughput(Throughput::Elements((pc.seeds * pc.steps) as u64));
    group.bench_function("probe", |b| {
        b.iter(|| black_box(critical::probe(&problem, &pc).expect("probe")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
