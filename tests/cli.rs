//! `mslab` end to end: bad input is refused with one line naming the field and exit code 2,
//! and nothing is written; good input gives the documented JSON keys; `--out` writes results
//! with provenance and a rerun of the same configuration reuses them.

use std::path::Path;
use std::process::Command;

fn mslab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mslab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run mslab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const GOOD: &str = "name = \"q\"\nkind = \"quadratic\"\ndim = 2\n[params]\neigenvalues = [1.0, 2.0]\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n";

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
