//! Criterion benchmarks of the simulator's hot path.
//!
//! - `reference_workload_small`: the core engine's reference workload (SHB, η = 0.002, β = 0.9,
//!   b = 32, 100-d Rastrigin, σ = 1, ω measured every step) at 16 seeds × 1,000 steps, through
//!   the same `runner::run` that `mslab simulate` calls.
//! - `rastrigin_gradient_100d`, `gaussian_minibatch_100d`, `shb_direction_100d`: the pieces.
//! - `gradient/<file>`: ∇f of every landscape file in `landscapes/` at a fixed point.
//! - `noise/<law>`: one mini-batch gradient (b = 32, d = 100) of every noise law.
//! - `step/<optimizer>`: direction + update of every optimizer, d = 100.
//! - `instruments/every_<k>`: the reference workload with the instruments every k-th step
//!   (k = 1, 16, 256): the difference to k = 256 is what measuring costs.
//!
//! Run: `cargo bench --bench hot_path`. The full reference workload (1,000 seeds × 10,000 steps)
//! is timed through the CLI: see BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use momentum_smoothing::config::LandscapeFile;
use momentum_smoothing::landscape::{Landscape, Rastrigin};
use momentum_smoothing::noise::{NoiseLaw, NoiseScratch};
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::runner::{run, InitBox, Problem, RunConfig};

/// The reference run configuration (SHB, η = 0.002, β = 0.9, b = 32, 16 seeds × 1,000 steps),
/// instruments every `every`-th step.
fn reference_config(every: usize) -> RunConfig {
    RunConfig {
        optimizer: Optimizer::new(OptimizerKind::Shb, 0.002, 0.9, 0.0).expect("valid optimizer"),
        batch: 32,
        steps: 1000,
        burn_in: 0,
        seeds: 16,
        seed: 0,
        every,
    }
}

/// The 100-d Rastrigin landscape and a fixed point on it.
fn rastrigin_point() -> (Rastrigin, Vec<f64>) {
    let land = Rastrigin::new(100, 10.0).expect("valid rastrigin");
    let x = (0..100).map(|i| (i as f64 * 0.37).sin() * 4.0).collect();
    (land, x)
}

/// A shipped landscape file's problem and x_0 drawn from its own initial box.
fn file_problem(path: &std::path::Path) -> (Problem, Vec<f64>) {
    let problem = LandscapeFile::read(path)
        .and_then(|f| f.build())
        .expect("valid landscape file");
    let x = problem
        .init
        .sample(problem.landscape.dim(), &mut ChaCha8Rng::seed_from_u64(3));
    (problem, x)
}

/// One mini-batch gradient (b = 32) of `law` on `land` at `x` with true gradient `grad`.
fn bench_minibatch(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: impl Into<String>,
    law: &NoiseLaw,
    land: &dyn Landscape,
    x: &[f64],
    grad: &[f64],
) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut scratch = NoiseScratch::new(x.len());
    let mut out = vec![0.0; x.len()];
    group.bench_function(name.into(), |b| {
        b.iter(|| {
            law.sample_minibatch(
                land,
                x,
                black_box(grad),
                32,
                &mut rng,
                &mut scratch,
                &mut out,
            )
        })
    });
}

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
    let cfg = reference_config(1);
    let opt = cfg.optimizer;
    let mut group = c.benchmark_group("simulator");
    group.sample_size(10);
    group.throughput(Throughput::Elements((cfg.seeds * cfg.steps * 100) as u64));
    group.bench_function("reference_workload_small", |b| {
        b.iter(|| black_box(run(&problem, &cfg, None).expect("run")))
    });
    group.finish();

    let (land, x) = rastrigin_point();
    let mut g = vec![0.0; 100];
    let mut pieces = c.benchmark_group("pieces");
    pieces.throughput(Throughput::Elements(100));
    pieces.bench_function("rastrigin_gradient_100d", |b| {
        b.iter(|| land.gradient(black_box(&x), &mut g))
    });
    let grad = g.clone();
    bench_minibatch(
        &mut pieces,
        "gaussian_minibatch_100d",
        &NoiseLaw::Gaussian { sigma: 1.0 },
        &land,
        &x,
        &grad,
    );
    let mut m = vec![0.0; 100];
    let mut d = vec![0.0; 100];
    pieces.bench_function("shb_direction_100d", |b| {
        b.iter(|| opt.direction(black_box(&grad), &mut m, &mut d))
    });
    pieces.finish();
}

