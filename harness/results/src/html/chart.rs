//! The SVG chart kit of report.html: axes, line charts with CI bars, bar
//! charts, legends, drawn with plotters' SVG backend (text stays `<text>`,
//! so no font is needed to draw).

use std::error::Error;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{esc, num_label};
use crate::view::Stat;

// ---------------------------------------------------------------- drawing

/// A chart's size: the plot on the left, the legend right of it.
#[derive(Clone, Copy)]
pub(super) struct Frame {
    pub(super) width: u32,
    /// The least height; a long legend makes the chart taller.
    pub(super) height: u32,
    /// Width of the plot; the legend takes the rest.
    pub(super) plot: u32,
}

/// A chart across the page.
pub(super) const FULL: Frame = Frame {
    width: 720,
    height: 360,
    plot: 540,
};

/// Rough width of the plotting area inside the axes of a [`SMALL`] chart.
pub(super) const SMALL_INNER: f64 = 270.0;

/// One of several small charts side by side (small multiples).
pub(super) const SMALL: Frame = Frame {
    width: 520,
    height: 280,
    plot: 340,
};

/// Characters of a legend line, at most, in `frame`.
fn legend_chars(frame: Frame) -> usize {
    ((frame.width - frame.plot) as f64 - 40.0).max(60.0) as usize * 10 / 72
}

/// Legend layout: pixels from the top to the first entry, between wrapped lines, after an entry.
const LEGEND_TOP: i32 = 24;
const LEGEND_LINE: i32 = 15;
const LEGEND_GAP: i32 = 6;

/// The height `entries` need in `frame`'s legend (at least its height).
pub(super) fn frame_height(frame: Frame, labels: &[&str]) -> u32 {
    let chars = legend_chars(frame);
    let lines: i32 = labels
        .iter()
        .map(|l| (wrap(l, chars).len() as i32 - 1) * LEGEND_LINE + LEGEND_LINE + LEGEND_GAP)
        .sum();
    (LEGEND_TOP + lines + 8).max(frame.height as i32) as u32
}

/// `s` in lines of at most `width` characters, broken after spaces or
/// hyphens where it can be, else inside a word: nothing is left out.
pub(super) fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(4);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    // Words keep the hyphen or space that ends them.
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        word.push(c);
        if c == ' ' || c == '-' || c == '_' || c == '/' {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    for w in words {
        let mut w = w;
        while w.chars().count() > width {
            // A word longer than a line: cut it across lines.
            if !line.trim_end().is_empty() {
                lines.push(std::mem::take(&mut line).trim_end().to_string());
            }
            let head: String = w.chars().take(width).collect();
            w = w.chars().skip(width).collect();
            lines.push(head);
        }
        if line.chars().count() + w.trim_end().chars().count() > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line).trim_end().to_string());
        }
        line.push_str(&w);
    }
    if !line.trim_end().is_empty() || lines.is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}
/// Rough width of the plotting area inside the axes, in pixels.
pub(super) const PLOT_INNER: f64 = 460.0;
/// Rough width of one label character at the tick font size, in pixels.
pub(super) const CHAR_PX: f64 = 6.5;
pub(super) const FONT: &str = "sans-serif";
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);
pub(super) const SHADE: RGBColor = RGBColor(236, 236, 236);

pub(super) type DrawResult = Result<(), Box<dyn Error>>;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Marker {
    Circle,
    Square,
    Triangle,
    Cross,
    None,
}

/// How a series is drawn.
#[derive(Clone, Copy)]
pub(super) struct Style {
    pub(super) color: RGBColor,
    pub(super) dashed: bool,
    pub(super) marker: Marker,
    /// A reference (shaded in bar charts).
    pub(super) reference: bool,
}

pub(super) const fn solid(color: RGBColor, marker: Marker) -> Style {
    Style {
        color,
        dashed: false,
        marker,
        reference: false,
    }
}

