use poisonlab_core::{AttackTest, Dataset, Poisoned, Rng, poison_count};
use rand::seq::index::sample;

use crate::{DriftError, DriftParams, Method};

/// Drift injection with checked parameters: what one round's poison is.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    params: DriftParams,
}

impl Drift {
    /// An attack for parameters that passed [`DriftParams::check`].
    pub fn new(params: DriftParams) -> Self {
        Self { params }
    }

    /// The parameters.
    pub fn params(&self) -> &DriftParams {
        &self.params
    }

    /// Poison round `round` (1-based) of fresh clean data. `target_mean` is the
    /// mean features of the target class in clean data the attacker has seen
    /// (used by `method = "shift"`). Poisons `round(rate(round) · |source
    /// samples|)` of the round's source-class samples (at least one when the rate
    /// is above zero).
    pub fn poison_round(
        &self,
        round: usize,
        data: &Dataset,
        target_mean: &[f32],
        rng: &mut Rng,
    ) -> Result<Poisoned, DriftError> {
        let p = &self.params;
        if round == 0 || round > p.rounds {
            return Err(DriftError::Round {
                round,
                rounds: p.rounds,
            });
        }
        let k = data.n_classes();
        for class in [p.source, p.target] {
            if class >= k {
                return Err(DriftError::ClassOutOfRange { class, classes: k });
            }
        }
        let rate = p.rate(round);
        let eligible: Vec<usize> = (0..data.len())
            .filter(|&i| data.labels()[i] == p.source)
            .collect();
        let n = poison_count(rate, eligible.len());
        let mut out = data.clone();
        let mut is_poison = vec![false; data.len()];
        let mut picked: Vec<usize> = sample(rng, eligible.len(), n)
            .into_iter()
            .map(|j| eligible[j])
            .collect();
        picked.sort_unstable();
        let step = rate as f32;
        for i in picked {
            if p.method == Method::Shift {
                for (v, &m) in out.sample_mut(i).iter_mut().zip(target_mean) {
                    *v += step * (m - *v);
                }
            }
            out.set_label(i, p.target);
            is_poison[i] = true;
        }
        Ok(Poisoned {
            data: out,
            is_poison,
            attack_test: None,
        })
    }

    /// The test inputs that measure the drift: source-class test samples, wanted as the target.
    pub fn attack_test(&self, test: &Dataset) -> AttackTest {
        let idx: Vec<usize> = (0..test.len())
            .filter(|&i| test.labels()[i] == self.params.source)
            .collect();
        AttackTest {
            inputs: test.subset(&idx),
            targets: vec![self.params.target; idx.len()],
        }
    }
}

/// Mean features of `class` in `data` (zeros when it has none).
pub fn class_mean(data: &Dataset, class: usize) -> Vec<f32> {
    let mut mean = vec![0f32; data.dim()];
    let mut n = 0usize;
    for i in (0..data.len()).filter(|&i| data.labels()[i] == class) {
        for (m, v) in mean.iter_mut().zip(data.sample(i)) {
            *m += v;
        }
        n += 1;
    }
    if n > 0 {
        mean.iter_mut().for_each(|m| *m /= n as f32);
    }
    mean
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Schedule;
    use poisonlab_core::seed::stream;
    use proptest::prelude::*;

    fn data(n: usize) -> Dataset {
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let x = labels
            .iter()
            .flat_map(|&c| vec![c as f32 / 2.0; 2])
            .collect();
        Dataset::new(x, vec![2], labels, 3, None).unwrap()
    }

    fn params(method: Method) -> DriftParams {
        DriftParams {
            rounds: 4,
            source: 0,
            target: 2,
            max_rate: 0.8,
            method,
            ..DriftParams::default()
        }
    }

    #[test]
    fn shift_moves_toward_the_target_mean_and_relabels() {
        let d = data(30); // 10 samples of class 0 at 0.0, class 2 at 1.0
        let drift = Drift::new(params(Method::Shift));
        let mean = class_mean(&d, 2);
        assert_eq!(mean, vec![1.0, 1.0]);
        let p = drift
            .poison_round(2, &d, &mean, &mut stream(0, 0, "d"))
            .unwrap();
        assert_eq!(p.n_poison(), 4); // rate 0.4 of 10
        for i in (0..30).filter(|&i| p.is_poison[i]) {
            assert_eq!(p.data.labels()[i], 2);
            assert_eq!(p.data.sample(i), &[0.4, 0.4]);
        }
        for i in (0..30).filter(|&i| !p.is_poison[i]) {
            assert_eq!(
                (p.data.labels()[i], p.data.sample(i)),
                (d.labels()[i], d.sample(i))
            );
        }
        assert!(
            drift
                .poison_round(5, &d, &mean, &mut stream(0, 0, "d"))
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn poison_grows_with_the_schedule(n in 30usize..300, seed in any::<u64>()) {
            let d = data(n);
            let drift = Drift::new(DriftParams { schedule: Schedule::Linear, ..params(Method::Relabel) });
            let counts: Vec<usize> = (1..=4)
                .map(|r| drift.poison_round(r, &d, &[0.0, 0.0], &mut stream(seed, 0, "d")).unwrap().n_poison())
                .collect();
            prop_assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
            let sources = d.labels().iter().filter(|&&y| y == 0).count();
            prop_assert_eq!(counts[3], (0.8 * sources as f64).round() as usize);
        }
    }
}