/// ∇f of every landscape file shipped in `landscapes/`, at x_0 drawn from its own initial box.
fn bench_landscapes(c: &mut Criterion) {
    let mut group = c.benchmark_group("gradient");
    let mut files: Vec<_> = std::fs::read_dir("landscapes")
        .expect("landscapes/ (run from the repository root)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for path in files {
        let (problem, x) = file_problem(&path);
        let d = problem.landscape.dim();
        let mut g = vec![0.0; d];
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        group.throughput(Throughput::Elements(d as u64));
        group.bench_function(name.unwrap_or_default(), |b| {
            b.iter(|| problem.landscape.gradient(black_box(&x), &mut g))
        });
    }
    group.finish();
}

/// One mini-batch gradient of every noise law (b = 32) on the 100-d Rastrigin; the finite-sum
/// law on the teacher–student landscape file.
fn bench_noise(c: &mut Criterion) {
    let (land, x) = rastrigin_point();
    let mut grad = vec![0.0; 100];
    land.gradient(&x, &mut grad);
    let rotation = momentum_smoothing::linalg::random_orthogonal(100, 7);
    let laws = [
        NoiseLaw::Gaussian { sigma: 1.0 },
        NoiseLaw::Anisotropic {
            std_devs: (1..=100).map(|i| 1.0 / (i as f64).sqrt()).collect(),
            rotation: None,
            rotation_seed: None,
        },
        NoiseLaw::Anisotropic {
            std_devs: (1..=100).map(|i| 1.0 / (i as f64).sqrt()).collect(),
            rotation: Some(rotation),
            rotation_seed: Some(7),
        },
        NoiseLaw::StudentT {
            sigma: 1.0,
            dof: 4.0,
        },
        NoiseLaw::Multiplicative {
            sigma: 1.0,
            alpha: 0.5,
        },
    ];
    let mut group = c.benchmark_group("noise");
    group.throughput(Throughput::Elements(100));
    for law in &laws {
        let name = match law {
            NoiseLaw::Anisotropic {
                rotation: Some(_), ..
            } => "anisotropic_rotated".to_string(),
            other => other.name().to_string(),
        };
        bench_minibatch(&mut group, name, law, &land, &x, &grad);
    }
    let (ts, x) = file_problem(std::path::Path::new("landscapes/teacher-student.toml"));
    let d = ts.landscape.dim();
    let mut grad = vec![0.0; d];
    ts.landscape.gradient(&x, &mut grad);
    group.throughput(Throughput::Elements(d as u64));
    bench_minibatch(
        &mut group,
        "finite_sum_teacher_student",
        &ts.noise,
        ts.landscape.as_ref(),
        &x,
        &grad,
    );
    group.finish();
}

/// Direction and update of every optimizer, d = 100.
fn bench_optimizers(c: &mut Criterion) {
    let g: Vec<f64> = (0..100).map(|i| (i as f64 * 0.11).cos()).collect();
    let mut group = c.benchmark_group("step");
    group.throughput(Throughput::Elements(100));
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Shb,
        OptimizerKind::Nshb,
        OptimizerKind::Qhm,
        OptimizerKind::Nesterov,
    ] {
        let opt = Optimizer::new(kind, 0.01, 0.9, 0.7).expect("valid optimizer");
        let (mut x, mut m, mut d) = (vec![0.5; 100], vec![0.0; 100], vec![0.0; 100]);
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                opt.direction(black_box(&g), &mut m, &mut d);
                opt.apply(&mut x, &d);
            })
        });
    }
    group.finish();
}

/// The reference workload (16 seeds × 1,000 steps) with the instruments every k-th step.
fn bench_instruments(c: &mut Criterion) {
    let problem = reference_problem();
    let mut group = c.benchmark_group("instruments");
    group.sample_size(10);
    group.throughput(Throughput::Elements(16 * 1000 * 100));
    for every in [1usize, 16, 256] {
        let cfg = reference_config(every);
        group.bench_function(format!("every_{every}"), |b| {
            b.iter(|| black_box(run(&problem, &cfg, None).expect("run")))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench,
    bench_landscapes,
    bench_noise,
    bench_optimizers,
    bench_instruments
);
criterion_main!(benches);
