//! Train and test curves of the real-network runs (issue 7, `training-curves`): train loss,
//! test loss and test accuracy per epoch for every optimizer and batch size of the GPU campaign
//! (ResNet-18 on Fashion-MNIST, BatchNorm and GroupNorm), from the `epochs.csv` of each run in
//! `figures/data/gpu/runs/` (found by `experiments::realnet::collect_runs`). Nothing is
//! recomputed: the run step copies the per-epoch rows of every run, with the run's configuration.

use super::*;

use momentum_smoothing::experiments::realnet;

/// The run folders the figure reads, under `--external`.
const RUNS: &str = "gpu/runs";

const COLUMNS: [(&str, &str); 12] = [
    ("norm", "batch (BatchNorm) or group (GroupNorm)"),
    ("optimizer", "sgd, shb, nshb, qhm, nesterov"),
    ("lr", "learning rate η"),
    ("beta", "momentum β"),
    ("batch", "batch size b"),
    ("seed", "seed"),
    ("epoch", "epoch, counted from 1 (the end of the first pass)"),
    ("steps", "optimizer steps so far"),
    (
        "train_loss",
        "mean training loss over the epoch's mini-batches",
    ),
    (
        "train_acc",
        "training accuracy over the epoch's mini-batches",
    ),
    (
        "test_loss",
        "test loss on the full 10,000-image test set after the epoch",
    ),
    (
        "test_acc",
        "test accuracy on the full test set after the epoch",
    ),
];

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let root = ctx.external.join(RUNS);
    let runs = realnet::collect_runs(&root).map_err(|e| Error::File {
        path: root.display().to_string(),
        message: format!(
            "{e} (the GPU campaign's runs: scripts/gpu-campaign.sh, committed under \
             figures/data/gpu/runs)"
        ),
    })?;
    let mut rows = Vec::new();
    let mut sources = Vec::new();
    for r in &runs {
        let p = root.join(&r.id).join("epochs.csv");
        let t = DataTable::read(&p)?;
        for i in 0..t.rows.len() {
            let epoch = t.f64(i, "epoch")? + 1.0;
            rows.push(vec![
                r.norm.clone(),
                r.optimizer.clone(),
                cell(r.lr),
                cell(r.beta),
                r.batch.to_string(),
                r.seed.to_string(),
                cell(epoch),
                t.str(i, "steps")?.to_string(),
                t.str(i, "train_loss")?.to_string(),
                t.str(i, "train_acc")?.to_string(),
                t.str(i, "test_loss")?.to_string(),
                t.str(i, "test_acc")?.to_string(),
            ]);
        }
        sources.push(json!({
            "id": r.id,
            "device": r.device_name,
            "libtorch": r.libtorch,
            "git_commit": r.git_commit,
            "epochs": r.epochs,
            "n_train": r.n_train,
            "dataset": r.dataset,
            "model": r.model,
        }));
    }
    let config = json!({
        "runs_folder": root.display().to_string(),
        "runs": sources,
    });
    write_data(ctx, fig, &COLUMNS, rows, config)
}

/// One curve: a seed's values per epoch.
struct Curve {
    norm: String,
    kind: OptimizerKind,
    lr: f64,
    batch: f64,
    seed: f64,
    /// (epoch, train loss, test loss, test accuracy)
    pts: Vec<(f64, f64, f64, f64)>,
}

struct Chart {
    curves: Vec<Curve>,
    norms: Vec<String>,
    batches: Vec<f64>,
    seeds: usize,
    /// Runs whose last-epoch train accuracy is ≥ 0.99, runs, and the lowest last-epoch value.
    fitted: (usize, usize, f64),
    quick: bool,
}

/// The three quantities drawn, in row order: (label, log y).
const METRICS: [(&str, bool); 3] = [
    ("train loss", true),
    ("test loss", true),
    ("test accuracy", false),
];

fn metric(p: &(f64, f64, f64, f64), m: usize) -> f64 {
    match m {
        0 => p.1,
        1 => p.2,
        _ => p.3,
    }
}

fn norm_label(norm: &str) -> &str {
    match norm {
        "batch" => "BatchNorm",
        "group" => "GroupNorm",
        other => other,
    }
}

/// First epoch whose losses set the loss axes.
const LOSS_RANGE_FROM: f64 = 3.0;

/// Epoch tick labels: multiples of 5 only.
fn epoch_tick(v: &f64) -> String {
    if v.rem_euclid(5.0) == 0.0 {
        plot::fmt_tick(*v)
    } else {
        String::new()
    }
}

/// The reference learning rate of the grid; other η are drawn dotted.
const BASE_LR: f64 = 0.1;

fn is_base(lr: f64) -> bool {
    (lr - BASE_LR).abs() < 1e-12
}

