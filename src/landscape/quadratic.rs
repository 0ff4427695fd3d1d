//! The quadratic f(x) = ½ (x − c)ᵀ A (x − c) with A = Q diag(λ) Qᵀ and centre c = 0.

use super::Landscape;
use crate::{Error, Result};

/// A quadratic bowl (or saddle) f(x) = ½ (x − c)ᵀ A (x − c) with centre c = 0 and
/// A = Q diag(λ_1, …, λ_d) Qᵀ.
///
/// * ∇f(x) = A x, ∇²f(x) = A.
/// * Q = I (a *diagonal* quadratic, O(d) per gradient) when no rotation seed is given; otherwise
///   Q is a Haar-distributed random orthogonal matrix reproducible from the seed
///   ([`crate::linalg::random_orthogonal`]: QR of a ChaCha8-seeded Gaussian matrix with the
///   sign fix diag(R) > 0), and A is stored densely (d² numbers, O(d²) per gradient).
/// * Domain [−r, r]^d. For all λ_k ≥ 0 the global minimum is f(0) = 0 (x* = 0; unique when
///   all λ_k > 0). With a negative eigenvalue f is unbounded below and there is no minimum.
/// * Gradient bound on the box: ‖A x‖ ≤ max_k |λ_k| · ‖x‖ ≤ max_k |λ_k| · r √d; for a diagonal
///   A the exact supremum (Σ_k λ_k² r²)^{1/2} is used instead.
#[derive(Debug, Clone)]
pub struct Quadratic {
    eigenvalues: Vec<f64>,
    /// Dense A = Q diag(λ) Qᵀ (row-major d×d) when rotated; `None` when A = diag(λ).
    a: Option<Vec<f64>>,
    radius: f64,
}

impl Quadratic {
    /// A quadratic with eigenvalues λ (d = `eigenvalues.len()`), rotated by the Haar-random
    /// orthogonal Q drawn from `rotation_seed` (identity when `None`), studied on the box
    /// [−`domain_radius`, `domain_radius`]^d.
    ///
    /// # Errors
    /// `params.eigenvalues` when empty or not all finite; `params.radius` unless finite and > 0.
    pub fn new(
        eigenvalues: Vec<f64>,
        rotation_seed: Option<u64>,
        domain_radius: f64,
    ) -> Result<Self> {
        if eigenvalues.is_empty() {
            return Err(Error::invalid(
                "params.eigenvalues",
                "[]",
                "a non-empty array of finite numbers",
            ));
        }
        if let Some(bad) = eigenvalues.iter().find(|l| !l.is_finite()) {
            return Err(Error::invalid("params.eigenvalues", bad, "finite numbers"));
        }
        if !(domain_radius.is_finite() && domain_radius > 0.0) {
            return Err(Error::invalid(
                "params.radius",
                domain_radius,
                "a finite number > 0",
            ));
        }
        let d = eigenvalues.len();
        let a = match rotation_seed {
            None => None,
            Some(seed) => {
                if d.checked_mul(d).is_none() {
                    return Err(Error::invalid(
                        "dim",
                        d,
                        "small enough to store a d×d rotation",
                    ));
                }
                let q = crate::linalg::random_orthogonal(d, seed);
                // A_ij = Σ_k Q_ik λ_k Q_jk.
                let mut a = vec![0.0; d * d];
                for i in 0..d {
                    for j in i..d {
                        let s: f64 = (0..d)
                            .map(|k| q[i * d + k] * eigenvalues[k] * q[j * d + k])
                            .sum();
                        a[i * d + j] = s;
                        a[j * d + i] = s;
                    }
                }
                Some(a)
            }
        };
        Ok(Quadratic {
            eigenvalues,
            a,
            radius: domain_radius,
        })
    }

    /// The eigenvalues λ_1, …, λ_d of A, in the order given.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// Whether A = diag(λ) (no rotation), so that coordinates decouple.
    pub fn is_diagonal(&self) -> bool {
        self.a.is_none()
    }
}

impl Landscape for Quadratic {
    fn kind(&self) -> &'static str {
        "quadratic"
    }

    fn dim(&self) -> usize {
        self.eigenvalues.len()
    }

    fn value(&self, x: &[f64]) -> f64 {
        match &self.a {
            None => {
                0.5 * self
                    .eigenvalues
                    .iter()
                    .zip(x)
                    .map(|(l, xi)| l * xi * xi)
                    .sum::<f64>()
            }
            Some(a) => {
                let d = x.len();
                let quad: f64 = a
                    .chunks_exact(d)
                    .zip(x)
                    .map(|(row, xi)| xi * row.iter().zip(x).map(|(aij, xj)| aij * xj).sum::<f64>())
                    .sum();
                0.5 * quad
            }
        }
    }

    #[inline]
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        match &self.a {
            None => {
                for ((gi, l), xi) in g.iter_mut().zip(&self.eigenvalues).zip(x) {
                    *gi = l * xi;
                }
            }
            Some(a) => {
                let d = x.len();
                for (gi, row) in g.iter_mut().zip(a.chunks_exact(d)) {
                    *gi = row.iter().zip(x).map(|(aij, xj)| aij * xj).sum();
                }
            }
        }
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        self.gradient(x, g);
        // f = ½ xᵀ A x = ½ ⟨x, ∇f(x)⟩.
        0.5 * x.iter().zip(g.iter()).map(|(a, b)| a * b).sum::<f64>()
    }

    fn hessian(&self, _x: &[f64], h: &mut [f64]) {
        match &self.a {
            None => {
                let d = self.eigenvalues.len();
                h.fill(0.0);
                for (i, l) in self.eigenvalues.iter().enumerate() {
                    h[i * d + i] = *l;
                }
            }
            Some(a) => h.copy_from_slice(a),
        }
    }

    fn domain(&self) -> (f64, f64) {
        (-self.radius, self.radius)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        if self.eigenvalues.iter().all(|&l| l >= 0.0) {
            Some((vec![0.0; self.eigenvalues.len()], 0.0))
        } else {
            None
        }
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        let d = self.eigenvalues.len() as f64;
        Some(match self.a {
            None => self.radius * self.eigenvalues.iter().map(|l| l * l).sum::<f64>().sqrt(),
            Some(_) => {
                self.eigenvalues.iter().fold(0.0_f64, |m, l| m.max(l.abs()))
                    * self.radius
                    * d.sqrt()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_hessian_has_the_eigenvalues() {
        let q = Quadratic::new(vec![1.0, 2.0, 5.0], Some(7), 1.0).unwrap();
        assert!(!q.is_diagonal());
        let mut h = vec![0.0; 9];
        q.hessian(&[0.0; 3], &mut h);
        // trace and Frobenius norm are rotation invariants.
        let tr = h[0] + h[4] + h[8];
        let fro: f64 = h.iter().map(|a| a * a).sum();
        assert!((tr - 8.0).abs() < 1e-12);
        assert!((fro - 30.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Quadratic::new(vec![], None, 1.0).is_err());
        assert!(Quadratic::new(vec![f64::NAN], None, 1.0).is_err());
        assert!(Quadratic::new(vec![1.0], None, 0.0).is_err());
        assert!(Quadratic::new(vec![1.0], None, f64::INFINITY).is_err());
        let saddle = Quadratic::new(vec![1.0, -1.0], None, 1.0).unwrap();
        assert!(saddle.global_minimum().is_none());
    }
}
