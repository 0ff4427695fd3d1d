//! Test accuracy versus the degree of smoothing on a real network (claim C11, the paper's
//! Fig. 1 right): final test accuracy of ResNet-18 on Fashion-MNIST against δ_pred (the paper's
//! ηψ with constants measured during the run) and δ_emp (η·E‖ω‖ measured), BatchNorm and
//! GroupNorm, from the GPU campaign's analysis in `figures/data/gpu/analysis/` (`mslab
//! analyze`: runs.csv, cells.csv, analysis.json). Nothing is recomputed: the run step copies the
//! rows it draws and the Spearman ρ with its bootstrap interval from analysis.json.

use super::*;

/// The analysis folder the figure reads, under `--external`.
const ANALYSIS: &str = "gpu/analysis";

fn source(ctx: &Ctx, file: &str) -> PathBuf {
    ctx.external.join(ANALYSIS).join(file)
}

fn read_source(ctx: &Ctx, file: &str) -> Result<DataTable> {
    let p = source(ctx, file);
    DataTable::read(&p).map_err(|e| Error::File {
        path: p.display().to_string(),
        message: format!(
            "{e} (written by the GPU campaign: mslab analyze --runs figures/data/gpu/runs \
             --out figures/data/gpu/analysis)"
        ),
    })
}

const COLUMNS: [(&str, &str); 16] = [
    (
        "kind",
        "run (one seed), cell (mean over seeds) or corr (rank correlation of the cells)",
    ),
    ("norm", "batch (BatchNorm) or group (GroupNorm)"),
    (
        "optimizer",
        "sgd, shb, nshb, qhm, nesterov (empty for corr)",
    ),
    ("lr", "learning rate η (empty for corr)"),
    ("batch", "batch size b (empty for corr)"),
    ("seed", "seed (run rows only)"),
    (
        "test_acc",
        "final test accuracy (run) or its mean over seeds (cell)",
    ),
    (
        "acc_sd",
        "standard deviation of the test accuracy over seeds (cell rows)",
    ),
    (
        "delta_pred",
        "δ_pred = η·ψ with the run's measured constants (mean over measurements, then seeds)",
    ),
    (
        "delta_emp",
        "δ_emp = η·E‖ω‖ measured (mean over measurements, then seeds)",
    ),
    ("measure", "corr rows: delta_pred or delta_emp"),
    (
        "subset",
        "corr rows: all (η = 0.1 cells) or all-lr (with SGD η = 1)",
    ),
    ("n", "cells (corr) or seeds (cell)"),
    ("spearman", "Spearman ρ(accuracy, δ) over cells (corr rows)"),
    (
        "spearman_ci_low",
        "bootstrap 95% interval (resampling cells)",
    ),
    (
        "spearman_ci_high",
        "bootstrap 95% interval (resampling cells)",
    ),
];

/// `batch` or `group` from a family such as `fashion-mnist/resnet18/batch/e20/n10000`.
fn norm_of(family: &str) -> String {
    family.split('/').nth(2).unwrap_or(family).to_string()
}

