//! Critical batch size on a real network (claims C7, C8 on ResNet-18; issue 6): SFO N(b) = b·T(b)
//! vs b for SGD, SHB and NSHB, BatchNorm and GroupNorm (rows), the authors' running-mean stop
//! rule and the full-gradient rule (columns), from the analysis `mslab critical` wrote into
//! `figures/data/gpu/critical/` (sfo.csv, c2.csv, runs.csv, critical.json). Nothing is
//! recomputed: the run step copies the rows it draws (each seed's SFO, the median per cell with
//! its censoring count and b*, the back-solved and direct C² with their ratio, the fitted
//! exponent of b* ∝ ε^k) and adds each cell's training budget b·(steps run) and the earliest
//! possible stop b·⌊n/b⌋·(first epoch checked), both arithmetic on the source columns.

use super::*;

/// The analysis folder the figure reads, under `--external`.
const CRITICAL: &str = "gpu/critical";

fn source(ctx: &Ctx, file: &str) -> PathBuf {
    ctx.external.join(CRITICAL).join(file)
}

fn read_source(ctx: &Ctx, file: &str) -> Result<DataTable> {
    let p = source(ctx, file);
    DataTable::read(&p).map_err(|e| Error::File {
        path: p.display().to_string(),
        message: format!(
            "{e} (written by the GPU campaign: mslab critical --runs \
             figures/data/gpu/critical-runs --out figures/data/gpu/critical)"
        ),
    })
}

const COLUMNS: [(&str, &str); 28] = [
    (
        "kind",
        "run (one seed), cell (median over seeds at one b), c2 (back-solve vs direct C² per ε) \
         or fit (b* ∝ ε^k)",
    ),
    ("norm", "batch (BatchNorm) or group (GroupNorm)"),
    ("optimizer", "sgd, shb or nshb"),
    ("lr", "learning rate η"),
    ("beta", "momentum β"),
    (
        "rule",
        "stop rule: running-mean (the authors': mean of ‖g_s‖, s ≤ t) or full-gradient \
         (‖∇f(x_t)‖, once per epoch)",
    ),
    ("eps", "threshold ε (empty for fit)"),
    ("batch", "batch size b (run, cell)"),
    ("seed", "seed (run rows)"),
    ("n_train", "training examples n (run rows)"),
    (
        "steps",
        "steps the run made (run rows; its censoring horizon)",
    ),
    ("epochs", "epochs the run made: steps / ⌊n/b⌋ (run rows)"),
    (
        "sfo",
        "run: b·T (empty when censored); cell: median over seeds (inf when censored)",
    ),
    (
        "censored",
        "run: 1 when the rule never held; cell: censored seeds",
    ),
    ("seeds", "seeds in the cell (cell rows)"),
    (
        "sfo_cap",
        "cell: b × the most steps of its runs (a censored run's SFO exceeds it)",
    ),
    (
        "sfo_floor",
        "cell: b·⌊n/b⌋·min_epochs, the earliest SFO the rule can report",
    ),
    ("min_epochs", "the rules are checked from this epoch on"),
    (
        "b_star",
        "critical batch b* (argmin of the median SFO refined in log b; cell and c2 rows)",
    ),
    ("b_star_ci95_low", "bootstrap 95% interval of b*"),
    ("b_star_ci95_high", "bootstrap 95% interval of b*"),
    ("b_star_at_edge", "b* at the edge of the b grid (1/0)"),
    (
        "censoring_safe",
        "censored cells cannot have moved b* (1/0)",
    ),
    (
        "c2_backsolve",
        "c2: b*ε²/(η·factor), the paper's C² estimate",
    ),
    (
        "c2_direct_bstar",
        "c2: C² measured (tr Σ), median over seeds at b*'s grid b of each run's median",
    ),
    ("ratio", "c2: c2_backsolve / c2_direct_bstar (paper: ≥ 1)"),
    (
        "ratio_hit",
        "c2: c2_backsolve / (direct C² at the hitting step, median over seeds at b*)",
    ),
    (
        "k",
        "fit: exponent k of b* ∝ ε^k (with k_ci in b_star_ci95_low/high; eps used in eps)",
    ),
];

/// `1`/`0` from a `true`/`false` cell (empty stays empty).
fn flag(s: &str) -> String {
    match s {
        "true" => "1".into(),
        "false" => "0".into(),
        other => other.to_string(),
    }
}