// Colours from Okabe and Ito's palette (2008), told apart under the
// common colour-vision deficiencies; every series also has its own marker.
pub(super) const CLEAN: Style = solid(RGBColor(0, 0, 0), Marker::Circle);
pub(super) const POISONED: Style = solid(RGBColor(213, 94, 0), Marker::Triangle);
pub(super) const ASR: Style = solid(RGBColor(204, 121, 167), Marker::Cross);
pub(super) const SHARE: Style = Style {
    color: RGBColor(127, 127, 127),
    dashed: true,
    marker: Marker::None,
    reference: false,
};
pub(super) const PERFECT: Style = Style {
    color: RGBColor(60, 60, 60),
    dashed: true,
    marker: Marker::Square,
    reference: true,
};
pub(super) const RANDOM: Style = Style {
    color: RGBColor(150, 150, 150),
    dashed: true,
    marker: Marker::Cross,
    reference: true,
};
/// Defense colours (Okabe–Ito: blue, orange, bluish green, reddish purple,
/// sky blue, yellow), in the order the defenses are listed.
pub(super) const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
];
pub(super) const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Cross,
];
/// Bar colours, one per measure.
pub(super) const BAR_COLORS: [RGBColor; 3] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
];

/// A defense's style, the same in every chart: references grey and dashed,
/// the others by their place among the non-reference defenses.
pub(super) fn defense_style(listed: &[(String, String)], name: &str) -> Style {
    let reference = listed.iter().any(|(n, k)| n == name && k == "reference");
    if reference {
        return if name == "perfect" { PERFECT } else { RANDOM };
    }
    let i = listed
        .iter()
        .filter(|(_, k)| k != "reference")
        .position(|(n, _)| n == name)
        .unwrap_or(0);
    Style {
        // Past the palette, the colours come round again dashed.
        dashed: i >= PALETTE.len(),
        ..solid(PALETTE[i % PALETTE.len()], MARKERS[i % MARKERS.len()])
    }
}

/// An axis: description, value range and labelled tick positions (a tick
/// with an empty label draws a grid line only).
pub(super) struct Axis {
    pub(super) desc: String,
    pub(super) range: (f64, f64),
    pub(super) ticks: Vec<(f64, String)>,
}

impl Axis {
    fn coord(&self) -> Ticked {
        Ticked {
            range: self.range,
            ticks: self.ticks.iter().map(|t| t.0).collect(),
        }
    }
}

/// A linear f64 coordinate whose ticks and grid lines sit exactly at `ticks`.
pub(super) struct Ticked {
    pub(super) range: (f64, f64),
    pub(super) ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (lo, hi) = self.range;
        if hi <= lo {
            return (limit.0 + limit.1) / 2;
        }
        let t = (value - lo) / (hi - lo);
        limit.0 + ((limit.1 - limit.0) as f64 * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.0..self.range.1
    }
}

pub(super) fn rate_axis(desc: &str) -> Axis {
    Axis {
        desc: desc.to_string(),
        range: (-0.02, 1.04),
        ticks: (0..=5)
            .map(|i| {
                let v = i as f64 / 5.0;
                (v, format!("{v:.1}"))
            })
            .collect(),
    }
}

/// 1, 2 or 5 × 10^k, at least `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || raw.is_infinite() {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * base)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * base)
}

pub(super) fn count_axis(desc: &str, max: f64) -> Axis {
    let max = max.max(1.0);
    let step = nice_step(max / 5.0).max(1.0);
    let top = (max / step).ceil() * step;
    let n = (top / step).round() as usize;
    Axis {
        desc: desc.to_string(),
        range: (-top * 0.02, top * 1.04),
        ticks: (0..=n)
            .map(|i| {
                let v = i as f64 * step;
                (v, num_label(v))
            })
            .collect(),
    }
}

pub(super) fn round_axis(rounds: usize) -> Axis {
    let step = nice_step(rounds as f64 / 12.0).max(1.0) as usize;
    Axis {
        desc: "round".into(),
        range: (0.5, rounds as f64 + 0.5),
        ticks: (1..=rounds)
            .filter(|r| *r == 1 || r % step == 0)
            .map(|r| (r as f64, r.to_string()))
            .collect(),
    }
}

