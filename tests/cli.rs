//! `mslab` end to end: bad input is refused with one line naming the field and exit code 2,
//! and nothing is written; good input gives the documented JSON keys; `--out` writes results
//! with provenance and a rerun of the same configuration reuses them.

use std::path::Path;

mod common;

fn mslab(args: &[&str]) -> (i32, String, String) {
    let (code, out, err) = common::mslab_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, &[]);
    (code.unwrap_or(-1), out, err)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const GOOD: &str = common::GOOD_LANDSCAPE;

#[test]
fn bad_input_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.toml", GOOD);
    let files = [
        ("dim0.toml", GOOD.replace("dim = 2", "dim = 0"), "dim"),
        ("dimhuge.toml", GOOD.replace("dim = 2", "dim = 1000000000000"), "dim"),
        ("kind.toml", GOOD.replace("quadratic", "banana"), "kind"),
        ("law.toml", GOOD.replace("gaussian", "laplace"), "noise.law"),
        ("sigma.toml", GOOD.replace("sigma = 1.0", "sigma = -1.0"), "noise.sigma"),
        ("nan.toml", GOOD.replace("sigma = 1.0", "sigma = nan"), "noise.sigma"),
        ("eig.toml", GOOD.replace("[1.0, 2.0]", "[1.0]"), "params.eigenvalues"),
        ("unknown.toml", GOOD.replace("[noise]", "typo = 3\n[noise]"), "typo"),
        ("param.toml", GOOD.replace("eigenvalues", "amplitude = 1\neigenvalues"), "params.amplitude"),
        ("trunc.toml", GOOD[..40].to_string(), "landscape"),
        ("dof.toml", GOOD.replace("law = \"gaussian\"\nsigma = 1.0", "law = \"student_t\"\nsigma = 1.0\ndof = 2.0"), "noise.dof"),
        ("fs.toml", GOOD.replace("law = \"gaussian\"\nsigma = 1.0", "law = \"finite_sum\""), "noise.law"),
        ("init.toml", format!("{GOOD}[init]\nlow = 1.0\nhigh = -1.0\n"), "init"),
        ("dw.toml", "name = \"d\"\nkind = \"drop_wave\"\ndim = 3\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n".to_string(), "dim"),
    ];
    let base = [
        "simulate",
        "--optimizer",
        "shb",
        "--lr",
        "0.01",
        "--batch",
        "4",
        "--steps",
        "100",
        "--seeds",
        "2",
    ];
    for (name, text, field) in &files {
        let p = write(dir.path(), name, text);
        let out_dir = dir.path().join(format!("out-{name}"));
        let mut args: Vec<&str> = base.to_vec();
        let od = out_dir.display().to_string();
        args.extend(["--landscape", &p, "--out", &od]);
        let (code, _out, err) = mslab(&args);
        assert_eq!(code, 2, "{name}: exit code {code}, stderr {err}");
        assert!(err.contains(field), "{name}: {err:?} does not name {field}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{name}: more than one line: {err:?}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!out_dir.exists(), "{name}: wrote output");
    }
    let flags: [(&[&str], &str); 9] = [
        (&["--lr", "0"], "lr"),
        (&["--lr", "inf"], "lr"),
        (&["--beta", "1.0"], "beta"),
        (&["--beta", "-0.1"], "beta"),
        (&["--nu", "1.5"], "nu"),
        (&["--batch", "0"], "batch"),
        (&["--batch", "2.5"], "batch"),
        (&["--burn-in", "100"], "burn-in"),
        (&["--every", "0"], "every"),
    ];
    for (extra, field) in flags {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--landscape", &good]);
        args.extend(extra);
        let (code, _, err) = mslab(&args);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(field), "{extra:?}: {err:?}");
    }
    let (code, _, err) = mslab(&[
        "simulate",
        "--landscape",
        "/nonexistent.toml",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--batch",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.toml"));
    let (code, _, err) = mslab(&[
        "predict",
        "--optimizer",
        "adam",
        "--lr",
        "0.1",
        "--batch",
        "1",
        "--c2",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("sgd, shb, nshb, qhm, nesterov"), "{err}");
    let (code, _, err) = mslab(&[
        "predict",
        "--optimizer",
        "shb",
        "--lr",
        "0.1",
        "--batch",
        "1",
        "--c2",
        "1",
    ]);
    assert_eq!(code, 2, "SHB without K: {err}");
    assert!(err.contains('k'));
}

