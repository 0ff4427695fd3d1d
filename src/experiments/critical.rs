//! Critical batch size (claims C7, C8): SFO sweeps N(b) = b·T(b), b* with a bootstrap interval,
//! and the gradient variance C² three ways (back-solve, direct, B_simple) against the truth.
//! STUB: being written (issue 4).
