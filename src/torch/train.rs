//! The training loop behind `mslab train`: seeded, measured every k steps at the pre-update
//! iterate, checkpointed at every epoch end and resumable.
//!
//! Determinism: libtorch's generator is seeded once (`tch::manual_seed(seed)`) and used only to
//! initialise the network; batch order, augmentation and measurement draws come from ChaCha
//! streams keyed by (seed, epoch) or (seed, step) ([`super::data::rng_for`]). So on the CPU the
//! same configuration gives the same bits, with or without measurement, and a run resumed from
//! an epoch checkpoint ends with the same parameters as an uninterrupted one.
//!
//! Output folder:
//! - `summary.json`: provenance (device name, CUDA runtime, libtorch version), configuration,
//!   final metrics, timings (training images/s, measurement overhead).
//! - `series.csv`: one row per measurement ([`Measurement`]).
//! - `epochs.csv`: per-epoch train loss/accuracy (running, train mode) and test loss/accuracy
//!   (eval mode).
//! - `checkpoint.pt` + `checkpoint.json`: parameters, BatchNorm buffers, momentum buffers and the
//!   rows so far, written atomically at each epoch end.
//! - `model.pt`: the final parameters (VarStore format).
//! - with stop rules ([`StopConfig`], `--stop-eps`): a `critical` object in `summary.json`
//!   ([`CriticalSummary`]), `gnorm.csv` (running-mean rule: step t, ‖g_t‖, running mean of
//!   ‖g_0‖ … ‖g_t‖) and `fgnorm.csv` (full-gradient rule: step t, ‖∇f(x_t)‖ on the measurement
//!   subset).
//!
//! **Stop rules** (critical batch size, theory.md §5). `running-mean` (the authors'): the mean
//! since step 0 of the mini-batch gradient norms ‖g_s‖, s ≤ t, is ≤ ε; it fires at the first
//! such t ≥ `min_epochs`·(steps per epoch) and T = t + 1 mini-batch gradients were used. ‖g_t‖
//! is computed on the device every step into a per-epoch buffer (no host synchronisation per
//! step), read back at the epoch's end, where the hits are found. `full-gradient`: ‖∇f(x_t)‖
//! over the measurement subset, in eval mode with the BatchNorm buffers restored (the
//! instruments' full gradient; at a measured step the measurement's K), checked at
//! t ≡ 0 (mod `check_every`), t past the same warm-up; T = t. One trajectory serves every ε;
//! training ends at the end of the epoch in which every rule has reached the smallest ε, or at
//! `epochs` (the ε not reached are **censored**). Neither rule changes the trajectory (tested).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

use super::data::{augment, epoch_batches, Dataset, DatasetKind};
use super::device::{DeviceInfo, DeviceSpec};
use super::instruments::{
    full_gradient_norm, measure, nan_if_null, MeasureConfig, Measurement, Projections, StepState,
};
use super::models::{build, seeded, ModelKind, Norm};
use super::optim::{flatten, flatten_parameters, TensorOptimizer};
use crate::error::{Error, Result};
use crate::experiments::critical::StopRule;
use crate::optimizer::Optimizer;
use crate::output::{write_csv, write_json, Provenance};

/// Everything that defines a training run.
#[derive(Debug, Clone, Serialize)]
pub struct TrainConfig {
    /// Dataset.
    pub dataset: DatasetKind,
    /// Folder of the data files (unused for `synthetic`).
    pub data_dir: PathBuf,
    /// Network.
    pub model: ModelKind,
    /// Normalisation layers.
    pub norm: Norm,
    /// Update rule and η, β, ν.
    pub optimizer: Optimizer,
    /// Batch size b.
    pub batch: usize,
    /// Epochs (a resumed run may raise it).
    pub epochs: usize,
    /// Seed of everything.
    pub seed: u64,
    /// Device.
    pub device: DeviceSpec,
    /// Measure every k steps (Some(0) = never, None = [`auto_measure_every`]).
    pub measure_every: Option<usize>,
    /// Instrument settings.
    pub measure: MeasureConfig,
    /// Random crop + flip on training batches.
    pub augment: bool,
    /// Use only the first n training examples (0 = all).
    pub limit_train: usize,
    /// Stop after this many steps in total (0 = no limit); for benchmarks.
    pub max_steps: usize,
    /// Steps at the start of this invocation left out of the throughput figure (warm-up).
    pub warmup_steps: usize,
    /// Output folder.
    pub out: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
}

