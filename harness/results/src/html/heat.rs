//! Heat maps of the attack × defense matrix: HTML tables whose cells carry
//! the exact figures as text and a background colour for where each sits
//! between the random floor and the perfect ceiling (no script, no hover).

use std::fmt::Write as _;

use plotters::style::RGBColor;

use super::esc;
use crate::matrix::{Matrix, MatrixCell, MatrixMeasure};

/// The floor's colour (orange), the middle (light grey) and the ceiling's
/// (purple): the ends of ColorBrewer's PuOr scale, safe for the common
/// colour-vision deficiencies and dark enough to read black text on.
const FLOOR: (f64, f64, f64) = (241.0, 163.0, 64.0);
const MIDDLE: (f64, f64, f64) = (247.0, 247.0, 247.0);
const CEILING: (f64, f64, f64) = (153.0, 142.0, 195.0);

/// `#rrggbb` for a position (0 = the random floor, 1 = the perfect
/// ceiling, clamped); white when the cell cannot be placed.
pub(crate) fn position_color(position: Option<f64>) -> String {
    let Some(p) = position.filter(|p| p.is_finite()) else {
        return "#ffffff".into();
    };
    let p = p.clamp(0.0, 1.0);
    let (a, b, t) = if p < 0.5 {
        (FLOOR, MIDDLE, p * 2.0)
    } else {
        (MIDDLE, CEILING, (p - 0.5) * 2.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

/// `#rrggbb` of a chart colour.
pub(super) fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// The colour scale, as a row of labelled swatches.
pub(super) fn scale_legend() -> String {
    let mut out = String::from("<p class=\"scale\">Cell colour: ");
    for (p, label) in [
        (0.0, "at or below the random floor"),
        (0.5, "half way"),
        (1.0, "at or beyond the perfect ceiling"),
    ] {
        let _ = write!(
            out,
            "<span class=\"swatch\" style=\"background:{}\"></span> {label} ",
            position_color(Some(p))
        );
    }
    out.push_str("<span class=\"swatch\" style=\"background:#ffffff\"></span> floor and ceiling too close to place</p>\n");
    out
}

/// One heat map: rows = attacks, columns = defenses (a colour key before
/// each defense's name: its colour in every chart of the page).
pub(super) fn heat_map(
    m: &Matrix,
    measure: MatrixMeasure,
    color: &dyn Fn(&str) -> String,
) -> String {
    let j = measure as usize;
    let mut out = format!(
        "<div class=\"wide\">\n<table class=\"heat\">\n<caption>{} — {}</caption>\n<thead><tr><th scope=\"col\" class=\"name\">attack</th>",
        esc(measure.name()),
        esc(measure.long())
    );
    for c in &m.columns {
        let name = if c.reference {
            format!("<em>{}</em>", esc(&c.name))
        } else {
            esc(&c.name)
        };
        let _ = write!(
            out,
            "<th scope=\"col\"><span class=\"key\" style=\"background:{}\"></span>{name}</th>",
            color(&c.name)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &m.rows {
        let _ = write!(
            out,
            "<tr><th scope=\"row\" class=\"name\">{}</th>",
            esc(&row.label)
        );
        for cells in &row.cells {
            out.push_str(&heat_cell(cells[j]));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    out
}

/// A cell: its figure, n, and its colour.
pub(super) fn heat_cell(c: Option<MatrixCell>) -> String {
    match c {
        None => "<td>—</td>".into(),
        Some(c) => format!(
            "<td style=\"background:{}\">{}<br><small>n {}</small></td>",
            position_color(c.position),
            esc(&c.text()),
            c.n
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_runs_from_floor_to_ceiling() {
        assert_eq!(position_color(Some(0.0)), "#f1a340");
        assert_eq!(position_color(Some(-3.0)), "#f1a340");
        assert_eq!(position_color(Some(0.5)), "#f7f7f7");
        assert_eq!(position_color(Some(1.0)), "#998ec3");
        assert_eq!(position_color(Some(7.0)), "#998ec3");
        assert_eq!(position_color(None), "#ffffff");
        assert_eq!(position_color(Some(f64::NAN)), "#ffffff");
    }
}
