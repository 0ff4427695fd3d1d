//! The five optimizers of theory.md §2 as tensor code, exposing the search direction d_t.
//!
//! Same definitions and the same split as [`crate::optimizer::Optimizer`]: [`TensorOptimizer::direction`]
//! reads g_t, moves the momentum buffers from m_{t−1} to m_t and writes d_t;
//! [`TensorOptimizer::apply`] does x ← x − η d_t. Between the two the caller can look at d_t and
//! (before `direction`) at m_{t−1}, which is what the instruments need. All buffers start at 0,
//! so SHB and Nesterov reproduce `torch.optim.SGD(momentum=β, dampening=0, nesterov=…)`.

use tch::Tensor;

use crate::optimizer::{Optimizer, OptimizerKind};

/// Momentum buffers and search directions for a list of parameter tensors.
pub struct TensorOptimizer {
    opt: Optimizer,
    m: Vec<Tensor>,
    d: Vec<Tensor>,
}

impl TensorOptimizer {
    /// Zero buffers shaped like `params`.
    pub fn new(opt: Optimizer, params: &[Tensor]) -> Self {
        let zeros = || params.iter().map(Tensor::zeros_like).collect::<Vec<_>>();
        Self {
            opt,
            m: zeros(),
            d: zeros(),
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

    /// From g_t: m_{t−1} → m_t in place, d_t written (theory.md §2).
    pub fn direction(&mut self, grads: &[Tensor]) {
        let (b, nu) = (self.opt.beta, self.opt.nu);
        tch::no_grad(|| {
            for ((m, d), g) in self.m.iter_mut().zip(self.d.iter_mut()).zip(grads) {
                match self.opt.kind {
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
        let (b, nu, lr) = (self.opt.beta, self.opt.nu, self.opt.lr);
        tch::no_grad(|| {
            for ((m, p), g) in self.m.iter_mut().zip(params).zip(grads) {
                let mut p = p.shallow_clone();
                match self.opt.kind {
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
        });
    }
}

/// Concatenate tensors into one flat vector (same order), detached.
pub fn flatten(ts: &[Tensor]) -> Tensor {
    let parts: Vec<Tensor> = ts.iter().map(|t| t.detach().reshape([-1])).collect();
    Tensor::cat(&parts, 0)
}
