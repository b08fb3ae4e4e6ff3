use std::path::Path;

use poisonlab_core::{
    Attack, AttackInput, AttackTest, BuildContext, DataFacts, Kind, ParamError, Poisoned, Rng,
    inject, poison_count,
};
use rand::seq::index::sample;

use crate::trigger::Patch;
use crate::{BadNetsError, BadNetsParams};

/// The BadNets attack of Gu, Dolan-Gavitt and Garg 2017 ("BadNets:
/// Identifying Vulnerabilities in the Machine Learning Model Supply Chain",
/// arXiv:1708.06733): a built trigger and the parameters it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct BadNets {
    params: BadNetsParams,
    patch: Patch,
}

impl BadNets {
    /// Build the attack, checking `params` ([`BadNetsParams::check`] without
    /// data facts) and reading an image trigger's PNG from
    /// `params.trigger.path` resolved against `base_dir` (the scenario file's
    /// folder); other triggers read nothing. Every problem comes back as a
    /// [`ParamError`]; one with the file has the key `trigger.path`.
    /// [`Kind::build`] does the same against what is known of the data.
    pub fn new(params: BadNetsParams, base_dir: &Path) -> Result<Self, Vec<ParamError>> {
        Self::build(params, &BuildContext::new(base_dir, &DataFacts::default()))
    }

    /// The trigger built from checked parameters: reads an image trigger's PNG.
    fn load(params: BadNetsParams, base_dir: &Path) -> Result<Self, Vec<ParamError>> {
        let patch = Patch::build(&params.trigger, base_dir)
            .map_err(|e| vec![ParamError::new("trigger.path", e.to_string())])?;
        Ok(Self { params, patch })
    }

    /// The parameters this attack was built from.
    pub fn params(&self) -> &BadNetsParams {
        &self.params
    }

    /// Rows × columns the trigger covers (an image trigger's PNG size).
    pub fn trigger_extent(&self) -> (usize, usize) {
        (self.patch.rows, self.patch.cols)
    }

    /// [`BadNetsParams::check`], including whether an image trigger, now that
    /// its PNG is loaded, fits samples of `shape`.
    pub fn check(
        &self,
        shape: Option<&[usize]>,
        n_classes: Option<usize>,
    ) -> Result<(), Vec<ParamError>> {
        self.params
            .check_with(shape, n_classes, Some(self.trigger_extent()))
    }

    /// Stamp the trigger into one sample of `shape` (`[c, h, w]`), on every channel.
    ///
    /// A sample whose shape is not an image the trigger fits (which
    /// [`Self::check`] reports) is left unchanged.
    ///
    /// # Panics
    /// When `sample.len()` is not the product of `shape` (a programming error).
    pub fn apply_trigger(&self, sample: &mut [f32], shape: &[usize]) {
        assert_eq!(
            sample.len(),
            shape.iter().product::<usize>(),
            "apply_trigger: sample length does not match shape {shape:?}"
        );
        if let Ok((dims, at)) = self.place(shape) {
            self.patch.apply(sample, dims, at);
        }
    }

    /// The image dimensions and the trigger's top-left pixel for samples of `shape`.
    fn place(&self, shape: &[usize]) -> Result<([usize; 3], (usize, usize)), BadNetsError> {
        let &[c, h, w] = shape else {
            return Err(BadNetsError::NotImage(shape.to_vec()));
        };
        let at = self
            .params
            .trigger
            .place(self.trigger_extent(), (h, w))
            .map_err(|e| BadNetsError::TriggerDoesNotFit {
                key: e.key,
                message: e.message,
            })?;
        Ok(([c, h, w], at))
    }

    /// The label a triggered sample of class `y` gets among `k` classes.
    fn relabel(&self, y: usize, k: usize) -> usize {
        if self.params.all_to_all {
            (y + 1) % k
        } else {
            self.params.target
        }
    }
}

impl Kind for BadNets {
    type Params = BadNetsParams;

    /// Parameter rules first; the trigger image loads only when they hold,
    /// then must fit the images (when their shape is known).
    fn build(params: BadNetsParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        let (shape, n_classes) = (ctx.facts.shape.as_deref(), ctx.facts.n_classes);
        params.check(shape, n_classes)?;
        let attack = Self::load(params, ctx.base_dir)?;
        attack.check(shape, n_classes)?;
        Ok(attack)
    }