impl Chart {
    /// (optimizer, η) series in the fixed optimizer order.
    fn series(&self) -> Vec<(OptimizerKind, f64)> {
        let mut out = Vec::new();
        for k in OptimizerKind::ALL {
            let mut lrs: Vec<f64> = self
                .curves
                .iter()
                .filter(|c| c.kind == k)
                .map(|c| c.lr)
                .collect();
            lrs.sort_by(f64::total_cmp);
            lrs.dedup();
            out.extend(lrs.into_iter().map(|lr| (k, lr)));
        }
        out
    }

    fn epochs(&self) -> (f64, f64) {
        let mut hi: f64 = 1.0;
        for c in &self.curves {
            for p in &c.pts {
                hi = hi.max(p.0);
            }
        }
        (1.0, hi)
    }
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        let rows = (self.norms.len() * METRICS.len()).max(1) as u32;
        (
            300 * self.batches.len().max(1) as u32 + 40,
            300 + 250 * rows,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = vec![
            format!(
                "ResNet-18 on Fashion-MNIST (first 10,000 training images, full test set), β = 0.9, no augmentation; columns: batch size b. \
                 Line: mean of {} seeds; band: between the seeds.",
                self.seeds
            ),
            format!(
                "Train loss: mean over each epoch's mini-batches. Final train accuracy ≥ 0.99 in {} of {} runs \
                 (lowest {:.2}). Dotted SGD: η = 1 = 0.1/(1−β).",
                self.fitted.0, self.fitted.1, self.fitted.2
            ),
            format!(
                "Loss axes fit epochs ≥ {LOSS_RANGE_FROM}: larger losses of the first epochs (up to ~10³) run off the top."
            ),
        ];
        let body = header(
            root,
            th,
            "Training curves on a real network: train loss, test loss and test accuracy per epoch",
            caption,
            self.quick,
        )?;
        let mut entries: Vec<LegendEntry> = Vec::new();
        for (k, lr) in self.series() {
            let st = plot::optimizer_style(k);
            let dash = if is_base(lr) {
                Dash::Solid
            } else {
                Dash::Dotted
            };
            entries.push(LegendEntry::line(
                format!("{}, η = {}", plot::optimizer_label(k), plot::fmt_tick(lr)),
                st.color,
                dash,
            ));
        }
        let cols = plot::legend_columns(&body, th, &entries, 6, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;
        let nrows = (self.norms.len() * METRICS.len()).max(1);
        let ncols = self.batches.len().max(1);
        let cells = grid.split_evenly((nrows, ncols));
        let (e_lo, e_hi) = self.epochs();
        for (ni, norm) in self.norms.iter().enumerate() {
            for (mi, (mname, log)) in METRICS.iter().enumerate() {
                let row = ni * METRICS.len() + mi;
                // One y range per row, so panels across b compare directly.
                // Loss axes are fitted to the epochs from LOSS_RANGE_FROM on: the first epochs'
                // spikes (test loss up to ~10³) are cut at the top of the panel.
                let from = if *log { LOSS_RANGE_FROM } else { 0.0 };
                let vals: Vec<f64> = self
                    .curves
                    .iter()
                    .filter(|c| &c.norm == norm)
                    .flat_map(|c| {
                        c.pts
                            .iter()
                            .filter(move |p| p.0 >= from)
                            .map(move |p| metric(p, mi))
                    })
                    .filter(|v| v.is_finite() && (!log || *v > 0.0))
                    .collect();
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for v in &vals {
                    lo = lo.min(*v);
                    hi = hi.max(*v);
                }
                if !lo.is_finite() {
                    (lo, hi) = (0.1, 1.0);
                }
                for (bi, b) in self.batches.iter().enumerate() {
                    let area = plot::panel_title(
                        &cells[row * ncols + bi],
                        th,
                        &format!("{}, b = {}", norm_label(norm), plot::fmt_tick(*b)),
                    )?;
                    let y_desc = if bi == 0 { *mname } else { "" };
                    let mine: Vec<&Curve> = self
                        .curves
                        .iter()
                        .filter(|c| &c.norm == norm && c.batch == *b)
                        .collect();
                    if *log {
                        let (ylo, yhi) = plot::log_range([lo, hi], 1.2);
                        let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                            plot::lin_axis(e_lo - 0.5, e_hi + 0.5),
                            plot::log_axis_ticked(ylo, yhi),
                        )?;
                        plot::draw_axes(
                            &mut chart,
                            th,
                            &plot::Axes {
                                x_fmt: &epoch_tick,
                                ..plot::Axes::new("epoch", y_desc)
                            },
                        )?;
                        self.draw_series(&mut chart, th, &mine, mi)?;
                    } else {
                        let pad = 0.04 * (hi - lo).max(0.01);
                        let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                            plot::lin_axis(e_lo - 0.5, e_hi + 0.5),
                            plot::lin_axis(lo - pad, hi + pad),
                        )?;
                        plot::draw_axes(
                            &mut chart,
                            th,
                            &plot::Axes {
                                x_fmt: &epoch_tick,
                                y_fmt: &|v| format!("{v:.2}"),
                                ..plot::Axes::new("epoch", y_desc)
                            },
                        )?;
                        self.draw_series(&mut chart, th, &mine, mi)?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Chart {
    /// Bands between the seeds, then the mean lines, of every (optimizer, η) in `mine`.
    fn draw_series<DB, CT>(
        &self,
        chart: &mut ChartContext<'_, DB, CT>,
        th: &Theme,
        mine: &[&Curve],
        m: usize,
    ) -> DrawResult
    where
        DB: DrawingBackend,
        CT: CoordTranslate<From = (f64, f64)>,
    {
        let mut lines = Vec::new();
        for (k, lr) in self.series() {
            let seeds: Vec<&&Curve> = mine.iter().filter(|c| c.kind == k && c.lr == lr).collect();
            if seeds.is_empty() {
                continue;
            }
            let mut epochs: Vec<f64> = seeds
                .iter()
                .flat_map(|c| c.pts.iter().map(|p| p.0))
                .collect();
            epochs.sort_by(f64::total_cmp);
            epochs.dedup();
            let mut band = Vec::new();
            let mut mean = Vec::new();
            for e in epochs {
                let vs: Vec<f64> = seeds
                    .iter()
                    .filter_map(|c| c.pts.iter().find(|p| p.0 == e))
                    .map(|p| metric(p, m))
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .collect();
                if vs.is_empty() {
                    continue;
                }
                let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                band.push((e, lo, hi));
                mean.push((e, vs.iter().sum::<f64>() / vs.len() as f64));
            }
            let st = plot::optimizer_style(k);
            plot::draw_band(chart, &band, st.color, 0.22)?;
            let dash = if is_base(lr) {
                Dash::Solid
            } else {
                Dash::Dotted
            };
            lines.push((mean, st.color, dash));
        }
        for (mean, color, dash) in lines {
            plot::draw_line(chart, th, &mean, color, dash, th.upx(2.0))?;
        }
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut curves: Vec<Curve> = Vec::new();
    // Last-epoch train accuracy per run (norm, optimizer, η, b, seed).
    let mut last: Vec<(String, f64, f64)> = Vec::new();
    let mut norms: Vec<String> = Vec::new();
    let mut batches: Vec<f64> = Vec::new();
    for i in 0..t.rows.len() {
        let norm = t.str(i, "norm")?.to_string();
        let kind = kind_of(t, i)?;
        let (lr, batch, seed) = (t.f64(i, "lr")?, t.f64(i, "batch")?, t.f64(i, "seed")?);
        let pt = (
            t.f64(i, "epoch")?,
            t.f64(i, "train_loss")?,
            t.f64(i, "test_loss")?,
            t.f64(i, "test_acc")?,
        );
        let key = format!("{norm}/{kind}/{lr}/{batch}/{seed}");
        let acc = t.f64(i, "train_acc")?;
        match last.iter_mut().find(|l| l.0 == key) {
            Some(l) if pt.0 > l.1 => (l.1, l.2) = (pt.0, acc),
            Some(_) => {}
            None => last.push((key, pt.0, acc)),
        }
        if !norms.contains(&norm) {
            norms.push(norm.clone());
        }
        if !batches.contains(&batch) {
            batches.push(batch);
        }
        match curves.iter_mut().find(|c| {
            c.norm == norm && c.kind == kind && c.lr == lr && c.batch == batch && c.seed == seed
        }) {
            Some(c) => c.pts.push(pt),
            None => curves.push(Curve {
                norm,
                kind,
                lr,
                batch,
                seed,
                pts: vec![pt],
            }),
        }
    }
    norms.sort();
    batches.sort_by(f64::total_cmp);
    for c in &mut curves {
        c.pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut seeds: Vec<f64> = curves.iter().map(|c| c.seed).collect();
    seeds.sort_by(f64::total_cmp);
    seeds.dedup();
    plot::render(
        &Chart {
            curves,
            norms,
            batches,
            seeds: seeds.len(),
            fitted: (
                last.iter().filter(|l| l.2 >= 0.99).count(),
                last.len(),
                last.iter().map(|l| l.2).fold(f64::INFINITY, f64::min),
            ),
            quick: table_quick(t),
        },
        &ctx.out,
        fig.name,
    )?;
    Ok(())
}
