//! Smoothed landscapes f̂_δ(x) = E_u[f(x − δu)] for several δ and four kernels (theory.md §4):
//! Gaussian u ~ N(0, I/d) and the uniform unit ball through `experiments::smoothing`
//! (`SmoothedLandscape::exact` for Rastrigin, `SmoothedLandscape::monte_carlo` for Drop-Wave),
//! and two heavy-tailed kernels of the predecessor paper, computed here: Student-t with ν = 3
//! scaled to Cov(u) = I/d, and Cauchy with scale 1/√d per coordinate (multivariate, elliptical:
//! u = s z/√(W/ν), z ~ N(0, I), W ~ χ²_ν).
//!
//! Rastrigin is separable, so f̂_δ is exact for every kernel from the characteristic function φ
//! of one coordinate of u: f̂_δ = Σ_i [x_i² + δ² E u_i² + A(1 − φ(2πδ) cos 2πx_i)], with
//! φ(t) = (1 + |t|/√d) e^{−|t|/√d} (Student-t ν = 3) and e^{−|t|/√d} (Cauchy). The constant
//! δ² E u_i² is infinite for Cauchy; the figures draw f̂_δ − δ² E‖u‖² for every kernel (the shape,
//! up to that constant). Drop-Wave is a seeded Monte Carlo average over a fixed set of draws.

use std::sync::Arc;

use super::*;
use momentum_smoothing::experiments::smoothing::{self, ClosedForm, Kernel, SmoothedLandscape};
use momentum_smoothing::landscape::{DropWave, Landscape, Rastrigin};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{ChiSquared, Distribution, StandardNormal};

const AMPLITUDE: f64 = 10.0;
const DELTAS: [f64; 5] = [0.0, 0.15, 0.3, 0.5, 0.75];
const DELTA_2D: f64 = 0.3;
const SEED: u64 = 0x0053_007E;

/// The kernels, in column order.
#[derive(Clone, Copy, PartialEq)]
enum K {
    Gauss,
    Ball,
    T3,
    Cauchy,
}

const KERNELS: [K; 4] = [K::Gauss, K::Ball, K::T3, K::Cauchy];

impl K {
    fn key(self) -> &'static str {
        match self {
            K::Gauss => "gauss",
            K::Ball => "ball",
            K::T3 => "student_t3",
            K::Cauchy => "cauchy",
        }
    }

    fn title(key: &str) -> &'static str {
        match key {
            "gauss" => "Gaussian N(0, I/d)",
            "ball" => "uniform unit ball",
            "student_t3" => "Student-t ν = 3, Cov I/d",
            "cauchy" => "Cauchy, scale 1/√d",
            "none" => "f itself",
            _ => "other",
        }
    }

    fn library(self) -> Option<Kernel> {
        match self {
            K::Gauss => Some(Kernel::GaussianUnitTrace),
            K::Ball => Some(Kernel::Ball),
            _ => None,
        }
    }

    /// (ν, scale) of the elliptical t kernels.
    fn t_params(self, d: usize) -> (f64, f64) {
        let df = d as f64;
        match self {
            K::T3 => (3.0, 1.0 / (3.0 * df).sqrt()),
            _ => (1.0, 1.0 / df.sqrt()),
        }
    }

    /// Characteristic function E cos(t u_i) of one coordinate.
    fn coord_cf(self, d: usize, t: f64) -> f64 {
        let a = t.abs() / (d as f64).sqrt();
        match self.library() {
            Some(k) => k.coord_cf(d, t),
            None if self == K::T3 => (1.0 + a) * (-a).exp(),
            None => (-a).exp(),
        }
    }
}