    fn params(&self) -> &BadNetsParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.check(facts.shape.as_deref(), facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        let t = &p.trigger;
        let goal = if p.all_to_all {
            "all-to-all (y → y+1)".to_string()
        } else if let Some(source) = &p.source {
            format!("source-specific {source:?} → {}", p.target)
        } else {
            format!("all-to-one → {}", p.target)
        };
        format!(
            "badnets, {goal}, rate {}, {:?} trigger {}×{} px at {}, {:?} mode",
            p.rate,
            t.shape,
            self.trigger_extent().0,
            self.trigger_extent().1,
            t.position
                .map_or(format!("{:?}", t.corner), |[r, c]| format!("({r}, {c})")),
            p.mode
        )
    }
}

impl Attack for BadNets {
    type Error = BadNetsError;

    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, BadNetsError> {
        let (train, test) = (input.train, input.test);
        let k = train.n_classes();
        let p = &self.params;
        if p.all_to_all && k < 2 {
            return Err(BadNetsError::SingleClass);
        }
        if !p.all_to_all && p.target >= k {
            return Err(BadNetsError::TargetOutOfRange {
                target: p.target,
                classes: k,
            });
        }
        let train_place = self.place(train.shape())?;
        let test_place = self.place(test.shape())?;
        if let Some(&c) = p.source.iter().flatten().find(|&&c| c >= k) {
            return Err(BadNetsError::SourceOutOfRange {
                class: c,
                classes: k,
            });
        }
        let poisonable = |y: usize| p.poisonable(y);

        let eligible: Vec<usize> = (0..train.len())
            .filter(|&i| poisonable(train.labels()[i]))
            .collect();
        let n = poison_count(p.rate, eligible.len());
        let mut picks: Vec<usize> = sample(rng, eligible.len(), n)
            .into_iter()
            .map(|j| eligible[j])
            .collect();
        picks.sort_unstable();

        let (dims, at) = train_place;
        let (data, is_poison) = inject(
            train,
            &picks,
            p.mode,
            |x| self.patch.apply(x, dims, at),
            |y| self.relabel(y, k),
        )?;

        let idx: Vec<usize> = (0..test.len())
            .filter(|&i| poisonable(test.labels()[i]))
            .collect();
        let mut inputs = test.subset(&idx);
        let (dims, at) = test_place;
        for j in 0..inputs.len() {
            self.patch.apply(inputs.sample_mut(j), dims, at);
        }
        let targets = idx
            .iter()
            .map(|&i| self.relabel(test.labels()[i], k))
            .collect();
        Ok(Poisoned {
            data,
            is_poison,
            attack_test: Some(AttackTest { inputs, targets }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;
    use crate::{Apply, Corner, TriggerParams, TriggerShape};
    use poisonlab_core::Dataset;
    use poisonlab_core::seed::stream;
    use proptest::prelude::*;
    use rand::Rng as _;

    fn images(n: usize, k: usize, shape: [usize; 3], seed: u64) -> Dataset {
        let mut rng = stream(seed, 0, "images");
        let dim: usize = shape.iter().product();
        let features = (0..n * dim).map(|_| rng.random::<f32>()).collect();
        let ids = (0..n as u64).map(|i| 100 + 3 * i).collect();
        Dataset::new(
            features,
            shape.to_vec(),
            (0..n).map(|i| i % k).collect(),
            k,
            Some(ids),
        )
        .unwrap()
    }

    fn attack(params: BadNetsParams) -> BadNets {
        BadNets::new(params, Path::new(".")).unwrap()
    }

    fn trigger(t: TriggerParams) -> BadNets {
        attack(BadNetsParams {
            trigger: t,
            ..BadNetsParams::default()
        })
    }

    /// The 8×8 image as rows of 0/1 after stamping a zero image.
    fn stamped(b: &BadNets, fill: f32) -> Vec<f32> {
        let mut img = vec![fill; 64];
        b.apply_trigger(&mut img, &[1, 8, 8]);
        img
    }

    #[test]
    fn pattern_at_bottom_right_with_margin_one() {
        let b = trigger(TriggerParams::default());
        #[rustfmt::skip]
        let expected = [
            0., 0., 0., 0., 0., 0., 0., 0.,
            0., 0., 0., 0., 0., 0., 0., 0.,
            0., 0., 0., 0., 0., 0., 0., 0.,
            0., 0., 0., 0., 0., 0., 0., 0.,
            0., 0., 0., 0., 1., 0., 1., 0.,
            0., 0., 0., 0., 0., 1., 0., 0.,
            0., 0., 0., 0., 1., 0., 1., 0.,
            0., 0., 0., 0., 0., 0., 0., 0.,
        ];
        assert_eq!(stamped(&b, 0.0), expected);
        // The pattern is two-tone: stamped on white, its off cells turn black.
        let on_white = stamped(&b, 1.0);
        let zeros: Vec<usize> = (0..64).filter(|&i| on_white[i] == 0.0).collect();
        assert_eq!(zeros, [4 * 8 + 5, 5 * 8 + 4, 5 * 8 + 6, 6 * 8 + 5]);
    }

    #[test]
    fn each_corner_places_the_patch() {
        let at = |corner| {
            let b = trigger(TriggerParams {
                shape: TriggerShape::Square,
                size: 2,
                margin: 1,
                corner,
                ..TriggerParams::default()
            });
            let img = stamped(&b, 0.0);
            (0..64).filter(|&i| img[i] == 1.0).collect::<Vec<_>>()
        };
        assert_eq!(at(Corner::TopLeft), [9, 10, 17, 18]);
        assert_eq!(at(Corner::TopRight), [13, 14, 21, 22]);
        assert_eq!(at(Corner::BottomLeft), [41, 42, 49, 50]);
        assert_eq!(at(Corner::BottomRight), [45, 46, 53, 54]);
    }

    #[test]
    fn pixel_ignores_size() {
        let b = trigger(TriggerParams {
            shape: TriggerShape::Pixel,
            size: 5,
            margin: 0,
            value: 0.5,
            ..TriggerParams::default()
        });
        let img = stamped(&b, 0.0);
        let on: Vec<usize> = (0..64).filter(|&i| img[i] != 0.0).collect();
        assert_eq!(on, [63]);
        assert_eq!(img[63], 0.5);
    }

    #[test]
    fn position_overrides_corner() {
        let b = trigger(TriggerParams {
            shape: TriggerShape::Square,
            size: 2,
            corner: Corner::BottomRight,
            margin: 3,
            position: Some([0, 1]),
            ..TriggerParams::default()
        });
        let img = stamped(&b, 0.0);
        let on: Vec<usize> = (0..64).filter(|&i| img[i] == 1.0).collect();
        assert_eq!(on, [1, 2, 9, 10]);
    }

    #[test]
    fn three_channels_are_all_stamped() {
        let b = trigger(TriggerParams {
            shape: TriggerShape::Square,
            size: 2,
            margin: 0,
            value: 0.75,
            ..TriggerParams::default()
        });
        let mut img = vec![0.25; 3 * 16];
        b.apply_trigger(&mut img, &[3, 4, 4]);
        for ch in 0..3 {
            let plane = &img[ch * 16..(ch + 1) * 16];
            let on: Vec<usize> = (0..16).filter(|&i| plane[i] == 0.75).collect();
            assert_eq!(on, [10, 11, 14, 15], "channel {ch}");
            assert_eq!(plane.iter().filter(|&&v| v == 0.25).count(), 12);
        }
    }

    #[test]
    fn add_brightens_and_clamps() {
        let b = trigger(TriggerParams {
            shape: TriggerShape::Square,
            size: 1,
            margin: 0,
            position: Some([0, 0]),
            value: 0.5,
            apply: Apply::Add,
            ..TriggerParams::default()
        });
        let mut img = [0.2, 0.7];
        b.apply_trigger(&mut img[..1], &[1, 1, 1]);
        assert!((img[0] - 0.7).abs() < 1e-6);
        b.apply_trigger(&mut img[1..], &[1, 1, 1]);
        assert_eq!(img[1], 1.0);
    }

    #[test]
    fn apply_trigger_leaves_samples_it_cannot_hold() {
        let b = trigger(TriggerParams::default());
        let mut tab = vec![0.3; 6];
        b.apply_trigger(&mut tab, &[6]);
        assert_eq!(tab, vec![0.3; 6]);
        let mut small = vec![0.3; 9];
        b.apply_trigger(&mut small, &[1, 3, 3]);
        assert_eq!(small, vec![0.3; 9]);
    }

    fn write_png(path: &Path, w: u32, h: u32, color: png::ColorType, data: &[u8]) {
        let file = std::fs::File::create(path).unwrap();
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(data).unwrap();
    }

    fn image_trigger(path: &str) -> BadNetsParams {
        BadNetsParams {
            trigger: TriggerParams {
                shape: TriggerShape::Image,
                path: Some(path.into()),
                margin: 0,
                ..TriggerParams::default()
            },
            ..BadNetsParams::default()
        }
    }

    #[test]
    fn image_trigger_reads_a_grayscale_png() {
        let dir = tempfile::tempdir().unwrap();
        // 3 wide, 2 high.
        write_png(
            &dir.path().join("mask.png"),
            3,
            2,
            png::ColorType::Grayscale,
            &[255, 0, 255, 0, 255, 0],
        );
        let facts = DataFacts {
            n_classes: Some(2),
            shape: Some(vec![1, 4, 5]),
        };
        let b = BadNets::build(
            image_trigger("mask.png"),
            &BuildContext::new(dir.path(), &facts),
        )
        .unwrap();
        assert_eq!(b.trigger_extent(), (2, 3));
        let mut img = vec![0.0; 20];
        b.apply_trigger(&mut img, &[1, 4, 5]);
        #[rustfmt::skip]
        let expected = [
            0., 0., 0., 0., 0.,
            0., 0., 0., 0., 0.,
            0., 0., 1., 0., 1.,
            0., 0., 0., 1., 0.,
        ];
        assert_eq!(img, expected);
    }

    #[test]
    fn image_trigger_uses_alpha_as_a_soft_mask() {
        let dir = tempfile::tempdir().unwrap();
        // One black-but-opaque pixel and one white half-transparent pixel.
        write_png(
            &dir.path().join("a.png"),
            2,
            1,
            png::ColorType::Rgba,
            &[0, 0, 0, 255, 255, 255, 255, 51],
        );
        let b = BadNets::new(image_trigger("a.png"), dir.path()).unwrap();
        let mut img = vec![0.5; 2];
        b.apply_trigger(&mut img, &[1, 1, 2]);
        assert_eq!(img[0], 1.0); // alpha 1: stamped with value 1.0
        assert!((img[1] - 0.6).abs() < 1e-6, "{}", img[1]); // 0.8·0.5 + 0.2·1
    }

    #[test]
    fn image_trigger_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let errs = BadNets::new(image_trigger("missing.png"), dir.path()).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "trigger.path");
        assert!(
            errs[0]
                .message
                .starts_with("cannot read the trigger image "),
            "{}",
            errs[0].message
        );
        assert!(
            errs[0].message.contains("missing.png"),
            "{}",
            errs[0].message
        );
        std::fs::write(dir.path().join("bad.png"), b"not a png").unwrap();
        let errs = BadNets::new(image_trigger("bad.png"), dir.path()).unwrap_err();
        assert_eq!(errs[0].key, "trigger.path");
        assert!(errs[0].message.contains("bad.png"), "{}", errs[0].message);
    }

    #[test]
    fn loaded_image_trigger_must_fit() {
        let dir = tempfile::tempdir().unwrap();
        write_png(
            &dir.path().join("big.png"),
            5,
            5,
            png::ColorType::Grayscale,
            &[255; 25],
        );
        let b = BadNets::new(image_trigger("big.png"), dir.path()).unwrap();
        let errs = b.check(Some(&[1, 4, 4]), Some(10)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "trigger.path");
        assert!(errs[0].message.contains("5×5"), "{}", errs[0].message);
        assert!(errs[0].message.contains("4×4"), "{}", errs[0].message);
        let train = images(4, 2, [1, 4, 4], 0);
        let err = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap_err();
        assert!(matches!(err, BadNetsError::TriggerDoesNotFit { .. }));
    }

    #[test]
    fn new_refuses_bad_parameters() {
        let errs = BadNets::new(
            BadNetsParams {
                rate: 2.0,
                trigger: TriggerParams {
                    size: 0,
                    ..TriggerParams::default()
                },
                ..BadNetsParams::default()
            },
            Path::new("."),
        )
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["rate", "trigger.size"]);
    }

    #[test]
    fn build_checks_parameters_before_reading_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = BadNetsParams {
            target: 10,
            ..image_trigger("missing.png")
        };
        let facts = DataFacts {
            n_classes: Some(10),
            shape: Some(vec![1, 8, 8]),
        };
        let errs = BadNets::build(p, &BuildContext::new(dir.path(), &facts)).unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["target"]);
    }

    #[test]
    fn build_and_check_data_check_the_loaded_trigger_against_the_data() {
        let dir = tempfile::tempdir().unwrap();
        write_png(
            &dir.path().join("big.png"),
            5,
            5,
            png::ColorType::Grayscale,
            &[255; 25],
        );
        let small = DataFacts {
            n_classes: Some(10),
            shape: Some(vec![1, 4, 4]),
        };
        let errs = BadNets::build(
            image_trigger("big.png"),
            &BuildContext::new(dir.path(), &small),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "trigger.path");
        let unknown = DataFacts::default();
        let b = BadNets::build(
            image_trigger("big.png"),
            &BuildContext::new(dir.path(), &unknown),
        )
        .unwrap();
        assert_eq!(b.check_data(&small).unwrap_err()[0].key, "trigger.path");
        let large = DataFacts {
            n_classes: Some(10),
            shape: Some(vec![3, 8, 8]),
        };
        assert!(b.check_data(&large).is_ok());
        let one = DataFacts {
            n_classes: Some(0),
            ..large
        };
        assert_eq!(b.check_data(&one).unwrap_err()[0].key, "target");
    }

    #[test]
    fn describe_names_goal_trigger_and_mode() {
        let b = attack(BadNetsParams::default());
        assert_eq!(
            b.describe(),
            "badnets, all-to-one → 0, rate 0.05, Pattern trigger 3×3 px at BottomRight, Replace mode"
        );
        let b = attack(BadNetsParams {
            all_to_all: true,
            rate: 0.1,
            mode: Mode::Add,
            trigger: TriggerParams {
                shape: TriggerShape::Square,
                size: 2,
                position: Some([1, 2]),
                ..TriggerParams::default()
            },
            ..BadNetsParams::default()
        });
        assert_eq!(
            b.describe(),
            "badnets, all-to-all (y → y+1), rate 0.1, Square trigger 2×2 px at (1, 2), Add mode"
        );
        assert!(!b.needs_surrogate() && !b.needs_rounds());
        assert_eq!(Kind::params(&b).rate, 0.1);
    }

    #[test]
    fn replace_poisons_non_target_samples_and_builds_the_test() {
        let train = images(100, 4, [1, 8, 8], 1);
        let test = images(40, 4, [1, 8, 8], 2);
        let b = attack(BadNetsParams {
            target: 3,
            rate: 0.2,
            ..BadNetsParams::default()
        });
        let p = b
            .poison(AttackInput::new(&train, &test), &mut stream(0, 0, "attack"))
            .unwrap();
        assert_eq!(p.n_poison(), 15); // 0.2 × 75 non-target samples
        assert_eq!(p.data.ids(), train.ids());
        for i in 0..100 {
            if p.is_poison[i] {
                assert_ne!(train.labels()[i], 3);
                assert_eq!(p.data.labels()[i], 3);
                let mut expected = train.sample(i).to_vec();
                b.apply_trigger(&mut expected, &[1, 8, 8]);
                assert_eq!(p.data.sample(i), expected);
            }
        }
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 30);
        assert!(t.inputs.labels().iter().all(|&y| y != 3));
        assert!(t.targets.iter().all(|&y| y == 3));
        // Triggered: the checkerboard's on cell at (4, 4) is 1 in every input.
        assert!((0..30).all(|j| t.inputs.sample(j)[4 * 8 + 4] == 1.0));
    }

    #[test]
    fn all_to_all_moves_each_class_to_the_next() {
        let train = images(60, 3, [1, 8, 8], 3);
        let b = attack(BadNetsParams {
            all_to_all: true,
            target: 1, // ignored
            rate: 0.5,
            ..BadNetsParams::default()
        });
        let p = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap();
        assert_eq!(p.n_poison(), 30); // of all 60 samples
        for i in (0..60).filter(|&i| p.is_poison[i]) {
            assert_eq!(p.data.labels()[i], (train.labels()[i] + 1) % 3);
        }
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 60);
        for j in 0..60 {
            assert_eq!(t.targets[j], (t.inputs.labels()[j] + 1) % 3);
        }
    }

    #[test]
    fn source_specific_poisons_and_measures_only_the_source_classes() {
        let train = images(100, 5, [1, 8, 8], 7);
        let test = images(50, 5, [1, 8, 8], 8);
        let b = attack(BadNetsParams {
            target: 0,
            source: Some(vec![2, 4]),
            rate: 0.5,
            ..BadNetsParams::default()
        });
        assert_eq!(
            b.describe(),
            "badnets, source-specific [2, 4] → 0, rate 0.5, Pattern trigger 3×3 px at BottomRight, Replace mode"
        );
        let p = b
            .poison(AttackInput::new(&train, &test), &mut stream(0, 0, "attack"))
            .unwrap();
        assert_eq!(p.n_poison(), 20); // 0.5 × the 40 samples of classes 2 and 4
        for i in (0..100).filter(|&i| p.is_poison[i]) {
            assert!([2, 4].contains(&train.labels()[i]));
            assert_eq!(p.data.labels()[i], 0);
        }
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 20);
        assert!(t.inputs.labels().iter().all(|&y| y == 2 || y == 4));
        assert!(t.targets.iter().all(|&y| y == 0));
        // A source class the data does not have is an error, not a panic.
        let far = attack(BadNetsParams {
            source: Some(vec![9]),
            ..BadNetsParams::default()
        });
        let err = far
            .poison(AttackInput::new(&train, &test), &mut stream(0, 0, "attack"))
            .unwrap_err();
        assert_eq!(
            err,
            BadNetsError::SourceOutOfRange {
                class: 9,
                classes: 5
            }
        );
    }

    #[test]
    fn add_gives_copies_fresh_ids() {
        let train = images(10, 2, [1, 8, 8], 4);
        let b = attack(BadNetsParams {
            target: 0,
            rate: 0.4,
            mode: Mode::Add,
            ..BadNetsParams::default()
        });
        let p = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap();
        // 0.4 × 5 non-target samples; ids 100, 103, ..., 127.
        assert_eq!(p.data.len(), 12);
        assert_eq!(&p.data.ids()[10..], &[128, 129]);
        assert_eq!(p.data.labels()[10..], [0, 0]);
    }

    #[test]
    fn tabular_data_is_an_error_not_a_panic() {
        let train = Dataset::new(vec![0.5; 20], vec![4], vec![0, 1, 0, 1, 1], 2, None).unwrap();
        let err = attack(BadNetsParams::default())
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap_err();
        assert_eq!(err, BadNetsError::NotImage(vec![4]));
    }

    #[test]
    fn target_out_of_range_is_an_error() {
        let train = images(10, 2, [1, 8, 8], 5);
        let err = attack(BadNetsParams {
            target: 2,
            ..BadNetsParams::default()
        })
        .poison(
            AttackInput::new(&train, &train),
            &mut stream(0, 0, "attack"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            BadNetsError::TargetOutOfRange {
                target: 2,
                classes: 2
            }
        );
    }

    #[test]
    fn same_stream_same_poison() {
        let train = images(200, 5, [3, 6, 6], 6);
        let b = attack(BadNetsParams {
            rate: 0.1,
            ..BadNetsParams::default()
        });
        let run = |name| {
            b.poison(AttackInput::new(&train, &train), &mut stream(0, 0, name))
                .unwrap()
        };
        let (a, again, other) = (run("a"), run("a"), run("b"));
        assert_eq!(a.is_poison, again.is_poison);
        assert_eq!(a.data, again.data);
        assert_ne!(a.is_poison, other.is_poison);
    }

    fn any_trigger() -> impl Strategy<Value = TriggerParams> {
        (
            prop_oneof![
                Just(TriggerShape::Pixel),
                Just(TriggerShape::Pattern),
                Just(TriggerShape::Square)
            ],
            1usize..5,
            prop_oneof![
                Just(Corner::BottomRight),
                Just(Corner::BottomLeft),
                Just(Corner::TopRight),
                Just(Corner::TopLeft)
            ],
            0usize..3,
            0.0f64..=1.0,
            prop_oneof![Just(Apply::Stamp), Just(Apply::Add)],
            proptest::option::of((0usize..4, 0usize..4)),
        )
            .prop_map(|(shape, size, corner, margin, value, apply, position)| {
                TriggerParams {
                    shape,
                    size,
                    corner,
                    margin,
                    value,
                    apply,
                    position: position.map(|(r, c)| [r, c]),
                    path: None,
                }
            })
    }

    proptest! {
        #[test]
        fn trigger_stays_in_unit_range_and_inside_its_patch(
            t in any_trigger(), c in prop_oneof![Just(1usize), Just(3)],
            h in 5usize..10, w in 5usize..10, seed in any::<u64>()
        ) {
            let b = trigger(t.clone());
            let shape = [c, h, w];
            let Ok((_, (top, left))) = b.place(&shape) else {
                return Ok(()); // check() refuses triggers that do not fit
            };
            let (rows, cols) = b.trigger_extent();
            let clean = images(1, 1, shape, seed).sample(0).to_vec();
            let mut img = clean.clone();
            b.apply_trigger(&mut img, &shape);
            for (i, (&after, &before)) in img.iter().zip(&clean).enumerate() {
                prop_assert!((0.0..=1.0).contains(&after), "{after} at {i}");
                let (y, x) = ((i / w) % h, i % w);
                let inside = (top..top + rows).contains(&y) && (left..left + cols).contains(&x);
                if !inside {
                    prop_assert_eq!(after, before);
                }
            }
        }

        #[test]
        fn replace_counts_exactly_and_changes_only_the_masked(
            n in 1usize..120, k in 2usize..6, target in 0usize..6,
            rate in 0.0f64..=1.0, seed in any::<u64>()
        ) {
            let target = target % k;
            let train = images(n, k, [1, 6, 6], seed);
            let b = attack(BadNetsParams { target, rate, ..BadNetsParams::default() });
            let p = b.poison(AttackInput::new(&train, &train), &mut stream(seed, 0, "attack")).unwrap();
            let eligible = train.labels().iter().filter(|&&y| y != target).count();
            let expected = (rate * eligible as f64).round() as usize;
            let expected = if rate > 0.0 && eligible > 0 { expected.max(1) } else { expected };
            prop_assert_eq!(p.n_poison(), expected.min(eligible));
            prop_assert_eq!(p.data.len(), n);
            prop_assert_eq!(p.data.ids(), train.ids());
            for i in 0..n {
                if p.is_poison[i] {
                    prop_assert_eq!(p.data.labels()[i], target);
                    prop_assert_ne!(train.labels()[i], target);
                } else {
                    prop_assert_eq!(p.data.labels()[i], train.labels()[i]);
                    prop_assert_eq!(p.data.sample(i), train.sample(i));
                }
            }
        }

        #[test]
        fn add_keeps_originals_and_appends_exactly_the_poisons(
            n in 1usize..120, k in 2usize..6, all_to_all in any::<bool>(),
            rate in 0.0f64..=1.0, seed in any::<u64>()
        ) {
            let train = images(n, k, [3, 5, 5], seed);
            let b = attack(BadNetsParams {
                target: 1, all_to_all, rate, mode: Mode::Add, ..BadNetsParams::default()
            });
            let p = b.poison(AttackInput::new(&train, &train), &mut stream(seed, 0, "attack")).unwrap();
            let eligible = if all_to_all { n } else { train.labels().iter().filter(|&&y| y != 1).count() };
            let added = poison_count(rate, eligible);
            prop_assert_eq!(p.data.len(), n + added);
            prop_assert_eq!(p.n_poison(), added);
            prop_assert_eq!(&p.data.subset(&(0..n).collect::<Vec<_>>()), &train);
            prop_assert!(p.is_poison[..n].iter().all(|&m| !m));
            prop_assert!(p.is_poison[n..].iter().all(|&m| m));
            let max = *train.ids().iter().max().unwrap();
            for (j, &id) in p.data.ids()[n..].iter().enumerate() {
                prop_assert_eq!(id, max + 1 + j as u64);
                if !all_to_all {
                    prop_assert_eq!(p.data.labels()[n + j], 1);
                }
            }
        }
    }
}
