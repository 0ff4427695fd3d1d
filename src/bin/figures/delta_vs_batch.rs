//! Theory δ = ηψ versus b with the authors' ResNet-18/CIFAR-100 constants (theory.md §4).

use super::*;

/// η and β of the paper's Fig. 1.
const LR: f64 = 0.1;
const BETA: f64 = 0.9;
/// b = 2^3 … 2^13.
const B_EXP: (i32, i32) = (3, 13);

/// (optimizer, formula key, C², K): the authors' constants, theory.md §4.
const CURVES: [(OptimizerKind, &str, f64, Option<f64>); 4] = [
    (OptimizerKind::Sgd, "sgd", 1280.0, None),
    (OptimizerKind::Shb, "shb_paper", 25.318, Some(1.77)),
    (OptimizerKind::Shb, "shb_tight", 25.318, Some(1.77)),
    (OptimizerKind::Nshb, "nshb_v1", 128.0, Some(4.5)),
];

const COLUMNS: [(&str, &str); 12] = [
    ("optimizer", "sgd, shb or nshb"),
    ("formula", "theory::Formula key of the bound psi"),
    ("is_paper", "whether the formula is the paper's"),
    ("is_valid_bound", "whether the formula is a proven bound"),
    ("lr", "learning rate eta"),
    ("beta", "momentum factor beta (unused by sgd)"),
    ("c2", "gradient-variance constant C^2 (authors' value)"),
    ("k", "gradient-norm bound K (authors' value; empty for sgd)"),
    ("batch", "batch size b"),
    ("psi", "bound psi on sqrt(E||omega||^2)"),
    ("delta", "degree of smoothing delta = eta psi"),
    ("source", "provenance of the formula"),
];

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let mut rows = Vec::new();
    for (kind, key, c2, k) in CURVES {
        let opt = Optimizer::new(kind, LR, BETA, 0.0)?;
        for b in plot::powers_of_two(B_EXP.0, B_EXP.1) {
            let preds = theory::predictions(&opt, b, c2, k)?;
            let p = preds.iter().find(|p| p.key == key).ok_or_else(|| {
                Error::Open(format!("theory::predictions gives no `{key}` for {kind}"))
            })?;
            rows.push(vec![
                kind.name().to_string(),
                key.to_string(),
                p.is_paper.to_string(),
                p.is_valid_bound.to_string(),
                cell(LR),
                cell(BETA),
                cell(c2),
                k.map(cell).unwrap_or_default(),
                cell(b),
                cell(p.psi),
                cell(p.delta),
                p.source.to_string(),
            ]);
        }
    }
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    write_csv(&ctx.csv(fig.name), &header, rows)?;
    let config = json!({
        "lr": LR, "beta": BETA,
        "batches": plot::powers_of_two(B_EXP.0, B_EXP.1),
        "curves": CURVES.iter().map(|(kind, key, c2, k)| json!({
            "optimizer": kind.name(), "formula": key, "c2": c2, "k": k,
        })).collect::<Vec<_>>(),
        "constants_source": "theory.md §4: the authors' ResNet-18/CIFAR-100 constants (C² back-solved from b* in their code)",
    });
    ctx.write_sidecar(fig, config, &COLUMNS)
}

/// One curve as read from the CSV.
struct Curve {
    kind: OptimizerKind,
    formula: String,
    c2: f64,
    k: f64,
    points: Vec<(f64, f64)>,
}

struct Chart {
    curves: Vec<Curve>,
    lr: f64,
    beta: f64,
}

/// How each formula is named in the legend (presentation only).
fn legend_text(c: &Curve) -> String {
    let name = plot::optimizer_label(c.kind);
    match c.formula.as_str() {
        "sgd" => format!("{name}: η C/√b"),
        "shb_paper" => format!("{name}, paper: η √((1+β̂) C²/b + β̂ K²)"),
        "shb_tight" => format!(
            "{name}, tight (derived here; under the paper's curve):\nη √(C²/b + β²/(1−β)² (C²/b + K²))"
        ),
        "nshb_v1" => format!("{name} v1: η √(C²/b + 4β² (C²/b + K²))"),
        other => format!("{name}: {other}"),
    }
}