/// Fine-tuning epochs from 0 (the base model before fine-tuning) to `epochs`.
pub(super) fn epoch_axis(epochs: usize) -> Axis {
    let step = nice_step(epochs as f64 / 12.0).max(1.0) as usize;
    Axis {
        desc: "fine-tuning epoch (0 = the base model)".into(),
        range: (-0.5, epochs as f64 + 0.5),
        ticks: (0..=epochs)
            .filter(|e| e % step == 0)
            .map(|e| (e as f64, e.to_string()))
            .collect(),
    }
}

/// Blank the labels of ticks too close to the previous labelled one.
pub(super) fn thin_labels(ticks: &mut [(f64, String)], range: (f64, f64), inner: f64) {
    let span = (range.1 - range.0).max(f64::MIN_POSITIVE);
    let mut last: Option<(f64, usize)> = None;
    for t in ticks.iter_mut() {
        let px = (t.0 - range.0) / span * inner;
        let w = t.1.chars().count();
        if let Some((lp, lw)) = last
            && px - lp < (lw + w) as f64 / 2.0 * CHAR_PX + 8.0
        {
            t.1.clear();
            continue;
        }
        last = Some((px, w));
    }
}

pub(super) fn tick_label(ticks: &[(f64, String)], v: f64) -> String {
    ticks
        .iter()
        .find(|t| (t.0 - v).abs() <= 1e-9 * v.abs().max(1.0))
        .map(|t| t.1.clone())
        .unwrap_or_default()
}

/// A `<figure>` of `size` with an SVG drawn by `draw` and `title` as its
/// `<title>` and caption.
pub(super) fn figure(
    title: &str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> String {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        (|| -> DrawResult {
            root.fill(&WHITE)?;
            draw(&root)?;
            root.present()?;
            Ok(())
        })()
        .map_err(|e| e.to_string())
    };
    let title = esc(title);
    if let Err(e) = drawn {
        return format!(
            "<p class=\"error\">The chart “{title}” could not be drawn: {}</p>\n",
            esc(&e)
        );
    }
    // Inline SVG needs no namespace; leaving it out keeps every URL out of the page.
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    let svg = svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{title}\" "),
        1,
    );
    let svg = match svg.find(">\n") {
        Some(i) => format!("{}<title>{title}</title>\n{}", &svg[..i + 2], &svg[i + 2..]),
        None => svg,
    };
    format!("<figure>\n{svg}<figcaption>{title}</figcaption>\n</figure>\n")
}

pub(super) fn draw_marker<CT: CoordTranslate>(
    area: &DrawingArea<SVGBackend<'_>, CT>,
    marker: Marker,
    at: CT::From,
    color: RGBColor,
) -> DrawResult {
    let fill = color.filled();
    let line = color.stroke_width(2);
    match marker {
        Marker::Circle => area.draw(&(EmptyElement::at(at) + Circle::new((0, 0), 4, fill)))?,
        Marker::Square => {
            area.draw(&(EmptyElement::at(at) + Rectangle::new([(-4, -4), (4, 4)], fill)))?
        }
        Marker::Triangle => {
            area.draw(&(EmptyElement::at(at) + TriangleMarker::new((0, 0), 5, fill)))?
        }
        Marker::Cross => area.draw(&(EmptyElement::at(at) + Cross::new((0, 0), 4, line)))?,
        Marker::None => {}
    }
    Ok(())
}

/// What a legend entry shows beside its label.
pub(super) enum Key {
    /// A line in a series' style.
    Line(Style),
    /// A filled box (bars, shading).
    Swatch(RGBColor),
    /// Text only (a numbered category's name).
    None,
}

/// Legend labels, for [`frame_height`].
fn labels(entries: &[(String, Key)]) -> Vec<&str> {
    entries.iter().map(|(l, _)| l.as_str()).collect()
}

