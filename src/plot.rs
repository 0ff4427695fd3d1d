//! Shared plotting for the figures (`src/bin/figures.rs`): one embedded font, one colour, marker
//! and dash pattern per optimizer, and every chart drawn twice from the same code — an SVG
//! (vector) and a PNG at least [`PNG_MIN_WIDTH`] pixels wide.
//!
//! - **Font.** DejaVu Sans, embedded through the `dejavu` crate and registered once with
//!   plotters' `ab_glyph` text backend ([`register_font`]); no system fonts are read, so the
//!   figures render headless. The family is registered under the name [`FONT_FAMILY`]
//!   (`"DejaVu Sans, sans-serif"`), which the SVG backend writes verbatim into `font-family`, so
//!   SVG viewers use DejaVu where installed and fall back to any sans-serif face.
//! - **Colour.** The Okabe–Ito colour-blind-safe palette ([`okabe_ito`]); each optimizer keeps
//!   one colour everywhere ([`optimizer_style`]), plus a marker shape and a dash pattern so that
//!   the figures read in greyscale print.
//! - **Two backends, one drawing.** A figure implements [`Figure`], whose `draw` method is
//!   generic over the plotters backend; [`render`] calls it for an `SVGBackend` at scale 1 and a
//!   `BitMapBackend` at scale ≥ 2, with every length (fonts, strokes, markers, margins) given in
//!   logical pixels and multiplied by [`Theme::scale`]. Both files are written atomically.
//! - **Data in.** The plot step of a figure reads only its CSV ([`DataTable`]); it never computes
//!   science, only draws numbers computed by the run step.
//!
//! Labels use the paper's symbols: η, b, β, δ = ηψ, ω, ‖ω‖.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::{CoordTranslate, Shift};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use crate::error::{Error, Result};
use crate::optimizer::OptimizerKind;
use crate::output::write_atomic;

/// The font family name the embedded DejaVu Sans is registered under. It doubles as a CSS
/// `font-family` list in the SVG output.
pub const FONT_FAMILY: &str = "DejaVu Sans, sans-serif";

/// Smallest width in pixels of every PNG [`render`] writes.
pub const PNG_MIN_WIDTH: u32 = 1600;

/// Register the embedded DejaVu Sans (regular and bold) with plotters, once per process.
/// Called by [`render`]; safe to call again.
pub fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let regular =
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, dejavu::sans::regular());
        let bold =
            plotters::style::register_font(FONT_FAMILY, FontStyle::Bold, dejavu::sans::bold());
        regular.is_ok() && bold.is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::File {
            path: "<embedded DejaVu Sans>".into(),
            message: "plotters rejected the embedded font".into(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Palette, markers, dashes
// ---------------------------------------------------------------------------------------------

/// The Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008), in its usual order.
pub mod okabe_ito {
    use plotters::style::RGBColor;

    /// Black.
    pub const BLACK: RGBColor = RGBColor(0, 0, 0);
    /// Orange.
    pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
    /// Sky blue.
    pub const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
    /// Bluish green.
    pub const BLUISH_GREEN: RGBColor = RGBColor(0, 158, 115);
    /// Yellow (too light for lines on white; fills only).
    pub const YELLOW: RGBColor = RGBColor(240, 228, 66);
    /// Blue.
    pub const BLUE: RGBColor = RGBColor(0, 114, 178);
    /// Vermillion.
    pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
    /// Reddish purple.
    pub const REDDISH_PURPLE: RGBColor = RGBColor(204, 121, 167);
}

/// Viridis at t ∈ \[0, 1\] (perceptually uniform, colour-blind safe, monotone in lightness),
/// linearly interpolated between nine anchors. For fills (heat maps); lines use [`sequential`].
pub fn viridis(t: f64) -> RGBColor {
    const A: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (A.len() - 1) as f64;
    let i = (x.floor() as usize).min(A.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (p, q) = (A[i], A[i + 1]);
    RGBColor(mix(p.0, q.0), mix(p.1, q.1), mix(p.2, q.2))
}

/// Colour `i` of `n` for a family of lines ordered by a parameter (δ, β, ε …): viridis from
/// dark purple to green, stopping before its yellow end so that every line reads on white.
/// These are never optimizer colours (those are Okabe–Ito, [`optimizer_style`]).
pub fn sequential(i: usize, n: usize) -> RGBColor {
    let t = if n <= 1 {
        0.0
    } else {
        i as f64 / (n - 1) as f64
    };
    viridis(0.78 * t)
}

/// Neutral grey for legend swatches that stand for a quantity rather than an optimizer.
pub const NEUTRAL: RGBColor = RGBColor(80, 80, 80);

/// Light grey for grid lines.
const GRID: RGBColor = RGBColor(225, 225, 225);

/// Marker shapes, distinguishable in greyscale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// ●
    Circle,
    /// ■
    Square,
    /// ▲
    TriangleUp,
    /// ◆
    Diamond,
    /// ▼
    TriangleDown,
}

impl Marker {
    /// The outline of the marker as pixel offsets from its centre, for a nominal radius `r`.
    pub fn outline(self, r: f64) -> Vec<(i32, i32)> {
        let p = |x: f64, y: f64| ((x * r).round() as i32, (y * r).round() as i32);
        match self {
            Marker::Circle => (0..24)
                .map(|i| {
                    let a = i as f64 * std::f64::consts::TAU / 24.0;
                    p(a.cos(), a.sin())
                })
                .collect(),
            Marker::Square => vec![
                p(-0.88, -0.88),
                p(0.88, -0.88),
                p(0.88, 0.88),
                p(-0.88, 0.88),
            ],
            Marker::TriangleUp => vec![p(0.0, -1.2), p(1.1, 0.75), p(-1.1, 0.75)],
            Marker::TriangleDown => vec![p(0.0, 1.2), p(1.1, -0.75), p(-1.1, -0.75)],
            Marker::Diamond => vec![p(0.0, -1.3), p(1.0, 0.0), p(0.0, 1.3), p(-1.0, 0.0)],
        }
    }
}

/// Line dash patterns, distinguishable in greyscale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    /// ───
    Solid,
    /// ‒ ‒ ‒ (dash 10, gap 6 logical px)
    Dashed,
    /// ── ── (dash 18, gap 7)
    LongDashed,
    /// · · · (dot 3, gap 5)
    Dotted,
}

impl Dash {
    /// (dash, gap) lengths in logical pixels, `None` for a solid line.
    pub fn pattern(self) -> Option<(f64, f64)> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some((10.0, 6.0)),
            Dash::LongDashed => Some((18.0, 7.0)),
            Dash::Dotted => Some((3.0, 5.0)),
        }
    }
}

