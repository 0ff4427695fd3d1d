//! Effective learning rate (claim C10, synthetic part): E‖ω‖ and the stationary loss per
//! optimizer at matched η and at matched η_eff = η/(1−β) (SHB, Nesterov; η for SGD, NSHB, QHM),
//! on the quadratic of `experiments::equivalence::c10_settings` versus β (exact stationary lines,
//! measured markers from `equivalence::measure_setting`), and the ratio to SGD at β = 0.9 on the
//! nonlinear C10 settings.

use super::*;
use momentum_smoothing::experiments::equivalence::{self, Matching, NoiseSetting, SimSpec};
use momentum_smoothing::experiments::Scale;

const NU: f64 = 0.7;
const MATCHINGS: [Matching; 2] = [Matching::Eta, Matching::EffectiveEta];

fn measured_betas(quick: bool) -> Vec<f64> {
    if quick {
        vec![0.9]
    } else {
        vec![0.5, 0.9]
    }
}

fn spec(quick: bool, heavy: bool) -> SimSpec {
    let (steps, burn_in, seeds) = match (quick, heavy) {
        (true, _) => (600, 200, 6),
        (false, false) => (6000, 1000, 32),
        (false, true) => (2500, 500, 24),
    };
    SimSpec {
        batch: 4,
        steps,
        burn_in,
        seeds,
        seed: 10,
    }
}

