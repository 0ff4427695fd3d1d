//! Instruments: what the search direction does at the pre-update iterate x_t.
//!
//! At a measured step t the training loop has the mini-batch gradient g_t (train mode), the
//! momentum buffer m_{t−1} and the search direction d_t, all at x_t, *before* x moves. This
//! module adds, at the same x_t:
//!
//! - ∇f(x_t): the full gradient of the mean cross-entropy over a fixed measurement subset of the
//!   training set (the first `subset` examples; 0 = all), computed in **eval mode** in chunks.
//!   Eval mode means BatchNorm uses and does not update its running statistics; the buffers are
//!   also snapshotted and restored around the passes, and no libtorch generator is drawn from,
//!   so the training trajectory is bit-for-bit the one without measurement (tested).
//! - ω_t = d_t − ∇f(x_t), ‖ω_t‖, the angle between d_t and ∇f(x_t), the bias part
//!   E[ω_t | past] = (c_g − 1)∇f(x_t) + c_m m_{t−1} and the random part c_g (g_t − ∇f(x_t))
//!   (ω_t is exactly their sum; coefficients of [`crate::optimizer::Coefficients`]).
//! - C²(x_t) = tr Σ, the per-example gradient variance, from `micro_batches` micro-batches of
//!   `micro_size` examples drawn without replacement from the subset at fixed parameters:
//!   C² = b_μ · mean_j ‖g_j − ∇f‖² · (N − 1)/(N − b_μ) (finite-population correction).
//! - B_simple = tr Σ / |G|² with McCandlish et al.'s two-batch estimates (theory.md §5), the
//!   small batch being the micro-batches and the big one the subset.
//! - K = ‖∇f(x_t)‖.
//! - Normality of ω: skewness and excess kurtosis of the coordinates of ω_t, and of the
//!   projections of the micro-batch noise g_j − ∇f onto `projections` fixed sparse random
//!   directions (Rademacher signs on `proj_dim` coordinates), pooled after standardising each.
//! - Predicted δ = η ψ(C², K, b) for every formula of [`crate::theory::formulas`], and
//!   δ_emp = η ‖ω_t‖ (its mean over the run is η E‖ω‖).
//!
//! With `--norm batch`, g_t is a train-mode gradient (batch statistics) and ∇f an eval-mode
//! one (running statistics): ω then includes that mismatch. With `group`/`none` the two modes
//! are the same function and E[g_t | x_t] = ∇f(x_t) exactly when the subset is the training set.

use rand::seq::index::sample;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::nn::ModuleT;
use tch::{Kind, Tensor};

use super::data::{rng_for, streams};
use super::optim::flatten;
use crate::error::{Error, Result};
use crate::optimizer::Optimizer;

/// What to measure and how much it may cost.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MeasureConfig {
    /// Training examples in the measurement subset (the first ones); 0 = the whole set.
    pub subset: usize,
    /// Examples per forward pass of the measurement passes.
    pub chunk: usize,
    /// Micro-batches for C² and the projections (≥ 2).
    pub micro_batches: usize,
    /// Examples per micro-batch.
    pub micro_size: usize,
    /// Random projections for the normality statistics.
    pub projections: usize,
    /// Non-zero coordinates of each projection direction.
    pub proj_dim: usize,
    /// Run the micro-batch group (C², B_simple, projection normality, predicted δ). `false`
    /// (`mslab train --instruments gradient`) keeps only the full-gradient group (K, ω, angle,
    /// bias and random parts, ω moments, δ_emp); the other columns are then NaN.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub noise: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Default for MeasureConfig {
    fn default() -> Self {
        Self {
            subset: 4_096,
            chunk: 1_000,
            micro_batches: 16,
            micro_size: 32,
            projections: 8,
            proj_dim: 4096,
            noise: true,
        }
    }
}

impl MeasureConfig {
    /// Validate against a training set of `n` examples.
    pub fn validate(&self, n: usize) -> Result<()> {
        if self.chunk == 0 {
            return Err(Error::invalid("measure.chunk", 0, "an integer ≥ 1"));
        }
        if !self.noise {
            return Ok(());
        }
        if self.micro_batches < 2 {
            return Err(Error::invalid(
                "measure.micro-batches",
                self.micro_batches,
                "an integer ≥ 2",
            ));
        }
        let sub = self.subset_size(n);
        if self.micro_size == 0 || self.micro_size >= sub {
            return Err(Error::invalid(
                "measure.micro-size",
                self.micro_size,
                format!(
                    "an integer in 1 … {} (below the measurement subset)",
                    sub.saturating_sub(1)
                ),
            ));
        }
        if self.projections == 0 || self.proj_dim == 0 {
            return Err(Error::invalid(
                "measure.projections",
                format!("{} × {}", self.projections, self.proj_dim),
                "at least one projection of at least one coordinate",
            ));
        }
        Ok(())
    }

