//! scratch
use momentum_smoothing::experiments::{bounds, Scale};

#[test]
#[ignore]
fn explore() {
    let t = std::time::Instant::now();
    let r = bounds::c6_large_batch(Scale::Quick).unwrap();
    println!("{:?} {}\n{:?}\n{:.1}s", r.verdict, r.evidence, r.counter_example, t.elapsed().as_secs_f64());
    std::fs::write("/tmp/c2x/c6_large_batch.json", serde_json::to_string_pretty(&r.rows).unwrap()).unwrap();
}
