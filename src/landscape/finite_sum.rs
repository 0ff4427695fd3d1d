//! A finite-sum nonconvex landscape: a two-layer tanh student fitting a tanh teacher.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{FiniteSum, Landscape};
use crate::{Error, Result};

/// Largest n·p (stored data entries) accepted: 10⁸ numbers, 800 MB.
const MAX_DATA_ENTRIES: usize = 100_000_000;

/// Hidden widths up to this size use a stack buffer for the hidden activations.
const STACK_HIDDEN: usize = 128;

/// Teacher–student regression with a two-layer tanh network, a finite sum
/// f(x) = (1/n) Σ_i f_i(x).
///
/// **Data.** Inputs a_i ~ N(0, I_p), i = 1..n, drawn row by row from `ChaCha8Rng` seeded with
/// the data seed (stream 0), followed by the label noises ε_i ~ N(0, 1) from the same stream.
/// The teacher (W*, v*) is drawn from the same seed on ChaCha stream 1: W*_jk ~ N(0, 1/p) (so
/// that w*_jᵀ a ~ N(0, ‖w*_j‖²) stays O(1)), then v*_j ~ N(0, 1). Labels
/// y_i = Σ_j v*_j tanh(w*_jᵀ a_i)/√h + s ε_i.
///
/// **Student.** x = (W, v) ∈ R^{hp + h}, W row-major h×p (row j is w_j), then v. With
/// z_j = w_jᵀ a_i, t_j = tanh z_j, σ_j = 1 − t_j², the prediction is
/// ŷ_i(x) = Σ_j v_j t_j/√h, the residual r_i = ŷ_i − y_i, and f_i(x) = ½ r_i².
///
/// * ∇f_i = r_i ∇ŷ_i with ∂ŷ_i/∂W_jk = v_j σ_j a_ik/√h, ∂ŷ_i/∂v_j = t_j/√h.
/// * ∇²f_i = ∇ŷ_i ∇ŷ_iᵀ (Gauss–Newton term) + r_i ∇²ŷ_i, where the only nonzero blocks of ∇²ŷ_i
///   are ∂²ŷ/∂W_jk∂W_jl = −2 v_j t_j σ_j a_ik a_il/√h (same hidden unit j) and
///   ∂²ŷ/∂W_jk∂v_j = σ_j a_ik/√h (and its transpose).
/// * f, ∇f, ∇²f are the means of f_i, ∇f_i, ∇²f_i over i.
///
/// The teacher parameters give f ≈ s²/2 (the label-noise level) but the global minimum of the
/// empirical loss is not known in closed form (with noise the student can overfit below s²/2),
/// so [`Landscape::global_minimum`] is `None`; [`TeacherStudent::teacher_params`] gives the
/// teacher point. Domain [−3, 3]^{hp+h}; no gradient bound is claimed (`None`).
#[derive(Debug, Clone)]
pub struct TeacherStudent {
    input_dim: usize,
    hidden: usize,
    n_samples: usize,
    label_noise: f64,
    inv_sqrt_h: f64,
    /// Inputs, row-major n×p.
    inputs: Vec<f64>,
    /// Labels y_i.
    labels: Vec<f64>,
    /// Teacher (W*, v*) in the student's layout.
    teacher: Vec<f64>,
}

