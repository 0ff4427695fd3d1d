//! `mslab train`: train a real network with libtorch (feature `torch`) and measure the
//! search-direction noise ω at the pre-update iterate every k steps.

use std::path::PathBuf;

use clap::Args;

use super::Failure;
use momentum_smoothing::experiments::critical::StopRule;
use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
use momentum_smoothing::torch::data::DatasetKind;
use momentum_smoothing::torch::device::DeviceSpec;
use momentum_smoothing::torch::instruments::MeasureConfig;
use momentum_smoothing::torch::models::{ModelKind, Norm};
use momentum_smoothing::torch::train::{run_with_stop, StopConfig, TrainConfig};

/// Arguments of `mslab train`.
#[derive(Args)]
#[command(after_help = "Example:
  mslab train --dataset fashion-mnist --data ~/.cache/momentum-smoothing/data/fashion-mnist \\
        --model resnet18 --norm batch --optimizer shb --lr 0.1 --beta 0.9 --batch 128 \\
        --epochs 10 --seed 1 --device cuda --measure-every 100 --out runs/fm-r18-shb

Writes OUT/summary.json (provenance with device name, CUDA and libtorch versions; timings),
OUT/series.csv (one row per measurement: K, ‖ω‖, angle, bias and random parts, C², B_simple,
normality statistics, δ_emp and predicted δ), OUT/epochs.csv, OUT/model.pt, and a checkpoint
at every epoch end. Rerunning the same command (possibly with a larger --epochs) resumes.
CUDA requested but unavailable is an error (exit 2), never a fall-back to the CPU.")]
pub struct TrainArgs {
    /// mnist, fashion-mnist, cifar10, cifar100 or synthetic (seeded 3×32×32, no files).
    #[arg(long, default_value = "fashion-mnist")]
    dataset: String,
    /// Folder of the data files (idx files for (fashion-)mnist, binary batches for CIFAR).
    #[arg(long, default_value = ".")]
    data: PathBuf,
    /// mlp, cnn or resnet18 (CIFAR stem).
    #[arg(long, default_value = "resnet18")]
    model: String,
    /// batch, group or none.
    #[arg(long, default_value = "batch")]
    norm: String,
    /// sgd, shb, nshb, qhm or nesterov.
    #[arg(long, default_value = "shb")]
    optimizer: String,
    /// Learning rate η.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Momentum β.
    #[arg(long, default_value_t = 0.9)]
    beta: f64,
    /// QHM's ν.
    #[arg(long, default_value_t = 0.7)]
    nu: f64,
    /// Batch size b.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Epochs.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Measure every k steps (0: never). Default: ⌈30 (subset + M·b_μ)/b⌉ (k = 1080 at b = 128
    /// with the default subset 4096 and 16 × 32 micro-batches), which keeps the instruments
    /// under 4% of the training time (measured: 0.34 s per measurement ≈ 40 steps on an H100).
    #[arg(long, conflicts_with = "measure_every_examples")]
    measure_every: Option<usize>,
    /// Measure every ⌈E/b⌉ steps (about every E training examples whatever the batch size;
    /// for sweeps with the batch size in the grid).
    #[arg(long)]
    measure_every_examples: Option<usize>,
    /// Measurement subset: the first n training examples (0: all).
    #[arg(long, default_value_t = 4096)]
    measure_subset: usize,
    /// Micro-batches for C² and the projections.
    #[arg(long, default_value_t = 16)]
    micro_batches: usize,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 32)]
    micro_size: usize,
    /// Instrument groups: all (full gradient + micro-batch noise: C², B_simple, normality,
    /// predicted δ) or gradient (full gradient only: K, ω, angle, bias/random parts, δ_emp).
    #[arg(long, default_value = "all")]
    instruments: String,
    /// Examples per forward pass in measurement and test passes.
    #[arg(long, default_value_t = 1000)]
    eval_chunk: usize,
    /// Random crop (pad 4) and horizontal flip on training batches.
    #[arg(long)]
    augment: bool,
    /// Use only the first n training examples (0: all).
    #[arg(long, default_value_t = 0)]
    limit_train: usize,
    /// Stop after this many steps in total (0: no limit).
    #[arg(long, default_value_t = 0)]
    max_steps: usize,
    /// Steps left out of the throughput figure at the start (warm-up).
    #[arg(long, default_value_t = 10)]
    warmup_steps: usize,
    /// Stop rules (critical batch size): thresholds ε > 0, comma-separated. Training ends at
    /// the end of the epoch in which every rule has reached the smallest ε (or at --epochs:
    /// the ε not reached are censored); summary.json gets a `critical` object.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    stop_eps: Vec<f64>,
    /// running-mean (the authors': mean of ‖g_s‖ since step 0 ≤ ε), full-gradient
    /// (‖∇f(x_t)‖ on the measurement subset ≤ ε, every --stop-check-every steps) or both
    /// [default with --stop-eps: both].
    #[arg(long)]
    stop_rule: Option<String>,
    /// Check the stop rules from this epoch on (the authors: 10).
    #[arg(long, default_value_t = 0)]
    stop_min_epochs: usize,
    /// Full-gradient rule: check every k steps (0: once per epoch). Each check costs a
    /// forward/backward pass over the measurement subset.
    #[arg(long, default_value_t = 0)]
    stop_check_every: usize,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(a: TrainArgs) -> Result<(), Failure> {
    let kind = OptimizerKind::parse(&a.optimizer)?;
    let beta = if kind == OptimizerKind::Sgd {
        0.0
    } else {
        a.beta
    };
    let noise = match a.instruments.as_str() {
        "all" => true,
        "gradient" => false,
        other => {
            return Err(
                momentum_smoothing::Error::invalid("instruments", other, "all or gradient").into(),
            )
        }
    };
    let measure = MeasureConfig {
        noise,
        subset: a.measure_subset,
        chunk: a.eval_chunk,
        micro_batches: a.micro_batches,
        micro_size: a.micro_size,
        ..MeasureConfig::default()
    };
    let dataset = DatasetKind::parse(&a.dataset)?;
    let cfg = TrainConfig {
        dataset,
        data_dir: a.data,
        model: ModelKind::parse(&a.model)?,
        norm: Norm::parse(&a.norm)?,
        optimizer: Optimizer::new(kind, a.lr, beta, a.nu)?,
        batch: a.batch,
        epochs: a.epochs,
        seed: a.seed,
        device: DeviceSpec::parse(&a.device)?,
        measure_every: match a.measure_every_examples {
            Some(0) => {
                return Err(momentum_smoothing::Error::invalid(
                    "measure-every-examples",
                    0,
                    "an integer ≥ 1 (--measure-every 0 turns measurement off)",
                )
                .into())
            }
            Some(e) => Some(e.div_ceil(a.batch.max(1))),
            None => a.measure_every,
        },
        measure,
        augment: a.augment,
        limit_train: a.limit_train,
        max_steps: a.max_steps,
        warmup_steps: a.warmup_steps,
        out: a.out,
        progress: !a.quiet,
    };
    let stop = stop_config(
        &a.stop_eps,
        a.stop_rule.as_deref(),
        a.stop_min_epochs,
        a.stop_check_every,
    )?;
    let o = run_with_stop(&cfg, stop.as_ref())?;
    let s = &o.summary;
    println!(
        "{}: {} steps on {} ({}), {:.0} images/s, measurement overhead {:.1}%",
        cfg.out.display(),
        s.steps,
        s.device.device,
        s.device.name,
        s.timing.train_images_per_s,
        100.0 * s.timing.measure_overhead
    );
    if let Some(c) = &s.critical {
        for h in &c.hits {
            println!(
                "stop {} ε = {}: {}",
                h.rule.name(),
                h.eps,
                match (h.step, h.sfo) {
                    (Some(t), Some(n)) => format!("T = {t}, SFO = {n}"),
                    _ => "censored".into(),
                }
            );
        }
    }
    if let Some(e) = &s.final_epoch {
        println!(
            "epoch {}: train loss {:.4} acc {:.4}; test loss {:.4} acc {:.4}",
            e.epoch, e.train_loss, e.train_acc, e.test_loss, e.test_acc
        );
    }
    Ok(())
}

