//! The optimizers as argmin solvers, so that argmin's `Executor` (with its observers and
//! checkpointing) can drive a stochastic run.
//!
//! [`StochasticSolver`] holds an [`Optimizer`], the noise law and landscape of a [`Problem`],
//! a mini-batch size and a ChaCha8 generator. Each `next_iter` asks argmin's problem for ∇f(x_t)
//! (so argmin counts gradient evaluations), draws the mini-batch gradient g_t from the noise law,
//! applies the optimizer's rule and reports the instruments of step t (‖ω_t‖, cos∠(d_t, ∇f(x_t)))
//! in the iteration's key-value store, which argmin's observers receive. The simulator
//! ([`crate::runner`]) runs the same rule through the same [`Optimizer::direction`] without
//! argmin's per-iteration overhead; the test `solver_matches_runner_rule` checks the two agree.

use argmin::core::{
    CostFunction, Error as ArgminError, Gradient, IterState, Problem as ArgminProblemHandle,
    Solver, State as _, KV,
};
use ndarray::Array1;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::linalg::{dot, norm_sq};
use crate::noise::NoiseScratch;
use crate::optimizer::Optimizer;
use crate::runner::Problem;

/// argmin's iteration state for these solvers: parameter and gradient are `Array1<f64>`.
pub type State = IterState<Array1<f64>, Array1<f64>, (), (), (), f64>;

/// SGD / SHB / NSHB / QHM / Nesterov with a noise law, as an argmin [`Solver`].
pub struct StochasticSolver {
    optimizer: Optimizer,
    problem: Problem,
    batch: usize,
    rng: ChaCha8Rng,
    m: Vec<f64>,
    g: Vec<f64>,
    d: Vec<f64>,
    scratch: NoiseScratch,
}

impl StochasticSolver {
    /// A solver drawing its noise from `problem.noise` with `ChaCha8Rng::seed_from_u64(seed)`.
    pub fn new(optimizer: Optimizer, problem: Problem, batch: usize, seed: u64) -> Self {
        let d = problem.landscape.dim();
        Self {
            optimizer,
            problem,
            batch: batch.max(1),
            rng: ChaCha8Rng::seed_from_u64(seed),
            m: vec![0.0; d],
            g: vec![0.0; d],
            d: vec![0.0; d],
            scratch: NoiseScratch::new(d),
        }
    }

    /// The momentum buffer m_{t−1} (before the next step).
    pub fn momentum(&self) -> &[f64] {
        &self.m
    }

    /// Draw the initial point x_0 ~ U([low, high]^d) of the problem's init box from this
    /// solver's generator.
    pub fn initial_point(&mut self) -> Array1<f64> {
        let (low, high) = (self.problem.init.low, self.problem.init.high);
        let d = self.problem.landscape.dim();
        Array1::from_iter((0..d).map(|_| {
            if high > low {
                self.rng.random_range(low..high)
            } else {
                low
            }
        }))
    }
}

impl<O> Solver<O, State> for StochasticSolver
where
    O: Gradient<Param = Array1<f64>, Gradient = Array1<f64>>
        + CostFunction<Param = Array1<f64>, Output = f64>,
{
    fn name(&self) -> &str {
        match self.optimizer.kind {
            crate::optimizer::OptimizerKind::Sgd => "SGD",
            crate::optimizer::OptimizerKind::Shb => "SHB",
            crate::optimizer::OptimizerKind::Nshb => "NSHB",
            crate::optimizer::OptimizerKind::Qhm => "QHM",
            crate::optimizer::OptimizerKind::Nesterov => "Nesterov",
        }
    }

    fn next_iter(
        &mut self,
        problem: &mut ArgminProblemHandle<O>,
        mut state: State,
    ) -> Result<(State, Option<KV>), ArgminError> {
        let mut x = state
            .take_param()
            .ok_or_else(|| ArgminError::msg("StochasticSolver needs an initial parameter (Executor::configure(|s| s.param(x0)))"))?;
        let grad = problem.gradient(&x)?;
        let cost = problem.cost(&x)?;
        let (xs, gs) = match (x.as_slice(), grad.as_slice()) {
            (Some(a), Some(b)) => (a.to_vec(), b.to_vec()),
            _ => return Err(ArgminError::msg("parameters must be contiguous")),
        };
        let land = self.problem.landscape.as_ref();
        self.problem.noise.sample_minibatch(
            land,
            &xs,
            &gs,
            self.batch,
            &mut self.rng,
            &mut self.scratch,
            &mut self.g,
        );
        self.optimizer.direction(&self.g, &mut self.m, &mut self.d);
        let omega: Vec<f64> = self.d.iter().zip(&gs).map(|(d, g)| d - g).collect();
        let omega_norm = norm_sq(&omega).sqrt();
        let cos = dot(&self.d, &gs) / (norm_sq(&self.d).sqrt() * norm_sq(&gs).sqrt());
        for (xi, di) in x.iter_mut().zip(&self.d) {
            *xi -= self.optimizer.lr * di;
        }
        if !x.iter().all(|v| v.is_finite()) {
            return Err(ArgminError::msg(format!(
                "diverged: non-finite iterate at iteration {}",
                state.get_iter()
            )));
        }
        // argmin pairs `param` with `cost` to track the best point, so the cost is f(x_{t+1});
        // f(x_t), at the pre-update iterate where ω_t is measured, goes to the observers.
        let cost_next = problem.cost(&x)?;
        let kv =
            argmin::kv!("omega_norm" => omega_norm; "cos_angle" => cos; "loss_pre_update" => cost;);
        Ok((state.param(x).gradient(grad).cost(cost_next), Some(kv)))
    }
}
