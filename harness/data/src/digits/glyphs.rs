//! The built-in pen strokes of the ten digits.
//!
//! Each digit has one or more variants (how people commonly write it); a variant
//! is a list of strokes; a stroke is a list of control points in the unit box
//! (`x` to the right, `y` downwards, the glyph roughly spanning `y` 0.05..0.95).
//! The pen passes through every control point: smoothly (a Catmull–Rom curve) at
//! ordinary points, with a sharp turn at corner points. Closed strokes are loops
//! with no corners.

/// A control point of a stroke.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pt {
    /// Horizontal position in the unit box, 0 = left.
    pub x: f32,
    /// Vertical position in the unit box, 0 = top.
    pub y: f32,
    /// The pen turns sharply here instead of curving through.
    pub corner: bool,
}

/// One pen stroke.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stroke {
    /// Control points in pen order.
    pub points: &'static [Pt],
    /// The pen returns to the first point (a smooth loop).
    pub closed: bool,
}

/// A way of writing one digit.
pub(crate) type Glyph = &'static [Stroke];

const fn s(x: f32, y: f32) -> Pt {
    Pt {
        x,
        y,
        corner: false,
    }
}

const fn c(x: f32, y: f32) -> Pt {
    Pt { x, y, corner: true }
}

const fn open(points: &'static [Pt]) -> Stroke {
    Stroke {
        points,
        closed: false,
    }
}

const fn loop_(points: &'static [Pt]) -> Stroke {
    Stroke {
        points,
        closed: true,
    }
}

const ZERO: &[Glyph] = &[
    // Upright oval.
    &[loop_(&[
        s(0.50, 0.05),
        s(0.74, 0.15),
        s(0.84, 0.50),
        s(0.74, 0.85),
        s(0.50, 0.95),
        s(0.26, 0.85),
        s(0.16, 0.50),
        s(0.26, 0.15),
    ])],
    // Narrower, egg-shaped oval.
    &[loop_(&[
        s(0.52, 0.05),
        s(0.70, 0.18),
        s(0.76, 0.52),
        s(0.66, 0.86),
        s(0.46, 0.95),
        s(0.28, 0.80),
        s(0.24, 0.45),
        s(0.34, 0.14),
    ])],
];

const ONE: &[Glyph] = &[
    // A single bar.
    &[open(&[s(0.52, 0.05), s(0.50, 0.95)])],
    // Bar with a flag at the top.
    &[open(&[c(0.30, 0.24), c(0.56, 0.05), s(0.54, 0.95)])],
    // Flag and a base.
    &[
        open(&[c(0.32, 0.22), c(0.54, 0.05), s(0.54, 0.93)]),
        open(&[s(0.30, 0.94), s(0.78, 0.94)]),
    ],
];

const TWO: &[Glyph] = &[
    // Hook, diagonal, flat base.
    &[open(&[
        s(0.18, 0.28),
        s(0.32, 0.09),
        s(0.54, 0.05),
        s(0.75, 0.14),
        s(0.79, 0.34),
        s(0.64, 0.56),
        c(0.18, 0.94),
        s(0.84, 0.93),
    ])],
    // Looped base.
    &[open(&[
        s(0.20, 0.25),
        s(0.40, 0.06),
        s(0.66, 0.08),
        s(0.76, 0.30),
        s(0.58, 0.58),
        s(0.28, 0.88),
        s(0.34, 0.95),
        s(0.50, 0.88),
        s(0.66, 0.92),
        s(0.84, 0.96),
    ])],
];

const THREE: &[Glyph] = &[
    // Two round bowls meeting in a cusp.
    &[open(&[
        s(0.20, 0.15),
        s(0.45, 0.05),
        s(0.72, 0.12),
        s(0.74, 0.30),
        c(0.42, 0.48),
        s(0.76, 0.62),
        s(0.78, 0.82),
        s(0.52, 0.95),
        s(0.18, 0.86),
    ])],
    // Flat top, diagonal, round bowl.
    &[open(&[
        c(0.20, 0.07),
        c(0.78, 0.07),
        c(0.44, 0.42),
        s(0.70, 0.52),
        s(0.80, 0.74),
        s(0.58, 0.94),
        s(0.20, 0.88),
    ])],
];

const FOUR: &[Glyph] = &[
    // Closed top: diagonal, crossbar, separate upright.
    &[
        open(&[c(0.62, 0.05), c(0.14, 0.64), s(0.86, 0.64)]),
        open(&[s(0.64, 0.08), s(0.64, 0.95)]),
    ],
    // Open top: short upright, crossbar, long upright.
    &[
        open(&[c(0.22, 0.05), c(0.18, 0.58), s(0.84, 0.58)]),
        open(&[s(0.68, 0.05), s(0.66, 0.95)]),
    ],
];

