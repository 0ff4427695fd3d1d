//! The five optimizers of theory.md §2 as tensor code, exposing the search direction d_t.
//!
//! Same definitions and the same split as [`crate::optimizer::Optimizer`]: [`TensorOptimizer::direction`]
//! reads g_t, moves the momentum buffers from m_{t−1} to m_t and writes d_t;
//! [`TensorOptimizer::apply`] does x ← x − η d_t. Between the two the caller can look at d_t and
//! (before `direction`) at m_{t−1}, which is what the instruments need. All buffers start at 0,
//! so SHB and Nesterov reproduce `torch.optim.SGD(momentum=β, dampening=0, nesterov=…)`.
//!
//! Storage: the momentum buffer m and the direction d are each one flat tensor (all parameters
//! concatenated in order), with per-parameter views into it. The per-parameter methods
//! ([`TensorOptimizer::direction`], [`TensorOptimizer::apply`], [`TensorOptimizer::update`]) and
//! the flat ones ([`TensorOptimizer::direction_flat`], [`TensorOptimizer::apply_flat`],
//! [`TensorOptimizer::update_flat`]) do the same element-wise arithmetic, so they give the same
//! bits. The flat ones launch a handful of kernels per step instead of a few per parameter
//! tensor (ResNet-18 has 62), which is what PyTorch's multi-tensor (`foreach`) SGD saves too;
//! they need the parameters themselves to be views of one flat tensor
//! ([`flatten_parameters`]) and the gradient flat ([`flatten`]).

use tch::Tensor;

use crate::optimizer::{Optimizer, OptimizerKind};

/// Momentum buffers and search directions for a list of parameter tensors.
pub struct TensorOptimizer {
    opt: Optimizer,
    m_flat: Tensor,
    d_flat: Tensor,
    m: Vec<Tensor>,
    d: Vec<Tensor>,
}

/// Views of `flat` shaped like `like`, in order.
fn views_of(flat: &Tensor, like: &[Tensor]) -> Vec<Tensor> {
    let mut off = 0i64;
    like.iter()
        .map(|p| {
            let n = p.numel() as i64;
            let v = flat.narrow(0, off, n).view(p.size().as_slice());
            off += n;
            v
        })
        .collect()
}

/// A zero flat tensor with as many elements as `params` together (their kind and device).
fn zeros_flat(params: &[Tensor]) -> Tensor {
    let n: i64 = params.iter().map(|p| p.numel() as i64).sum();
    match params.first() {
        Some(p) => Tensor::zeros([n], (p.kind(), p.device())),
        None => Tensor::zeros([0], (tch::Kind::Float, tch::Device::Cpu)),
    }
}

impl TensorOptimizer {
    /// Zero buffers shaped like `params` (one flat tensor each for m and d, with views).
    pub fn new(opt: Optimizer, params: &[Tensor]) -> Self {
        let m_flat = zeros_flat(params);
        let d_flat = zeros_flat(params);
        let m = views_of(&m_flat, params);
        let d = views_of(&d_flat, params);
        Self {
            opt,
            m_flat,
            d_flat,
            m,
            d,
        }
    }

    /// The rule and hyperparameters.
    pub fn optimizer(&self) -> &Optimizer {
        &self.opt
    }

    /// Change η (schedules); the buffers are kept.
    pub fn set_lr(&mut self, lr: f64) {
        self.opt.lr = lr;
    }

    /// The momentum buffers: m_{t−1} before [`Self::direction`], m_t after it.
    pub fn momentum(&self) -> &[Tensor] {
        &self.m
    }

    /// All momentum buffers as one flat tensor (shares storage with [`Self::momentum`]).
    pub fn momentum_flat(&self) -> &Tensor {
        &self.m_flat
    }

    /// Replace the momentum buffers (checkpoint restore); shapes must match.
    pub fn set_momentum(&mut self, m: &[Tensor]) {
        tch::no_grad(|| {
            for (dst, src) in self.m.iter_mut().zip(m) {
                dst.copy_(src);
            }
        });
    }

    /// d_t from the last [`Self::direction`] call.
    pub fn search_direction(&self) -> &[Tensor] {
        &self.d
    }

    /// d_t from the last direction call as one flat tensor.
    pub fn search_direction_flat(&self) -> &Tensor {
        &self.d_flat
    }

    /// m_{t−1} → m_t and d_t for one (parameter or flat) tensor.
    fn direction_one(
        kind: OptimizerKind,
        b: f64,
        nu: f64,
        m: &mut Tensor,
        d: &mut Tensor,
        g: &Tensor,
    ) {
        match kind {
            OptimizerKind::Sgd => {
                d.copy_(g);
            }
            OptimizerKind::Shb => {
                let _ = m.g_mul_scalar_(b).g_add_(g);
                d.copy_(m);
            }
            OptimizerKind::Nshb => {
                let _ = m.g_mul_scalar_(b).g_add_(&(g * (1.0 - b)));
                d.copy_(m);
            }
            OptimizerKind::Qhm => {
                let _ = m.g_mul_scalar_(b).g_add_(&(g * (1.0 - b)));
                d.copy_(&(g * (1.0 - nu) + &*m * nu));
            }
            OptimizerKind::Nesterov => {
                let _ = m.g_mul_scalar_(b).g_add_(g);
                d.copy_(&(g + &*m * b));
            }
        }
    }