pub fn run(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let runs = read_source(ctx, "runs.csv")?;
    let sfo = read_source(ctx, "sfo.csv")?;
    let c2 = read_source(ctx, "c2.csv")?;
    let jp = source(ctx, "critical.json");
    let analysis: Value =
        serde_json::from_str(&std::fs::read_to_string(&jp).map_err(|e| Error::File {
            path: jp.display().to_string(),
            message: format!("cannot read: {e}"),
        })?)
        .map_err(|e| Error::File {
            path: jp.display().to_string(),
            message: format!("not JSON: {e}"),
        })?;
    let blank = String::new;
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Most steps per (norm, optimizer, lr, β, b): the censoring horizon of a cell.
    let mut horizon: Vec<(String, u64)> = Vec::new();
    for i in 0..runs.rows.len() {
        let s = |c: &str| -> Result<String> { Ok(runs.str(i, c)?.to_string()) };
        let (b, n, steps) = (
            runs.f64(i, "batch")?,
            runs.f64(i, "n_train")?,
            runs.f64(i, "steps")?,
        );
        let per_epoch = (n / b).floor();
        let censored = runs.str(i, "censored")? == "true";
        rows.push(vec![
            "run".into(),
            s("norm")?,
            s("optimizer")?,
            s("lr")?,
            s("beta")?,
            s("rule")?,
            s("eps")?,
            s("batch")?,
            s("seed")?,
            s("n_train")?,
            s("steps")?,
            cell(steps / per_epoch),
            if censored { blank() } else { s("sfo")? },
            if censored { "1" } else { "0" }.into(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
        ]);
        let key = format!(
            "{}/{}/{}/{}/{}",
            s("norm")?,
            s("optimizer")?,
            s("lr")?,
            s("beta")?,
            s("batch")?
        );
        let st = steps as u64;
        match horizon.iter_mut().find(|h| h.0 == key) {
            Some(h) => h.1 = h.1.max(st),
            None => horizon.push((key, st)),
        }
    }
    for i in 0..sfo.rows.len() {
        let s = |c: &str| -> Result<String> { Ok(sfo.str(i, c)?.to_string()) };
        let group = format!(
            "{}/{}/{}/{}",
            s("norm")?,
            s("optimizer")?,
            s("lr")?,
            s("beta")?
        );
        let key = format!("{group}/{}", s("batch")?);
        let b = sfo.f64(i, "batch")?;
        let cap = horizon
            .iter()
            .find(|h| h.0 == key)
            .map_or(f64::NAN, |h| b * h.1 as f64);
        let n = sfo.f64(i, "n_train")?;
        let floor = b * (n / b).floor() * sfo.f64(i, "min_epochs")?;
        rows.push(vec![
            "cell".into(),
            s("norm")?,
            s("optimizer")?,
            s("lr")?,
            s("beta")?,
            s("rule")?,
            s("eps")?,
            s("batch")?,
            blank(),
            s("n_train")?,
            blank(),
            blank(),
            s("sfo_median")?,
            s("censored")?,
            s("seeds")?,
            cell(cap),
            cell(floor),
            s("min_epochs")?,
            s("b_star")?,
            s("b_star_ci95_low")?,
            s("b_star_ci95_high")?,
            flag(sfo.str(i, "b_star_at_edge")?),
            flag(sfo.str(i, "censoring_safe")?),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
        ]);
    }
    for i in 0..c2.rows.len() {
        let s = |c: &str| -> Result<String> { Ok(c2.str(i, c)?.to_string()) };
        rows.push(vec![
            "c2".into(),
            s("norm")?,
            s("optimizer")?,
            s("lr")?,
            s("beta")?,
            s("rule")?,
            s("eps")?,
            blank(),
            blank(),
            s("n_train")?,
            blank(),
            blank(),
            blank(),
            blank(),
            s("group_seeds")?,
            blank(),
            blank(),
            s("min_epochs")?,
            s("b_star")?,
            s("b_star_ci95_low")?,
            s("b_star_ci95_high")?,
            flag(c2.str(i, "b_star_at_edge")?),
            flag(c2.str(i, "censoring_safe")?),
            s("c2_backsolve")?,
            s("c2_direct_bstar")?,
            s("ratio")?,
            s("ratio_hit")?,
            blank(),
        ]);
    }
    let groups = analysis
        .get("groups")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::File {
            path: jp.display().to_string(),
            message: "no groups (not an `mslab critical` output)".into(),
        })?;
    let text = |v: Option<&Value>| -> String {
        match v {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(x)) => x.as_f64().map(cell).unwrap_or_default(),
            _ => String::new(),
        }
    };
    for g in groups {
        let Some(fit) = g.get("fit").filter(|f| !f.is_null()) else {
            continue;
        };
        let key = g.get("key");
        let k = |name: &str| text(key.and_then(|k| k.get(name)));
        let used: Vec<String> = fit
            .get("eps_used")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| text(Some(v))).collect())
            .unwrap_or_default();
        let ci = fit.get("exponent_ci95");
        rows.push(vec![
            "fit".into(),
            k("norm"),
            k("optimizer"),
            k("lr"),
            k("beta"),
            k("rule"),
            used.join(" "),
            blank(),
            blank(),
            k("n_train"),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            k("min_epochs"),
            blank(),
            text(ci.and_then(|c| c.get(0))),
            text(ci.and_then(|c| c.get(1))),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            text(fit.get("exponent")),
        ]);
    }
    let config = json!({
        "sources": [
            source(ctx, "runs.csv").display().to_string(),
            source(ctx, "sfo.csv").display().to_string(),
            source(ctx, "c2.csv").display().to_string(),
            jp.display().to_string(),
        ],
        "source_provenance": analysis.get("provenance").cloned().unwrap_or(Value::Null),
        "source_settings": analysis.get("settings").cloned().unwrap_or(Value::Null),
        "added": "cell rows: sfo_cap = b × max steps of the cell's runs (runs.csv); \
                  sfo_floor = b·floor(n/b)·min_epochs; run rows: epochs = steps/floor(n/b)",
    });
    write_data(ctx, fig, &COLUMNS, rows, config)
}