/// "C² = 1280 (SGD)" and "K = 1.77 (SHB)" lists for the caption, one entry per optimizer.
fn constants(curves: &[Curve]) -> (String, String) {
    let (mut c2, mut k): (Vec<String>, Vec<String>) = (vec![], vec![]);
    for c in curves {
        let name = plot::optimizer_label(c.kind);
        let e = format!("{} ({name})", c.c2);
        if !c2.contains(&e) {
            c2.push(e);
        }
        if c.k.is_finite() {
            let e = format!("{} ({name})", c.k);
            if !k.contains(&e) {
                k.push(e);
            }
        }
    }
    (c2.join(", "), k.join(", "))
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (640, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let (c2, k) = constants(&self.curves);
        let caption = [
            "Theory only (cf. the paper's Fig. 1, left): the authors'".to_string(),
            format!(
                "ResNet-18/CIFAR-100 constants, η = {}, β = {},",
                self.lr, self.beta
            ),
            format!("C² = {c2};"),
            format!("K = {k}"),
        ];
        let cap: Vec<&str> = caption.iter().map(String::as_str).collect();
        let body = plot::draw_header(root, th, "Degree of smoothing δ = ηψ vs b", &cap)?;
        let mut entries = Vec::new();
        for c in &self.curves {
            let st = plot::optimizer_style(c.kind);
            let tight = c.formula.ends_with("_tight");
            let dash = if tight { Dash::Dashed } else { Dash::Solid };
            entries.push(if tight {
                LegendEntry::line(legend_text(c), st.color, dash)
            } else {
                LegendEntry::line_marker(legend_text(c), st.color, dash, st.marker, true)
            });
        }
        let cols = plot::legend_columns(&body, th, &entries, 1, 12.0)?;
        let upper = plot::legend_below(&body, th, &entries, cols, 12.0)?;

        let (b_lo, b_hi) = (2f64.powi(B_EXP.0), 2f64.powi(B_EXP.1));
        let (y_lo, y_hi) = plot::log_range(
            self.curves
                .iter()
                .flat_map(|c| c.points.iter().map(|p| p.1)),
            1.25,
        );
        let (major, minor) = plot::log_ticks(y_lo, y_hi);
        let x = plot::log_axis(
            b_lo / 1.3,
            b_hi * 1.3,
            plot::powers_of_two(B_EXP.0, B_EXP.1),
            vec![],
        );
        let y = plot::log_axis(y_lo, y_hi, major, minor);
        let mut chart = plot::chart_builder(&upper, th)
            .margin_right(th.px(52.0))
            .build_cartesian_2d(x, y)?;
        plot::draw_axes(
            &mut chart,
            th,
            &plot::Axes {
                y_labels: 10,
                ..plot::Axes::batch("δ = ηψ")
            },
        )?;
        // The derived curves first, so the paper's are drawn on top of them.
        let mut order: Vec<&Curve> = self.curves.iter().collect();
        order.sort_by_key(|c| !c.formula.ends_with("_tight"));
        for c in order {
            let st = plot::optimizer_style(c.kind);
            let tight = c.formula.ends_with("_tight");
            let dash = if tight { Dash::Dashed } else { Dash::Solid };
            let pts = plot::positive(c.points.iter().copied());
            plot::draw_line(&mut chart, th, &pts, st.color, dash, th.line_width())?;
            if !tight {
                plot::draw_markers(&mut chart, th, &pts, st.color, st.marker, true)?;
            }
            // The value at the largest b, for the paper's curves (the tight SHB curve sits
            // on top of the paper's).
            if let (Some(&(bx, by)), false) = (pts.last(), tight) {
                plot::draw_label(
                    &mut chart,
                    th,
                    (bx * 1.15, by),
                    &format!("{by:.2}"),
                    st.color,
                    Pos::new(HPos::Left, VPos::Center),
                )?;
            }
        }
        Ok(())
    }
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut curves: Vec<Curve> = Vec::new();
    for i in 0..t.rows.len() {
        let kind = kind_of(t, i)?;
        let formula = t.str(i, "formula")?.to_string();
        let point = (t.f64(i, "batch")?, t.f64(i, "delta")?);
        match curves.iter_mut().find(|c| c.formula == formula) {
            Some(c) => c.points.push(point),
            None => curves.push(Curve {
                kind,
                formula,
                c2: t.f64(i, "c2")?,
                k: t.f64(i, "k")?,
                points: vec![point],
            }),
        }
    }
    let (lr, beta) = if t.rows.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        (t.f64(0, "lr")?, t.f64(0, "beta")?)
    };
    let chart = Chart { curves, lr, beta };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
