//! Server-side time-series line charts rendered as inline SVG strings.
//!
//! This module owns everything between "caller has some `(unix seconds, value)` series" and
//! "here is an `<svg>` element to paste into an HTML page":
//!
//! * cleaning the data (non-finite values skipped, points sorted by time, absurd magnitudes
//!   clamped so the axis arithmetic stays finite);
//! * choosing padded axis ranges (one point, all-equal values) and "nice" tick positions:
//!   calendar-aware UTC time ticks on x (seconds .. years), 1/2/5 x 10^k ticks on y;
//! * formatting tick labels (UTC, e.g. `11-25 14:00`) and laying out title, legend and axes;
//! * making caller text safe (control characters removed; XML escaping is done by the
//!   plotters SVG backend for everything it draws, and by [`escape_xml`] for the fallbacks);
//! * the fallback SVGs: "no data yet" for empty input and "cannot draw" when plotters fails
//!   or panics. [`line_chart_svg`] never panics and never returns a non-SVG string.
//!
//! Drawing is done with `plotters` (SVG backend only, no font feature). Without `ttf` /
//! `ab_glyph`, plotters lays text out with a fixed size estimate and emits `<text>` elements,
//! so the output is byte-for-byte the same on any machine, with or without fonts installed;
//! the browser renders the text with its own `sans-serif`. All text layout decisions here use
//! the same kind of fixed estimate ([`text_width`]).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One series of a chart: (unix seconds, value) points, in time order.
pub struct Series<'a> {
    pub label: &'a str,
    pub points: &'a [(i64, f64)],
}

/// Renders a line chart (with point markers) of one or more series over time, as a standalone
/// `<svg ...>` element sized width x height px, with a title, a y-axis label, a time x-axis whose tick
/// labels are dates/times in UTC (e.g. "11-25 14:00"), and a legend when more than one series.
///
/// Width and height are clamped to `MIN_WIDTH..=MAX_SIDE` / `MIN_HEIGHT..=MAX_SIDE`.
/// Empty input gives a "no data yet" SVG; a drawing failure gives a "cannot draw" SVG.
pub fn line_chart_svg(
    title: &str,
    y_label: &str,
    series: &[Series<'_>],
    width: u32,
    height: u32,
) -> String {
    let w = width.clamp(MIN_WIDTH, MAX_SIDE);
    let h = height.clamp(MIN_HEIGHT, MAX_SIDE);
    let title = clean_text(title);
    let y_label = clean_text(y_label);

    let cleaned: Vec<CleanSeries> = series
        .iter()
        .map(|s| CleanSeries {
            label: clean_text(s.label),
            points: clean_points(s.points),
        })
        .collect();
    if cleaned.iter().all(|s| s.points.is_empty()) {
        return message_svg(&title, "no data yet", w, h);
    }

    // plotters has internal unwraps/asserts; a bug there must not take the server down.
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        draw_chart(&title, &y_label, &cleaned, w, h)
    }));
    svg_or_fallback(drawn, &title, w, h)
}

/// The drawn SVG, or the "cannot draw" SVG if drawing failed or panicked.
fn svg_or_fallback(
    drawn: std::thread::Result<Result<String, String>>,
    title: &str,
    w: u32,
    h: u32,
) -> String {
    match drawn {
        Ok(Ok(svg)) if svg.starts_with("<svg") => svg,
        _ => message_svg(title, "cannot draw this chart", w, h),
    }
}

/// Smallest chart drawn; smaller requests are enlarged (below this the axes and legend crowd
/// out the plot).
pub const MIN_WIDTH: u32 = 300;
pub const MIN_HEIGHT: u32 = 200;
/// Largest chart side drawn; larger requests are reduced.
pub const MAX_SIDE: u32 = 8192;

/// Values are clamped to +-this so that spans and paddings never overflow to infinity.
const MAX_ABS_VALUE: f64 = 1e300;
/// Point markers are drawn only for series with at most this many points.
const MAX_MARKED_POINTS: usize = 200;

const FONT: &str = "sans-serif";
// plotters writes `font-size = size / 1.24`; these give 17px / 12px / 12px text.
const TITLE_SIZE: f64 = 21.0;
const LABEL_SIZE: f64 = 15.0;
const LEGEND_SIZE: f64 = 15.0;
const TITLE_PX: f64 = TITLE_SIZE / 1.24;
const LABEL_PX: f64 = LABEL_SIZE / 1.24;
const LEGEND_PX: f64 = LEGEND_SIZE / 1.24;

const MARGIN: u32 = 12;
const TITLE_BAND: u32 = 34;
const LEGEND_ROW: u32 = 20;
const X_AREA: u32 = 46; // tick labels + "time (UTC)"

const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0xFF, 0x9D, 0xA7),
    RGBColor(0x79, 0x70, 0x6E),
];
const GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
const AXIS: RGBColor = RGBColor(0x55, 0x55, 0x55);
const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);

struct CleanSeries {
    label: String,
    points: Vec<(i64, f64)>,
}

