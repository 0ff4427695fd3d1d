//! Is ω Gaussian and isotropic (claim C4; the paper's App. D.2 histograms)? Two figures from the
//! samples of `experiments::gaussianity::sample_omega` (ω_t at one step t, one sample per seed,
//! i.i.d. across seeds) on the cases of `gaussianity::c4_cases`:
//!
//! - `omega-distribution`: histograms (log density) and normal QQ plots of the standardised
//!   coordinates of ω per optimizer and noise law, with the Anderson–Darling and Lilliefors
//!   family p-values of `gaussianity::normality_family` (coordinates and random projections,
//!   Bonferroni);
//! - `omega-spectrum`: the eigenvalues of the sample covariance of ω (`covariance_spectrum`),
//!   normalised by the trace, per optimizer, for isotropic and anisotropic Gaussian noise on the
//!   quadratic, with the exact stationary spectrum (`stationary::stationary_moments`) and the
//!   participation ratio (effective rank).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::*;
use momentum_smoothing::experiments::gaussianity::{
    self, C4Case, C4Sizes, LillieforsNull, OmegaSamples,
};
use momentum_smoothing::experiments::Scale;
use statrs::distribution::{ContinuousCDF, Normal};

/// Noise laws of the distribution figure: (landscape, law) of `c4_cases`.
const DIST_CASES: [(&str, &str); 4] = [
    ("quadratic", "gaussian"),
    ("quadratic", "student_t3"),
    ("quadratic", "multiplicative"),
    ("rastrigin", "gaussian"),
];
const DIST_KINDS: [OptimizerKind; 3] =
    [OptimizerKind::Sgd, OptimizerKind::Shb, OptimizerKind::Nshb];
/// Cases of the spectrum figure.
const SPEC_CASES: [(&str, &str); 2] = [("quadratic", "gaussian"), ("quadratic", "anisotropic")];

/// Histogram range (standardised units) and bins.
const HIST_RANGE: f64 = 7.0;
const HIST_BINS: usize = 56;
/// QQ points: normal scores at these many probabilities spread evenly in z.
const QQ_POINTS: usize = 120;

fn sizes(quick: bool) -> C4Sizes {
    C4Sizes::at(if quick { Scale::Quick } else { Scale::Full })
}

/// Samples are shared between the two figures of one process (same case, optimizer, sizes).
type Cache = Mutex<HashMap<String, Arc<OmegaSamples>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn case_of(sizes: &C4Sizes, landscape: &str, law: &str) -> Result<C4Case> {
    gaussianity::c4_cases(sizes)?
        .into_iter()
        .find(|c| c.landscape == landscape && c.law == law)
        .ok_or_else(|| Error::Open(format!("gaussianity::c4_cases has no {landscape}/{law}")))
}

/// ω samples of (case, optimizer), from the cache or `gaussianity::sample_omega` with the C4
/// table's configuration (b, steps, seeds, base seed).
fn samples(case: &C4Case, kind: OptimizerKind, sizes: &C4Sizes) -> Result<Arc<OmegaSamples>> {
    let key = format!(
        "{}/{}/{}/{}/{}",
        case.landscape,
        case.law,
        kind.name(),
        sizes.seeds,
        sizes.dim
    );
    if let Ok(map) = cache().lock() {
        if let Some(s) = map.get(&key) {
            return Ok(s.clone());
        }
    }
    let opt = gaussianity::c4_optimizer(kind, case.lr)?;
    let cfg = gaussianity::c4_config(case, opt, sizes);
    let s = Arc::new(gaussianity::sample_omega(&case.problem, &cfg)?);
    if let Ok(mut map) = cache().lock() {
        map.insert(key, s.clone());
    }
    Ok(s)
}

/// Each coordinate of the n × d samples standardised by its own mean and sd, pooled.
fn standardized_pool(x: &[f64], d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for j in 0..d {
        let col: Vec<f64> = x.chunks_exact(d).map(|r| r[j]).collect();
        let (m, s) = gaussianity::mean_sd(&col);
        if s > 0.0 && s.is_finite() {
            out.extend(col.iter().map(|v| (v - m) / s));
        }
    }
    out
}

