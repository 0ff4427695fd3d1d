//! Measured √E‖ω‖² versus b on the 4-d diagonal quadratic, beside the exact stationary value,
//! the bias part and the paper's bound ψ (claim C6).

use super::*;

const LANDSCAPE: &str = "quadratic-4d.toml";
const LR: f64 = 0.01;
const BETA: f64 = 0.9;
const KINDS: [OptimizerKind; 3] = [OptimizerKind::Sgd, OptimizerKind::Shb, OptimizerKind::Nshb];
/// b = 2^0 … 2^8.
const B_EXP: (i32, i32) = (0, 8);
const SEED: u64 = 2024;
/// Bias markers are drawn this factor to the right of their b (0.22 octave) so they do not
/// hide the total.
const DODGE: f64 = 1.165;

/// (seeds, steps, burn-in) for full and quick runs.
fn budget(quick: bool) -> (usize, usize, usize) {
    if quick {
        (16, 2_000, 400)
    } else {
        (160, 20_000, 2_000)
    }
}

const COLUMNS: [(&str, &str); 32] = [
    ("optimizer", "sgd, shb or nshb"),
    ("lr", "learning rate eta"),
    ("beta", "momentum factor beta (unused by sgd)"),
    ("batch", "batch size b"),
    ("seeds", "seeds S"),
    (
        "seed",
        "base seed of the point (seed i uses ChaCha8 stream i of it)",
    ),
    (
        "diverged",
        "seeds whose iterate became non-finite (excluded)",
    ),
    ("steps", "steps T per seed"),
    ("burn_in", "steps excluded at the start"),
    (
        "omega_rms",
        "sqrt of measured E||omega||^2 (time average over measured steps, mean over seeds)",
    ),
    (
        "omega_rms_ci_low",
        "sqrt of the lower end of the 95% Student-t CI of E||omega||^2 over seeds",
    ),
    ("omega_rms_ci_high", "sqrt of the upper end of that CI"),
    ("omega_sq", "measured E||omega||^2"),
    ("omega_sq_ci_low", "95% CI lower end"),
    ("omega_sq_ci_high", "95% CI upper end"),
    (
        "bias_rms",
        "sqrt of measured E||E[omega|past]||^2, the bias part",
    ),
    ("bias_rms_ci_low", "sqrt of the lower end of its 95% CI"),
    ("bias_rms_ci_high", "sqrt of the upper end of its 95% CI"),
    ("bias_sq", "measured E||E[omega|past]||^2"),
    (
        "random_sq",
        "measured E||omega - E[omega|past]||^2, the fresh-noise part",
    ),
    ("bias_share", "measured bias_sq / omega_sq"),
    (
        "exact_omega_sq",
        "exact stationary E||omega||^2 (stationary::stationary_moments)",
    ),
    ("exact_omega_rms", "sqrt of exact_omega_sq"),
    ("exact_bias_sq", "exact stationary E||E[omega|past]||^2"),
    ("exact_bias_share", "exact_bias_sq / exact_omega_sq"),
    ("c2", "exact C^2 of the noise law (d sigma^2)"),
    (
        "k",
        "measured K = sqrt(max_t mean over seeds of ||grad f(x_t)||^2)",
    ),
    (
        "psi_paper",
        "paper's bound psi with exact C^2 and measured K (theory::predictions, is_paper)",
    ),
    ("psi_paper_formula", "theory::Formula key of psi_paper"),
    (
        "psi_tight",
        "bound derived here (shb_tight / nshb_tight; = psi_paper for sgd)",
    ),
    (
        "slope_fit",
        "least-squares slope of ln omega_rms vs ln b for this optimizer",
    ),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

/// √ of an estimate of a non-negative quantity, CI ends clamped at 0 before the root.
fn sqrt_est(e: &Estimate) -> Estimate {
    e.map(|v| v.max(0.0).sqrt())
}

/// Least-squares slope of ln y on ln x.
fn loglog_slope(pts: &[(f64, f64)]) -> f64 {
    let p: Vec<(f64, f64)> = pts
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    let n = p.len() as f64;
    if p.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (
        p.iter().map(|q| q.0).sum::<f64>() / n,
        p.iter().map(|q| q.1).sum::<f64>() / n,
    );
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    let sxx: f64 = p.iter().map(|q| (q.0 - mx) * (q.0 - mx)).sum();
    sxy / sxx
}

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let path = ctx.landscapes.join(LANDSCAPE);
    let file = LandscapeFile::read(&path)?;
    let problem = file.build()?;
    if !problem.noise.constant_c2() {
        return Err(Error::invalid(
            "noise.law",
            problem.noise.name(),
            "a law with constant C² (the figure uses the exact C²)",
        ));
    }
    let (eig, var) = momentum_smoothing::stationary::problem_spectrum(&problem)?;
    let (seeds, steps, burn_in) = budget(ctx.quick);
    let batches = plot::powers_of_two(B_EXP.0, B_EXP.1);
    let mut rows = Vec::new();
    for (kind_index, kind) in KINDS.into_iter().enumerate() {
        let opt = Optimizer::new(kind, LR, BETA, 0.0)?;
        let mut block: Vec<Vec<String>> = Vec::new();
        let mut fit = Vec::new();
        for &b in &batches {
            ctx.bar
                .set_message(format!("{}: run {} b={b}", fig.name, kind.name()));
            // An independent base seed per point, so the points' errors are independent.
            let seed = SEED + 1000 * kind_index as u64 + b.log2().round() as u64;
            let cfg = RunConfig {
                optimizer: opt,
                batch: b as usize,
                steps,
                burn_in,
                seeds,
                seed,
                every: 1,
            };
            let s = runner::run(&problem, &cfg, None)?.summarize(&problem);
            if s.diverged == s.seeds {
                return Err(Error::invalid(
                    "lr",
                    LR,
                    format!(
                        "a smaller value: all {} seeds of {kind} at b = {b} diverged",
                        s.seeds
                    ),
                ));
            }
            let exact = stationary::stationary_moments(&opt, &eig, &var, b)?;
            let preds = theory::predictions(&opt, b, s.c2, Some(s.k))?;
            let paper = preds.iter().find(|p| p.is_paper).ok_or_else(|| {
                Error::Open(format!(
                    "theory::predictions gives no paper bound for {kind}"
                ))
            })?;
            let tight = preds
                .iter()
                .find(|p| p.key.ends_with("_tight"))
                .unwrap_or(paper);
            let rms = sqrt_est(&s.omega_norm_sq);
            let bias = sqrt_est(&s.omega_bias_sq);
            fit.push((b, rms.mean));
            block.push(vec![
                kind.name().to_string(),
                cell(LR),
                cell(BETA),
                cell(b),
                s.seeds.to_string(),
                seed.to_string(),
                s.diverged.to_string(),
                steps.to_string(),
                burn_in.to_string(),
                cell(rms.mean),
                cell(rms.ci_low),
                cell(rms.ci_high),
                cell(s.omega_norm_sq.mean),
                cell(s.omega_norm_sq.ci_low),
                cell(s.omega_norm_sq.ci_high),
                cell(bias.mean),
                cell(bias.ci_low),
                cell(bias.ci_high),
                cell(s.omega_bias_sq.mean),
                cell(s.omega_random_sq.mean),
                cell(s.omega_bias_sq.mean / s.omega_norm_sq.mean),
                cell(exact.omega_sq),
                cell(exact.omega_sq.sqrt()),
                cell(exact.omega_bias_sq),
                cell(exact.omega_bias_sq / exact.omega_sq),
                cell(s.c2),
                cell(s.k),
                cell(paper.psi),
                paper.key.to_string(),
                cell(tight.psi),
            ]);
        }
        let slope = loglog_slope(&fit);
        for mut r in block {
            r.push(cell(slope));
            r.push(if ctx.quick { "1" } else { "0" }.to_string());
            rows.push(r);
        }
    }
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    write_csv(&ctx.csv(fig.name), &header, rows)?;
    let config = json!({
        "landscape_file": path.display().to_string(),
        "landscape": file,
        "optimizers": KINDS.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "lr": LR, "beta": BETA, "batches": batches,
        "seeds": seeds, "steps": steps, "burn_in": burn_in, "every": 1,
        "seed": format!("{SEED} + 1000 * optimizer index + log2(b)"),
        "eigenvalues": eig, "noise_var_per_coord": var,
    });
    ctx.write_sidecar(fig, config, &COLUMNS)
}