// =============================================================================================
// plot
// =============================================================================================

/// A (norm, rule) panel's series key.
#[derive(Clone, PartialEq)]
struct Key {
    norm: String,
    rule: String,
    kind: OptimizerKind,
    eps: f64,
}

struct Seed {
    key: Key,
    batch: f64,
    sfo: f64,
}

struct Cell {
    key: Key,
    batch: f64,
    /// Median SFO; NaN when censored.
    sfo: f64,
    censored: usize,
    seeds: usize,
    cap: f64,
    floor: f64,
    b_star: f64,
    b_star_edge: bool,
    b_star_safe: bool,
}

struct C2 {
    key: Key,
    ratio: f64,
    ratio_hit: f64,
    edge: bool,
}

struct Fit {
    norm: String,
    rule: String,
    kind: OptimizerKind,
    eps: String,
    k: f64,
    lo: f64,
    hi: f64,
}

struct Chart {
    seeds: Vec<Seed>,
    cells: Vec<Cell>,
    c2: Vec<C2>,
    fits: Vec<Fit>,
    norms: Vec<String>,
    rules: Vec<String>,
    kinds: Vec<OptimizerKind>,
    eps: Vec<f64>,
    /// Protocol read from the run rows: epochs made, n, seeds, η, β of the momentum rules, b.
    epochs: Vec<f64>,
    n_train: Vec<f64>,
    n_seeds: Vec<usize>,
    lrs: Vec<f64>,
    betas: Vec<f64>,
    batches: Vec<f64>,
    min_epochs: Vec<f64>,
    quick: bool,
}

fn norm_label(norm: &str) -> &str {
    match norm {
        "batch" => "BatchNorm",
        "group" => "GroupNorm",
        other => other,
    }
}

fn rule_label(rule: &str) -> &str {
    match rule {
        "running-mean" => "running mean of ‖gₜ‖ ≤ ε (authors')",
        "full-gradient" => "full gradient ‖∇f(xₜ)‖ ≤ ε",
        other => other,
    }
}

/// Dash of the ε-th threshold (smallest ε solid).
fn eps_dash(i: usize) -> Dash {
    [Dash::Solid, Dash::Dashed, Dash::Dotted][i % 3]
}

