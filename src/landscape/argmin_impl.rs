//! Adapter from [`Landscape`] to argmin's `CostFunction`, `Gradient` and `Hessian`.

use std::ops::Deref;

use argmin::core::{ArgminError, CostFunction, Error, Gradient, Hessian};
use ndarray::{Array1, Array2};

use super::Landscape;

/// A landscape as an argmin problem, with `Param = Array1<f64>`, cost `f64`,
/// gradient `Array1<f64>` and Hessian `Array2<f64>` (d×d).
///
/// The wrapped value is any *pointer* to a landscape (anything that derefs to one), so that the
/// same adapter serves borrowed concrete landscapes, owned boxes and shared trait objects:
///
/// * `ArgminProblem(&rosenbrock)` — borrow a concrete landscape,
/// * `ArgminProblem(Box::new(quadratic))` — own it,
/// * `ArgminProblem(arc)` with `arc: Arc<dyn Landscape>` (as built from a landscape file) or
///   `ArgminProblem(&*arc)` with `&dyn Landscape`.
///
/// A parameter whose length is not [`Landscape::dim`] is an argmin `InvalidParameter` error.
///
/// Note: argmin-math's ndarray backend is built here without LAPACK, so `Array2` has no
/// `ArgminInv` and argmin's plain `Newton` solver needs the Hessian wrapped in a type that can
/// invert itself (the unit tests do this with faer's LU). Gradient-only solvers (L-BFGS,
/// steepest descent, nonlinear CG) and derivative-free ones run on `ArgminProblem` directly.
#[derive(Debug, Clone)]
pub struct ArgminProblem<P>(pub P);

impl<P> ArgminProblem<P>
where
    P: Deref,
    P::Target: Landscape,
{
    /// The wrapped landscape.
    pub fn landscape(&self) -> &P::Target {
        &self.0
    }

    /// `param` as a contiguous slice of length d, or an argmin error.
    fn with_slice<R>(&self, param: &Array1<f64>, f: impl FnOnce(&[f64]) -> R) -> Result<R, Error> {
        let d = self.0.dim();
        if param.len() != d {
            return Err(ArgminError::InvalidParameter {
                text: format!(
                    "parameter has length {}, landscape {} has dim {d}",
                    param.len(),
                    self.0.kind()
                ),
            }
            .into());
        }
        Ok(match param.as_slice() {
            Some(x) => f(x),
            None => f(&param.to_vec()),
        })
    }
}

impl<P> CostFunction for ArgminProblem<P>
where
    P: Deref,
    P::Target: Landscape,
{
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, param: &Self::Param) -> Result<Self::Output, Error> {
        self.with_slice(param, |x| self.0.value(x))
    }
}

impl<P> Gradient for ArgminProblem<P>
where
    P: Deref,
    P::Target: Landscape,
{
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(&self, param: &Self::Param) -> Result<Self::Gradient, Error> {
        self.with_slice(param, |x| {
            let mut g = Array1::zeros(x.len());
            // A fresh Array1 is contiguous in standard order.
            if let Some(gs) = g.as_slice_mut() {
                self.0.gradient(x, gs);
            }
            g
        })
    }
}

