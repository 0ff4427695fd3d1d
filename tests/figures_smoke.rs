//! Smoke test of the `figures` binary: `--quick --out <tempdir>` must produce, for every figure
//! that `--list` names, a non-empty SVG, a PNG at least 1600 px wide and the CSV it was drawn
//! from (with its provenance sidecar); `--plot-only` must redraw every figure from those CSVs
//! alone; bad names exit with code 2.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_figures");

/// The figure names `figures --list` prints, one per line, name first.
fn listed() -> Vec<String> {
    let out = Command::new(BIN)
        .arg("--list")
        .output()
        .expect("run figures --list");
    assert!(out.status.success(), "--list failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8 listing");
    text.lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Width and height from a PNG's IHDR chunk: big-endian u32s at offsets 16 and 20.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 24, "{}: too short for a PNG", path.display());
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{}: not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR", "{}: no IHDR first", path.display());
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

/// The figures the binary must offer (issue 7): the synthetic ones, those drawn from the
/// critical-batch and IGO files, and the two real-network figures drawn from figures/data/gpu/.
const EXPECTED: [&str; 15] = [
    "delta-vs-batch",
    "omega-vs-batch",
    "bound-tightness",
    "bias-vs-noise",
    "omega-distribution",
    "omega-spectrum",
    "effective-lr",
    "data-collapse",
    "smoothed-landscapes",
    "smoothed-landscapes-2d",
    "sfo-vs-batch",
    "variance-estimates",
    "igo",
    "accuracy-vs-delta",
    "training-curves",
];

#[test]
fn quick_run_writes_every_listed_figure() {
    let names = listed();
    for want in EXPECTED {
        assert!(
            names.iter().any(|n| n == want),
            "figure {want} missing from --list: {names:?}"
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(BIN)
        .args(["--quick", "--out"])
        .arg(dir.path())
        .output()
        .expect("run figures --quick");
    assert!(
        out.status.success(),
        "figures --quick failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in &names {
        let svg = dir.path().join(format!("{name}.svg"));
        let text =
            std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
        assert!(
            text.contains("<svg") && text.len() > 1000,
            "{name}: SVG empty or not SVG"
        );
        let (w, h) = png_size(&dir.path().join(format!("{name}.png")));
        assert!(
            w >= 1600 && h > 0,
            "{name}: PNG is {w}×{h}, want at least 1600 px wide"
        );
        let csv = dir.path().join("data").join(format!("{name}.csv"));
        let table =
            std::fs::read_to_string(&csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
        assert!(table.lines().count() >= 2, "{name}: CSV has no data rows");
        let sidecar = dir.path().join("data").join(format!("{name}.json"));
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&sidecar)
                .unwrap_or_else(|e| panic!("{}: {e}", sidecar.display())),
        )
        .expect("sidecar is JSON");
        assert_eq!(meta["figure"], name.as_str());
        assert_eq!(meta["quick"], true);
        assert!(
            meta["provenance"]["git_commit"].is_string(),
            "{name}: no provenance"
        );
    }
    // No temporary files left behind by the atomic writes.
    for entry in std::fs::read_dir(dir.path()).expect("list out").flatten() {
        let n = entry.file_name().to_string_lossy().to_string();
        assert!(!n.starts_with('.'), "leftover temporary file {n}");
    }
    // The plot step needs nothing but the CSVs: remove every drawing and redraw.
    for name in &names {
        std::fs::remove_file(dir.path().join(format!("{name}.png"))).expect("remove png");
        std::fs::remove_file(dir.path().join(format!("{name}.svg"))).expect("remove svg");
    }
    let out = Command::new(BIN)
        .args(["--plot-only", "--out"])
        .arg(dir.path())
        .output()
        .expect("run figures --plot-only");
    assert!(
        out.status.success(),
        "figures --plot-only failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in &names {
        let (w, _) = png_size(&dir.path().join(format!("{name}.png")));
        assert!(w >= 1600, "{name}: redrawn PNG is {w} px wide");
        assert!(dir.path().join(format!("{name}.svg")).exists());
    }
}

#[test]
fn plot_only_redraws_from_the_csv() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["--quick", "--only", "delta-vs-batch", "--out"])
            .arg(dir.path())
            .args(extra)
            .output()
            .expect("run figures")
    };
    // Without a CSV the plot step fails (exit 1) and says why.
    let out = run(&["--plot-only"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("delta-vs-batch.csv"));
    assert!(run(&[]).status.success());
    let png = dir.path().join("delta-vs-batch.png");
    std::fs::remove_file(&png).expect("remove png");
    assert!(run(&["--plot-only"]).status.success());
    assert!(png_size(&png).0 >= 1600);
}

#[test]
fn unknown_figure_name_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(BIN)
        .args([
            "--quick",
            "--only",
            "delta-vs-batch,no-such-figure",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("run figures");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-figure") && err.contains("omega-vs-batch"),
        "{err}"
    );
    // Nothing was drawn.
    assert!(!dir.path().join("delta-vs-batch.svg").exists());
}