/// Sideways dodge in octaves: optimizers apart by 0.17, thresholds by 0.03 within.
fn dodge(kinds: &[OptimizerKind], eps: &[f64], kind: OptimizerKind, e: f64) -> f64 {
    let centre = |i: usize, n: usize| i as f64 - (n as f64 - 1.0) / 2.0;
    let ki = kinds.iter().position(|&k| k == kind).unwrap_or(0);
    let ei = eps.iter().position(|&x| x == e).unwrap_or(0);
    2f64.powf(0.17 * centre(ki, kinds.len()) + 0.03 * centre(ei, eps.len()))
}

/// Three significant digits, `–` for NaN.
fn sig3(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let digits = (-a.log10()).floor() as usize + 3;
        format!("{v:.digits$}")
    }
}

/// `a, b and c` / `a–b` texts of the distinct values of a protocol quantity.
fn values_text(v: &[f64]) -> String {
    let t: Vec<String> = v.iter().map(|x| plot::fmt_tick(*x)).collect();
    t.join(", ")
}

/// 10⁴, 2·10⁴, 5·10⁴ … for the SFO axis.
fn sfo_tick(v: &f64) -> String {
    let e = v.log10().floor();
    let m = v / 10f64.powf(e);
    let p = format!("10{}", plot::superscript(e as i64));
    if (m - 1.0).abs() < 1e-6 {
        p
    } else {
        format!("{}·{p}", plot::fmt_tick(m.round()))
    }
}

impl Chart {
    fn cells_of(&self, norm: &str, rule: &str) -> impl Iterator<Item = &Cell> {
        let (n, r) = (norm.to_string(), rule.to_string());
        self.cells
            .iter()
            .filter(move |c| c.key.norm == n && c.key.rule == r)
    }

    fn c2_of(&self, key: &Key) -> Option<&C2> {
        self.c2.iter().find(|c| c.key == *key)
    }

    /// The C² table under a panel: one line per optimizer, ratios per ε.
    fn table(&self, norm: &str, rule: &str) -> Vec<(String, RGBColor)> {
        let eps: Vec<String> = self.eps.iter().map(|e| plot::fmt_tick(*e)).collect();
        let mut out = vec![(
            format!("C²_back-solve / C²_direct at b*, ε = {}", eps.join(" | ")),
            RGBColor(60, 60, 60),
        )];
        for &kind in &self.kinds {
            let mut parts = Vec::new();
            for &e in &self.eps {
                let key = Key {
                    norm: norm.into(),
                    rule: rule.into(),
                    kind,
                    eps: e,
                };
                parts.push(match self.c2_of(&key) {
                    Some(c) if c.ratio.is_finite() => format!(
                        "{}{} ({})",
                        sig3(c.ratio),
                        if c.edge { "†" } else { "" },
                        sig3(c.ratio_hit)
                    ),
                    _ => "no b*".into(),
                });
            }
            out.push((
                format!("{}:  {}", plot::optimizer_label(kind), parts.join(" | ")),
                plot::optimizer_style(kind).color,
            ));
        }
        out
    }