/// The legend down the area right of the plot, every label whole (wrapped
/// over lines; [`frame_height`] made the chart tall enough).
pub(super) fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    frame: Frame,
    entries: &[(String, Key)],
) -> DrawResult {
    let font = (FONT, 13).into_font();
    let chars = legend_chars(frame);
    let mut y = LEGEND_TOP;
    for (label, key) in entries {
        match key {
            Key::None => {}
            Key::Swatch(color) => {
                area.draw(&Rectangle::new([(6, y - 7), (26, y + 7)], color.filled()))?;
            }
            Key::Line(style) => {
                let stroke = style.color.stroke_width(2);
                if style.dashed {
                    area.draw(&DashedPathElement::new(vec![(4, y), (28, y)], 5, 3, stroke))?;
                } else {
                    area.draw(&PathElement::new(vec![(4, y), (28, y)], stroke))?;
                }
                draw_marker(area, style.marker, (16, y), style.color)?;
            }
        }
        let x = if matches!(key, Key::None) { 6 } else { 34 };
        for line in wrap(label, chars) {
            area.draw(&Text::new(line, (x, y - 7), font.clone()))?;
            y += LEGEND_LINE;
        }
        y += LEGEND_GAP;
    }
    Ok(())
}

/// A labelled line of (x, mean, 95 % CI half-width) points.
pub(super) struct Line {
    pub(super) label: String,
    pub(super) style: Style,
    pub(super) points: Vec<(f64, f64, Option<f64>)>,
}

/// A labelled vertical line.
pub(super) struct Mark {
    pub(super) x: f64,
    pub(super) label: String,
}

pub(super) fn line_chart(
    title: &str,
    x: &Axis,
    y: &Axis,
    lines: &[Line],
    marks: &[Mark],
    diagonal: bool,
) -> String {
    let frame = FULL;
    let mut entries: Vec<(String, Key)> = lines
        .iter()
        .map(|l| (l.label.clone(), Key::Line(l.style)))
        .collect();
    if diagonal {
        entries.push(("chance (diagonal)".into(), Key::Line(SHARE)));
    }
    let size = (frame.width, frame_height(frame, &labels(&entries)));
    figure(title, size, |root| {
        let (plot, legend) = root.split_horizontally(frame.plot);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x.coord(), y.coord())?;
        let x_label = |v: &f64| tick_label(&x.ticks, *v);
        let y_label = |v: &f64| tick_label(&y.ticks, *v);
        chart
            .configure_mesh()
            .x_desc(x.desc.as_str())
            .y_desc(y.desc.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .bold_line_style(GRID.stroke_width(1))
            .light_line_style(TRANSPARENT)
            .draw()?;
        let (lo, hi) = y.range;
        if diagonal {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                5,
                5,
                RGBColor(170, 170, 170).stroke_width(1),
            ))?;
        }
        for (i, mark) in marks.iter().enumerate() {
            let style = BLACK.stroke_width(1);
            chart.draw_series(DashedLineSeries::new(
                [(mark.x, lo), (mark.x, hi)],
                4,
                3,
                style,
            ))?;
            // Labels stack down from the top, on the side of the line with more room.
            let right_half = mark.x > (x.range.0 + x.range.1) / 2.0;
            let (dx, h) = if right_half {
                (-4, HPos::Right)
            } else {
                (4, HPos::Left)
            };
            let font = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(h, VPos::Top));
            chart.draw_series(std::iter::once(
                EmptyElement::at((mark.x, hi))
                    + Text::new(mark.label.clone(), (dx, 4 + 16 * i as i32), font),
            ))?;
        }
        for line in lines {
            let points: Vec<(f64, f64)> = line.points.iter().map(|p| (p.0, p.1)).collect();
            let stroke = line.style.color.stroke_width(2);
            if line.style.dashed {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, stroke))?;
            } else {
                chart.draw_series(LineSeries::new(points, stroke))?;
            }
            for &(px, py, ci) in &line.points {
                if let Some(ci) = ci.filter(|c| *c > 0.0) {
                    error_bar(&chart, px, py, ci, (lo, hi), line.style.color)?;
                }
                draw_marker(
                    chart.plotting_area(),
                    line.style.marker,
                    (px, py),
                    line.style.color,
                )?;
            }
        }
        draw_legend(&legend, frame, &entries)
    })
}

