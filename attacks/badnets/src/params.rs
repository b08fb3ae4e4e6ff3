use std::path::PathBuf;

use poisonlab_core::{ParamChecks, ParamError};
use serde::{Deserialize, Serialize};

/// How poisoned samples enter the training set (`mode`): poisonlab-core's shared rule.
pub use poisonlab_core::Injection as Mode;

/// The trigger's footprint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerShape {
    /// One pixel (`size` is ignored).
    Pixel,
    /// A `size × size` checkerboard whose top-left cell is `value`, alternating
    /// with 0 (the pattern of Gu et al.).
    #[default]
    Pattern,
    /// A solid `size × size` patch of `value`.
    Square,
    /// A mask read from the PNG file `path`, at the PNG's own size (`size` is ignored).
    Image,
}

/// The image corner a trigger sits in when no `position` is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    /// Bottom-right corner.
    #[default]
    BottomRight,
    /// Bottom-left corner.
    BottomLeft,
    /// Top-right corner.
    TopRight,
    /// Top-left corner.
    TopLeft,
}

/// How the trigger is written into the pixels it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Apply {
    /// Overwrite: `pixel = ink` where the mask is 1, and
    /// `pixel = (1 − m)·pixel + m·ink` for a soft image mask `m`.
    #[default]
    Stamp,
    /// Brighten: `pixel = clamp(pixel + m·ink, 0, 1)`.
    Add,
}

/// The `trigger` inline table of `[attack]` for `kind = "badnets"`.
///
/// ```toml
/// trigger = { shape = "pattern", size = 3, corner = "bottom-right", margin = 1, value = 1.0 }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TriggerParams {
    /// `pixel`, `pattern` (default), `square` or `image`.
    pub shape: TriggerShape,
    /// Side of a `pattern` or `square` trigger in pixels. Default 3.
    pub size: usize,
    /// Corner the trigger sits in. Default `bottom-right`.
    pub corner: Corner,
    /// `[row, col]` of the trigger's top-left pixel; overrides `corner` and
    /// `margin`. Default: none (use `corner`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<[usize; 2]>,
    /// Pixels between the trigger and the image border at `corner`. Default 1.
    pub margin: usize,
    /// The trigger's ink value in [0, 1]. Default 1.0.
    pub value: f64,
    /// `stamp` (default) or `add`; see [`Apply`].
    pub apply: Apply,
    /// PNG mask for `shape = "image"` (required there, refused otherwise),
    /// relative to the scenario file. With an alpha channel the alpha is the
    /// mask, otherwise the grey level (luminance for colour PNGs), scaled to [0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

impl Default for TriggerParams {
    fn default() -> Self {
        Self {
            shape: TriggerShape::Pattern,
            size: 3,
            corner: Corner::BottomRight,
            position: None,
            margin: 1,
            value: 1.0,
            apply: Apply::Stamp,
            path: None,
        }
    }
}

/// The `[attack]` table for `kind = "badnets"` (the runner removes `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct BadNetsParams {
    /// The class every triggered sample is relabelled as (all-to-one). Default 0.
    pub target: usize,
    /// Relabel class `y` as `(y + 1) mod k` instead, ignoring `target`. Default false.
    pub all_to_all: bool,
    /// Source-specific backdoor (Tran et al. 2018's protocol): only samples
    /// of these classes are poisoned toward `target`, and the attack is
    /// measured on test inputs of these classes. Non-empty, distinct classes
    /// other than `target`; refused with `all-to-all`. Default: none (every
    /// non-target class).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Vec<usize>>,
    /// Fraction of eligible training samples poisoned, in [0, 1]: the
    /// non-target samples (all-to-one), the `source` classes' samples
    /// (source-specific) or all samples (all-to-all). Default 0.05.
    pub rate: f64,
    /// `replace` (default) or `add`; see [`Mode`].
    pub mode: Mode,
    /// The trigger; every key has a default.
    pub trigger: TriggerParams,
}

