//! The claim experiments (claims.md C1–C13), each a function of a [`Scale`] so that the same
//! code runs small in `cargo test`, at figure scale in `figures`, and on demand in
//! `mslab claims`. Each returns a [`ClaimReport`]: the numbers, and the verdict they support.

use serde::Serialize;

pub mod bounds;
pub mod critical;
pub mod equivalence;
pub mod gaussianity;
pub mod igo;
pub mod realcritical;
pub mod realnet;
pub mod smoothing;

/// How big to run an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Seconds: what `cargo test` runs.
    Quick,
    /// Minutes: what the figures and the README numbers come from.
    Full,
}

/// The verdict on a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The claim held in every case checked.
    Holds,
    /// A counter-example was found (it is in the report).
    Fails,
    /// Holds in some settings and fails in others (the report says where).
    Mixed,
    /// Not settled by this experiment.
    Open,
}

/// What one claim experiment found.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimReport {
    /// Claim id, e.g. "C2".
    pub claim: &'static str,
    /// The verdict the numbers support.
    pub verdict: Verdict,
    /// One line of evidence for the README's claims table.
    pub evidence: String,
    /// The smallest counter-example found, where the verdict is fails or mixed.
    pub counter_example: Option<String>,
    /// The rows the verdict rests on (one JSON object per configuration).
    pub rows: Vec<serde_json::Value>,
}

/// A claim experiment: id, what it checks, and the function that runs it.
pub struct ClaimExperiment {
    /// Key used on the command line and as the results file name (e.g. "c2").
    pub key: &'static str,
    /// One-line description.
    pub about: &'static str,
    /// Runs the experiment.
    pub run: fn(Scale) -> crate::Result<ClaimReport>,
}

/// Every claim experiment, in claim order.
pub fn registry() -> Vec<ClaimExperiment> {
    vec![
        ClaimExperiment {
            key: "c1",
            about: "E‖ω^SGD‖ ≤ C/√b",
            run: bounds::c1_sgd_bound,
        },
        ClaimExperiment {
            key: "c2",
            about: "E‖ω^SHB‖ ≤ ψ^SHB (β̂ and tight forms)",
            run: bounds::c2_shb_bound,
        },
        ClaimExperiment {
            key: "c3",
            about: "E‖ω^NSHB‖ ≤ ψ^NSHB (v1 form; v3 hypothesis)",
            run: bounds::c3_nshb_bound,
        },
        ClaimExperiment {
            key: "c4",
            about: "ω is Gaussian and isotropic",
            run: gaussianity::c4_gaussianity,
        },
        ClaimExperiment {
            key: "c5a",
            about: "one-step identity E[y_{t+1}] = y_t − η∇f̂_δ(y_t)",
            run: smoothing::c5_one_step,
        },
        ClaimExperiment {
            key: "c5b",
            about: "outcomes depend on (η, b, β, C, K) only through δ",
            run: smoothing::c5_data_collapse,
        },
        ClaimExperiment {
            key: "c6",
            about: "SHB keeps smoothing as b → ∞, SGD and NSHB do not",
            run: bounds::c6_large_batch,
        },
        ClaimExperiment {
            key: "c7",
            about: "C² < b*ε²/(η·factor) from the critical batch size matches the true C²",
            run: critical::c7_variance_backsolve,
        },
        ClaimExperiment {
            key: "c8",
            about: "b* ∝ 1/ε² (fitted exponent with a bootstrap interval)",
            run: critical::c8_eps_scaling,
        },
        ClaimExperiment {
            key: "c9",
            about: "NSHB ≡ SHB(η(1−β)), Nesterov ≡ QHM, QHM(0) ≡ SGD, QHM(1) ≡ NSHB",
            run: equivalence::c9_equivalences,
        },
        ClaimExperiment {
            key: "c10",
            about: "momentum does (v1) / does not (v4) reduce search-direction noise",
            run: equivalence::c10_momentum_noise,
        },
        ClaimExperiment {
            key: "c12",
            about: "decreasing δ (implicit graduated optimization) beats constant δ",
            run: igo::c12_igo,
        },
        ClaimExperiment {
            key: "c13",
            about: "the convergence bound has the form A/T + B",
            run: equivalence::c13_convergence_shape,
        },
    ]
}