/// Parse a stop rule name: running-mean, full-gradient or both.
pub fn parse_rules(s: &str) -> Result<Vec<StopRule>, momentum_smoothing::Error> {
    if s == "both" {
        return Ok(StopRule::ALL.to_vec());
    }
    StopRule::parse(s).map(|r| vec![r]).map_err(|_| {
        momentum_smoothing::Error::invalid("stop-rule", s, "running-mean, full-gradient or both")
    })
}

/// The stop options of `mslab train` (`None` without --stop-eps; the other stop flags then
/// must keep their defaults).
pub fn stop_config(
    eps: &[f64],
    rule: Option<&str>,
    min_epochs: usize,
    check_every: usize,
) -> Result<Option<StopConfig>, momentum_smoothing::Error> {
    let rules = parse_rules(rule.unwrap_or("both"))?;
    if eps.is_empty() {
        if rule.is_some() || min_epochs != 0 || check_every != 0 {
            return Err(momentum_smoothing::Error::invalid(
                "stop-eps",
                "(none)",
                "thresholds ε > 0 whenever --stop-rule, --stop-min-epochs or --stop-check-every \
                 is given",
            ));
        }
        return Ok(None);
    }
    let c = StopConfig {
        eps: eps.to_vec(),
        rules,
        min_epochs,
        check_every,
    };
    c.validate()?;
    Ok(Some(c))
}
