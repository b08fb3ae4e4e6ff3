use crate::Dataset;

/// A poisoned training set with its ground truth.
///
/// `is_poison[i]` is true when sample `i` of `data` was changed or added by the
/// attack (true = poisoned, never the reverse). Anything that reorders or
/// filters `data` must move the mask with it; [`Poisoned::subset`] does.
#[derive(Debug, Clone)]
pub struct Poisoned {
    /// The training set as the defender receives it.
    pub data: Dataset,
    /// Ground truth, one flag per sample of `data`.
    pub is_poison: Vec<bool>,
    /// The test-time inputs that measure the attack, when it has any
    /// (none for untargeted attacks such as random label flipping).
    pub attack_test: Option<AttackTest>,
}

impl Poisoned {
    /// Number of poisoned samples.
    pub fn n_poison(&self) -> usize {
        self.is_poison.iter().filter(|&&p| p).count()
    }

    /// The samples at `indices`, with their mask entries.
    pub fn subset(&self, indices: &[usize]) -> Poisoned {
        Poisoned {
            data: self.data.subset(indices),
            is_poison: indices.iter().map(|&i| self.is_poison[i]).collect(),
            attack_test: self.attack_test.clone(),
        }
    }
}

/// Poisons for `rate` of `eligible` samples, the rule every attack uses:
/// rounded to nearest (halves away from zero), at least one when the rate is
/// above zero and anything is eligible, never more than `eligible`.
pub fn poison_count(rate: f64, eligible: usize) -> usize {
    let n = (rate * eligible as f64).round() as usize;
    if rate > 0.0 && eligible > 0 {
        n.max(1)
    } else {
        n
    }
    .min(eligible)
}

/// Test inputs on which an attack is measured.
///
/// `inputs` holds the (possibly triggered) test samples labelled with their
/// true class; `targets[i]` is the class the attacker wants input `i` to get.
/// Attack success rate (ASR) is the share predicted as their target, robust
/// accuracy (RA) the share still predicted as their true class.
#[derive(Debug, Clone)]
pub struct AttackTest {
    /// Test inputs as the attacker presents them, with their true labels.
    pub inputs: Dataset,
    /// The attacker's desired class for each input.
    pub targets: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::poison_count;

    #[test]
    fn poison_count_rounds_and_keeps_one() {
        assert_eq!(poison_count(0.1, 25), 3); // 2.5 rounds away from zero
        assert_eq!(poison_count(0.1, 24), 2);
        assert_eq!(poison_count(0.001, 100), 1);
        assert_eq!(poison_count(0.0, 100), 0);
        assert_eq!(poison_count(1.0, 7), 7);
        assert_eq!(poison_count(0.5, 0), 0);
    }
}
