//! The five optimizers of theory.md §2, exactly as defined there, all starting from m_{−1} = 0.
//!
//! | name | rule |
//! |---|---|
//! | SGD | d_t = g_t |
//! | SHB | m_t = g_t + β m_{t−1}; d_t = m_t  (= `torch.optim.SGD(momentum=β, dampening=0)`) |
//! | NSHB | m_t = (1−β) g_t + β m_{t−1}; d_t = m_t (EMA form) |
//! | QHM(ν) | m_t = β m_{t−1} + (1−β) g_t; d_t = (1−ν) g_t + ν m_t |
//! | Nesterov | m_t = g_t + β m_{t−1}; d_t = g_t + β m_t (PyTorch `nesterov=True`) |
//!
//! and x_{t+1} = x_t − η d_t. The search direction d_t is the vector multiplied by η.
//!
//! PyTorch conventions: PyTorch's momentum buffer starts as b_1 = g_1, which equals
//! g_1 + β·0, so SHB and Nesterov here reproduce `torch.optim.SGD(momentum=β, dampening=0,
//! nesterov=…)` step for step. PyTorch's `dampening=β` is *not* NSHB: its first step is g_1, not
//! (1−β) g_1.
//!
//! Every rule is linear in (g_t, m_{t−1}):
//! d_t = c_g g_t + c_m m_{t−1},  m_t = a_g g_t + a_m m_{t−1}  ([`Coefficients`]),
//! which gives the conditional mean of the search-direction noise ω_t = d_t − ∇f(x_t) given the
//! past (for unbiased gradients, E[g_t | past] = ∇f(x_t)):
//! E[ω_t | past] = (c_g − 1) ∇f(x_t) + c_m m_{t−1}, and the random rest c_g (g_t − ∇f(x_t)).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fastmath::Lanes;

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Plain SGD.
    Sgd,
    /// Stochastic heavy ball, PyTorch form.
    Shb,
    /// Normalized SHB, EMA form.
    Nshb,
    /// Quasi-hyperbolic momentum (Ma & Yarats 2019) with immediate discount ν.
    Qhm,
    /// Nesterov momentum, PyTorch form.
    Nesterov,
}

impl OptimizerKind {
    /// All kinds, in the order used in tables.
    pub const ALL: [OptimizerKind; 5] = [
        OptimizerKind::Sgd,
        OptimizerKind::Shb,
        OptimizerKind::Nshb,
        OptimizerKind::Qhm,
        OptimizerKind::Nesterov,
    ];

    /// Lower-case name as used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Shb => "shb",
            OptimizerKind::Nshb => "nshb",
            OptimizerKind::Qhm => "qhm",
            OptimizerKind::Nesterov => "nesterov",
        }
    }

    /// Parse a name; the error names the allowed values.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::invalid("optimizer", s, "one of sgd, shb, nshb, qhm, nesterov"))
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The linear form of an update rule: d_t = c_g g_t + c_m m_{t−1}, m_t = a_g g_t + a_m m_{t−1}.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    /// Weight of g_t in d_t.
    pub c_g: f64,
    /// Weight of m_{t−1} in d_t.
    pub c_m: f64,
    /// Weight of g_t in m_t.
    pub a_g: f64,
    /// Weight of m_{t−1} in m_t.
    pub a_m: f64,
}

/// One of the five update rules as a per-coordinate map (g_t, m_{t−1}) ↦ (m_t, d_t), generic
/// over the lane type (one number, or four lanes at once: the same bits lane by lane).
pub(crate) trait Rule: Copy {
    /// (m_t, d_t).
    fn step<V: Lanes>(self, g: V, m: V) -> (V, V);
}

/// A loop over coordinates that takes an update rule: see [`Optimizer::with_rule`].
pub(crate) trait RuleVisitor {
    /// What the loop returns.
    type Output;
    /// Run the loop with `rule`.
    fn visit<R: Rule>(self, rule: R) -> Self::Output;
}

/// SGD: d_t = g_t (m unchanged).
#[derive(Clone, Copy)]
pub(crate) struct SgdRule;
impl Rule for SgdRule {
    #[inline(always)]
    fn step<V: Lanes>(self, g: V, m: V) -> (V, V) {
        (m, g)
    }
}