/// How one optimizer is drawn: the same colour, marker and dash in every figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesStyle {
    /// Okabe–Ito colour.
    pub color: RGBColor,
    /// Marker shape.
    pub marker: Marker,
    /// Dash pattern when the optimizer is drawn as a line alone.
    pub dash: Dash,
}

/// The fixed style of each optimizer: SGD blue ● solid, SHB vermillion ■ long dash, NSHB bluish
/// green ▲ dash, QHM reddish purple ◆ dotted, Nesterov orange ▼ solid.
pub fn optimizer_style(kind: OptimizerKind) -> SeriesStyle {
    use okabe_ito::*;
    let (color, marker, dash) = match kind {
        OptimizerKind::Sgd => (BLUE, Marker::Circle, Dash::Solid),
        OptimizerKind::Shb => (VERMILLION, Marker::Square, Dash::LongDashed),
        OptimizerKind::Nshb => (BLUISH_GREEN, Marker::TriangleUp, Dash::Dashed),
        OptimizerKind::Qhm => (REDDISH_PURPLE, Marker::Diamond, Dash::Dotted),
        OptimizerKind::Nesterov => (ORANGE, Marker::TriangleDown, Dash::Solid),
    };
    SeriesStyle {
        color,
        marker,
        dash,
    }
}

/// The optimizer's name as the paper writes it (SGD, SHB, NSHB, QHM, Nesterov).
pub fn optimizer_label(kind: OptimizerKind) -> &'static str {
    match kind {
        OptimizerKind::Sgd => "SGD",
        OptimizerKind::Shb => "SHB",
        OptimizerKind::Nshb => "NSHB",
        OptimizerKind::Qhm => "QHM",
        OptimizerKind::Nesterov => "Nesterov",
    }
}

// ---------------------------------------------------------------------------------------------
// Theme and rendering
// ---------------------------------------------------------------------------------------------

/// Scale and type sizes of one rendering. Every length a figure uses is in logical pixels (the
/// SVG's pixels) and goes through [`Theme::px`]; the PNG is the same drawing at a larger scale.
///
/// Type sizes are plotters' font sizes (about 1.2 × the em height) for a figure about 800
/// logical pixels wide, large enough to stay readable when the figure is shrunk to one column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    /// Device pixels per logical pixel (1 for SVG, ≥ 2 for PNG).
    pub scale: f64,
}

impl Theme {
    /// A theme at this scale.
    pub fn new(scale: f64) -> Self {
        Self { scale }
    }

    /// A logical length in device pixels.
    pub fn px(&self, logical: f64) -> i32 {
        (logical * self.scale).round() as i32
    }

    /// A logical length in device pixels, at least 1.
    pub fn upx(&self, logical: f64) -> u32 {
        self.px(logical).max(1) as u32
    }

    /// Text in the embedded font at a logical size, black.
    pub fn text(&self, size: f64) -> TextStyle<'static> {
        TextStyle::from((FONT_FAMILY, size * self.scale).into_font()).color(&BLACK)
    }

    /// Figure title (bold).
    pub fn title(&self) -> TextStyle<'static> {
        // FontDesc::style keeps the loaded face, so the bold face is requested at creation.
        TextStyle::from(FontDesc::new(
            FontFamily::Name(FONT_FAMILY),
            26.0 * self.scale,
            FontStyle::Bold,
        ))
        .color(&BLACK)
    }

    /// Subtitle / caption lines under the title.
    pub fn subtitle(&self) -> TextStyle<'static> {
        self.text(21.0).color(&RGBColor(60, 60, 60))
    }

    /// Axis descriptions.
    pub fn axis_label(&self) -> TextStyle<'static> {
        self.text(25.0)
    }

    /// Tick labels.
    pub fn tick_label(&self) -> TextStyle<'static> {
        self.text(22.0)
    }

    /// Legend entries.
    pub fn legend(&self) -> TextStyle<'static> {
        self.text(21.0)
    }

    /// Annotations written into the plot.
    pub fn annotation(&self) -> TextStyle<'static> {
        self.text(19.0)
    }

    /// Data line width in device pixels.
    pub fn line_width(&self) -> u32 {
        self.upx(2.5)
    }

    /// Marker radius in device pixels.
    pub fn marker_radius(&self) -> f64 {
        6.5 * self.scale
    }
}

/// A drawing failure inside [`Figure::draw`], as text (plotters' error types differ per
/// backend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        DrawError(e.to_string())
    }
}

impl From<Error> for DrawError {
    fn from(e: Error) -> Self {
        DrawError(e.to_string())
    }
}

/// Result of drawing.
pub type DrawResult = std::result::Result<(), DrawError>;