impl TeacherStudent {
    /// A teacher–student problem with input dimension p = `input_dim`, h = `hidden` hidden units,
    /// n = `n_samples` samples and label noise s = `label_noise` ≥ 0, reproducible from `seed`.
    /// The parameter dimension is d = h(p + 1).
    ///
    /// # Errors
    /// `params.input_dim`, `params.hidden`, `params.n_samples` when 0 (or when the data or the
    /// parameter vector would not fit: n·p ≤ 10⁸); `params.label_noise` unless finite and ≥ 0.
    pub fn new(
        input_dim: usize,
        hidden: usize,
        n_samples: usize,
        label_noise: f64,
        seed: u64,
    ) -> Result<Self> {
        let (p, h, n) = (input_dim, hidden, n_samples);
        if p == 0 {
            return Err(Error::invalid("params.input_dim", p, "an integer >= 1"));
        }
        if h == 0 {
            return Err(Error::invalid("params.hidden", h, "an integer >= 1"));
        }
        if n == 0 {
            return Err(Error::invalid("params.n_samples", n, "an integer >= 1"));
        }
        if !(label_noise.is_finite() && label_noise >= 0.0) {
            return Err(Error::invalid(
                "params.label_noise",
                label_noise,
                "a finite number >= 0",
            ));
        }
        if p.checked_add(1).and_then(|q| q.checked_mul(h)).is_none() {
            return Err(Error::invalid(
                "params.hidden",
                h,
                "hidden*(input_dim+1) to fit in memory",
            ));
        }
        if !matches!(n.checked_mul(p), Some(np) if np <= MAX_DATA_ENTRIES) {
            return Err(Error::invalid(
                "params.n_samples",
                n,
                format!(
                    "n_samples*input_dim <= {MAX_DATA_ENTRIES} (stored data) with input_dim = {p}"
                ),
            ));
        }

        let mut teacher_rng = ChaCha8Rng::seed_from_u64(seed);
        teacher_rng.set_stream(1);
        let w_scale = 1.0 / (p as f64).sqrt();
        let mut teacher = Vec::with_capacity(h * p + h);
        for _ in 0..h * p {
            let z: f64 = StandardNormal.sample(&mut teacher_rng);
            teacher.push(w_scale * z);
        }
        for _ in 0..h {
            teacher.push(StandardNormal.sample(&mut teacher_rng));
        }

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let inputs: Vec<f64> = (0..n * p)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let noise: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();

        let mut this = TeacherStudent {
            input_dim: p,
            hidden: h,
            n_samples: n,
            label_noise,
            inv_sqrt_h: 1.0 / (h as f64).sqrt(),
            inputs,
            labels: vec![0.0; n],
            teacher,
        };
        let labels = with_scratch(h, |t| {
            (0..n)
                .map(|i| this.forward(i, &this.teacher, t) + label_noise * noise[i])
                .collect::<Vec<f64>>()
        });
        this.labels = labels;
        Ok(this)
    }

    /// The teacher parameters (W* row-major, then v*), in the student's layout.
    pub fn teacher_params(&self) -> Vec<f64> {
        self.teacher.clone()
    }

    /// Input dimension p.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Number of hidden units h.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Label-noise standard deviation s.
    pub fn label_noise(&self) -> f64 {
        self.label_noise
    }

    fn input(&self, i: usize) -> &[f64] {
        &self.inputs[i * self.input_dim..(i + 1) * self.input_dim]
    }

    /// ŷ_i(x), leaving t_j = tanh(w_jᵀ a_i) in `t`.
    fn forward(&self, i: usize, x: &[f64], t: &mut [f64]) -> f64 {
        let p = self.input_dim;
        let a = self.input(i);
        let (w, v) = x.split_at(self.hidden * p);
        let mut yhat = 0.0;
        for ((tj, wj), vj) in t.iter_mut().zip(w.chunks_exact(p)).zip(v) {
            let z: f64 = wj.iter().zip(a).map(|(wk, ak)| wk * ak).sum();
            *tj = z.tanh();
            yhat += vj * *tj;
        }
        yhat * self.inv_sqrt_h
    }

    /// Add `scale`·∇f_i(x) to `g`; returns f_i(x). `t` is scratch of length h.
    fn add_scaled_sample_gradient(
        &self,
        i: usize,
        x: &[f64],
        scale: f64,
        t: &mut [f64],
        g: &mut [f64],
    ) -> f64 {
        let p = self.input_dim;
        let r = self.forward(i, x, t) - self.labels[i];
        let a = self.input(i);
        let v = &x[self.hidden * p..];
        let (gw, gv) = g.split_at_mut(self.hidden * p);
        let c = scale * r * self.inv_sqrt_h;
        for (((gwj, gvj), &tj), &vj) in gw
            .chunks_exact_mut(p)
            .zip(gv.iter_mut())
            .zip(t.iter())
            .zip(v)
        {
            *gvj += c * tj;
            let cw = c * vj * (1.0 - tj * tj);
            for (gk, ak) in gwj.iter_mut().zip(a) {
                *gk += cw * ak;
            }
        }
        0.5 * r * r
    }
}

/// Run `f` on a zeroed scratch slice of length `len` (on the stack when small).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    if len <= STACK_HIDDEN {
        let mut buf = [0.0; STACK_HIDDEN];
        f(&mut buf[..len])
    } else {
        let mut buf = vec![0.0; len];
        f(&mut buf)
    }
}

impl FiniteSum for TeacherStudent {
    fn n_samples(&self) -> usize {
        self.n_samples
    }

    fn sample_value(&self, i: usize, x: &[f64]) -> f64 {
        with_scratch(self.hidden, |t| {
            let r = self.forward(i, x, t) - self.labels[i];
            0.5 * r * r
        })
    }

    fn add_sample_gradient(&self, i: usize, x: &[f64], g: &mut [f64]) {
        with_scratch(self.hidden, |t| {
            self.add_scaled_sample_gradient(i, x, 1.0, t, g);
        });
    }
}