    fn caption(&self) -> Vec<String> {
        let seeds = match (self.n_seeds.first(), self.n_seeds.last()) {
            (Some(a), Some(b)) if a == b => format!("{a} seeds"),
            (Some(a), Some(b)) => format!("{a}–{b} seeds"),
            _ => "the seeds".into(),
        };
        let b_text = match (self.batches.first(), self.batches.last()) {
            (Some(a), Some(b)) => format!("b = {} … {}", plot::fmt_tick(*a), plot::fmt_tick(*b)),
            _ => String::new(),
        };
        let defined: Vec<&C2> = self.c2.iter().filter(|c| c.ratio.is_finite()).collect();
        let below = defined.iter().filter(|c| c.ratio < 1.0).count();
        let (lo, hi) = defined
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), c| {
                (a.min(c.ratio), b.max(c.ratio))
            });
        let epochs = values_text(&self.epochs);
        let mut lines = vec![
            format!(
                "ResNet-18, Fashion-MNIST (first {} training images), η = {}, β = {} (SHB, NSHB), {b_text}, {seeds}, ≤ {epochs} epochs.",
                values_text(&self.n_train),
                values_text(&self.lrs),
                values_text(&self.betas),
            ),
            format!(
                "SFO N = b·T, T = steps until the rule first holds (checked from epoch {}; full gradient once per epoch: N is whole epochs).",
                values_text(&self.min_epochs)
            ),
            "Small hollow: one seed; large filled: median (line per ε, broken at censored b); points dodged sideways by ≤ ±0.2 octave.".to_string(),
            format!(
                "Grey strip: median censored (ε not reached in {epochs} epochs), one row per ε; dot inside: some seeds reached ε (drawn below)."
            ),
            "◆ b* (argmin of the median SFO, refined in log b); hollow ◆: b* at the grid's edge (†) or possibly moved by censoring.".to_string(),
            "Under each panel, C²_back-solve / C²_direct: direct = run-median C² at b* (in parentheses: C² measured at the hitting step).".to_string(),
            format!(
                "C7 (paper: C² ≤ b*ε²/(η·factor), so ratio ≥ 1): ratio < 1 in {below} of the {} (optimizer, ε) cells with a b*; range {} … {}.",
                defined.len(),
                sig3(lo),
                sig3(hi)
            ),
        ];
        if self.fits.is_empty() {
            lines.push(
                "C8: no group has two ε with an interior b*, so no exponent of b* ∝ ε^k is fitted."
                    .into(),
            );
        } else {
            let f: Vec<String> = self
                .fits
                .iter()
                .map(|f| {
                    format!(
                        "{} {}, {} (ε = {}): k = {} [{}, {}]",
                        plot::optimizer_label(f.kind),
                        norm_label(&f.norm),
                        if f.rule == "running-mean" {
                            "running mean"
                        } else {
                            "full gradient"
                        },
                        f.eps.replace(' ', ", "),
                        sig3(f.k),
                        sig3(f.lo),
                        sig3(f.hi)
                    )
                })
                .collect();
            lines.push(format!(
                "C8 (b* ∝ ε^k, paper: k = −2), fitted only where ≥ 2 ε have a b*: {}.",
                f.join("; ")
            ));
        }
        lines
    }
}

/// Reference lines (budget, earliest stop): light grey, apart from the black ε swatches.
const REF_GREY: RGBColor = RGBColor(150, 150, 150);