/// SHB: m_t = g_t + β m_{t−1}; d_t = m_t.
#[derive(Clone, Copy)]
pub(crate) struct ShbRule {
    b: f64,
}
impl Rule for ShbRule {
    #[inline(always)]
    fn step<V: Lanes>(self, g: V, m: V) -> (V, V) {
        let m = g + V::splat(self.b) * m;
        (m, m)
    }
}

/// NSHB: m_t = (1−β) g_t + β m_{t−1}; d_t = m_t.
#[derive(Clone, Copy)]
pub(crate) struct NshbRule {
    b: f64,
}
impl Rule for NshbRule {
    #[inline(always)]
    fn step<V: Lanes>(self, g: V, m: V) -> (V, V) {
        let m = V::splat(1.0 - self.b) * g + V::splat(self.b) * m;
        (m, m)
    }
}

/// QHM: m_t = β m_{t−1} + (1−β) g_t; d_t = (1−ν) g_t + ν m_t.
#[derive(Clone, Copy)]
pub(crate) struct QhmRule {
    b: f64,
    nu: f64,
}
impl Rule for QhmRule {
    #[inline(always)]
    fn step<V: Lanes>(self, g: V, m: V) -> (V, V) {
        let m = V::splat(self.b) * m + V::splat(1.0 - self.b) * g;
        (m, V::splat(1.0 - self.nu) * g + V::splat(self.nu) * m)
    }
}

/// Nesterov: m_t = g_t + β m_{t−1}; d_t = g_t + β m_t.
#[derive(Clone, Copy)]
pub(crate) struct NesterovRule {
    b: f64,
}
impl Rule for NesterovRule {
    #[inline(always)]
    fn step<V: Lanes>(self, g: V, m: V) -> (V, V) {
        let b = V::splat(self.b);
        let m = g + b * m;
        (m, g + b * m)
    }
}

/// An optimizer: update rule and hyperparameters (η, β, ν). Stateless; the momentum buffer lives
/// in the caller so that one value drives thousands of seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Optimizer {
    /// Update rule.
    pub kind: OptimizerKind,
    /// η, the learning rate (> 0).
    pub lr: f64,
    /// β ∈ [0, 1), the momentum factor (ignored by SGD).
    pub beta: f64,
    /// ν ∈ [0, 1], QHM's immediate discount (used by QHM only).
    pub nu: f64,
}