/// A figure: a logical size and a drawing generic over the plotters backend, so the same code
/// draws the SVG and the PNG.
pub trait Figure {
    /// Size in logical pixels (the SVG's size).
    fn size(&self) -> (u32, u32);

    /// Draw onto `root` (already filled white), with every length scaled by `theme`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, theme: &Theme) -> DrawResult;
}

/// The two files [`render`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// DIR/NAME.svg
    pub svg: PathBuf,
    /// DIR/NAME.png
    pub png: PathBuf,
    /// PNG size in pixels.
    pub png_size: (u32, u32),
}

/// The PNG scale for a logical width: at least 2, and enough to make the PNG at least
/// [`PNG_MIN_WIDTH`] pixels wide.
pub fn png_scale(logical_width: u32) -> f64 {
    (PNG_MIN_WIDTH as f64 / logical_width.max(1) as f64).max(2.0)
}

/// The PNG size in pixels for a logical size.
pub fn png_size(logical: (u32, u32)) -> (u32, u32) {
    let s = png_scale(logical.0);
    (
        (logical.0 as f64 * s).ceil() as u32,
        (logical.1 as f64 * s).ceil() as u32,
    )
}

/// Draw `fig` into DIR/NAME.svg (scale 1) and DIR/NAME.png (scale [`png_scale`]), each written
/// atomically (temporary file in DIR, then rename).
pub fn render(fig: &impl Figure, dir: &Path, name: &str) -> Result<Rendered> {
    register_font()?;
    let (w, h) = fig.size();
    let svg_path = dir.join(format!("{name}.svg"));
    let png_path = dir.join(format!("{name}.png"));
    let draw_err = |path: &Path, e: DrawError| Error::File {
        path: path.display().to_string(),
        message: format!("cannot draw: {}", e.0),
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let theme = Theme::new(1.0);
        let drawn = root
            .fill(&WHITE)
            .map_err(DrawError::from)
            .and_then(|_| fig.draw(&root, &theme))
            .and_then(|_| root.present().map_err(DrawError::from));
        drawn.map_err(|e| draw_err(&svg_path, e))?;
    }
    write_atomic(&svg_path, svg.as_bytes())?;

    let s = png_scale(w);
    let size = png_size((w, h));
    // BitMapBackend picks the encoder from the extension: the temporary name ends in .png.
    let tmp = dir.join(format!(".{name}.tmp.{}.png", std::process::id()));
    let drawn = {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        let theme = Theme::new(s);
        root.fill(&WHITE)
            .map_err(DrawError::from)
            .and_then(|_| fig.draw(&root, &theme))
            .and_then(|_| root.present().map_err(DrawError::from))
    };
    let moved = drawn.map_err(|e| draw_err(&png_path, e)).and_then(|_| {
        std::fs::rename(&tmp, &png_path).map_err(|source| Error::Io {
            path: png_path.display().to_string(),
            source,
        })
    });
    if moved.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    moved?;
    Ok(Rendered {
        svg: svg_path,
        png: png_path,
        png_size: size,
    })
}

// ---------------------------------------------------------------------------------------------
// Layout: header, axes, ticks
// ---------------------------------------------------------------------------------------------

/// Draw a bold title and caption lines at the top of `area`; returns the area below them.
pub fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    title: &str,
    caption: &[&str],
) -> std::result::Result<DrawingArea<DB, Shift>, DrawError> {
    let (w, _) = area.dim_in_pixel();
    let top = theme.px(12.0);
    let title_h = theme.px(34.0);
    let line_h = theme.px(26.0);
    let height = top + title_h + line_h * caption.len() as i32 + theme.px(6.0);
    let (head, rest) = area.split_vertically(height);
    let cx = (w / 2) as i32;
    let anchor = Pos::new(HPos::Center, VPos::Top);
    draw_text(&head, title, &theme.title().pos(anchor), (cx, top))?;
    for (i, line) in caption.iter().enumerate() {
        let y = top + title_h + line_h * i as i32;
        draw_text(&head, line, &theme.subtitle().pos(anchor), (cx, y))?;
    }
    Ok(rest)
}

/// Write a bold panel title centred at the top of `area`; returns the area below it.
pub fn panel_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    title: &str,
) -> std::result::Result<DrawingArea<DB, Shift>, DrawError> {
    let (w, _) = area.dim_in_pixel();
    let h = theme.px(30.0);
    let (head, rest) = area.split_vertically(h);
    let style = TextStyle::from(FontDesc::new(
        FontFamily::Name(FONT_FAMILY),
        21.0 * theme.scale,
        FontStyle::Bold,
    ))
    .color(&BLACK)
    .pos(Pos::new(HPos::Center, VPos::Center));
    draw_text(
        &head,
        title,
        &style,
        ((w / 2) as i32, h / 2 + theme.px(2.0)),
    )?;
    Ok(rest)
}

/// Write a plain caption line centred in `area` (e.g. a note under a panel grid).
pub fn draw_note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    lines: &[&str],
) -> DrawResult {
    let (w, _) = area.dim_in_pixel();
    let style = theme.subtitle().pos(Pos::new(HPos::Center, VPos::Top));
    for (i, line) in lines.iter().enumerate() {
        draw_text(
            area,
            line,
            &style,
            ((w / 2) as i32, theme.px(4.0 + 26.0 * i as f64)),
        )?;
    }
    Ok(())
}

/// The spacing accent drawn in place of a combining mark.
fn spacing_accent(mark: char) -> char {
    match mark {
        '\u{0300}' => '`',
        '\u{0301}' => '\u{00B4}',
        '\u{0302}' => '\u{02C6}',
        '\u{0303}' => '\u{02DC}',
        '\u{0304}' => '\u{00AF}',
        '\u{0307}' => '\u{02D9}',
        '\u{0308}' => '\u{00A8}',
        other => other,
    }
}

