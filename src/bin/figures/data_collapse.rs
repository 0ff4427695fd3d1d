//! Data collapse (claim C5b): do outcomes depend on (η, b, β, C, K) only through δ = ηψ? The
//! escape fraction from the shallow well of the tilted double well versus the paper's δ and
//! versus the Langevin temperature θ = η_eff σ²/(2b), over the hyperparameter grid of
//! `experiments::smoothing::collapse_study` (SGD, SHB, NSHB), with the configurations built to
//! have equal δ joined.

use super::*;
use momentum_smoothing::experiments::smoothing;
use momentum_smoothing::experiments::Scale;

const COLUMNS: [(&str, &str); 20] = [
    ("label", "configuration label (collapse_study)"),
    (
        "in_grid",
        "1 for a grid configuration, 0 for an extra pair partner with solved delta",
    ),
    ("optimizer", "sgd, shb or nshb"),
    ("lr", "learning rate eta"),
    ("beta", "momentum factor beta"),
    ("batch", "batch size b"),
    ("sigma", "per-sample noise sigma (C^2 = sigma^2, d = 1)"),
    ("steps", "steps T = ceil(horizon / eta_eff)"),
    ("k", "K measured over [T/2, T)"),
    ("delta_paper", "the paper's delta = eta psi(C^2, K)"),
    ("theta", "Langevin temperature eta_eff sigma^2 / (2 b)"),
    ("escape", "fraction of seeds in the global well at T"),
    ("escape_ci_low", "Wald 95% CI"),
    ("escape_ci_high", "Wald 95% CI"),
    ("final_loss", "mean f(x_T)"),
    ("seeds", "seeds S"),
    (
        "pair",
        "equal-delta pair tests this configuration is in (names, ';'-separated)",
    ),
    (
        "tau_escape_delta",
        "Kendall tau_b over the grid, escape vs delta_paper",
    ),
    (
        "tau_escape_theta",
        "Kendall tau_b over the grid, escape vs theta",
    ),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    ctx.bar
        .set_message(format!("{}: smoothing::collapse_study", fig.name));
    let scale = if ctx.quick { Scale::Quick } else { Scale::Full };
    let st = if ctx.quick {
        quick_study()?
    } else {
        smoothing::collapse_study(scale)?
    };
    let mut rows = Vec::new();
    for (i, o) in st.outcomes.iter().enumerate() {
        let pairs: Vec<&str> = st
            .pairs
            .iter()
            .filter(|p| p.equal_delta && (p.a == o.config.label || p.b == o.config.label))
            .map(|p| p.name.split(' ').next().unwrap_or(""))
            .collect();
        let mut r = vec![
            o.config.label.clone(),
            if i < st.grid_len { "1" } else { "0" }.into(),
            o.config.optimizer.kind.name().into(),
            cell(o.config.optimizer.lr),
            cell(o.config.optimizer.beta),
            o.config.batch.to_string(),
            cell(o.config.sigma),
            o.steps.to_string(),
            cell(o.k),
            cell(o.delta_paper),
            cell(o.theta),
        ];
        r.extend(est_cells(&o.escape));
        r.extend([
            cell(o.final_loss.mean),
            o.escape.n.to_string(),
            pairs.join(";"),
            cell(st.tau_escape_delta),
            cell(st.tau_escape_theta),
            quick_cell(ctx),
        ]);
        rows.push(r);
    }
    let config = json!({
        "setup": st.setup,
        "critical_points": st.critical_points,
        "pairs": st.pairs.iter().map(|p| json!({
            "name": p.name, "a": p.a, "b": p.b, "equal_delta": p.equal_delta,
            "z_escape": p.z_escape, "distinguishable": p.distinguishable,
        })).collect::<Vec<_>>(),
        "scale": scale,
        "seed": smoothing::SEED,
        "library": "experiments::smoothing::collapse_study (the C5b experiment, unchanged)",
    });
    write_data(ctx, fig, &COLUMNS, rows, config)
}

/// A smoke-test stand-in for `collapse_study` (whose Quick scale still takes seconds): four
/// configurations of its grid through the same `collapse_outcome` and `pair_test`, with 24 seeds
/// and a shorter horizon.
fn quick_study() -> Result<smoothing::CollapseStudy> {
    let setup = smoothing::CollapseSetup {
        depth: 1.0,
        tilt: 0.5,
        horizon: 8.0,
        seeds: 24,
    };
    let sigma = 3.5;
    let mk = |label: &str,
              kind: OptimizerKind,
              lr: f64,
              beta: f64,
              batch: usize,
              seed: u64|
     -> Result<smoothing::CollapseConfig> {
        Ok(smoothing::CollapseConfig {
            label: label.to_string(),
            optimizer: Optimizer::new(kind, lr, beta, 0.0)?,
            batch,
            sigma,
            seed: smoothing::SEED + seed,
        })
    };
    let configs = [
        mk("sgd(eta=0.02,b=1)", OptimizerKind::Sgd, 0.02, 0.0, 1, 1)?,
        mk("sgd(eta=0.04,b=4)", OptimizerKind::Sgd, 0.04, 0.0, 4, 2)?,
        mk(
            "shb(eta=0.002,beta=0.9,b=1)",
            OptimizerKind::Shb,
            0.002,
            0.9,
            1,
            3,
        )?,
        mk(
            "nshb(eta=0.02,beta=0.9,b=1)",
            OptimizerKind::Nshb,
            0.02,
            0.9,
            1,
            4,
        )?,
    ];
    let outcomes = configs
        .iter()
        .map(|c| smoothing::collapse_outcome(&setup, c))
        .collect::<Result<Vec<_>>>()?;
    let pairs = vec![smoothing::pair_test(
        "E1 equal delta: sgd (eta, b) vs (2 eta, 4b)",
        &outcomes[0],
        &outcomes[1],
    )];
    let esc: Vec<f64> = outcomes.iter().map(|o| o.escape.mean).collect();
    let dl: Vec<f64> = outcomes.iter().map(|o| o.delta_paper).collect();
    let th: Vec<f64> = outcomes.iter().map(|o| o.theta).collect();
    Ok(smoothing::CollapseStudy {
        setup,
        critical_points: setup.critical_points()?,
        grid_len: outcomes.len(),
        tau_escape_delta: smoothing::kendall_tau(&esc, &dl),
        tau_escape_theta: smoothing::kendall_tau(&esc, &th),
        outcomes,
        pairs,
    })
}

