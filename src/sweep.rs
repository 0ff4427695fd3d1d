//! Sweeps: a grid of runs from a sweep file, each in its own directory, written atomically;
//! finished runs are skipped so a killed sweep resumes. STUB: being written (issue 9).