const FIVE: &[Glyph] = &[
    // One stroke: top bar drawn right to left, down, belly.
    &[open(&[
        c(0.80, 0.06),
        c(0.28, 0.06),
        c(0.24, 0.45),
        s(0.50, 0.38),
        s(0.75, 0.50),
        s(0.78, 0.75),
        s(0.55, 0.94),
        s(0.20, 0.88),
    ])],
    // Two strokes: down and belly, then the top bar.
    &[
        open(&[
            c(0.30, 0.06),
            c(0.26, 0.46),
            s(0.52, 0.40),
            s(0.76, 0.54),
            s(0.76, 0.78),
            s(0.52, 0.95),
            s(0.22, 0.86),
        ]),
        open(&[s(0.30, 0.07), s(0.80, 0.05)]),
    ],
];

const SIX: &[Glyph] = &[
    // Curved stem into a round loop.
    &[open(&[
        s(0.70, 0.06),
        s(0.44, 0.20),
        s(0.26, 0.48),
        s(0.24, 0.76),
        s(0.46, 0.95),
        s(0.70, 0.86),
        s(0.76, 0.66),
        s(0.56, 0.50),
        s(0.32, 0.56),
        s(0.25, 0.72),
    ])],
    // Nearly straight stem, smaller loop at the bottom.
    &[open(&[
        s(0.62, 0.05),
        s(0.42, 0.35),
        s(0.30, 0.66),
        s(0.36, 0.90),
        s(0.58, 0.94),
        s(0.72, 0.78),
        s(0.60, 0.62),
        s(0.38, 0.66),
    ])],
];

const SEVEN: &[Glyph] = &[
    // Bar and a slightly curved stem.
    &[open(&[
        c(0.18, 0.07),
        c(0.82, 0.07),
        s(0.62, 0.45),
        s(0.46, 0.95),
    ])],
    // Crossed seven.
    &[
        open(&[c(0.18, 0.07), c(0.82, 0.07), s(0.44, 0.95)]),
        open(&[s(0.36, 0.50), s(0.76, 0.48)]),
    ],
];

const EIGHT: &[Glyph] = &[
    // Two stacked loops.
    &[
        loop_(&[
            s(0.50, 0.05),
            s(0.70, 0.13),
            s(0.72, 0.30),
            s(0.50, 0.47),
            s(0.29, 0.30),
            s(0.31, 0.13),
        ]),
        loop_(&[
            s(0.50, 0.47),
            s(0.76, 0.60),
            s(0.76, 0.84),
            s(0.50, 0.95),
            s(0.24, 0.84),
            s(0.24, 0.60),
        ]),
    ],
    // One figure-of-eight stroke crossing in the middle.
    &[loop_(&[
        s(0.68, 0.15),
        s(0.50, 0.05),
        s(0.30, 0.15),
        s(0.36, 0.34),
        s(0.50, 0.48),
        s(0.74, 0.66),
        s(0.68, 0.90),
        s(0.48, 0.95),
        s(0.26, 0.86),
        s(0.30, 0.64),
        s(0.50, 0.48),
        s(0.66, 0.32),
    ])],
];

const NINE: &[Glyph] = &[
    // Loop and a straight stem.
    &[
        loop_(&[
            s(0.50, 0.05),
            s(0.74, 0.16),
            s(0.74, 0.38),
            s(0.50, 0.50),
            s(0.26, 0.38),
            s(0.28, 0.14),
        ]),
        open(&[s(0.76, 0.18), s(0.72, 0.95)]),
    ],
    // Loop and a curved tail.
    &[
        loop_(&[
            s(0.52, 0.05),
            s(0.76, 0.18),
            s(0.70, 0.40),
            s(0.46, 0.48),
            s(0.26, 0.34),
            s(0.32, 0.12),
        ]),
        open(&[s(0.76, 0.20), s(0.74, 0.62), s(0.62, 0.88), s(0.40, 0.95)]),
    ],
];

/// The variants of each digit, indexed by the digit.
pub(crate) const DIGITS: [&[Glyph]; 10] =
    [ZERO, ONE, TWO, THREE, FOUR, FIVE, SIX, SEVEN, EIGHT, NINE];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_digit_has_drawable_strokes_inside_the_box() {
        for (digit, variants) in DIGITS.iter().enumerate() {
            assert!(!variants.is_empty(), "digit {digit} has no variant");
            for glyph in *variants {
                assert!(!glyph.is_empty(), "digit {digit} has an empty variant");
                for stroke in *glyph {
                    assert!(stroke.points.len() >= 2, "digit {digit}: stroke too short");
                    if stroke.closed {
                        assert!(stroke.points.len() >= 3, "digit {digit}: loop too short");
                        assert!(stroke.points.iter().all(|p| !p.corner), "digit {digit}");
                    }
                    for p in stroke.points {
                        assert!((0.0..=1.0).contains(&p.x) && (0.0..=1.0).contains(&p.y));
                    }
                }
            }
        }
    }
}