/// Rastrigin f̂_δ minus the constant δ² E‖u‖² at x, exact. Gaussian and ball through the
/// library's closed form, the t kernels from their characteristic function.
fn rastrigin_shape(k: K, d: usize, delta: f64, x: &[f64]) -> Result<f64> {
    match k.library() {
        Some(kernel) => {
            let base: Arc<dyn Landscape> = Arc::new(Rastrigin::new(d, AMPLITUDE)?);
            let s = SmoothedLandscape::exact(
                base,
                ClosedForm::Rastrigin {
                    amplitude: AMPLITUDE,
                },
                kernel,
                delta,
            )?;
            Ok(s.value(x) - delta * delta * kernel.second_moment(d))
        }
        None => {
            let phi = k.coord_cf(d, std::f64::consts::TAU * delta);
            Ok(x.iter()
                .map(|&xi| xi * xi + AMPLITUDE * (1.0 - phi * (std::f64::consts::TAU * xi).cos()))
                .sum())
        }
    }
}

/// A Monte Carlo f̂_δ over a fixed set of n draws of u (common random numbers): the library's
/// `SmoothedLandscape::monte_carlo` for Gaussian and ball, the same scheme here for the t kernels.
enum Mc {
    Lib(SmoothedLandscape),
    Own {
        base: Arc<dyn Landscape>,
        delta: f64,
        draws: Vec<f64>,
    },
}

impl Mc {
    fn new(base: Arc<dyn Landscape>, k: K, delta: f64, n: usize, seed: u64) -> Result<Self> {
        let d = base.dim();
        Ok(match k.library() {
            Some(kernel) => Mc::Lib(SmoothedLandscape::monte_carlo(
                base, kernel, delta, n, seed,
            )?),
            None => {
                let (nu, s) = k.t_params(d);
                let chi = ChiSquared::new(nu)
                    .map_err(|e| Error::Open(format!("chi-squared({nu}): {e}")))?;
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut draws = vec![0.0; n * d];
                for row in draws.chunks_exact_mut(d) {
                    let w: f64 = chi.sample(&mut rng);
                    let scale = s / (w / nu).sqrt();
                    for v in row.iter_mut() {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        *v = scale * z;
                    }
                }
                Mc::Own { base, delta, draws }
            }
        })
    }

    fn value(&self, x: &[f64]) -> f64 {
        match self {
            Mc::Lib(s) => s.value(x),
            Mc::Own { base, delta, draws } => {
                let d = x.len();
                let mut z = vec![0.0; d];
                let mut acc = 0.0;
                let n = draws.len() / d.max(1);
                for u in draws.chunks_exact(d) {
                    for i in 0..d {
                        z[i] = x[i] - delta * u[i];
                    }
                    acc += base.value(&z);
                }
                acc / n.max(1) as f64
            }
        }
    }
}