impl Landscape for TeacherStudent {
    fn kind(&self) -> &'static str {
        "teacher_student"
    }

    fn dim(&self) -> usize {
        self.hidden * (self.input_dim + 1)
    }

    fn value(&self, x: &[f64]) -> f64 {
        with_scratch(self.hidden, |t| {
            let s: f64 = (0..self.n_samples)
                .map(|i| {
                    let r = self.forward(i, x, t) - self.labels[i];
                    0.5 * r * r
                })
                .sum();
            s / self.n_samples as f64
        })
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.value_gradient(x, g);
    }

    fn value_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        g.fill(0.0);
        let scale = 1.0 / self.n_samples as f64;
        with_scratch(self.hidden, |t| {
            let s: f64 = (0..self.n_samples)
                .map(|i| self.add_scaled_sample_gradient(i, x, scale, t, g))
                .sum();
            s * scale
        })
    }

    fn hessian(&self, x: &[f64], hess: &mut [f64]) {
        let (p, h) = (self.input_dim, self.hidden);
        let m = h * (p + 1);
        let nw = h * p;
        let v = &x[nw..];
        let k = self.inv_sqrt_h;
        hess.fill(0.0);
        let mut t = vec![0.0; h];
        let mut jac = vec![0.0; m];
        for i in 0..self.n_samples {
            let r = self.forward(i, x, &mut t) - self.labels[i];
            let a = self.input(i);
            // ∇ŷ_i.
            for j in 0..h {
                let sj = 1.0 - t[j] * t[j];
                for (q, ak) in a.iter().enumerate() {
                    jac[j * p + q] = v[j] * sj * ak * k;
                }
                jac[nw + j] = t[j] * k;
            }
            // Gauss–Newton term ∇ŷ ∇ŷᵀ.
            for (row, &ja) in hess.chunks_exact_mut(m).zip(&jac) {
                for (hab, &jb) in row.iter_mut().zip(&jac) {
                    *hab += ja * jb;
                }
            }
            // Residual × ∇²ŷ.
            for j in 0..h {
                let sj = 1.0 - t[j] * t[j];
                let ww = r * (-2.0 * v[j] * t[j] * sj) * k;
                let wv = r * sj * k;
                for q in 0..p {
                    let row = j * p + q;
                    for l in 0..p {
                        hess[row * m + j * p + l] += ww * a[q] * a[l];
                    }
                    hess[row * m + nw + j] += wv * a[q];
                    hess[(nw + j) * m + row] += wv * a[q];
                }
            }
        }
        // Mean over samples, symmetrised exactly (the residual blocks above are accumulated in
        // different rounding orders for (a, b) and (b, a)).
        let scale = 0.5 / self.n_samples as f64;
        for a in 0..m {
            for b in a..m {
                let v = (hess[a * m + b] + hess[b * m + a]) * scale;
                hess[a * m + b] = v;
                hess[b * m + a] = v;
            }
        }
    }

    fn domain(&self) -> (f64, f64) {
        (-3.0, 3.0)
    }

    fn global_minimum(&self) -> Option<(Vec<f64>, f64)> {
        None
    }

    fn grad_norm_bound(&self) -> Option<f64> {
        None
    }

    fn finite_sum(&self) -> Option<&dyn FiniteSum> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teacher_fits_to_the_noise_level() {
        let ts = TeacherStudent::new(3, 4, 2000, 0.1, 5).unwrap();
        let f = ts.value(&ts.teacher_params());
        // f(teacher) = mean(s² ε_i²)/2 ≈ 0.005.
        assert!((f - 0.005).abs() < 0.001, "{f}");
        let clean = TeacherStudent::new(3, 4, 50, 0.0, 5).unwrap();
        assert_eq!(clean.value(&clean.teacher_params()), 0.0);
    }

    #[test]
    fn reproducible_and_validated() {
        let a = TeacherStudent::new(2, 3, 10, 0.1, 1).unwrap();
        let b = TeacherStudent::new(2, 3, 10, 0.1, 1).unwrap();
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.dim(), 9);
        assert!(TeacherStudent::new(0, 3, 10, 0.1, 1).is_err());
        assert!(TeacherStudent::new(2, 0, 10, 0.1, 1).is_err());
        assert!(TeacherStudent::new(2, 3, 0, 0.1, 1).is_err());
        assert!(TeacherStudent::new(2, 3, 10, -0.1, 1).is_err());
        assert!(TeacherStudent::new(10_000, 3, 10_000_000, 0.1, 1).is_err());
    }
}
