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