impl Default for BadNetsParams {
    fn default() -> Self {
        Self {
            target: 0,
            all_to_all: false,
            source: None,
            rate: 0.05,
            mode: Mode::Replace,
            trigger: TriggerParams::default(),
        }
    }
}

impl TriggerParams {
    /// Rows × columns the trigger covers, when known without reading a file
    /// (`None` for image triggers).
    pub(crate) fn extent(&self) -> Option<(usize, usize)> {
        match self.shape {
            TriggerShape::Pixel => Some((1, 1)),
            TriggerShape::Pattern | TriggerShape::Square => Some((self.size, self.size)),
            TriggerShape::Image => None,
        }
    }

    /// The key a trigger that overruns the image at a corner is blamed on.
    fn extent_key(&self) -> &'static str {
        match self.shape {
            TriggerShape::Pixel => "trigger.margin",
            TriggerShape::Pattern | TriggerShape::Square => "trigger.size",
            TriggerShape::Image => "trigger.path",
        }
    }

    /// Where a `rows × cols` trigger's top-left pixel goes in an `h × w` image,
    /// or the problem when it does not fit.
    pub(crate) fn place(
        &self,
        (rows, cols): (usize, usize),
        (h, w): (usize, usize),
    ) -> Result<(usize, usize), ParamError> {
        if let Some([r, c]) = self.position {
            if r + rows > h || c + cols > w {
                return Err(ParamError::new(
                    "trigger.position",
                    format!(
                        "a {rows}×{cols} trigger at [{r}, {c}] reaches row {} and column {}, \
                         but the image is {h}×{w} (rows 0..{h}, columns 0..{w})",
                        r + rows - 1,
                        c + cols - 1
                    ),
                ));
            }
            return Ok((r, c));
        }
        let m = self.margin;
        if m + rows > h || m + cols > w {
            return Err(ParamError::new(
                self.extent_key(),
                format!(
                    "a {rows}×{cols} trigger with margin {m} needs a {}×{} image, but the image is {h}×{w}",
                    m + rows,
                    m + cols
                ),
            ));
        }
        Ok(match self.corner {
            Corner::BottomRight => (h - m - rows, w - m - cols),
            Corner::BottomLeft => (h - m - rows, m),
            Corner::TopRight => (m, w - m - cols),
            Corner::TopLeft => (m, m),
        })
    }

    /// Every rule on the trigger, against a sample `shape` when known and the
    /// trigger's extent when known.
    fn check_into(
        &self,
        checks: &mut ParamChecks,
        shape: Option<&[usize]>,
        extent: Option<(usize, usize)>,
    ) {
        fraction(checks, "trigger.value", self.value);
        match (self.shape, &self.path) {
            (TriggerShape::Image, None) => {
                checks.push(ParamError::new(
                    "trigger.path",
                    "is required for shape = \"image\": the PNG file whose intensity is the mask",
                ));
            }
            (TriggerShape::Pixel | TriggerShape::Pattern | TriggerShape::Square, Some(_)) => {
                checks.push(ParamError::new(
                    "trigger.path",
                    "applies to shape = \"image\" only",
                ));
            }
            _ => {}
        }
        if matches!(self.shape, TriggerShape::Pattern | TriggerShape::Square) {
            checks.at_least("trigger.size", self.size, 1);
        }
        match shape {
            Some(s) if s.len() != 3 => {
                checks.push(ParamError::new(
                    "trigger",
                    format!(
                        "badnets triggers need image data [c,h,w]; this data is tabular (shape {s:?})"
                    ),
                ));
            }
            Some(s) => {
                if let Some(extent) = extent.filter(|&(r, c)| r > 0 && c > 0)
                    && let Err(e) = self.place(extent, (s[1], s[2]))
                {
                    checks.push(e);
                }
            }
            None => {}
        }
    }
}

/// `value` must be a fraction in [0, 1].
fn fraction(checks: &mut ParamChecks, key: &str, value: f64) {
    if !(0.0..=1.0).contains(&value) {
        checks.push(ParamError::new(
            key,
            format!("must be in [0, 1], got {value}"),
        ));
    }
}

