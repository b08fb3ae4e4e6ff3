use std::path::Path;

use poisonlab_core::{
    Attack, AttackInput, AttackTest, BuildContext, DataFacts, Kind, ParamChecks, ParamError,
    Poisoned, Rng, inject, poison_count,
};
use rand::Rng as _;
use rand::seq::index::sample;

use crate::pattern::{PngPattern, blend};
use crate::{BlendError, BlendParams, Pattern};

/// The blended-injection backdoor of Chen, Liu, Li, Lu and Song 2017
/// ("Targeted Backdoor Attacks on Deep Learning Systems Using Data
/// Poisoning", arXiv:1712.05526): its parameters and, for an image pattern,
/// the loaded PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct Blend {
    params: BlendParams,
    image: Option<PngPattern>,
}

impl Blend {
    /// Build the attack, checking `params` ([`BlendParams::check`] without
    /// data facts) and reading an image pattern's PNG from `params.path`
    /// resolved against `base_dir` (the scenario file's folder); the noise
    /// pattern reads nothing. Every problem comes back as a [`ParamError`];
    /// one with the file has the key `path`. [`Kind::build`] does the same
    /// against what is known of the data.
    pub fn new(params: BlendParams, base_dir: &Path) -> Result<Self, Vec<ParamError>> {
        Self::build(params, &BuildContext::new(base_dir, &DataFacts::default()))
    }

    /// The attack for checked parameters: reads an image pattern's PNG.
    fn load(params: BlendParams, base_dir: &Path) -> Result<Self, Vec<ParamError>> {
        let read = || -> Result<Option<PngPattern>, BlendError> {
            match params.pattern {
                Pattern::Noise => Ok(None),
                Pattern::Image => {
                    let rel = params.path.as_deref().ok_or(BlendError::MissingPath)?;
                    Ok(Some(PngPattern::read(&base_dir.join(rel))?))
                }
            }
        };
        let image = read().map_err(|e| vec![ParamError::new("path", e.to_string())])?;
        Ok(Self { params, image })
    }

    /// The parameters this attack was built from.
    pub fn params(&self) -> &BlendParams {
        &self.params
    }

    /// [`BlendParams::check`], plus whether a loaded image pattern matches
    /// samples of `shape` (height × width, and channels for a colour PNG).
    pub fn check(
        &self,
        shape: Option<&[usize]>,
        n_classes: Option<usize>,
    ) -> Result<(), Vec<ParamError>> {
        let mut checks = ParamChecks::new();
        for e in self
            .params
            .check(shape, n_classes)
            .err()
            .unwrap_or_default()
        {
            checks.push(e);
        }
        // Tabular data is already reported by the parameter check.
        if let (Some(image), Some(shape)) = (&self.image, shape)
            && shape.len() == 3
            && let Some(e) = image.fit(shape)
        {
            checks.push(e);
        }
        checks.finish()
    }

    /// The key pattern for samples of `shape`, as one row-major sample: fresh
    /// uniform [0, 1) noise drawn from `rng` (one value per feature), or the
    /// loaded PNG laid out over the channels (which draws nothing).
    pub fn pattern(&self, shape: &[usize], rng: &mut Rng) -> Result<Vec<f32>, BlendError> {
        match &self.image {
            None => {
                let dim: usize = shape.iter().product();
                Ok((0..dim).map(|_| rng.random::<f32>()).collect())
            }
            Some(image) => image.layout(shape),
        }
    }
}

impl Kind for Blend {
    type Params = BlendParams;

    /// Parameter rules first; the pattern image loads only when they hold,
    /// then must match the images (when their shape is known).
    fn build(params: BlendParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        let (shape, n_classes) = (ctx.facts.shape.as_deref(), ctx.facts.n_classes);
        params.check(shape, n_classes)?;
        let attack = Self::load(params, ctx.base_dir)?;
        attack.check(shape, n_classes)?;
        Ok(attack)
    }

    fn params(&self) -> &BlendParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.check(facts.shape.as_deref(), facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "blend, → {}, rate {}, alpha {} (test {}), {:?} pattern, {:?} mode",
            p.target,
            p.rate,
            p.alpha,
            p.test_alpha(),
            p.pattern,
            p.mode
        )
    }
}