impl<P> Hessian for ArgminProblem<P>
where
    P: Deref,
    P::Target: Landscape,
{
    type Param = Array1<f64>;
    type Hessian = Array2<f64>;

    fn hessian(&self, param: &Self::Param) -> Result<Self::Hessian, Error> {
        self.with_slice(param, |x| {
            let d = x.len();
            let mut h = Array2::zeros((d, d));
            // A fresh Array2 is contiguous row-major, matching the landscape's layout.
            if let Some(hs) = h.as_slice_mut() {
                self.0.hessian(x, hs);
            }
            h
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use argmin::core::{Executor, State};
    use argmin::solver::linesearch::MoreThuenteLineSearch;
    use argmin::solver::newton::Newton;
    use argmin::solver::quasinewton::LBFGS;
    use argmin_math::{ArgminDot, ArgminInv};
    use faer::linalg::solvers::DenseSolveCore;
    use ndarray::array;

    use super::*;
    use crate::landscape::{Quadratic, Rosenbrock};

    fn lbfgs<P>(problem: ArgminProblem<P>, x0: Array1<f64>) -> Array1<f64>
    where
        P: Deref,
        P::Target: Landscape,
    {
        let ls = MoreThuenteLineSearch::new();
        let solver = LBFGS::new(ls, 7)
            .with_tolerance_grad(1e-10)
            .unwrap()
            .with_tolerance_cost(0.0)
            .unwrap();
        let res = Executor::new(problem, solver)
            .configure(|s| s.param(x0).max_iters(500))
            .run()
            .unwrap();
        res.state().get_best_param().unwrap().clone()
    }

    fn close(a: &Array1<f64>, b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn lbfgs_finds_the_quadratic_minimum() {
        let q = Quadratic::new(vec![0.5, 1.0, 3.0, 10.0], Some(11), 5.0).unwrap();
        let x = lbfgs(ArgminProblem(&q), array![1.0, -2.0, 3.0, 0.5]);
        assert!(close(&x, &[0.0; 4], 1e-7), "{x}");
        // Same through a shared trait object.
        let shared: Arc<dyn Landscape> = Arc::new(q);
        let x = lbfgs(ArgminProblem(shared), array![1.0, -2.0, 3.0, 0.5]);
        assert!(close(&x, &[0.0; 4], 1e-7), "{x}");
    }

    #[test]
    fn lbfgs_finds_the_rosenbrock_minimum() {
        let r = Rosenbrock::new(2).unwrap();
        let x = lbfgs(ArgminProblem(Box::new(r)), array![-1.2, 1.0]);
        assert!(close(&x, &[1.0, 1.0], 1e-6), "{x}");
    }

    /// The Hessian with an inverse (faer LU), so that argmin's plain `Newton` (which needs
    /// `ArgminInv`, absent from the LAPACK-free ndarray backend) can run in this test.
    #[derive(Clone)]
    struct InvertibleHessian(Array2<f64>);

    impl ArgminInv<InvertibleHessian> for InvertibleHessian {
        fn inv(&self) -> Result<InvertibleHessian, Error> {
            let d = self.0.nrows();
            let m = faer::Mat::<f64>::from_fn(d, d, |i, j| self.0[[i, j]]);
            let inv = m.partial_piv_lu().inverse();
            Ok(InvertibleHessian(Array2::from_shape_fn(
                (d, d),
                |(i, j)| inv[(i, j)],
            )))
        }
    }

    impl ArgminDot<Array1<f64>, Array1<f64>> for InvertibleHessian {
        fn dot(&self, v: &Array1<f64>) -> Array1<f64> {
            self.0.dot(v)
        }
    }

    /// An [`ArgminProblem`] seen through [`InvertibleHessian`].
    struct NewtonView<'a, P>(&'a ArgminProblem<P>);

    impl<P: Deref<Target: Landscape>> Gradient for NewtonView<'_, P> {
        type Param = Array1<f64>;
        type Gradient = Array1<f64>;
        fn gradient(&self, x: &Array1<f64>) -> Result<Array1<f64>, Error> {
            Gradient::gradient(self.0, x)
        }
    }

    impl<P: Deref<Target: Landscape>> Hessian for NewtonView<'_, P> {
        type Param = Array1<f64>;
        type Hessian = InvertibleHessian;
        fn hessian(&self, x: &Array1<f64>) -> Result<InvertibleHessian, Error> {
            Ok(InvertibleHessian(Hessian::hessian(self.0, x)?))
        }
    }

    #[test]
    fn newton_solves_the_quadratic_in_one_step() {
        let q = Quadratic::new(vec![0.5, 1.0, 3.0, 10.0], Some(3), 5.0).unwrap();
        let problem = ArgminProblem(&q);
        let res = Executor::new(NewtonView(&problem), Newton::<f64>::new())
            .configure(|s| s.param(array![1.0, -2.0, 3.0, 0.5]).max_iters(1))
            .run()
            .unwrap();
        let x = res.state().get_param().unwrap();
        assert!(close(x, &[0.0; 4], 1e-12), "{x}");
    }

    #[test]
    fn newton_converges_on_rosenbrock() {
        let r = Rosenbrock::new(2).unwrap();
        let problem = ArgminProblem(&r);
        let res = Executor::new(NewtonView(&problem), Newton::<f64>::new())
            .configure(|s| s.param(array![-1.2, 1.0]).max_iters(20))
            .run()
            .unwrap();
        let x = res.state().get_param().unwrap();
        assert!(close(x, &[1.0, 1.0], 1e-10), "{x}");
    }

    #[test]
    fn wrong_length_is_an_error() {
        let q = Quadratic::new(vec![1.0, 2.0], None, 1.0).unwrap();
        let p = ArgminProblem(&q);
        assert!(p.cost(&array![1.0]).is_err());
        assert_eq!(p.cost(&array![1.0, 1.0]).unwrap(), 1.5);
        let h = Hessian::hessian(&p, &array![0.0, 0.0]).unwrap();
        assert_eq!(h, array![[1.0, 0.0], [0.0, 2.0]]);
    }
}