impl Optimizer {
    /// Build and validate: η finite and > 0, β in [0, 1), ν in [0, 1].
    pub fn new(kind: OptimizerKind, lr: f64, beta: f64, nu: f64) -> Result<Self> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::invalid("lr", lr, "a finite number > 0"));
        }
        if !(beta.is_finite() && (0.0..1.0).contains(&beta)) {
            return Err(Error::invalid("beta", beta, "a number in [0, 1)"));
        }
        if !(nu.is_finite() && (0.0..=1.0).contains(&nu)) {
            return Err(Error::invalid("nu", nu, "a number in [0, 1]"));
        }
        Ok(Self { kind, lr, beta, nu })
    }

    /// The coefficients of the linear form (see the module docs).
    pub fn coefficients(&self) -> Coefficients {
        let (b, nu) = (self.beta, self.nu);
        match self.kind {
            OptimizerKind::Sgd => Coefficients {
                c_g: 1.0,
                c_m: 0.0,
                a_g: 0.0,
                a_m: 0.0,
            },
            OptimizerKind::Shb => Coefficients {
                c_g: 1.0,
                c_m: b,
                a_g: 1.0,
                a_m: b,
            },
            OptimizerKind::Nshb => Coefficients {
                c_g: 1.0 - b,
                c_m: b,
                a_g: 1.0 - b,
                a_m: b,
            },
            OptimizerKind::Qhm => Coefficients {
                c_g: 1.0 - nu * b,
                c_m: nu * b,
                a_g: 1.0 - b,
                a_m: b,
            },
            OptimizerKind::Nesterov => Coefficients {
                c_g: 1.0 + b,
                c_m: b * b,
                a_g: 1.0,
                a_m: b,
            },
        }
    }

    /// Whether the rule keeps a momentum buffer.
    pub fn has_momentum(&self) -> bool {
        self.kind != OptimizerKind::Sgd
    }

    /// One update of the search direction and the momentum buffer, exactly as theory.md §2
    /// writes it: reads g = g_t, updates `m` from m_{t−1} to m_t in place and writes d_t into
    /// `d`. Does not move x (see [`Optimizer::apply`]).
    #[inline]
    pub fn direction(&self, g: &[f64], m: &mut [f64], d: &mut [f64]) {
        struct Direction<'a> {
            g: &'a [f64],
            m: &'a mut [f64],
            d: &'a mut [f64],
        }
        impl RuleVisitor for Direction<'_> {
            type Output = ();
            #[inline(always)]
            fn visit<R: Rule>(self, rule: R) {
                for ((di, mi), gi) in self.d.iter_mut().zip(self.m.iter_mut()).zip(self.g) {
                    (*mi, *di) = rule.step(*gi, *mi);
                }
            }
        }
        self.with_rule(Direction { g, m, d })
    }

    /// The update rule of theory.md §2 as a per-coordinate function
    /// handed to `visitor` as a [`Rule`] (one monomorphised loop per rule, so the caller's loop
    /// vectorises; [`Optimizer::direction`] and the runner's fused step both use
    /// this, the one implementation of each rule). SGD keeps m unchanged.
    #[inline(always)]
    pub(crate) fn with_rule<V: RuleVisitor>(&self, visitor: V) -> V::Output {
        let (b, nu) = (self.beta, self.nu);
        match self.kind {
            OptimizerKind::Sgd => visitor.visit(SgdRule),
            OptimizerKind::Shb => visitor.visit(ShbRule { b }),
            OptimizerKind::Nshb => visitor.visit(NshbRule { b }),
            OptimizerKind::Qhm => visitor.visit(QhmRule { b, nu }),
            OptimizerKind::Nesterov => visitor.visit(NesterovRule { b }),
        }
    }

    /// x ← x − η d.
    #[inline]
    pub fn apply(&self, x: &mut [f64], d: &[f64]) {
        let lr = self.lr;
        for (xi, di) in x.iter_mut().zip(d) {
            *xi -= lr * di;
        }
    }

    /// The effective learning rate: the long-run gain of a constant gradient,
    /// η (c_g + c_m a_g/(1−a_m)): η for SGD, NSHB and QHM, η/(1−β) for SHB and Nesterov.
    pub fn effective_lr(&self) -> f64 {
        let c = self.coefficients();
        if self.kind == OptimizerKind::Sgd {
            return self.lr;
        }
        self.lr * (c.c_g + c.c_m * c.a_g / (1.0 - c.a_m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coefficient form reproduces each literal rule.
    #[test]
    fn coefficients_match_rules() {
        let g = [0.3, -1.2, 2.0];
        let m0 = [0.5, 0.1, -0.7];
        for kind in OptimizerKind::ALL {
            let opt = Optimizer::new(kind, 0.1, 0.85, 0.6).unwrap();
            let c = opt.coefficients();
            let mut m = m0;
            let mut d = [0.0; 3];
            opt.direction(&g, &mut m, &mut d);
            for i in 0..3 {
                let d_lin = c.c_g * g[i] + c.c_m * m0[i];
                assert!((d[i] - d_lin).abs() < 1e-14, "{kind} d");
                if kind != OptimizerKind::Sgd {
                    let m_lin = c.a_g * g[i] + c.a_m * m0[i];
                    assert!((m[i] - m_lin).abs() < 1e-14, "{kind} m");
                }
            }
        }
    }

    #[test]
    fn effective_lr() {
        let shb = Optimizer::new(OptimizerKind::Shb, 0.1, 0.9, 0.0).unwrap();
        assert!((shb.effective_lr() - 1.0).abs() < 1e-12);
        let nshb = Optimizer::new(OptimizerKind::Nshb, 0.1, 0.9, 0.0).unwrap();
        assert!((nshb.effective_lr() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn validation_names_field() {
        let e = Optimizer::new(OptimizerKind::Shb, 0.1, 1.0, 0.0).unwrap_err();
        assert!(e.to_string().contains("beta"));
        let e = Optimizer::new(OptimizerKind::Shb, -0.1, 0.5, 0.0).unwrap_err();
        assert!(e.to_string().contains("lr"));
        let e = Optimizer::new(OptimizerKind::Qhm, 0.1, 0.5, 1.5).unwrap_err();
        assert!(e.to_string().contains("nu"));
    }
}