/// The measurement interval that keeps the instruments under 4% of training time: one
/// measurement costs about `subset + micro_batches·micro_size` example gradients, a step `batch`,
/// so k = ⌈30 (subset + M b_μ) / b⌉. Measured on an H100 (ResNet-18, b = 128; BENCHMARKS.md
/// § GPU): one measurement with the default settings takes 0.34 s ≈ 40 steps of 8.3 ms, i.e.
/// 1.1 × (subset + M b_μ)/b steps, so this k costs ≈ 1.1/30 ≈ 3.7% in steady state (the first
/// measurement of a run also pays cuDNN's set-up of the eval-mode shapes).
pub fn auto_measure_every(m: &MeasureConfig, n_train: usize, batch: usize) -> usize {
    let micro = if m.noise {
        m.micro_batches * m.micro_size
    } else {
        0
    };
    let cost = m.subset_size(n_train) + micro;
    (30 * cost).div_ceil(batch.max(1)).max(1)
}

impl TrainConfig {
    /// Check the values that do not depend on the data.
    pub fn validate(&self) -> Result<()> {
        if self.batch == 0 {
            return Err(Error::invalid("batch", 0, "an integer ≥ 1"));
        }
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", 0, "an integer ≥ 1"));
        }
        Ok(())
    }

    /// The parts a checkpoint must agree on (everything but epochs, max_steps, device,
    /// progress and the output folder).
    fn identity(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            for k in [
                "epochs",
                "max_steps",
                "device",
                "progress",
                "out",
                "warmup_steps",
            ] {
                o.remove(k);
            }
        }
        v
    }
}

/// Per-epoch metrics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochRow {
    /// Epoch (0-based).
    pub epoch: u64,
    /// Steps done at the end of the epoch.
    pub steps: u64,
    /// Mean training loss over the epoch's batches (train mode, before each update).
    #[serde(deserialize_with = "nan_if_null")]
    pub train_loss: f64,
    /// Training accuracy over the epoch's batches.
    #[serde(deserialize_with = "nan_if_null")]
    pub train_acc: f64,
    /// Test loss (eval mode).
    #[serde(deserialize_with = "nan_if_null")]
    pub test_loss: f64,
    /// Test accuracy.
    #[serde(deserialize_with = "nan_if_null")]
    pub test_acc: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointMeta {
    identity: serde_json::Value,
    epochs_done: u64,
    step: u64,
    series: Vec<Measurement>,
    epochs: Vec<EpochRow>,
    train_seconds: f64,
    measure_seconds: f64,
    train_images: u64,
    #[serde(default)]
    stop_seconds: f64,
    /// Stop-rule state (the norms themselves are `stop.*` tensors in checkpoint.pt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stop: Option<StopMeta>,
}

/// Stopping rules of a critical-batch study (`mslab train --stop-eps`; module docs).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StopConfig {
    /// Thresholds ε > 0.
    pub eps: Vec<f64>,
    /// Rules, each checked at every ε.
    pub rules: Vec<StopRule>,
    /// Rules are checked from the first step of this epoch on (the authors: 10).
    pub min_epochs: usize,
    /// The full-gradient rule is checked every k steps (0: once per epoch, k = steps per epoch).
    pub check_every: usize,
}

impl StopConfig {
    /// Check the values; errors name the flag.
    pub fn validate(&self) -> Result<()> {
        if self.eps.is_empty() {
            return Err(Error::invalid(
                "stop-eps",
                "(none)",
                "one or more numbers > 0",
            ));
        }
        if let Some(e) = self.eps.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
            return Err(Error::invalid("stop-eps", e, "finite numbers > 0"));
        }
        if self.rules.is_empty() {
            return Err(Error::invalid(
                "stop-rule",
                "(none)",
                "running-mean, full-gradient or both",
            ));
        }
        Ok(())
    }

    fn has(&self, r: StopRule) -> bool {
        self.rules.contains(&r)
    }
}

/// One (rule, ε) result of a run with stop rules (`summary.json` → `critical.hits`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StopHit {
    /// `running-mean` or `full-gradient`.
    pub rule: StopRule,
    /// ε.
    pub eps: f64,
    /// T (module docs); `None` when censored.
    pub step: Option<u64>,
    /// Epoch (0-based) in which the rule fired.
    pub epoch: Option<u64>,
    /// SFO = b·T.
    pub sfo: Option<u64>,
    /// ε not reached before the run ended.
    pub censored: bool,
}

/// `summary.json` → `critical`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CriticalSummary {
    /// Rules checked.
    pub rules: Vec<StopRule>,
    /// Thresholds.
    pub eps: Vec<f64>,
    /// First epoch checked.
    pub min_epochs: usize,
    /// Full-gradient check interval as given (0: once per epoch).
    pub check_every: usize,
    /// The interval in steps (steps per epoch where `check_every` is 0).
    pub check_every_steps: u64,
    /// Every rule reached the smallest ε before `epochs` (training stopped there).
    pub stopped_early: bool,
    /// Per (rule, ε), rules in the order given, ε in the order given.
    pub hits: Vec<StopHit>,
}