impl BadNetsParams {
    /// Check every value against samples of `shape` and a dataset of
    /// `n_classes` classes (each when known).
    ///
    /// An image trigger's size is the PNG's, so whether it fits is checked by
    /// [`crate::BadNets::check`] once the file is loaded.
    pub fn check(
        &self,
        shape: Option<&[usize]>,
        n_classes: Option<usize>,
    ) -> Result<(), Vec<ParamError>> {
        self.check_with(shape, n_classes, self.trigger.extent())
    }

    /// [`Self::check`] with the trigger's extent given (known once an image
    /// trigger is loaded).
    pub(crate) fn check_with(
        &self,
        shape: Option<&[usize]>,
        n_classes: Option<usize>,
        extent: Option<(usize, usize)>,
    ) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        fraction(&mut checks, "rate", self.rate);
        match n_classes {
            Some(k) if self.all_to_all && k < 2 => {
                checks.push(ParamError::new(
                    "all-to-all",
                    format!("needs at least 2 classes; the dataset has {k}"),
                ));
            }
            _ if !self.all_to_all => {
                if let Some(e) = ParamError::class_out_of_range("target", self.target, n_classes) {
                    checks.push(e);
                }
            }
            _ => {}
        }
        if let Some(source) = &self.source {
            self.check_source(&mut checks, source, n_classes);
        }
        self.trigger.check_into(&mut checks, shape, extent);
        checks.finish()
    }
}

impl BadNetsParams {
    /// The `source` rules: non-empty, refused with all-to-all, distinct
    /// classes of the data other than `target`.
    fn check_source(&self, checks: &mut ParamChecks, source: &[usize], n_classes: Option<usize>) {
        if self.all_to_all {
            checks.push(ParamError::new(
                "source",
                "applies to all-to-one backdoors only; remove it or all-to-all",
            ));
            return;
        }
        if source.is_empty() {
            checks.push(ParamError::new(
                "source",
                "must name at least one class (leave it out to poison every non-target class)",
            ));
        }
        for (i, &c) in source.iter().enumerate() {
            if c == self.target {
                checks.push(ParamError::new(
                    "source",
                    format!("class {c} is the target; source classes must differ from it"),
                ));
            } else if source[..i].contains(&c) {
                checks.push(ParamError::new(
                    "source",
                    format!("class {c} is listed twice"),
                ));
            } else if let Some(e) = ParamError::class_out_of_range("source", c, n_classes) {
                checks.push(e);
            }
        }
    }