struct Point {
    kind: OptimizerKind,
    grid: bool,
    delta: f64,
    theta: f64,
    esc: (f64, f64, f64),
    pairs: Vec<String>,
}

struct Chart {
    points: Vec<Point>,
    tau_delta: f64,
    tau_theta: f64,
    seeds: f64,
    quick: bool,
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (1100, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = vec![
            format!(
                "Tilted double well f = (x²−1)² + x/2, started in the shallow well; {} seeds per configuration, Wald 95% CIs.",
                self.seeds
            ),
            "Grey lines join configurations built to have equal δ (pairs E1–E3 of the C5b test): a collapse would put".into(),
            "their ends at the same height. Hollow markers: partners with σ solved to match δ.".into(),
            "θ: the Langevin temperature, η′ = η/(1−β) for SHB, η for SGD and NSHB.".into(),
        ];
        let body = header(
            root,
            th,
            "Data collapse: escape fraction vs δ and vs θ (C5b)",
            caption,
            self.quick,
        )?;
        let mut entries = Vec::new();
        for k in [OptimizerKind::Sgd, OptimizerKind::Shb, OptimizerKind::Nshb] {
            if self.points.iter().any(|p| p.kind == k) {
                let st = plot::optimizer_style(k);
                entries.push(
                    LegendEntry::marker(plot::optimizer_label(k), st.color, st.marker, true)
                        .with_error_bar(),
                );
            }
        }
        entries.push(LegendEntry::line(
            "equal-δ pair",
            plot::NEUTRAL,
            Dash::Solid,
        ));
        let cols = plot::legend_columns(&body, th, &entries, 4, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;
        let panels = grid.split_evenly((1, 2));
        for (pi, panel) in panels.iter().enumerate() {
            let by_delta = pi == 0;
            let x_of = |p: &Point| if by_delta { p.delta } else { p.theta };
            let title = if by_delta {
                format!(
                    "vs the paper's δ = ηψ   (Kendall τ = {:.2})",
                    self.tau_delta
                )
            } else {
                format!("vs θ = η′σ²/(2b)   (Kendall τ = {:.2})", self.tau_theta)
            };
            let area = plot::panel_title(panel, th, &title)?;
            let (x_lo, x_hi) = plot::log_range(self.points.iter().map(x_of), 1.25);
            let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                plot::log_axis_ticked(x_lo, x_hi),
                plot::lin_axis(-0.03, 1.03),
            )?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes::new(
                    if by_delta {
                        "predicted δ"
                    } else {
                        "Langevin temperature θ"
                    },
                    if by_delta { "escape fraction" } else { "" },
                ),
            )?;
            // Equal-δ pairs: a grey segment each, names beside the upper end (merged where
            // several pairs share it).
            let mut names: Vec<&String> = self.points.iter().flat_map(|p| &p.pairs).collect();
            names.sort();
            names.dedup();
            let mut labels: Vec<((f64, f64), Vec<&str>)> = Vec::new();
            for name in names {
                let ends: Vec<(f64, f64)> = self
                    .points
                    .iter()
                    .filter(|p| p.pairs.contains(name))
                    .map(|p| (x_of(p), p.esc.0))
                    .collect();
                if ends.len() == 2 {
                    plot::draw_line(
                        &mut chart,
                        th,
                        &ends,
                        plot::NEUTRAL,
                        Dash::Solid,
                        th.upx(1.5),
                    )?;
                    let top = if ends[0].1 >= ends[1].1 {
                        ends[0]
                    } else {
                        ends[1]
                    };
                    match labels.iter_mut().find(|(p, _)| *p == top) {
                        Some((_, v)) => v.push(name),
                        None => labels.push((top, vec![name])),
                    }
                }
            }
            for p in &self.points {
                let st = plot::optimizer_style(p.kind);
                let x = x_of(p);
                plot::draw_error_bars(
                    &mut chart,
                    th,
                    &[(x, p.esc.1.max(0.0), p.esc.2.min(1.0))],
                    st.color,
                )?;
                plot::draw_markers(&mut chart, th, &[(x, p.esc.0)], st.color, st.marker, p.grid)?;
            }
            for (top, names) in labels {
                plot::draw_label(
                    &mut chart,
                    th,
                    (top.0 * 1.07, top.1 + 0.035),
                    &names.join(", "),
                    plot::NEUTRAL,
                    Pos::new(HPos::Left, VPos::Center),
                )?;
            }
        }
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut points = Vec::new();
    for i in 0..t.rows.len() {
        points.push(Point {
            kind: kind_of(t, i)?,
            grid: t.str(i, "in_grid")? == "1",
            delta: t.f64(i, "delta_paper")?,
            theta: t.f64(i, "theta")?,
            esc: t.ci(i, "escape")?,
            pairs: t
                .str(i, "pair")?
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    let chart = Chart {
        points,
        tau_delta: t.first_f64("tau_escape_delta")?,
        tau_theta: t.first_f64("tau_escape_theta")?,
        seeds: t.first_f64("seeds")?,
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
