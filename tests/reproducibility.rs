//! Reproducibility (issue 9): the same seed gives the same bits — across runs and across
//! RAYON_NUM_THREADS = 1 and 2 — for `mslab simulate` and `mslab sweep`; and every results file
//! records what is needed to rerun it: rerunning from the record alone (the configuration
//! embedded in summary.json, or the recorded command line, or the sweep index) gives the same
//! bits again.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Keys that measure the machine, not the computation.
const TIMING: [&str; 2] = ["elapsed_s", "throughput_coord_steps_per_s"];

fn mslab(cwd: &Path, args: &[String], threads: Option<usize>) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mslab"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("MSLAB_SHARD")
        .env_remove("MSLAB_DEVICES")
        .env_remove("RAYON_NUM_THREADS");
    if let Some(t) = threads {
        c.env("RAYON_NUM_THREADS", t.to_string());
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The summary without timing, as text: serde_json prints each f64 as its shortest round-trip
/// form, so equal text is equal bits.
fn numbers(summary: &Value) -> String {
    let mut v = summary.clone();
    for k in TIMING {
        v.as_object_mut().unwrap().remove(k);
    }
    serde_json::to_string(&v).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn simulate_args(land: &str, seed: &str, out: &Path) -> Vec<String> {
    // The finite sum costs n = 512 per-sample gradients per measured step: fewer of them.
    let (steps, every, seeds) = if land.contains("teacher") {
        ("400", "20", "17")
    } else {
        ("1500", "2", "37")
    };
    strings(&[
        "simulate",
        "--landscape",
        land,
        "--optimizer",
        "qhm",
        "--lr",
        "0.01",
        "--batch",
        "3",
        "--beta",
        "0.9",
        "--nu",
        "0.7",
        "--steps",
        steps,
        "--burn-in",
        "100",
        "--every",
        every,
        "--seeds",
        seeds,
        "--seed",
        seed,
        "--json",
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn simulate_gives_the_same_bits_across_runs_and_thread_counts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // A rotated anisotropic law and a finite sum (per-sample gradients): the noise paths with
    // the most arithmetic.
    for land in [
        "landscapes/quadratic-rotated-10d.toml",
        "landscapes/teacher-student.toml",
    ] {
        let mut seen: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
        for (k, threads) in [1, 2, 2].into_iter().enumerate() {
            let out = dir.path().join(format!(
                "{}-{k}",
                Path::new(land).file_stem().unwrap().to_string_lossy()
            ));
            let (code, stdout, err) = mslab(root, &simulate_args(land, "11", &out), Some(threads));
            assert_eq!(code, 0, "{land}: {err}");
            let v: Value = serde_json::from_str(&stdout).unwrap();
            let file = read_json(&out.join("summary.json"));
            assert_eq!(numbers(&file["summary"]), numbers(&v));
            assert_eq!(file["provenance"]["threads"], threads);
            seen.push((
                numbers(&v),
                std::fs::read(out.join("series.csv")).unwrap(),
                std::fs::read(out.join("seeds.csv")).unwrap(),
            ));
        }
        assert_eq!(seen[0].0, seen[1].0, "{land}: 1 vs 2 threads");
        assert_eq!(seen[1].0, seen[2].0, "{land}: two runs with 2 threads");
        assert!(
            seen[0].1 == seen[1].1 && seen[0].2 == seen[1].2,
            "{land}: CSVs differ"
        );
        // The seed matters (the comparison above is not vacuous).
        let out = dir.path().join("other-seed");
        let (_, stdout, _) = mslab(root, &simulate_args(land, "12", &out), Some(2));
        let v: Value = serde_json::from_str(&stdout).unwrap();
        assert_ne!(
            numbers(&v),
            seen[0].0,
            "{land}: seed 12 gave the bits of seed 11"
        );
    }
}

#[test]
fn summary_json_records_what_is_needed_to_rerun_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("first");
    let land = "landscapes/quadratic-rotated-10d.toml";
    let (code, _, err) = mslab(root, &simulate_args(land, "5", &out), None);
    assert_eq!(code, 0, "{err}");
    let rec = read_json(&out.join("summary.json"));
    let p = &rec["provenance"];
    for key in [
        "crate_version",
        "git_commit",
        "git_dirty",
        "device",
        "threads",
        "command",
        "working_dir",
        "unix_time",
    ] {
        assert!(!p[key].is_null(), "provenance lacks {key}");
    }
    assert_eq!(p["git_commit"].as_str().unwrap().len(), 40);
    let run = &rec["config"]["run"];
    for key in ["batch", "steps", "burn_in", "seeds", "seed", "every"] {
        assert!(run[key].is_u64(), "config.run lacks {key}");
    }
    for key in ["kind", "lr", "beta", "nu"] {
        assert!(
            !run["optimizer"][key].is_null(),
            "config.run.optimizer lacks {key}"
        );
    }

    // 1. From the embedded configuration alone: the landscape as recorded (not the file on
    //    disk) and the run's fields, in a different working folder.
    let land_value: toml::Value =
        serde_json::from_value(rec["config"]["landscape"].clone()).unwrap();
    let land_copy = dir.path().join("recorded-landscape.toml");
    std::fs::write(&land_copy, toml::to_string(&land_value).unwrap()).unwrap();
    let o = &run["optimizer"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let out2 = dir.path().join("from-config");
    let args2 = vec![
        "simulate".to_string(),
        "--landscape".into(),
        land_copy.display().to_string(),
        "--optimizer".into(),
        text(&o["kind"]),
        "--lr".into(),
        text(&o["lr"]),
        "--beta".into(),
        text(&o["beta"]),
        "--nu".into(),
        text(&o["nu"]),
        "--batch".into(),
        text(&run["batch"]),
        "--steps".into(),
        text(&run["steps"]),
        "--burn-in".into(),
        text(&run["burn_in"]),
        "--every".into(),
        text(&run["every"]),
        "--seeds".into(),
        text(&run["seeds"]),
        "--seed".into(),
        text(&run["seed"]),
        "--out".into(),
        out2.display().to_string(),
    ];
    let (code, _, err) = mslab(dir.path(), &args2, Some(1));
    assert_eq!(code, 0, "{err}");
    let rec2 = read_json(&out2.join("summary.json"));
    assert_eq!(numbers(&rec2["summary"]), numbers(&rec["summary"]));

    // 2. From the recorded command line, run in the recorded working folder.
    let cmd: Vec<String> = p["command"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let out3 = dir.path().join("from-command");
    let args3: Vec<String> = cmd
        .iter()
        .map(|a| {
            if a == out.to_str().unwrap() {
                out3.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let wd = p["working_dir"].as_str().unwrap();
    let (code, _, err) = mslab(Path::new(wd), &args3, Some(2));
    assert_eq!(code, 0, "{err}");
    let rec3 = read_json(&out3.join("summary.json"));
    assert_eq!(numbers(&rec3["summary"]), numbers(&rec["summary"]));
}

#[test]
fn a_sweep_gives_the_same_bits_whatever_the_threads_and_its_index_reruns_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let sweep = "command = \"simulate\"\nseeds = [0, 3]\n[args]\nlandscape = \"landscapes/rastrigin-2d.toml\"\noptimizer = \"shb\"\nbatch = 2\nsteps = 800\nburn_in = 100\nseeds = 20\n[grid]\nlr = [0.001, 0.004]\n";
    let file = dir.path().join("sweep.toml");
    std::fs::write(&file, sweep).unwrap();
    let mut results = Vec::new();
    for (threads, jobs) in [(1, 1), (2, 2)] {
        let out = dir.path().join(format!("t{threads}"));
        let args = strings(&[
            "sweep",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--jobs",
            &jobs.to_string(),
            "--threads-per-run",
            &threads.to_string(),
        ]);
        let (code, stdout, err) = mslab(root, &args, None);
        assert_eq!(code, 0, "{stdout}\n{err}");
        let index = read_json(&out.join("index.json"));
        assert_eq!(
            index["sweep_text"], sweep,
            "the index records the sweep file"
        );
        let mut runs = Vec::new();
        for r in index["runs"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap().to_string();
            let s = read_json(&out.join(&id).join("summary.json"));
            assert_eq!(s["provenance"]["threads"], threads);
            runs.push((id, numbers(&s["summary"]), r["argv"].clone()));
        }
        assert_eq!(runs.len(), 4);
        results.push((out, runs));
    }
    let (a, b) = (&results[0].1, &results[1].1);
    for (ra, rb) in a.iter().zip(b) {
        assert_eq!(ra.0, rb.0, "run directories differ");
        assert_eq!(ra.1, rb.1, "{}: 1 thread vs 2 threads", ra.0);
    }
    // Rerun one run from the argument list its index row records (with another --out).
    let (id, want, argv) = &a[3];
    let out = dir.path().join("from-index");
    let mut args: Vec<String> = argv
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    let pos = args.iter().position(|x| x == "--out").unwrap();
    args[pos + 1] = out.display().to_string();
    let (code, _, err) = mslab(root, &args, Some(2));
    assert_eq!(code, 0, "{id}: {err}");
    assert_eq!(
        &numbers(&read_json(&out.join("summary.json"))["summary"]),
        want
    );
}
