//! Streaming statistics: Welford's running mean and variance, Chan's merge, and 95% confidence
//! intervals over independent seeds.
//!
//! Determinism: merges happen in a fixed order (seed order), so the same seeds give the same bits
//! whatever the number of threads.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Welford's streaming mean and sum of squared deviations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Welford {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Welford {
    /// Empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one observation.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Merge another accumulator (Chan et al.'s parallel update).
    pub fn merge(&mut self, other: &Welford) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        let nf = n as f64;
        self.mean += delta * other.n as f64 / nf;
        self.m2 += other.m2 + delta * delta * self.n as f64 * other.n as f64 / nf;
        self.n = n;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Sample mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.mean
        }
    }

    /// Unbiased sample variance (NaN with fewer than two observations).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// Sample standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Standard error of the mean, s/√n.
    pub fn std_err(&self) -> f64 {
        (self.variance() / self.n as f64).sqrt()
    }

    /// Mean with a two-sided confidence interval at level `level` (e.g. 0.95), from Student's t
    /// with n − 1 degrees of freedom: the observations must be independent (one per seed).
    pub fn estimate(&self, level: f64) -> Estimate {
        let mean = self.mean();
        let half = if self.n >= 2 {
            t_quantile(0.5 + level / 2.0, (self.n - 1) as f64) * self.std_err()
        } else {
            f64::NAN
        };
        Estimate {
            mean,
            ci_low: mean - half,
            ci_high: mean + half,
            std_dev: self.std_dev(),
            n: self.n,
        }
    }
}

/// Quantile of Student's t with `dof` degrees of freedom.
///
/// statrs' inverse CDF loses accuracy for very large `dof`; beyond 1,000 degrees of freedom the
/// Cornish–Fisher expansion around the normal quantile z is used instead:
/// t ≈ z + (z³ + z)/(4ν) + (5z⁵ + 16z³ + 3z)/(96ν²) (error O(ν⁻³) < 10⁻⁹ there).
pub fn t_quantile(p: f64, dof: f64) -> f64 {
    if dof > 1000.0 {
        let Ok(n) = statrs::distribution::Normal::new(0.0, 1.0) else {
            return f64::NAN;
        };
        let z = n.inverse_cdf(p);
        let (z3, z5) = (z.powi(3), z.powi(5));
        return z + (z3 + z) / (4.0 * dof) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * dof * dof);
    }
    match StudentsT::new(0.0, 1.0, dof) {
        Ok(t) => t.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// A mean with its confidence interval.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Estimate {
    /// Sample mean.
    pub mean: f64,
    /// Lower end of the confidence interval.
    pub ci_low: f64,
    /// Upper end of the confidence interval.
    pub ci_high: f64,
    /// Sample standard deviation of the observations.
    pub std_dev: f64,
    /// Number of observations (seeds).
    pub n: u64,
}

impl Estimate {
    /// Half-width of the interval.
    pub fn half_width(&self) -> f64 {
        (self.ci_high - self.ci_low) / 2.0
    }

    /// Whether `v` lies inside the interval.
    pub fn contains(&self, v: f64) -> bool {
        self.ci_low <= v && v <= self.ci_high
    }

    /// Apply a monotone increasing map to the mean and both ends (e.g. η·, √).
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Estimate {
        Estimate {
            mean: f(self.mean),
            ci_low: f(self.ci_low),
            ci_high: f(self.ci_high),
            std_dev: f64::NAN,
            n: self.n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_two_pass_and_merge() {
        let xs: Vec<f64> = (0..101)
            .map(|i| ((i * 37) % 17) as f64 * 0.3 - 1.0)
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        let mut w = Welford::new();
        xs.iter().for_each(|&x| w.push(x));
        assert!((w.mean() - mean).abs() < 1e-12);
        assert!((w.variance() - var).abs() < 1e-12);
        let (mut a, mut b) = (Welford::new(), Welford::new());
        xs[..40].iter().for_each(|&x| a.push(x));
        xs[40..].iter().for_each(|&x| b.push(x));
        a.merge(&b);
        assert!((a.mean() - mean).abs() < 1e-12);
        assert!((a.variance() - var).abs() < 1e-12);
    }

    #[test]
    fn t_quantile_known_values() {
        assert!((t_quantile(0.975, 10.0) - 2.228_138_851_986).abs() < 1e-6);
        assert!((t_quantile(0.975, 1e6) - 1.959_966).abs() < 1e-4);
        // Both branches agree at the switch: t_{0.975, 1000} = 1.962339.
        assert!((t_quantile(0.975, 1000.0) - 1.962_339).abs() < 1e-5);
        assert!((t_quantile(0.975, 1001.0) - 1.962_334).abs() < 1e-5);
        assert!((t_quantile(0.975, 99.0) - 1.984_217).abs() < 1e-5);
    }
}