/// What the checkpoint keeps of the stop rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StopMeta {
    /// The [`StopConfig`] as JSON (must match on resume).
    config: serde_json::Value,
    /// `hits[r][e]` = (T, epoch).
    hits: Vec<Vec<Option<(u64, u64)>>>,
    /// Steps of the full-gradient checks (norms: `stop.fg` in checkpoint.pt).
    fg_steps: Vec<u64>,
}

/// The stop rules' running state.
struct StopTracker {
    cfg: StopConfig,
    check_every: u64,
    min_step: u64,
    /// ‖g_t‖ for every step so far (running-mean rule).
    gnorms: Vec<f32>,
    /// Σ ‖g_s‖ in f64, in step order.
    running_sum: f64,
    /// (t, ‖∇f(x_t)‖) of every full-gradient check.
    fg: Vec<(u64, f64)>,
    hits: Vec<Vec<Option<(u64, u64)>>>,
}

impl StopTracker {
    fn new(cfg: &StopConfig, steps_per_epoch: u64) -> Self {
        let check_every = if cfg.check_every == 0 {
            steps_per_epoch.max(1)
        } else {
            cfg.check_every as u64
        };
        Self {
            cfg: cfg.clone(),
            check_every,
            min_step: cfg.min_epochs as u64 * steps_per_epoch,
            gnorms: Vec::new(),
            running_sum: 0.0,
            fg: Vec::new(),
            hits: vec![vec![None; cfg.eps.len()]; cfg.rules.len()],
        }
    }

    fn rule_index(&self, r: StopRule) -> Option<usize> {
        self.cfg.rules.iter().position(|&x| x == r)
    }

    fn mark(&mut self, r: usize, value: f64, t: u64, epoch: u64) {
        for (e, &eps) in self.cfg.eps.iter().enumerate() {
            if self.hits[r][e].is_none() && value <= eps {
                self.hits[r][e] = Some((t, epoch));
            }
        }
    }

    /// The ‖g_t‖ of one epoch's steps `first`, `first` + 1, ….
    fn push_gnorms(&mut self, first: u64, epoch: u64, vals: &[f32]) {
        let r = self.rule_index(StopRule::RunningMean);
        for (k, &v) in vals.iter().enumerate() {
            let t = first + k as u64;
            self.gnorms.push(v);
            self.running_sum += f64::from(v);
            if let (Some(r), true) = (r, t >= self.min_step) {
                let mean = self.running_sum / (t + 1) as f64;
                self.mark(r, mean, t + 1, epoch);
            }
        }
    }

    fn wants_check(&self, t: u64) -> bool {
        self.cfg.has(StopRule::FullGradient)
            && t >= self.min_step
            && t.is_multiple_of(self.check_every)
    }

    fn push_fg(&mut self, t: u64, epoch: u64, k: f64) {
        self.fg.push((t, k));
        if let Some(r) = self.rule_index(StopRule::FullGradient) {
            self.mark(r, k, t, epoch);
        }
    }

    /// Every rule has reached every ε (so the smallest).
    fn done(&self) -> bool {
        self.hits.iter().flatten().all(Option::is_some)
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or(serde_json::Value::Null)
    }

    fn meta(&self) -> StopMeta {
        StopMeta {
            config: self.config_json(),
            hits: self.hits.clone(),
            fg_steps: self.fg.iter().map(|p| p.0).collect(),
        }
    }

    /// Tensors for checkpoint.pt.
    fn tensors(&self) -> Vec<(String, Tensor)> {
        let fg: Vec<f64> = self.fg.iter().map(|p| p.1).collect();
        vec![
            ("stop.gnorm".into(), Tensor::from_slice(&self.gnorms)),
            ("stop.fg".into(), Tensor::from_slice(&fg)),
        ]
    }

    /// Restore from a checkpoint: its meta and `stop.*` tensors.
    fn restore(
        &mut self,
        meta: Option<&StopMeta>,
        map: &HashMap<String, Tensor>,
        steps: u64,
        out: &Path,
    ) -> Result<()> {
        let refuse = || {
            Error::invalid(
                "stop-eps",
                out.display(),
                "the stop options (--stop-eps, --stop-rule, --stop-min-epochs, \
                 --stop-check-every) the checkpoint in this folder was written with, or a new \
                 folder",
            )
        };
        let m = meta.ok_or_else(refuse)?;
        if m.config != self.config_json() || m.hits.len() != self.hits.len() {
            return Err(refuse());
        }
        let pt = out.join("checkpoint.pt");
        let get = |k: &str| {
            map.get(k)
                .ok_or_else(|| Error::file(&pt, format!("{k} missing")))
                .map(|t| t.to_device(Device::Cpu))
        };
        let g: Vec<f32> = Vec::try_from(get("stop.gnorm")?).map_err(|e| Error::file(&pt, e))?;
        let fg: Vec<f64> = Vec::try_from(get("stop.fg")?).map_err(|e| Error::file(&pt, e))?;
        let rm = self.cfg.has(StopRule::RunningMean);
        if (rm && g.len() as u64 != steps) || fg.len() != m.fg_steps.len() {
            return Err(Error::file(
                &pt,
                "stop-rule state does not match the step count",
            ));
        }
        self.running_sum = 0.0;
        for &v in &g {
            self.running_sum += f64::from(v);
        }
        self.gnorms = g;
        self.fg = m.fg_steps.iter().copied().zip(fg).collect();
        self.hits = m.hits.clone();
        Ok(())
    }

