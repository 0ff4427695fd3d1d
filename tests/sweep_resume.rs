//! Interruption (issue 9): a sweep killed with SIGKILL in the middle and started again finishes
//! with every run complete exactly once and no corrupt or stray file. The runs that were complete
//! before the kill are not rerun (their files are byte-identical afterwards), the runs the kill
//! interrupted stop with the sweep (no orphan keeps writing), and every results file parses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const QUAD: &str = "name = \"q\"\nkind = \"quadratic\"\ndim = 4\n[params]\neigenvalues = [1.0, 2.0, 4.0, 8.0]\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n";

const SEEDS_PER_RUN: usize = 32;

fn sweep_file(dir: &Path) -> PathBuf {
    let land = dir.join("q.toml");
    std::fs::write(&land, QUAD).unwrap();
    let text = format!(
        "command = \"simulate\"\nseeds = [0, 1]\n[args]\nlandscape = \"{}\"\noptimizer = \"shb\"\nbatch = 4\nsteps = 20000\nburn_in = 1000\nseeds = {SEEDS_PER_RUN}\n[grid]\nlr = [0.001, 0.002]\nbeta = [0.5, 0.9]\n",
        land.display()
    );
    let file = dir.join("sweep.toml");
    std::fs::write(&file, text).unwrap();
    file
}

fn complete_runs(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut done = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(out) {
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path().join("summary.json")) {
                done.insert(e.file_name().to_string_lossy().to_string(), bytes);
            }
        }
    }
    done
}

fn command(file: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mslab"));
    c.args([
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
        "--threads-per-run",
        "1",
    ])
    .env_remove("MSLAB_SHARD")
    .env_remove("MSLAB_DEVICES")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

#[test]
fn a_sweep_killed_mid_run_resumes_with_every_run_complete_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(dir.path());
    let out = dir.path().join("out");
    let total = 8;

    let mut child = command(&file, &out).spawn().unwrap();
    let start = Instant::now();
    // Kill once some but not all runs are complete (two run at a time, so two are mid-run).
    loop {
        let n = complete_runs(&out).len();
        if n >= 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no run completed"
        );
        assert!(child.try_wait().unwrap().is_none(), "sweep ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The interrupted runs notice their sweep is gone within 0.1 s and stop: after that nothing
    // changes any more (an orphan run would finish within the next second).
    std::thread::sleep(Duration::from_millis(200));
    let before = complete_runs(&out);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        complete_runs(&out),
        before,
        "a run kept writing after its sweep was killed"
    );
    assert!(
        before.len() < total,
        "the sweep finished before it was killed; the test needs slower runs"
    );
    let interrupted: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.path().is_dir() && !before.contains_key(&e.file_name().to_string_lossy().to_string())
        })
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();

    // Restart: the same command.
    let second = command(&file, &out).output().unwrap();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let after = complete_runs(&out);
    assert_eq!(after.len(), total, "{stdout}");
    for (id, bytes) in &before {
        assert_eq!(
            &after[id], bytes,
            "{id} was complete before the kill and was rerun"
        );
    }
    // The index: the runs complete before were skipped, every other ran exactly once now.
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let runs = index["runs"].as_array().unwrap();
    assert_eq!(runs.len(), total);
    let mut ids = std::collections::BTreeSet::new();
    for r in runs {
        let id = r["id"].as_str().unwrap();
        assert!(ids.insert(id.to_string()), "{id} listed twice");
        let want = if before.contains_key(id) {
            "skipped"
        } else {
            "complete"
        };
        assert_eq!(r["status"], want, "{id}");
    }
    assert!(stdout.contains(&format!(
        "{} ran now, {} already complete",
        total - before.len(),
        before.len()
    )));
    assert!(interrupted.iter().all(|id| after.contains_key(id)));

    // No stray or corrupt file anywhere: no temporary files or run markers, every JSON and CSV
    // parses, and each run holds exactly its results.
    for e in walk(&out) {
        let name = e.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !name.contains(".tmp.") && name != ".running",
            "stray file {}",
            e.display()
        );
    }
    for id in after.keys() {
        let run = out.join(id);
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["summary"]["seeds"], SEEDS_PER_RUN);
        assert!(summary["summary"]["omega_norm_mean"].as_f64().unwrap() > 0.0);
        let seeds = csv_rows(&run.join("seeds.csv"));
        assert_eq!(seeds, SEEDS_PER_RUN);
        assert!(csv_rows(&run.join("series.csv")) > 100);
    }
}

fn csv_rows(path: &Path) -> usize {
    let mut r = csv::Reader::from_path(path).unwrap();
    let width = r.headers().unwrap().len();
    let mut n = 0;
    for rec in r.records() {
        assert_eq!(rec.unwrap().len(), width, "{}", path.display());
        n += 1;
    }
    n
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}