    /// Number of examples in the subset for a training set of `n`.
    pub fn subset_size(&self, n: usize) -> usize {
        if self.subset == 0 {
            n
        } else {
            self.subset.min(n)
        }
    }
}

/// serde_json writes NaN as null; read null back as NaN (checkpoints of runs with undefined
/// statistics, e.g. B_simple when |G|² ≤ 0).
pub fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One row of the per-measurement series.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Measurement {
    /// Step t (0-based, counting updates before this one).
    pub step: u64,
    /// Epoch (0-based).
    pub epoch: u64,
    /// η at this step.
    #[serde(deserialize_with = "nan_if_null")]
    pub lr: f64,
    /// Batch size b.
    pub batch: usize,
    /// Mean loss over the subset at x_t (eval mode).
    #[serde(deserialize_with = "nan_if_null")]
    pub full_loss: f64,
    /// K = ‖∇f(x_t)‖.
    #[serde(deserialize_with = "nan_if_null")]
    pub k: f64,
    /// ‖g_t‖.
    #[serde(deserialize_with = "nan_if_null")]
    pub g_norm: f64,
    /// ‖d_t‖.
    #[serde(deserialize_with = "nan_if_null")]
    pub d_norm: f64,
    /// ‖ω_t‖.
    #[serde(deserialize_with = "nan_if_null")]
    pub omega_norm: f64,
    /// cos of the angle between d_t and ∇f(x_t).
    #[serde(deserialize_with = "nan_if_null")]
    pub cos_angle: f64,
    /// The angle in degrees.
    #[serde(deserialize_with = "nan_if_null")]
    pub angle_deg: f64,
    /// ‖(c_g − 1)∇f + c_m m_{t−1}‖.
    #[serde(deserialize_with = "nan_if_null")]
    pub bias_norm: f64,
    /// ‖c_g (g_t − ∇f)‖.
    #[serde(deserialize_with = "nan_if_null")]
    pub random_norm: f64,
    /// C² = tr Σ from the micro-batches.
    #[serde(deserialize_with = "nan_if_null")]
    pub c2: f64,
    /// McCandlish |G|² estimate.
    #[serde(deserialize_with = "nan_if_null")]
    pub g2_simple: f64,
    /// McCandlish tr Σ estimate.
    #[serde(deserialize_with = "nan_if_null")]
    pub trsigma_simple: f64,
    /// B_simple = tr Σ / |G|² (NaN when |G|² ≤ 0).
    #[serde(deserialize_with = "nan_if_null")]
    pub b_simple: f64,
    /// Skewness of the coordinates of ω_t.
    #[serde(deserialize_with = "nan_if_null")]
    pub omega_skew: f64,
    /// Excess kurtosis of the coordinates of ω_t.
    #[serde(deserialize_with = "nan_if_null")]
    pub omega_exkurt: f64,
    /// Skewness of the pooled standardised micro-batch projections.
    #[serde(deserialize_with = "nan_if_null")]
    pub proj_skew: f64,
    /// Excess kurtosis of the pooled standardised micro-batch projections.
    #[serde(deserialize_with = "nan_if_null")]
    pub proj_exkurt: f64,
    /// Number of pooled projection values.
    pub proj_n: usize,
    /// δ_emp = η ‖ω_t‖.
    #[serde(deserialize_with = "nan_if_null")]
    pub delta_emp: f64,
    /// Predicted δ = η ψ for each formula key.
    pub delta_pred: Vec<(String, f64)>,
    /// Wall-clock seconds the measurement took.
    #[serde(deserialize_with = "nan_if_null")]
    pub seconds: f64,
}

/// Gradients of the mean cross-entropy over `x`, `y` in eval mode, in chunks, without touching
/// `.grad` (autograd's `run_backward`). Returns (gradients, mean loss).
pub fn full_gradient(
    model: &dyn ModuleT,
    params: &[Tensor],
    x: &Tensor,
    y: &Tensor,
    chunk: usize,
) -> (Vec<Tensor>, f64) {
    let n = y.size()[0];
    let mut acc: Vec<Tensor> = params.iter().map(Tensor::zeros_like).collect();
    let mut loss_sum = Tensor::zeros([], (Kind::Double, y.device()));
    let mut start = 0i64;
    while start < n {
        let len = (chunk as i64).min(n - start);
        let xs = x.narrow(0, start, len);
        let ys = y.narrow(0, start, len);
        let logits = model.forward_t(&xs, false);
        let loss = logits.cross_entropy_loss::<Tensor>(&ys, None, tch::Reduction::Sum, -100, 0.0)
            / (n as f64);
        let grads = Tensor::run_backward(&[&loss], params, false, false);
        tch::no_grad(|| {
            for (a, g) in acc.iter_mut().zip(&grads) {
                let _ = a.g_add_(g);
            }
            loss_sum += loss.detach().to_kind(Kind::Double);
        });
        start += len;
    }
    let l = loss_sum.double_value(&[]);
    (acc, l)
}