impl Attack for Blend {
    type Error = BlendError;

    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, BlendError> {
        let (train, test) = (input.train, input.test);
        let p = &self.params;
        let k = train.n_classes();
        if p.target >= k {
            return Err(BlendError::TargetOutOfRange {
                target: p.target,
                classes: k,
            });
        }
        if train.shape() != test.shape() {
            return Err(BlendError::ShapeMismatch {
                train: train.shape().to_vec(),
                test: test.shape().to_vec(),
            });
        }
        // First draw from the stream, so the pattern does not depend on the
        // choice of samples and train and test share it.
        let pattern = self.pattern(train.shape(), rng)?;

        let eligible: Vec<usize> = (0..train.len())
            .filter(|&i| train.labels()[i] != p.target)
            .collect();
        let n = poison_count(p.rate, eligible.len());
        let mut picks: Vec<usize> = sample(rng, eligible.len(), n)
            .into_iter()
            .map(|j| eligible[j])
            .collect();
        picks.sort_unstable();

        let (data, is_poison) = inject(
            train,
            &picks,
            p.mode,
            |x| blend(x, &pattern, p.alpha),
            |_| p.target,
        )?;

        let attack_test =
            AttackTest::all_to_one(test, p.target, |x| blend(x, &pattern, p.test_alpha()));
        Ok(Poisoned {
            data,
            is_poison,
            attack_test: Some(attack_test),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;
    use poisonlab_core::Dataset;
    use poisonlab_core::seed::stream;
    use proptest::prelude::*;

    fn data(n: usize, k: usize, shape: &[usize], seed: u64) -> Dataset {
        let mut rng = stream(seed, 0, "data");
        let dim: usize = shape.iter().product();
        Dataset::new(
            (0..n * dim).map(|_| rng.random::<f32>()).collect(),
            shape.to_vec(),
            (0..n).map(|i| i % k).collect(),
            k,
            Some((0..n as u64).map(|i| 7 + 2 * i).collect()),
        )
        .unwrap()
    }

    fn zeros(n: usize, k: usize, shape: &[usize]) -> Dataset {
        let dim: usize = shape.iter().product();
        Dataset::new(
            vec![0.0; n * dim],
            shape.to_vec(),
            (0..n).map(|i| i % k).collect(),
            k,
            None,
        )
        .unwrap()
    }

    fn attack(params: BlendParams) -> Blend {
        Blend::new(params, Path::new(".")).unwrap()
    }

    #[test]
    fn blend_mixes_by_alpha() {
        let mut x = [0.5, 0.0, 1.0, 0.25];
        blend(&mut x, &[1.0, 1.0, 0.0, 0.25], 0.2);
        let want = [0.6, 0.2, 0.8, 0.25];
        for (got, want) in x.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        let mut y = [0.3, 0.9];
        blend(&mut y, &[0.7, 0.1], 1.0);
        assert_eq!(y, [0.7, 0.1]);
    }

    #[test]
    fn noise_is_drawn_first_and_shared_by_train_and_test() {
        let shape = [1, 4, 4];
        let train = zeros(30, 3, &shape);
        let b = attack(BlendParams {
            target: 2,
            rate: 0.5,
            alpha: 0.25,
            test_alpha: Some(1.0),
            ..BlendParams::default()
        });
        let p = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap();
        let noise = b.pattern(&shape, &mut stream(0, 0, "attack")).unwrap();
        assert!(noise.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(noise.windows(2).any(|w| w[0] != w[1]));
        assert_eq!(p.n_poison(), 10); // 0.5 × 20 non-target samples
        for i in (0..30).filter(|&i| p.is_poison[i]) {
            assert_eq!(p.data.labels()[i], 2);
            for (got, n) in p.data.sample(i).iter().zip(&noise) {
                assert!((got - 0.25 * n).abs() < 1e-6);
            }
        }
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 20);
        assert!(t.inputs.labels().iter().all(|&y| y != 2));
        assert!(t.targets.iter().all(|&y| y == 2));
        for j in 0..20 {
            assert_eq!(t.inputs.sample(j), noise.as_slice()); // test-alpha 1
        }
    }

    #[test]
    fn tabular_data_takes_a_noise_pattern() {
        let train = data(50, 2, &[6], 1);
        let b = attack(BlendParams {
            target: 1,
            rate: 0.2,
            ..BlendParams::default()
        });
        let p = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap();
        assert_eq!(p.n_poison(), 5);
        assert_eq!(p.data.shape(), &[6]);
        assert_eq!(p.attack_test.unwrap().inputs.len(), 25);
    }

    #[test]
    fn add_gives_copies_fresh_ids() {
        let train = data(10, 2, &[1, 2, 2], 2);
        let b = attack(BlendParams {
            target: 0,
            rate: 0.4,
            mode: Mode::Add,
            ..BlendParams::default()
        });
        let p = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap();
        // 0.4 × 5 non-target samples; ids 7, 9, ..., 25.
        assert_eq!(p.data.len(), 12);
        assert_eq!(&p.data.ids()[10..], &[26, 27]);
        assert_eq!(&p.is_poison[10..], &[true, true]);
    }

    #[test]
    fn same_stream_same_poison() {
        let train = data(200, 4, &[3, 4, 4], 3);
        let b = attack(BlendParams {
            rate: 0.1,
            ..BlendParams::default()
        });
        let run = |name| {
            b.poison(AttackInput::new(&train, &train), &mut stream(0, 0, name))
                .unwrap()
        };
        let (a, again, other) = (run("a"), run("a"), run("b"));
        assert_eq!(a.is_poison, again.is_poison);
        assert_eq!(a.data, again.data);
        assert_eq!(
            a.attack_test.unwrap().inputs,
            again.attack_test.unwrap().inputs
        );
        assert_ne!(a.data, other.data);
    }

    #[test]
    fn runtime_errors_are_errors() {
        let train = data(10, 2, &[1, 2, 2], 4);
        let b = attack(BlendParams {
            target: 5,
            ..BlendParams::default()
        });
        let err = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap_err();
        assert_eq!(
            err,
            BlendError::TargetOutOfRange {
                target: 5,
                classes: 2
            }
        );
        let other = data(10, 2, &[1, 3, 3], 4);
        let err = attack(BlendParams::default())
            .poison(
                AttackInput::new(&train, &other),
                &mut stream(0, 0, "attack"),
            )
            .unwrap_err();
        assert!(matches!(err, BlendError::ShapeMismatch { .. }));
    }

    fn write_png(dir: &Path, name: &str, w: u32, h: u32, color: png::ColorType, data: &[u8]) {
        let file = std::fs::File::create(dir.join(name)).unwrap();
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(data).unwrap();
    }

    fn image(path: &str, dir: &Path) -> Blend {
        let params = BlendParams {
            pattern: Pattern::Image,
            path: Some(path.into()),
            alpha: 1.0,
            rate: 1.0,
            target: 0,
            ..BlendParams::default()
        };
        Blend::new(params, dir).unwrap()
    }

    #[test]
    fn grey_png_is_repeated_over_channels() {
        let dir = tempfile::tempdir().unwrap();
        // 3 wide, 2 high.
        write_png(
            dir.path(),
            "g.png",
            3,
            2,
            png::ColorType::Grayscale,
            &[0, 51, 102, 153, 204, 255],
        );
        let b = image("g.png", dir.path());
        b.check(Some(&[3, 2, 3]), Some(2)).unwrap();
        let plane = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
        let got = b.pattern(&[3, 2, 3], &mut stream(0, 0, "x")).unwrap();
        assert_eq!(got, plane.repeat(3));
        // alpha = 1 turns every non-target sample into the pattern.
        let train = zeros(4, 2, &[3, 2, 3]);
        let p = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap();
        assert_eq!(p.data.sample(1), plane.repeat(3).as_slice());
        assert_eq!(p.data.sample(0), &[0.0; 18]); // target class, untouched
    }

    #[test]
    fn rgb_png_gives_three_planes_or_luminance() {
        let dir = tempfile::tempdir().unwrap();
        // 2 wide, 1 high: pure red, pure blue.
        write_png(
            dir.path(),
            "c.png",
            2,
            1,
            png::ColorType::Rgb,
            &[255, 0, 0, 0, 0, 255],
        );
        let b = image("c.png", dir.path());
        let rgb = b.pattern(&[3, 1, 2], &mut stream(0, 0, "x")).unwrap();
        assert_eq!(rgb, [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        let grey = b.pattern(&[1, 1, 2], &mut stream(0, 0, "x")).unwrap();
        assert!((grey[0] - 0.299).abs() < 1e-6 && (grey[1] - 0.114).abs() < 1e-6);
        let errs = b.check(Some(&[2, 1, 2]), Some(2)).unwrap_err();
        assert_eq!(errs[0].key, "path");
        assert!(
            errs[0].message.contains("2 channels"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn png_size_must_match_the_images() {
        let dir = tempfile::tempdir().unwrap();
        write_png(
            dir.path(),
            "s.png",
            5,
            4,
            png::ColorType::Grayscale,
            &[9; 20],
        );
        let b = image("s.png", dir.path());
        let errs = b.check(Some(&[1, 8, 8]), Some(10)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "path");
        assert!(errs[0].message.contains("4×5"), "{}", errs[0].message);
        assert!(errs[0].message.contains("8×8"), "{}", errs[0].message);
        assert!(b.check(Some(&[1, 4, 5]), Some(10)).is_ok());
        // Tabular data is reported once, by the parameter rule.
        let errs = b.check(Some(&[20]), Some(10)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "pattern");
        let train = zeros(4, 2, &[1, 8, 8]);
        let err = b
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap_err();
        assert!(matches!(err, BlendError::PatternDoesNotFit { .. }));
    }

    #[test]
    fn png_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let params = BlendParams {
            pattern: Pattern::Image,
            path: Some("nope.png".into()),
            ..BlendParams::default()
        };
        let errs = Blend::new(params, dir.path()).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "path");
        assert!(
            errs[0]
                .message
                .starts_with("cannot read the blend pattern "),
            "{}",
            errs[0].message
        );
        assert!(errs[0].message.contains("nope.png"), "{}", errs[0].message);
    }

    #[test]
    fn new_refuses_bad_parameters() {
        let errs = Blend::new(
            BlendParams {
                alpha: 1.5,
                path: Some("k.png".into()),
                ..BlendParams::default()
            },
            Path::new("."),
        )
        .unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["alpha", "path"]);
    }

    #[test]
    fn build_checks_parameters_before_reading_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = BlendParams {
            pattern: Pattern::Image,
            path: Some("nope.png".into()),
            target: 3,
            ..BlendParams::default()
        };
        let facts = DataFacts {
            n_classes: Some(2),
            shape: Some(vec![1, 4, 4]),
        };
        let errs = Blend::build(p, &BuildContext::new(dir.path(), &facts)).unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["target"]);
    }

    #[test]
    fn build_and_check_data_check_the_loaded_pattern_against_the_data() {
        let dir = tempfile::tempdir().unwrap();
        write_png(
            dir.path(),
            "s.png",
            5,
            4,
            png::ColorType::Grayscale,
            &[9; 20],
        );
        let p = BlendParams {
            pattern: Pattern::Image,
            path: Some("s.png".into()),
            ..BlendParams::default()
        };
        let wrong = DataFacts {
            n_classes: Some(10),
            shape: Some(vec![1, 8, 8]),
        };
        let errs = Blend::build(p.clone(), &BuildContext::new(dir.path(), &wrong)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "path");
        let unknown = DataFacts::default();
        let b = Blend::build(p, &BuildContext::new(dir.path(), &unknown)).unwrap();
        assert_eq!(b.check_data(&wrong).unwrap_err()[0].key, "path");
        let right = DataFacts {
            n_classes: Some(10),
            shape: Some(vec![3, 4, 5]),
        };
        assert!(b.check_data(&right).is_ok());
    }

    #[test]
    fn describe_names_target_weights_and_pattern() {
        let b = attack(BlendParams::default());
        assert_eq!(
            b.describe(),
            "blend, → 0, rate 0.02, alpha 0.2 (test 0.2), Noise pattern, Replace mode"
        );
        let b = attack(BlendParams {
            target: 3,
            rate: 0.1,
            test_alpha: Some(0.5),
            mode: Mode::Add,
            ..BlendParams::default()
        });
        assert_eq!(
            b.describe(),
            "blend, → 3, rate 0.1, alpha 0.2 (test 0.5), Noise pattern, Add mode"
        );
        assert!(!b.needs_surrogate() && !b.needs_rounds());
        assert_eq!(Kind::params(&b).target, 3);
    }

    proptest! {
        #[test]
        fn blend_never_leaves_the_unit_range(
            xs in proptest::collection::vec((0.0f32..=1.0, 0.0f32..=1.0), 1..50),
            alpha in 0.0f64..=1.0
        ) {
            let (mut sample, pattern): (Vec<f32>, Vec<f32>) = xs.iter().copied().unzip();
            blend(&mut sample, &pattern, alpha);
            for ((after, &(before, p)), i) in sample.iter().zip(&xs).zip(0..) {
                prop_assert!((0.0..=1.0).contains(after), "{after} at {i}");
                prop_assert!(*after >= before.min(p) && *after <= before.max(p));
            }
        }

        #[test]
        fn replace_counts_exactly_and_changes_only_the_masked(
            n in 1usize..120, k in 2usize..6, target in 0usize..6,
            rate in 0.0f64..=1.0, alpha in 0.0f64..=1.0, seed in any::<u64>()
        ) {
            let target = target % k;
            let train = data(n, k, &[1, 3, 3], seed);
            let b = attack(BlendParams { target, rate, alpha, ..BlendParams::default() });
            let p = b.poison(AttackInput::new(&train, &train), &mut stream(seed, 0, "attack")).unwrap();
            let eligible = train.labels().iter().filter(|&&y| y != target).count();
            let expected = (rate * eligible as f64).round() as usize;
            let expected = if rate > 0.0 && eligible > 0 { expected.max(1) } else { expected };
            prop_assert_eq!(p.n_poison(), expected.min(eligible));
            prop_assert_eq!(p.data.len(), n);
            prop_assert_eq!(p.data.ids(), train.ids());
            prop_assert!(p.data.rows().flatten().all(|v| (0.0..=1.0).contains(v)));
            for i in 0..n {
                if p.is_poison[i] {
                    prop_assert_eq!(p.data.labels()[i], target);
                    prop_assert_ne!(train.labels()[i], target);
                } else {
                    prop_assert_eq!(p.data.labels()[i], train.labels()[i]);
                    prop_assert_eq!(p.data.sample(i), train.sample(i));
                }
            }
            let t = p.attack_test.unwrap();
            prop_assert!(t.inputs.rows().flatten().all(|v| (0.0..=1.0).contains(v)));
        }

        #[test]
        fn add_keeps_originals_and_appends_exactly_the_poisons(
            n in 1usize..120, k in 2usize..6, rate in 0.0f64..=1.0, seed in any::<u64>()
        ) {
            let train = data(n, k, &[4], seed);
            let b = attack(BlendParams { target: 1, rate, mode: Mode::Add, ..BlendParams::default() });
            let p = b.poison(AttackInput::new(&train, &train), &mut stream(seed, 0, "attack")).unwrap();
            let eligible = train.labels().iter().filter(|&&y| y != 1).count();
            let added = poison_count(rate, eligible);
            prop_assert_eq!(p.data.len(), n + added);
            prop_assert_eq!(p.n_poison(), added);
            prop_assert_eq!(&p.data.subset(&(0..n).collect::<Vec<_>>()), &train);
            prop_assert!(p.is_poison[..n].iter().all(|&m| !m));
            prop_assert!(p.is_poison[n..].iter().all(|&m| m));
            let max = *train.ids().iter().max().unwrap();
            for (j, &id) in p.data.ids()[n..].iter().enumerate() {
                prop_assert_eq!(id, max + 1 + j as u64);
                prop_assert_eq!(p.data.labels()[n + j], 1);
            }
        }
    }
}