    /// The fused update of one (parameter or flat) tensor.
    #[allow(clippy::too_many_arguments)]
    fn update_one(
        kind: OptimizerKind,
        b: f64,
        nu: f64,
        lr: f64,
        m: &mut Tensor,
        p: &Tensor,
        g: &Tensor,
    ) {
        let mut p = p.shallow_clone();
        match kind {
            OptimizerKind::Sgd => {
                let _ = p.g_sub_(&(g * lr));
            }
            OptimizerKind::Shb => {
                let _ = m.g_mul_scalar_(b).g_add_(g);
                let _ = p.g_sub_(&(&*m * lr));
            }
            OptimizerKind::Nshb => {
                let _ = m.g_mul_scalar_(b).g_add_(&(g * (1.0 - b)));
                let _ = p.g_sub_(&(&*m * lr));
            }
            OptimizerKind::Qhm => {
                let _ = m.g_mul_scalar_(b).g_add_(&(g * (1.0 - b)));
                let d = g * (1.0 - nu) + &*m * nu;
                let _ = p.g_sub_(&(d * lr));
            }
            OptimizerKind::Nesterov => {
                let _ = m.g_mul_scalar_(b).g_add_(g);
                let d = g + &*m * b;
                let _ = p.g_sub_(&(d * lr));
            }
        }
    }

    /// From g_t: m_{t−1} → m_t in place, d_t written (theory.md §2).
    pub fn direction(&mut self, grads: &[Tensor]) {
        let (kind, b, nu) = (self.opt.kind, self.opt.beta, self.opt.nu);
        tch::no_grad(|| {
            for ((m, d), g) in self.m.iter_mut().zip(self.d.iter_mut()).zip(grads) {
                Self::direction_one(kind, b, nu, m, d, g);
            }
        });
    }

    /// [`Self::direction`] with g_t given as one flat tensor (same bits).
    pub fn direction_flat(&mut self, g_flat: &Tensor) {
        let (kind, b, nu) = (self.opt.kind, self.opt.beta, self.opt.nu);
        tch::no_grad(|| {
            Self::direction_one(kind, b, nu, &mut self.m_flat, &mut self.d_flat, g_flat)
        });
    }

    /// x ← x − η d_t for each parameter (no autograd record).
    pub fn apply(&self, params: &[Tensor]) {
        let lr = self.opt.lr;
        tch::no_grad(|| {
            for (p, d) in params.iter().zip(&self.d) {
                let mut p = p.shallow_clone();
                let _ = p.g_sub_(&(d * lr));
            }
        });
    }

    /// [`Self::apply`] on the flat parameter tensor of [`flatten_parameters`] (same bits).
    pub fn apply_flat(&self, x_flat: &Tensor) {
        let lr = self.opt.lr;
        tch::no_grad(|| {
            let mut p = x_flat.shallow_clone();
            let _ = p.g_sub_(&(&self.d_flat * lr));
        });
    }

    /// [`Self::direction`] then [`Self::apply`].
    pub fn step(&mut self, params: &[Tensor], grads: &[Tensor]) {
        self.direction(grads);
        self.apply(params);
    }

    /// The same update as [`Self::step`], bit for bit, with fewer kernels: d_t is not stored
    /// (for SGD, SHB and NSHB it is g_t or m_t itself, so the copy into the d buffer is skipped;
    /// for QHM and Nesterov the expression is consumed directly). Afterwards
    /// [`Self::search_direction`] is stale until the next [`Self::direction`]; the training
    /// loop uses this on steps it does not measure.
    pub fn update(&mut self, params: &[Tensor], grads: &[Tensor]) {
        let (kind, b, nu, lr) = (self.opt.kind, self.opt.beta, self.opt.nu, self.opt.lr);
        tch::no_grad(|| {
            for ((m, p), g) in self.m.iter_mut().zip(params).zip(grads) {
                Self::update_one(kind, b, nu, lr, m, p, g);
            }
        });
    }

    /// [`Self::update`] on flat tensors: the parameters as made by [`flatten_parameters`] and
    /// g_t as one flat tensor. Same bits, a few kernels in all.
    pub fn update_flat(&mut self, x_flat: &Tensor, g_flat: &Tensor) {
        let (kind, b, nu, lr) = (self.opt.kind, self.opt.beta, self.opt.nu, self.opt.lr);
        tch::no_grad(|| Self::update_one(kind, b, nu, lr, &mut self.m_flat, x_flat, g_flat));
    }
}

/// Concatenate tensors into one flat vector (same order), detached.
pub fn flatten(ts: &[Tensor]) -> Tensor {
    let parts: Vec<Tensor> = ts.iter().map(|t| t.detach().reshape([-1])).collect();
    Tensor::cat(&parts, 0)
}

/// Move the values of `params` into one flat tensor and make each parameter a view of it, so
/// that an update of the flat tensor updates every parameter (one kernel instead of one per
/// tensor). Values, shapes, `requires_grad` and autograd identity are kept (the parameters'
/// data is replaced, as `module.to()` does in PyTorch). Returns the flat tensor, which must not
/// be resized. All parameters must share one kind and device.
pub fn flatten_parameters(params: &[Tensor]) -> Tensor {
    let flat = tch::no_grad(|| flatten(params));
    let views = views_of(&flat, params);
    for (p, v) in params.iter().zip(&views) {
        let mut p = p.shallow_clone();
        p.set_data(v);
    }
    flat
}
