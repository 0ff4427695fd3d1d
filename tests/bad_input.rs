//! Bad input, end to end (issue 9): every row of the table goes through the `mslab` binary and
//! must give exit code 2, exactly one stderr line naming the field and the allowed values, no
//! panic, and nothing written (neither the --out folder nor anything in the working folder).
//! The file rows also go through the parsers directly (`LandscapeFile`, `SweepFile`).
//!
//! Room for more rows: the torch helper adds idx and CIFAR reader rows in its own test file.

use std::path::{Path, PathBuf};

use momentum_smoothing::config::LandscapeFile;
use momentum_smoothing::sweep::SweepFile;

mod common;

const GOOD: &str = common::GOOD_LANDSCAPE;

const TEACHER: &str = "name = \"ts\"\nkind = \"teacher_student\"\ndim = 6\n[params]\ninput_dim = 2\nhidden = 2\nn_samples = 16\n[noise]\nlaw = \"finite_sum\"\n";

const SWEEP: &str = "command = \"simulate\"\nseeds = [0, 1]\n[args]\nlandscape = \"LAND\"\noptimizer = \"sgd\"\nbatch = 1\nsteps = 50\nseeds = 2\n[grid]\nlr = [0.01, 0.1]\n";

/// One bad input: how to run it and what the single error line must contain.
struct Case {
    name: String,
    /// Arguments after `mslab`; `OUT` is replaced by this case's output folder.
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// The field the message must name.
    field: &'static str,
    /// A piece of the allowed values the message must state (alternatives separated by '|').
    allowed: &'static str,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// `simulate` on `land` with the default good flags, `extra` replacing/adding flags.
fn simulate(land: &str, extra: &[&str]) -> Vec<String> {
    let mut args = s(&[
        "simulate",
        "--landscape",
        land,
        "--optimizer",
        "shb",
        "--lr",
        "0.01",
        "--batch",
        "2",
        "--steps",
        "50",
        "--seeds",
        "2",
        "--out",
        "OUT",
    ]);
    let mut i = 0;
    while i < extra.len() {
        let flag = extra[i];
        let value = extra.get(i + 1).copied();
        if let Some(pos) = args.iter().position(|a| a == flag) {
            if let Some(v) = value.filter(|v| !v.starts_with("--")) {
                args[pos + 1] = v.to_string();
                i += 2;
                continue;
            }
        }
        args.push(flag.to_string());
        i += 1;
    }
    args
}

fn case(
    name: impl Into<String>,
    args: Vec<String>,
    field: &'static str,
    allowed: &'static str,
) -> Case {
    Case {
        name: name.into(),
        args,
        env: vec![],
        field,
        allowed,
    }
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join("files").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
    fn write_bytes(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.path().join("files").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }
}

/// Landscape file variants: (name, text, field, allowed).
fn landscape_rows() -> Vec<(&'static str, String, &'static str, &'static str)> {
    let g = GOOD;
    let rot = format!(
        "name = \"r\"\nkind = \"quadratic\"\ndim = 5000\n[params]\nrotation_seed = 1\neigenvalues = [{}]\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n",
        vec!["1.0"; 5000].join(", ")
    );
    vec![
        ("dim-zero", g.replace("dim = 2", "dim = 0"), "dim", "an integer in [1, "),
        ("dim-1e12", g.replace("dim = 2", "dim = 1000000000000"), "dim", "an integer in [1, "),
        ("dim-negative", g.replace("dim = 2", "dim = -3"), "dim", "an integer in [1, "),
        ("dim-fraction", g.replace("dim = 2", "dim = 2.5"), "dim", "an integer in [1, "),
        ("dim-string", g.replace("dim = 2", "dim = \"two\""), "dim", "an integer in [1, "),
        ("dim-missing", g.replace("dim = 2\n", ""), "dim", "(required)"),
        ("kind-unknown", g.replace("\"quadratic\"", "\"banana\""), "kind", "rastrigin"),
        ("kind-number", g.replace("\"quadratic\"", "3"), "kind", "rastrigin"),
        ("kind-missing", g.replace("kind = \"quadratic\"\n", ""), "kind", "(required)"),
        ("name-missing", g.replace("name = \"q\"\n", ""), "name", "a string"),
        ("law-unknown", g.replace("gaussian", "laplace"), "noise.law", "student_t"),
        ("law-missing", g.replace("law = \"gaussian\"\n", ""), "noise.law", "gaussian"),
        ("noise-missing", g[..g.find("[noise]").unwrap()].to_string(), "noise", "law"),
        ("sigma-negative", g.replace("sigma = 1.0", "sigma = -1.0"), "noise.sigma", ">= 0"),
        ("sigma-nan", g.replace("sigma = 1.0", "sigma = nan"), "noise.sigma", ">= 0"),
        ("sigma-inf", g.replace("sigma = 1.0", "sigma = inf"), "noise.sigma", ">= 0"),
        ("sigma-string", g.replace("sigma = 1.0", "sigma = \"big\""), "noise.sigma", "a number"),
        ("eigenvalues-short", g.replace("[1.0, 2.0]", "[1.0]"), "params.eigenvalues", "dim = 2"),
        ("eigenvalues-nan", g.replace("[1.0, 2.0]", "[1.0, nan]"), "params.eigenvalues", "finite"),
        ("eigenvalues-missing", g.replace("eigenvalues = [1.0, 2.0]\n", ""), "params.eigenvalues", "dim = 2"),
        ("key-unknown", g.replace("[params]", "typo = 3\n[params]"), "typo", "one of: name, kind"),
        ("param-unknown", g.replace("eigenvalues", "amplitude = 1\neigenvalues"), "params.amplitude", "one of: eigenvalues"),
        ("truncated", g[..40].to_string(), "landscape", "TOML with name"),
        ("truncated-mid-table", g[..g.len() - 6].to_string(), "landscape", "TOML with name"),
        ("malformed", "[[[\nname = ".to_string(), "landscape", "TOML with name"),
        ("empty", String::new(), "name", "a string"),
        ("student-t-dof-2", g.replace("law = \"gaussian\"\nsigma = 1.0", "law = \"student_t\"\nsigma = 1.0\ndof = 2.0"), "noise.dof", "> 2"),
        ("finite-sum-on-quadratic", g.replace("law = \"gaussian\"\nsigma = 1.0", "law = \"finite_sum\""), "noise.law", "teacher_student"),
        ("multiplicative-alpha", g.replace("law = \"gaussian\"\nsigma = 1.0", "law = \"multiplicative\"\nsigma = 1.0\nalpha = -1.0"), "noise.alpha", ">= 0"),
        ("anisotropic-no-variances", g.replace("law = \"gaussian\"\nsigma = 1.0", "law = \"anisotropic\"\nsigma = 1.0"), "noise.variances", "power_law"),
        ("variances-count", g.replace("sigma = 1.0", "variances = [1.0, 2.0, 3.0]"), "noise.variances", "dim = 2"),
        ("variances-and-power-law", g.replace("sigma = 1.0", "sigma = 1.0\nvariances = [1.0, 2.0]\npower_law = 1.0"), "noise.power_law", "not both"),
        ("init-reversed", format!("{g}[init]\nlow = 1.0\nhigh = -1.0\n"), "init", "low <= high"),
        ("init-nan", format!("{g}[init]\nlow = nan\nhigh = 1.0\n"), "init", "finite"),
        ("init-missing-high", format!("{g}[init]\nlow = 0.0\n"), "init.high", "a number"),
        ("drop-wave-3d", "name = \"d\"\nkind = \"drop_wave\"\ndim = 3\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n".into(), "dim", "2 (drop_wave"),
        ("rosenbrock-1d", "name = \"r\"\nkind = \"rosenbrock\"\ndim = 1\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n".into(), "dim", ">= 2"),
        ("rastrigin-amplitude", "name = \"r\"\nkind = \"rastrigin\"\ndim = 2\n[params]\namplitude = -1.0\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n".into(), "amplitude", "> 0"),
        ("teacher-dim-mismatch", TEACHER.replace("dim = 6", "dim = 7"), "dim", "hidden*(input_dim+1)"),
        ("teacher-n-zero", TEACHER.replace("n_samples = 16", "n_samples = 0"), "params.n_samples", "an integer in [1, "),
        ("teacher-data-huge", TEACHER.replace("n_samples = 16", "n_samples = 10000000").replace("input_dim = 2", "input_dim = 10000").replace("dim = 6", "dim = 20002"), "params.n_samples", "fits in the available memory|n_samples*input_dim <="),
        ("teacher-data-beyond-memory", TEACHER.replace("n_samples = 16", "n_samples = 1000000000000").replace("input_dim = 2", "input_dim = 1").replace("dim = 6", "dim = 4"), "params.n_samples", "GiB are available"),
        ("rotation-too-big", rot, "params.rotation_seed", "dim <= 4096"),
    ]
}

/// Sweep file variants: (name, text, field, allowed). `LAND` is a good landscape file.
fn sweep_rows() -> Vec<(&'static str, String, &'static str, &'static str)> {
    let w = SWEEP;
    vec![
        (
            "sweep-malformed",
            "command = \"simulate\n[grid".into(),
            "sweep",
            "TOML with command",
        ),
        (
            "sweep-truncated",
            w[..30].to_string(),
            "sweep",
            "TOML with command",
        ),
        ("sweep-empty", String::new(), "command", "simulate"),
        (
            "sweep-unknown-key",
            format!("typo = 1\n{w}"),
            "typo",
            "one of: name",
        ),
        (
            "sweep-command-unknown",
            w.replace("\"simulate\"", "\"predict\""),
            "command",
            "critical",
        ),
        (
            "sweep-command-number",
            w.replace("\"simulate\"", "7"),
            "command",
            "critical",
        ),
        (
            "sweep-train-without-torch",
            w.replace("\"simulate\"", "\"train\""),
            "command",
            "--features torch",
        ),
        (
            "sweep-grid-not-list",
            w.replace("lr = [0.01, 0.1]", "lr = 0.1"),
            "grid.lr",
            "a list of values",
        ),
        (
            "sweep-grid-empty",
            w.replace("lr = [0.01, 0.1]", "lr = []"),
            "grid.lr",
            "a list of 1 to",
        ),
        (
            "sweep-grid-duplicate",
            w.replace("lr = [0.01, 0.1]", "lr = [0.1, 0.1]"),
            "grid.lr",
            "distinct values",
        ),
        (
            "sweep-grid-nan",
            w.replace("lr = [0.01, 0.1]", "lr = [0.1, nan]"),
            "grid.lr",
            "a finite number",
        ),
        (
            "sweep-grid-table",
            w.replace("lr = [0.01, 0.1]", "lr = [{a = 1}]"),
            "grid.lr",
            "a string, a number",
        ),
        (
            "sweep-grid-uppercase",
            w.replace("lr = [0.01, 0.1]", "LR = [0.1]"),
            "grid.LR",
            "lowercase letters",
        ),
        (
            "sweep-args-and-grid",
            w.replace("batch = 1", "lr = 0.1"),
            "grid.lr",
            "not both",
        ),
        (
            "sweep-args-out",
            w.replace("batch = 1", "batch = 1\nout = \"x\""),
            "args.out",
            "the sweep sets --out",
        ),
        (
            "sweep-args-inf",
            w.replace("batch = 1", "batch = inf"),
            "args.batch",
            "a finite number",
        ),
        (
            "sweep-seeds-negative",
            w.replace("seeds = [0, 1]", "seeds = [-1]"),
            "seeds",
            "integers >= 0",
        ),
        (
            "sweep-seeds-duplicate",
            w.replace("seeds = [0, 1]", "seeds = [1, 1]"),
            "seeds",
            "distinct integers",
        ),
        (
            "sweep-seeds-zero-count",
            w.replace("seeds = [0, 1]", "seeds = 0"),
            "seeds",
            "a count in [1, ",
        ),
        (
            "sweep-seed-in-grid-too",
            w.replace("lr = [0.01, 0.1]", "lr = [0.1]\nseed = [1, 2]"),
            "seeds",
            "not both",
        ),
        (
            "sweep-flag-unknown",
            w.replace("batch = 1", "batch = 1\nstepz = 3"),
            "args.stepz",
            "a flag of mslab simulate: landscape",
        ),
        (
            "sweep-too-many-runs",
            w.replace(
                "lr = [0.01, 0.1]",
                &format!(
                    "lr = [{}]\nbeta = [{}]",
                    (1..=1000)
                        .map(|i| format!("{i}.5"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    (1..=1000)
                        .map(|i| format!("0.{i:04}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            "grid.",
            "at most 100000 runs",
        ),
    ]
}

fn run(cwd: &Path, args: &[String], env: &[(&str, String)]) -> (Option<i32>, String) {
    let (code, _, err) = common::mslab_in(cwd, args, env);
    (code, err)
}

#[test]
fn every_bad_input_is_refused_on_one_line_and_nothing_is_written() {
    let files = Files {
        dir: tempfile::tempdir().unwrap(),
    };
    let good = files.write("good.toml", GOOD);
    let teacher = files.write("teacher.toml", TEACHER);
    let mut cases: Vec<Case> = Vec::new();

    for (name, text, field, allowed) in landscape_rows() {
        // The parser alone: an error naming the field, on one line.
        let parsed = LandscapeFile::parse(&text).and_then(|f| f.build().map(|_| ()));
        let msg = parsed.expect_err(name).to_string();
        assert!(
            msg.contains(field) || field == "landscape",
            "{name}: parser error {msg:?} lacks {field}"
        );
        assert_eq!(msg.lines().count(), 1, "{name}: {msg:?}");
        let p = files.write(&format!("{name}.toml"), &text);
        cases.push(case(name, simulate(&p, &[]), field, allowed));
    }
    cases.push(case(
        "landscape-missing-file",
        simulate("/nonexistent/landscape.toml", &[]),
        "/nonexistent/landscape.toml",
        "a readable UTF-8 landscape TOML",
    ));
    let binary = files.write_bytes("binary.toml", &[0xff, 0xfe, 0x00, 0x01, 0x80]);
    cases.push(case(
        "landscape-not-utf8",
        simulate(&binary, &[]),
        "binary.toml",
        "a readable UTF-8 landscape TOML",
    ));

    let flag_rows: Vec<(&str, Vec<&str>, &str, &str)> = vec![
        ("lr-zero", vec!["--lr", "0"], "lr", "> 0"),
        ("lr-negative", vec!["--lr", "-1"], "lr", "> 0"),
        ("lr-inf", vec!["--lr", "inf"], "lr", "finite"),
        ("lr-nan", vec!["--lr", "nan"], "lr", "finite"),
        ("lr-text", vec!["--lr", "fast"], "--lr", "a number"),
        ("beta-one", vec!["--beta", "1.0"], "beta", "[0, 1)"),
        ("beta-negative", vec!["--beta", "-0.1"], "beta", "[0, 1)"),
        ("beta-nan", vec!["--beta", "nan"], "beta", "[0, 1)"),
        (
            "nu-above-one",
            vec!["--optimizer", "qhm", "--nu", "1.5"],
            "nu",
            "[0, 1]",
        ),
        (
            "optimizer-unknown",
            vec!["--optimizer", "adam"],
            "optimizer",
            "nesterov",
        ),
        (
            "batch-zero",
            vec!["--batch", "0"],
            "batch",
            "an integer >= 1",
        ),
        (
            "batch-fraction",
            vec!["--batch", "2.5"],
            "batch",
            "an integer >= 1",
        ),
        (
            "batch-absurd",
            vec!["--batch", "1e13"],
            "batch",
            "an integer >= 1",
        ),
        (
            "steps-zero",
            vec!["--steps", "0"],
            "steps",
            "an integer >= 1",
        ),
        (
            "steps-negative",
            vec!["--steps", "-5"],
            "--steps",
            "a non-negative integer",
        ),
        (
            "seeds-zero",
            vec!["--seeds", "0"],
            "seeds",
            "an integer >= 1",
        ),
        (
            "seeds-float",
            vec!["--seeds", "1e12"],
            "--seeds",
            "a non-negative integer",
        ),
        (
            "seeds-beyond-memory",
            vec!["--seeds", "100000000000"],
            "seeds",
            "GiB are available",
        ),
        (
            "burn-in-all",
            vec!["--burn-in", "50"],
            "burn-in",
            "[0, steps = 50)",
        ),
        (
            "every-zero",
            vec!["--every", "0"],
            "every",
            "an integer >= 1",
        ),
        (
            "seed-negative",
            vec!["--seed", "-1"],
            "--seed",
            "an integer in [0, 2^64)",
        ),
        (
            "flag-unknown",
            vec!["--frobnicate"],
            "--frobnicate",
            "unexpected argument",
        ),
    ];
    for (name, extra, field, allowed) in flag_rows {
        cases.push(case(name, simulate(&good, &extra), field, allowed));
    }
    // b > n and b = 0 on a finite-sum landscape (n = 16 samples).
    cases.push(case(
        "batch-above-n",
        simulate(&teacher, &["--batch", "17"]),
        "batch",
        "[1, n = 16]",
    ));
    // dim = 10⁷ with 10¹⁰ seeds: refused from the memory estimate before anything is allocated.
    let big = files.write(
        "rastrigin-1e7.toml",
        "name = \"big\"\nkind = \"rastrigin\"\ndim = 10000000\n[noise]\nlaw = \"gaussian\"\nsigma = 1.0\n",
    );
    cases.push(case(
        "dim-1e7-seeds-1e10-beyond-memory",
        simulate(&big, &["--seeds", "10000000000"]),
        "seeds",
        "GiB are available",
    ));
    let missing_lr: Vec<String> = simulate(&good, &[])
        .into_iter()
        .filter(|a| a != "--lr" && a != "0.01")
        .collect();
    cases.push(case("lr-missing", missing_lr, "--lr", "required"));
    cases.push(case(
        "predict-c2-negative",
        s(&[
            "predict",
            "--optimizer",
            "sgd",
            "--lr",
            "0.1",
            "--batch",
            "8",
            "--c2",
            "-1",
        ]),
        "c2",
        ">= 0",
    ));
    cases.push(case(
        "predict-shb-without-k",
        s(&[
            "predict",
            "--optimizer",
            "shb",
            "--lr",
            "0.1",
            "--batch",
            "8",
            "--c2",
            "1",
        ]),
        "k",
        "K",
    ));
    cases.push(case(
        "subcommand-unknown",
        s(&["simulat"]),
        "simulat",
        "unrecognized subcommand",
    ));

    let land_for_sweeps = files.write("sweep-land.toml", GOOD);
    for (name, text, field, allowed) in sweep_rows() {
        let text = text.replace("LAND", &land_for_sweeps);
        if name != "sweep-train-without-torch" && name != "sweep-flag-unknown" {
            let msg = SweepFile::parse(&text).expect_err(name).to_string();
            assert!(
                msg.contains(field) || field == "sweep",
                "{name}: parser error {msg:?} lacks {field}"
            );
            assert_eq!(msg.lines().count(), 1, "{name}: {msg:?}");
        }
        if name == "sweep-train-without-torch" && cfg!(feature = "torch") {
            continue;
        }
        let p = files.write(&format!("{name}.toml"), &text);
        cases.push(case(
            name,
            s(&["sweep", &p, "--out", "OUT"]),
            field,
            allowed,
        ));
    }
    let good_sweep = files.write("good-sweep.toml", &SWEEP.replace("LAND", &land_for_sweeps));
    cases.push(case(
        "sweep-missing-file",
        s(&["sweep", "/nonexistent/sweep.toml", "--out", "OUT"]),
        "/nonexistent/sweep.toml",
        "cannot read sweep file",
    ));
    for (name, extra, field, allowed) in [
        (
            "sweep-shard-out-of-range",
            vec!["--shard", "3/2"],
            "shard",
            "0 <= i < n",
        ),
        (
            "sweep-shard-malformed",
            vec!["--shard", "half"],
            "shard",
            "0 <= i < n",
        ),
        ("sweep-jobs-zero", vec!["--jobs", "0"], "--jobs", "1..=1024"),
        (
            "sweep-devices-unknown",
            vec!["--devices", "gpu7"],
            "devices",
            "cuda:K",
        ),
        (
            "sweep-devices-without-device-flag",
            vec!["--devices", "cuda:0"],
            "devices",
            "takes no --device",
        ),
    ] {
        let mut args = s(&["sweep", &good_sweep, "--out", "OUT"]);
        args.extend(s(&extra));
        cases.push(case(name, args, field, allowed));
    }
    cases.push(Case {
        name: "sweep-shard-env".into(),
        args: s(&["sweep", &good_sweep, "--out", "OUT"]),
        env: vec![("MSLAB_SHARD", "2/2".into())],
        field: "shard",
        allowed: "0 <= i < n",
    });

    // mslab critical on real networks (--runs, --dataset) and the synthetic sweep's ε and rule.
    let no_stop = files.dir.path().join("runs-without-stop/r0");
    std::fs::create_dir_all(&no_stop).unwrap();
    std::fs::write(
        no_stop.join("summary.json"),
        "{\"config\": {\"batch\": 8, \"optimizer\": {\"kind\": \"sgd\", \"lr\": 0.1}}}",
    )
    .unwrap();
    let no_stop_root = files.dir.path().join("runs-without-stop");
    let crit = |extra: &[&str]| {
        let mut v = s(&[
            "critical",
            "--landscape",
            &good,
            "--optimizer",
            "sgd",
            "--lr",
            "0.1",
            "--batches",
            "1,2",
            "--seeds",
            "2",
            "--out",
            "OUT",
        ]);
        v.extend(s(extra));
        v
    };
    for (name, args, field, allowed) in [
        (
            "critical-runs-missing",
            s(&["critical", "--runs", "/nonexistent/runs", "--out", "OUT"]),
            "runs",
            "a folder of `mslab train` runs",
        ),
        (
            "critical-runs-without-stop-rules",
            s(&[
                "critical",
                "--runs",
                no_stop_root.to_str().unwrap(),
                "--out",
                "OUT",
            ]),
            "runs",
            "--stop-eps",
        ),
        ("critical-eps-zero", crit(&["--eps", "0"]), "eps", "> 0"),
        (
            "critical-eps-negative",
            crit(&["--eps", "0.5,-1"]),
            "eps",
            "> 0",
        ),
        (
            "critical-rule-unknown",
            crit(&["--eps", "0.5", "--rule", "median"]),
            "rule",
            "running-mean",
        ),
        (
            "critical-bootstrap-small",
            s(&[
                "critical",
                "--runs",
                no_stop_root.to_str().unwrap(),
                "--bootstrap",
                "10",
                "--out",
                "OUT",
            ]),
            "bootstrap",
            ">= 100",
        ),
    ] {
        cases.push(case(name, args, field, allowed));
    }
    let dataset_args = s(&[
        "critical",
        "--dataset",
        "synthetic",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--out",
        "OUT",
    ]);
    if cfg!(feature = "torch") {
        for (name, extra, field, allowed) in [
            ("critical-dataset-eps-zero", ["--eps", "0"], "eps", "> 0"),
            (
                "critical-dataset-eps-negative",
                ["--eps", "0.5,-2"],
                "eps",
                "> 0",
            ),
        ] {
            let mut a = dataset_args.clone();
            a.extend(s(&extra));
            cases.push(case(name, a, field, allowed));
        }
        let mut a = dataset_args.clone();
        a.extend(s(&["--eps", "0.5", "--rule", "median"]));
        cases.push(case(
            "critical-dataset-rule-unknown",
            a,
            "rule",
            "running-mean, full-gradient or both",
        ));
    } else {
        let mut a = dataset_args.clone();
        a.extend(s(&["--eps", "0.5"]));
        cases.push(case(
            "critical-dataset-without-torch",
            a,
            "dataset",
            "--features torch",
        ));
    }

    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let cwd = files.dir.path().join(format!("cwd-{k}"));
        std::fs::create_dir_all(&cwd).unwrap();
        let out: PathBuf = files.dir.path().join(format!("out-{k}"));
        let args: Vec<String> = c
            .args
            .iter()
            .map(|a| {
                if a == "OUT" {
                    out.display().to_string()
                } else {
                    a.clone()
                }
            })
            .collect();
        let (code, err) = run(&cwd, &args, &c.env);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut problems = Vec::new();
        if code != Some(2) {
            problems.push(format!("exit code {code:?}"));
        }
        if lines.len() != 1 {
            problems.push(format!("{} stderr lines", lines.len()));
        }
        if !err.contains(c.field) {
            problems.push(format!("does not name {:?}", c.field));
        }
        if !c.allowed.split('|').any(|a| err.contains(a)) {
            problems.push(format!("does not state {:?}", c.allowed));
        }
        if err.contains("panicked") {
            problems.push("panicked".into());
        }
        if out.exists() {
            problems.push("wrote the --out folder".into());
        }
        if std::fs::read_dir(&cwd).unwrap().next().is_some() {
            problems.push("wrote into the working folder".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {} — stderr {:?}",
                c.name,
                problems.join(", "),
                err
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The memory estimates refuse a run before anything is allocated, name the field to lower and
/// give the largest value that fits.
#[test]
fn memory_estimates_name_the_field_and_the_largest_value_that_fits() {
    use momentum_smoothing::optimizer::{Optimizer, OptimizerKind};
    use momentum_smoothing::runner::RunConfig;
    let cfg = RunConfig {
        optimizer: Optimizer::new(OptimizerKind::Shb, 0.01, 0.9, 0.7).unwrap(),
        batch: 1,
        steps: 100_000,
        burn_in: 0,
        seeds: 1_000_000_000,
        seed: 0,
        every: 1,
    };
    let gib: u64 = 1 << 30;
    let msg = cfg
        .check_memory(1000, Some(8 * gib))
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("invalid seeds = 1000000000"), "{msg}");
    let max: usize = msg
        .split("an integer in [1, ")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    let fits = |seeds| RunConfig { seeds, ..cfg }.memory_estimate(1000) <= 8 * gib as u128;
    assert!(fits(max) && !fits(max + 1), "{max}");
    assert!(RunConfig { seeds: max, ..cfg }
        .check_memory(1000, Some(8 * gib))
        .is_ok());
    // One seed of a 10⁷-dimensional run does not fit in 100 MB: the dimension is named.
    let one = RunConfig { seeds: 1, ..cfg };
    let msg = one
        .check_memory(10_000_000, Some(100 << 20))
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("invalid dim = 10000000"), "{msg}");
    // Unknown available memory: nothing is refused.
    assert!(cfg.check_memory(1000, None).is_ok());
    // Landscape files: the stored data of a finite sum.
    let file =
        LandscapeFile::parse(&TEACHER.replace("n_samples = 16", "n_samples = 100000000")).unwrap();
    assert!(file.memory_estimate() >= 100_000_000 * 3 * 8);
    let msg = file.check_memory(Some(gib)).unwrap_err().to_string();
    assert!(
        msg.contains("params.n_samples") && msg.contains("GiB are available"),
        "{msg}"
    );
    assert!(LandscapeFile::parse(GOOD)
        .unwrap()
        .check_memory(Some(gib))
        .is_ok());
}
