//! Implicit graduated optimization (claim C12): schedules that decrease δ, explicit graduated
//! optimization, and argmin's global solvers as baselines at equal gradient budgets.
//! STUB: being written (issue 4).