/// Lines of many points, each with its 95 % CI drawn as a shaded band
/// (no error bars) and markers on every k-th point and the last, at most
/// about ten, so that series stay apart in print.
pub(super) fn band_chart(title: &str, frame: Frame, x: &Axis, y: &Axis, lines: &[Line]) -> String {
    let entries: Vec<(String, Key)> = lines
        .iter()
        .map(|l| (l.label.clone(), Key::Line(l.style)))
        .collect();
    let size = (frame.width, frame_height(frame, &labels(&entries)));
    figure(title, size, |root| {
        let (plot, legend) = root.split_horizontally(frame.plot);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x.coord(), y.coord())?;
        let x_label = |v: &f64| tick_label(&x.ticks, *v);
        let y_label = |v: &f64| tick_label(&y.ticks, *v);
        chart
            .configure_mesh()
            .x_desc(x.desc.as_str())
            .y_desc(y.desc.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .bold_line_style(GRID.stroke_width(1))
            .light_line_style(TRANSPARENT)
            .draw()?;
        // Every charted quantity is non-negative.
        let (lo, hi) = (y.range.0.max(0.0), y.range.1);
        // Bands first, so that every line stays on top of every band.
        for line in lines {
            if line.points.iter().all(|p| p.2.is_none_or(|c| c <= 0.0)) {
                continue;
            }
            let half = |p: &(f64, f64, Option<f64>)| p.2.unwrap_or(0.0).max(0.0);
            let band: Vec<(f64, f64)> = line
                .points
                .iter()
                .map(|p| (p.0, (p.1 + half(p)).clamp(lo, hi)))
                .chain(
                    line.points
                        .iter()
                        .rev()
                        .map(|p| (p.0, (p.1 - half(p)).clamp(lo, hi))),
                )
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(
                band,
                line.style.color.mix(BAND_OPACITY).filled(),
            )))?;
        }
        for line in lines {
            let points: Vec<(f64, f64)> = line.points.iter().map(|p| (p.0, p.1)).collect();
            let stroke = line.style.color.stroke_width(2);
            if line.style.dashed {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, stroke))?;
            } else {
                chart.draw_series(LineSeries::new(points, stroke))?;
            }
            let n = line.points.len();
            let k = n.div_ceil(10).max(1);
            for (i, &(px, py, _)) in line.points.iter().enumerate() {
                if (i + 1) % k == 0 || i + 1 == n {
                    draw_marker(
                        chart.plotting_area(),
                        line.style.marker,
                        (px, py),
                        line.style.color,
                    )?;
                }
            }
        }
        draw_legend(&legend, frame, &entries)
    })
}

/// Opacity of a line's CI band (low, so that overlapping bands stay readable).
pub(super) const BAND_OPACITY: f64 = 0.12;

pub(super) type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;

/// A vertical 95 % CI bar with caps at `x`, clipped to `range`.
pub(super) fn error_bar(
    chart: &Chart<'_, '_>,
    x: f64,
    mean: f64,
    ci: f64,
    range: (f64, f64),
    color: RGBColor,
) -> DrawResult {
    // Every charted quantity is non-negative.
    let lo = (mean - ci).max(range.0.max(0.0));
    let hi = (mean + ci).min(range.1);
    let area = chart.plotting_area();
    let style = color.stroke_width(1);
    area.draw(&PathElement::new(vec![(x, lo), (x, hi)], style))?;
    for end in [lo, hi] {
        area.draw(&(EmptyElement::at((x, end)) + PathElement::new(vec![(-4, 0), (4, 0)], style)))?;
    }
    Ok(())
}

/// Grouped bars: one group per category (a shaded one when it is a
/// reference), one bar per measure, each a (mean, CI half-width).
pub(super) struct Bars<'a> {
    pub(super) categories: Vec<(String, bool)>,
    pub(super) measures: Vec<&'a str>,
    pub(super) values: Vec<Vec<Option<Stat>>>,
}

