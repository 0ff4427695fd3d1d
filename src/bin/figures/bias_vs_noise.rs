//! The two parts of ω versus b (claim C6): the bias E[ω_t | past] and the fresh-noise part
//! ω_t − E[ω_t | past], for SGD, SHB and NSHB at β = 0.9, on the quadratic (with the exact
//! stationary values) and the tilted multi-well of the large-batch sweep
//! (`experiments::bounds::{large_batch_cases, large_batch_point}`), stationary and at the peak of
//! the trajectory from x_0.

use super::*;
use momentum_smoothing::experiments::bounds::{self, Sizes};
use momentum_smoothing::experiments::Scale;

const KINDS: [OptimizerKind; 3] = [OptimizerKind::Sgd, OptimizerKind::Shb, OptimizerKind::Nshb];
const BETA: f64 = 0.9;
const CASES: [&str; 2] = ["quadratic_diag/gaussian", "multi_well/gaussian"];

fn batches(quick: bool) -> Vec<usize> {
    if quick {
        vec![1, 64, 4096]
    } else {
        (0..=6).map(|i| 1usize << (2 * i)).collect()
    }
}

fn sizes(quick: bool) -> Sizes {
    let base = Sizes::of(if quick { Scale::Quick } else { Scale::Full });
    if quick {
        Sizes {
            stat_seeds: 8,
            stat_burn_in: 300,
            stat_steps: 800,
            traj_seeds: 8,
            traj_steps: 300,
            ..base
        }
    } else {
        Sizes {
            stat_seeds: 48,
            stat_burn_in: 1000,
            stat_steps: 3000,
            traj_seeds: 64,
            traj_steps: 1000,
            ..base
        }
    }
}

const COLUMNS: [(&str, &str); 21] = [
    ("case", "bounds::large_batch_cases name"),
    ("optimizer", "sgd, shb or nshb"),
    ("lr", "learning rate eta"),
    ("beta", "momentum factor beta (0 for sgd)"),
    ("batch", "batch size b"),
    (
        "bias_sq",
        "stationary E||E[omega|past]||^2 (time average after burn-in, mean over seeds)",
    ),
    ("bias_sq_ci_low", "95% CI lower end over seeds"),
    ("bias_sq_ci_high", "95% CI upper end"),
    ("random_sq", "stationary E||omega - E[omega|past]||^2"),
    ("random_sq_ci_low", "95% CI lower end"),
    ("random_sq_ci_high", "95% CI upper end"),
    (
        "exact_omega_sq",
        "exact stationary E||omega||^2 (quadratic only)",
    ),
    (
        "exact_bias_sq",
        "exact stationary bias part (quadratic only)",
    ),
    (
        "exact_random_sq",
        "exact stationary random part (quadratic only)",
    ),
    (
        "traj_peak_omega",
        "sup over t of the over-seed mean of ||omega_t|| from x_0",
    ),
    ("traj_peak_step", "the step of that peak"),
    (
        "traj_peak_bias_share",
        "bias part / E||omega_t||^2 at the peak step",
    ),
    ("k_traj", "K over the trajectory"),
    ("c2", "C^2 (exact, constant-variance law)"),
    ("seeds", "stationary seeds / trajectory seeds"),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let cases = bounds::large_batch_cases(Scale::Full)?;
    let sizes = sizes(ctx.quick);
    let mut rows = Vec::new();
    for name in CASES {
        let case = cases
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::Open(format!("bounds::large_batch_cases has no {name}")))?;
        for kind in KINDS {
            let beta = if kind == OptimizerKind::Sgd {
                0.0
            } else {
                BETA
            };
            let opt = Optimizer::new(kind, case.lr, beta, 0.0)?;
            for b in batches(ctx.quick) {
                ctx.bar
                    .set_message(format!("{}: {name} {} b={b}", fig.name, kind.name()));
                let p = bounds::large_batch_point(case, opt, b, &sizes)?;
                let ex = p.exact.unwrap_or((f64::NAN, f64::NAN, f64::NAN));
                let sz = case.sizes(&sizes);
                let mut r = vec![
                    name.to_string(),
                    kind.name().to_string(),
                    cell(case.lr),
                    cell(beta),
                    b.to_string(),
                ];
                r.extend(est_cells(&p.stat_bias_sq));
                r.extend(est_cells(&p.stat_random_sq));
                r.extend([
                    cell(ex.0),
                    cell(ex.1),
                    cell(ex.2),
                    cell(p.traj_peak_omega),
                    p.traj_peak_step.to_string(),
                    cell(p.traj_peak_bias_share),
                    cell(p.k_traj),
                    cell(p.c2),
                    format!("{}/{}", sz.stat_seeds, sz.traj_seeds),
                    quick_cell(ctx),
                ]);
                rows.push(r);
            }
        }
    }
    let config = json!({
        "cases": CASES, "beta": BETA, "batches": batches(ctx.quick), "sizes": sizes,
        "seed": bounds::SEED,
        "library": "experiments::bounds::{large_batch_cases, large_batch_point} (the C6 experiment's point function), stationary::stationary_moments",
    });
    write_data(ctx, fig, &COLUMNS, rows, config)
}