const COLUMNS: [(&str, &str); 19] = [
    ("setting", "equivalence::c10_settings name"),
    ("short", "short setting label"),
    (
        "source",
        "exact (stationary Lyapunov; quadratic) or measured (runner)",
    ),
    (
        "matching",
        "eta (same eta for every rule) or eta_eff (same eta/(1-beta) for SHB, Nesterov)",
    ),
    ("optimizer", "sgd, shb, nshb, qhm or nesterov"),
    ("lr", "learning rate eta of the rule"),
    ("effective_lr", "eta_eff"),
    ("beta", "momentum factor beta"),
    ("nu", "QHM nu"),
    ("batch", "batch size b"),
    ("omega_rms", "sqrt E||omega||^2 (stationary)"),
    (
        "omega_rms_ci_low",
        "sqrt of the lower end of the 95% CI of E||omega||^2 over seeds (measured rows)",
    ),
    ("omega_rms_ci_high", "sqrt of the upper end"),
    ("omega_norm", "E||omega|| (measured rows)"),
    ("loss", "stationary E f(x_t)"),
    (
        "ratio_to_sgd",
        "E||omega|| / SGD's in the same setting and matching (measured rows)",
    ),
    ("ratio_ci_low", "delta-method 95% CI"),
    ("ratio_ci_high", "delta-method 95% CI"),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

/// β tick labels at multiples of 0.2 only.
fn beta_tick(v: &f64) -> String {
    let k = (v * 5.0).round();
    if (v * 5.0 - k).abs() < 1e-6 {
        plot::fmt_tick(k / 5.0)
    } else {
        String::new()
    }
}

fn short(name: &str) -> &'static str {
    if name.starts_with("quadratic") {
        "quadratic"
    } else if name.starts_with("rastrigin") {
        "Rastr."
    } else if name.starts_with("styblinski") {
        "Styb."
    } else if name.starts_with("teacher") {
        "t–s"
    } else {
        "other"
    }
}

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    // The four Quick settings (quadratic, Rastrigin/Gaussian, Styblinski–Tang, teacher–student).
    let settings: Vec<NoiseSetting> = equivalence::c10_settings(Scale::Quick)?;
    let mut rows = Vec::new();
    for setting in &settings {
        let heavy = matches!(
            setting.problem.noise,
            momentum_smoothing::noise::NoiseLaw::FiniteSum
        );
        let is_quad = setting.exact.is_some();
        // Exact lines over β on the quadratic.
        if let Some((eig, s2)) = &setting.exact {
            for matching in MATCHINGS {
                for i in 0..=38 {
                    let beta = 0.025 * i as f64;
                    for opt in equivalence::matched_optimizers(matching, setting.lr, beta, NU)? {
                        if opt.kind == OptimizerKind::Sgd && i > 0 {
                            continue;
                        }
                        let m =
                            stationary::stationary_moments(&opt, eig, s2, setting.batch as f64)?;
                        rows.push(vec![
                            setting.name.clone(),
                            short(&setting.name).into(),
                            "exact".into(),
                            matching_key(matching).into(),
                            opt.kind.name().into(),
                            cell(opt.lr),
                            cell(opt.effective_lr()),
                            cell(beta),
                            cell(NU),
                            setting.batch.to_string(),
                            cell(m.omega_sq.sqrt()),
                            String::new(),
                            String::new(),
                            String::new(),
                            cell(m.loss),
                            String::new(),
                            String::new(),
                            String::new(),
                            quick_cell(ctx),
                        ]);
                    }
                }
            }
        }
        let betas = if is_quad {
            measured_betas(ctx.quick)
        } else {
            vec![0.9]
        };
        let sp = SimSpec {
            batch: setting.batch,
            ..spec(ctx.quick, heavy)
        };
        for matching in MATCHINGS {
            for &beta in &betas {
                ctx.bar.set_message(format!(
                    "{}: {} {} β={beta}",
                    fig.name,
                    short(&setting.name),
                    matching_key(matching)
                ));
                for r in equivalence::measure_setting(setting, matching, beta, NU, &sp, None)? {
                    let ratio = r.ratio_to_sgd.unwrap_or(Estimate {
                        mean: f64::NAN,
                        ci_low: f64::NAN,
                        ci_high: f64::NAN,
                        std_dev: f64::NAN,
                        n: 0,
                    });
                    let mut row = vec![
                        setting.name.clone(),
                        short(&setting.name).into(),
                        "measured".into(),
                        matching_key(matching).into(),
                        r.optimizer.kind.name().into(),
                        cell(r.optimizer.lr),
                        cell(r.effective_lr),
                        cell(beta),
                        cell(NU),
                        setting.batch.to_string(),
                    ];
                    row.extend(est_cells(&r.omega_sq.map(|v| v.max(0.0).sqrt())));
                    row.push(cell(r.omega_norm.mean));
                    row.push(cell(r.loss.mean));
                    row.extend(est_cells(&ratio));
                    row.push(quick_cell(ctx));
                    rows.push(row);
                }
            }
        }
    }
    let config = json!({
        "settings": settings.iter().map(|s| json!({"name": s.name, "lr": s.lr, "batch": s.batch})).collect::<Vec<_>>(),
        "nu": NU, "measured_betas_quadratic": measured_betas(ctx.quick), "beta_nonlinear": 0.9,
        "exact_betas": "0, 0.025, ..., 0.95",
        "spec": spec(ctx.quick, false), "spec_finite_sum": spec(ctx.quick, true),
        "library": "experiments::equivalence::{c10_settings, matched_optimizers, measure_setting}, stationary::stationary_moments",
    });
    write_data(ctx, fig, &COLUMNS, rows, config)
}

fn matching_key(m: Matching) -> &'static str {
    match m {
        Matching::Eta => "eta",
        Matching::EffectiveEta => "eta_eff",
    }
}

#[derive(Default)]
struct Series {
    kind: Option<OptimizerKind>,
    matching: String,
    short: String,
    exact: Vec<(f64, f64, f64)>,
    /// (β, ω_rms, E‖ω‖ lo, hi, loss, ratio, ratio lo, hi)
    measured: Vec<[f64; 8]>,
}

