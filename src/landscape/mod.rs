//! Landscapes: differentiable objectives f : R^d → R whose truth is known exactly.
//!
//! Every landscape gives the value f(x), the gradient ∇f(x) and the Hessian ∇²f(x) analytically
//! (property-tested against finite differences in `tests/landscapes_fd.rs`), its dimension d, a
//! domain box [lo, hi]^d, the global minimizer x* and minimum f* where they are known, and a
//! bound K on ‖∇f‖ over the domain where one exists (theory.md §1: E‖∇f(x_t)‖² ≤ K²).
//!
//! Finite-sum landscapes (f = (1/n) Σ_i f_i) also expose per-sample gradients through
//! [`FiniteSum`], which the finite-sum noise law uses to build mini-batch gradients.
//!
//! [`ArgminProblem`] adapts any landscape to argmin's `CostFunction`, `Gradient` and `Hessian`
//! traits so that argmin's solvers (L-BFGS, Newton, Nelder–Mead, particle swarm, …) run on it.

mod argmin_impl;
mod benchmarks;
mod finite_sum;
mod quadratic;

pub use argmin_impl::ArgminProblem;
pub use benchmarks::{
    Ackley, DropWave, Griewank, Levy, MultiWell, Rastrigin, Rosenbrock, StyblinskiTang,
};
pub use finite_sum::TeacherStudent;
pub use quadratic::Quadratic;

/// A differentiable function of x ∈ R^d with analytic derivatives.
///
/// Buffers are plain slices so that the simulator's hot loop allocates nothing; `g.len()` and
/// `x.len()` must equal [`Landscape::dim`], `h.len()` must equal d².
pub trait Landscape: Send + Sync {
    /// Short kind name as used in landscape files (`"rastrigin"`, `"quadratic"`, …).
    fn kind(&self) -> &'static str;
    /// Dimension d.
    fn dim(&self) -> usize;
    /// f(x).
    fn value(&self, x: &[f64]) -> f64;
    /// ∇f(x), written into `g`.
    fn gradient(&self, x: &[f64], g: &mut [f64]);
    /// f(x) and ∇f(x) together (landscapes override this when they can share work).
    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        self.gradient(x, g);
        self.value(x)
    }
    /// ∇²f(x), row-major d×d, written into `h`.
    fn hessian(&self, x: &[f64], h: &mut [f64]);
    /// The domain box [lo, hi]^d on which the landscape is studied (and `grad_norm_bound` holds).
    fn domain(&self) -> (f64, f64);
    /// Known global minimizer x* and minimum f(x*), where known.
    fn global_minimum(&self) -> Option<(Vec<f64>, f64)>;
    /// A bound K with ‖∇f(x)‖ ≤ K for all x in the domain box, where one is known.
    fn grad_norm_bound(&self) -> Option<f64>;
    /// Per-sample access for finite-sum landscapes; `None` for the others.
    fn finite_sum(&self) -> Option<&dyn FiniteSum> {
        None
    }
}

/// f(x) = (1/n) Σ_i f_i(x): a landscape built from n samples with exact per-sample gradients.
pub trait FiniteSum: Send + Sync {
    /// Number of samples n.
    fn n_samples(&self) -> usize;
    /// f_i(x).
    fn sample_value(&self, i: usize, x: &[f64]) -> f64;
    /// ∇f_i(x) *added* to `g` (so a mini-batch gradient accumulates without a scratch buffer).
    fn add_sample_gradient(&self, i: usize, x: &[f64], g: &mut [f64]);
}