    fn summary(&self, batch: usize) -> CriticalSummary {
        let mut hits = Vec::new();
        for (r, &rule) in self.cfg.rules.iter().enumerate() {
            for (e, &eps) in self.cfg.eps.iter().enumerate() {
                let h = self.hits[r][e];
                hits.push(StopHit {
                    rule,
                    eps,
                    step: h.map(|p| p.0),
                    epoch: h.map(|p| p.1),
                    sfo: h.map(|p| p.0 * batch as u64),
                    censored: h.is_none(),
                });
            }
        }
        CriticalSummary {
            rules: self.cfg.rules.clone(),
            eps: self.cfg.eps.clone(),
            min_epochs: self.cfg.min_epochs,
            check_every: self.cfg.check_every,
            check_every_steps: self.check_every,
            stopped_early: self.done(),
            hits,
        }
    }

    fn write_files(&self, out: &Path, steps_per_epoch: u64) -> Result<()> {
        let spe = steps_per_epoch.max(1);
        if self.cfg.has(StopRule::RunningMean) {
            let mut sum = 0.0f64;
            let rows: Vec<Vec<String>> = self
                .gnorms
                .iter()
                .enumerate()
                .map(|(t, &v)| {
                    sum += f64::from(v);
                    vec![
                        t.to_string(),
                        (t as u64 / spe).to_string(),
                        v.to_string(),
                        format!("{:e}", sum / (t + 1) as f64),
                    ]
                })
                .collect();
            write_csv(
                &out.join("gnorm.csv"),
                &["step", "epoch", "g_norm", "running_mean"],
                rows,
            )?;
        }
        if self.cfg.has(StopRule::FullGradient) {
            write_csv(
                &out.join("fgnorm.csv"),
                &["step", "epoch", "full_grad_norm"],
                self.fg
                    .iter()
                    .map(|&(t, k)| vec![t.to_string(), (t / spe).to_string(), format!("{k:e}")]),
            )?;
        }
        Ok(())
    }
}

/// Timings of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Seconds in training steps (forward, backward, update), measurement excluded.
    pub train_seconds: f64,
    /// Seconds in measurements.
    pub measure_seconds: f64,
    /// Images processed by training steps.
    pub train_images: u64,
    /// train_images / train_seconds.
    pub train_images_per_s: f64,
    /// measure_seconds / train_seconds.
    pub measure_overhead: f64,
    /// Seconds in the full-gradient stop checks that were not measurements.
    pub stop_check_seconds: f64,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// Provenance.
    pub provenance: Provenance,
    /// Device, CUDA and libtorch versions.
    pub device: DeviceInfo,
    /// Configuration.
    pub config: TrainConfig,
    /// Number of trainable parameters.
    pub parameters: i64,
    /// Training examples used, test examples.
    pub n_train: usize,
    /// Test examples.
    pub n_test: usize,
    /// Measurement subset size.
    pub measure_subset: usize,
    /// The measurement interval used (0 = none).
    pub measure_every: usize,
    /// Steps done.
    pub steps: u64,
    /// Whether the run resumed from a checkpoint.
    pub resumed_from_epoch: Option<u64>,
    /// Last epoch's metrics.
    pub final_epoch: Option<EpochRow>,
    /// Mean of δ_emp = η‖ω_t‖ over the measurements (η E‖ω‖).
    pub delta_emp_mean: Option<f64>,
    /// Timings.
    pub timing: Timing,
    /// Stop rules and their hits (runs with `--stop-eps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical: Option<CriticalSummary>,
}

/// What [`run`] returns (also written to disk).
pub struct TrainOutcome {
    /// The summary.
    pub summary: TrainSummary,
    /// Final trainable parameters, flat, on the CPU.
    pub params: Tensor,
    /// Final non-trainable buffers (BatchNorm statistics), flat, on the CPU (empty if none).
    pub buffers: Tensor,
    /// The measurement rows.
    pub series: Vec<Measurement>,
    /// The epoch rows.
    pub epochs: Vec<EpochRow>,
}

/// A write that failed (exit code 1).
fn write_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Failed(format!("cannot write {}: {e}", path.display()))
}