/// Lines of the note under each panel (logical px).
const NOTE_LINE: f64 = 24.0;

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        let note = NOTE_LINE * (self.kinds.len() + 1) as f64 + 14.0;
        let rows = self.norms.len().max(1) as f64;
        (1300, (420.0 + rows * (470.0 + note)) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let body = header(
            root,
            th,
            "SFO vs batch size and the critical batch on a real network (C7, C8)",
            self.caption(),
            self.quick,
        )?;
        let mut entries: Vec<LegendEntry> = Vec::new();
        for &k in &self.kinds {
            let st = plot::optimizer_style(k);
            entries.push(LegendEntry::marker(
                plot::optimizer_label(k),
                st.color,
                st.marker,
                true,
            ));
        }
        for (i, e) in self.eps.iter().enumerate() {
            entries.push(LegendEntry::line(
                format!("ε = {}", plot::fmt_tick(*e)),
                BLACK,
                eps_dash(i),
            ));
        }
        entries.push(LegendEntry::marker(
            "b* (on the median curve)",
            BLACK,
            plot::Marker::Diamond,
            true,
        ));
        entries.push(LegendEntry::line(
            format!("budget: b × steps of {} epochs", values_text(&self.epochs)),
            REF_GREY,
            Dash::Solid,
        ));
        entries.push(LegendEntry::line(
            format!(
                "earliest stop: end of epoch {}",
                values_text(&self.min_epochs)
            ),
            REF_GREY,
            Dash::LongDashed,
        ));
        let cols = plot::legend_columns(&body, th, &entries, 5, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;
        let cells = grid.split_evenly((self.norms.len().max(1), self.rules.len().max(1)));

        // One y range for every panel: the finite SFO values and the floor below, the censored
        // strip (one row per ε) above the largest budget.
        let (mut y_lo, mut cap_hi) = (f64::INFINITY, 0f64);
        for c in &self.cells {
            for v in [c.sfo, c.floor] {
                if v.is_finite() && v > 0.0 {
                    y_lo = y_lo.min(v);
                }
            }
            if c.cap.is_finite() {
                cap_hi = cap_hi.max(c.cap);
            }
        }
        for s in &self.seeds {
            if s.sfo.is_finite() && s.sfo > 0.0 {
                y_lo = y_lo.min(s.sfo);
            }
        }
        if !y_lo.is_finite() || cap_hi <= 0.0 {
            (y_lo, cap_hi) = (1.0, 10.0);
        }
        let y_lo = y_lo / 1.3;
        let strip_lo = cap_hi * 1.12;
        let row_ratio = 1.28f64;
        let n_eps = self.eps.len().max(1);
        // One more row on top for the strip's label.
        let y_hi = strip_lo * row_ratio.powi(n_eps as i32 + 1);
        let strip_y = |i: usize| strip_lo * row_ratio.powf(i as f64 + 0.5);
        let (major, minor) = plot::log_ticks(y_lo, y_hi);
        let major: Vec<f64> = major.into_iter().filter(|v| *v < strip_lo).collect();
        let minor: Vec<f64> = minor.into_iter().filter(|v| *v < strip_lo).collect();
        let (b_min, b_max) = self
            .batches
            .iter()
            .fold((f64::INFINITY, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
        let (b_min, b_max) = if b_min.is_finite() && b_max > 0.0 {
            (b_min, b_max)
        } else {
            (1.0, 2.0)
        };
        let (x_lo, x_hi) = (b_min / 2.0, b_max * 1.4);
        let x_ticks = self.batches.clone();

        for (ni, norm) in self.norms.iter().enumerate() {
            for (ri, rule) in self.rules.iter().enumerate() {
                let cell_area = &cells[ni * self.rules.len() + ri];
                let area = plot::panel_title(
                    cell_area,
                    th,
                    &format!("{}, {}", norm_label(norm), rule_label(rule)),
                )?;
                let note_h = th.px(NOTE_LINE * (self.kinds.len() + 1) as f64 + 14.0);
                let (_, h) = area.dim_in_pixel();
                let (plot_area, note_area) = area.split_vertically(h as i32 - note_h);
                let mut chart = plot::chart_builder(&plot_area, th).build_cartesian_2d(
                    plot::log_axis(x_lo, x_hi, x_ticks.clone(), vec![]),
                    plot::log_axis(y_lo, y_hi, major.clone(), minor.clone()),
                )?;
                plot::draw_axes(
                    &mut chart,
                    th,
                    &plot::Axes {
                        x_desc: "batch size b",
                        y_desc: if ri == 0 { "SFO N(b) = b·T" } else { "" },
                        x_fmt: &|v| plot::fmt_tick(*v),
                        y_fmt: &sfo_tick,
                        y_labels: 6,
                    },
                )?;
                // Censored strip.
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x_lo, strip_lo), (x_hi, y_hi)],
                    RGBColor(236, 236, 236).filled(),
                )))?;
                for (i, e) in self.eps.iter().enumerate() {
                    plot::draw_label(
                        &mut chart,
                        &Theme::new(th.scale * 0.9),
                        (x_lo * 1.04, strip_y(i)),
                        &format!("ε {}", plot::fmt_tick(*e)),
                        plot::NEUTRAL,
                        Pos::new(HPos::Left, VPos::Center),
                    )?;
                }
                plot::draw_label(
                    &mut chart,
                    &Theme::new(th.scale * 0.9),
                    ((x_lo * x_hi).sqrt(), strip_y(n_eps)),
                    &format!(
                        "censored: ε not reached in {} epochs",
                        values_text(&self.epochs)
                    ),
                    plot::NEUTRAL,
                    Pos::new(HPos::Center, VPos::Center),
                )?;
                // Budget and earliest stop, per b (they differ with ⌊n/b⌋ only).
                let mut cap: Vec<(f64, f64)> = Vec::new();
                let mut floor: Vec<(f64, f64)> = Vec::new();
                for c in self.cells_of(norm, rule) {
                    if !cap.iter().any(|p| p.0 == c.batch) {
                        cap.push((c.batch, c.cap));
                        floor.push((c.batch, c.floor));
                    }
                }
                cap.sort_by(|a, b| a.0.total_cmp(&b.0));
                floor.sort_by(|a, b| a.0.total_cmp(&b.0));
                plot::draw_line(
                    &mut chart,
                    th,
                    &plot::positive(cap),
                    REF_GREY,
                    Dash::Solid,
                    th.upx(1.4),
                )?;
                plot::draw_line(
                    &mut chart,
                    th,
                    &plot::positive(floor),
                    REF_GREY,
                    Dash::LongDashed,
                    th.upx(1.4),
                )?;
                let small = Theme::new(th.scale * 0.55);
                let mut stars: Vec<((f64, f64), RGBColor, bool)> = Vec::new();
                let dot = Theme::new(th.scale * 0.4);
                for &kind in &self.kinds {
                    let st = plot::optimizer_style(kind);
                    for (ei, &e) in self.eps.iter().enumerate() {
                        let key = Key {
                            norm: norm.clone(),
                            rule: rule.clone(),
                            kind,
                            eps: e,
                        };
                        let dx = dodge(&self.kinds, &self.eps, kind, e);
                        let seeds: Vec<(f64, f64)> = plot::positive(
                            self.seeds
                                .iter()
                                .filter(|s| s.key == key)
                                .map(|s| (s.batch * dx, s.sfo)),
                        );
                        plot::draw_markers(&mut chart, &small, &seeds, st.color, st.marker, false)?;
                        let mut mine: Vec<&Cell> =
                            self.cells.iter().filter(|c| c.key == key).collect();
                        mine.sort_by(|a, b| a.batch.total_cmp(&b.batch));
                        // Lines between neighbouring finite medians.
                        let mut run: Vec<(f64, f64)> = Vec::new();
                        let mut finite: Vec<(f64, f64)> = Vec::new();
                        for c in &mine {
                            if c.sfo.is_finite() {
                                run.push((c.batch * dx, c.sfo));
                                finite.push((c.batch, c.sfo));
                            } else {
                                plot::draw_line(
                                    &mut chart,
                                    th,
                                    &run,
                                    st.color,
                                    eps_dash(ei),
                                    th.upx(1.8),
                                )?;
                                run.clear();
                            }
                        }
                        plot::draw_line(&mut chart, th, &run, st.color, eps_dash(ei), th.upx(1.8))?;
                        let med: Vec<(f64, f64)> =
                            finite.iter().map(|&(b, y)| (b * dx, y)).collect();
                        plot::draw_markers(&mut chart, th, &med, st.color, st.marker, true)?;
                        // Censored medians in the strip, this ε's row.
                        let cens: Vec<&&Cell> =
                            mine.iter().filter(|c| !c.sfo.is_finite()).collect();
                        let at: Vec<(f64, f64)> =
                            cens.iter().map(|c| (c.batch * dx, strip_y(ei))).collect();
                        plot::draw_markers(&mut chart, th, &at, st.color, st.marker, false)?;
                        let partial: Vec<(f64, f64)> = cens
                            .iter()
                            .filter(|c| c.censored < c.seeds)
                            .map(|c| (c.batch * dx, strip_y(ei)))
                            .collect();
                        plot::draw_markers(
                            &mut chart,
                            &dot,
                            &partial,
                            st.color,
                            plot::Marker::Circle,
                            true,
                        )?;
                        // b* on the median curve (drawn after every series, on top).
                        if let Some(c) = mine.iter().find(|c| c.b_star.is_finite()) {
                            let y = at_b(&finite, c.b_star);
                            if y.is_finite() {
                                let solid = !c.b_star_edge && c.b_star_safe;
                                stars.push(((c.b_star * dx, y), st.color, solid));
                            }
                        }
                    }
                }
                let big = Theme::new(th.scale * 1.45);
                for (at, col, solid) in stars {
                    plot::draw_markers(&mut chart, &big, &[at], col, plot::Marker::Diamond, solid)?;
                }
                // The C² table.
                let style = theme_note(th);
                for (i, (line, col)) in self.table(norm, rule).iter().enumerate() {
                    let (w, _) = note_area.dim_in_pixel();
                    plot::draw_text(
                        &note_area,
                        line,
                        &style.color(col).pos(Pos::new(HPos::Center, VPos::Top)),
                        ((w / 2) as i32, th.px(4.0 + NOTE_LINE * i as f64)),
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// Caption-size text for the notes under the panels.
fn theme_note(th: &Theme) -> TextStyle<'static> {
    th.text(19.0)
}

/// The median SFO at b (a grid point, or interpolated in log–log between two neighbouring
/// finite medians); NaN where the curve is not defined.
fn at_b(finite: &[(f64, f64)], b: f64) -> f64 {
    if let Some(p) = finite.iter().find(|p| (p.0 - b).abs() <= 1e-9 * b) {
        return p.1;
    }
    for w in finite.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        // Only across a single grid step (neighbours in b), never across a censored gap.
        if b > x0 && b < x1 && x1 / x0 <= 2.0 + 1e-9 {
            let t = (b.ln() - x0.ln()) / (x1.ln() - x0.ln());
            return (y0.ln() + t * (y1.ln() - y0.ln())).exp();
        }
    }
    f64::NAN
}

/// Distinct finite values, sorted.
fn distinct(mut v: Vec<f64>) -> Vec<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

pub fn plot(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut seeds = Vec::new();
    let mut cells = Vec::new();
    let mut c2 = Vec::new();
    let mut fits = Vec::new();
    let mut norms: Vec<String> = Vec::new();
    let mut rules: Vec<String> = Vec::new();
    let mut kinds: Vec<OptimizerKind> = Vec::new();
    let (mut eps, mut epochs, mut n_train, mut lrs, mut betas, mut batches, mut min_epochs) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut n_seeds: Vec<usize> = Vec::new();
    for i in 0..t.rows.len() {
        let kind = t.str(i, "kind")?;
        let norm = t.str(i, "norm")?.to_string();
        let rule = t.str(i, "rule")?.to_string();
        let opt = kind_of(t, i)?;
        if !norms.contains(&norm) {
            norms.push(norm.clone());
        }
        if !rules.contains(&rule) {
            rules.push(rule.clone());
        }
        if !kinds.contains(&opt) {
            kinds.push(opt);
        }
        if kind == "fit" {
            fits.push(Fit {
                norm,
                rule,
                kind: opt,
                eps: t.str(i, "eps")?.to_string(),
                k: t.f64(i, "k")?,
                lo: t.f64(i, "b_star_ci95_low")?,
                hi: t.f64(i, "b_star_ci95_high")?,
            });
            continue;
        }
        let e = t.f64(i, "eps")?;
        eps.push(e);
        let key = Key {
            norm,
            rule,
            kind: opt,
            eps: e,
        };
        let flag = |c: &str| -> Result<bool> { Ok(t.f64(i, c)? == 1.0) };
        match kind {
            "run" => {
                epochs.push(t.f64(i, "epochs")?);
                n_train.push(t.f64(i, "n_train")?);
                lrs.push(t.f64(i, "lr")?);
                let beta = t.f64(i, "beta")?;
                if beta > 0.0 {
                    betas.push(beta);
                }
                seeds.push(Seed {
                    key,
                    batch: t.f64(i, "batch")?,
                    sfo: t.f64(i, "sfo")?,
                });
            }
            "cell" => {
                let batch = t.f64(i, "batch")?;
                batches.push(batch);
                min_epochs.push(t.f64(i, "min_epochs")?);
                let s = t.f64(i, "seeds")?;
                n_seeds.push(s as usize);
                let sfo = t.f64(i, "sfo")?;
                cells.push(Cell {
                    key,
                    batch,
                    sfo: if sfo.is_finite() { sfo } else { f64::NAN },
                    censored: t.f64(i, "censored")? as usize,
                    seeds: s as usize,
                    cap: t.f64(i, "sfo_cap")?,
                    floor: t.f64(i, "sfo_floor")?,
                    b_star: t.f64(i, "b_star")?,
                    b_star_edge: flag("b_star_at_edge")?,
                    b_star_safe: flag("censoring_safe")?,
                });
            }
            "c2" => c2.push(C2 {
                key,
                ratio: t.f64(i, "ratio")?,
                ratio_hit: t.f64(i, "ratio_hit")?,
                edge: flag("b_star_at_edge")?,
            }),
            other => {
                return Err(Error::File {
                    path: t.path.clone(),
                    message: format!("row {i}: kind `{other}`: expected run, cell, c2 or fit"),
                })
            }
        }
    }
    // BatchNorm first; the authors' running-mean rule first; optimizers in the house order.
    norms.sort();
    rules.sort_by_key(|r| r != "running-mean");
    kinds.sort_by_key(|k| OptimizerKind::ALL.iter().position(|x| x == k));
    n_seeds.sort_unstable();
    n_seeds.dedup();
    let chart = Chart {
        seeds,
        cells,
        c2,
        fits,
        norms,
        rules,
        kinds,
        eps: distinct(eps),
        epochs: distinct(epochs),
        n_train: distinct(n_train),
        n_seeds,
        lrs: distinct(lrs),
        betas: distinct(betas),
        batches: distinct(batches),
        min_epochs: distinct(min_epochs),
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
