//! The claim experiments (claims.md C1–C13), each a function of a [`Scale`] so that the same
//! code runs small in `cargo test`, at figure scale in `figures`, and on demand in
//! `mslab claims`. Each returns a [`ClaimReport`]: the numbers, and the verdict they support.

use serde::Serialize;

pub mod bounds;
pub mod equivalence;
pub mod gaussianity;
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