fn is_combining(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Draw one horizontal line of text on a pixel area, like `DrawingArea::draw_text`, but with
/// combining accents (U+0300–U+036F, as in β̂) drawn as spacing accents centred over their base
/// character: plotters' ab_glyph backend places glyphs by their bounding boxes and cannot
/// position combining marks.
pub fn draw_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle<'_>,
    at: (i32, i32),
) -> DrawResult {
    if !text.chars().any(is_combining) {
        area.draw_text(text, style, at)?;
        return Ok(());
    }
    let plain: String = text.chars().filter(|c| !is_combining(*c)).collect();
    let width = |s: &str| -> std::result::Result<i32, DrawError> {
        Ok(area.estimate_text_size(s, style)?.0 as i32)
    };
    let total = width(&plain)?;
    let left = match style.pos.h_pos {
        HPos::Left => at.0,
        HPos::Center => at.0 - total / 2,
        HPos::Right => at.0 - total,
    };
    let v = style.pos.v_pos;
    area.draw_text(&plain, &style.pos(Pos::new(HPos::Left, v)), (left, at.1))?;
    let raise = (style.font.get_size() * 0.16).round() as i32;
    let mut prefix = String::new();
    let mut base: Option<char> = None;
    for c in text.chars() {
        if is_combining(c) {
            if let Some(b) = base {
                let cx = left + width(&prefix)? - width(&b.to_string())? / 2;
                let accent = spacing_accent(c).to_string();
                area.draw_text(
                    &accent,
                    &style.pos(Pos::new(HPos::Center, v)),
                    (cx, at.1 - raise),
                )?;
            }
        } else {
            prefix.push(c);
            base = Some(c);
        }
    }
    Ok(())
}

/// A logarithmic axis with explicit tick positions (major ticks labelled, minor ticks as light
/// grid lines).
pub type LogAxis = WithKeyPoints<LogCoord<f64>>;

/// A linear axis (ticks chosen by plotters at round values).
pub type LinAxis = RangedCoordf64;

/// A log axis over \[lo, hi\] with labelled `major` ticks and light `minor` grid lines.
pub fn log_axis(lo: f64, hi: f64, major: Vec<f64>, minor: Vec<f64>) -> LogAxis {
    (lo..hi)
        .log_scale()
        .with_key_points(major)
        .with_light_points(minor)
}

/// A log axis over \[lo, hi\] with the ticks of [`log_ticks`].
pub fn log_axis_ticked(lo: f64, hi: f64) -> LogAxis {
    let (major, minor) = log_ticks(lo, hi);
    log_axis(lo, hi, major, minor)
}

/// A linear axis over \[lo, hi\].
pub fn lin_axis(lo: f64, hi: f64) -> LinAxis {
    (lo..hi).into()
}

/// Powers of two 2^lo … 2^hi.
pub fn powers_of_two(lo: i32, hi: i32) -> Vec<f64> {
    (lo..=hi).map(|e| 2f64.powi(e)).collect()
}

/// Ticks for a log axis over \[lo, hi\]: (major, minor). Up to two decades: 1, 2, 5 × 10^k
/// labelled; wider: 10^k labelled and 2…9 × 10^k as minor grid lines.
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut major, mut minor) = (Vec::new(), Vec::new());
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return (major, minor);
    }
    let dense = (hi / lo).log10() <= 2.2;
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    for e in first..=last {
        let p = 10f64.powi(e);
        for m in 1..10 {
            let v = m as f64 * p;
            if v < lo * (1.0 - 1e-9) || v > hi * (1.0 + 1e-9) {
                continue;
            }
            if m == 1 || (dense && (m == 2 || m == 5)) {
                major.push(v);
            } else {
                minor.push(v);
            }
        }
    }
    (major, minor)
}

/// Padded log range around positive finite values: \[min/pad, max·pad\]; (0.1, 10) when there
/// are none.
pub fn log_range(values: impl IntoIterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo.is_finite() && hi.is_finite() {
        (lo / pad, hi * pad)
    } else {
        (0.1, 10.0)
    }
}

/// Compact tick label for 1-2-5 ticks: `0.05`, `0.2`, `1`, `20`, `1000`.
pub fn fmt_tick(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    // Rounding residue of a tick at zero (e.g. −2e−16).
    if v.abs() < 1e-12 {
        return "0".into();
    }
    if v.abs() >= 1.0 || v == 0.0 {
        let r = v.round();
        if (v - r).abs() < 1e-9 * v.abs().max(1.0) {
            return format!("{r}");
        }
        return format!("{v:.1}");
    }
    let digits = (-v.abs().log10()).ceil().max(1.0) as usize;
    let s = format!("{v:.digits$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Superscript digits: 13 → "¹³", −2 → "⁻²".
pub fn superscript(n: i64) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            other => other,
        })
        .collect()
}

/// `2ᵏ` for an exact power of two (`2³`, `2¹³`), else [`fmt_tick`].
pub fn fmt_pow2(v: f64) -> String {
    let e = v.log2().round();
    if v > 0.0 && (2f64.powf(e) - v).abs() <= 1e-9 * v {
        format!("2{}", superscript(e as i64))
    } else {
        fmt_tick(v)
    }
}

/// Axis descriptions and tick formatters for [`draw_axes`].
pub struct Axes<'a> {
    /// x-axis description.
    pub x_desc: &'a str,
    /// y-axis description.
    pub y_desc: &'a str,
    /// x tick label.
    pub x_fmt: &'a dyn Fn(&f64) -> String,
    /// y tick label.
    pub y_fmt: &'a dyn Fn(&f64) -> String,
    /// Most tick labels on a linear y axis (log axes label their explicit ticks).
    pub y_labels: usize,
}