/// Seven significant digits: far below what a figure resolves, and the CSV stays small.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return cell(v);
    }
    let digits = (6 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn sizes(quick: bool) -> (usize, usize, usize, usize) {
    // (1-D points, 1-D MC draws, 2-D grid side, 2-D MC draws)
    if quick {
        (81, 400, 21, 100)
    } else {
        (241, 20_000, 51, 3000)
    }
}

const COLUMNS_1D: [(&str, &str); 9] = [
    ("landscape", "rastrigin (d = 1, A = 10) or drop_wave (d = 2, slice x2 = 0)"),
    ("kernel", "gauss (N(0, I/d)), ball (uniform unit ball), student_t3 (Cov I/d), cauchy (scale 1/sqrt d)"),
    ("delta", "degree of smoothing delta"),
    ("x", "x (rastrigin) or x1 (drop_wave, x2 = 0)"),
    ("value", "rastrigin: f_delta(x) - delta^2 E||u||^2 (exact); drop_wave: f_delta(x1, 0) (Monte Carlo)"),
    ("method", "exact_library, exact_cf (characteristic function, here), mc_library, mc_here"),
    ("mc_draws", "Monte Carlo draws (common random numbers)"),
    ("seed", "ChaCha8 seed of the draws"),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

pub fn run_1d(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let (npts, ndraw, _, _) = sizes(ctx.quick);
    let dw: Arc<dyn Landscape> = Arc::new(DropWave::new()?);
    let mut rows = Vec::new();
    for (ki, k) in KERNELS.into_iter().enumerate() {
        for (di, &delta) in DELTAS.iter().enumerate() {
            ctx.bar
                .set_message(format!("{}: {} δ={delta}", fig.name, k.key()));
            let method = if k.library().is_some() {
                "exact_library"
            } else {
                "exact_cf"
            };
            for i in 0..npts {
                let x = -3.0 + 6.0 * i as f64 / (npts - 1) as f64;
                rows.push(vec![
                    "rastrigin".into(),
                    k.key().into(),
                    cell(delta),
                    short(x),
                    short(rastrigin_shape(k, 1, delta, &[x])?),
                    method.into(),
                    String::new(),
                    String::new(),
                    quick_cell(ctx),
                ]);
            }
            let seed = SEED + 10 * ki as u64 + di as u64;
            let mc = Mc::new(dw.clone(), k, delta, ndraw, seed)?;
            let method = if k.library().is_some() {
                "mc_library"
            } else {
                "mc_here"
            };
            for i in 0..npts {
                let x = -3.0 + 6.0 * i as f64 / (npts - 1) as f64;
                let v = if delta == 0.0 {
                    dw.value(&[x, 0.0])
                } else {
                    mc.value(&[x, 0.0])
                };
                rows.push(vec![
                    "drop_wave".into(),
                    k.key().into(),
                    cell(delta),
                    short(x),
                    short(v),
                    method.into(),
                    ndraw.to_string(),
                    seed.to_string(),
                    quick_cell(ctx),
                ]);
            }
        }
    }
    let config = json!({
        "deltas": DELTAS, "rastrigin_amplitude": AMPLITUDE, "x_range": [-3.0, 3.0], "points": npts,
        "mc_draws": ndraw, "seed": format!("{SEED} + 10 * kernel index + delta index"),
        "kernels": {
            "gauss": "u ~ N(0, I/d): smoothing::Kernel::GaussianUnitTrace",
            "ball": "u uniform in the unit ball: smoothing::Kernel::Ball",
            "student_t3": "u = s z / sqrt(W/3), W ~ chi2_3, s = 1/sqrt(3d): Cov(u) = I/d",
            "cauchy": "u = s z / sqrt(W), W ~ chi2_1, s = 1/sqrt(d): coordinates Cauchy(0, 1/sqrt d)",
        },
        "rastrigin": "exact; the constant delta^2 E||u||^2 (infinite for Cauchy) is subtracted",
        "library": "experiments::smoothing::{SmoothedLandscape::exact, SmoothedLandscape::monte_carlo, Kernel::coord_cf}",
    });
    write_data(ctx, fig, &COLUMNS_1D, rows, config)
}

struct Curve {
    landscape: String,
    kernel: String,
    delta: f64,
    pts: Vec<(f64, f64)>,
}

struct Chart1d {
    curves: Vec<Curve>,
    draws: f64,
    quick: bool,
}

impl Figure for Chart1d {
    fn size(&self) -> (u32, u32) {
        (1200, 820)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let caption = vec![
            "Top: 1-D Rastrigin (A = 10), exact, drawn as f̂ − δ²E u² (the constant is infinite for Cauchy).".to_string(),
            format!(
                "Bottom: Drop-Wave (2-D), the slice f̂(x₁, 0), Monte Carlo with {} seeded draws of u.",
                self.draws
            ),
            "The uniform ball at δ = 0.75 inverts the ripples: its characteristic function sin t/t is negative at t = 2πδ.".to_string(),
        ];
        let body = header(
            root,
            th,
            "Smoothed landscapes f̂(x) = E f(x − δu) for four kernels of u",
            caption,
            self.quick,
        )?;
        let entries: Vec<LegendEntry> = DELTAS
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let label = if *d == 0.0 {
                    "δ = 0 (f)".to_string()
                } else {
                    format!("δ = {d}")
                };
                LegendEntry::line(label, plot::sequential(i, DELTAS.len()), Dash::Solid)
            })
            .collect();
        let cols = plot::legend_columns(&body, th, &entries, 5, 12.0)?;
        let grid = plot::legend_below(&body, th, &entries, cols, 12.0)?;
        let panels = grid.split_evenly((2, KERNELS.len()));
        for (r, land) in ["rastrigin", "drop_wave"].iter().enumerate() {
            let ys: Vec<f64> = self
                .curves
                .iter()
                .filter(|c| &c.landscape == land)
                .flat_map(|c| c.pts.iter().map(|p| p.1))
                .filter(|v| v.is_finite())
                .collect();
            let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let pad = 0.04 * (hi - lo).max(1e-9);
            for (c, k) in KERNELS.iter().enumerate() {
                let area =
                    plot::panel_title(&panels[r * KERNELS.len() + c], th, K::title(k.key()))?;
                let mut chart = plot::chart_builder(&area, th)
                    .y_label_area_size(th.px(if c == 0 { 92.0 } else { 60.0 }))
                    .build_cartesian_2d(
                        plot::lin_axis(-3.0, 3.0),
                        plot::lin_axis(lo - pad, hi + pad),
                    )?;
                let name = if r == 0 { "Rastrigin" } else { "Drop-Wave" };
                plot::draw_axes(
                    &mut chart,
                    th,
                    &plot::Axes {
                        x_desc: if r == 0 { "x" } else { "x₁" },
                        y_desc: if c == 0 { name } else { "" },
                        x_fmt: &|v| {
                            let k = v.round();
                            if (v - k).abs() < 1e-9 && (k as i64) % 2 == 0 {
                                plot::fmt_tick(k).replace('-', "−")
                            } else {
                                String::new()
                            }
                        },
                        y_fmt: &|v| plot::fmt_tick(*v).replace('-', "−"),
                        y_labels: 6,
                    },
                )?;
                for (i, d) in DELTAS.iter().enumerate() {
                    if let Some(cv) = self
                        .curves
                        .iter()
                        .find(|cv| &cv.landscape == land && cv.kernel == k.key() && cv.delta == *d)
                    {
                        let w = if *d == 0.0 {
                            th.line_width()
                        } else {
                            th.upx(2.0)
                        };
                        plot::draw_line(
                            &mut chart,
                            th,
                            &cv.pts,
                            plot::sequential(i, DELTAS.len()),
                            Dash::Solid,
                            w,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

pub fn plot_1d(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut curves: Vec<Curve> = Vec::new();
    let mut draws = f64::NAN;
    for i in 0..t.rows.len() {
        let landscape = t.str(i, "landscape")?.to_string();
        let kernel = t.str(i, "kernel")?.to_string();
        let delta = t.f64(i, "delta")?;
        if landscape == "drop_wave" {
            draws = t.f64(i, "mc_draws")?;
        }
        let p = (t.f64(i, "x")?, t.f64(i, "value")?);
        match curves
            .iter_mut()
            .find(|c| c.landscape == landscape && c.kernel == kernel && c.delta == delta)
        {
            Some(c) => c.pts.push(p),
            None => curves.push(Curve {
                landscape,
                kernel,
                delta,
                pts: vec![p],
            }),
        }
    }
    let chart = Chart1d {
        curves,
        draws,
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}

// =============================================================================================
// 2-D
// =============================================================================================

const COLUMNS_2D: [(&str, &str); 9] = [
    ("landscape", "rastrigin (d = 2, A = 10) or drop_wave"),
    ("kernel", "none (f itself), gauss, ball, student_t3, cauchy"),
    ("delta", "degree of smoothing delta (0 for f)"),
    ("x1", "first coordinate (cell centre)"),
    ("x2", "second coordinate (cell centre)"),
    (
        "value",
        "rastrigin: f_delta - delta^2 E||u||^2 (exact); drop_wave: f_delta (Monte Carlo)",
    ),
    ("mc_draws", "Monte Carlo draws (drop_wave)"),
    ("seed", "ChaCha8 seed of the draws (drop_wave)"),
    ("quick", "1 for a quick (smoke-test) run, else 0"),
];

pub fn run_2d(ctx: &Ctx, fig: &FigureDef) -> Result<()> {
    let (_, _, side, ndraw) = sizes(ctx.quick);
    let dw: Arc<dyn Landscape> = Arc::new(DropWave::new()?);
    let ras = Rastrigin::new(2, AMPLITUDE)?;
    let half = 2.5;
    let coord = |i: usize| -half + 2.0 * half * i as f64 / (side - 1) as f64;
    let mut rows = Vec::new();
    let mut push = |land: &str,
                    kernel: &str,
                    delta: f64,
                    f: &dyn Fn(&[f64]) -> Result<f64>,
                    draws: &str,
                    seed: &str|
     -> Result<()> {
        for j in 0..side {
            for i in 0..side {
                let x = [coord(i), coord(j)];
                rows.push(vec![
                    land.into(),
                    kernel.into(),
                    cell(delta),
                    short(x[0]),
                    short(x[1]),
                    short(f(&x)?),
                    draws.into(),
                    seed.into(),
                    quick_cell(ctx),
                ]);
            }
        }
        Ok(())
    };
    ctx.bar.set_message(format!("{}: f", fig.name));
    push("rastrigin", "none", 0.0, &|x| Ok(ras.value(x)), "", "")?;
    push("drop_wave", "none", 0.0, &|x| Ok(dw.value(x)), "", "")?;
    for (ki, k) in KERNELS.into_iter().enumerate() {
        ctx.bar
            .set_message(format!("{}: {} δ={DELTA_2D}", fig.name, k.key()));
        push(
            "rastrigin",
            k.key(),
            DELTA_2D,
            &|x| rastrigin_shape(k, 2, DELTA_2D, x),
            "",
            "",
        )?;
        let seed = SEED + 100 + ki as u64;
        let mc = Mc::new(dw.clone(), k, DELTA_2D, ndraw, seed)?;
        push(
            "drop_wave",
            k.key(),
            DELTA_2D,
            &|x| Ok(mc.value(x)),
            &ndraw.to_string(),
            &seed.to_string(),
        )?;
    }
    let config = json!({
        "delta": DELTA_2D, "grid": side, "range": [-half, half], "rastrigin_amplitude": AMPLITUDE,
        "mc_draws": ndraw, "seed": format!("{} + kernel index", SEED + 100),
        "kernels": "as smoothed-landscapes (gauss, ball: experiments::smoothing; student_t3, cauchy: here)",
        "library": "experiments::smoothing::{SmoothedLandscape::exact, SmoothedLandscape::monte_carlo}",
    });
    let _ = smoothing::SEED;
    write_data(ctx, fig, &COLUMNS_2D, rows, config)
}

struct Panel {
    landscape: String,
    kernel: String,
    grid: plot::Grid,
}

struct Chart2d {
    panels: Vec<Panel>,
    delta: f64,
    draws: f64,
    quick: bool,
}

const LEVELS: usize = 18;

impl Figure for Chart2d {
    fn size(&self) -> (u32, u32) {
        (1300, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, th: &Theme) -> DrawResult {
        let mut caption = vec![format!(
            "δ = {}; Rastrigin (A = 10) exact, drawn as f̂ − δ²E‖u‖²; Drop-Wave by Monte Carlo ({} seeded draws of u).",
            self.delta, self.draws
        )];
        caption.push("One colour scale per row, 18 levels.".into());
        let body = header(
            root,
            th,
            "Smoothed landscapes in two dimensions",
            caption,
            self.quick,
        )?;
        let (w, _) = body.dim_in_pixel();
        let (maps, bars) = body.split_horizontally(w as i32 - th.px(120.0));
        let cells = maps.split_evenly((2, 5));
        let bar_cells = bars.split_evenly((2, 1));
        let kernels = ["none", "gauss", "ball", "student_t3", "cauchy"];
        for (r, land) in ["rastrigin", "drop_wave"].iter().enumerate() {
            let mine: Vec<&Panel> = self
                .panels
                .iter()
                .filter(|p| &p.landscape == land)
                .collect();
            let vals: Vec<f64> = mine
                .iter()
                .flat_map(|p| p.grid.values.iter().copied())
                .filter(|v| v.is_finite())
                .collect();
            let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for (c, kern) in kernels.iter().enumerate() {
                let Some(p) = mine.iter().find(|p| &p.kernel == kern) else {
                    continue;
                };
                let title = if c == 0 {
                    if r == 0 {
                        "Rastrigin f".to_string()
                    } else {
                        "Drop-Wave f".to_string()
                    }
                } else {
                    K::title(kern).to_string()
                };
                let area = plot::panel_title(&cells[r * 5 + c], th, &title)?;
                let (x0, x1) = (
                    p.grid.xs.first().copied().unwrap_or(-1.0),
                    p.grid.xs.last().copied().unwrap_or(1.0),
                );
                let dx = (x1 - x0) / (p.grid.xs.len().max(2) - 1) as f64 / 2.0;
                let mut chart = ChartBuilder::on(&area)
                    .margin(th.px(4.0))
                    .x_label_area_size(th.px(36.0))
                    .y_label_area_size(th.px(if c == 0 { 44.0 } else { 8.0 }))
                    .build_cartesian_2d(x0 - dx..x1 + dx, x0 - dx..x1 + dx)?;
                let mut mesh = chart.configure_mesh();
                mesh.disable_mesh()
                    .x_labels(3)
                    .y_labels(3)
                    .x_label_formatter(&|v| plot::fmt_tick(*v).replace('-', "−"))
                    .y_label_formatter(&|v| plot::fmt_tick(*v).replace('-', "−"))
                    .label_style(th.text(19.0))
                    .axis_style(BLACK.stroke_width(th.upx(1.0)))
                    .set_all_tick_mark_size(th.px(4.0));
                if c != 0 {
                    mesh.y_label_formatter(&|_| String::new());
                }
                mesh.draw()?;
                plot::draw_heatmap(&mut chart, &p.grid, (lo, hi), LEVELS)?;
            }
            plot::draw_colorbar(&bar_cells[r], th, (lo, hi), LEVELS, "")?;
        }
        Ok(())
    }
}

pub fn plot_2d(ctx: &Ctx, fig: &FigureDef, t: &DataTable) -> Result<()> {
    let mut panels: Vec<Panel> = Vec::new();
    let (mut delta, mut draws) = (f64::NAN, f64::NAN);
    for i in 0..t.rows.len() {
        let landscape = t.str(i, "landscape")?.to_string();
        let kernel = t.str(i, "kernel")?.to_string();
        if kernel != "none" {
            delta = t.f64(i, "delta")?;
            if landscape == "drop_wave" {
                draws = t.f64(i, "mc_draws")?;
            }
        }
        let (x1, x2, v) = (t.f64(i, "x1")?, t.f64(i, "x2")?, t.f64(i, "value")?);
        let idx = match panels
            .iter()
            .position(|p| p.landscape == landscape && p.kernel == kernel)
        {
            Some(p) => p,
            None => {
                panels.push(Panel {
                    landscape,
                    kernel,
                    grid: plot::Grid {
                        xs: vec![],
                        ys: vec![],
                        values: vec![],
                    },
                });
                panels.len() - 1
            }
        };
        let g = &mut panels[idx].grid;
        // Rows are written x2-major, x1 fastest.
        if g.ys.last() != Some(&x2) {
            g.ys.push(x2);
        }
        if g.ys.len() == 1 {
            g.xs.push(x1);
        }
        g.values.push(v);
    }
    let chart = Chart2d {
        panels,
        delta,
        draws,
        quick: table_quick(t),
    };
    plot::render(&chart, &ctx.out, fig.name)?;
    Ok(())
}