pub(super) fn bar_chart(title: &str, bars: &Bars<'_>, y: &Axis) -> String {
    let frame = FULL;
    let n = bars.categories.len();
    let room = PLOT_INNER / n.max(1) as f64;
    let chars = ((room - 4.0) / CHAR_PX).max(1.0) as usize;
    // Each category's name under its bars, wrapped over at most three
    // lines; when one needs more, numbers under the bars and the names in
    // the legend.
    let wrapped: Vec<Vec<String>> = bars
        .categories
        .iter()
        .map(|(c, _)| wrap(c, chars))
        .collect();
    let numbered = wrapped
        .iter()
        .any(|w| w.len() > 3 || w.iter().any(|l| l.chars().count() > chars));
    let under: Vec<Vec<String>> = if numbered {
        (1..=n).map(|i| vec![i.to_string()]).collect()
    } else {
        wrapped
    };
    let rows = under.iter().map(Vec::len).max().unwrap_or(1).max(1) as u32;
    let x = Axis {
        desc: String::new(),
        range: (-0.5, n as f64 - 0.5),
        ticks: (0..n).map(|i| (i as f64, String::new())).collect(),
    };
    let mut entries: Vec<(String, Key)> = bars
        .measures
        .iter()
        .enumerate()
        .map(|(j, name)| {
            (
                name.to_string(),
                Key::Swatch(BAR_COLORS[j % BAR_COLORS.len()]),
            )
        })
        .collect();
    if bars.categories.iter().any(|c| c.1) {
        entries.push(("reference (shaded)".into(), Key::Swatch(SHADE)));
    }
    if numbered {
        entries.extend(
            bars.categories
                .iter()
                .enumerate()
                .map(|(i, (c, _))| (format!("{}: {c}", i + 1), Key::None)),
        );
    }
    let size = (frame.width, frame_height(frame, &labels(&entries)));
    figure(title, size, |root| {
        let (plot, legend) = root.split_horizontally(frame.plot);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(12 + 16 * rows)
            .y_label_area_size(56)
            .build_cartesian_2d(x.coord(), y.coord())?;
        let (lo, hi) = y.range;
        for (i, (_, reference)) in bars.categories.iter().enumerate() {
            if *reference {
                let c = i as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(c - 0.47, lo), (c + 0.47, hi)],
                    SHADE.filled(),
                )))?;
            }
        }
        let x_label = |v: &f64| tick_label(&x.ticks, *v);
        let y_label = |v: &f64| tick_label(&y.ticks, *v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y.desc.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .bold_line_style(GRID.stroke_width(1))
            .light_line_style(TRANSPARENT)
            .draw()?;
        let m = bars.measures.len().max(1);
        let width = 0.8 / m as f64;
        for (i, values) in bars.values.iter().enumerate() {
            for (j, v) in values.iter().enumerate() {
                let Some((mean, ci)) = *v else { continue };
                let color = BAR_COLORS[j % BAR_COLORS.len()];
                let x0 = i as f64 - 0.4 + j as f64 * width;
                let x1 = x0 + width * 0.9;
                let top = mean.clamp(lo, hi);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, top)],
                    color.filled(),
                )))?;
                // A bar of height 0 still shows as a line on the axis.
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x0, top), (x1, top)],
                    color.stroke_width(2),
                )))?;
                if let Some(ci) = ci.filter(|c| *c > 0.0) {
                    error_bar(&chart, (x0 + x1) / 2.0, mean, ci, (lo, hi), BLACK)?;
                }
            }
        }
        // The names under the bars, line by line, centred on their group.
        let font = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, lines) in under.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, lo));
            for (k, line) in lines.iter().enumerate() {
                plot.draw(&Text::new(
                    line.clone(),
                    (px, py + 6 + 16 * k as i32),
                    font.clone(),
                ))?;
            }
        }
        draw_legend(&legend, frame, &entries)
    })
}