fn tick_label(v: &f64) -> String {
    fmt_tick(*v)
}

fn pow2_label(v: &f64) -> String {
    fmt_pow2(*v)
}

impl<'a> Axes<'a> {
    /// Both axes labelled by [`fmt_tick`], up to 6 labels on a linear y axis.
    pub fn new(x_desc: &'a str, y_desc: &'a str) -> Self {
        Self {
            x_desc,
            y_desc,
            x_fmt: &tick_label,
            y_fmt: &tick_label,
            y_labels: 6,
        }
    }

    /// x: batch size b, labelled as powers of two ([`fmt_pow2`]); y as in [`Axes::new`].
    pub fn batch(y_desc: &'a str) -> Self {
        Self {
            x_fmt: &pow2_label,
            ..Self::new("batch size b", y_desc)
        }
    }
}

/// Logical sizes of the label areas [`chart_builder`] reserves: (x axis, y axis).
pub const LABEL_AREAS: (f64, f64) = (68.0, 92.0);

/// A chart builder on `area` with the house margins and label areas.
pub fn chart_builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    theme: &Theme,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin_left(theme.px(8.0))
        .margin_right(theme.px(24.0))
        .margin_top(theme.px(10.0))
        .margin_bottom(theme.px(6.0))
        .x_label_area_size(theme.px(LABEL_AREAS.0))
        .y_label_area_size(theme.px(LABEL_AREAS.1));
    b
}

/// Draw grid, axes, ticks and axis descriptions in the house style.
pub fn draw_axes<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    theme: &Theme,
    axes: &Axes<'_>,
) -> DrawResult
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_label_formatter(axes.x_fmt)
        .y_label_formatter(axes.y_fmt)
        .y_labels(axes.y_labels)
        .max_light_lines(4)
        .axis_desc_style(theme.axis_label())
        .label_style(theme.tick_label())
        .bold_line_style(GRID.stroke_width(theme.upx(1.0)))
        .light_line_style(RGBColor(240, 240, 240).stroke_width(theme.upx(1.0)))
        .axis_style(BLACK.stroke_width(theme.upx(1.2)))
        .set_all_tick_mark_size(theme.px(6.0))
        .draw()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Series: lines, markers, error bars, bands
// ---------------------------------------------------------------------------------------------

/// Keep the points a log–log chart can show (finite, both coordinates > 0).
pub fn positive(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    points
        .into_iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
        .collect()
}

/// Keep the points a chart with a linear x and a log y axis can show (finite, y > 0).
pub fn positive_y(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    points
        .into_iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && *y > 0.0)
        .collect()
}

/// Draw a polyline in a colour and dash pattern.
pub fn draw_line<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    theme: &Theme,
    points: &[(f64, f64)],
    color: RGBColor,
    dash: Dash,
    width: u32,
) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let style = color.stroke_width(width);
    match dash.pattern() {
        None => {
            chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
        }
        Some((on, off)) => {
            chart.draw_series(DashedLineSeries::new(
                points.iter().copied(),
                theme.px(on).max(1),
                theme.px(off).max(1),
                style,
            ))?;
        }
    }
    Ok(())
}

/// Draw markers at data points: filled (colour with a white rim) or hollow (white inside,
/// coloured rim).
pub fn draw_markers<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    theme: &Theme,
    points: &[(f64, f64)],
    color: RGBColor,
    marker: Marker,
    filled: bool,
) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let shape = marker.outline(theme.marker_radius());
    let mut ring = shape.clone();
    ring.push(shape[0]);
    let (fill, rim) = if filled {
        (color.filled(), WHITE.stroke_width(theme.upx(1.0)))
    } else {
        (WHITE.filled(), color.stroke_width(theme.upx(2.2)))
    };
    chart.draw_series(points.iter().map(|&p| {
        EmptyElement::at(p)
            + Polygon::new(shape.clone(), fill)
            + PathElement::new(ring.clone(), rim)
    }))?;
    Ok(())
}

/// Draw vertical error bars (x, low, high) with caps.
pub fn draw_error_bars<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    theme: &Theme,
    bars: &[(f64, f64, f64)],
    color: RGBColor,
) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let style = color.stroke_width(theme.upx(2.0));
    let cap = theme.px(7.0);
    let ok: Vec<_> = bars
        .iter()
        .copied()
        .filter(|(x, lo, hi)| x.is_finite() && lo.is_finite() && hi.is_finite())
        .collect();
    chart.draw_series(
        ok.iter()
            .map(|&(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], style)),
    )?;
    chart.draw_series(ok.iter().flat_map(|&(x, lo, hi)| {
        [lo, hi].into_iter().map(move |y| {
            EmptyElement::at((x, y)) + PathElement::new(vec![(-cap, 0), (cap, 0)], style)
        })
    }))?;
    Ok(())
}

/// Draw a translucent band between low and high over x (a confidence band).
pub fn draw_band<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    band: &[(f64, f64, f64)],
    color: RGBColor,
    opacity: f64,
) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let mut poly: Vec<(f64, f64)> = band.iter().map(|&(x, lo, _)| (x, lo)).collect();
    poly.extend(band.iter().rev().map(|&(x, _, hi)| (x, hi)));
    if poly.len() >= 3 {
        chart.draw_series(std::iter::once(Polygon::new(
            poly,
            color.mix(opacity).filled(),
        )))?;
    }
    Ok(())
}

/// A grid of values for [`draw_heatmap`]: cell centres `xs` (nx) and `ys` (ny), equally spaced,
/// and `values` row-major (ny × nx, row j at y = ys\[j\]).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Cell centres along x.
    pub xs: Vec<f64>,
    /// Cell centres along y.
    pub ys: Vec<f64>,
    /// Values, row-major ny × nx.
    pub values: Vec<f64>,
}

