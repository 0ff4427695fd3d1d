//! Implicit graduated optimization (claim C12): the success rate (reaching the global basin)
//! versus the budget, per landscape, for the authors' schedule (δ decreased through β by SHB),
//! the best decreasing schedule and the best constant δ at each budget, explicit graduated
//! optimization, and argmin's global solvers — drawn from the files the C12 experiment writes
//! (`experiments::igo::export_figure_data`, in `figures/data/igo/`). Nothing is recomputed:
//! the run step copies the rows it draws, with the source's provenance in the sidecar.

use super::*;

fn source(ctx: &Ctx, file: &str) -> PathBuf {
    ctx.external.join("igo").join(file)
}

fn read_source(ctx: &Ctx, file: &str) -> Result<DataTable> {
    let p = source(ctx, file);
    DataTable::read(&p).map_err(|e| Error::File {
        path: p.display().to_string(),
        message: format!(
            "{e} (written by the C12 experiment: mslab claims --only c12, then cargo test \
             --test c12_igo -- --ignored export)"
        ),
    })
}

const COLUMNS: [(&str, &str); 11] = [
    ("landscape", "landscape kind"),
    ("dim", "dimension d"),
    ("budget", "budget in gradient evaluations"),
    ("series", "primary (the authors' poly:beta@shb), best_decreasing, best_constant, explicit_go or baseline"),
    ("method", "the method behind the point (for best_*: the best one at this budget)"),
    ("family", "schedule, constant, explicit_go or baseline"),
    ("success_rate", "fraction of seeds whose polished final point is in the global basin"),
    ("success_ci_low", "Wilson 95% interval"),
    ("success_ci_high", "Wilson 95% interval"),
    ("seeds", "seeds S"),
    ("source", "results.csv or comparisons.csv in figures/data/igo/"),
];

/// The authors' schedule (δ decreased by β under SHB, the polynomial shape of their code).
const PRIMARY: &str = "poly:beta";

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let res = read_source(ctx, "results.csv")?;
    let cmp = read_source(ctx, "comparisons.csv")?;
    let mut rows = Vec::new();
    let find = |l: &str, d: &str, b: &str, m: &str| -> Result<Option<usize>> {
        for i in 0..res.rows.len() {
            if res.str(i, "landscape")? == l
                && res.str(i, "dim")? == d
                && res.str(i, "budget")? == b
                && res.str(i, "method")? == m
            {
                return Ok(Some(i));
            }
        }
        Ok(None)
    };
    let push = |rows: &mut Vec<Vec<String>>, i: usize, series: &str| -> Result<()> {
        let s = |c: &str| -> Result<String> { Ok(res.str(i, c)?.to_string()) };
        rows.push(vec![
            s("landscape")?,
            s("dim")?,
            s("budget")?,
            series.to_string(),
            s("method")?,
            s("family")?,
            s("success_rate")?,
            s("success_ci_low")?,
            s("success_ci_high")?,
            s("seeds")?,
            "results.csv".to_string(),
        ]);
        Ok(())
    };
    for i in 0..res.rows.len() {
        let method = res.str(i, "method")?;
        let family = res.str(i, "family")?;
        let series = if method == PRIMARY || method.starts_with(&format!("{PRIMARY}@shb")) {
            Some("primary")
        } else if family == "baseline" {
            Some("baseline")
        } else if family == "explicit_go" {
            Some("explicit_go")
        } else {
            None
        };
        if let Some(s) = series {
            push(&mut rows, i, s)?;
        }
    }
    for j in 0..cmp.rows.len() {
        let (l, d, b) = (
            cmp.str(j, "landscape")?,
            cmp.str(j, "dim")?,
            cmp.str(j, "budget")?,
        );
        for (col, series) in [
            ("best_decreasing", "best_decreasing"),
            ("best_constant", "best_constant"),
        ] {
            if let Some(i) = find(l, d, b, cmp.str(j, col)?)? {
                push(&mut rows, i, series)?;
                if let Some(last) = rows.last_mut() {
                    last[10] = "results.csv via comparisons.csv".to_string();
                }
            }
        }
    }
    let prov: Value = std::fs::read_to_string(source(ctx, "summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let config = json!({
        "sources": [source(ctx, "results.csv").display().to_string(), source(ctx, "comparisons.csv").display().to_string()],
        "source_summary": prov,
        "primary": PRIMARY,
    });
    write_data(ctx, fig, &COLUMNS, rows, config)
}

