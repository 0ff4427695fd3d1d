//! Critical batch size (claims C7, C8; the paper's Fig. 2 and the authors' reviewer figure),
//! drawn from the files the C7/C8 experiments write (`experiments::critical::write_figure_data`,
//! in `figures/data/critical/`). The run step of these figures recomputes nothing: it copies the
//! rows it draws into `OUT/data/NAME.csv`, adds the theory's lower bound
//! b* > η·factor·C²/ε² (`theory::critical_batch_lower_bound`, `theory::sfo_factor`), and
//! records the source files and their provenance in the sidecar.
//!
//! - `sfo-vs-batch`: SFO N(b) = b·T(b) (median over seeds, 95% band) vs b per ε, with b* marked
//!   and the lower bound, one panel per (optimizer, stopping rule) of the ε sweep;
//! - `variance-estimates`: C² from the back-solve b*ε²/(η·factor), by direct measurement and by
//!   McCandlish's tr Σ, each over the true C² (left), and b* vs ε with the fitted exponent (right).

use super::*;

fn source(ctx: &Ctx, file: &str) -> PathBuf {
    ctx.external.join("critical").join(file)
}

/// The provenance the critical experiment recorded, or null.
fn source_provenance(ctx: &Ctx) -> Value {
    std::fs::read_to_string(source(ctx, "provenance.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn read_source(ctx: &Ctx, file: &str) -> Result<DataTable> {
    let p = source(ctx, file);
    DataTable::read(&p).map_err(|e| Error::File {
        path: p.display().to_string(),
        message: format!(
            "{e} (written by the C7/C8 experiments: cargo test --release --test \
             c8_critical_batch_scaling -- --ignored)"
        ),
    })
}

fn kind_or_open(name: &str) -> Result<OptimizerKind> {
    OptimizerKind::parse(name)
}

// =============================================================================================
// sfo-vs-batch
// =============================================================================================

const SFO_COLUMNS: [(&str, &str); 17] = [
    ("experiment", "c7 or c8 (the experiment that ran the sweep)"),
    ("optimizer", "sgd, shb or nshb"),
    ("lr", "learning rate eta"),
    ("beta", "momentum factor beta"),
    (
        "rule",
        "stopping rule (running-mean: the authors'; full-gradient)",
    ),
    (
        "c2_true",
        "true per-sample gradient variance C^2 of the noise law",
    ),
    ("eps", "stopping threshold epsilon"),
    ("batch", "batch size b"),
    (
        "sfo_median",
        "median over seeds of N(b) = b T(b) (empty: censored)",
    ),
    ("sfo_ci95_low", "95% CI of the median, lower end"),
    ("sfo_ci95_high", "95% CI of the median, upper end"),
    (
        "b_star",
        "critical batch size b* (argmin of the median SFO, refined in log b)",
    ),
    ("b_star_ci95_low", "bootstrap 95% CI of b*"),
    ("b_star_ci95_high", "bootstrap 95% CI of b*"),
    ("b_star_at_edge", "b* at the edge of the b grid"),
    (
        "b_lower_bound",
        "theory: eta * factor * C^2 / eps^2 (theory::critical_batch_lower_bound)",
    ),
    ("seeds", "seeds per b"),
];

pub fn run_sfo(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let t = read_source(ctx, "sfo.csv")?;
    let mut rows = Vec::new();
    for i in 0..t.rows.len() {
        // The ε sweep (C8) is the paper's Fig. 2; C7's sweeps vary η at one ε.
        if t.str(i, "experiment")? != "c8" {
            continue;
        }
        let kind = kind_or_open(t.str(i, "optimizer")?)?;
        let (lr, beta, c2, eps) = (
            t.f64(i, "lr")?,
            t.f64(i, "beta")?,
            t.f64(i, "c2_true")?,
            t.f64(i, "eps")?,
        );
        let lb = theory::sfo_factor(kind, beta)
            .and_then(|f| theory::critical_batch_lower_bound(c2, eps, lr, f))
            .unwrap_or(f64::NAN);
        let s = |c: &str| -> Result<String> { Ok(t.str(i, c)?.to_string()) };
        rows.push(vec![
            s("experiment")?,
            kind.name().to_string(),
            s("lr")?,
            s("beta")?,
            s("rule")?,
            s("c2_true")?,
            s("eps")?,
            s("batch")?,
            s("sfo_median")?,
            s("sfo_ci95_low")?,
            s("sfo_ci95_high")?,
            s("b_star")?,
            s("b_star_ci95_low")?,
            s("b_star_ci95_high")?,
            s("b_star_at_edge")?,
            cell(lb),
            s("seeds")?,
        ]);
    }
    let config = json!({
        "source": source(ctx, "sfo.csv").display().to_string(),
        "source_provenance": source_provenance(ctx),
        "rows": "experiment c8 (the epsilon sweep) of sfo.csv",
        "lower_bound": "theory::critical_batch_lower_bound(C^2, eps, eta, theory::sfo_factor(optimizer, beta))",
    });
    write_data(ctx, fig, &SFO_COLUMNS, rows, config)
}

#[derive(Default)]
struct Curve {
    eps: f64,
    pts: Vec<(f64, f64, f64, f64)>,
    b_star: f64,
    b_star_ci: (f64, f64),
    lb: f64,
}

struct Panel {
    key: String,
    kind: Option<OptimizerKind>,
    title: String,
    curves: Vec<Curve>,
}

struct SfoChart {
    panels: Vec<Panel>,
    note: String,
}

/// Finite positive number or NaN (censored cells are empty or `inf`).
fn num(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v
    } else {
        f64::NAN
    }
}

impl Figure for SfoChart {
    fn size(&self) -> (u32, u32) {
        let (_, rows) = grid_shape(self.panels.len(), 3);
        (1150, 250 + 340 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = [
            "SFO N(b) = b·T(b): median over seeds with its 95% band; ◆ b* with its bootstrap 95% interval;".to_string(),
            "dashed vertical: the theory's lower bound b* > η·factor·C²/ε² in the curve's colour.".to_string(),
            self.note.clone(),
        ];
        let cap: Vec<&str> = caption.iter().map(String::as_str).collect();
        let body = plot::draw_header(
            root,
            th,
            "SFO complexity vs batch size and the critical batch size (C8; paper Fig. 2)",
            &cap,
        )?;
        let mut eps_all: Vec<f64> = self
            .panels
            .iter()
            .flat_map(|p| p.curves.iter().map(|c| c.eps))
            .collect();
        eps_all.sort_by(f64::total_cmp);
        eps_all.dedup();
        let colour = |e: f64| {
            let i = eps_all.iter().position(|&x| x == e).unwrap_or(0);
            plot::sequential(i, eps_all.len())
        };
        let entries: Vec<LegendEntry> = eps_all
            .iter()
            .map(|&e| LegendEntry::line(format!("ε = {e}"), colour(e), Dash::Solid))
            .collect();
        let cols = plot::legend_columns(&body, th, &entries, 6, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;
        let (ncols, nrows) = grid_shape(self.panels.len(), 3);
        let cells = grid.split_evenly((nrows, ncols));
        for (pi, p) in self.panels.iter().enumerate() {
            let area = plot::panel_title(&cells[pi], th, &p.title)?;
            let bs = p.curves.iter().flat_map(|c| c.pts.iter().map(|q| q.0));
            let (b_lo, b_hi) = plot::log_range(bs, 1.0);
            let ticks: Vec<f64> =
                plot::powers_of_two(b_lo.log2().floor() as i32, b_hi.log2().ceil() as i32)
                    .into_iter()
                    .filter(|b| *b >= b_lo / 1.01 && *b <= b_hi * 1.01)
                    .collect();
            let ticks = if ticks.len() > 7 {
                ticks.into_iter().step_by(2).collect()
            } else {
                ticks
            };
            let ys = p
                .curves
                .iter()
                .flat_map(|c| c.pts.iter().flat_map(|q| [q.1, q.2, q.3]));
            let (y_lo, y_hi) = plot::log_range(ys, 1.3);
            let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                plot::log_axis(b_lo / 1.3, b_hi * 1.3, ticks, vec![]),
                plot::log_axis_ticked(y_lo, y_hi),
            )?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes {
                    x_desc: "batch size b",
                    y_desc: if pi % ncols == 0 { "SFO N(b)" } else { "" },
                    x_fmt: &|v| plot::fmt_pow2(*v),
                    y_fmt: &|v| {
                        let e = v.log10();
                        if (e - e.round()).abs() < 1e-9 {
                            if *v >= 1000.0 {
                                format!("10{}", plot::superscript(e.round() as i64))
                            } else {
                                plot::fmt_tick(*v)
                            }
                        } else if *v >= 1000.0 {
                            String::new()
                        } else {
                            plot::fmt_tick(*v)
                        }
                    },
                    y_labels: 6,
                },
            )?;
            let (x0, x1) = (b_lo / 1.3, b_hi * 1.3);
            for c in &p.curves {
                let col = colour(c.eps);
                let band: Vec<(f64, f64, f64)> = c
                    .pts
                    .iter()
                    .filter(|q| q.2.is_finite() && q.3.is_finite())
                    .map(|q| (q.0, q.2, q.3))
                    .collect();
                plot::draw_band(&mut chart, &band, col, 0.18)?;
                let line = plot::positive(c.pts.iter().map(|q| (q.0, q.1)));
                plot::draw_line(&mut chart, th, &line, col, Dash::Solid, th.line_width())?;
                if c.lb.is_finite() && c.lb > x0 && c.lb < x1 {
                    plot::draw_line(
                        &mut chart,
                        th,
                        &[(c.lb, y_lo), (c.lb, y_hi)],
                        col,
                        Dash::Dashed,
                        th.upx(1.5),
                    )?;
                }
                if c.b_star.is_finite() {
                    // N at b*: interpolate the median curve in log–log.
                    let y = interp_loglog(&line, c.b_star);
                    if y.is_finite() {
                        let (lo, hi) = c.b_star_ci;
                        if lo.is_finite() && hi.is_finite() {
                            chart.draw_series(std::iter::once(PathElement::new(
                                vec![(lo.max(x0), y), (hi.min(x1), y)],
                                col.stroke_width(th.upx(2.0)),
                            )))?;
                        }
                        plot::draw_markers(
                            &mut chart,
                            th,
                            &[(c.b_star, y)],
                            col,
                            plot::Marker::Diamond,
                            true,
                        )?;
                    }
                }
            }
            let _ = (&p.key, p.kind);
        }
        Ok(())
    }
}

/// "SHB, running mean" from "shb/running-mean", "SHB, running mean, η = 0.1" from
/// "shb/running-mean/0.1"; noise cases by their law.
fn case_label(case: &str) -> String {
    let parts: Vec<&str> = case.split('/').collect();
    match parts.as_slice() {
        ["quadratic", law] => match *law {
            "gaussian" => "Gaussian".into(),
            "student_t" => "Student-t".into(),
            other => other.replace('_', " "),
        },
        ["teacher_student", _] => "finite sum".into(),
        [opt, rule, rest @ ..] => {
            let name = OptimizerKind::parse(opt)
                .map(plot::optimizer_label)
                .unwrap_or(opt);
            match rest.first() {
                Some(lr) => format!("{name}, {}, η = {lr}", rule_label(rule)),
                None => format!("{name}, {}", rule_label(rule)),
            }
        }
        _ => case.to_string(),
    }
}

/// A number with two decimals and a true minus sign.
fn signed(v: f64) -> String {
    format!("{v:.2}").replace('-', "−")
}

/// y at x on a polyline, interpolated in log–log; NaN outside.
fn interp_loglog(line: &[(f64, f64)], x: f64) -> f64 {
    for w in line.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x >= x0.min(x1) && x <= x0.max(x1) && x1 != x0 {
            let t = (x.ln() - x0.ln()) / (x1.ln() - x0.ln());
            return (y0.ln() + t * (y1.ln() - y0.ln())).exp();
        }
    }
    f64::NAN
}