/// Draw a heat map of `grid` quantized into `levels` colour bands of [`viridis`] over
/// \[lo, hi\] (a filled contour plot). Runs of equal band along a row are one rectangle, which
/// keeps the SVG small.
pub fn draw_heatmap<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    grid: &Grid,
    (lo, hi): (f64, f64),
    levels: usize,
) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let (nx, ny) = (grid.xs.len(), grid.ys.len());
    if nx < 2 || ny < 2 || grid.values.len() != nx * ny {
        return Err(DrawError(format!(
            "heat map: {} values for a {nx} × {ny} grid",
            grid.values.len()
        )));
    }
    let levels = levels.max(2);
    let dx = (grid.xs[nx - 1] - grid.xs[0]) / (nx - 1) as f64;
    let dy = (grid.ys[ny - 1] - grid.ys[0]) / (ny - 1) as f64;
    let band = |v: f64| -> usize {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        ((t * levels as f64).floor().max(0.0) as usize).min(levels - 1)
    };
    let mut rects = Vec::new();
    for j in 0..ny {
        let row = &grid.values[j * nx..(j + 1) * nx];
        let mut i = 0;
        while i < nx {
            let l = band(row[i]);
            let mut k = i;
            while k + 1 < nx && band(row[k + 1]) == l {
                k += 1;
            }
            let c = viridis((l as f64 + 0.5) / levels as f64);
            rects.push(Rectangle::new(
                [
                    (grid.xs[i] - dx / 2.0, grid.ys[j] - dy / 2.0),
                    (grid.xs[k] + dx / 2.0, grid.ys[j] + dy / 2.0),
                ],
                c.filled(),
            ));
            i = k + 1;
        }
    }
    chart.draw_series(rects)?;
    Ok(())
}

/// Draw a vertical colour bar for [`draw_heatmap`] with `levels` bands over \[lo, hi\] into
/// `area`, labelled `desc`.
pub fn draw_colorbar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    (lo, hi): (f64, f64),
    levels: usize,
    desc: &str,
) -> DrawResult {
    let levels = levels.max(2);
    let mut chart = ChartBuilder::on(area)
        .margin_top(theme.px(16.0))
        .margin_bottom(theme.px(16.0))
        .margin_right(theme.px(4.0))
        .y_label_area_size(theme.px(70.0))
        .build_cartesian_2d(0.0..1.0, lo..hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .disable_x_axis()
        .y_desc(desc)
        .y_labels(6)
        .y_label_formatter(&|v| fmt_tick(*v).replace('-', "−"))
        .axis_desc_style(theme.axis_label())
        .label_style(theme.tick_label())
        .axis_style(BLACK.stroke_width(theme.upx(1.2)))
        .set_all_tick_mark_size(theme.px(5.0))
        .draw()?;
    let step = (hi - lo) / levels as f64;
    chart.draw_series((0..levels).map(|l| {
        let y0 = lo + step * l as f64;
        Rectangle::new(
            [(0.0, y0), (1.0, y0 + step)],
            viridis((l as f64 + 0.5) / levels as f64).filled(),
        )
    }))?;
    Ok(())
}

/// Draw a horizontal reference line at `y` across the chart's x range.
pub fn draw_hline<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    theme: &Theme,
    y: f64,
    color: RGBColor,
    dash: Dash,
) -> DrawResult
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let r = chart.x_range();
    draw_line(
        chart,
        theme,
        &[(r.start, y), (r.end, y)],
        color,
        dash,
        theme.upx(1.5),
    )
}

/// Write text at a data point, anchored by `pos`, in the annotation style and a colour.
pub fn draw_label<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    theme: &Theme,
    at: (f64, f64),
    text: &str,
    color: RGBColor,
    pos: Pos,
) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let style = theme.annotation().color(&color).pos(pos);
    chart.draw_series(std::iter::once(Text::new(text.to_string(), at, style)))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Legend
// ---------------------------------------------------------------------------------------------

/// One legend entry: a swatch (any of line, marker, error bar) and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// Text.
    pub label: String,
    /// Swatch colour.
    pub color: RGBColor,
    /// Line with this dash pattern, if any.
    pub line: Option<Dash>,
    /// Marker (shape, filled), if any.
    pub marker: Option<(Marker, bool)>,
    /// Whether to draw an error bar through the marker.
    pub error_bar: bool,
}

impl LegendEntry {
    /// A line swatch.
    pub fn line(label: impl Into<String>, color: RGBColor, dash: Dash) -> Self {
        Self {
            label: label.into(),
            color,
            line: Some(dash),
            marker: None,
            error_bar: false,
        }
    }

    /// A marker swatch.
    pub fn marker(label: impl Into<String>, color: RGBColor, marker: Marker, filled: bool) -> Self {
        Self {
            label: label.into(),
            color,
            line: None,
            marker: Some((marker, filled)),
            error_bar: false,
        }
    }

    /// A line-with-marker swatch.
    pub fn line_marker(
        label: impl Into<String>,
        color: RGBColor,
        dash: Dash,
        marker: Marker,
        filled: bool,
    ) -> Self {
        Self {
            label: label.into(),
            color,
            line: Some(dash),
            marker: Some((marker, filled)),
            error_bar: false,
        }
    }

    /// Add an error bar through the swatch.
    pub fn with_error_bar(mut self) -> Self {
        self.error_bar = true;
        self
    }
}

/// Logical height of one legend row.
const LEGEND_ROW: f64 = 30.0;
/// Logical width of a legend swatch.
const LEGEND_SWATCH: f64 = 46.0;