/// Trainable parameters in creation order and the other variables (buffers) sorted by name.
fn split_vars(vs: &nn::VarStore) -> (Vec<Tensor>, Vec<(String, Tensor)>) {
    let params = vs.trainable_variables();
    let mut all: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let buffers = all
        .into_iter()
        .filter(|(_, t)| !t.requires_grad())
        .collect();
    (params, buffers)
}

fn flat_or_empty(ts: &[Tensor]) -> Tensor {
    if ts.is_empty() {
        Tensor::zeros([0], (Kind::Float, Device::Cpu))
    } else {
        flatten(ts).to_device(Device::Cpu)
    }
}

fn evaluate(model: &dyn ModuleT, x: &Tensor, y: &Tensor, chunk: usize) -> (f64, f64) {
    let n = y.size()[0];
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    tch::no_grad(|| {
        let mut loss = Tensor::zeros([], (Kind::Double, y.device()));
        let mut correct = Tensor::zeros([], (Kind::Int64, y.device()));
        let mut s = 0;
        while s < n {
            let len = (chunk as i64).min(n - s);
            let logits = model.forward_t(&x.narrow(0, s, len), false);
            let ys = y.narrow(0, s, len);
            loss += logits
                .cross_entropy_loss::<Tensor>(&ys, None, tch::Reduction::Sum, -100, 0.0)
                .to_kind(Kind::Double);
            correct += logits.argmax(1, false).eq_tensor(&ys).sum(Kind::Int64);
            s += len;
        }
        (
            loss.double_value(&[]) / n as f64,
            correct.int64_value(&[]) as f64 / n as f64,
        )
    })
}

/// `Tensor::save_multi` to a temporary name in the same folder, then rename.
fn save_named(path: &Path, named: &[(String, Tensor)]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    Tensor::save_multi(named, &tmp).map_err(|e| write_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| write_err(path, e))
}

fn save_checkpoint(
    out: &Path,
    vs: &nn::VarStore,
    opt: &TensorOptimizer,
    meta: &CheckpointMeta,
    extra: Vec<(String, Tensor)>,
) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, v)| (format!("model.{k}"), v.copy()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    // Copies: parameters and momentum buffers are views of flat tensors, and a saved view
    // would drag its whole storage into the file.
    for (i, m) in opt.momentum().iter().enumerate() {
        named.push((format!("opt.m.{i}"), m.copy()));
    }
    named.extend(extra);
    save_named(&out.join("checkpoint.pt"), &named)?;
    write_json(&out.join("checkpoint.json"), meta)
}

fn load_checkpoint(
    out: &Path,
    vs: &nn::VarStore,
    opt: &mut TensorOptimizer,
    identity: &serde_json::Value,
) -> Result<Option<(CheckpointMeta, HashMap<String, Tensor>)>> {
    let js = out.join("checkpoint.json");
    if !js.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&js).map_err(|e| Error::file(&js, e))?;
    let meta: CheckpointMeta =
        serde_json::from_str(&text).map_err(|e| Error::file(&js, format!("cannot parse: {e}")))?;
    if &meta.identity != identity {
        return Err(Error::invalid(
            "out",
            out.display(),
            "a new folder, or one whose checkpoint has the same configuration (only --epochs, \
             --max-steps and --device may change on resume)",
        ));
    }
    let pt = out.join("checkpoint.pt");
    let loaded =
        Tensor::load_multi_with_device(&pt, vs.device()).map_err(|e| Error::file(&pt, e))?;
    let map: HashMap<String, Tensor> = loaded.into_iter().collect();
    let vars = vs.variables();
    tch::no_grad(|| -> Result<()> {
        for (k, v) in &vars {
            let src = map
                .get(&format!("model.{k}"))
                .ok_or_else(|| Error::file(&pt, format!("variable {k} missing")))?;
            let mut v = v.shallow_clone();
            v.copy_(src);
        }
        let mut ms = Vec::new();
        for i in 0..opt.momentum().len() {
            ms.push(
                map.get(&format!("opt.m.{i}"))
                    .ok_or_else(|| Error::file(&pt, format!("momentum buffer {i} missing")))?
                    .shallow_clone(),
            );
        }
        opt.set_momentum(&ms);
        Ok(())
    })?;
    Ok(Some((meta, map)))
}

fn sync(device: Device) {
    if let Device::Cuda(n) = device {
        tch::Cuda::synchronize(n as i64);
    }
}