/// One optimizer's rows, as read from the CSV.
struct Rows {
    kind: OptimizerKind,
    b: Vec<f64>,
    rms: Vec<(f64, f64, f64)>,
    bias: Vec<(f64, f64, f64)>,
    exact: Vec<f64>,
    psi: Vec<f64>,
    share: Vec<f64>,
    exact_share: Vec<f64>,
    slope: f64,
}

struct Chart {
    series: Vec<Rows>,
    lr: f64,
    beta: f64,
    c2: f64,
    seeds: f64,
    steps: f64,
    quick: bool,
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (640, 980)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = vec![
            format!(
                "4-d quadratic, Gaussian noise, C² = {}; η = {}, β = {}",
                self.c2, self.lr, self.beta
            ),
            format!(
                "{} seeds × {} steps per point; bars: 95% CI over seeds",
                self.seeds, self.steps
            ),
        ];
        let body = header(
            root,
            th,
            "Search-direction noise ω vs b",
            caption,
            self.quick,
        )?;

        // Legend: optimizers (colour, marker) in one row, then the quantities (shape).
        let mut opt_entries = Vec::new();
        for s in &self.series {
            let st = plot::optimizer_style(s.kind);
            let slope = format!("{:.2}", s.slope).replace('-', "−");
            opt_entries.push(LegendEntry::marker(
                format!("{}, slope {slope}", plot::optimizer_label(s.kind)),
                st.color,
                st.marker,
                true,
            ));
        }
        let grey = plot::NEUTRAL;
        let qty = vec![
            LegendEntry::marker("measured √E‖ω‖²", grey, plot::Marker::Circle, true)
                .with_error_bar(),
            LegendEntry::line("exact stationary √E‖ω‖²", grey, Dash::Solid),
            LegendEntry::marker(
                "bias part √E‖E[ω|past]‖² (drawn offset right)",
                grey,
                plot::Marker::Circle,
                false,
            ),
            LegendEntry::line("paper's bound ψ (exact C², measured K)", grey, Dash::Dashed),
        ];
        let cols_a = plot::legend_columns(&body, th, &opt_entries, 3, 12.0)?;
        let cols_b = plot::legend_columns(&body, th, &qty, 2, 12.0)?;
        let h_a = th.px(plot::legend_height(&opt_entries, cols_a));
        let h_b = th.px(plot::legend_height(&qty, cols_b));
        let (_, h) = body.dim_in_pixel();
        let (plots, legend) = body.split_vertically(h as i32 - h_a - h_b);
        let (legend_a, legend_b) = legend.split_vertically(h_a);
        plot::draw_legend(&legend_a, th, &opt_entries, cols_a, 12.0)?;
        plot::draw_legend(&legend_b, th, &qty, cols_b, 12.0)?;

