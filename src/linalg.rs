//! Small dense linear-algebra helpers shared by the landscapes and noise laws.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A Haar-distributed random orthogonal d×d matrix (row-major), reproducible from `seed`: the
/// Q factor (with positive diagonal of R) of a matrix of i.i.d. N(0,1) entries drawn from
/// `ChaCha8Rng::seed_from_u64(seed)`, orthonormalised by faer's Householder QR.
pub fn random_orthogonal(d: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = faer::Mat::<f64>::from_fn(d, d, |_, _| StandardNormal.sample(&mut rng));
    let qr = a.qr();
    let q = qr.compute_Q();
    let r = qr.R();
    let mut out = vec![0.0; d * d];
    for j in 0..d {
        // Fix the sign so that diag(R) > 0: this makes Q Haar-distributed (Mezzadri 2007).
        let s = if r[(j, j)] < 0.0 { -1.0 } else { 1.0 };
        for i in 0..d {
            out[i * d + j] = s * q[(i, j)];
        }
    }
    out
}

/// y = Q z for a row-major d×d matrix Q.
#[inline]
pub fn mat_vec(q: &[f64], z: &[f64], y: &mut [f64]) {
    let d = z.len();
    for (i, yi) in y.iter_mut().enumerate() {
        *yi = q[i * d..(i + 1) * d]
            .iter()
            .zip(z)
            .map(|(a, b)| a * b)
            .sum();
    }
}

/// ⟨a, b⟩.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// ‖a‖².
#[inline]
pub fn norm_sq(a: &[f64]) -> f64 {
    dot(a, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_is_orthogonal_and_reproducible() {
        let d = 7;
        let q = random_orthogonal(d, 42);
        assert_eq!(q, random_orthogonal(d, 42));
        assert_ne!(q, random_orthogonal(d, 43));
        for i in 0..d {
            for j in 0..d {
                let s: f64 = (0..d).map(|k| q[i * d + k] * q[j * d + k]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((s - want).abs() < 1e-12);
            }
        }
    }
}