fn write_series(path: &Path, rows: &[Measurement]) -> Result<()> {
    let keys: Vec<String> = rows
        .first()
        .map(|r| {
            r.delta_pred
                .iter()
                .map(|(k, _)| format!("delta_pred_{k}"))
                .collect()
        })
        .unwrap_or_default();
    let mut header: Vec<&str> = vec![
        "step",
        "epoch",
        "lr",
        "batch",
        "full_loss",
        "k",
        "g_norm",
        "d_norm",
        "omega_norm",
        "cos_angle",
        "angle_deg",
        "bias_norm",
        "random_norm",
        "c2",
        "g2_simple",
        "trsigma_simple",
        "b_simple",
        "omega_skew",
        "omega_exkurt",
        "proj_skew",
        "proj_exkurt",
        "proj_n",
        "delta_emp",
        "seconds",
    ];
    header.extend(keys.iter().map(|s| s.as_str()));
    let rows = rows.iter().map(|r| {
        let mut v = vec![
            r.step.to_string(),
            r.epoch.to_string(),
            r.lr.to_string(),
            r.batch.to_string(),
        ];
        v.extend(
            [
                r.full_loss,
                r.k,
                r.g_norm,
                r.d_norm,
                r.omega_norm,
                r.cos_angle,
                r.angle_deg,
                r.bias_norm,
                r.random_norm,
                r.c2,
                r.g2_simple,
                r.trsigma_simple,
                r.b_simple,
                r.omega_skew,
                r.omega_exkurt,
                r.proj_skew,
                r.proj_exkurt,
            ]
            .iter()
            .map(|x| format!("{x:e}")),
        );
        v.push(r.proj_n.to_string());
        v.push(format!("{:e}", r.delta_emp));
        v.push(format!("{:.4}", r.seconds));
        v.extend(r.delta_pred.iter().map(|(_, x)| format!("{x:e}")));
        v
    });
    write_csv(path, &header, rows)
}

fn write_epochs(path: &Path, rows: &[EpochRow]) -> Result<()> {
    write_csv(
        path,
        &[
            "epoch",
            "steps",
            "train_loss",
            "train_acc",
            "test_loss",
            "test_acc",
        ],
        rows.iter().map(|r| {
            vec![
                r.epoch.to_string(),
                r.steps.to_string(),
                format!("{:e}", r.train_loss),
                format!("{}", r.train_acc),
                format!("{:e}", r.test_loss),
                format!("{}", r.test_acc),
            ]
        }),
    )
}

/// Train as configured, writing the results folder. Resumes from `out/checkpoint.*` when
/// present and compatible.
pub fn run(cfg: &TrainConfig) -> Result<TrainOutcome> {
    run_with_stop(cfg, None)
}