        let (_, ph) = plots.dim_in_pixel();
        let (upper, lower) = plots.split_vertically((ph as f64 * 0.68) as i32);

        let bs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.b.iter().copied())
            .collect();
        let (b_lo, b_hi) = plot::log_range(bs.iter().copied(), 1.0);
        let x_ticks = plot::powers_of_two(b_lo.log2().round() as i32, b_hi.log2().round() as i32);
        let x_range = (b_lo / 1.35, b_hi * 1.35);
        let ys = self.series.iter().flat_map(|s| {
            s.rms
                .iter()
                .flat_map(|r| [r.0, r.1, r.2])
                .chain(s.bias.iter().map(|r| r.0))
                .chain(s.exact.iter().copied())
                .chain(s.psi.iter().copied())
        });
        let (y_lo, y_hi) = plot::log_range(ys, 1.3);
        let mut chart = plot::chart_builder(&upper, th).build_cartesian_2d(
            plot::log_axis(x_range.0, x_range.1, x_ticks.clone(), vec![]),
            plot::log_axis_ticked(y_lo, y_hi),
        )?;
        plot::draw_axes(
            &mut chart,
            th,
            &plot::Axes {
                y_labels: 10,
                ..plot::Axes::new("batch size b", "√E‖ω‖²")
            },
        )?;
        for s in &self.series {
            let st = plot::optimizer_style(s.kind);
            let psi = plot::positive(s.b.iter().copied().zip(s.psi.iter().copied()));
            plot::draw_line(
                &mut chart,
                th,
                &psi,
                st.color,
                Dash::Dashed,
                th.line_width(),
            )?;
            let exact = plot::positive(s.b.iter().copied().zip(s.exact.iter().copied()));
            plot::draw_line(
                &mut chart,
                th,
                &exact,
                st.color,
                Dash::Solid,
                th.line_width(),
            )?;
            let bars: Vec<_> =
                s.b.iter()
                    .zip(&s.rms)
                    .map(|(&b, r)| (b, r.1, r.2))
                    .collect();
            plot::draw_error_bars(&mut chart, th, &bars, st.color)?;
            let bias = plot::positive(s.b.iter().zip(&s.bias).map(|(&b, r)| (b * DODGE, r.0)));
            plot::draw_markers(&mut chart, th, &bias, st.color, st.marker, false)?;
            let rms = plot::positive(s.b.iter().zip(&s.rms).map(|(&b, r)| (b, r.0)));
            plot::draw_markers(&mut chart, th, &rms, st.color, st.marker, true)?;
            // Direct labels for the bounds. SGD's bound C/√b is the exact value itself: its
            // label goes under the right end of its (falling) line; the others above the left
            // end of their dashed lines.
            let ends = if s.kind == OptimizerKind::Sgd {
                s.b.last().zip(s.psi.last())
            } else {
                s.b.first().zip(s.psi.first())
            };
            if let Some((&bx, &py)) = ends {
                let name = plot::optimizer_label(s.kind);
                let (text, at, pos) = if s.kind == OptimizerKind::Sgd {
                    (
                        format!("ψ {name} = exact"),
                        (bx, py / 1.2),
                        Pos::new(HPos::Right, VPos::Top),
                    )
                } else {
                    (
                        format!("ψ {name}"),
                        (bx * 1.12, py * 1.06),
                        Pos::new(HPos::Left, VPos::Bottom),
                    )
                };
                plot::draw_label(&mut chart, th, at, &text, st.color, pos)?;
            }
        }

        // Lower panel: the share of E‖ω‖² that is bias.
        let mut share = plot::chart_builder(&lower, th).build_cartesian_2d(
            plot::log_axis(x_range.0, x_range.1, x_ticks, vec![]),
            plot::lin_axis(-0.05, 1.08),
        )?;
        plot::draw_axes(
            &mut share,
            th,
            &plot::Axes {
                y_labels: 4,
                ..plot::Axes::new("batch size b", "bias share")
            },
        )?;
        for s in &self.series {
            let st = plot::optimizer_style(s.kind);
            let exact: Vec<_> =
                s.b.iter()
                    .copied()
                    .zip(s.exact_share.iter().copied())
                    .collect();
            plot::draw_line(
                &mut share,
                th,
                &exact,
                st.color,
                Dash::Solid,
                th.line_width(),
            )?;
            let meas: Vec<_> =
                s.b.iter()
                    .copied()
                    .zip(s.share.iter().copied())
                    .filter(|p| p.1.is_finite())
                    .collect();
            plot::draw_markers(&mut share, th, &meas, st.color, st.marker, false)?;
        }
        let x0 = share.x_range().start;
        plot::draw_label(
            &mut share,
            th,
            (x0 * 1.15, 0.45),
            "E‖E[ω|past]‖² / E‖ω‖²: markers measured, lines exact",
            plot::NEUTRAL,
            Pos::new(HPos::Left, VPos::Center),
        )?;
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut series = Vec::new();
    for name in t.distinct("optimizer")? {
        let idx = t.rows_where("optimizer", &name)?;
        let Some(&first) = idx.first() else { continue };
        let mut s = Rows {
            kind: OptimizerKind::parse(&name)?,
            b: vec![],
            rms: vec![],
            bias: vec![],
            exact: vec![],
            psi: vec![],
            share: vec![],
            exact_share: vec![],
            slope: t.f64(first, "slope_fit")?,
        };
        for &i in &idx {
            s.b.push(t.f64(i, "batch")?);
            s.rms.push(t.ci(i, "omega_rms")?);
            s.bias.push(t.ci(i, "bias_rms")?);
            s.exact.push(t.f64(i, "exact_omega_rms")?);
            s.psi.push(t.f64(i, "psi_paper")?);
            s.share.push(t.f64(i, "bias_share")?);
            s.exact_share.push(t.f64(i, "exact_bias_share")?);
        }
        series.push(s);
    }
    let chart = Chart {
        series,
        lr: t.first_f64("lr")?,
        beta: t.first_f64("beta")?,
        c2: t.first_f64("c2")?,
        seeds: t.first_f64("seeds")?,
        steps: t.first_f64("steps")?,
        quick: t.first_f64("quick")? != 0.0,
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