/// K = ‖∇f(x)‖ over `x`, `y` (the measurement subset) in eval mode, with the non-trainable
/// `buffers` (BatchNorm statistics) snapshotted and restored: the full-gradient stop rule of
/// [`super::train`], which must leave the trajectory unchanged.
pub fn full_gradient_norm(
    model: &dyn ModuleT,
    params: &[Tensor],
    buffers: &[Tensor],
    x: &Tensor,
    y: &Tensor,
    chunk: usize,
) -> f64 {
    let saved: Vec<Tensor> = buffers.iter().map(|b| b.detach().copy()).collect();
    let (full, _) = full_gradient(model, params, x, y, chunk);
    let k = norm(&flatten(&full));
    tch::no_grad(|| {
        for (b, s) in buffers.iter().zip(&saved) {
            let mut b = b.shallow_clone();
            b.copy_(s);
        }
    });
    k
}

/// Standardised third and fourth moments (skewness, excess kurtosis) of a flat tensor.
pub fn moments(v: &Tensor) -> (f64, f64) {
    let v = v.to_kind(Kind::Double);
    let c = &v - v.mean(Kind::Double);
    let m2 = c.square().mean(Kind::Double).double_value(&[]);
    if m2 <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let m3 = c.pow_tensor_scalar(3).mean(Kind::Double).double_value(&[]);
    let m4 = c.pow_tensor_scalar(4).mean(Kind::Double).double_value(&[]);
    (m3 / m2.powf(1.5), m4 / (m2 * m2) - 3.0)
}

/// Fixed sparse random directions: (coordinate indices, signs/√s) per projection.
pub struct Projections {
    idx: Vec<Tensor>,
    w: Vec<Tensor>,
}

impl Projections {
    /// `p` directions on `s` of `dim` coordinates each, seeded; on `device`.
    pub fn new(seed: u64, p: usize, s: usize, dim: usize, device: tch::Device) -> Self {
        let mut rng = rng_for(seed, streams::PROJECTIONS, 0);
        let s = s.min(dim);
        let mut idx = Vec::with_capacity(p);
        let mut w = Vec::with_capacity(p);
        for _ in 0..p {
            let mut ix: Vec<i64> = sample(&mut rng, dim, s)
                .into_iter()
                .map(|i| i as i64)
                .collect();
            ix.sort_unstable();
            let sg: Vec<f32> = (0..s)
                .map(|_| if rng.random_bool(0.5) { 1.0 } else { -1.0 } / (s as f32).sqrt())
                .collect();
            idx.push(Tensor::from_slice(&ix).to_device(device));
            w.push(Tensor::from_slice(&sg).to_device(device));
        }
        Self { idx, w }
    }

    /// ⟨v, u_p⟩ for each direction p.
    pub fn project(&self, v: &Tensor) -> Vec<f64> {
        self.idx
            .iter()
            .zip(&self.w)
            .map(|(i, w)| {
                (v.index_select(0, i).to_kind(Kind::Float) * w)
                    .sum(Kind::Double)
                    .double_value(&[])
            })
            .collect()
    }
}

/// What the training loop hands to [`measure`].
pub struct StepState<'a> {
    /// Step t.
    pub step: u64,
    /// Epoch.
    pub epoch: u64,
    /// Batch size.
    pub batch: usize,
    /// The optimizer (η, β, ν, rule).
    pub opt: &'a Optimizer,
    /// g_t, flat.
    pub g: &'a Tensor,
    /// m_{t−1}, flat.
    pub m_prev: &'a Tensor,
    /// d_t, flat.
    pub d: &'a Tensor,
}

fn norm(t: &Tensor) -> f64 {
    t.to_kind(Kind::Double).norm().double_value(&[])
}

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    (a.to_kind(Kind::Double) * b.to_kind(Kind::Double))
        .sum(Kind::Double)
        .double_value(&[])
}