const DIST_COLUMNS: [(&str, &str); 17] = [
    (
        "kind",
        "hist (x: bin centre, y: density), qq (x: normal quantile, y: sample quantile) or stats",
    ),
    ("landscape", "c4_cases landscape"),
    ("law", "c4_cases noise law"),
    ("optimizer", "sgd, shb or nshb (eta of the case, beta 0.9)"),
    (
        "x",
        "hist: bin centre in standard deviations; qq: standard normal quantile",
    ),
    (
        "y",
        "hist: density of the pooled standardised coordinates; qq: their empirical quantile",
    ),
    ("n", "samples per coordinate (kept seeds)"),
    ("dim", "dimension d"),
    ("step", "the step t at which omega_t is recorded"),
    ("batch", "batch size b"),
    ("lr", "learning rate eta"),
    (
        "ad_bonferroni_p",
        "Anderson-Darling family p (coordinates + projections, Bonferroni)",
    ),
    (
        "ks_bonferroni_p",
        "Lilliefors family p (Monte Carlo null, Bonferroni)",
    ),
    (
        "kurtosis_coord_mean",
        "mean excess kurtosis G2 over the tested coordinates",
    ),
    ("kurtosis_se", "normal-theory standard error of one G2"),
    (
        "exactly_gaussian",
        "theory: omega_t exactly Gaussian here (gaussianity::exactly_gaussian)",
    ),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

pub fn run_distribution(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let sz = sizes(ctx.quick);
    let null =
        LillieforsNull::calibrate(sz.seeds, sz.lilliefors_reps, gaussianity::LILLIEFORS_SEED)?;
    let normal = Normal::new(0.0, 1.0).map_err(|e| Error::Open(format!("normal law: {e}")))?;
    let mut rows = Vec::new();
    for (landscape, law) in DIST_CASES {
        let case = case_of(&sz, landscape, law)?;
        for kind in DIST_KINDS {
            ctx.bar
                .set_message(format!("{}: {landscape}/{law} {}", fig.name, kind.name()));
            let s = samples(&case, kind, &sz)?;
            let d = s.dim;
            let coords = gaussianity::spread_coords(d, sz.coords);
            let dirs = gaussianity::projection_directions(d, sz.projections);
            let fam = gaussianity::normality_family(&s.omega, d, &coords, &dirs, &null)?;
            let exact = gaussianity::exactly_gaussian(&case, kind)
                .map(|b| b.to_string())
                .unwrap_or_default();
            let base = |k: &str, x: f64, y: f64| -> Vec<String> {
                vec![
                    k.to_string(),
                    landscape.to_string(),
                    law.to_string(),
                    kind.name().to_string(),
                    cell(x),
                    cell(y),
                    s.n().to_string(),
                    d.to_string(),
                    s.step.to_string(),
                    sz.batch.to_string(),
                    cell(case.lr),
                    cell(fam.ad_bonferroni_p),
                    cell(fam.ks_bonferroni_p),
                    cell(fam.kurtosis_coord_mean),
                    cell(fam.kurtosis_se),
                    exact.clone(),
                    quick_cell(ctx),
                ]
            };
            rows.push(base("stats", f64::NAN, f64::NAN));
            let mut z = standardized_pool(&s.omega, d);
            z.sort_by(f64::total_cmp);
            let n = z.len();
            if n < 2 {
                continue;
            }
            // Histogram.
            let w = 2.0 * HIST_RANGE / HIST_BINS as f64;
            let mut counts = vec![0usize; HIST_BINS];
            for &v in &z {
                let k = ((v + HIST_RANGE) / w).floor();
                if k >= 0.0 && (k as usize) < HIST_BINS {
                    counts[k as usize] += 1;
                }
            }
            for (k, &c) in counts.iter().enumerate() {
                let x = -HIST_RANGE + (k as f64 + 0.5) * w;
                rows.push(base("hist", x, c as f64 / (n as f64 * w)));
            }
            // QQ: probabilities Φ(z) for z evenly spread between the extreme plotting positions.
            let zmax = normal.inverse_cdf(1.0 - 0.5 / n as f64);
            for i in 0..QQ_POINTS {
                let q = -zmax + 2.0 * zmax * i as f64 / (QQ_POINTS - 1) as f64;
                let p = gaussianity::normal_cdf(q);
                let pos = (p * n as f64 - 0.5).round().clamp(0.0, (n - 1) as f64) as usize;
                rows.push(base("qq", q, z[pos]));
            }
        }
    }
    let config = json!({
        "cases": DIST_CASES.iter().map(|(l, w)| format!("{l}/{w}")).collect::<Vec<_>>(),
        "optimizers": DIST_KINDS.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "sizes": sz, "beta": gaussianity::BETA, "seed": gaussianity::SEED,
        "projection_seed": gaussianity::PROJECTION_SEED,
        "lilliefors_seed": gaussianity::LILLIEFORS_SEED,
        "histogram": {"range_sd": HIST_RANGE, "bins": HIST_BINS, "pooled": "every coordinate standardised by its own mean and sd, then pooled (descriptive: the coordinates of one seed are not independent)"},
        "qq_points": QQ_POINTS,
        "library": "experiments::gaussianity::{c4_cases, c4_optimizer, sample_omega, normality_family, LillieforsNull, exactly_gaussian}",
    });
    write_data(ctx, fig, &DIST_COLUMNS, rows, config)
}

struct DistSeries {
    law_key: String,
    kind: OptimizerKind,
    hist: Vec<(f64, f64)>,
    qq: Vec<(f64, f64)>,
    ad_p: f64,
    ks_p: f64,
    kurt: f64,
}

struct DistChart {
    series: Vec<DistSeries>,
    rows: Vec<String>,
    dim: f64,
    n: f64,
    batch: f64,
    quick: bool,
}

fn law_title(key: &str) -> &'static str {
    match key {
        "quadratic/gaussian" => "quadratic, Gaussian noise",
        "quadratic/student_t3" => "quadratic, Student-t ν = 3",
        "quadratic/multiplicative" => "quadratic, multiplicative noise",
        "rastrigin/gaussian" => "Rastrigin A = 1, Gaussian σ = 20",
        _ => "other",
    }
}