struct Series {
    case: String,
    kind: OptimizerKind,
    b: Vec<f64>,
    bias: Vec<(f64, f64, f64)>,
    random: Vec<(f64, f64, f64)>,
    exact_bias: Vec<f64>,
    exact_random: Vec<f64>,
    peak: Vec<f64>,
    peak_share: Vec<f64>,
}

struct Chart {
    series: Vec<Series>,
    quick: bool,
}

fn sqrt3(e: (f64, f64, f64)) -> (f64, f64, f64) {
    (
        e.0.max(0.0).sqrt(),
        e.1.max(0.0).sqrt(),
        e.2.max(0.0).sqrt(),
    )
}

impl Chart {
    /// The smallest bias share at the trajectory's peak over the momentum rules (a caption
    /// number read from the CSV).
    fn min_momentum_peak_share(&self) -> f64 {
        self.series
            .iter()
            .filter(|s| s.kind != OptimizerKind::Sgd)
            .flat_map(|s| s.peak_share.iter().copied())
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min)
            .min(1.0)
    }
}

/// Markers of the bias part are drawn this factor right of their b.
const DODGE: f64 = 1.3;

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (1000, 1000)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = vec![
            "β = 0.9, Gaussian noise; top: stationary parts (√ of the mean squares), 95% CI over seeds;".to_string(),
            "lines on the quadratic: exact stationary values. SGD: bias 0 (not drawn), random part = SHB's (both C²/b).".to_string(),
            "Bottom: stationary √E‖ω‖² (filled) and the peak over t of E‖ωₜ‖ along the run from x₀ (hollow);".to_string(),
            format!(
                "at that peak the bias is at least {:.0}% of E‖ωₜ‖² for SHB and NSHB, at every b.",
                100.0 * self.min_momentum_peak_share()
            ),
        ];
        let body = header(
            root,
            th,
            "Bias and fresh noise in ω vs b (C6)",
            caption,
            self.quick,
        )?;
        let mut opt_entries = Vec::new();
        let mut seen = Vec::new();
        for s in &self.series {
            if !seen.contains(&s.kind) {
                seen.push(s.kind);
                let st = plot::optimizer_style(s.kind);
                opt_entries.push(LegendEntry::marker(
                    plot::optimizer_label(s.kind),
                    st.color,
                    st.marker,
                    true,
                ));
            }
        }
        let g = plot::NEUTRAL;
        let qty = vec![
            LegendEntry::line_marker(
                "random part √E‖ω − E[ω|past]‖²",
                g,
                Dash::Solid,
                plot::Marker::Circle,
                true,
            )
            .with_error_bar(),
            LegendEntry::line_marker(
                "bias part √E‖E[ω|past]‖² (offset right)",
                g,
                Dash::Dashed,
                plot::Marker::Circle,
                false,
            ),
            LegendEntry::line_marker(
                "stationary √E‖ω‖²",
                g,
                Dash::Solid,
                plot::Marker::Circle,
                true,
            ),
            LegendEntry::line_marker(
                "peak of E‖ωₜ‖ from x₀ (offset right)",
                g,
                Dash::Dashed,
                plot::Marker::Circle,
                false,
            ),
        ];
        let ca = plot::legend_columns(&body, th, &opt_entries, 3, 12.0)?;
        let cb = plot::legend_columns(&body, th, &qty, 2, 12.0)?;
        let (ha, hb) = (
            th.px(plot::legend_height(&opt_entries, ca)),
            th.px(plot::legend_height(&qty, cb)),
        );
        let (_, h) = body.dim_in_pixel();
        let (grid, legend) = body.split_vertically(h as i32 - ha - hb);
        let (la, lb) = legend.split_vertically(ha);
        plot::draw_legend(&la, th, &opt_entries, ca, 12.0)?;
        plot::draw_legend(&lb, th, &qty, cb, 12.0)?;

        let all_b: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.b.iter().copied())
            .collect();
        let (b_lo, b_hi) = plot::log_range(all_b, 1.0);
        let ticks = plot::powers_of_two(b_lo.log2().round() as i32, b_hi.log2().round() as i32)
            .into_iter()
            .step_by(2)
            .collect::<Vec<_>>();
        let x_range = (b_lo / 1.5, b_hi * 2.0);
        let panels = grid.split_evenly((2, 2));
        for (ci, case) in CASES.iter().enumerate() {
            let title = if ci == 0 {
                "8-d quadratic, σ = 1, η = 0.05"
            } else {
                "8-d tilted multi-well, σ = 1, η = 0.01"
            };
            let area = plot::panel_title(&panels[ci], th, title)?;
            let mine: Vec<&Series> = self.series.iter().filter(|s| s.case == *case).collect();
            let ys = mine.iter().flat_map(|s| {
                s.bias
                    .iter()
                    .chain(&s.random)
                    .flat_map(|e| {
                        let r = sqrt3(*e);
                        [r.0, r.1, r.2]
                    })
                    .chain(s.exact_bias.iter().chain(&s.exact_random).map(|v| v.sqrt()))
                    .collect::<Vec<_>>()
            });
            let (y_lo, y_hi) = plot::log_range(ys, 1.3);
            let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                plot::log_axis(x_range.0, x_range.1, ticks.clone(), vec![]),
                plot::log_axis_ticked(y_lo, y_hi),
            )?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes::batch(if ci == 0 {
                    "√ of the part of E‖ω‖²"
                } else {
                    ""
                }),
            )?;
            for s in &mine {
                let st = plot::optimizer_style(s.kind);
                let exact = ci == 0;
                let (lw, line_dash_r, line_dash_b) = if exact {
                    (th.line_width(), Dash::Solid, Dash::Dashed)
                } else {
                    (th.upx(1.5), Dash::Solid, Dash::Dashed)
                };
                let rand_line: Vec<(f64, f64)> = if exact {
                    s.b.iter()
                        .zip(&s.exact_random)
                        .map(|(&b, &v)| (b, v.sqrt()))
                        .collect()
                } else {
                    s.b.iter()
                        .zip(&s.random)
                        .map(|(&b, e)| (b, sqrt3(*e).0))
                        .collect()
                };
                let bias_line: Vec<(f64, f64)> = if exact {
                    s.b.iter()
                        .zip(&s.exact_bias)
                        .map(|(&b, &v)| (b * DODGE, v.sqrt()))
                        .collect()
                } else {
                    s.b.iter()
                        .zip(&s.bias)
                        .map(|(&b, e)| (b * DODGE, sqrt3(*e).0))
                        .collect()
                };
                plot::draw_line(
                    &mut chart,
                    th,
                    &plot::positive(rand_line),
                    st.color,
                    line_dash_r,
                    lw,
                )?;
                plot::draw_line(
                    &mut chart,
                    th,
                    &plot::positive(bias_line),
                    st.color,
                    line_dash_b,
                    lw,
                )?;
                let rb: Vec<_> =
                    s.b.iter()
                        .zip(&s.random)
                        .map(|(&b, e)| {
                            let r = sqrt3(*e);
                            (b, r.1, r.2)
                        })
                        .collect();
                plot::draw_error_bars(&mut chart, th, &rb, st.color)?;
                let bb: Vec<_> =
                    s.b.iter()
                        .zip(&s.bias)
                        .map(|(&b, e)| {
                            let r = sqrt3(*e);
                            (b * DODGE, r.1, r.2)
                        })
                        .filter(|p| p.1 > 0.0)
                        .collect();
                plot::draw_error_bars(&mut chart, th, &bb, st.color)?;
                let rp: Vec<_> =
                    s.b.iter()
                        .zip(&s.random)
                        .map(|(&b, e)| (b, sqrt3(*e).0))
                        .collect();
                plot::draw_markers(
                    &mut chart,
                    th,
                    &plot::positive(rp),
                    st.color,
                    st.marker,
                    true,
                )?;
                let bp: Vec<_> =
                    s.b.iter()
                        .zip(&s.bias)
                        .map(|(&b, e)| (b * DODGE, sqrt3(*e).0))
                        .collect();
                plot::draw_markers(
                    &mut chart,
                    th,
                    &plot::positive(bp),
                    st.color,
                    st.marker,
                    false,
                )?;
            }
            // From x₀: the peak over t of E‖ωₜ‖ against the stationary level.
            let area = plot::panel_title(
                &panels[2 + ci],
                th,
                if ci == 0 {
                    "quadratic, run from x₀"
                } else {
                    "multi-well, run from x₀"
                },
            )?;
            let ys = mine.iter().flat_map(|s| {
                s.peak
                    .iter()
                    .copied()
                    .chain(
                        s.bias
                            .iter()
                            .zip(&s.random)
                            .map(|(a, b)| (a.0 + b.0).max(0.0).sqrt()),
                    )
                    .collect::<Vec<_>>()
            });
            let (y_lo, y_hi) = plot::log_range(ys, 1.3);
            let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                plot::log_axis(x_range.0, x_range.1, ticks.clone(), vec![]),
                plot::log_axis_ticked(y_lo, y_hi),
            )?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes::batch(if ci == 0 { "‖ω‖ level" } else { "" }),
            )?;
            for s in &mine {
                let st = plot::optimizer_style(s.kind);
                let stat: Vec<(f64, f64)> =
                    s.b.iter()
                        .zip(s.bias.iter().zip(&s.random))
                        .map(|(&b, (bi, ra))| (b, (bi.0 + ra.0).max(0.0).sqrt()))
                        .collect();
                let stat = plot::positive(stat);
                plot::draw_line(&mut chart, th, &stat, st.color, Dash::Solid, th.upx(1.5))?;
                plot::draw_markers(&mut chart, th, &stat, st.color, st.marker, true)?;
                let peak = plot::positive(s.b.iter().zip(&s.peak).map(|(&b, &v)| (b * DODGE, v)));
                plot::draw_line(&mut chart, th, &peak, st.color, Dash::Dashed, th.upx(1.5))?;
                plot::draw_markers(&mut chart, th, &peak, st.color, st.marker, false)?;
            }
        }
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut series: Vec<Series> = Vec::new();
    for i in 0..t.rows.len() {
        let case = t.str(i, "case")?.to_string();
        let kind = kind_of(t, i)?;
        let idx = match series.iter().position(|s| s.case == case && s.kind == kind) {
            Some(p) => p,
            None => {
                series.push(Series {
                    case,
                    kind,
                    b: vec![],
                    bias: vec![],
                    random: vec![],
                    exact_bias: vec![],
                    exact_random: vec![],
                    peak: vec![],
                    peak_share: vec![],
                });
                series.len() - 1
            }
        };
        let s = &mut series[idx];
        s.b.push(t.f64(i, "batch")?);
        s.bias.push(t.ci(i, "bias_sq")?);
        s.random.push(t.ci(i, "random_sq")?);
        s.exact_bias.push(t.f64(i, "exact_bias_sq")?);
        s.exact_random.push(t.f64(i, "exact_random_sq")?);
        s.peak.push(t.f64(i, "traj_peak_omega")?);
        s.peak_share.push(t.f64(i, "traj_peak_bias_share")?);
    }
    let chart = Chart {
        series,
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