struct Chart {
    series: Vec<Series>,
    others: Vec<String>,
    quick: bool,
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (1300, 1000)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = vec![
            "Left, middle: 10-d quadratic (λ ∈ [1, 10], σ = 1, b = 4), η = 0.01 or η/(1−β) = 0.01; lines exact stationary,".to_string(),
            "markers measured (95% CI over seeds). Right: E‖ω‖ relative to SGD at β = 0.9 on the nonlinear C10 settings".to_string(),
            "(Rastr. = Rastrigin, Styb. = Styblinski–Tang, t–s = teacher–student). Effective rate: η/(1−β) for SHB and".to_string(),
            "Nesterov, η for SGD, NSHB and QHM (ν = 0.7).".to_string(),
        ];
        let body = header(
            root,
            th,
            "Noise at matched η vs matched effective learning rate η/(1−β) (C10)",
            caption,
            self.quick,
        )?;
        let entries: Vec<LegendEntry> = OptimizerKind::ALL
            .iter()
            .map(|&k| {
                let st = plot::optimizer_style(k);
                LegendEntry::line_marker(
                    plot::optimizer_label(k),
                    st.color,
                    st.dash,
                    st.marker,
                    true,
                )
            })
            .collect();
        let cols = plot::legend_columns(&body, th, &entries, 5, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;
        let panels = grid.split_evenly((2, 3));
        let quad: Vec<&Series> = self
            .series
            .iter()
            .filter(|s| s.short == "quadratic")
            .collect();
        for row in 0..2 {
            let ys = quad.iter().flat_map(|s| {
                let e: Vec<f64> = if row == 0 {
                    s.exact
                        .iter()
                        .map(|p| p.1)
                        .chain(s.measured.iter().flat_map(|m| [m[2], m[3]]))
                        .collect()
                } else {
                    s.exact
                        .iter()
                        .map(|p| p.2)
                        .chain(s.measured.iter().map(|m| m[4]))
                        .collect()
                };
                e
            });
            let (y_lo, y_hi) = plot::log_range(ys, 1.2);
            let (major, minor) = plot::log_ticks(y_lo, y_hi);
            for (col, matching) in ["eta", "eta_eff"].iter().enumerate() {
                let title = match (row, col) {
                    (0, 0) => "quadratic, matched η",
                    (0, _) => "quadratic, matched η/(1−β)",
                    (_, 0) => "stationary loss, matched η",
                    _ => "stationary loss, matched η/(1−β)",
                };
                let area = plot::panel_title(&panels[3 * row + col], th, title)?;
                let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                    plot::lin_axis(-0.02, 0.97),
                    plot::log_axis(y_lo, y_hi, major.clone(), minor.clone()),
                )?;
                plot::draw_axes(
                    &mut chart,
                    th,
                    &plot::Axes {
                        x_desc: "momentum β",
                        y_desc: match (row, col) {
                            (0, 0) => "√E‖ω‖²",
                            (_, 0) => "E f(x)",
                            _ => "",
                        },
                        x_fmt: &beta_tick,
                        y_fmt: &|v| plot::fmt_tick(*v),
                        y_labels: 6,
                    },
                )?;
                for s in quad.iter().filter(|s| &s.matching == matching) {
                    let Some(kind) = s.kind else { continue };
                    let st = plot::optimizer_style(kind);
                    let line: Vec<(f64, f64)> = if kind == OptimizerKind::Sgd {
                        s.exact
                            .first()
                            .map(|p| {
                                let y = if row == 0 { p.1 } else { p.2 };
                                vec![(0.0, y), (0.95, y)]
                            })
                            .unwrap_or_default()
                    } else {
                        s.exact
                            .iter()
                            .map(|p| (p.0, if row == 0 { p.1 } else { p.2 }))
                            .collect()
                    };
                    let line: Vec<(f64, f64)> = line
                        .into_iter()
                        .filter(|p| p.1 > 0.0 && p.1.is_finite())
                        .collect();
                    plot::draw_line(&mut chart, th, &line, st.color, st.dash, th.line_width())?;
                    if row == 0 {
                        let bars: Vec<_> = s.measured.iter().map(|m| (m[0], m[2], m[3])).collect();
                        plot::draw_error_bars(&mut chart, th, &bars, st.color)?;
                    }
                    let pts: Vec<_> = s
                        .measured
                        .iter()
                        .map(|m| (m[0], if row == 0 { m[1] } else { m[4] }))
                        .collect();
                    plot::draw_markers(
                        &mut chart,
                        th,
                        &plot::positive_y(pts),
                        st.color,
                        st.marker,
                        true,
                    )?;
                }
            }
            // Right column: ratio to SGD on the other settings, one panel per matching.
            let matching = if row == 0 { "eta" } else { "eta_eff" };
            let title = if row == 0 {
                "other landscapes, matched η"
            } else {
                "other landscapes, matched η/(1−β)"
            };
            let area = plot::panel_title(&panels[3 * row + 2], th, title)?;
            let others: Vec<&Series> = self
                .series
                .iter()
                .filter(|s| s.short != "quadratic")
                .collect();
            let ys = others
                .iter()
                .flat_map(|s| s.measured.iter().flat_map(|m| [m[6], m[7]]))
                .chain([1.0]);
            let (ylo, yhi) = plot::log_range(ys, 1.4);
            let (major, minor) = plot::log_ticks(ylo, yhi);
            let n = self.others.len().max(1) as f64;
            let names = self.others.clone();
            let fmt = move |v: &f64| -> String {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            };
            let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                plot::lin_axis(-0.5, n - 0.5),
                plot::log_axis(ylo, yhi, major, minor),
            )?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes {
                    x_desc: "",
                    y_desc: "E‖ω‖ / E‖ω‖ of SGD",
                    x_fmt: &fmt,
                    y_fmt: &|v| plot::fmt_tick(*v),
                    y_labels: 6,
                },
            )?;
            plot::draw_hline(&mut chart, th, 1.0, BLACK, Dash::Dotted)?;
            for s in others.iter().filter(|s| s.matching == matching) {
                let Some(kind) = s.kind else { continue };
                let Some(xi) = self.others.iter().position(|o| o == &s.short) else {
                    continue;
                };
                let ki = OptimizerKind::ALL
                    .iter()
                    .position(|&k| k == kind)
                    .unwrap_or(0) as f64;
                let x = xi as f64 + (ki - 2.0) * 0.15;
                let st = plot::optimizer_style(kind);
                for m in &s.measured {
                    plot::draw_error_bars(&mut chart, th, &[(x, m[6], m[7])], st.color)?;
                    plot::draw_markers(
                        &mut chart,
                        th,
                        &plot::positive_y([(x, m[5])]),
                        st.color,
                        st.marker,
                        true,
                    )?;
                }
            }
        }
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut series: Vec<Series> = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for i in 0..t.rows.len() {
        let short = t.str(i, "short")?.to_string();
        if short != "quadratic" && !others.contains(&short) {
            others.push(short.clone());
        }
        let kind = kind_of(t, i)?;
        let matching = t.str(i, "matching")?.to_string();
        let idx = match series
            .iter()
            .position(|s| s.kind == Some(kind) && s.matching == matching && s.short == short)
        {
            Some(p) => p,
            None => {
                series.push(Series {
                    kind: Some(kind),
                    matching: matching.clone(),
                    short: short.clone(),
                    ..Default::default()
                });
                series.len() - 1
            }
        };
        let beta = t.f64(i, "beta")?;
        if t.str(i, "source")? == "exact" {
            series[idx]
                .exact
                .push((beta, t.f64(i, "omega_rms")?, t.f64(i, "loss")?));
        } else {
            series[idx].measured.push([
                beta,
                t.f64(i, "omega_rms")?,
                t.f64(i, "omega_rms_ci_low")?,
                t.f64(i, "omega_rms_ci_high")?,
                t.f64(i, "loss")?,
                t.f64(i, "ratio_to_sgd")?,
                t.f64(i, "ratio_ci_low")?,
                t.f64(i, "ratio_ci_high")?,
            ]);
        }
    }
    let chart = Chart {
        series,
        others,
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