/// p-value text: `p < 1e-300` style for tiny values.
fn p_text(p: f64) -> String {
    if !p.is_finite() {
        "—".into()
    } else if p >= 0.01 {
        format!("{p:.2}")
    } else if p < 1e-300 {
        "<1e-300".into()
    } else {
        format!("{p:.0e}")
    }
}

impl Figure for DistChart {
    fn size(&self) -> (u32, u32) {
        (1000, 1500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = vec![
            format!(
                "ωₜ at one step t, one sample per seed ({} seeds); d = {}, b = {}, β = 0.9;",
                self.n, self.dim, self.batch
            ),
            "each coordinate standardised, then pooled. Black: N(0, 1). Legend: Anderson–Darling and".into(),
            "Lilliefors family p (coordinates and random projections, Bonferroni), mean excess kurtosis G₂.".into(),
        ];
        let body = header(
            root,
            th,
            "Distribution of ω per optimizer and noise law (C4)",
            caption,
            self.quick,
        )?;
        let panels = body.split_evenly((self.rows.len().max(1), 2));
        for (r, key) in self.rows.iter().enumerate() {
            let mine: Vec<&DistSeries> = self.series.iter().filter(|s| &s.law_key == key).collect();
            // Row: a legend strip under the row title, then histogram | QQ.
            let left = &panels[2 * r];
            let right = &panels[2 * r + 1];
            let left = plot::panel_title(left, th, &format!("{}: density", law_title(key)))?;
            let right = plot::panel_title(right, th, "normal QQ")?;
            let entries: Vec<LegendEntry> = mine
                .iter()
                .map(|s| {
                    let st = plot::optimizer_style(s.kind);
                    LegendEntry::line(
                        format!(
                            "{}: AD p {}, KS p {}, G₂ {:.2}",
                            plot::optimizer_label(s.kind),
                            p_text(s.ad_p),
                            p_text(s.ks_p),
                            s.kurt
                        )
                        .replace('-', "−"),
                        st.color,
                        st.dash,
                    )
                })
                .collect();
            let (_, rh) = right.dim_in_pixel();
            let lh = th.px(plot::legend_height(&entries, 1));
            let (qq_area, leg_area) = right.split_vertically(rh as i32 - lh);
            let _ = qq_area;
            // Histogram, log density.
            let mut chart = plot::chart_builder(&left, th).build_cartesian_2d(
                plot::lin_axis(-HIST_RANGE, HIST_RANGE),
                plot::log_axis(1e-5, 1.0, vec![1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], vec![]),
            )?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes {
                    x_desc: "standardised ω coordinate",
                    y_desc: "density",
                    x_fmt: &|v| plot::fmt_tick(*v).replace('-', "−"),
                    y_fmt: &|v| {
                        let e = v.log10().round() as i64;
                        if e == 0 {
                            "1".into()
                        } else {
                            format!("10{}", plot::superscript(e))
                        }
                    },
                    y_labels: 6,
                },
            )?;
            let gauss: Vec<(f64, f64)> = (0..=200)
                .map(|i| {
                    let x = -HIST_RANGE + 2.0 * HIST_RANGE * i as f64 / 200.0;
                    (
                        x,
                        (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt(),
                    )
                })
                .filter(|p| p.1 >= 1e-5)
                .collect();
            plot::draw_line(&mut chart, th, &gauss, BLACK, Dash::Solid, th.upx(1.5))?;
            for s in &mine {
                let st = plot::optimizer_style(s.kind);
                // Step outline of the histogram.
                let w = 2.0 * HIST_RANGE / HIST_BINS as f64;
                let mut pts = Vec::new();
                for &(x, y) in &s.hist {
                    if y > 0.0 {
                        pts.push((x - w / 2.0, y));
                        pts.push((x + w / 2.0, y));
                    } else if !pts.is_empty() {
                        plot::draw_line(&mut chart, th, &pts, st.color, st.dash, th.upx(2.0))?;
                        pts.clear();
                    }
                }
                plot::draw_line(&mut chart, th, &pts, st.color, st.dash, th.upx(2.0))?;
            }
            // QQ.
            let lim = mine
                .iter()
                .flat_map(|s| s.qq.iter().flat_map(|p| [p.0.abs(), p.1.abs()]))
                .filter(|v| v.is_finite())
                .fold(4.0_f64, f64::max)
                .min(HIST_RANGE * 2.0)
                * 1.05;
            let mut chart = plot::chart_builder(&qq_area, th)
                .build_cartesian_2d(plot::lin_axis(-lim, lim), plot::lin_axis(-lim, lim))?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes {
                    x_desc: "normal quantile",
                    y_desc: "sample quantile",
                    x_fmt: &|v| plot::fmt_tick(*v).replace('-', "−"),
                    y_fmt: &|v| plot::fmt_tick(*v).replace('-', "−"),
                    y_labels: 7,
                },
            )?;
            plot::draw_line(
                &mut chart,
                th,
                &[(-lim, -lim), (lim, lim)],
                BLACK,
                Dash::Solid,
                th.upx(1.5),
            )?;
            for s in &mine {
                let st = plot::optimizer_style(s.kind);
                plot::draw_line(&mut chart, th, &s.qq, st.color, st.dash, th.upx(2.0))?;
            }
            plot::draw_legend(&leg_area, th, &entries, 1, 12.0)?;
        }
        Ok(())
    }
}

