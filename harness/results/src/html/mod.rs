//! report.html: the report as one self-contained page with inline SVG charts.
//!
//! It mirrors report.md section by section, adds a chart above each table, and
//! ends with the resolved scenario. Charts are drawn with plotters' SVG
//! backend (text stays `<text>`, so no font is needed to draw). Nothing is
//! fetched: no script, stylesheet, font or image lives outside the file. The
//! page depends only on its inputs (no timestamps, no random ids), so the same
//! records give the same bytes.

mod chart;
mod heat;

use std::fmt::Write as _;

use poisonlab_core::metrics::ROC_FPRS;
use poisonlab_scenario::Scenario;

use crate::federated::{FederatedPoint, Federation, Headline, federated_scenario};
use crate::matrix::{MatrixMeasure, matrices};
use crate::recommend::{recommendations, tally};
use crate::record::{AGGREGATOR, RunRecord};
use crate::summary::{PointSummary, point_label};
use crate::transfer::{self, Curve, TransferPoint};
use crate::view::{
    Stat, cell, chosen_points, count_cell, defenses_of, describe, filter_rows, names_of, stat,
};

use chart::*;
pub(crate) use heat::position_color;

/// The whole page.
pub fn html_report(scenario: &Scenario, records: &[RunRecord], summary: &[PointSummary]) -> String {
    let sweep = SweepAxis::of(summary);
    let large = sweep.as_ref().is_some_and(|s| {
        s.groups
            .iter()
            .any(|(_, g)| g.len() > scenario.report.large_sweep)
    });
    let ctx = Ctx {
        records,
        summary,
        sweep,
        defenses: defenses_of(records.iter()),
        federated: federated_scenario(scenario),
        large,
        large_sweep: scenario.report.large_sweep,
        roc_points: scenario
            .report
            .roc_points
            .iter()
            .map(crate::record::toml_to_json)
            .collect(),
    };
    let mut sections: Vec<Section> = Vec::new();
    if !summary.is_empty() {
        sections.extend(ctx.recommendation_section());
        sections.extend(ctx.matrix_section());
        sections.push(ctx.attack_section());
        sections.extend(ctx.transfer_section());
        sections.extend(ctx.roc_section());
        sections.extend(ctx.detection_section());
        sections.extend(ctx.rounds_section());
        sections.extend(ctx.federation_section());
        sections.extend(ctx.input_section());
        sections.extend(ctx.monitor_section());
        sections.extend(ctx.repair_section());
    }
    sections.push(Section {
        id: "scenario",
        title: "Scenario".into(),
        body: format!(
            "<p>The scenario as resolved, every default filled in (the versions are at its end).</p>\n\
             <pre>{}</pre>\n",
            esc(&scenario.resolved_toml())
        ),
    });

    let mut out = String::new();
    let m = &scenario.meta;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — poisonlab report</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&m.name),
        esc(&m.name)
    );
    if !m.description.is_empty() {
        let _ = writeln!(out, "<p class=\"lead\">{}</p>", esc(&m.description));
    }
    out.push_str("<ul>\n");
    for (what, text) in describe(scenario) {
        let _ = writeln!(out, "<li>{what}: {}</li>", esc(&text));
    }
    out.push_str("</ul>\n");
    let _ = writeln!(
        out,
        "<p>Seed {}, {} repeat(s) per point, {} run(s) finished. Charts show the mean over \
         repeats with the 95 % confidence interval as {}; tables give each number as mean \
         ± the half-width of that interval; — means undefined (for example ASR without a \
         targeted attack, or recovery when poisoning cost no accuracy).</p>",
        m.seed,
        m.repeats,
        records.len(),
        if ctx.large {
            "a shaded band (a large sweep: one small chart per defense, beside the attacked \
             model and the references)"
        } else {
            "bars"
        }
    );
    if !scenario.sweep.is_empty() {
        let keys: Vec<String> = scenario.sweep.iter().map(|(k, _)| esc(k)).collect();
        let _ = writeln!(out, "<p>Swept: {}.</p>", keys.join(", "));
    }
    if records.is_empty() {
        out.push_str("<p>No run has finished yet.</p>\n");
    }
    out.push_str(&errors_list(records));
    out.push_str("<nav>\n<ul>\n");
    for s in &sections {
        let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", s.id, esc(&s.title));
    }
    out.push_str("</ul>\n</nav>\n");
    for s in &sections {
        let _ = write!(
            out,
            "<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n",
            s.id,
            esc(&s.title),
            s.body
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

const STYLE: &str = "\
body{font-family:sans-serif;color:#111;max-width:68rem;margin:1rem auto;padding:0 1rem;line-height:1.4}
h2{border-bottom:1px solid #ccc;margin-top:2rem}
figure{margin:1rem 0}
figure svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.9rem;color:#333}
.wide{overflow-x:auto}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0 1.5rem}
th,td{border:1px solid #bbb;padding:.2rem .45rem;text-align:right;white-space:nowrap}
th:first-child,td:first-child,th.name,td.name{text-align:left}
thead th{background:#f0f0f0}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem}
.heats{display:flex;flex-wrap:wrap;gap:0 1.5rem}
table.heat caption{text-align:left;font-weight:bold;font-size:.85rem;padding:.2rem 0}
table.heat th{white-space:normal;max-width:9rem;overflow-wrap:anywhere}
table.heat td{text-align:center}
table.heat small{color:#333}
.key,.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle;border:1px solid #777}
.swatch{width:1.4rem}
ul.recs li{margin:.3rem 0}
details{margin:.5rem 0 1.5rem}
summary{cursor:pointer;color:#00457a}
table.heat td{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.multiples{display:flex;flex-wrap:wrap;gap:0 1rem}
.multiples figure{flex:1 1 30rem;max-width:34rem}
.error{color:#a00}
@media print{
body{max-width:none;margin:0;color:#000}
figure,table,pre{break-inside:avoid;page-break-inside:avoid}
table{font-size:.65rem}
h2,h3{break-after:avoid;page-break-after:avoid}
figcaption,thead th{color:#000}
a{color:#000;text-decoration:none}
nav{display:none}
.wide{overflow:visible}
pre{white-space:pre-wrap}
}
";

/// One `<h2>` section: its anchor, heading and HTML.
struct Section {
    id: &'static str,
    title: String,
    body: String,
}

/// Escape text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Defenses that produced no result, as a list (empty when none failed).
fn errors_list(records: &[RunRecord]) -> String {
    let items: Vec<String> = records
        .iter()
        .flat_map(|r| {
            r.defenses.iter().filter_map(move |d| {
                d.error.as_ref().map(|e| {
                    format!(
                        "<li>{}, repeat {}: {}: {}</li>",
                        esc(&point_label(&r.point)),
                        r.repeat,
                        esc(&d.name),
                        esc(e)
                    )
                })
            })
        })
        .collect();
    if items.is_empty() {
        return String::new();
    }
    format!(
        "<p class=\"error\">Defenses that produced no result:</p>\n<ul class=\"error\">\n{}\n</ul>\n",
        items.join("\n")
    )
}

// ---------------------------------------------------------------- numbers

/// `s` with its first letter in upper case.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A JSON scalar as a label: strings without quotes.
fn value_label(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A number for a label: integers without decimals, else up to three decimals.
fn num_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// An HTML table (every cell escaped); the first `names` columns hold names
/// (left-aligned, the first one heading its row), the others numbers.
fn table(head: &[String], rows: &[Vec<String>], names: usize) -> String {
    let mut out = String::from("<div class=\"wide\">\n<table>\n<thead><tr>");
    for (i, h) in head.iter().enumerate() {
        let class = if i < names { " class=\"name\"" } else { "" };
        let _ = write!(out, "<th scope=\"col\"{class}>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<th scope=\"row\" class=\"name\">{}</th>", esc(c));
            } else if i < names {
                let _ = write!(out, "<td class=\"name\">{}</td>", esc(c));
            } else {
                let _ = write!(out, "<td>{}</td>", esc(c));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    out
}

// ---------------------------------------------------------------- defenses

// ---------------------------------------------------------------- sweep axis

/// How sweep points sit on a chart's x axis: the first swept key gives x,
/// the other keys (if any) split the points into groups drawn as separate charts.
struct SweepAxis {
    key: String,
    numeric: bool,
    /// Each distinct value: its x and its label.
    ticks: Vec<(f64, String)>,
    /// Label of the other keys' values ("" without other keys) → (summary index, x).
    groups: Vec<(String, Vec<(usize, f64)>)>,
}

impl SweepAxis {
    fn of(summary: &[PointSummary]) -> Option<SweepAxis> {
        let key = summary.first()?.point.keys().next()?.clone();
        let mut values: Vec<&serde_json::Value> = Vec::new();
        for p in summary {
            if let Some(v) = p.point.get(&key)
                && !values.contains(&v)
            {
                values.push(v);
            }
        }
        let numeric = values
            .iter()
            .all(|v| v.as_f64().is_some_and(f64::is_finite));
        let x_of = |v: &serde_json::Value| -> Option<f64> {
            if numeric {
                v.as_f64()
            } else {
                values.iter().position(|x| *x == v).map(|i| i as f64)
            }
        };
        let mut ticks: Vec<(f64, String)> = values
            .iter()
            .filter_map(|v| Some((x_of(v)?, value_label(v))))
            .collect();
        ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut groups: Vec<(String, Vec<(usize, f64)>)> = Vec::new();
        for (i, p) in summary.iter().enumerate() {
            let Some(x) = p.point.get(&key).and_then(x_of) else {
                continue;
            };
            let mut rest = p.point.clone();
            rest.shift_remove(&key);
            let label = if rest.is_empty() {
                String::new()
            } else {
                point_label(&rest)
            };
            match groups.iter_mut().find(|(l, _)| *l == label) {
                Some((_, g)) => g.push((i, x)),
                None => groups.push((label, vec![(i, x)])),
            }
        }
        for (_, g) in &mut groups {
            g.sort_by(|a, b| a.1.total_cmp(&b.1));
        }
        Some(SweepAxis {
            key,
            numeric,
            ticks,
            groups,
        })
    }

    /// The x axis: every point a tick, labels thinned to fit `inner`
    /// pixels; a large numeric sweep gets round ticks instead of one per
    /// point.
    fn axis(&self, inner: f64, large: bool) -> Axis {
        let lo = self.ticks.first().map_or(0.0, |t| t.0);
        let hi = self.ticks.last().map_or(1.0, |t| t.0);
        let pad = if hi > lo {
            (hi - lo) * 0.06
        } else {
            (lo.abs() * 0.1).max(0.5)
        };
        let range = if self.numeric {
            (lo - pad, hi + pad)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        let mut ticks = self.ticks.clone();
        if large && self.numeric && hi > lo {
            let step = nice_step((hi - lo) / 5.0);
            let first = (lo / step).ceil() as i64;
            let last = (hi / step).floor() as i64;
            ticks = (first..=last)
                .map(|k| {
                    let v = k as f64 * step;
                    (v, num_label(v))
                })
                .collect();
        }
        // Labels stay whole: one too close to the one before is left out
        // (the tables name every point).
        thin_labels(&mut ticks, range, inner);
        Axis {
            desc: self.key.clone(),
            range,
            ticks,
        }
    }
}

// ---------------------------------------------------------------- sections

struct Ctx<'a> {
    records: &'a [RunRecord],
    summary: &'a [PointSummary],
    sweep: Option<SweepAxis>,
    /// Every defense of every record, first-seen order.
    defenses: Vec<(String, String)>,
    /// Every point trains a federation: the models are federations'.
    federated: bool,
    /// A chart would hold more points than `[report] large-sweep`: bands,
    /// small multiples, ROC curves at a few points, counts as a table.
    large: bool,
    /// `[report] large-sweep`.
    large_sweep: usize,
    /// `[report] roc-points`, as the records hold them.
    roc_points: Vec<serde_json::Value>,
}

/// A line or bar series: `prefix.suffix` is a metric key in the summary.
struct Series {
    label: String,
    style: Style,
    prefix: String,
}

/// A measured quantity shown for every series.
struct Measure {
    /// Short name (table header, legend).
    name: &'static str,
    /// Long name (chart title).
    long: &'static str,
    /// Metric key suffix.
    suffix: &'static str,
    /// Drawn in the chart (else table only).
    chart: bool,
}

/// How [`Ctx::across_points`] draws its charts.
#[derive(Clone, Copy)]
struct Across<'a> {
    scale: Scale,
    /// Ends a bar chart's title: "per model".
    per: &'a str,
    /// The y axis of a chart of several measures.
    y_desc: &'a str,
    /// One line chart of every measure instead of one per measure.
    combine: bool,
    /// The table's header over the series names.
    series_head: &'a str,
}

#[derive(Clone, Copy, PartialEq)]
enum Scale {
    /// 0 to 1.
    Rate,
    /// 0 to the largest value.
    Count,
}

impl Ctx<'_> {
    /// The colour of defense `name` in every chart, as `#rrggbb`.
    fn color_of(&self, name: &str) -> String {
        heat::hex(defense_style(&self.defenses, name).color)
    }

    /// Recommendations: for each attack, the defenses near the perfect
    /// filter at the lowest CA cost and those no better than random.
    fn recommendation_section(&self) -> Option<Section> {
        let recs = recommendations(self.summary, self.records, &self.defenses);
        if recs.is_empty() || self.federated {
            return None;
        }
        let mut body = format!(
            "<p>{}</p>\n<ul class=\"recs\">\n",
            esc(crate::recommend::INTRO)
        );
        if recs.len() > self.large_sweep {
            for line in tally(&recs, &self.defenses) {
                let _ = writeln!(body, "<li>{}</li>", esc(&line));
            }
        } else {
            for r in &recs {
                let at = if r.group.is_empty() {
                    format!("<strong>{}</strong>", esc(&r.attack))
                } else {
                    format!("<strong>{}</strong> at {}", esc(&r.attack), esc(&r.group))
                };
                let _ = writeln!(body, "<li>{at}: {}</li>", esc(&r.sentences().join(" ")));
            }
        }
        body.push_str("</ul>\n");
        Some(Section {
            id: "recommendations",
            title: "Recommendations".into(),
            body,
        })
    }

    /// The attack × defense matrices as heat maps (a large one at the ROC
    /// points only).
    fn matrix_section(&self) -> Option<Section> {
        let ms = matrices(self.summary, &self.defenses);
        if ms.is_empty() {
            return None;
        }
        let mut body = String::from(
            "<p>Rows: the attack; columns: the training-set filters, then the <em>perfect</em> \
             ceiling and the <em>random</em> floor. Each cell is the summary.json mean ± the 95 % \
             CI half-width over n repeats, coloured by where the mean sits between that row's \
             random floor and perfect ceiling.</p>\n",
        );
        body.push_str(&heat::scale_legend());
        let color = |name: &str| self.color_of(name);
        for mut m in ms {
            if m.rows.len() > self.large_sweep {
                let keep = self.chosen_points();
                let all = m.rows.len();
                m.rows.retain(|r| keep.contains(&r.point));
                let _ = writeln!(
                    body,
                    "<p>{} of {all} attack settings shown (the ROC points); report.md has every row.</p>",
                    m.rows.len()
                );
            }
            let _ = writeln!(body, "<h3>{}</h3>", esc(&m.title()));
            body.push_str("<div class=\"heats\">\n");
            for measure in MatrixMeasure::ALL {
                if m.rows
                    .iter()
                    .any(|r| r.cells.iter().any(|c| c[measure as usize].is_some()))
                {
                    body.push_str(&heat::heat_map(&m, measure, &color));
                }
            }
            body.push_str("</div>\n");
        }
        Some(Section {
            id: "matrix",
            title: "Attack × defense".into(),
            body,
        })
    }

    /// The points a large sweep details.
    fn chosen_points(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        chosen_points(self.summary, &self.roc_points)
    }

    fn records_at<'r>(&'r self, point: &'r PointSummary) -> impl Iterator<Item = &'r RunRecord> {
        self.records.iter().filter(move |r| r.point == point.point)
    }

    /// Suffix for a point's heading or title ("" without a sweep).
    fn point_title(point: &PointSummary) -> String {
        if point.point.is_empty() {
            String::new()
        } else {
            format!(" — {}", point.label())
        }
    }

    fn h3(point: &PointSummary) -> String {
        if point.point.is_empty() {
            String::new()
        } else {
            format!("<h3>{}</h3>\n", esc(&point.label()))
        }
    }

    /// Charts of `measures` for each series across the sweep (a line per series
    /// against the first swept key), or one grouped bar chart without a sweep;
    /// then a table of every point × series.
    fn across_points(&self, series: &[Series], measures: &[Measure], how: &Across) -> String {
        let Across {
            scale,
            per,
            y_desc,
            combine,
            series_head,
        } = *how;
        let mut out = String::new();
        let charted: Vec<&Measure> = measures.iter().filter(|m| m.chart).collect();
        let value = |i: usize, s: &Series, m: &Measure| self.value(i, s, m);
        let y_max = |points: &[usize], ms: &[&Measure]| {
            points
                .iter()
                .flat_map(|&i| {
                    series.iter().flat_map(move |s| {
                        ms.iter()
                            .filter_map(move |m| value(i, s, m))
                            .map(|(v, ci)| v + ci.unwrap_or(0.0))
                    })
                })
                .fold(0.0_f64, f64::max)
        };
        let y_axis = |desc: &str, points: &[usize], ms: &[&Measure]| match scale {
            Scale::Rate => rate_axis(desc),
            Scale::Count => count_axis(desc, y_max(points, ms)),
        };
        match &self.sweep {
            Some(sweep) => {
                let x = if self.large {
                    sweep.axis(SMALL_INNER, true)
                } else {
                    sweep.axis(PLOT_INNER, false)
                };
                for (group, points) in &sweep.groups {
                    let idx: Vec<usize> = points.iter().map(|p| p.0).collect();
                    if self.large {
                        out.push_str(&self.small_multiples(
                            series, &charted, how, sweep, &x, group, points, &idx,
                        ));
                        continue;
                    }
                    let sets: Vec<Vec<&Measure>> = if combine {
                        vec![charted.clone()]
                    } else {
                        charted.iter().map(|m| vec![*m]).collect()
                    };
                    for set in &sets {
                        let lines = self.lines(series, set, points);
                        if lines.is_empty() {
                            continue;
                        }
                        let mut title = match set.as_slice() {
                            [m] => format!("{} ({}) vs {}", m.long, m.name, sweep.key),
                            _ => {
                                let names: Vec<&str> = set.iter().map(|m| m.name).collect();
                                format!("{} vs {}", join_and(&names), sweep.key)
                            }
                        };
                        if !group.is_empty() {
                            let _ = write!(title, ", {group}");
                        }
                        let desc = match (scale, set.as_slice()) {
                            (Scale::Rate, [m]) => m.name,
                            _ => y_desc,
                        };
                        let y = y_axis(desc, &idx, set);
                        out.push_str(&line_chart(&title, &x, &y, &lines, &[], false));
                    }
                }
            }
            None => {
                let with_values: Vec<&Measure> = charted
                    .iter()
                    .copied()
                    .filter(|m| series.iter().any(|s| value(0, s, m).is_some()))
                    .collect();
                if !with_values.is_empty() {
                    let names: Vec<&str> = with_values.iter().map(|m| m.name).collect();
                    let bars = Bars {
                        categories: series
                            .iter()
                            .map(|s| (s.label.clone(), s.style.reference))
                            .collect(),
                        measures: names.clone(),
                        values: series
                            .iter()
                            .map(|s| with_values.iter().map(|m| value(0, s, m)).collect())
                            .collect(),
                    };
                    let title = capitalize(&format!("{} {per}", join_and(&names)));
                    let y = y_axis(y_desc, &[0], &with_values);
                    out.push_str(&bar_chart(&title, &bars, &y));
                }
            }
        }
        let mut head: Vec<String> = Vec::new();
        if self.sweep.is_some() {
            head.push("point".into());
        }
        head.push(series_head.into());
        head.extend(measures.iter().map(|m| m.name.to_string()));
        let mut rows = Vec::new();
        for p in self.summary {
            for (j, s) in series.iter().enumerate() {
                let mut row = Vec::new();
                if self.sweep.is_some() {
                    row.push(if j == 0 { p.label() } else { String::new() });
                }
                row.push(s.label.clone());
                row.extend(
                    measures
                        .iter()
                        .map(|m| cell(&p.metrics, &format!("{}.{}", s.prefix, m.suffix))),
                );
                rows.push(row);
            }
        }
        let names = if self.sweep.is_some() { 2 } else { 1 };
        if self.large {
            // Hundreds of rows: folded (no script: a <details> element),
            // every figure still in the page and in report.md.
            let _ = writeln!(
                out,
                "<details>\n<summary>The figures at every point ({} rows)</summary>",
                rows.len()
            );
            out.push_str(&table(&head, &rows, names));
            out.push_str("</details>\n");
        } else {
            out.push_str(&table(&head, &rows, names));
        }
        out
    }

    /// Measure `m` of series `s` at summary point `i` (mean and CI half-width).
    fn value(&self, i: usize, s: &Series, m: &Measure) -> Option<Stat> {
        stat(
            &self.summary[i].metrics,
            &format!("{}.{}", s.prefix, m.suffix),
        )
    }

    /// One line per series and measure of `set` over the sweep points
    /// `points` (summary index, x), series without a value left out: a
    /// measure after the first is dashed with the next marker, and labelled
    /// with its name when `set` holds several.
    fn lines<'s>(
        &self,
        series: impl IntoIterator<Item = &'s Series>,
        set: &[&Measure],
        points: &[(usize, f64)],
    ) -> Vec<Line> {
        series
            .into_iter()
            .flat_map(|s| {
                set.iter().enumerate().map(move |(j, m)| Line {
                    label: if set.len() > 1 {
                        format!("{} {}", s.label, m.name)
                    } else {
                        s.label.clone()
                    },
                    style: if j == 0 {
                        s.style
                    } else {
                        Style {
                            dashed: true,
                            marker: MARKERS[(j + 1) % MARKERS.len()],
                            ..s.style
                        }
                    },
                    points: points
                        .iter()
                        .filter_map(|&(i, x)| {
                            stat(
                                &self.summary[i].metrics,
                                &format!("{}.{}", s.prefix, m.suffix),
                            )
                            .map(|(v, ci)| (x, v, ci))
                        })
                        .collect(),
                })
            })
            .filter(|l| !l.points.is_empty())
            .collect()
    }

    /// A large sweep's charts of `measures` for one group of points: per
    /// measure set, one small chart of the models without a defense, then
    /// one per defense (with the attacked model and the references beside
    /// it), each line with its 95 % CI as a band.
    #[allow(clippy::too_many_arguments)]
    fn small_multiples(
        &self,
        series: &[Series],
        charted: &[&Measure],
        how: &Across,
        sweep: &SweepAxis,
        x: &Axis,
        group: &str,
        points: &[(usize, f64)],
        idx: &[usize],
    ) -> String {
        let value = |i: usize, s: &Series, m: &Measure| self.value(i, s, m);
        let baseline = |s: &Series| s.prefix == "clean" || s.prefix == "poisoned";
        let sets: Vec<Vec<&Measure>> = if how.combine {
            vec![charted.to_vec()]
        } else {
            charted.iter().map(|m| vec![*m]).collect()
        };
        // The panels: the models without a defense, then each defense
        // beside the attacked model and the references.
        let mut panels: Vec<(String, Vec<&Series>)> = Vec::new();
        let base: Vec<&Series> = series.iter().filter(|s| baseline(s)).collect();
        if !base.is_empty() {
            panels.push(("no defense".into(), base));
        }
        for s in series.iter().filter(|s| !baseline(s) && !s.style.reference) {
            let mut with: Vec<&Series> = vec![s];
            with.extend(
                series
                    .iter()
                    .filter(|t| t.prefix == "poisoned" || t.style.reference),
            );
            panels.push((s.label.clone(), with));
        }
        let mut out = String::new();
        for set in &sets {
            let names: Vec<&str> = set.iter().map(|m| m.name).collect();
            let mut heading = format!("{} vs {}", join_and(&names), sweep.key);
            if !group.is_empty() {
                let _ = write!(heading, ", {group}");
            }
            let _ = writeln!(out, "<h3>{}</h3>\n<div class=\"multiples\">", esc(&heading));
            for (panel, members) in &panels {
                let lines = self.lines(members.iter().copied(), set, points);
                if lines.is_empty() {
                    continue;
                }
                let y = match how.scale {
                    Scale::Rate => rate_axis(if set.len() == 1 {
                        set[0].name
                    } else {
                        how.y_desc
                    }),
                    Scale::Count => {
                        let max = idx
                            .iter()
                            .flat_map(|&i| {
                                members.iter().flat_map(move |s| {
                                    set.iter().filter_map(move |m| value(i, s, m))
                                })
                            })
                            .map(|(v, ci)| v + ci.unwrap_or(0.0))
                            .fold(0.0_f64, f64::max);
                        count_axis(how.y_desc, max)
                    }
                };
                let title = format!("{heading}: {panel}");
                out.push_str(&band_chart(&title, SMALL, x, &y, &lines));
            }
            out.push_str("</div>\n");
        }
        out
    }

    /// The poisoned-sample counts: a sentence for up to three points, else
    /// a table of point and count.
    fn poison_counts(&self, what: &str) -> String {
        let counts: Vec<(String, String)> = self
            .summary
            .iter()
            .map(|p| (p.label(), count_cell(&p.metrics, "n-poison")))
            .collect();
        if counts.len() > 3 {
            let rows: Vec<Vec<String>> = counts.into_iter().map(|(p, n)| vec![p, n]).collect();
            let head = ["point".to_string(), what.to_string()];
            if self.large {
                return format!(
                    "<details>\n<summary>{}, per point ({} rows)</summary>\n{}</details>\n",
                    esc(what),
                    rows.len(),
                    table(&head, &rows, 1)
                );
            }
            return format!(
                "<p>{}, per point:</p>\n{}",
                esc(what),
                table(&head, &rows, 1)
            );
        }
        let n_poison: Vec<String> = self
            .summary
            .iter()
            .map(|p| {
                let n = count_cell(&p.metrics, "n-poison");
                if p.point.is_empty() {
                    n
                } else {
                    format!("{n} at {}", p.label())
                }
            })
            .collect();
        format!("<p>{}: {}.</p>\n", esc(what), esc(&n_poison.join("; ")))
    }

    /// 2. CA and ASR of every model variant.
    fn attack_section(&self) -> Section {
        if self.federated {
            return self.federated_attack_section();
        }
        let f1 = |name: &str| {
            let key = format!("defense.{name}.f1");
            let v: Vec<f64> = self
                .summary
                .iter()
                .filter_map(|p| p.metrics.get(&key).map(|s| s.mean))
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let mut series = vec![
            Series {
                label: "clean".into(),
                style: CLEAN,
                prefix: "clean".into(),
            },
            Series {
                label: "poisoned".into(),
                style: POISONED,
                prefix: "poisoned".into(),
            },
        ];
        for (name, _) in filter_rows(&self.defenses, f1) {
            let prefix = format!("defense.{name}.retrained");
            let retrained = self
                .summary
                .iter()
                .any(|p| p.metrics.get(&format!("{prefix}.ca")).is_some());
            if retrained {
                series.push(Series {
                    label: format!("after {name}"),
                    style: defense_style(&self.defenses, &name),
                    prefix,
                });
            }
        }
        let measures = [
            Measure {
                name: "CA",
                long: "Clean accuracy",
                suffix: "ca",
                chart: true,
            },
            Measure {
                name: "ASR",
                long: "Attack success rate",
                suffix: "asr",
                chart: true,
            },
            Measure {
                name: "RA",
                long: "Robust accuracy",
                suffix: "ra",
                chart: false,
            },
        ];
        let mut body = String::from(
            "<p>CA = clean accuracy, ASR = attack success rate, RA = robust accuracy. \
             <em>after X</em> is the model retrained on the samples defense X kept; dashed \
             lines (or shaded bars) are the references: <em>perfect</em> removes exactly the \
             poisoned samples and <em>random</em> removes as many samples at random.</p>\n",
        );
        let counts = self.poison_counts("Poisoned training samples");
        // A long table of counts goes below the charts.
        if !self.large {
            body.push_str(&counts);
        }
        body.push_str(&self.across_points(
            &series,
            &measures,
            &Across {
                scale: Scale::Rate,
                per: "per model",
                series_head: "model",
                y_desc: "rate",
                combine: false,
            },
        ));
        if self.large {
            body.push_str(&counts);
        }
        Section {
            id: "attack",
            title: if self.sweep.is_some() {
                "Attack and defenses across the sweep".into()
            } else {
                "Attack and defenses".into()
            },
            body,
        }
    }

    /// 2 (federated). CA, source recall and ASR of every federation's
    /// final global model: the clean one, FedAvg under attack, each aggregator.
    fn federated_attack_section(&self) -> Section {
        let mut series = vec![
            Series {
                label: "clean".into(),
                style: CLEAN,
                prefix: "clean".into(),
            },
            Series {
                label: "FedAvg under attack".into(),
                style: POISONED,
                prefix: "poisoned".into(),
            },
        ];
        series.extend(names_of(&self.defenses, AGGREGATOR).map(|name| Series {
            label: name.clone(),
            style: defense_style(&self.defenses, name),
            prefix: format!("defense.{name}"),
        }));
        let defined = |suffix: &str| {
            self.summary.iter().any(|p| {
                series
                    .iter()
                    .any(|s| p.metrics.get(&format!("{}.{suffix}", s.prefix)).is_some())
            })
        };
        let source_recall = defined("source-recall");
        let mut measures = vec![Measure {
            name: "CA",
            long: "Clean accuracy",
            suffix: "ca",
            chart: true,
        }];
        if source_recall {
            measures.push(Measure {
                name: "source recall",
                long: "Recall of the source class",
                suffix: "source-recall",
                chart: true,
            });
        }
        measures.extend([
            Measure {
                name: "ASR",
                long: "Attack success rate",
                suffix: "asr",
                chart: true,
            },
            Measure {
                name: "RA",
                long: "Robust accuracy",
                suffix: "ra",
                chart: false,
            },
        ]);
        let mut body = format!(
            "<p>The global model at the end of training of each federation: <em>clean</em> \
             has no malicious client and averages with FedAvg, <em>FedAvg under attack</em> has \
             the malicious clients, and each aggregator defense aggregates that same attacked \
             federation. CA = clean accuracy, {}ASR = attack success rate, RA = robust \
             accuracy.</p>\n",
            if source_recall {
                "source recall = recall of the attack's source class (Tolpegin et al.'s \
                 measure of targeted label flipping), "
            } else {
                ""
            }
        );
        body.push_str(&self.poison_counts("Poisoned training samples (on the malicious clients)"));
        body.push_str(&self.across_points(
            &series,
            &measures,
            &Across {
                scale: Scale::Rate,
                per: "per federation",
                series_head: "federation",
                y_desc: "rate",
                combine: false,
            },
        ));
        Section {
            id: "attack",
            title: if self.sweep.is_some() {
                "Federations across the sweep".into()
            } else {
                "Federations".into()
            },
            body,
        }
    }

    /// The filter rows at one point, ordered as in report.md.
    fn rows_at(&self, point: &PointSummary) -> Vec<(String, bool)> {
        let listed = defenses_of(self.records_at(point));
        filter_rows(&listed, |name| {
            point
                .metrics
                .get(&format!("defense.{name}.f1"))
                .map(|s| s.mean)
        })
    }

    /// 3. Mean ROC curve of every filter at each point.
    fn roc_section(&self) -> Option<Section> {
        let mut body = String::from(
            "<p>Each curve is the mean over repeats of the filter's true-positive rate read at \
             fixed false-positive rates (its scores thresholded at every level); the diagonal \
             is a detector that guesses.</p>\n",
        );
        let chosen = self.chosen_points();
        if self.large {
            let _ = writeln!(
                body,
                "<p>A large sweep: curves at {} of its {} points (the first, middle and last value \
                 of {}, or <code>[report] roc-points</code>).</p>",
                chosen.len(),
                self.summary.len(),
                esc(self.sweep.as_ref().map_or("", |s| s.key.as_str()))
            );
        }
        let mut any = false;
        for point in self.summary {
            if self.large && !chosen.contains(&point.point) {
                continue;
            }
            let runs: Vec<&RunRecord> = self.records_at(point).collect();
            let curves: Vec<(String, String, Style, Vec<f64>, usize)> = self
                .rows_at(point)
                .into_iter()
                .filter_map(|(name, reference)| {
                    let (curve, n) = mean_roc(&runs, &name)?;
                    let label = if reference {
                        format!("{name} (reference)")
                    } else {
                        name.clone()
                    };
                    let style = defense_style(&self.defenses, &name);
                    Some((name, label, style, curve, n))
                })
                .collect();
            if curves.is_empty() {
                continue;
            }
            any = true;
            body.push_str(&Self::h3(point));
            let lines: Vec<Line> = curves
                .iter()
                .map(|(_, label, style, curve, _)| Line {
                    label: label.clone(),
                    style: *style,
                    points: ROC_FPRS
                        .iter()
                        .zip(curve)
                        .map(|(&x, &y)| (x, y, None))
                        .collect(),
                })
                .collect();
            let mut x = rate_axis("false-positive rate");
            x.range = (-0.01, 1.01);
            let y = rate_axis("true-positive rate");
            let title = format!("ROC curves{}", Self::point_title(point));
            body.push_str(&line_chart(&title, &x, &y, &lines, &[], true));
            // One column per defense, one row per false-positive rate.
            let mut head = vec!["FPR".to_string()];
            head.extend(curves.iter().map(|c| format!("TPR {}", c.1)));
            let mut rows = vec![
                std::iter::once("runs with a curve".to_string())
                    .chain(curves.iter().map(|c| c.4.to_string()))
                    .collect::<Vec<_>>(),
                std::iter::once("AUROC".to_string())
                    .chain(
                        curves
                            .iter()
                            .map(|c| cell(&point.metrics, &format!("defense.{}.auroc", c.0))),
                    )
                    .collect(),
            ];
            rows.extend(ROC_FPRS.iter().enumerate().map(|(i, f)| {
                std::iter::once(num_label(*f))
                    .chain(curves.iter().map(|c| format!("{:.3}", c.3[i])))
                    .collect()
            }));
            body.push_str(&table(&head, &rows, 1));
        }
        any.then_some(Section {
            id: "roc",
            title: "ROC curves".into(),
            body,
        })
    }

    /// 4. TPR and FPR of every filter at each point, and report.md's filter table.
    fn detection_section(&self) -> Option<Section> {
        let mut body = String::from(
            "<p>Training-set filters, best F1 first, between the <em>perfect</em> ceiling and \
             the <em>random</em> floor (shaded). TPR = share of the poisoned samples flagged, \
             FPR = share of the clean samples flagged, FPR clean = share of the unpoisoned \
             training set the filter flags; CA after / ASR after are measured on the model \
             retrained on the samples the filter kept.</p>\n",
        );
        if self.large {
            // No bar charts here: the references are the dashed grey lines.
            body = body.replace(
                "floor (shaded).",
                "floor (dashed grey lines in the charts).",
            );
            return self.large_detection(body);
        }
        let mut any = false;
        for point in self.summary {
            let rows = self.rows_at(point);
            if rows.is_empty() {
                continue;
            }
            any = true;
            body.push_str(&Self::h3(point));
            let mm = &point.metrics;
            let bars = Bars {
                categories: rows.clone(),
                measures: vec!["TPR", "FPR"],
                values: rows
                    .iter()
                    .map(|(name, _)| {
                        ["tpr", "fpr"]
                            .iter()
                            .map(|m| stat(mm, &format!("defense.{name}.{m}")))
                            .collect()
                    })
                    .collect(),
            };
            let title = format!(
                "Detection: TPR and FPR per filter{}",
                Self::point_title(point)
            );
            body.push_str(&bar_chart(&title, &bars, &rate_axis("rate")));
            let head: Vec<String> = [
                "defense",
                "flagged",
                "TPR",
                "FPR",
                "precision",
                "F1",
                "AUROC",
                "FPR clean",
                "CA after",
                "ASR after",
                "recovery",
                "DER",
            ]
            .map(String::from)
            .to_vec();
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|(name, reference)| {
                    let p = format!("defense.{name}");
                    let mut row = vec![if *reference {
                        format!("{name} (reference)")
                    } else {
                        name.clone()
                    }];
                    row.push(count_cell(mm, &format!("{p}.flagged")));
                    row.extend(
                        [
                            "tpr",
                            "fpr",
                            "precision",
                            "f1",
                            "auroc",
                            "clean-fpr",
                            "retrained.ca",
                            "retrained.asr",
                            "recovery",
                            "der",
                        ]
                        .iter()
                        .map(|m| cell(mm, &format!("{p}.{m}"))),
                    );
                    row
                })
                .collect();
            body.push_str(&table(&head, &table_rows, 1));
            for (name, _) in &rows {
                let key = format!("defense.{name}.label-test.p-value");
                if mm.get(&key).is_some() {
                    let _ = writeln!(
                        body,
                        "<p>{}: chi-square test of the training labels against the trusted \
                         labels, p = {}.</p>",
                        esc(name),
                        esc(&cell(mm, &key))
                    );
                }
            }
        }
        any.then_some(Section {
            id: "detection",
            title: "Detection".into(),
            body,
        })
    }

    /// 4 (large sweeps). TPR and FPR of each filter across the sweep as
    /// small multiples beside the references, then one table of every point.
    fn large_detection(&self, mut body: String) -> Option<Section> {
        let f1 = |name: &str| {
            let key = format!("defense.{name}.f1");
            let v: Vec<f64> = self
                .summary
                .iter()
                .filter_map(|p| p.metrics.get(&key).map(|s| s.mean))
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let series: Vec<Series> = filter_rows(&self.defenses, f1)
            .into_iter()
            .filter(|(name, _)| {
                self.summary
                    .iter()
                    .any(|p| p.metrics.get(&format!("defense.{name}.tpr")).is_some())
            })
            .map(|(name, reference)| Series {
                label: if reference {
                    format!("{name} (reference)")
                } else {
                    name.clone()
                },
                style: defense_style(&self.defenses, &name),
                prefix: format!("defense.{name}"),
            })
            .collect();
        if series.is_empty() {
            return None;
        }
        let measure = |name, long, suffix, chart| Measure {
            name,
            long,
            suffix,
            chart,
        };
        let measures = [
            measure("TPR", "True-positive rate", "tpr", true),
            measure("FPR", "False-positive rate", "fpr", true),
            measure("precision", "Precision", "precision", false),
            measure("F1", "F1", "f1", false),
            measure("AUROC", "AUROC", "auroc", false),
            measure("CA after", "Clean accuracy after", "retrained.ca", false),
            measure(
                "ASR after",
                "Attack success rate after",
                "retrained.asr",
                false,
            ),
        ];
        body.push_str(&self.across_points(
            &series,
            &measures,
            &Across {
                scale: Scale::Rate,
                per: "per filter",
                series_head: "defense",
                y_desc: "rate",
                combine: false,
            },
        ));
        Some(Section {
            id: "detection",
            title: "Detection".into(),
            body,
        })
    }

    /// 5. CA and ASR round by round, with each monitor's mean first alarm.
    ///
    /// Federated points have their own section.
    fn rounds_section(&self) -> Option<Section> {
        let drifting = |r: &RunRecord| r.rounds.is_some() && r.federation.is_none();
        if !self.records.iter().any(drifting) {
            return None;
        }
        let mut body = String::from(
            "<p>Each model after training on that round's data. ASR = drifting-class test \
             samples called the drift target; \"other\" = every class but the drifting one. \
             Vertical lines mark each round monitor's mean first alarm on the poisoned \
             run.</p>\n",
        );
        let mut any = false;
        for point in self.summary {
            let mm = &point.metrics;
            let rounds = (1..)
                .take_while(|r| mm.get(&format!("round.{r}.ca")).is_some())
                .count();
            if rounds == 0 || !self.records_at(point).any(drifting) {
                continue;
            }
            any = true;
            body.push_str(&Self::h3(point));
            let series = [
                ("clean CA", CLEAN, "clean-ca"),
                ("poisoned CA", POISONED, "ca"),
                ("poisoned ASR", ASR, "asr"),
                ("poison share", SHARE, "poison-share"),
            ];
            let lines: Vec<Line> = series
                .iter()
                .map(|(label, style, m)| Line {
                    label: label.to_string(),
                    style: *style,
                    points: (1..=rounds)
                        .filter_map(|r| {
                            stat(mm, &format!("round.{r}.{m}")).map(|(v, ci)| (r as f64, v, ci))
                        })
                        .collect(),
                })
                .filter(|l| !l.points.is_empty())
                .collect();
            let monitors: Vec<&String> = names_of(&self.defenses, "monitor").collect();
            let marks: Vec<Mark> = monitors
                .iter()
                .filter_map(|name| {
                    let s = mm.get(&format!("defense.{name}.first-alarm-round"))?;
                    Some(Mark {
                        x: s.mean,
                        label: format!("{name}: first alarm {}", num_label(s.mean)),
                    })
                })
                .collect();
            let title = format!("Round by round{}", Self::point_title(point));
            let y = rate_axis("accuracy / rate");
            body.push_str(&line_chart(
                &title,
                &round_axis(rounds),
                &y,
                &lines,
                &marks,
                false,
            ));
            let silent: Vec<String> = monitors
                .iter()
                .filter(|name| {
                    mm.get(&format!("defense.{name}.first-alarm-round"))
                        .is_none()
                        && mm.get(&format!("defense.{name}.alarms")).is_some()
                })
                .map(|n| esc(n))
                .collect();
            if !silent.is_empty() {
                let _ = writeln!(
                    body,
                    "<p>No alarm on the poisoned run: {}.</p>",
                    silent.join(", ")
                );
            }
            let head: Vec<String> = [
                "round",
                "poison share",
                "clean CA",
                "poisoned CA",
                "ASR",
                "clean CA other",
                "poisoned CA other",
            ]
            .map(String::from)
            .to_vec();
            let rows: Vec<Vec<String>> = (1..=rounds)
                .map(|r| {
                    let mut row = vec![r.to_string()];
                    row.extend(
                        [
                            "poison-share",
                            "clean-ca",
                            "ca",
                            "asr",
                            "clean-ca-other",
                            "ca-other",
                        ]
                        .iter()
                        .map(|m| cell(mm, &format!("round.{r}.{m}"))),
                    );
                    row
                })
                .collect();
            body.push_str(&table(&head, &rows, 1));
        }
        any.then_some(Section {
            id: "rounds",
            title: "Rounds".into(),
            body,
        })
    }

    /// 5 (federated). Per point: the clients, a chart over the rounds of CA
    /// and of the attack's measure with a line per federation, the
    /// federations at the end of training, and a short round-by-round table.
    fn federation_section(&self) -> Option<Section> {
        let mut body = String::from(
            "<p>Each federation's global model after every measured round: <em>clean</em> has \
             no malicious client (FedAvg), <em>FedAvg</em> is under attack, and each aggregator \
             defense aggregates that same attacked federation. Shaded bands are the 95 % \
             confidence intervals over repeats. Client TPR / FPR = malicious / benign client \
             updates the aggregator flagged or left out, over every round; recovery and DER \
             are measured against FedAvg under attack.</p>\n",
        );
        let mut any = false;
        for point in self.summary {
            let runs: Vec<&RunRecord> = self.records_at(point).collect();
            let Some(fed) = FederatedPoint::new(point, &runs) else {
                continue;
            };
            any = true;
            body.push_str(&Self::h3(point));
            for line in [fed.clients(), fed.rejected()].into_iter().flatten() {
                let _ = writeln!(body, "<p>{}</p>", esc(&line));
            }
            if let Some(&last) = fed.rounds.last() {
                let mut charted = vec![("ca", "Clean accuracy", "CA")];
                if fed.headline != Headline::Ca {
                    let h = fed.headline;
                    charted.push((h.suffix(), h.long(), h.name()));
                }
                for (suffix, long, name) in charted {
                    let lines = self.federation_lines(&fed, suffix);
                    if lines.is_empty() {
                        continue;
                    }
                    let title = format!("{long} ({name}) by round{}", Self::point_title(point));
                    body.push_str(&band_chart(
                        &title,
                        FULL,
                        &round_axis(last),
                        &rate_axis(name),
                        &lines,
                    ));
                }
            }
            captioned_table(
                &mut body,
                "Federations at the end of training.",
                &fed.final_table(),
            );
            if !fed.rounds.is_empty() {
                let caption = format!(
                    "Round by round ({}); malicious selected = attacking clients among \
                     those selected that round.",
                    fed.shown_in_words()
                );
                captioned_table(&mut body, &caption, &fed.rounds_table());
            }
        }
        any.then_some(Section {
            id: "federation",
            title: "Federation round by round".into(),
            body,
        })
    }

    /// Transfer points: the split, a chart of CA and ASR over the
    /// fine-tuning epochs (epoch 0 = the base models), which model is which,
    /// and the epoch-by-epoch table.
    fn transfer_section(&self) -> Option<Section> {
        let mut body = format!(
            "<p>Epoch 0 is the base model before fine-tuning (the clean base for <em>clean \
             CA</em>, the attacked pipeline's base for <em>poisoned CA</em> and <em>ASR</em>); \
             every later point is the model after that fine-tuning epoch. Shaded bands are the \
             95 % confidence intervals over repeats. {}</p>\n",
            transfer::note(|w| format!("<em>{w}</em>"))
        );
        let mut any = false;
        for point in self.summary {
            let runs: Vec<&RunRecord> = self.records_at(point).collect();
            let Some(t) = TransferPoint::new(point, &runs) else {
                continue;
            };
            any = true;
            body.push_str(&Self::h3(point));
            let _ = writeln!(body, "<p>{}</p>", esc(&t.split()));
            let lines: Vec<Line> = Curve::ALL
                .iter()
                .map(|&c| Line {
                    label: c.label().to_string(),
                    style: match c {
                        Curve::CleanCa => CLEAN,
                        Curve::Ca => POISONED,
                        Curve::Asr => ASR,
                    },
                    points: t
                        .series(c)
                        .into_iter()
                        .map(|(e, (mean, ci))| (e, mean, ci))
                        .collect(),
                })
                .filter(|l| !l.points.is_empty())
                .collect();
            if !lines.is_empty() {
                let title = format!(
                    "CA and ASR over the fine-tuning epochs{}",
                    Self::point_title(point)
                );
                body.push_str(&band_chart(
                    &title,
                    FULL,
                    &epoch_axis(t.last_epoch()),
                    &rate_axis("accuracy / rate"),
                    &lines,
                ));
            }
            captioned_table(
                &mut body,
                "Which model: the two base models before fine-tuning, then the two fine-tuned \
                 models.",
                &t.models_table(),
            );
            captioned_table(&mut body, "Epoch by epoch.", &t.epochs_table());
        }
        any.then_some(Section {
            id: "transfer",
            title: "Transfer learning".into(),
            body,
        })
    }

    /// One line per federation of `fed` over the rounds, of `suffix`.
    fn federation_lines(&self, fed: &FederatedPoint<'_>, suffix: &str) -> Vec<Line> {
        fed.federations
            .iter()
            .map(|f| Line {
                label: f.short(),
                style: match f {
                    Federation::Clean => CLEAN,
                    Federation::FedAvg => POISONED,
                    Federation::Aggregator(name) => defense_style(&self.defenses, name),
                },
                points: fed
                    .series(f, suffix)
                    .into_iter()
                    .map(|(r, (mean, ci))| (r, mean, ci))
                    .collect(),
            })
            .filter(|l| !l.points.is_empty())
            .collect()
    }

    fn kind_series(&self, kind: &str) -> Vec<Series> {
        names_of(&self.defenses, kind)
            .map(|name| Series {
                label: name.clone(),
                style: defense_style(&self.defenses, name),
                prefix: format!("defense.{name}"),
            })
            .collect()
    }

    /// 6a. Input-time detectors: FAR and FRR.
    fn input_section(&self) -> Option<Section> {
        let series = self.kind_series("input-detector");
        if series.is_empty() {
            return None;
        }
        let measures = [
            Measure {
                name: "FAR",
                long: "False acceptance rate",
                suffix: "far",
                chart: true,
            },
            Measure {
                name: "FRR",
                long: "False rejection rate",
                suffix: "frr",
                chart: true,
            },
        ];
        let mut body = String::from(
            "<p>FAR = attack test inputs let through, FRR = clean test inputs rejected.</p>\n",
        );
        body.push_str(&self.across_points(
            &series,
            &measures,
            &Across {
                scale: Scale::Rate,
                per: "per detector",
                series_head: "detector",
                y_desc: "rate",
                combine: true,
            },
        ));
        Some(Section {
            id: "input-detectors",
            title: "Input-time detectors".into(),
            body,
        })
    }

    /// 6b. Round monitors: first alarm, alarmed rounds, false alarms.
    fn monitor_section(&self) -> Option<Section> {
        let series = self.kind_series("monitor");
        if series.is_empty() {
            return None;
        }
        let measures = [
            Measure {
                name: "first alarm",
                long: "First alarm on the poisoned run",
                suffix: "first-alarm-round",
                chart: true,
            },
            Measure {
                name: "alarmed rounds",
                long: "Rounds that alarmed on the poisoned run",
                suffix: "alarms",
                chart: true,
            },
            Measure {
                name: "false alarms",
                long: "Rounds that alarmed on the clean run",
                suffix: "false-alarms",
                chart: true,
            },
        ];
        let mut body = String::from(
            "<p>First alarm = first round whose check alarmed on the poisoned run (— when none \
             did); false alarms = rounds that alarmed on the clean run of the same length.</p>\n",
        );
        body.push_str(&self.across_points(
            &series,
            &measures,
            &Across {
                scale: Scale::Count,
                per: "per monitor",
                series_head: "monitor",
                y_desc: "rounds",
                combine: true,
            },
        ));
        Some(Section {
            id: "monitors",
            title: "Round monitors".into(),
            body,
        })
    }

    /// 6c. Model-repair defenses: model-level detection and the repaired model.
    fn repair_section(&self) -> Option<Section> {
        let series = self.kind_series("model-repair");
        if series.is_empty() {
            return None;
        }
        let measures = [
            Measure {
                name: "model TPR",
                long: "Backdoored models flagged",
                suffix: "model-tpr",
                chart: true,
            },
            Measure {
                name: "model FPR",
                long: "Clean models flagged",
                suffix: "model-fpr",
                chart: true,
            },
            Measure {
                name: "CA after",
                long: "Clean accuracy of the repaired model",
                suffix: "repaired.ca",
                chart: true,
            },
            Measure {
                name: "ASR after",
                long: "Attack success rate on the repaired model",
                suffix: "repaired.asr",
                chart: true,
            },
        ];
        let mut body = String::from(
            "<p>Model TPR / FPR = share of runs whose poisoned / clean model the defense flagged \
             as backdoored (defenses that judge models); CA / ASR after = the repaired model.</p>\n",
        );
        body.push_str(&self.across_points(
            &series,
            &measures,
            &Across {
                scale: Scale::Rate,
                per: "per defense",
                series_head: "defense",
                y_desc: "rate",
                combine: true,
            },
        ));
        Some(Section {
            id: "model-repair",
            title: "Model-repair defenses".into(),
            body,
        })
    }
}

/// A paragraph, then `table` (one name column).
fn captioned_table(out: &mut String, caption: &str, t: &crate::federated::Table) {
    let _ = writeln!(out, "<p>{}</p>", esc(caption));
    out.push_str(&table(&t.head, &t.rows, 1));
}

/// The mean over `runs` of defense `name`'s ROC curve, and how many runs had one.
fn mean_roc(runs: &[&RunRecord], name: &str) -> Option<(Vec<f64>, usize)> {
    let curves: Vec<&Vec<f64>> = runs
        .iter()
        .filter_map(|r| r.defenses.iter().find(|d| d.name == name))
        .filter_map(|d| d.detection.as_ref())
        .map(|d| &d.roc_tpr)
        .filter(|c| c.len() == ROC_FPRS.len() && c.iter().all(|v| v.is_finite()))
        .collect();
    if curves.is_empty() {
        return None;
    }
    let n = curves.len() as f64;
    let mean = (0..ROC_FPRS.len())
        .map(|i| curves.iter().map(|c| c[i]).sum::<f64>() / n)
        .collect();
    Some((mean, curves.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{
        AttackInfo, DefenseRecord, Detection, InputDetection, ModelEval, MonitorRecord, RoundRecord,
    };
    use crate::summary::summarize;
    use poisonlab_scenario::Custody;

    const SWEPT: &str = r#"
[scenario]
name = "html-test"
description = "BadNets on <digits> & friends"
repeats = 2

[data]
source = "synthetic-digits"
train = 300
test = 100
trusted = 20

[attack]
kind = "badnets"
target = 0
rate = 0.1

[[defense]]
kind = "knn-label"
name = "<b>knn</b>"

[[defense]]
kind = "loss-filter"

[[defense]]
kind = "strip"

[sweep]
"attack.rate" = [0.05, 0.1, 0.2]
"#;

    const ROUNDS: &str = r#"
[scenario]
name = "rounds-test"

[data]
source = "synthetic-digits"
train = 400
test = 100
trusted = 50

[training]
regime = "rounds"
rounds = 4

[attack]
kind = "drift"
source = 7
target = 1
max-rate = 0.8

[[defense]]
kind = "canary"

[[defense]]
kind = "cusum"
"#;

    fn eval(ca: f64, asr: Option<f64>) -> ModelEval {
        ModelEval {
            ca: Some(ca),
            asr,
            ra: asr.map(|a| 1.0 - a),
            per_class_recall: vec![],
            source_recall: None,
        }
    }

    fn filter(name: &str, kind: &str, tpr: f64, fpr: f64, ca: f64, asr: f64) -> DefenseRecord {
        let mut d = DefenseRecord::new(name, kind);
        d.detection = Some(Detection {
            tp: (tpr * 30.0) as usize,
            fp: (fpr * 270.0) as usize,
            tn: 270 - (fpr * 270.0) as usize,
            fn_: 30 - (tpr * 30.0) as usize,
            tpr: Some(tpr),
            fpr: Some(fpr),
            precision: Some(0.5),
            f1: Some(tpr * 0.9),
            auroc: Some((1.0 + tpr - fpr) / 2.0),
            roc_tpr: ROC_FPRS.iter().map(|f| (f + tpr).min(1.0)).collect(),
            auroc_class: None,
        });
        d.retrained = Some(eval(ca, Some(asr)));
        d.recovery = None;
        d.der = Some(0.7);
        d
    }

    fn record(point: serde_json::Value, repeat: u64, rate: f64) -> RunRecord {
        let mut strip = DefenseRecord::new("strip", "input-detector");
        strip.input = Some(InputDetection {
            far: Some(0.1 + rate),
            frr: Some(0.05),
            threshold: Some(0.3),
        });
        let mut broken = filter("loss-filter", "filter", 0.0, 0.0, 0.9, 0.9);
        if repeat == 1 {
            broken.detection = None;
            broken.retrained = None;
            broken.error = Some("too few <samples>".into());
        }
        RunRecord {
            schema: crate::RECORD_SCHEMA,
            fingerprint: None,
            kernels: None,
            point: point.as_object().cloned().unwrap_or_default(),
            repeat,
            seed: 1 + repeat,
            n_train: 300,
            n_poison: (300.0 * rate) as usize,
            attack: AttackInfo {
                kind: "badnets".into(),
                at: Custody::Source,
                crafting: None,
            },
            n_test: 100,
            clean: eval(0.95 + 0.01 * repeat as f64, Some(0.02)),
            poisoned: eval(0.93, Some(0.5 + rate + 0.05 * repeat as f64)),
            defenses: vec![
                filter("<b>knn</b>", "filter", 0.9 - rate, 0.02, 0.94, 0.05),
                broken,
                strip,
                filter("perfect", "reference", 1.0, 0.0, 0.95, 0.02),
                filter("random", "reference", 0.1, 0.1, 0.92, 0.6),
            ],
            data_root: None,
            clean_root: None,
            recipe: None,
            model_fingerprint: None,
            rounds: None,
            federation: None,
            transfer: None,
            seconds: Default::default(),
        }
    }

    fn swept() -> (Scenario, Vec<RunRecord>) {
        let scenario = Scenario::parse(SWEPT, "test.toml").unwrap();
        let records = [0.05, 0.1, 0.2]
            .iter()
            .flat_map(|&rate| {
                (0..2).map(move |rep| record(serde_json::json!({ "attack.rate": rate }), rep, rate))
            })
            .collect();
        (scenario, records)
    }

    fn rounds() -> (Scenario, Vec<RunRecord>) {
        let scenario = Scenario::parse(ROUNDS, "test.toml").unwrap();
        let records = (0..3)
            .map(|rep| {
                let mut r = record(serde_json::json!({}), rep, 0.0);
                r.poisoned.asr = None;
                r.defenses.retain(|d| d.kind == "reference");
                for (name, first) in [("canary", Some(2 + rep as usize)), ("cusum", None)] {
                    let mut d = DefenseRecord::new(name, "monitor");
                    d.monitor = Some(MonitorRecord {
                        first_alarm_round: first,
                        alarms: first.map_or(0, |f| 5 - f),
                        false_alarms: 0,
                        statistic: vec![0.1; 4],
                        clean_statistic: vec![0.0; 4],
                        threshold: 1.0,
                    });
                    r.defenses.push(d);
                }
                r.rounds = Some(
                    (1..=4)
                        .map(|round| RoundRecord {
                            round,
                            n: 100,
                            n_poison: 20 * round,
                            poison_share: 0.2 * round as f64,
                            clean_ca: Some(0.9),
                            clean_ca_other: Some(0.91),
                            ca: Some(0.9 - 0.05 * round as f64),
                            asr: Some(0.1 * round as f64 + 0.01 * rep as f64),
                            ca_other: (round > 1).then_some(0.9),
                            malicious: None,
                            source_recall: None,
                            clean_source_recall: None,
                        })
                        .collect(),
                );
                r
            })
            .collect();
        (scenario, records)
    }

    fn render(scenario: &Scenario, records: &[RunRecord]) -> String {
        html_report(scenario, records, &summarize(records))
    }

    /// The `<h2>` sections: (heading, body up to the next heading).
    fn sections(html: &str) -> Vec<(String, String)> {
        html.split("<h2>")
            .skip(1)
            .map(|s| {
                let (head, body) = s.split_once("</h2>").unwrap();
                (head.to_string(), body.to_string())
            })
            .collect()
    }

    fn assert_charts_in_sections(html: &str, expected: &[&str]) {
        let found = sections(html);
        let heads: Vec<&str> = found.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(heads, expected);
        for (head, body) in &found {
            match head.as_str() {
                // Text, and heat maps (tables) without a chart.
                "Scenario" | "Recommendations" => {}
                "Attack × defense" => assert!(body.contains("<table class=\"heat\">")),
                _ => {
                    assert!(body.contains("<svg"), "section {head} has no chart");
                    assert!(body.contains("<table>"), "section {head} has no table");
                }
            }
        }
    }

    #[test]
    fn every_swept_section_has_a_chart_and_a_table() {
        let (scenario, records) = swept();
        let html = render(&scenario, &records);
        assert_charts_in_sections(
            &html,
            &[
                "Recommendations",
                "Attack × defense",
                "Attack and defenses across the sweep",
                "ROC curves",
                "Detection",
                "Input-time detectors",
                "Scenario",
            ],
        );
        // CA and ASR line charts, one ROC and one detection chart per point, FAR with FRR.
        assert_eq!(html.matches("<svg").count(), 2 + 3 + 3 + 1);
        assert!(html.contains("<title>Clean accuracy (CA) vs attack.rate</title>"));
        // Every chart is titled, and the point values label the x axis.
        assert_eq!(
            html.matches("<svg").count(),
            html.matches("<figcaption>").count()
        );
        assert!(html.contains(">\n0.05\n</text>"));
    }

    #[test]
    fn the_page_is_self_contained() {
        let (scenario, records) = swept();
        let html = render(&scenario, &records);
        for banned in [
            "src=\"http",
            "href=\"http",
            "<script",
            "<link",
            "@import",
            "url(",
        ] {
            assert!(!html.contains(banned), "found {banned}");
        }
        assert!(!html.contains("http"), "no URL at all");
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        assert!(html.contains("@media print"));
    }

    #[test]
    fn the_same_records_give_the_same_bytes() {
        let (scenario, records) = swept();
        let a = render(&scenario, &records);
        let b = render(&scenario, &records.clone());
        assert_eq!(a, b);
        let (scenario, records) = rounds();
        assert_eq!(render(&scenario, &records), render(&scenario, &records));
        let (scenario, records) = crate::federated::fixture::federated();
        assert_eq!(render(&scenario, &records), render(&scenario, &records));
        let (scenario, records) = crate::transfer::fixture::transfer();
        assert_eq!(render(&scenario, &records), render(&scenario, &records));
    }

    #[test]
    fn text_is_escaped_everywhere() {
        let (scenario, records) = swept();
        let html = render(&scenario, &records);
        assert!(!html.contains("<b>"), "a defense name became markup");
        assert!(
            !html.contains("<samples>"),
            "an error message became markup"
        );
        assert!(!html.contains("<digits>"), "the description became markup");
        assert!(html.contains("&lt;b&gt;knn&lt;/b&gt;"));
        assert!(html.contains("BadNets on &lt;digits&gt; &amp; friends"));
        assert!(html.contains("too few &lt;samples&gt;"));
        // The resolved scenario, escaped, in a <pre>.
        assert!(html.contains("<pre># The scenario as poisonlab resolved it"));
        assert!(html.contains("name = &quot;&lt;b&gt;knn&lt;/b&gt;&quot;"));
    }

    #[test]
    fn filters_rank_by_f1_between_the_references() {
        let (scenario, records) = swept();
        let html = render(&scenario, &records);
        let (_, detection) = sections(&html)
            .into_iter()
            .find(|(h, _)| h == "Detection")
            .unwrap();
        let at = |s: &str| detection.find(s).unwrap();
        let perfect = at("<th scope=\"row\" class=\"name\">perfect (reference)");
        let knn = at("<th scope=\"row\" class=\"name\">&lt;b&gt;knn");
        let loss = at("<th scope=\"row\" class=\"name\">loss-filter");
        let random = at("<th scope=\"row\" class=\"name\">random (reference)");
        assert!(perfect < knn && knn < loss && loss < random);
    }

    #[test]
    fn undefined_values_are_dashes_and_left_out_of_charts() {
        let (scenario, records) = rounds();
        let html = render(&scenario, &records);
        // Poisoned ASR is undefined in every run: a dash in the table, no bar.
        assert!(html.contains("<td>—</td>"));
        assert!(!html.contains("NaN"));
        let (_, attack) = &sections(&html)
            .into_iter()
            .find(|(h, _)| h.starts_with("Attack and") || h.starts_with("Federations"))
            .unwrap();
        assert!(attack.contains("<title>CA and ASR per model</title>"));
    }

    #[test]
    fn rounds_and_monitors_without_a_sweep() {
        let (scenario, records) = rounds();
        let html = render(&scenario, &records);
        assert_charts_in_sections(
            &html,
            &[
                "Recommendations",
                "Attack and defenses",
                "ROC curves",
                "Detection",
                "Rounds",
                "Round monitors",
                "Scenario",
            ],
        );
        // The canary's mean first alarm (rounds 2, 3, 4) is marked; cusum never alarmed.
        assert!(html.contains("canary: first alarm 3"));
        assert!(html.contains("No alarm on the poisoned run: cusum."));
        assert!(html.contains("<title>Round by round</title>"));
        // Four rounds in the table.
        assert!(html.contains("<th scope=\"row\" class=\"name\">4</th>"));
    }

    #[test]
    fn no_runs_gives_a_page_with_the_scenario() {
        let (scenario, _) = swept();
        let html = render(&scenario, &[]);
        assert!(html.contains("No run has finished yet."));
        assert_charts_in_sections(&html, &["Scenario"]);
    }

    #[test]
    fn string_sweeps_use_their_values_as_categories() {
        let (scenario, mut records) = swept();
        for r in &mut records {
            let v = r.point["attack.rate"].as_f64().unwrap();
            r.point
                .insert("attack.rate".into(), serde_json::json!(format!("rate {v}")));
        }
        let html = render(&scenario, &records);
        assert!(html.contains(">\nrate 0.05\n</text>"));
        assert_charts_in_sections(
            &html,
            &[
                "Recommendations",
                "Attack × defense",
                "Attack and defenses across the sweep",
                "ROC curves",
                "Detection",
                "Input-time detectors",
                "Scenario",
            ],
        );
    }

    #[test]
    fn a_federated_run_charts_every_federation_over_the_rounds() {
        let (scenario, records) = crate::federated::fixture::federated();
        let html = render(&scenario, &records);
        assert_charts_in_sections(
            &html,
            &["Federations", "Federation round by round", "Scenario"],
        );
        assert!(!html.to_lowercase().contains("drift"));
        let (_, rounds) = sections(&html)
            .into_iter()
            .find(|(h, _)| h == "Federation round by round")
            .unwrap();
        // CA and the source class's recall, over the rounds.
        let charts: Vec<&str> = rounds.split("<svg").skip(1).collect();
        assert_eq!(charts.len(), 2);
        assert!(rounds.contains("<title>Clean accuracy (CA) by round</title>"));
        assert!(
            rounds.contains("<title>Recall of the source class (source recall) by round</title>")
        );
        let band = format!("opacity=\"{BAND_OPACITY}\"");
        for chart in charts {
            let chart = &chart[..chart.find("</svg>").unwrap()];
            // One line per federation in the legend...
            let legend: Vec<&str> = ["clean", "FedAvg", "median", "krum", "trimmed-mean"]
                .into_iter()
                .filter(|l| chart.contains(&format!(">\n{l}\n</text>")))
                .collect();
            assert_eq!(legend.len(), 5, "{legend:?}");
            // ...and a band for each one with two repeats (trimmed-mean
            // failed in one).
            assert_eq!(chart.matches(&band).count(), 4);
        }
        // The tables report.md has, the first rows of each.
        assert!(rounds.contains(
            "<th scope=\"row\" class=\"name\">clean (no malicious client, FedAvg)</th>\
             <td>0.910 ± 0.127</td>"
        ));
        assert!(rounds.contains("<th scope=\"row\" class=\"name\">25</th><td>1</td>"));
        assert!(rounds.contains("one measured round in 3 and the last"));
        // The final models across federations.
        let (_, attack) = &sections(&html)
            .into_iter()
            .find(|(h, _)| h.starts_with("Attack and") || h.starts_with("Federations"))
            .unwrap();
        assert!(attack.contains("<title>CA, source recall and ASR per federation</title>"));
        assert!(attack.contains("<th scope=\"row\" class=\"name\">FedAvg under attack</th>"));
        assert!(
            attack.contains("<th scope=\"row\" class=\"name\">krum</th><td>0.710 ± 0.127</td>")
        );
    }

    #[test]
    fn a_transfer_run_charts_ca_and_asr_over_the_fine_tuning_epochs() {
        let (scenario, records) = crate::transfer::fixture::transfer();
        let html = render(&scenario, &records);
        assert_charts_in_sections(
            &html,
            &[
                "Recommendations",
                "Attack and defenses",
                "Transfer learning",
                "Detection",
                "Scenario",
            ],
        );
        let (_, transfer) = sections(&html)
            .into_iter()
            .find(|(h, _)| h == "Transfer learning")
            .unwrap();
        assert!(
            transfer.contains("<p>Split: 200 samples pretrain the base model, 200 fine-tune it.")
        );
        let charts: Vec<&str> = transfer.split("<svg").skip(1).collect();
        assert_eq!(charts.len(), 1);
        let chart = &charts[0][..charts[0].find("</svg>").unwrap()];
        assert!(chart.contains("<title>CA and ASR over the fine-tuning epochs</title>"));
        for l in ["clean CA", "poisoned CA", "ASR"] {
            assert!(chart.contains(&format!(">\n{l}\n</text>")), "no line {l}");
        }
        // The two CA curves differ between repeats: a band each; the ASR
        // agrees, so no band.
        let band = format!("opacity=\"{BAND_OPACITY}\"");
        assert_eq!(chart.matches(&band).count(), 2);
        // The x axis starts at epoch 0, the base model.
        assert!(chart.contains("fine-tuning epoch (0 = the base model)"));
        assert!(chart.contains(">\n0\n</text>") && chart.contains(">\n3\n</text>"));
        // The tables report.md has.
        assert!(transfer.contains(
            "<th scope=\"row\" class=\"name\">attacked pipeline&#39;s base (before \
             fine-tuning)</th><td>0.490 ± 0.127</td><td>0.900 ± 0.000</td>"
        ));
        assert!(transfer.contains(
            "<th scope=\"row\" class=\"name\">0 (base)</th><td>0.510 ± 0.127</td>\
             <td>0.490 ± 0.127</td><td>0.900 ± 0.000</td>"
        ));
        assert!(transfer.contains("<th scope=\"row\" class=\"name\">3</th>"));
        assert!(transfer.contains("<em>clean</em> and <em>poisoned</em> are the fine-tuned"));
        // Nothing of it for other regimes.
        let (scenario, records) = swept();
        assert!(!render(&scenario, &records).contains("fine-tun"));
        let (scenario, records) = rounds();
        assert!(!render(&scenario, &records).contains("Transfer learning"));
    }

    #[test]
    fn axis_helpers() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(2.0), 2.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(num_label(0.05), "0.05");
        assert_eq!(num_label(3.0), "3");
        assert_eq!(num_label(2.6667), "2.667");
        assert_eq!(
            wrap("after spectral-signatures", 12),
            ["after", "spectral-", "signatures"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("short", 12), ["short"]);
        let mut ticks = vec![
            (0.0, "0".to_string()),
            (0.001, "0.001".into()),
            (1.0, "1".into()),
        ];
        thin_labels(&mut ticks, (0.0, 1.0), PLOT_INNER);
        assert_eq!(
            ticks[1].1, "",
            "a label too close to the previous one is dropped"
        );
        assert_eq!(ticks[2].1, "1");
    }

    /// The text of every `<text>` element of the page's charts.
    fn svg_texts(html: &str) -> Vec<String> {
        html.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = &t[t.find('>')? + 1..t.find("</text>")?];
                Some(body.trim().to_string())
            })
            .collect()
    }

    #[test]
    fn the_matrix_heat_maps_hold_the_summary_figures() {
        let (scenario, records) = crate::matrix::fixture::grid();
        let summary = summarize(&records);
        let html = html_report(&scenario, &records, &summary);
        let (_, matrix) = sections(&html)
            .into_iter()
            .find(|(h, _)| h == "Attack × defense")
            .unwrap();
        // Two groups (model.kind) × TPR, FPR, CA after, ASR after.
        assert_eq!(matrix.matches("<table class=\"heat\">").count(), 8);
        // Every cell is summary.json's mean ± ci95 and n, as written there.
        let json = serde_json::to_value(&summary).unwrap();
        let mut checked = 0;
        for p in json.as_array().unwrap() {
            for name in [
                "knn-label",
                "a-defense-with-a-rather-long-name",
                "perfect",
                "random",
            ] {
                for m in MatrixMeasure::ALL {
                    let s = &p["metrics"][m.key(name)];
                    let text = format!(
                        "{:.3} ± {:.3}<br><small>n {}</small></td>",
                        s["mean"].as_f64().unwrap(),
                        s["ci95"].as_f64().unwrap(),
                        s["n"]
                    );
                    assert!(matrix.contains(&text), "no cell {text}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 4 * 4 * 4);
        // Each defense's key has its colour in the charts.
        let knn = heat::hex(defense_style(&defenses_of(records.iter()), "knn-label").color);
        assert!(matrix.contains(&format!("style=\"background:{knn}\"></span>knn-label")));
        // The recommendation comes first, and names knn-label on badnets.
        let (head, recs) = &sections(&html)[0];
        assert_eq!(head, "Recommendations");
        assert!(recs.contains("<strong>badnets</strong> at model.kind=&quot;mlp&quot;: ASR:"));
        assert!(recs.contains("lowest CA cost first: knn-label (ASR +0.000 ± 0.000 above perfect"));
    }

    #[test]
    fn no_script_no_external_reference_and_no_cut_label() {
        for (scenario, records) in [crate::matrix::fixture::grid(), swept(), rounds()] {
            let html = render(&scenario, &records);
            for banned in [
                "<script", "<link", "@import", "url(", "http", "<iframe", "<img",
            ] {
                assert!(!html.contains(banned), "found {banned}");
            }
            let texts = svg_texts(&html);
            assert!(!texts.is_empty());
            for t in &texts {
                assert!(!t.contains('…'), "a cut label: {t:?}");
            }
            assert!(!html.contains('…'), "an ellipsis somewhere in the page");
        }
        // The long name is whole in the legends, over several lines.
        let (scenario, records) = crate::matrix::fixture::grid();
        let html = render(&scenario, &records);
        let texts = svg_texts(&html);
        let name = "after a-defense-with-a-rather-long-name";
        assert!(!texts.iter().any(|t| t == name), "not wrapped: {texts:?}");
        assert!(texts.iter().any(|t| t == "after a-defense-"), "{texts:?}");
        assert!(texts.concat().contains(name));
    }

    /// Records of a 20-point rate sweep, two repeats.
    fn large() -> Vec<RunRecord> {
        (1..=20)
            .flat_map(|i| {
                let rate = i as f64 / 100.0;
                (0..2).map(move |rep| record(serde_json::json!({ "attack.rate": rate }), rep, rate))
            })
            .collect()
    }

    #[test]
    fn a_large_sweep_has_bands_small_multiples_and_few_roc_charts() {
        let (scenario, _) = swept();
        let records = large();
        let html = render(&scenario, &records);
        let find = |name: &str| {
            sections(&html)
                .into_iter()
                .find(|(h, _)| h == name)
                .unwrap()
                .1
        };
        let attack = find("Attack and defenses across the sweep");
        // CA and ASR: a small chart without a defense, one per retrained filter.
        assert_eq!(attack.matches("<svg").count(), 2 * 3);
        assert!(attack.contains("<div class=\"multiples\">"));
        assert!(attack.contains("<title>CA vs attack.rate: after &lt;b&gt;knn&lt;/b&gt;</title>"));
        assert!(attack.contains(&format!("opacity=\"{BAND_OPACITY}\"")));
        // Counts as a table, no run-on sentence.
        assert!(
            attack.contains("<summary>Poisoned training samples, per point (20 rows)</summary>")
        );
        assert!(attack.contains("<summary>The figures at every point (120 rows)</summary>"));
        assert!(!attack.contains(" at attack.rate=0.01; "));
        // ROC curves at the first, middle and last rate only.
        let roc = find("ROC curves");
        assert_eq!(roc.matches("<svg").count(), 3);
        for rate in ["0.01", "0.11", "0.2"] {
            assert!(
                roc.contains(&format!("<h3>attack.rate={rate}</h3>")),
                "{rate}"
            );
        }
        // Detection: TPR and FPR small multiples, not a bar chart per point.
        let detection = find("Detection");
        assert!(
            detection.matches("<svg").count() <= 4,
            "{}",
            detection.matches("<svg").count()
        );
        assert!(html.contains("as a shaded band"));
        // roc-points chooses the ROC charts.
        let text = SWEPT.replace(
            "[sweep]\n\"attack.rate\" = [0.05, 0.1, 0.2]",
            "[report]\nroc-points = [0.05]\n\n[sweep]\n\"attack.rate\" = [0.05, 0.1, 0.2]",
        );
        let scenario = Scenario::parse(&text, "t.toml").unwrap();
        let html = render(&scenario, &records);
        let roc = sections(&html)
            .into_iter()
            .find(|(h, _)| h == "ROC curves")
            .unwrap()
            .1;
        assert_eq!(roc.matches("<svg").count(), 1);
        assert!(roc.contains("<h3>attack.rate=0.05</h3>"));
    }

    #[test]
    fn the_same_defense_has_the_same_colour_in_every_chart() {
        let (scenario, records) = swept();
        let html = render(&scenario, &records);
        let knn = heat::hex(defense_style(&defenses_of(records.iter()), "<b>knn</b>").color);
        // The ROC chart and the CA / ASR charts draw knn's lines in one colour.
        let stroke = format!("stroke=\"{knn}\"");
        for (head, body) in sections(&html) {
            if head == "ROC curves" || head.starts_with("Attack and") {
                assert!(
                    body.to_lowercase().contains(&stroke),
                    "{head} has no line in knn's colour"
                );
            }
        }
        // No two defenses share a colour.
        let listed = defenses_of(records.iter());
        let a = defense_style(&listed, "<b>knn</b>").color;
        let b = defense_style(&listed, "loss-filter").color;
        assert_ne!((a.0, a.1, a.2), (b.0, b.1, b.2));
    }
}