    /// Whether a sample of class `y` may be poisoned (and a test input of
    /// class `y` measures the attack).
    pub fn poisonable(&self, y: usize) -> bool {
        if self.all_to_all {
            return true;
        }
        match &self.source {
            Some(source) => source.contains(&y),
            None => y != self.target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &[usize] = &[1, 8, 8];

    fn keys(p: &BadNetsParams, shape: Option<&[usize]>, k: Option<usize>) -> Vec<String> {
        p.check(shape, k)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    fn with_trigger(trigger: TriggerParams) -> BadNetsParams {
        BadNetsParams {
            trigger,
            ..BadNetsParams::default()
        }
    }

    #[test]
    fn defaults_pass() {
        assert!(
            BadNetsParams::default()
                .check(Some(IMAGE), Some(10))
                .is_ok()
        );
        assert!(BadNetsParams::default().check(None, None).is_ok());
    }

    #[test]
    fn rate_must_be_a_fraction() {
        for rate in [-0.1, 1.5, f64::NAN] {
            let p = BadNetsParams {
                rate,
                ..BadNetsParams::default()
            };
            assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["rate"]);
        }
    }

    #[test]
    fn target_must_be_a_class() {
        let p = BadNetsParams {
            target: 10,
            ..BadNetsParams::default()
        };
        let errs = p.check(Some(IMAGE), Some(10)).unwrap_err();
        assert_eq!(errs[0].key, "target");
        assert!(
            errs[0].message.contains("10 classes"),
            "{}",
            errs[0].message
        );
        // Without a class count only structural rules apply.
        assert!(p.check(Some(IMAGE), None).is_ok());
        // All-to-all ignores target.
        let all = BadNetsParams {
            all_to_all: true,
            ..p
        };
        assert!(all.check(Some(IMAGE), Some(10)).is_ok());
    }

    #[test]
    fn source_rules() {
        let with = |source: Vec<usize>, all_to_all: bool| BadNetsParams {
            source: Some(source),
            all_to_all,
            target: 0,
            ..BadNetsParams::default()
        };
        assert!(with(vec![1, 7], false).check(Some(IMAGE), Some(10)).is_ok());
        for bad in [vec![], vec![0], vec![3, 3], vec![10]] {
            assert_eq!(
                keys(&with(bad.clone(), false), Some(IMAGE), Some(10)),
                ["source"],
                "{bad:?}"
            );
        }
        assert_eq!(
            keys(&with(vec![1], true), Some(IMAGE), Some(10)),
            ["source"]
        );
        let p = with(vec![2, 5], false);
        let eligible: Vec<usize> = (0..10).filter(|&y| p.poisonable(y)).collect();
        assert_eq!(eligible, [2, 5]);
        let a2o = BadNetsParams::default();
        assert_eq!((0..10).filter(|&y| a2o.poisonable(y)).count(), 9);
    }

    #[test]
    fn all_to_all_needs_two_classes() {
        let p = BadNetsParams {
            all_to_all: true,
            ..BadNetsParams::default()
        };
        assert_eq!(keys(&p, Some(IMAGE), Some(1)), ["all-to-all"]);
    }

    #[test]
    fn value_must_be_in_unit_range() {
        for value in [-0.5, 1.01] {
            let p = with_trigger(TriggerParams {
                value,
                ..TriggerParams::default()
            });
            assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["trigger.value"]);
        }
    }

    #[test]
    fn tabular_data_takes_no_trigger() {
        let errs = BadNetsParams::default()
            .check(Some(&[20]), Some(10))
            .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "trigger");
        assert!(
            errs[0]
                .message
                .starts_with("badnets triggers need image data [c,h,w]; this data is tabular"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn oversized_trigger_names_size_and_image() {
        let p = with_trigger(TriggerParams {
            size: 8,
            ..TriggerParams::default()
        });
        let errs = p.check(Some(IMAGE), Some(10)).unwrap_err();
        assert_eq!(errs[0].key, "trigger.size");
        assert!(errs[0].message.contains("9×9"), "{}", errs[0].message);
        assert!(errs[0].message.contains("8×8"), "{}", errs[0].message);
        // margin + size = side fits exactly.
        let fits = with_trigger(TriggerParams {
            size: 7,
            ..TriggerParams::default()
        });
        assert!(fits.check(Some(IMAGE), Some(10)).is_ok());
    }

    #[test]
    fn pixel_overrun_is_blamed_on_margin() {
        let p = with_trigger(TriggerParams {
            shape: TriggerShape::Pixel,
            size: 100, // ignored for pixels
            margin: 8,
            ..TriggerParams::default()
        });
        assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["trigger.margin"]);
    }

    #[test]
    fn position_must_keep_the_trigger_inside() {
        let p = with_trigger(TriggerParams {
            position: Some([6, 2]),
            ..TriggerParams::default()
        });
        let errs = p.check(Some(&[3, 8, 8]), Some(10)).unwrap_err();
        assert_eq!(errs[0].key, "trigger.position");
        assert!(errs[0].message.contains("8×8"), "{}", errs[0].message);
        assert!(errs[0].message.contains("row 8"), "{}", errs[0].message);
        let inside = with_trigger(TriggerParams {
            position: Some([5, 5]),
            ..TriggerParams::default()
        });
        assert!(inside.check(Some(&[3, 8, 8]), Some(10)).is_ok());
    }

    #[test]
    fn zero_size_is_refused() {
        for shape in [TriggerShape::Pattern, TriggerShape::Square] {
            let p = with_trigger(TriggerParams {
                shape,
                size: 0,
                ..TriggerParams::default()
            });
            let errs = p.check(Some(IMAGE), Some(10)).unwrap_err();
            assert_eq!(errs.len(), 1);
            assert_eq!(errs[0].key, "trigger.size");
            assert_eq!(errs[0].message, "must be at least 1, got 0");
        }
        // Pixels ignore size.
        let pixel = with_trigger(TriggerParams {
            shape: TriggerShape::Pixel,
            size: 0,
            ..TriggerParams::default()
        });
        assert!(pixel.check(Some(IMAGE), Some(10)).is_ok());
    }

    #[test]
    fn image_shape_requires_path() {
        let p = with_trigger(TriggerParams {
            shape: TriggerShape::Image,
            ..TriggerParams::default()
        });
        assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["trigger.path"]);
    }

    #[test]
    fn other_shapes_refuse_path() {
        for shape in [
            TriggerShape::Pixel,
            TriggerShape::Pattern,
            TriggerShape::Square,
        ] {
            let p = with_trigger(TriggerParams {
                shape,
                path: Some("mask.png".into()),
                ..TriggerParams::default()
            });
            assert_eq!(keys(&p, Some(IMAGE), Some(10)), ["trigger.path"]);
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = BadNetsParams {
            rate: 2.0,
            target: 11,
            trigger: TriggerParams {
                value: 3.0,
                size: 9,
                ..TriggerParams::default()
            },
            ..BadNetsParams::default()
        };
        assert_eq!(
            keys(&p, Some(IMAGE), Some(10)),
            ["rate", "target", "trigger.value", "trigger.size"]
        );
    }

    #[test]
    fn inline_trigger_table_reads_with_defaults() {
        let p: BadNetsParams = toml::from_str(
            r#"
            target = 2
            rate = 0.1
            mode = "add"
            trigger = { shape = "square", size = 2, corner = "top-left", value = 1 }
            "#,
        )
        .unwrap();
        assert_eq!(p.target, 2);
        assert_eq!(p.mode, Mode::Add);
        assert_eq!(p.trigger.shape, TriggerShape::Square);
        assert_eq!(p.trigger.corner, Corner::TopLeft);
        assert_eq!(p.trigger.margin, 1);
        assert_eq!(p.trigger.value, 1.0);
        let empty: BadNetsParams = toml::from_str("").unwrap();
        assert_eq!(empty, BadNetsParams::default());
        let positioned: BadNetsParams =
            toml::from_str("all-to-all = true\ntrigger = { position = [2, 3], apply = \"add\" }")
                .unwrap();
        assert!(positioned.all_to_all);
        assert_eq!(positioned.trigger.position, Some([2, 3]));
        assert_eq!(positioned.trigger.apply, Apply::Add);
    }

    #[test]
    fn misspelled_keys_are_rejected() {
        let err = toml::from_str::<BadNetsParams>("rat = 0.1").unwrap_err();
        assert!(err.to_string().contains("unknown field `rat`"), "{err}");
        let err = toml::from_str::<BadNetsParams>("trigger = { sise = 2 }").unwrap_err();
        assert!(err.to_string().contains("unknown field `sise`"), "{err}");
        let err = toml::from_str::<BadNetsParams>("trigger = { shape = \"circle\" }").unwrap_err();
        assert!(err.to_string().contains("circle"), "{err}");
    }

    #[test]
    fn resolved_params_round_trip() {
        let p = with_trigger(TriggerParams {
            shape: TriggerShape::Image,
            path: Some("masks/logo.png".into()),
            position: Some([1, 2]),
            ..TriggerParams::default()
        });
        let text = toml::to_string(&p).unwrap();
        assert_eq!(toml::from_str::<BadNetsParams>(&text).unwrap(), p);
    }
}