pub fn plot_distribution(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut series: Vec<DistSeries> = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    for i in 0..t.rows.len() {
        let key = format!("{}/{}", t.str(i, "landscape")?, t.str(i, "law")?);
        if !rows.contains(&key) {
            rows.push(key.clone());
        }
        let kind = kind_of(t, i)?;
        let idx = match series
            .iter()
            .position(|s| s.law_key == key && s.kind == kind)
        {
            Some(p) => p,
            None => {
                series.push(DistSeries {
                    law_key: key.clone(),
                    kind,
                    hist: vec![],
                    qq: vec![],
                    ad_p: t.f64(i, "ad_bonferroni_p")?,
                    ks_p: t.f64(i, "ks_bonferroni_p")?,
                    kurt: t.f64(i, "kurtosis_coord_mean")?,
                });
                series.len() - 1
            }
        };
        let xy = (t.f64(i, "x")?, t.f64(i, "y")?);
        match t.str(i, "kind")? {
            "hist" => series[idx].hist.push(xy),
            "qq" => series[idx].qq.push(xy),
            _ => {}
        }
    }
    let chart = DistChart {
        series,
        rows,
        dim: t.first_f64("dim")?,
        n: t.first_f64("n")?,
        batch: t.first_f64("batch")?,
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}

// =============================================================================================
// omega-spectrum
// =============================================================================================

const SPEC_COLUMNS: [(&str, &str); 14] = [
    ("source", "measured (sample covariance over seeds) or exact (stationary Lyapunov, diagonal quadratic with isotropic noise)"),
    ("landscape", "c4_cases landscape"),
    ("law", "c4_cases noise law"),
    ("optimizer", "sgd, shb, nshb, qhm or nesterov"),
    ("rank", "index k of the eigenvalue, 1 = largest"),
    ("eigenvalue", "k-th eigenvalue of Cov(omega)"),
    ("share", "eigenvalue / trace"),
    ("participation_ratio", "(tr S)^2 / tr S^2 (exact rows: of the exact covariance)"),
    ("participation_ratio_corrected", "Srivastava's bias-corrected participation ratio (measured rows)"),
    ("john_p_corrected", "kurtosis-corrected John test p of Cov proportional to I (measured rows)"),
    ("n", "samples (kept seeds)"),
    ("dim", "dimension d"),
    ("batch", "batch size b"),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

pub fn run_spectrum(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let sz = sizes(ctx.quick);
    let mut rows = Vec::new();
    for (landscape, law) in SPEC_CASES {
        let case = case_of(&sz, landscape, law)?;
        for kind in OptimizerKind::ALL {
            ctx.bar
                .set_message(format!("{}: {landscape}/{law} {}", fig.name, kind.name()));
            let s = samples(&case, kind, &sz)?;
            let d = s.dim;
            let spec = gaussianity::covariance_spectrum(&s.omega, d)?;
            let tr = spec.trace;
            for (k, &ev) in spec.eigenvalues.iter().enumerate() {
                rows.push(vec![
                    "measured".into(),
                    landscape.into(),
                    law.into(),
                    kind.name().into(),
                    (k + 1).to_string(),
                    cell(ev),
                    cell(ev / tr),
                    cell(spec.participation_ratio),
                    cell(spec.participation_ratio_corrected),
                    cell(spec.john_p_corrected),
                    s.n().to_string(),
                    d.to_string(),
                    sz.batch.to_string(),
                    quick_cell(ctx),
                ]);
            }
            // Exact stationary spectrum where Cov(ω) is diagonal: isotropic per-coordinate noise.
            if law == "gaussian" && landscape == "quadratic" {
                let opt = gaussianity::c4_optimizer(kind, case.lr)?;
                let (eig, var) = stationary::problem_spectrum(&case.problem)?;
                let m = stationary::stationary_moments(&opt, &eig, &var, sz.batch as f64)?;
                let mut v: Vec<f64> = m.coords.iter().map(|c| c.omega_sq).collect();
                v.sort_by(|a, b| b.total_cmp(a));
                let tr: f64 = v.iter().sum();
                let pr = gaussianity::effective_rank(&v);
                for (k, &ev) in v.iter().enumerate() {
                    rows.push(vec![
                        "exact".into(),
                        landscape.into(),
                        law.into(),
                        kind.name().into(),
                        (k + 1).to_string(),
                        cell(ev),
                        cell(ev / tr),
                        cell(pr),
                        String::new(),
                        String::new(),
                        String::new(),
                        d.to_string(),
                        sz.batch.to_string(),
                        quick_cell(ctx),
                    ]);
                }
            }
        }
    }
    let config = json!({
        "cases": SPEC_CASES.iter().map(|(l, w)| format!("{l}/{w}")).collect::<Vec<_>>(),
        "optimizers": OptimizerKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "sizes": sz, "beta": gaussianity::BETA, "qhm_nu": gaussianity::QHM_NU,
        "seed": gaussianity::SEED,
        "note": "omega_t recorded at the end of the transient (gaussianity::quadratic_steps), not strictly stationary: the exact rows are the stationary limit",
        "library": "experiments::gaussianity::{c4_cases, sample_omega, covariance_spectrum, effective_rank}, stationary::stationary_moments",
    });
    write_data(ctx, fig, &SPEC_COLUMNS, rows, config)
}

struct SpecSeries {
    law: String,
    kind: OptimizerKind,
    exact: bool,
    shares: Vec<f64>,
    pr: f64,
    pr_corr: f64,
    john_p: f64,
}

struct SpecChart {
    series: Vec<SpecSeries>,
    laws: Vec<String>,
    dim: f64,
    n: f64,
    batch: f64,
    quick: bool,
}

impl Figure for SpecChart {
    fn size(&self) -> (u32, u32) {
        (1000, 860)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = vec![
            format!(
                "Eigenvalues λₖ of the covariance Σ of ω over {} seeds / tr Σ; d = {}, b = {}, β = 0.9, QHM ν = 0.7.",
                self.n, self.dim, self.batch
            ),
            "Markers: measured; lines: exact stationary (isotropic noise). Legend: participation ratio (tr Σ)²/tr Σ²,".into(),
            "measured (bias-corrected) and exact; d means isotropic.".into(),
        ];
        let body = header(
            root,
            th,
            "Covariance spectrum and effective rank of ω (C4)",
            caption,
            self.quick,
        )?;
        let panels = body.split_evenly((1, self.laws.len().max(1)));
        let ys = self.series.iter().flat_map(|s| s.shares.iter().copied());
        let (y_lo, y_hi) = plot::log_range(ys, 1.3);
        let (major, minor) = plot::log_ticks(y_lo, y_hi);
        for (li, law) in self.laws.iter().enumerate() {
            let title = if law == "gaussian" {
                "isotropic Gaussian noise"
            } else {
                "anisotropic noise (s²ₖ ∝ 1/k, rotated)"
            };
            let area = plot::panel_title(&panels[li], th, title)?;
            let mine: Vec<&SpecSeries> = self.series.iter().filter(|s| &s.law == law).collect();
            let entries: Vec<LegendEntry> = mine
                .iter()
                .filter(|s| !s.exact)
                .map(|s| {
                    let st = plot::optimizer_style(s.kind);
                    let ex = mine
                        .iter()
                        .find(|e| e.exact && e.kind == s.kind)
                        .map(|e| format!(", exact {:.1}", e.pr))
                        .unwrap_or_default();
                    let _ = s.john_p;
                    LegendEntry::marker(
                        format!(
                            "{}: {:.1} ({:.1}){ex}",
                            plot::optimizer_label(s.kind),
                            s.pr,
                            s.pr_corr
                        ),
                        st.color,
                        st.marker,
                        true,
                    )
                })
                .collect();
            let plot_area = plot::legend_below(&area, th, &entries, 1, 12.0)?;
            let d = self.dim.max(1.0);
            let mut chart = plot::chart_builder(&plot_area, th).build_cartesian_2d(
                plot::lin_axis(0.3, d + 0.7),
                plot::log_axis(y_lo, y_hi, major.clone(), minor.clone()),
            )?;
            plot::draw_axes(
                &mut chart,
                th,
                &plot::Axes {
                    y_labels: 8,
                    ..plot::Axes::new("rank k", if li == 0 { "λₖ / tr Σ" } else { "" })
                },
            )?;
            let iso = 1.0 / d;
            plot::draw_hline(&mut chart, th, iso, BLACK, Dash::Dotted)?;
            plot::draw_label(
                &mut chart,
                th,
                (d + 0.5, iso * 1.08),
                "1/d (isotropic)",
                BLACK,
                Pos::new(HPos::Right, VPos::Bottom),
            )?;
            for s in &mine {
                let st = plot::optimizer_style(s.kind);
                let pts: Vec<(f64, f64)> = s
                    .shares
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| (k as f64 + 1.0, v))
                    .collect();
                let pts = plot::positive(pts);
                if s.exact {
                    plot::draw_line(&mut chart, th, &pts, st.color, st.dash, th.line_width())?;
                } else {
                    plot::draw_markers(&mut chart, th, &pts, st.color, st.marker, true)?;
                }
            }
        }
        Ok(())
    }
}

pub fn plot_spectrum(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut series: Vec<SpecSeries> = Vec::new();
    let mut laws = Vec::new();
    for i in 0..t.rows.len() {
        let law = t.str(i, "law")?.to_string();
        if !laws.contains(&law) {
            laws.push(law.clone());
        }
        let kind = kind_of(t, i)?;
        let exact = t.str(i, "source")? == "exact";
        let idx = match series
            .iter()
            .position(|s| s.law == law && s.kind == kind && s.exact == exact)
        {
            Some(p) => p,
            None => {
                series.push(SpecSeries {
                    law,
                    kind,
                    exact,
                    shares: vec![],
                    pr: t.f64(i, "participation_ratio")?,
                    pr_corr: t.f64(i, "participation_ratio_corrected")?,
                    john_p: t.f64(i, "john_p_corrected")?,
                });
                series.len() - 1
            }
        };
        series[idx].shares.push(t.f64(i, "share")?);
    }
    let first_measured = t.rows_where("source", "measured")?.first().copied();
    let get = |c: &str| -> Result<f64> {
        match first_measured {
            Some(i) => t.f64(i, c),
            None => Ok(f64::NAN),
        }
    };
    let chart = SpecChart {
        series,
        laws,
        dim: get("dim")?,
        n: get("n")?,
        batch: get("batch")?,
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
