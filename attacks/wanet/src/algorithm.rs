use poisonlab_core::{
    Attack, AttackInput, AttackTest, BuildContext, DataFacts, Kind, ParamError, Poisoned, Rng,
    inject, poison_count,
};
use rand::seq::index::sample;

use crate::{WanetError, WanetParams, Warp};

/// The WaNet backdoor of Nguyen and Tran 2021 ("WaNet – Imperceptible
/// Warping-based Backdoor Attack", ICLR 2021): a fixed smooth warp as the
/// trigger, with the paper's noise mode.
///
/// The ground-truth mask marks the warped, relabelled backdoor samples.
/// The noise-mode samples (warped with a jittered grid, labels kept) are
/// changed by the attacker too but carry no backdoor, and removing them
/// does not remove it, so the mask leaves them out: a filter is scored on
/// finding the samples that plant the backdoor.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanet {
    params: WanetParams,
}

impl Kind for Wanet {
    type Params = WanetParams;

    fn build(params: WanetParams, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        params.check(ctx.facts.shape.as_deref(), ctx.facts.n_classes)?;
        Ok(Self { params })
    }

    fn params(&self) -> &WanetParams {
        &self.params
    }

    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        self.params.check(facts.shape.as_deref(), facts.n_classes)
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "wanet, → {}, rate {}, cross-ratio {}, {}×{} grid, strength {}, {:?} mode",
            p.target, p.rate, p.cross_ratio, p.grid, p.grid, p.strength, p.mode
        )
    }
}

impl Attack for Wanet {
    type Error = WanetError;

    fn poison(&self, input: AttackInput<'_>, rng: &mut Rng) -> Result<Poisoned, WanetError> {
        let (train, test) = (input.train, input.test);
        let p = &self.params;
        let k = train.n_classes();
        if p.target >= k {
            return Err(WanetError::TargetOutOfRange {
                target: p.target,
                classes: k,
            });
        }
        if train.shape() != test.shape() {
            return Err(WanetError::ShapeMismatch {
                train: train.shape().to_vec(),
                test: test.shape().to_vec(),
            });
        }
        let &[_, h, w] = train.shape() else {
            return Err(WanetError::NotImage(train.shape().to_vec()));
        };
        if h < 2 || w < 2 {
            return Err(WanetError::NotImage(train.shape().to_vec()));
        }
        // The warp first, so it does not depend on which samples are drawn.
        let warp = Warp::random(p.grid, p.strength, h, w, rng);

        let eligible: Vec<usize> = (0..train.len())
            .filter(|&i| train.labels()[i] != p.target)
            .collect();
        let n = poison_count(p.rate, eligible.len());
        let mut picks: Vec<usize> = sample(rng, eligible.len(), n)
            .into_iter()
            .map(|j| eligible[j])
            .collect();
        picks.sort_unstable();
        let (mut data, is_poison) = inject(train, &picks, p.mode, |x| warp.apply(x), |_| p.target)?;

        // Noise mode: samples the backdoor did not pick, any class, labels kept.
        let rest: Vec<usize> = (0..train.len())
            .filter(|i| picks.binary_search(i).is_err())
            .collect();
        let n_cross = ((p.cross_ratio * n as f64).round() as usize).min(rest.len());
        let mut cross: Vec<usize> = sample(rng, rest.len(), n_cross)
            .into_iter()
            .map(|j| rest[j])
            .collect();
        cross.sort_unstable();
        for &i in &cross {
            warp.jittered(rng).apply(data.sample_mut(i));
        }

        let attack_test = AttackTest::all_to_one(test, p.target, |x| warp.apply(x));
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
    use crate::params::Mode;
    use poisonlab_core::Dataset;
    use poisonlab_core::seed::stream;
    use rand::Rng as _;
    use std::path::Path;

    fn images(n: usize, k: usize, seed: u64) -> Dataset {
        let mut rng = stream(seed, 0, "images");
        let features = (0..n * 64).map(|_| rng.random::<f32>()).collect();
        Dataset::new(
            features,
            vec![1, 8, 8],
            (0..n).map(|i| i % k).collect(),
            k,
            None,
        )
        .unwrap()
    }

    fn wanet(params: WanetParams) -> Wanet {
        Wanet::build(
            params,
            &BuildContext::new(Path::new("."), &DataFacts::default()),
        )
        .unwrap()
    }

    #[test]
    fn backdoor_and_noise_samples() {
        let train = images(200, 4, 1);
        let test = images(40, 4, 2);
        let a = wanet(WanetParams {
            target: 1,
            rate: 0.2,
            cross_ratio: 1.0,
            strength: 2.0,
            ..WanetParams::default()
        });
        let p = a
            .poison(AttackInput::new(&train, &test), &mut stream(0, 0, "attack"))
            .unwrap();
        assert_eq!(p.n_poison(), 30); // 0.2 × 150 non-target samples
        let mut changed_clean = 0;
        for i in 0..200 {
            let changed = p.data.sample(i) != train.sample(i);
            if p.is_poison[i] {
                assert_ne!(train.labels()[i], 1);
                assert_eq!(p.data.labels()[i], 1);
                assert!(changed);
            } else {
                assert_eq!(p.data.labels()[i], train.labels()[i]);
                changed_clean += usize::from(changed);
            }
        }
        assert_eq!(changed_clean, 30); // cross-ratio 1: as many noise samples, labels kept
        // Every backdoor sample went through the same warp as the test inputs.
        let warp = Warp::random(4, 2.0, 8, 8, &mut stream(0, 0, "attack"));
        let i = (0..200).find(|&i| p.is_poison[i]).unwrap();
        let mut want = train.sample(i).to_vec();
        warp.apply(&mut want);
        assert_eq!(p.data.sample(i), want);
        let t = p.attack_test.unwrap();
        assert_eq!(t.inputs.len(), 30);
        assert!(t.targets.iter().all(|&y| y == 1));
        assert!(t.inputs.labels().iter().all(|&y| y != 1));
    }

    #[test]
    fn add_mode_appends_and_no_noise_without_cross_ratio() {
        let train = images(40, 2, 3);
        let a = wanet(WanetParams {
            rate: 0.5,
            cross_ratio: 0.0,
            mode: Mode::Add,
            ..WanetParams::default()
        });
        let p = a
            .poison(
                AttackInput::new(&train, &train),
                &mut stream(0, 0, "attack"),
            )
            .unwrap();
        assert_eq!(p.data.len(), 50);
        assert_eq!(p.n_poison(), 10);
        for i in 0..40 {
            assert_eq!(p.data.sample(i), train.sample(i));
        }
    }

    #[test]
    fn tabular_data_is_an_error() {
        let tab = Dataset::new(vec![0.0; 20], vec![2], vec![0; 10], 2, None).unwrap();
        let err = wanet(WanetParams::default())
            .poison(AttackInput::new(&tab, &tab), &mut stream(0, 0, "a"))
            .unwrap_err();
        assert_eq!(err, WanetError::NotImage(vec![2]));
    }
}