fn clean_points(points: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = points
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|&(t, v)| (t, v.clamp(-MAX_ABS_VALUE, MAX_ABS_VALUE)))
        .collect();
    out.sort_by_key(|&(t, _)| t); // stable: keeps caller order for equal timestamps
    out
}

/// Makes caller text single-line and legal in XML 1.0 (which forbids most control characters,
/// even escaped). Escaping of `<>&"'` happens when the text is written out.
fn clean_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// XML-escapes text for element content and attribute values.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Estimated rendered width in px of `s` at `font_px`.
/// Deliberately font-independent so layout never depends on the machine.
fn text_width(s: &str, font_px: f64) -> f64 {
    s.chars().count() as f64 * font_px * GLYPH_EM
}

/// Average advance of a glyph in em used for layout. Generous (DejaVu Sans digits are 0.64em,
/// Arial's 0.56em) so that labels do not collide or get clipped with common fonts.
const GLYPH_EM: f64 = 0.65;

/// Cuts `s` so that it fits in `max_px`, ending with an ellipsis when cut.
fn fit_text(s: &str, font_px: f64, max_px: f64) -> String {
    if text_width(s, font_px) <= max_px {
        return s.to_string();
    }
    let keep = ((max_px / (font_px * GLYPH_EM)).floor() as usize).saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

/// A small standalone SVG showing `title` and a one-line `message`.
fn message_svg(title: &str, message: &str, w: u32, h: u32) -> String {
    let cx = w / 2;
    let title = fit_text(title, 17.0, f64::from(w) - 20.0);
    format!(
        concat!(
            r##"<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">"##,
            r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#FFFFFF" stroke="#DDDDDD"/>"##,
            r##"<text x="{cx}" y="30" text-anchor="middle" font-family="sans-serif" font-size="17" fill="#222222">{title}</text>"##,
            r##"<text x="{cx}" y="{my}" text-anchor="middle" font-family="sans-serif" font-size="14" fill="#777777">{message}</text>"##,
            "</svg>"
        ),
        w = w,
        h = h,
        cx = cx,
        my = h / 2 + 5,
        title = escape_xml(&title),
        message = escape_xml(message),
    )
}

// ---------------------------------------------------------------------------------------------
// Layout and drawing

/// Where the parts of a chart go: the header's height (title and legend rows), the ticks that
/// fit on each axis and the room their labels need.
struct Layout {
    legend: Vec<LegendItem>,
    header_h: u32,
    y_ticks: Vec<f64>,
    y_fmt: NumberFormat,
    y_area: u32,
    time_ticks: TimeTicks,
    y_label: String,
}

fn layout(
    y_label: &str,
    series: &[CleanSeries],
    (w, h): (u32, u32),
    (t_lo, t_hi): (i64, i64),
    (v_lo, v_hi): (f64, f64),
) -> Layout {
    // Header: title, then legend rows (only when there is more than one series).
    let legend = if series.len() > 1 {
        legend_layout(series, w)
    } else {
        Vec::new()
    };
    let legend_rows = legend.iter().map(|i| i.row).max().map_or(0, |r| r + 1);
    let header_h = TITLE_BAND + legend_rows * LEGEND_ROW + if legend_rows > 0 { 6 } else { 0 };

    // Plot area size, needed up front to decide how many ticks fit.
    let plot_h = h.saturating_sub(header_h + X_AREA + MARGIN).max(20);
    let y_ticks = nice_ticks(v_lo, v_hi, (plot_h / 40).clamp(2, 10) as usize);
    let y_fmt = NumberFormat::for_ticks(&y_ticks, v_lo, v_hi);
    let y_label_w = y_ticks
        .iter()
        .map(|v| text_width(&y_fmt.format(*v), LABEL_PX))
        .fold(0.0, f64::max);
    let y_desc_w = if y_label.is_empty() { 0.0 } else { 24.0 };
    let y_area = (12.0 + y_label_w + 8.0 + y_desc_w).ceil() as u32;
    let plot_w = w.saturating_sub(y_area + 2 * MARGIN).max(20);
    let mut time_ticks = time_ticks(t_lo, t_hi, (plot_w / 100).clamp(2, 12) as usize);
    // Drop ticks whose centred label would stick out of the SVG on the left or right.
    time_ticks.ticks.retain(|&t| {
        let half = text_width(&format_time(t, time_ticks.format), LABEL_PX) / 2.0;
        let x = (t as f64 - t_lo as f64) / (t_hi as f64 - t_lo as f64) * f64::from(plot_w);
        x + half <= f64::from(plot_w + MARGIN) - 2.0 && x - half >= -f64::from(y_area + MARGIN)
    });
    let y_label = fit_text(y_label, LABEL_PX, f64::from(plot_h));

    Layout {
        legend,
        header_h,
        y_ticks,
        y_fmt,
        y_area,
        time_ticks,
        y_label,
    }
}

fn draw_chart(
    title: &str,
    y_label: &str,
    series: &[CleanSeries],
    w: u32,
    h: u32,
) -> Result<String, String> {
    let (t_lo, t_hi) = time_range(series).ok_or("no points")?;
    let (v_lo, v_hi) = value_range(series).ok_or("no points")?;
    let Layout {
        legend,
        header_h,
        y_ticks,
        y_fmt,
        y_area,
        time_ticks,
        y_label,
    } = layout(y_label, series, (w, h), (t_lo, t_hi), (v_lo, v_hi));

    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (header, body) = root.split_vertically(header_h);

        let title = fit_text(title, TITLE_PX, f64::from(w - 2 * MARGIN));
        let title_style = TextStyle::from((FONT, TITLE_SIZE).into_font())
            .color(&TEXT)
            .pos(Pos::new(HPos::Center, VPos::Center));
        let centre = ((w / 2) as i32, (TITLE_BAND / 2 + 2) as i32);
        header
            .draw_text(&title, &title_style, centre)
            .map_err(|e| e.to_string())?;
        draw_legend(&header, series, &legend)?;

        let mut chart = ChartBuilder::on(&body)
            .margin_left(MARGIN)
            .margin_right(MARGIN)
            .margin_bottom(MARGIN)
            .margin_top(4)
            .x_label_area_size(X_AREA)
            .y_label_area_size(y_area)
            .build_cartesian_2d(
                TickedAxis {
                    lo: t_lo,
                    hi: t_hi,
                    ticks: time_ticks.ticks.clone(),
                },
                TickedAxis {
                    lo: v_lo,
                    hi: v_hi,
                    ticks: y_ticks.clone(),
                },
            )
            .map_err(|e| e.to_string())?;

        let x_fmt = |t: &i64| format_time(*t, time_ticks.format);
        let y_fmt_fn = |v: &f64| y_fmt.format(*v);
        let label_style = TextStyle::from((FONT, LABEL_SIZE).into_font()).color(&TEXT);
        let mut mesh = chart.configure_mesh();
        mesh.x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt_fn)
            .label_style(label_style.clone())
            .axis_desc_style(label_style)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .x_desc("time (UTC)");
        if !y_label.is_empty() {
            mesh.y_desc(y_label.as_str());
        }
        mesh.draw().map_err(|e| e.to_string())?;

        draw_lines(&mut chart, series)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// The chart area: time on x, values on y, both with the ticks the layout chose.
type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<TickedAxis<i64>, TickedAxis<f64>>>;

/// One line per series, in the palette's colours, marked at each point when there are few.
fn draw_lines(chart: &mut Plot<'_, '_>, series: &[CleanSeries]) -> Result<(), String> {
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let marker = if s.points.len() <= MAX_MARKED_POINTS {
            3
        } else {
            0
        };
        chart
            .draw_series(
                LineSeries::new(s.points.iter().copied(), color.filled().stroke_width(2))
                    .point_size(marker),
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

struct LegendItem {
    label: String,
    /// Index into the palette, or `None` for the "+N more" item.
    color: Option<usize>,
    x: u32,
    row: u32,
}

const LEGEND_SWATCH: u32 = 26; // line sample + gap before the text
const LEGEND_GAP: u32 = 18;
const LEGEND_MAX_ROWS: u32 = 3;

/// Places legend entries left to right in centred rows under the title; what does not fit in
/// `LEGEND_MAX_ROWS` rows is summarised as "+N more".
fn legend_layout(series: &[CleanSeries], w: u32) -> Vec<LegendItem> {
    let avail = f64::from(w - 2 * MARGIN);
    let widths: Vec<(String, u32)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = if s.label.is_empty() {
                format!("series {}", i + 1)
            } else {
                s.label.clone()
            };
            let name = fit_text(
                &name,
                LEGEND_PX,
                (avail - f64::from(LEGEND_SWATCH)).min(260.0),
            );
            let iw = LEGEND_SWATCH + text_width(&name, LEGEND_PX).ceil() as u32;
            (name, iw)
        })
        .collect();

    let more_w = LEGEND_SWATCH + 80;
    let mut items: Vec<LegendItem> = Vec::new();
    let mut rows: Vec<u32> = vec![0]; // used width per row
    for (i, (name, iw)) in widths.iter().enumerate() {
        let row = rows.len() - 1;
        let used = rows[row];
        let needed = if used == 0 {
            *iw
        } else {
            used + LEGEND_GAP + iw
        };
        let last_row = rows.len() as u32 == LEGEND_MAX_ROWS;
        let reserve = if last_row && i + 1 < widths.len() {
            more_w + LEGEND_GAP
        } else {
            0
        };
        if f64::from(needed + reserve) <= avail {
            items.push(LegendItem {
                label: name.clone(),
                color: Some(i),
                x: needed - iw,
                row: row as u32,
            });
            rows[row] = needed;
        } else if !last_row {
            rows.push(*iw);
            items.push(LegendItem {
                label: name.clone(),
                color: Some(i),
                x: 0,
                row: row as u32 + 1,
            });
        } else {
            let x = if used == 0 { 0 } else { used + LEGEND_GAP };
            items.push(LegendItem {
                label: format!("+{} more", widths.len() - i),
                color: None,
                x,
                row: row as u32,
            });
            rows[row] = x + more_w;
            break;
        }
    }
    // Centre each row.
    for item in &mut items {
        let used = rows[item.row as usize];
        item.x += (w.saturating_sub(used)) / 2;
    }
    items
}

fn draw_legend<DB: DrawingBackend>(
    header: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[CleanSeries],
    items: &[LegendItem],
) -> Result<(), String> {
    let style = TextStyle::from((FONT, LEGEND_SIZE).into_font())
        .color(&TEXT)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for item in items {
        let x = item.x as i32;
        let y = (TITLE_BAND + item.row * LEGEND_ROW + LEGEND_ROW / 2) as i32;
        if let Some(i) = item.color {
            let color = PALETTE[i % PALETTE.len()];
            header
                .draw(&PathElement::new(
                    vec![(x, y), (x + 18, y)],
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            if series
                .get(i)
                .is_some_and(|s| s.points.len() <= MAX_MARKED_POINTS)
            {
                header
                    .draw(&Circle::new((x + 9, y), 3, color.filled()))
                    .map_err(|e| e.to_string())?;
            }
        }
        let text_x = if item.color.is_some() {
            x + LEGEND_SWATCH as i32
        } else {
            x
        };
        header
            .draw_text(&item.label, &style, (text_x, y))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A linear plotters axis over `[lo, hi]` whose grid lines and labels are exactly `ticks`
/// (computed here rather than by plotters, so that tick choice is calendar-aware for time and
/// cannot loop or assert on extreme float ranges). No light grid lines.
#[derive(Clone)]
struct TickedAxis<T> {
    lo: T,
    hi: T,
    ticks: Vec<T>,
}

trait AxisValue: Copy + std::fmt::Debug {
    fn as_f64(self) -> f64;
}
impl AxisValue for i64 {
    fn as_f64(self) -> f64 {
        self as f64
    }
}
impl AxisValue for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}

impl<T: AxisValue> Ranged for TickedAxis<T> {
    type FormatOption = DefaultFormatting;
    type ValueType = T;

    fn map(&self, value: &T, limit: (i32, i32)) -> i32 {
        let (lo, hi) = (self.lo.as_f64(), self.hi.as_f64());
        let (l0, l1) = (f64::from(limit.0), f64::from(limit.1));
        let fraction = (value.as_f64() - lo) / (hi - lo);
        if !fraction.is_finite() {
            return ((l0 + l1) / 2.0) as i32;
        }
        // `as` saturates, so even a far-off value cannot overflow.
        (l0 + (l1 - l0) * fraction).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<T> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<T> {
        self.lo..self.hi
    }
}

// ---------------------------------------------------------------------------------------------
// Axis ranges

/// Time range of all points, padded: a single instant gets +-30 minutes, otherwise 2% each side.
fn time_range(series: &[CleanSeries]) -> Option<(i64, i64)> {
    let mut it = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let first = it.next()?;
    let (lo, hi) = it.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let span = i128::from(hi) - i128::from(lo);
    let pad = if span == 0 { 1800 } else { (span / 50).max(1) };
    let lo = (i128::from(lo) - pad).max(i128::from(i64::MIN));
    let hi = (i128::from(hi) + pad).min(i128::from(i64::MAX));
    // Both are within i64 by the clamps above.
    Some((lo as i64, hi as i64))
}

/// Value range of all points, padded: equal values get +-10% (or +-1 around zero), otherwise
/// 5% of the span each side.
fn value_range(series: &[CleanSeries]) -> Option<(f64, f64)> {
    let mut it = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let first = it.next()?;
    let (lo, hi) = it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let span = hi - lo;
    let magnitude = lo.abs().max(hi.abs());
    if span <= magnitude * 1e-12 || span < 1e-300 {
        let mid = lo / 2.0 + hi / 2.0;
        let pad = if mid.abs() * 0.1 > 1e-300 {
            mid.abs() * 0.1
        } else {
            1.0
        };
        Some((mid - pad, mid + pad))
    } else {
        Some((lo - span * 0.05, hi + span * 0.05))
    }
}

/// About `max` (at least two) ticks at multiples of 1, 2 or 5 x 10^k inside `[lo, hi]`.
fn nice_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let max = max.max(2);
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![];
    }
    let raw = span / max as f64;
    let mut mag = 10f64.powf(raw.log10().floor());
    if !(mag.is_finite() && mag > 0.0) {
        return vec![];
    }
    // Fix rounding in log10/powf so that raw / mag is in [1, 10).
    if raw / mag >= 10.0 {
        mag *= 10.0;
    } else if raw / mag < 1.0 {
        mag /= 10.0;
    }
    // Candidate steps, ascending; start at the smallest that gives at most `max` ticks and go
    // finer if that leaves fewer than two ticks in range.
    let steps = [0.5, 1.0, 2.0, 5.0, 10.0].map(|m| m * mag);
    let start = steps
        .iter()
        .position(|s| *s >= raw)
        .unwrap_or(steps.len() - 1);
    let mut out = Vec::new();
    for &step in steps[..=start].iter().rev() {
        let first = (lo / step).ceil();
        out.clear();
        for i in 0..=(2 * max + 2) {
            let v = (first + i as f64) * step;
            if v > hi + step * 1e-9 {
                break;
            }
            out.push(v + 0.0); // + 0.0 turns -0.0 into 0.0
        }
        if out.len() >= 2 {
            break;
        }
    }
    out
}

/// How y tick labels are written: `12.5` below a million, `250M` / `1.5G` (SI suffixes, powers
/// of 1000) up to 1e18, scientific `1.5e20` beyond that or for very fine steps.
#[derive(Clone, Copy, Debug, PartialEq)]
enum NumberFormat {
    /// Decimals.
    Fixed(usize),
    /// Power of ten of the suffix (6, 9, 12, 15), decimals.
    Si(i32, usize),
    /// Decimals of the mantissa.
    Scientific(usize),
}

impl NumberFormat {
    fn for_ticks(ticks: &[f64], lo: f64, hi: f64) -> Self {
        let step = match ticks {
            [a, b, ..] => (b - a).abs(),
            _ => (hi - lo).abs() / 4.0,
        };
        let exp10 = |x: f64| {
            if x > 0.0 && x.is_finite() {
                x.log10().floor() as i32
            } else {
                0
            }
        };
        let magnitude = lo.abs().max(hi.abs());
        let (step_exp, mag_exp) = (exp10(step), exp10(magnitude));
        if magnitude < 1e6 && step_exp >= -4 {
            return NumberFormat::Fixed((-step_exp).max(0) as usize);
        }
        if (6..18).contains(&mag_exp) {
            let e3 = mag_exp / 3 * 3;
            let decimals = (e3 - step_exp).max(0);
            if decimals <= 3 {
                return NumberFormat::Si(e3, decimals as usize);
            }
        }
        NumberFormat::Scientific((mag_exp - step_exp).clamp(0, 16) as usize)
    }

    fn format(self, v: f64) -> String {
        if v == 0.0 {
            return "0".to_string();
        }
        match self {
            NumberFormat::Fixed(d) => format!("{:.*}", d, v),
            NumberFormat::Si(e3, d) => {
                let suffix = match e3 {
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    _ => "P",
                };
                format!("{:.*}{}", d, v / 10f64.powi(e3), suffix)
            }
            NumberFormat::Scientific(d) => format!("{:.*e}", d, v),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Time ticks and UTC formatting

#[derive(Clone, Copy, Debug, PartialEq)]
enum TimeFormat {
    /// `14:05:30`
    Seconds,
    /// `11-25 14:00`
    MinutesOfDay,
    /// `2024-11-25`
    Day,
    /// `2024-11`
    Month,
    /// `2024`
    Year,
}

struct TimeTicks {
    ticks: Vec<i64>,
    format: TimeFormat,
}

const DAY: i64 = 86_400;
/// Fixed tick steps in seconds (weeks are aligned to the epoch, i.e. Thursdays).
#[rustfmt::skip]
const SECOND_STEPS: [i64; 21] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    DAY, 2 * DAY, 7 * DAY, 14 * DAY,
];

/// Up to `max` tick instants inside `[lo, hi]`, aligned to UTC clock/calendar boundaries.
fn time_ticks(lo: i64, hi: i64, max: usize) -> TimeTicks {
    let max = max.max(2);
    let span = (i128::from(hi) - i128::from(lo)).max(1) as f64;

    if let Some(&step) = SECOND_STEPS
        .iter()
        .find(|&&s| span / s as f64 <= max as f64)
    {
        let format = if step < 60 {
            TimeFormat::Seconds
        } else if step < DAY {
            TimeFormat::MinutesOfDay
        } else {
            TimeFormat::Day
        };
        let step = i128::from(step);
        let first = i128::from(lo).div_euclid(step) * step;
        let ticks = (0..=(max as i128 + 2))
            .map(|i| first + i * step)
            .filter(|t| *t >= i128::from(lo) && *t <= i128::from(hi))
            .map(|t| t as i64)
            .collect();
        return TimeTicks { ticks, format };
    }

    // Calendar steps: k months, then k years (1, 2, 5, 10, 20, 50, ...).
    const AVG_MONTH: f64 = 2_629_746.0;
    let mut months: i64 = 1;
    for candidate in [1, 2, 3, 6].into_iter().chain(
        (0..40)
            .map(|i| 12 * [1i64, 2, 5][i % 3].saturating_mul(10i64.saturating_pow((i / 3) as u32))),
    ) {
        months = candidate;
        if span / (candidate as f64 * AVG_MONTH) <= max as f64 {
            break;
        }
    }
    let format = if months % 12 == 0 {
        TimeFormat::Year
    } else {
        TimeFormat::Month
    };
    let (y, m, _) = civil_from_days(lo.div_euclid(DAY));
    let month_index = i128::from(y) * 12 + i128::from(m) - 1;
    let k = i128::from(months);
    let first = month_index.div_euclid(k) * k;
    let ticks = (0..=(max as i128 + 2))
        .filter_map(|i| {
            let mi = first + i * k;
            let year = i64::try_from(mi.div_euclid(12)).ok()?;
            let month = (mi.rem_euclid(12) + 1) as u32;
            let t = i128::from(days_from_civil(year, month, 1)?) * i128::from(DAY);
            (t >= i128::from(lo) && t <= i128::from(hi)).then_some(t as i64)
        })
        .collect();
    TimeTicks { ticks, format }
}

/// Formats unix seconds in UTC.
fn format_time(t: i64, format: TimeFormat) -> String {
    let days = t.div_euclid(DAY);
    let secs = t.rem_euclid(DAY);
    let (y, mo, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    match format {
        TimeFormat::Seconds => format!("{hh:02}:{mm:02}:{ss:02}"),
        TimeFormat::MinutesOfDay => format!("{mo:02}-{d:02} {hh:02}:{mm:02}"),
        TimeFormat::Day => format!("{y:04}-{mo:02}-{d:02}"),
        TimeFormat::Month => format!("{y:04}-{mo:02}"),
        TimeFormat::Year => format!("{y:04}"),
    }
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01 (proleptic Gregorian).
/// Howard Hinnant's algorithm; exact for every `i64` day count that `i64` seconds can produce.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day count since 1970-01-01 of a proleptic Gregorian date; `None` on overflow.
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era.checked_mul(146_097)?.checked_add(doe - 719_468)
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_732_543_200; // 2024-11-25 14:00:00 UTC

    fn parse_ok(svg: &str) -> roxmltree::Document<'_> {
        let doc = roxmltree::Document::parse(svg)
            .unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        doc
    }

    fn texts(svg: &str) -> Vec<String> {
        let doc = parse_ok(svg);
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect()
    }

    fn hourly(n: usize, f: impl Fn(usize) -> f64) -> Vec<(i64, f64)> {
        (0..n).map(|i| (T0 + 3600 * i as i64, f(i))).collect()
    }

    fn assert_inline_svg(svg: &str, w: u32, h: u32) {
        assert!(
            svg.starts_with("<svg "),
            "must start with <svg: {}",
            &svg[..svg.len().min(80)]
        );
        assert!(!svg.contains("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
        let doc = parse_ok(svg);
        let root = doc.root_element();
        assert_eq!(root.attribute("width"), Some(w.to_string().as_str()));
        assert_eq!(root.attribute("height"), Some(h.to_string().as_str()));
    }

    #[test]
    fn two_series_chart_is_wellformed_with_title_legend_and_utc_ticks() {
        let a = hourly(30, |i| (i as f64 / 3.0).sin() * 10.0 + 20.0);
        let b = hourly(30, |i| (i as f64 / 5.0).cos() * 8.0 + 15.0);
        let svg = line_chart_svg(
            "Temperatures",
            "°C",
            &[
                Series {
                    label: "inside",
                    points: &a,
                },
                Series {
                    label: "outside",
                    points: &b,
                },
            ],
            800,
            400,
        );
        assert_inline_svg(&svg, 800, 400);
        let t = texts(&svg);
        for want in ["Temperatures", "°C", "inside", "outside", "time (UTC)"] {
            assert!(
                t.iter().any(|s| s == want),
                "missing text {want:?} in {t:?}"
            );
        }
        assert!(
            t.iter().any(|s| s == "11-25 18:00"),
            "no UTC tick label in {t:?}"
        );
        // 30 markers per series.
        assert_eq!(
            svg.matches("<circle").count(),
            60 + 2 /* legend swatches */
        );
    }

    #[test]
    fn single_series_has_no_legend() {
        let a = hourly(5, |i| i as f64);
        let svg = line_chart_svg(
            "t",
            "y",
            &[Series {
                label: "only-series",
                points: &a,
            }],
            600,
            300,
        );
        assert_inline_svg(&svg, 600, 300);
        assert!(!svg.contains("only-series"));
    }

    #[test]
    fn empty_input_says_no_data_yet() {
        let nan_only = [(T0, f64::NAN), (T0 + 1, f64::INFINITY)];
        let cases: [&[Series<'_>]; 3] = [
            &[],
            &[
                Series {
                    label: "a",
                    points: &[],
                },
                Series {
                    label: "b",
                    points: &[],
                },
            ],
            &[Series {
                label: "a",
                points: &nan_only,
            }],
        ];
        for series in cases {
            let svg = line_chart_svg("Empty <chart>", "y", series, 500, 250);
            assert_inline_svg(&svg, 500, 250);
            let t = texts(&svg);
            assert!(t.contains(&"no data yet".to_string()), "{t:?}");
            assert!(t.contains(&"Empty <chart>".to_string()), "{t:?}");
        }
    }

    #[test]
    fn one_point_renders_with_padded_time_range() {
        let p = [(T0, 42.0)];
        let svg = line_chart_svg(
            "one",
            "v",
            &[Series {
                label: "s",
                points: &p,
            }],
            600,
            300,
        );
        assert_inline_svg(&svg, 600, 300);
        assert!(!svg.contains("no data yet") && !svg.contains("cannot draw"));
        assert_eq!(svg.matches("<circle").count(), 1);
        let t = texts(&svg);
        assert!(t.iter().any(|s| s == "11-25 14:00"), "{t:?}");
        // Padded y range around 42 has at least two numeric tick labels.
        let numeric: Vec<f64> = t.iter().filter_map(|s| s.parse().ok()).collect();
        assert!(
            numeric.len() >= 2 && numeric.iter().all(|v| (37.0..=47.0).contains(v)),
            "{t:?}"
        );
    }

    #[test]
    fn all_equal_values_render_with_padded_value_range() {
        for v in [0.0, 5.0, -3.0, 1e-200, 1e200] {
            let p = hourly(10, |_| v);
            let svg = line_chart_svg(
                "flat",
                "v",
                &[Series {
                    label: "s",
                    points: &p,
                }],
                600,
                300,
            );
            assert_inline_svg(&svg, 600, 300);
            assert!(!svg.contains("cannot draw"), "value {v}");
            assert_eq!(svg.matches("<circle").count(), 10, "value {v}");
        }
        let (lo, hi) = value_range(&[CleanSeries {
            label: String::new(),
            points: vec![(0, 5.0)],
        }])
        .unwrap();
        assert!(lo < 5.0 && hi > 5.0);
    }

    #[test]
    fn negative_huge_and_extreme_inputs_do_not_panic() {
        let weird: Vec<Vec<(i64, f64)>> = vec![
            hourly(10, |i| -1000.0 * i as f64),
            vec![(T0, f64::MAX), (T0 + 60, f64::MIN), (T0 + 120, 0.0)],
            vec![(T0, 1e308), (T0 + 1, -1e308)],
            vec![(T0, 1e15), (T0 + 1, 1e15 + 0.5)],
            vec![(T0, f64::MIN_POSITIVE), (T0 + 1, 5e-324)],
            vec![(i64::MIN, 1.0), (i64::MAX, 2.0)],
            vec![(i64::MAX, 1.0)],
            vec![(i64::MIN, 1.0)],
            vec![(-1_000_000_000_000, 1.0), (0, 2.0)],
            vec![(T0 + 100, 1.0), (T0, 2.0), (T0 + 50, 3.0)], // out of order
            vec![(T0, 1.0), (T0, 2.0)],                       // same instant
        ];
        for points in &weird {
            for (w, h) in [(800, 400), (0, 0), (u32::MAX, 1)] {
                let svg = line_chart_svg("weird", "v", &[Series { label: "s", points }], w, h);
                parse_ok(&svg);
                assert!(!svg.contains("cannot draw"), "{points:?} {w}x{h}");
                assert!(
                    !svg.contains("NaN") && !svg.contains("inf"),
                    "{points:?}\n{svg}"
                );
            }
        }
    }

    #[test]
    fn sizes_are_clamped() {
        let p = hourly(3, |i| i as f64);
        let s = [Series {
            label: "s",
            points: &p,
        }];
        assert_inline_svg(&line_chart_svg("t", "y", &s, 0, 0), MIN_WIDTH, MIN_HEIGHT);
        assert_inline_svg(
            &line_chart_svg("t", "y", &s, u32::MAX, u32::MAX),
            MAX_SIDE,
            MAX_SIDE,
        );
        assert_inline_svg(&line_chart_svg("t", "y", &[], 0, 0), MIN_WIDTH, MIN_HEIGHT);
    }

    #[test]
    fn nan_values_are_skipped() {
        let mut p = hourly(10, |i| i as f64);
        p[3].1 = f64::NAN;
        p[7].1 = f64::NEG_INFINITY;
        let svg = line_chart_svg(
            "gaps",
            "v",
            &[Series {
                label: "s",
                points: &p,
            }],
            600,
            300,
        );
        assert_inline_svg(&svg, 600, 300);
        assert_eq!(svg.matches("<circle").count(), 8);
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn caller_text_is_escaped() {
        let evil = r#"<script>alert(1)</script> & "quotes" 'single'"#;
        let p = hourly(5, |i| i as f64);
        let series = [
            Series {
                label: evil,
                points: &p,
            },
            Series {
                label: evil,
                points: &p,
            },
        ];
        for svg in [
            line_chart_svg(evil, evil, &series, 700, 350),
            line_chart_svg(evil, evil, &[], 700, 350),
        ] {
            assert!(!svg.contains("<script"), "{svg}");
            assert!(!svg.contains(r#""quotes""#));
            assert!(!svg.contains("& "));
            assert!(svg.contains("&lt;script&gt;"));
            // Round-trips: the parsed text is the caller's text.
            let t = texts(&svg);
            assert!(t.iter().any(|s| s == evil), "{t:?}");
        }
    }

    #[test]
    fn control_characters_do_not_break_xml() {
        let nasty = "a\u{0}b\u{1b}[31mc\nd\u{FFFF}";
        let p = hourly(3, |i| i as f64);
        let svg = line_chart_svg(
            nasty,
            nasty,
            &[Series {
                label: nasty,
                points: &p,
            }],
            600,
            300,
        );
        parse_ok(&svg);
        let svg = line_chart_svg(nasty, nasty, &[], 600, 300);
        parse_ok(&svg);
    }

    #[test]
    fn many_series_and_long_labels_fit() {
        let p = hourly(20, |i| i as f64);
        let long = "a very long series label ".repeat(10);
        let labels: Vec<String> = (0..25).map(|i| format!("sensor-{i}")).collect();
        let mut series: Vec<Series<'_>> = labels
            .iter()
            .map(|l| Series {
                label: l,
                points: &p,
            })
            .collect();
        series.push(Series {
            label: &long,
            points: &p,
        });
        let svg = line_chart_svg(&long, &long, &series, 640, 360);
        assert_inline_svg(&svg, 640, 360);
        assert!(svg.contains(" more"), "expected a +N more legend item");
    }

    #[test]
    fn drawing_errors_and_panics_become_cannot_draw_svg() {
        let failures: [std::thread::Result<Result<String, String>>; 3] = [
            Ok(Err("backend error".to_string())),
            Err(Box::new("plotters panicked")),
            Ok(Ok("<?xml version=\"1.0\"?><svg/>".to_string())),
        ];
        for drawn in failures {
            let svg = svg_or_fallback(drawn, "T <&>", 400, 300);
            assert_inline_svg(&svg, 400, 300);
            assert!(texts(&svg).contains(&"cannot draw this chart".to_string()));
            assert!(texts(&svg).contains(&"T <&>".to_string()));
        }
    }

    #[test]
    fn output_is_deterministic() {
        let p = hourly(30, |i| i as f64 * 1.5);
        let s = [
            Series {
                label: "s",
                points: &p,
            },
            Series {
                label: "t",
                points: &p,
            },
        ];
        assert_eq!(
            line_chart_svg("x", "y", &s, 800, 400),
            line_chart_svg("x", "y", &s, 800, 400)
        );
    }

    #[test]
    fn civil_date_conversion() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(T0 / DAY), (2024, 11, 25));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for d in (-1_000_000..1_000_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), Some(d));
        }
        civil_from_days(i64::MIN / DAY - 1);
        civil_from_days(i64::MAX / DAY);
        assert_eq!(format_time(T0, TimeFormat::MinutesOfDay), "11-25 14:00");
        assert_eq!(format_time(T0 + 65, TimeFormat::Seconds), "14:01:05");
        assert_eq!(format_time(-1, TimeFormat::Day), "1969-12-31");
    }

    #[test]
    fn time_ticks_are_aligned() {
        let tt = time_ticks(T0 + 100, T0 + 6 * 3600, 7);
        assert_eq!(tt.format, TimeFormat::MinutesOfDay);
        assert_eq!(tt.ticks.first(), Some(&(T0 + 3600)));
        assert!(tt.ticks.iter().all(|t| t % 3600 == 0) && tt.ticks.len() <= 7);

        let tt = time_ticks(T0, T0 + 400 * DAY, 6);
        assert_eq!(tt.format, TimeFormat::Month);
        for t in &tt.ticks {
            assert_eq!(
                civil_from_days(t.div_euclid(DAY)).2,
                1,
                "not a 1st of month"
            );
        }
        let tt = time_ticks(i64::MIN, i64::MAX, 10);
        assert_eq!(tt.format, TimeFormat::Year);
        assert!(!tt.ticks.is_empty() && tt.ticks.len() <= 12);
    }

    #[test]
    fn y_ticks_are_nice() {
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(nice_ticks(-0.3, 0.3, 4), vec![-0.2, 0.0, 0.2]);
        assert!(nice_ticks(-1e300, 1e300, 8).len() >= 2);
        // Never a single tick when two fit.
        assert_eq!(nice_ticks(-1.1e7, 1.1e7, 2), vec![-1e7, 0.0, 1e7]);
        assert_eq!(nice_ticks(37.8, 46.2, 2), vec![40.0, 45.0]);
        let f =
            |ticks: &[f64], v: f64| NumberFormat::for_ticks(ticks, ticks[0], ticks[1]).format(v);
        assert_eq!(f(&[-0.3, 0.3], 0.2), "0.2");
        assert_eq!(f(&[0.0, 0.0005], 0.001), "0.0010");
        assert_eq!(f(&[-0.0, 20.0], -0.0), "0");
        assert_eq!(f(&[0.0, 2e8], 4e8), "400M");
        assert_eq!(f(&[-2e7, 1e7], -1e7), "-10M");
        assert_eq!(f(&[1e9, 1.5e9], 1.5e9), "1.5G");
        assert_eq!(f(&[1e15, 1e15 + 0.5], 1e15 + 0.5), "1.0000000000000005e15");
        assert_eq!(f(&[-1e300, 5e299], 5e299), "5e299");
        assert_eq!(f(&[0.0, 2e-6], 4e-6), "4e-6");
    }
}