/// Measure at x_t. `subset_x`, `subset_y`: the fixed measurement subset. `buffers`: the
/// non-trainable variables (BatchNorm running statistics), restored afterwards.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    model: &dyn ModuleT,
    params: &[Tensor],
    buffers: &[Tensor],
    subset_x: &Tensor,
    subset_y: &Tensor,
    cfg: &MeasureConfig,
    proj: &Projections,
    seed: u64,
    st: &StepState,
) -> Measurement {
    let t0 = std::time::Instant::now();
    let saved: Vec<Tensor> = buffers.iter().map(|b| b.detach().copy()).collect();

    let (full, full_loss) = full_gradient(model, params, subset_x, subset_y, cfg.chunk);
    let gf = flatten(&full);
    let k = norm(&gf);
    let c = st.opt.coefficients();
    let omega = st.d - &gf;
    let omega_norm = norm(&omega);
    let d_norm = norm(st.d);
    let cos = dot(st.d, &gf) / (d_norm * k);
    let bias = &gf * (c.c_g - 1.0) + st.m_prev * c.c_m;
    let random = (st.g - &gf) * c.c_g;
    let (omega_skew, omega_exkurt) = moments(&omega);

    // Micro-batches at fixed parameters.
    let n = subset_y.size()[0] as usize;
    let bm = cfg.micro_size;
    let mut rng = rng_for(seed, streams::MEASURE, st.step);
    let mut sq_dev = 0.0;
    let mut sq_norm = 0.0;
    let mut projs: Vec<Vec<f64>> = Vec::with_capacity(cfg.micro_batches);
    let micro = if cfg.noise { cfg.micro_batches } else { 0 };
    for _ in 0..micro {
        let ix: Vec<i64> = sample(&mut rng, n, bm)
            .into_iter()
            .map(|i| i as i64)
            .collect();
        let ix = Tensor::from_slice(&ix).to_device(subset_y.device());
        let xs = subset_x.index_select(0, &ix);
        let ys = subset_y.index_select(0, &ix);
        let (gj, _) = full_gradient(model, params, &xs, &ys, cfg.chunk);
        let gj = flatten(&gj);
        let dev = &gj - &gf;
        sq_dev += norm(&dev).powi(2);
        sq_norm += norm(&gj).powi(2);
        projs.push(proj.project(&dev));
    }
    // Without the micro-batch group mb = 0 and every statistic below is NaN.
    let mb = micro as f64;
    let (bmf, nf) = (bm as f64, n as f64);
    let c2 = bmf * (sq_dev / mb) * (nf - 1.0) / (nf - bmf).max(1.0);
    let small = sq_norm / mb;
    let big = k * k;
    let g2_simple = (nf * big - bmf * small) / (nf - bmf);
    let trsigma_simple = (small - big) / (1.0 / bmf - 1.0 / nf);
    let b_simple = if g2_simple > 0.0 {
        trsigma_simple / g2_simple
    } else {
        f64::NAN
    };
    // Pool the projections after standardising each direction across micro-batches.
    let mut pooled = Vec::new();
    for p in 0..proj.idx.len() {
        let col: Vec<f64> = projs.iter().map(|r| r[p]).collect();
        let mean = col.iter().sum::<f64>() / mb;
        let sd = (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / mb).sqrt();
        if sd > 0.0 {
            pooled.extend(col.iter().map(|v| (v - mean) / sd));
        }
    }
    let (proj_skew, proj_exkurt) = if pooled.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        moments(&Tensor::from_slice(&pooled))
    };

    tch::no_grad(|| {
        for (b, s) in buffers.iter().zip(&saved) {
            let mut b = b.shallow_clone();
            b.copy_(s);
        }
    });

    let lr = st.opt.lr;
    let delta_pred = crate::theory::formulas(st.opt.kind)
        .iter()
        .map(|f| {
            (
                f.key().to_string(),
                lr * f.psi(st.opt, st.batch as f64, c2, k),
            )
        })
        .collect();
    Measurement {
        step: st.step,
        epoch: st.epoch,
        lr,
        batch: st.batch,
        full_loss,
        k,
        g_norm: norm(st.g),
        d_norm,
        omega_norm,
        cos_angle: cos,
        angle_deg: cos.clamp(-1.0, 1.0).acos().to_degrees(),
        bias_norm: norm(&bias),
        random_norm: norm(&random),
        c2,
        g2_simple,
        trsigma_simple,
        b_simple,
        omega_skew,
        omega_exkurt,
        proj_skew,
        proj_exkurt,
        proj_n: pooled.len(),
        delta_emp: lr * omega_norm,
        delta_pred,
        seconds: t0.elapsed().as_secs_f64(),
    }
}