fn num_text(v: Option<&Value>) -> String {
    v.and_then(Value::as_f64).map(cell).unwrap_or_default()
}

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let runs = read_source(ctx, "runs.csv")?;
    let cells = read_source(ctx, "cells.csv")?;
    let ap = source(ctx, "analysis.json");
    let analysis: Value =
        serde_json::from_str(&std::fs::read_to_string(&ap).map_err(|e| Error::File {
            path: ap.display().to_string(),
            message: format!("cannot read: {e}"),
        })?)
        .map_err(|e| Error::File {
            path: ap.display().to_string(),
            message: format!("not JSON: {e}"),
        })?;
    let mut rows = Vec::new();
    for i in 0..runs.rows.len() {
        let s = |c: &str| -> Result<String> { Ok(runs.str(i, c)?.to_string()) };
        rows.push(vec![
            "run".into(),
            s("norm")?,
            s("optimizer")?,
            s("lr")?,
            s("batch")?,
            s("seed")?,
            s("test_acc")?,
            String::new(),
            s("delta_pred")?,
            s("delta_emp")?,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for i in 0..cells.rows.len() {
        let s = |c: &str| -> Result<String> { Ok(cells.str(i, c)?.to_string()) };
        rows.push(vec![
            "cell".into(),
            norm_of(cells.str(i, "family")?),
            s("optimizer")?,
            s("lr")?,
            s("batch")?,
            String::new(),
            s("acc_mean")?,
            s("acc_sd")?,
            s("delta_pred")?,
            s("delta_emp")?,
            String::new(),
            String::new(),
            s("n")?,
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    let groups = analysis
        .pointer("/analysis/groups")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::File {
            path: ap.display().to_string(),
            message: "no analysis.groups (not an `mslab analyze` output)".into(),
        })?;
    for g in groups {
        let subset = g.get("subset").and_then(Value::as_str).unwrap_or("");
        if subset != "all" && subset != "all-lr" {
            continue;
        }
        let family = g.get("family").and_then(Value::as_str).unwrap_or("");
        for measure in ["delta_pred", "delta_emp"] {
            let c = g.get(format!("vs_{measure}"));
            let ci = c.and_then(|c| c.get("spearman_ci"));
            rows.push(vec![
                "corr".into(),
                norm_of(family),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                measure.into(),
                subset.into(),
                num_text(c.and_then(|c| c.get("n"))),
                num_text(c.and_then(|c| c.get("spearman"))),
                num_text(ci.and_then(|v| v.get(0))),
                num_text(ci.and_then(|v| v.get(1))),
            ]);
        }
    }
    let config = json!({
        "sources": [
            source(ctx, "runs.csv").display().to_string(),
            source(ctx, "cells.csv").display().to_string(),
            ap.display().to_string(),
        ],
        "source_provenance": analysis.get("provenance").cloned().unwrap_or(Value::Null),
        "n_boot": analysis.pointer("/analysis/n_boot").cloned().unwrap_or(Value::Null),
        "bootstrap_seed": analysis.pointer("/analysis/seed").cloned().unwrap_or(Value::Null),
        "runs_folder": analysis.get("runs_folder").cloned().unwrap_or(Value::Null),
    });
    write_data(ctx, fig, &COLUMNS, rows, config)
}

/// One point: optimizer, η, b, accuracy, δ_pred, δ_emp.
#[derive(Clone)]
struct Point {
    kind: OptimizerKind,
    lr: f64,
    batch: f64,
    acc: f64,
    pred: f64,
    emp: f64,
}

impl Point {
    fn delta(&self, measure: &str) -> f64 {
        if measure == "delta_pred" {
            self.pred
        } else {
            self.emp
        }
    }
}

/// A correlation: norm, measure, subset, n, ρ, CI.
struct Corr {
    norm: String,
    measure: String,
    subset: String,
    n: f64,
    rho: f64,
    lo: f64,
    hi: f64,
}

struct Chart {
    runs: Vec<(String, Point)>,
    cells: Vec<(String, Point)>,
    corrs: Vec<Corr>,
    norms: Vec<String>,
    quick: bool,
}

const MEASURES: [&str; 2] = ["delta_pred", "delta_emp"];

fn norm_label(norm: &str) -> &str {
    match norm {
        "batch" => "BatchNorm",
        "group" => "GroupNorm",
        other => other,
    }
}

fn measure_label(m: &str) -> &'static str {
    if m == "delta_pred" {
        "δ_pred = ηψ (paper's bound, measured constants)"
    } else {
        "δ_emp = η·E‖ω‖ (measured)"
    }
}

/// The reference learning rate of the grid (all optimizers); other η are drawn hollow.
const BASE_LR: f64 = 0.1;

fn is_base(lr: f64) -> bool {
    (lr - BASE_LR).abs() < 1e-12
}

impl Chart {
    fn corr(&self, norm: &str, measure: &str, subset: &str) -> Option<&Corr> {
        self.corrs
            .iter()
            .find(|c| c.norm == norm && c.measure == measure && c.subset == subset)
    }

    fn rho_text(&self, norm: &str, measure: &str, subset: &str) -> String {
        match self.corr(norm, measure, subset) {
            Some(c) => format!(
                "ρ = {} [{}, {}], {} cells",
                signed(c.rho),
                signed(c.lo),
                signed(c.hi),
                c.n
            ),
            None => "ρ not in analysis.json".into(),
        }
    }

    /// Optimizers in the fixed order, with the η of their series.
    fn series(&self) -> Vec<(OptimizerKind, f64)> {
        let mut out: Vec<(OptimizerKind, f64)> = Vec::new();
        for k in OptimizerKind::ALL {
            let mut lrs: Vec<f64> = self
                .cells
                .iter()
                .filter(|(_, p)| p.kind == k)
                .map(|(_, p)| p.lr)
                .collect();
            lrs.sort_by(f64::total_cmp);
            lrs.dedup();
            for lr in lrs {
                out.push((k, lr));
            }
        }
        out
    }
}

impl Chart {
    /// "3 seeds" or "3 (BatchNorm) and 2 (GroupNorm) seeds": runs per cell, counted from the
    /// run rows (range when cells differ).
    fn seeds_text(&self) -> String {
        let mut parts = Vec::new();
        for norm in &self.norms {
            let mut counts: Vec<(OptimizerKind, u64, u64, usize)> = Vec::new();
            for (n, p) in &self.runs {
                if n != norm {
                    continue;
                }
                let key = (p.kind, p.lr.to_bits(), p.batch.to_bits());
                match counts.iter_mut().find(|c| (c.0, c.1, c.2) == key) {
                    Some(c) => c.3 += 1,
                    None => counts.push((key.0, key.1, key.2, 1)),
                }
            }
            let lo = counts.iter().map(|c| c.3).min().unwrap_or(0);
            let hi = counts.iter().map(|c| c.3).max().unwrap_or(0);
            let n = if lo == hi {
                format!("{lo}")
            } else {
                format!("{lo}–{hi}")
            };
            parts.push((n, norm_label(norm).to_string()));
        }
        let all_same = parts.windows(2).all(|w| w[0].0 == w[1].0);
        match parts.as_slice() {
            [] => "the seeds".to_string(),
            [(n, _), ..] if all_same => format!("{n} seeds"),
            _ => {
                let list: Vec<String> = parts.iter().map(|(n, l)| format!("{n} ({l})")).collect();
                format!("{} seeds", list.join(" and "))
            }
        }
    }
}

/// A number with a typographic minus sign, two decimals.
fn signed(v: f64) -> String {
    let s = format!("{v:.2}");
    s.replace('-', "−")
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (1200, 360 + 540 * self.norms.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let mut caption = vec![
            "ResNet-18 on Fashion-MNIST (10k training images, 20 epochs, full test set), β = 0.9. Small hollow markers: one seed;"
                .to_string(),
            format!(
                "large filled markers: mean of {}, joined in order of b (labels: b = 32 and 1024). ρ: Spearman over the η = 0.1 cells,",
                self.seeds_text()
            ),
            "bootstrap 95% interval (2000 resamples of cells). Dotted SGD: η = 1 = 0.1/(1−β), matched η/(1−β).".to_string(),
        ];
        let mut with_lr = Vec::new();
        for norm in &self.norms {
            for m in MEASURES {
                if let Some(c) = self.corr(norm, m, "all-lr") {
                    with_lr.push(format!(
                        "{} {}: {} [{}, {}]",
                        norm_label(norm),
                        if m == "delta_pred" {
                            "δ_pred"
                        } else {
                            "δ_emp"
                        },
                        signed(c.rho),
                        signed(c.lo),
                        signed(c.hi)
                    ));
                }
            }
        }
        if !with_lr.is_empty() {
            let half = with_lr.len().div_ceil(2);
            caption.push(format!(
                "With SGD η = 1 included, ρ: {};",
                with_lr[..half].join("; ")
            ));
            caption.push(format!("{}.", with_lr[half..].join("; ")));
        }
        let body = header(
            root,
            th,
            "Test accuracy vs degree of smoothing δ on a real network (C11, paper Fig. 1 right)",
            caption,
            self.quick,
        )?;
        let mut entries: Vec<LegendEntry> = Vec::new();
        for (k, lr) in self.series() {
            let st = plot::optimizer_style(k);
            let label = format!("{}, η = {}", plot::optimizer_label(k), plot::fmt_tick(lr));
            let (dash, filled) = if is_base(lr) {
                (Dash::Solid, true)
            } else {
                (Dash::Dotted, false)
            };
            entries.push(LegendEntry::line_marker(
                label, st.color, dash, st.marker, filled,
            ));
        }
        let cols = plot::legend_columns(&body, th, &entries, 3, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;
        let cells = grid.split_evenly((self.norms.len().max(1), MEASURES.len()));
        for (ni, norm) in self.norms.iter().enumerate() {
            let mine_runs: Vec<&Point> = self
                .runs
                .iter()
                .filter(|(n, _)| n == norm)
                .map(|(_, p)| p)
                .collect();
            let mine_cells: Vec<&Point> = self
                .cells
                .iter()
                .filter(|(n, _)| n == norm)
                .map(|(_, p)| p)
                .collect();
            let accs = mine_runs
                .iter()
                .chain(mine_cells.iter())
                .map(|p| p.acc)
                .filter(|a| a.is_finite());
            let (mut a_lo, mut a_hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for a in accs {
                a_lo = a_lo.min(a);
                a_hi = a_hi.max(a);
            }
            if !a_lo.is_finite() {
                (a_lo, a_hi) = (0.0, 1.0);
            }
            let pad = 0.06 * (a_hi - a_lo).max(0.01);
            for (mi, m) in MEASURES.iter().enumerate() {
                let area = plot::panel_title(
                    &cells[ni * MEASURES.len() + mi],
                    th,
                    &format!(
                        "{}, {}: {}",
                        norm_label(norm),
                        if *m == "delta_pred" {
                            "δ_pred"
                        } else {
                            "δ_emp"
                        },
                        self.rho_text(norm, m, "all")
                    ),
                )?;
                let (x_lo, x_hi) = plot::log_range(
                    mine_runs
                        .iter()
                        .chain(mine_cells.iter())
                        .map(|p| p.delta(m))
                        .filter(|x| x.is_finite() && *x > 0.0),
                    1.3,
                );
                let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                    plot::log_axis_ticked(x_lo, x_hi),
                    plot::lin_axis(a_lo - pad, a_hi + pad),
                )?;
                plot::draw_axes(
                    &mut chart,
                    th,
                    &plot::Axes {
                        y_labels: 8,
                        y_fmt: &|v| format!("{v:.2}"),
                        ..plot::Axes::new(
                            measure_label(m),
                            if mi == 0 { "final test accuracy" } else { "" },
                        )
                    },
                )?;
                for (k, lr) in self.series() {
                    let st = plot::optimizer_style(k);
                    let base = is_base(lr);
                    let seeds: Vec<(f64, f64)> = plot::positive(
                        mine_runs
                            .iter()
                            .filter(|p| p.kind == k && p.lr == lr)
                            .map(|p| (p.delta(m), p.acc)),
                    );
                    let small = Theme::new(th.scale * 0.55);
                    plot::draw_markers(&mut chart, &small, &seeds, st.color, st.marker, false)?;
                    let mut cs: Vec<&Point> = mine_cells
                        .iter()
                        .copied()
                        .filter(|p| p.kind == k && p.lr == lr)
                        .collect();
                    cs.sort_by(|a, b| a.batch.total_cmp(&b.batch));
                    let line: Vec<(f64, f64)> =
                        plot::positive(cs.iter().map(|p| (p.delta(m), p.acc)));
                    let dash = if base { Dash::Solid } else { Dash::Dotted };
                    plot::draw_line(&mut chart, th, &line, st.color, dash, th.upx(1.6))?;
                    plot::draw_markers(&mut chart, th, &line, st.color, st.marker, base)?;
                    for p in [cs.first(), cs.last()].into_iter().flatten() {
                        let (x, y) = (p.delta(m), p.acc);
                        if x.is_finite() && x > 0.0 && y.is_finite() {
                            plot::draw_label(
                                &mut chart,
                                th,
                                (x, y),
                                &format!("  {}", plot::fmt_tick(p.batch)),
                                st.color,
                                Pos::new(HPos::Left, VPos::Center),
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut runs = Vec::new();
    let mut cells = Vec::new();
    let mut corrs = Vec::new();
    let mut norms: Vec<String> = Vec::new();
    for i in 0..t.rows.len() {
        let kind = t.str(i, "kind")?;
        let norm = t.str(i, "norm")?.to_string();
        if !norms.contains(&norm) {
            norms.push(norm.clone());
        }
        if kind == "corr" {
            corrs.push(Corr {
                norm,
                measure: t.str(i, "measure")?.to_string(),
                subset: t.str(i, "subset")?.to_string(),
                n: t.f64(i, "n")?,
                rho: t.f64(i, "spearman")?,
                lo: t.f64(i, "spearman_ci_low")?,
                hi: t.f64(i, "spearman_ci_high")?,
            });
            continue;
        }
        let p = Point {
            kind: kind_of(t, i)?,
            lr: t.f64(i, "lr")?,
            batch: t.f64(i, "batch")?,
            acc: t.f64(i, "test_acc")?,
            pred: t.f64(i, "delta_pred")?,
            emp: t.f64(i, "delta_emp")?,
        };
        match kind {
            "run" => runs.push((norm, p)),
            "cell" => cells.push((norm, p)),
            other => {
                return Err(Error::File {
                    path: t.path.clone(),
                    message: format!("row {i}: kind `{other}`: expected run, cell or corr"),
                })
            }
        }
    }
    // BatchNorm first.
    norms.sort();
    plot::render(
        &Chart {
            runs,
            cells,
            corrs,
            norms,
            quick: table_quick(t),
        },
        &ctx.out,
        fig.name,
    )?;
    Ok(())
}