fn rule_label(rule: &str) -> &str {
    match rule {
        "running-mean" | "running_mean" => "running mean",
        "full-gradient" | "full_gradient" => "full gradient",
        other => other,
    }
}

pub fn plot_sfo(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut panels: Vec<Panel> = Vec::new();
    let mut lrs: Vec<String> = Vec::new();
    for i in 0..t.rows.len() {
        let exp = t.str(i, "experiment")?;
        let kind = kind_of(t, i)?;
        let rule = t.str(i, "rule")?;
        let beta = t.f64(i, "beta")?;
        let c2 = t.f64(i, "c2_true")?;
        let lr = t.str(i, "lr")?.to_string();
        if !lrs.contains(&lr) {
            lrs.push(lr);
        }
        let key = format!(
            "{exp}/{}/{rule}/{beta}/{c2}/{lr}",
            kind.name(),
            lr = t.str(i, "lr")?
        );
        let idx = match panels.iter().position(|p| p.key == key) {
            Some(p) => p,
            None => {
                let b = if kind == OptimizerKind::Sgd {
                    String::new()
                } else {
                    format!(", β = {beta}")
                };
                panels.push(Panel {
                    key: key.clone(),
                    kind: Some(kind),
                    title: format!("{}{b}, {}", plot::optimizer_label(kind), rule_label(rule)),
                    curves: vec![],
                });
                panels.len() - 1
            }
        };
        let eps = t.f64(i, "eps")?;
        let p = &mut panels[idx];
        let ci = match p.curves.iter().position(|c| c.eps == eps) {
            Some(c) => c,
            None => {
                p.curves.push(Curve {
                    eps,
                    b_star: num(t.f64(i, "b_star")?),
                    b_star_ci: (t.f64(i, "b_star_ci95_low")?, t.f64(i, "b_star_ci95_high")?),
                    lb: t.f64(i, "b_lower_bound")?,
                    ..Default::default()
                });
                p.curves.len() - 1
            }
        };
        p.curves[ci].pts.push((
            t.f64(i, "batch")?,
            num(t.f64(i, "sfo_median")?),
            num(t.f64(i, "sfo_ci95_low")?),
            num(t.f64(i, "sfo_ci95_high")?),
        ));
    }
    let mut c2s: Vec<String> = Vec::new();
    for i in 0..t.rows.len() {
        let e = format!(
            "{} ({} rule)",
            t.str(i, "c2_true")?,
            rule_label(t.str(i, "rule")?)
        );
        if !c2s.contains(&e) {
            c2s.push(e);
        }
    }
    let chart = SfoChart {
        panels,
        note: format!(
            "η = {}; true C² = {}. Censored medians are not drawn.",
            lrs.join(", "),
            c2s.join(", ")
        ),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}

// =============================================================================================
// variance-estimates
// =============================================================================================

const VAR_COLUMNS: [(&str, &str); 12] = [
    (
        "panel",
        "c2 (estimates over the truth) or bstar (b* vs eps) or fit (fitted exponent)",
    ),
    (
        "method",
        "backsolve (b* eps^2/(eta factor)), c2_direct, c2_mccandlish_trace, b_star, fit",
    ),
    (
        "case",
        "optimizer/rule (backsolve, b_star, fit) or noise case (direct, McCandlish)",
    ),
    ("optimizer", "sgd, shb, nshb or empty"),
    ("eps", "epsilon (backsolve, b_star)"),
    (
        "value",
        "estimate (C^2 ratio to the truth in panel c2; b* in panel bstar; exponent k in panel fit)",
    ),
    ("ci95_low", "95% interval, lower end"),
    ("ci95_high", "95% interval, upper end"),
    (
        "truth",
        "true C^2 (panel c2) or the exponent the paper states, -2 (panel fit)",
    ),
    ("intercept", "fit: log b* = intercept + k log eps"),
    ("extra", "panel c2: the raw estimate; fit: the eps used"),
    ("source", "source file in figures/data/critical/"),
];

pub fn run_variance(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let mut rows = Vec::new();
    let blank = String::new;
    let back = read_source(ctx, "c2_backsolve.csv")?;
    for i in 0..back.rows.len() {
        let truth = back.f64(i, "c2_true")?;
        let est = back.f64(i, "c2_estimate")?;
        rows.push(vec![
            "c2".into(),
            "backsolve".into(),
            format!(
                "{}/{}/{}",
                back.str(i, "optimizer")?,
                back.str(i, "rule")?,
                back.str(i, "lr")?
            ),
            back.str(i, "optimizer")?.to_string(),
            back.str(i, "eps")?.to_string(),
            cell(est / truth),
            cell(back.f64(i, "c2_estimate_ci95_low")? / truth),
            cell(back.f64(i, "c2_estimate_ci95_high")? / truth),
            cell(truth),
            blank(),
            cell(est),
            "c2_backsolve.csv".into(),
        ]);
    }
    let methods = read_source(ctx, "c2_methods.csv")?;
    let cases = methods.distinct("case")?;
    for case in cases {
        let idx = methods.rows_where("case", &case)?;
        let get = |q: &str| -> Result<Option<usize>> {
            for &i in &idx {
                if methods.str(i, "quantity")? == q {
                    return Ok(Some(i));
                }
            }
            Ok(None)
        };
        let Some(ti) = get("c2_true_mean")? else {
            continue;
        };
        let truth = methods.f64(ti, "value")?;
        for q in ["c2_direct", "c2_mccandlish_trace"] {
            if let Some(i) = get(q)? {
                let v = methods.f64(i, "value")?;
                rows.push(vec![
                    "c2".into(),
                    q.into(),
                    case.clone(),
                    blank(),
                    blank(),
                    cell(v / truth),
                    cell(methods.f64(i, "ci95_low")? / truth),
                    cell(methods.f64(i, "ci95_high")? / truth),
                    cell(truth),
                    blank(),
                    cell(v),
                    "c2_methods.csv".into(),
                ]);
            }
        }
    }
    let bs = read_source(ctx, "b_star_eps.csv")?;
    for i in 0..bs.rows.len() {
        rows.push(vec![
            "bstar".into(),
            "b_star".into(),
            format!("{}/{}", bs.str(i, "optimizer")?, bs.str(i, "rule")?),
            bs.str(i, "optimizer")?.to_string(),
            bs.str(i, "eps")?.to_string(),
            bs.str(i, "b_star")?.to_string(),
            bs.str(i, "b_star_ci95_low")?.to_string(),
            bs.str(i, "b_star_ci95_high")?.to_string(),
            blank(),
            blank(),
            bs.str(i, "at_edge")?.to_string(),
            "b_star_eps.csv".into(),
        ]);
    }
    let fit = read_source(ctx, "fit.csv")?;
    let col = |i: usize, names: &[&str]| -> String {
        names
            .iter()
            .find_map(|n| fit.str(i, n).ok().map(str::to_string))
            .unwrap_or_default()
    };
    for i in 0..fit.rows.len() {
        rows.push(vec![
            "fit".into(),
            "fit".into(),
            format!("{}/{}", fit.str(i, "optimizer")?, fit.str(i, "rule")?),
            fit.str(i, "optimizer")?.to_string(),
            blank(),
            col(i, &["exponent"]),
            col(i, &["exponent_ci95_low", "ci95_low"]),
            col(i, &["exponent_ci95_high", "ci95_high"]),
            "-2".into(),
            col(i, &["intercept"]),
            col(i, &["eps_used"]),
            "fit.csv".into(),
        ]);
    }
    let sources: Vec<String> = [
        "c2_backsolve.csv",
        "c2_methods.csv",
        "b_star_eps.csv",
        "fit.csv",
    ]
    .iter()
    .map(|f| source(ctx, f).display().to_string())
    .collect();
    let config = json!({
        "sources": sources,
        "source_provenance": source_provenance(ctx),
    });
    write_data(ctx, fig, &VAR_COLUMNS, rows, config)
}

struct VarRow {
    panel: String,
    method: String,
    case: String,
    kind: Option<OptimizerKind>,
    eps: f64,
    v: (f64, f64, f64),
    intercept: f64,
}

struct VarChart {
    rows: Vec<VarRow>,
}

impl Figure for VarChart {
    fn size(&self) -> (u32, u32) {
        (1150, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = [
            "Left: each estimate of C² divided by the true C² (1 = exact), 95% intervals: the paper's back-solve".to_string(),
            "b*ε²/(η·factor) per optimizer and ε (colour: optimizer), direct measurement (■) and McCandlish's tr Σ (▲) per noise case.".to_string(),
            "Right: b* vs ε with bootstrap 95% intervals and the fitted b* ∝ εᵏ; dotted: the paper's k = −2.".to_string(),
        ];
        let cap: Vec<&str> = caption.iter().map(String::as_str).collect();
        let body = plot::draw_header(
            root,
            th,
            "Variance estimates and the critical batch size's ε scaling (C7, C8)",
            &cap,
        )?;
        let (left, right) = body.split_horizontally((body.dim_in_pixel().0 as f64 * 0.5) as i32);
        // Left: a dot plot of ratios, one row per estimate.
        let c2: Vec<&VarRow> = self.rows.iter().filter(|r| r.panel == "c2").collect();
        let mut eps: Vec<String> = c2
            .iter()
            .filter(|r| r.method == "backsolve")
            .map(|r| r.eps.to_string())
            .collect();
        eps.dedup();
        let area = plot::panel_title(
            &left,
            th,
            &format!(
                "C² estimate / true C² (back-solve at ε = {})",
                eps.join(", ")
            ),
        )?;
        let ys = c2.iter().flat_map(|r| [r.v.0, r.v.1, r.v.2]).chain([1.0]);
        let (lo, hi) = plot::log_range(ys, 1.3);
        let (major, minor) = plot::log_ticks(lo, hi);
        let n = c2.len().max(1) as f64;
        let labels: Vec<String> = c2
            .iter()
            .map(|r| match r.method.as_str() {
                "backsolve" => case_label(&r.case),
                "c2_direct" => format!("direct, {}", case_label(&r.case)),
                _ => format!("tr Σ, {}", case_label(&r.case)),
            })
            .collect();
        let fmt = move |v: &f64| -> String {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        let mut chart = plot::chart_builder(&area, th)
            .y_label_area_size(th.px(250.0))
            .build_cartesian_2d(
                plot::log_axis(lo, hi, major, minor),
                plot::lin_axis(-0.7, n - 0.3),
            )?;
        chart
            .configure_mesh()
            .x_desc("estimate / truth")
            .y_label_formatter(&fmt)
            .x_label_formatter(&|v| plot::fmt_tick(*v))
            .y_labels(c2.len().max(1) + 1)
            .axis_desc_style(th.axis_label())
            .label_style(th.text(18.0))
            .bold_line_style(RGBColor(225, 225, 225).stroke_width(th.upx(1.0)))
            .light_line_style(RGBColor(240, 240, 240).stroke_width(th.upx(1.0)))
            .axis_style(BLACK.stroke_width(th.upx(1.2)))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, -0.7), (1.0, n - 0.3)],
            BLACK.stroke_width(th.upx(1.5)),
        )))?;
        for (i, r) in c2.iter().enumerate() {
            let y = i as f64;
            let (col, marker) = match (r.method.as_str(), r.kind) {
                ("backsolve", Some(k)) => (
                    plot::optimizer_style(k).color,
                    plot::optimizer_style(k).marker,
                ),
                ("c2_direct", _) => (plot::NEUTRAL, plot::Marker::Square),
                _ => (plot::NEUTRAL, plot::Marker::TriangleUp),
            };
            if r.v.1.is_finite() && r.v.2.is_finite() && r.v.1 > 0.0 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(r.v.1, y), (r.v.2, y)],
                    col.stroke_width(th.upx(2.0)),
                )))?;
            }
            if r.v.0.is_finite() && r.v.0 > 0.0 {
                plot::draw_markers(&mut chart, th, &[(r.v.0, y)], col, marker, true)?;
            }
        }
        // Right: b* vs ε, one series per (optimizer, rule), the fit as a line.
        let area = plot::panel_title(&right, th, "critical batch size b* vs ε")?;
        let pts: Vec<&VarRow> = self.rows.iter().filter(|r| r.panel == "bstar").collect();
        let mut cases: Vec<&String> = pts.iter().map(|r| &r.case).collect();
        cases.sort();
        cases.dedup();
        let fit_of = |case: &String| {
            self.rows
                .iter()
                .find(|r| r.panel == "fit" && &r.case == case)
        };
        let mut entries = Vec::new();
        for case in &cases {
            let Some(kind) = pts.iter().find(|r| &r.case == *case).and_then(|r| r.kind) else {
                continue;
            };
            let st = plot::optimizer_style(kind);
            let name = case_label(case);
            let text = match fit_of(case) {
                Some(f) if f.v.1.is_finite() && f.v.2.is_finite() => format!(
                    "{name}: k = {} [{}, {}]",
                    signed(f.v.0),
                    signed(f.v.1),
                    signed(f.v.2)
                ),
                Some(f) => format!("{name}: k = {}", signed(f.v.0)),
                None => format!("{name}: no fit"),
            };
            entries.push(LegendEntry::line_marker(
                text, st.color, st.dash, st.marker, true,
            ));
        }
        entries.push(LegendEntry::line("the paper's k = −2", BLACK, Dash::Dotted));
        let plot_area = plot::legend_below(&area, th, &entries, 1, 12.0)?;
        let (e_lo, e_hi) = plot::log_range(pts.iter().map(|r| r.eps), 1.15);
        let (b_lo, b_hi) = plot::log_range(pts.iter().flat_map(|r| [r.v.0, r.v.1, r.v.2]), 1.3);
        let mut chart = plot::chart_builder(&plot_area, th).build_cartesian_2d(
            plot::log_axis_ticked(e_lo, e_hi),
            plot::log_axis_ticked(b_lo, b_hi),
        )?;
        plot::draw_axes(
            &mut chart,
            th,
            &plot::Axes::new("stopping threshold ε", "b*"),
        )?;
        for case in &cases {
            let mine: Vec<&&VarRow> = pts.iter().filter(|r| &r.case == *case).collect();
            let Some(kind) = mine.first().and_then(|r| r.kind) else {
                continue;
            };
            let st = plot::optimizer_style(kind);
            if let Some(f) = fit_of(case) {
                let line: Vec<(f64, f64)> = [e_lo, e_hi]
                    .iter()
                    .map(|&e| (e, (f.intercept + f.v.0 * e.ln()).exp()))
                    .collect();
                plot::draw_line(&mut chart, th, &line, st.color, st.dash, th.upx(2.0))?;
                // The paper's slope −2 through the fit's value at the geometric middle.
                let em = (e_lo * e_hi).sqrt();
                let ym = (f.intercept + f.v.0 * em.ln()).exp();
                let refl: Vec<(f64, f64)> = [e_lo, e_hi]
                    .iter()
                    .map(|&e| (e, ym * (e / em).powi(-2)))
                    .collect();
                plot::draw_line(&mut chart, th, &refl, BLACK, Dash::Dotted, th.upx(1.2))?;
            }
            let bars: Vec<_> = mine.iter().map(|r| (r.eps, r.v.1, r.v.2)).collect();
            plot::draw_error_bars(&mut chart, th, &bars, st.color)?;
            let p: Vec<_> = mine.iter().map(|r| (r.eps, r.v.0)).collect();
            plot::draw_markers(
                &mut chart,
                th,
                &plot::positive(p),
                st.color,
                st.marker,
                true,
            )?;
        }
        Ok(())
    }
}

pub fn plot_variance(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut rows = Vec::new();
    for i in 0..t.rows.len() {
        let opt = t.str(i, "optimizer")?;
        rows.push(VarRow {
            panel: t.str(i, "panel")?.to_string(),
            method: t.str(i, "method")?.to_string(),
            case: t.str(i, "case")?.to_string(),
            kind: if opt.is_empty() {
                None
            } else {
                Some(OptimizerKind::parse(opt)?)
            },
            eps: t.f64(i, "eps")?,
            v: (
                t.f64(i, "value")?,
                t.f64(i, "ci95_low")?,
                t.f64(i, "ci95_high")?,
            ),
            intercept: t.f64(i, "intercept")?,
        });
    }
    plot::render(&VarChart { rows }, &ctx.out, fig.name)?;
    Ok(())
}