/// Logical height of each further line of a multi-line legend label.
const LEGEND_LINE: f64 = 24.0;

/// Logical height of each grid row of a legend: one [`LEGEND_ROW`] plus a [`LEGEND_LINE`] per
/// extra line of its tallest label.
fn legend_rows(entries: &[LegendEntry], columns: usize) -> Vec<f64> {
    entries
        .chunks(columns.max(1))
        .map(|row| {
            let lines = row
                .iter()
                .map(|e| e.label.lines().count().max(1))
                .max()
                .unwrap_or(1);
            LEGEND_ROW + (lines - 1) as f64 * LEGEND_LINE
        })
        .collect()
}

/// Logical height a legend of these entries in `columns` columns needs (with padding). Labels
/// may span several lines (`\n`).
pub fn legend_height(entries: &[LegendEntry], columns: usize) -> f64 {
    legend_rows(entries, columns).iter().sum::<f64>() + 12.0
}

/// The most columns, up to `max_columns`, in which a legend of these entries fits the width of
/// `area` (at least 1).
pub fn legend_columns<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    entries: &[LegendEntry],
    max_columns: usize,
    left: f64,
) -> std::result::Result<usize, DrawError> {
    let style = theme.legend();
    let mut widest = 0i32;
    for line in entries.iter().flat_map(|e| e.label.lines()) {
        let plain: String = line.chars().filter(|c| !is_combining(*c)).collect();
        widest = widest.max(area.estimate_text_size(&plain, &style)?.0 as i32);
    }
    let entry = theme.px(LEGEND_SWATCH + 10.0 + 22.0) + widest;
    let free = area.dim_in_pixel().0 as i32 - theme.px(left);
    Ok(((free / entry.max(1)) as usize).clamp(1, max_columns.max(1)))
}

/// Draw `entries` in `columns` columns along the bottom of `area`; returns the area above.
pub fn legend_below<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    entries: &[LegendEntry],
    columns: usize,
    font: f64,
) -> std::result::Result<DrawingArea<DB, Shift>, DrawError> {
    let lh = theme.px(legend_height(entries, columns));
    let (_, h) = area.dim_in_pixel();
    let (above, legend) = area.split_vertically(h as i32 - lh);
    draw_legend(&legend, theme, entries, columns, font)?;
    Ok(above)
}