struct Series {
    panel: String,
    series: String,
    method: String,
    pts: Vec<(f64, f64, f64, f64)>,
}

struct Chart {
    panels: Vec<String>,
    series: Vec<Series>,
    seeds: f64,
}

/// Colour, marker and dash of a series (schedules and baselines are not optimizers: no
/// Okabe–Ito optimizer colour is used for them).
fn style(series: &str, method: &str, baselines: &[String]) -> (RGBColor, plot::Marker, Dash) {
    match series {
        "primary" => (BLACK, plot::Marker::Square, Dash::Solid),
        "best_decreasing" => (plot::viridis(0.0), plot::Marker::Circle, Dash::Solid),
        "best_constant" => (RGBColor(140, 140, 140), plot::Marker::Circle, Dash::Dashed),
        "explicit_go" => (
            plot::okabe_ito::SKY_BLUE,
            plot::Marker::Diamond,
            Dash::LongDashed,
        ),
        _ => {
            let i = baselines.iter().position(|b| b == method).unwrap_or(0);
            let marks = [
                plot::Marker::TriangleUp,
                plot::Marker::TriangleDown,
                plot::Marker::Diamond,
                plot::Marker::Square,
            ];
            (
                plot::viridis(0.4 + 0.45 * i as f64 / (baselines.len().max(2) - 1) as f64),
                marks[i % marks.len()],
                Dash::Dotted,
            )
        }
    }
}

fn landscape_name(kind: &str) -> String {
    match kind {
        "rastrigin" => "Rastrigin".into(),
        "ackley" => "Ackley".into(),
        "griewank" => "Griewank".into(),
        "levy" => "Levy".into(),
        "styblinski_tang" => "Styblinski–Tang".into(),
        "drop_wave" => "Drop-Wave".into(),
        other => other.replace('_', " "),
    }
}