/// [`run`] with stop rules (module docs): training ends at the end of the epoch in which every
/// rule has reached the smallest ε, or at `cfg.epochs`.
pub fn run_with_stop(cfg: &TrainConfig, stop: Option<&StopConfig>) -> Result<TrainOutcome> {
    cfg.validate()?;
    if let Some(s) = stop {
        s.validate()?;
    }
    let device = cfg.device.open()?;
    let info = DeviceInfo::collect(cfg.device);
    let data = Dataset::load(
        cfg.dataset,
        &cfg.data_dir,
        cfg.seed,
        cfg.limit_train,
        device,
    )?;
    let n_train = data.n_train();
    if n_train < cfg.batch {
        return Err(Error::invalid(
            "batch",
            cfg.batch,
            format!("at most the {n_train} training examples"),
        ));
    }
    let measure_every = cfg
        .measure_every
        .unwrap_or_else(|| auto_measure_every(&cfg.measure, n_train, cfg.batch));
    if measure_every > 0 {
        cfg.measure.validate(n_train)?;
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| write_err(&cfg.out, e))?;

    let vs = nn::VarStore::new(device);
    let model = seeded(cfg.seed, || {
        build(&vs.root(), cfg.model, cfg.norm, data.shape, data.classes)
    });
    let (params, buffers) = split_vars(&vs);
    let buffer_tensors: Vec<Tensor> = buffers.iter().map(|(_, t)| t.shallow_clone()).collect();
    let n_params: i64 = params.iter().map(|p| p.numel() as i64).sum();
    // The parameters become views of one flat tensor, so an optimizer step is a few kernels
    // over all of them (like PyTorch's multi-tensor SGD) instead of a few per tensor.
    let x_flat = flatten_parameters(&params);
    let mut opt = TensorOptimizer::new(cfg.optimizer, &params);

    let identity = cfg.identity();
    let steps_per_epoch = (n_train / cfg.batch) as u64;
    let mut tracker = stop.map(|s| StopTracker::new(s, steps_per_epoch));
    let resumed = load_checkpoint(&cfg.out, &vs, &mut opt, &identity)?;
    let resumed_from_epoch = resumed.as_ref().map(|m| m.0.epochs_done);
    let resumed = match resumed {
        Some((m, map)) => {
            match tracker.as_mut() {
                Some(t) => t.restore(m.stop.as_ref(), &map, m.step, &cfg.out)?,
                None if m.stop.is_some() => {
                    return Err(Error::invalid(
                        "stop-eps",
                        "(none)",
                        format!(
                            "the stop options the checkpoint in {} was written with, or a new \
                             folder",
                            cfg.out.display()
                        ),
                    ))
                }
                None => {}
            }
            Some(m)
        }
        None => None,
    };
    let mut meta = resumed.unwrap_or(CheckpointMeta {
        identity,
        epochs_done: 0,
        step: 0,
        series: Vec::new(),
        epochs: Vec::new(),
        train_seconds: 0.0,
        measure_seconds: 0.0,
        train_images: 0,
        stop_seconds: 0.0,
        stop: None,
    });

    let subset_n = cfg.measure.subset_size(n_train);
    let subset_x = data.train_x.narrow(0, 0, subset_n as i64);
    let subset_y = data.train_y.narrow(0, 0, subset_n as i64);
    let proj = (measure_every > 0).then(|| {
        Projections::new(
            cfg.seed,
            cfg.measure.projections,
            cfg.measure.proj_dim,
            n_params as usize,
            device,
        )
    });

    let total_steps = steps_per_epoch * cfg.epochs as u64;
    let pb = if cfg.progress {
        indicatif::ProgressBar::new(total_steps)
    } else {
        indicatif::ProgressBar::hidden()
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} steps {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_position(meta.step);

    let chunk = cfg.measure.chunk.max(1);
    let mut stop = false;
    // warm_left counts down to the first timed step (1 + warmup_steps steps ahead).
    let mut warm_left = if cfg.warmup_steps > 0 {
        cfg.warmup_steps + 1
    } else {
        0
    };
    for epoch in meta.epochs_done..cfg.epochs as u64 {
        if tracker.as_ref().is_some_and(StopTracker::done) {
            break;
        }
        let batches = epoch_batches(cfg.seed, epoch, n_train, cfg.batch);
        let mut loss_sum = Tensor::zeros([], (Kind::Double, device));
        let mut correct = Tensor::zeros([], (Kind::Int64, device));
        let mut seen = 0u64;
        let mut seen_untimed = 0u64;
        sync(device);
        let mut t_train = Instant::now();
        let mut epoch_train = 0.0;
        // All of the epoch's batch indices go to the device in one copy: a blocking
        // host-to-device copy per step would wait for the previous step's kernels and leave
        // the GPU idle while the next step is launched.
        let n_batches = batches.len() as i64;
        let flat: Vec<i64> = batches.concat();
        let all_ix = Tensor::from_slice(&flat)
            .to_device(device)
            .view([n_batches, cfg.batch as i64]);
        // ‖g_t‖ of the running-mean rule, written on the device, read back at the epoch's end.
        let gbuf = tracker
            .as_ref()
            .filter(|t| t.cfg.has(StopRule::RunningMean))
            .map(|_| Tensor::zeros([n_batches], (Kind::Float, device)));
        let first_step = meta.step;
        for (bi, idx) in batches.iter().enumerate() {
            if warm_left > 0 {
                warm_left -= 1;
                if warm_left == 0 {
                    // End of the warm-up: restart the clock, forget the images so far.
                    sync(device);
                    t_train = Instant::now();
                    epoch_train = 0.0;
                    seen_untimed = seen;
                }
            }
            if cfg.max_steps > 0 && meta.step >= cfg.max_steps as u64 {
                stop = true;
                break;
            }
            let step = meta.step;
            let ix = all_ix.get(bi as i64);
            let mut x = data.train_x.index_select(0, &ix);
            if cfg.augment {
                x = augment(&x, cfg.seed, step);
            }
            let y = data.train_y.index_select(0, &ix);
            let logits = model.forward_t(&x, true);
            let loss = logits.cross_entropy_for_logits(&y);
            let grads = Tensor::run_backward(&[&loss], &params, false, false);
            let g_flat = flatten(&grads);
            tch::no_grad(|| {
                loss_sum += loss.detach().to_kind(Kind::Double);
                correct += logits.argmax(1, false).eq_tensor(&y).sum(Kind::Int64);
                if let Some(buf) = &gbuf {
                    let mut slot = buf.get(bi as i64);
                    slot.copy_(&g_flat.norm());
                }
            });
            seen += idx.len() as u64;
            let measure_now = measure_every > 0 && step % measure_every as u64 == 0;
            if let (true, Some(proj)) = (measure_now, proj.as_ref()) {
                let m_prev = opt.momentum_flat().copy();
                opt.direction_flat(&g_flat);
                sync(device);
                epoch_train += t_train.elapsed().as_secs_f64();
                let g = g_flat.shallow_clone();
                // d_t is read by the instruments and then applied unchanged: no copy needed.
                let d = opt.search_direction_flat().shallow_clone();
                let st = StepState {
                    step,
                    epoch,
                    batch: cfg.batch,
                    opt: opt.optimizer(),
                    g: &g,
                    m_prev: &m_prev,
                    d: &d,
                };
                let row = measure(
                    &model,
                    &params,
                    &buffer_tensors,
                    &subset_x,
                    &subset_y,
                    &cfg.measure,
                    proj,
                    cfg.seed,
                    &st,
                );
                meta.measure_seconds += row.seconds;
                if let Some(t) = tracker.as_mut().filter(|t| t.wants_check(step)) {
                    t.push_fg(step, epoch, row.k);
                }
                pb.set_message(format!("K {:.3} |ω| {:.3}", row.k, row.omega_norm));
                meta.series.push(row);
                t_train = Instant::now();
                opt.apply_flat(&x_flat);
            } else {
                if let Some(t) = tracker.as_mut().filter(|t| t.wants_check(step)) {
                    // Full-gradient rule at x_t, before the update; not training time.
                    sync(device);
                    epoch_train += t_train.elapsed().as_secs_f64();
                    let t0 = Instant::now();
                    let k = full_gradient_norm(
                        &model,
                        &params,
                        &buffer_tensors,
                        &subset_x,
                        &subset_y,
                        chunk,
                    );
                    meta.stop_seconds += t0.elapsed().as_secs_f64();
                    t.push_fg(step, epoch, k);
                    t_train = Instant::now();
                }
                opt.update_flat(&x_flat, &g_flat);
            }
            meta.step += 1;
            pb.inc(1);
        }
        sync(device);
        epoch_train += t_train.elapsed().as_secs_f64();
        meta.train_seconds += epoch_train;
        meta.train_images += seen - seen_untimed;
        if let (Some(t), Some(buf)) = (tracker.as_mut(), gbuf.as_ref()) {
            let n = (meta.step - first_step) as i64;
            let host: Vec<f32> = Vec::try_from(buf.narrow(0, 0, n).to_device(Device::Cpu))
                .map_err(|e| Error::Failed(format!("reading back the gradient norms: {e}")))?;
            t.push_gnorms(first_step, epoch, &host);
        }
        if seen == 0 {
            break;
        }
        let nb = (seen / cfg.batch as u64).max(1) as f64;
        let (test_loss, test_acc) = evaluate(&model, &data.test_x, &data.test_y, chunk);
        meta.epochs.push(EpochRow {
            epoch,
            steps: meta.step,
            train_loss: loss_sum.double_value(&[]) / nb,
            train_acc: correct.int64_value(&[]) as f64 / seen as f64,
            test_loss,
            test_acc,
        });
        if stop {
            break;
        }
        meta.epochs_done = epoch + 1;
        meta.stop = tracker.as_ref().map(StopTracker::meta);
        let extra = tracker
            .as_ref()
            .map(StopTracker::tensors)
            .unwrap_or_default();
        save_checkpoint(&cfg.out, &vs, &opt, &meta, extra)?;
    }
    pb.finish_and_clear();

    let delta_emp_mean = (!meta.series.is_empty())
        .then(|| meta.series.iter().map(|r| r.delta_emp).sum::<f64>() / meta.series.len() as f64);
    let mut provenance = Provenance::collect();
    provenance.libtorch = Some(info.libtorch.clone());
    provenance.device = format!("{} ({})", info.device, info.name);
    let summary = TrainSummary {
        provenance,
        device: info,
        config: cfg.clone(),
        parameters: n_params,
        n_train,
        n_test: data.n_test(),
        measure_subset: subset_n,
        measure_every,
        steps: meta.step,
        resumed_from_epoch,
        final_epoch: meta.epochs.last().cloned(),
        delta_emp_mean,
        timing: Timing {
            train_seconds: meta.train_seconds,
            measure_seconds: meta.measure_seconds,
            train_images: meta.train_images,
            train_images_per_s: meta.train_images as f64 / meta.train_seconds.max(1e-12),
            measure_overhead: meta.measure_seconds / meta.train_seconds.max(1e-12),
            stop_check_seconds: meta.stop_seconds,
        },
        critical: tracker.as_ref().map(|t| t.summary(cfg.batch)),
    };
    write_series(&cfg.out.join("series.csv"), &meta.series)?;
    write_epochs(&cfg.out.join("epochs.csv"), &meta.epochs)?;
    if let Some(t) = &tracker {
        t.write_files(&cfg.out, steps_per_epoch)?;
    }
    // VarStore format (what `vs.save` writes), from copies: the variables are views of one
    // flat tensor. Written atomically like the checkpoint.
    let named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, v)| (k, v.copy()))
        .collect();
    save_named(&cfg.out.join("model.pt"), &named)?;
    write_json(&cfg.out.join("summary.json"), &summary)?;
    Ok(TrainOutcome {
        summary,
        params: flat_or_empty(&params),
        buffers: flat_or_empty(&buffer_tensors),
        series: meta.series,
        epochs: meta.epochs,
    })
}