/// Draw a legend into `area` (outside the plot, so it never covers data): entries in a grid of
/// `columns` equal columns, filled row by row, left-aligned from `left` logical pixels. A label
/// may span several lines (`\n`); the swatch sits on its first line.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    entries: &[LegendEntry],
    columns: usize,
    left: f64,
) -> DrawResult {
    let columns = columns.max(1);
    let (w, _) = area.dim_in_pixel();
    let x0 = theme.px(left);
    let col_w = (w as i32 - x0) / columns as i32;
    let row_h = theme.px(LEGEND_ROW);
    let line_h = theme.px(LEGEND_LINE);
    let sw = theme.px(LEGEND_SWATCH);
    let text = theme.legend().pos(Pos::new(HPos::Left, VPos::Center));
    let mut row_top = Vec::new();
    let mut top = 6.0;
    for h in legend_rows(entries, columns) {
        row_top.push(theme.px(top));
        top += h;
    }
    for (i, e) in entries.iter().enumerate() {
        let (c, r) = ((i % columns) as i32, i / columns);
        let x = x0 + c * col_w;
        let y = row_top[r] + row_h / 2;
        let width = theme.line_width();
        if let Some(dash) = e.line {
            let style = e.color.stroke_width(width);
            let pts = vec![(x, y), (x + sw, y)];
            match dash.pattern() {
                None => area.draw(&PathElement::new(pts, style))?,
                Some((on, off)) => area.draw(&DashedPathElement::new(
                    pts,
                    theme.px(on).max(1),
                    theme.px(off).max(1),
                    style,
                ))?,
            }
        }
        let mid = (x + sw / 2, y);
        if e.error_bar {
            let style = e.color.stroke_width(theme.upx(2.0));
            let (h, cap) = (theme.px(11.0), theme.px(7.0));
            area.draw(&PathElement::new(
                vec![(mid.0, y - h), (mid.0, y + h)],
                style,
            ))?;
            for yy in [y - h, y + h] {
                area.draw(&PathElement::new(
                    vec![(mid.0 - cap, yy), (mid.0 + cap, yy)],
                    style,
                ))?;
            }
        }
        if let Some((marker, filled)) = e.marker {
            let shape: Vec<(i32, i32)> = marker
                .outline(theme.marker_radius())
                .into_iter()
                .map(|(dx, dy)| (mid.0 + dx, mid.1 + dy))
                .collect();
            let mut ring = shape.clone();
            ring.push(shape[0]);
            let (fill, rim) = if filled {
                (e.color.filled(), WHITE.stroke_width(theme.upx(1.0)))
            } else {
                (WHITE.filled(), e.color.stroke_width(theme.upx(2.2)))
            };
            area.draw(&Polygon::new(shape, fill))?;
            area.draw(&PathElement::new(ring, rim))?;
        }
        for (k, line) in e.label.lines().enumerate() {
            draw_text(
                area,
                line,
                &text,
                (x + sw + theme.px(10.0), y + k as i32 * line_h),
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Data in: the CSV a figure is drawn from
// ---------------------------------------------------------------------------------------------

/// A CSV file read whole: the header and the rows as text, with typed, named access whose
/// errors name the file, the row and the column.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTable {
    /// Where it came from (for error messages).
    pub path: String,
    /// Column names.
    pub headers: Vec<String>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
}

impl DataTable {
    /// Read a CSV file with a header row.
    pub fn read(path: &Path) -> Result<Self> {
        let p = path.display().to_string();
        let file_err = |message: String| Error::File {
            path: p.clone(),
            message,
        };
        let mut r =
            csv::Reader::from_path(path).map_err(|e| file_err(format!("cannot read CSV: {e}")))?;
        let headers: Vec<String> = r
            .headers()
            .map_err(|e| file_err(format!("cannot read CSV header: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| file_err(format!("bad CSV row: {e}")))?;
            rows.push(rec.iter().map(str::to_string).collect());
        }
        Ok(Self {
            path: p,
            headers,
            rows,
        })
    }

    fn col(&self, name: &str) -> Result<usize> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::File {
                path: self.path.clone(),
                message: format!("no column `{name}`"),
            })
    }

    /// The text in row `row`, column `name`.
    pub fn str(&self, row: usize, name: &str) -> Result<&str> {
        let c = self.col(name)?;
        self.rows
            .get(row)
            .and_then(|r| r.get(c))
            .map(String::as_str)
            .ok_or_else(|| Error::File {
                path: self.path.clone(),
                message: format!("row {row} has no column `{name}`"),
            })
    }

    /// The estimate in row `row` with its interval: columns `name`, `name_ci_low`,
    /// `name_ci_high`.
    pub fn ci(&self, row: usize, name: &str) -> Result<(f64, f64, f64)> {
        Ok((
            self.f64(row, name)?,
            self.f64(row, &format!("{name}_ci_low"))?,
            self.f64(row, &format!("{name}_ci_high"))?,
        ))
    }

    /// The number in the first row, column `name`; NaN when the table has no rows.
    pub fn first_f64(&self, name: &str) -> Result<f64> {
        if self.rows.is_empty() {
            Ok(f64::NAN)
        } else {
            self.f64(0, name)
        }
    }

    /// The number in row `row`, column `name` (empty or `NaN` cells are NaN).
    pub fn f64(&self, row: usize, name: &str) -> Result<f64> {
        let s = self.str(row, name)?;
        if s.is_empty() {
            return Ok(f64::NAN);
        }
        s.parse().map_err(|_| Error::File {
            path: self.path.clone(),
            message: format!("row {row}, column `{name}`: `{s}` is not a number"),
        })
    }

    /// Indices of the rows whose column `name` equals `value`.
    pub fn rows_where(&self, name: &str, value: &str) -> Result<Vec<usize>> {
        let c = self.col(name)?;
        Ok((0..self.rows.len())
            .filter(|&i| self.rows[i].get(c).map(String::as_str) == Some(value))
            .collect())
    }

    /// Distinct values of column `name`, in first-appearance order.
    pub fn distinct(&self, name: &str) -> Result<Vec<String>> {
        let c = self.col(name)?;
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            if let Some(v) = r.get(c) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        }
        Ok(out)
    }

    /// (x, y) pairs of two numeric columns over the given rows.
    pub fn xy(&self, rows: &[usize], x: &str, y: &str) -> Result<Vec<(f64, f64)>> {
        rows.iter()
            .map(|&i| Ok((self.f64(i, x)?, self.f64(i, y)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_formatting() {
        assert_eq!(fmt_tick(0.05), "0.05");
        assert_eq!(fmt_tick(0.2), "0.2");
        assert_eq!(fmt_tick(1.0), "1");
        assert_eq!(fmt_tick(20.0), "20");
        assert_eq!(fmt_tick(0.001), "0.001");
        assert_eq!(fmt_pow2(8.0), "2³");
        assert_eq!(fmt_pow2(8192.0), "2¹³");
        assert_eq!(fmt_pow2(3.0), "3");
        assert_eq!(superscript(-12), "⁻¹²");
    }

    #[test]
    fn log_ticks_dense_and_sparse() {
        let (major, minor) = log_ticks(0.03, 3.0);
        assert_eq!(major, vec![0.05, 0.1, 0.2, 0.5, 1.0, 2.0]);
        assert!(minor.contains(&0.03) && minor.contains(&3.0));
        let (major, minor) = log_ticks(0.01, 30.0);
        assert_eq!(major, vec![0.01, 0.1, 1.0, 10.0]);
        assert!(minor.contains(&0.02) && minor.contains(&20.0));
        assert_eq!(log_ticks(-1.0, 1.0), (vec![], vec![]));
    }

    #[test]
    fn palette_is_one_colour_per_optimizer() {
        let styles: Vec<SeriesStyle> = OptimizerKind::ALL
            .iter()
            .map(|&k| optimizer_style(k))
            .collect();
        for (i, a) in styles.iter().enumerate() {
            for b in &styles[i + 1..] {
                assert_ne!(a.color, b.color);
                assert_ne!(a.marker, b.marker);
            }
        }
    }

    #[test]
    fn zero_tick_and_sequential_colours() {
        assert_eq!(fmt_tick(-2.2e-16), "0");
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        let opt: Vec<RGBColor> = OptimizerKind::ALL
            .iter()
            .map(|&k| optimizer_style(k).color)
            .collect();
        let seq: Vec<RGBColor> = (0..5).map(|i| sequential(i, 5)).collect();
        for (i, c) in seq.iter().enumerate() {
            assert!(
                !opt.contains(c),
                "sequential colour {i} is an optimizer colour"
            );
            assert!(seq[i + 1..].iter().all(|d| d != c));
        }
        assert_eq!(positive_y([(0.0, 1.0), (-0.5, 2.0), (1.0, 0.0)]).len(), 2);
    }

    #[test]
    fn png_is_wide_enough() {
        for w in [400, 640, 700, 800, 801, 1000, 2000] {
            assert!(png_size((w, 100)).0 >= PNG_MIN_WIDTH);
            assert!(png_size((w, 100)).0 >= 2 * w);
        }
    }
}