#[test]
fn predict_json_has_the_paper_formula() {
    let (code, out, err) = mslab(&[
        "predict",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--batch",
        "8",
        "--c2",
        "1280",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!((v["delta"].as_f64().unwrap() - 1.265).abs() < 5e-4);
    let (code, out, _) = mslab(&[
        "predict",
        "--optimizer",
        "shb",
        "--lr",
        "0.1",
        "--batch",
        "8",
        "--beta",
        "0.9",
        "--c2",
        "25.318",
        "--k",
        "1.77",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!((v["delta"].as_f64().unwrap() - 2.278).abs() < 5e-4);
    assert!(v["formulas"].as_array().unwrap().len() >= 2);
}

#[test]
fn simulate_json_keys_and_resumable_out() {
    let dir = tempfile::tempdir().unwrap();
    let land = write(dir.path(), "q.toml", GOOD);
    let out = dir.path().join("run");
    let od = out.display().to_string();
    let args = [
        "simulate",
        "--landscape",
        &land,
        "--optimizer",
        "nshb",
        "--lr",
        "0.05",
        "--batch",
        "2",
        "--steps",
        "2000",
        "--burn-in",
        "500",
        "--seeds",
        "16",
        "--json",
        "--out",
        &od,
    ];
    let (code, stdout, err) = mslab(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "omega_norm_mean",
        "omega_norm_sq_mean",
        "psi_bound",
        "delta_pred",
        "delta_emp",
        "final_loss_mean",
        "c2",
        "k",
    ] {
        assert!(v.get(key).is_some_and(|x| !x.is_null()), "missing {key}");
    }
    assert_eq!(v["c2"].as_f64().unwrap(), 2.0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for key in [
        "git_commit",
        "git_dirty",
        "crate_version",
        "device",
        "command",
    ] {
        assert!(
            summary["provenance"].get(key).is_some(),
            "provenance lacks {key}"
        );
    }
    assert_eq!(summary["config"]["run"]["seed"], 0);
    assert!(
        std::fs::read_to_string(out.join("series.csv"))
            .unwrap()
            .lines()
            .count()
            > 10
    );
    assert_eq!(
        std::fs::read_to_string(out.join("seeds.csv"))
            .unwrap()
            .lines()
            .count(),
        17
    );
    // Same configuration again: reused, same numbers.
    let (code, stdout2, err2) = mslab(&args);
    assert_eq!(code, 0);
    assert!(err2.contains("already complete"), "{err2}");
    let v2: serde_json::Value = serde_json::from_str(&stdout2).unwrap();
    assert_eq!(v["omega_norm_mean"], v2["omega_norm_mean"]);
}

#[test]
fn qhm_prediction_is_labelled_beyond_the_paper() {
    let (code, out, err) = mslab(&[
        "predict",
        "--optimizer",
        "qhm",
        "--lr",
        "0.1",
        "--batch",
        "8",
        "--beta",
        "0.9",
        "--nu",
        "0.7",
        "--c2",
        "128",
        "--k",
        "4.5",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["delta"].is_null(), "the paper gives no QHM formula");
    assert!(v["open"].as_str().is_some());
}

#[test]
fn landscapes_lists_every_shipped_file() {
    let (code, out, err) = mslab(&["landscapes"]);
    assert_eq!(code, 0, "{err}");
    let n = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("landscapes"))
        .unwrap()
        .count();
    assert!(n >= 10);
    assert!(
        !out.contains("error:"),
        "a shipped landscape file fails to build:\n{out}"
    );
}

const SWEEP: &str = "command = \"simulate\"\nseeds = [0, 1]\n[args]\nlandscape = \"LAND\"\noptimizer = \"sgd\"\nbatch = 2\nsteps = 300\nseeds = 8\n[grid]\nlr = [0.01, 0.02, 0.05]\n";

#[test]
fn sweep_dry_run_lists_the_runs_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let land = write(dir.path(), "q.toml", GOOD);
    let file = write(dir.path(), "s.toml", &SWEEP.replace("LAND", &land));
    let out = dir.path().join("out");
    let (code, stdout, err) = mslab(&["sweep", &file, "--out", out.to_str().unwrap(), "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.starts_with("6 runs of `mslab simulate`"), "{stdout}");
    assert_eq!(stdout.matches("pending").count(), 6);
    assert!(stdout.contains("lr=0.05_seed=1__"), "{stdout}");
    assert!(stdout.contains("--lr 0.02 --seed 0 --out"), "{stdout}");
    assert!(!out.exists());
    let (_, stdout, _) = mslab(&[
        "sweep",
        &file,
        "--out",
        out.to_str().unwrap(),
        "--dry-run",
        "--shard",
        "1/4",
    ]);
    assert!(
        stdout.starts_with("2 runs of `mslab simulate` in shard 1/4 of 6"),
        "{stdout}"
    );
}

#[test]
fn sweep_shards_split_the_runs_and_together_complete_them() {
    let dir = tempfile::tempdir().unwrap();
    let land = write(dir.path(), "q.toml", GOOD);
    let file = write(dir.path(), "s.toml", &SWEEP.replace("LAND", &land));
    let out = dir.path().join("out");
    for shard in ["0/2", "1/2"] {
        let (code, stdout, err) = mslab(&[
            "sweep",
            &file,
            "--out",
            out.to_str().unwrap(),
            "--shard",
            shard,
            "--jobs",
            "2",
        ]);
        assert_eq!(code, 0, "{stdout}{err}");
        assert!(stdout.contains("3 runs in shard"), "{stdout}");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, name) in ["index.shard-0-of-2.json", "index.shard-1-of-2.json"]
        .iter()
        .enumerate()
    {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap();
        for r in v["runs"].as_array().unwrap() {
            assert_eq!(r["index"].as_u64().unwrap() % 2, i as u64);
            assert_eq!(r["status"], "complete");
            assert!(seen.insert(r["id"].as_str().unwrap().to_string()));
            assert!(out
                .join(r["id"].as_str().unwrap())
                .join("summary.json")
                .exists());
        }
    }
    assert_eq!(seen.len(), 6);
}

/// Devices go to job slots round-robin, as `--device`, for any subcommand that takes one; the
/// child learns its sweep's process id and its thread count. (A stand-in executable records what
/// it was given, so this runs without libtorch.)
#[cfg(unix)]
#[test]
fn sweep_passes_devices_round_robin_to_its_runs() {
    use momentum_smoothing::sweep::{execute, ExecOptions, RunStatus, Shard, SweepFile};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("fake-mslab");
    std::fs::write(
        &exe,
        "#!/bin/sh\nout=''; dev=''\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    --out) out=\"$2\"; shift ;;\n    --device) dev=\"$2\"; shift ;;\n  esac\n  shift\ndone\nprintf '{\"summary\": {\"seeds\": 1, \"diverged\": 0}, \"device\": \"%s\", \"parent\": \"%s\", \"threads\": \"%s\"}' \"$dev\" \"$MSLAB_SWEEP_PARENT\" \"$RAYON_NUM_THREADS\" > \"$out/.summary.json.tmp.1\"\nmv \"$out/.summary.json.tmp.1\" \"$out/summary.json\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text =
        "command = \"train\"\nseeds = 4\n[args]\nmodel = \"resnet18\"\n[grid]\nlr = [0.1, 0.01]\n";
    let sweep = SweepFile::parse(text).unwrap();
    let opts = ExecOptions {
        exe,
        out: dir.path().join("out"),
        jobs: 4,
        shard: Shard::ALL,
        devices: vec!["cuda:0".into(), "cuda:1".into()],
        threads_per_run: Some(3),
        sweep_path: "s.toml".into(),
        sweep_text: text.into(),
    };
    let report = execute(&sweep, &opts, &indicatif::ProgressBar::hidden()).unwrap();
    assert_eq!(report.count(RunStatus::Complete), 8);
    let mut per_device = std::collections::BTreeMap::new();
    for r in &report.rows {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(opts.out.join(&r.id).join("summary.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["device"], r.device.clone().unwrap().as_str());
        assert_eq!(v["parent"], std::process::id().to_string());
        assert_eq!(v["threads"], "3");
        assert!(r.argv.windows(2).any(|w| w[0] == "--device"));
        *per_device.entry(r.device.clone().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(
        per_device.keys().cloned().collect::<Vec<_>>(),
        ["cuda:0", "cuda:1"]
    );
}

/// `mslab … | head`: a closed stdout ends the process by SIGPIPE, quietly, instead of a panic
/// in `println!` (Rust ignores SIGPIPE by default).
#[cfg(unix)]
#[test]
fn closed_stdout_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mslab"))
        .args(["sweep", "sweeps/shb-quadratic.toml", "--dry-run"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run mslab");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "panicked on a closed pipe: {stderr}"
    );
    assert_eq!(out.status.signal(), Some(13), "status {:?}", out.status);
}