fn series_label(series: &str, method: &str) -> String {
    match series {
        "primary" => format!("the authors' schedule ({method}: δ decreased via β, SHB)"),
        "best_decreasing" => "best decreasing-δ schedule at each budget".into(),
        "best_constant" => "best constant δ at each budget".into(),
        "explicit_go" => "explicit graduated optimization".into(),
        _ => format!("argmin baseline: {method}"),
    }
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        let (_, rows) = grid_shape(self.panels.len(), 3);
        (1150, 330 + 330 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = [
            format!(
                "Success: the polished final point within 0.25 (∞-norm) of the global minimizer; {} seeds, Wilson 95% intervals.",
                self.seeds
            ),
            "Budget in gradient evaluations (a mini-batch step of size b costs b; baselines pay one per f or ∇f).".to_string(),
            "Series at 0 lie on top of each other; the authors' schedule (black) is drawn last.".to_string(),
        ];
        let cap: Vec<&str> = caption.iter().map(String::as_str).collect();
        let body = plot::draw_header(
            root,
            th,
            "Implicit graduated optimization: success rate vs budget (C12)",
            &cap,
        )?;
        let mut baselines: Vec<String> = self
            .series
            .iter()
            .filter(|s| s.series == "baseline")
            .map(|s| s.method.clone())
            .collect();
        baselines.sort();
        baselines.dedup();
        let mut entries: Vec<LegendEntry> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for kind in [
            "primary",
            "best_decreasing",
            "best_constant",
            "explicit_go",
            "baseline",
        ] {
            for s in self.series.iter().filter(|s| s.series == kind) {
                let key = if kind == "baseline" {
                    s.method.clone()
                } else {
                    kind.to_string()
                };
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                let (c, m, d) = style(kind, &s.method, &baselines);
                entries.push(LegendEntry::line_marker(
                    series_label(kind, &s.method),
                    c,
                    d,
                    m,
                    true,
                ));
            }
        }
        let cols = plot::legend_columns(&body, th, &entries, 2, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;
        let (ncols, nrows) = grid_shape(self.panels.len(), 3);
        let cells = grid.split_evenly((nrows, ncols));
        for (pi, panel) in self.panels.iter().enumerate() {
            let area = plot::panel_title(&cells[pi], th, panel)?;
            let mine: Vec<&Series> = self.series.iter().filter(|s| &s.panel == panel).collect();
            let (b_lo, b_hi) =
                plot::log_range(mine.iter().flat_map(|s| s.pts.iter().map(|p| p.0)), 1.25);
            let mut chart = plot::chart_builder(&area, th).build_cartesian_2d(
                plot::log_axis_ticked(b_lo, b_hi),
                plot::lin_axis(-0.03, 1.03),
            )?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes {
                    x_desc: "budget",
                    y_desc: if pi % ncols == 0 { "success rate" } else { "" },
                    x_fmt: &|v| {
                        if *v >= 1000.0 {
                            format!("{}k", plot::fmt_tick(v / 1000.0))
                        } else {
                            plot::fmt_tick(*v)
                        }
                    },
                    y_fmt: &|v| plot::fmt_tick(*v),
                    y_labels: 6,
                },
            )?;
            // Baselines first, the schedules on top.
            let mut order = mine.clone();
            order.sort_by_key(|s| match s.series.as_str() {
                "baseline" => 0,
                "explicit_go" => 1,
                "best_constant" => 2,
                "best_decreasing" => 3,
                _ => 4,
            });
            for s in order {
                let (c, m, d) = style(&s.series, &s.method, &baselines);
                let mut pts = s.pts.clone();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let line: Vec<(f64, f64)> = pts
                    .iter()
                    .map(|p| (p.0, p.1))
                    .filter(|p| p.1.is_finite())
                    .collect();
                plot::draw_line(&mut chart, th, &line, c, d, th.upx(2.0))?;
                let bars: Vec<_> = pts.iter().map(|p| (p.0, p.2, p.3)).collect();
                plot::draw_error_bars(&mut chart, th, &bars, c)?;
                plot::draw_markers(&mut chart, th, &line, c, m, true)?;
            }
        }
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut panels: Vec<String> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    let mut seeds = f64::NAN;
    for i in 0..t.rows.len() {
        let panel = format!(
            "{}, d = {}",
            landscape_name(t.str(i, "landscape")?),
            t.str(i, "dim")?
        );
        if !panels.contains(&panel) {
            panels.push(panel.clone());
        }
        seeds = t.f64(i, "seeds")?;
        let kind = t.str(i, "series")?.to_string();
        let method = t.str(i, "method")?.to_string();
        // best_* series join whichever method was best at each budget.
        let key_method = if kind.starts_with("best_") {
            String::new()
        } else {
            method.clone()
        };
        let idx = match series.iter().position(|s| {
            s.panel == panel
                && s.series == kind
                && (kind.starts_with("best_") || s.method == key_method)
        }) {
            Some(p) => p,
            None => {
                series.push(Series {
                    panel: panel.clone(),
                    series: kind.clone(),
                    method: method.clone(),
                    pts: vec![],
                });
                series.len() - 1
            }
        };
        series[idx].pts.push((
            t.f64(i, "budget")?,
            t.f64(i, "success_rate")?,
            t.f64(i, "success_ci_low")?,
            t.f64(i, "success_ci_high")?,
        ));
    }
    // Landscapes in rows, dimensions ascending across.
    let dim_of = |p: &str| -> f64 {
        p.rsplit("d = ")
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let land_of = |p: &str| p.split(',').next().unwrap_or("").to_string();
    panels.sort_by(|a, b| {
        land_of(a)
            .cmp(&land_of(b))
            .then(dim_of(a).total_cmp(&dim_of(b)))
    });
    plot::render(
        &Chart {
            panels,
            series,
            seeds,
        },
        &ctx.out,
        fig.name,
    )?;
    Ok(())
}
