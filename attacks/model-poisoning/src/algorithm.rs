use poisonlab_core::{BuildContext, Kind, ParamError, Rng, UpdateAttack, UpdateAttackInput};
use rand::Rng as _;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::{
    AlieParams, GaussianParams, IpmParams, ScalingParams, SignFlipParams, UpdateAttackError,
};

/// Check the client's own update: at least one value, every value finite.
/// Returns its length, the length of every crafted update.
fn check_own(own: &[f32]) -> Result<usize, UpdateAttackError> {
    if own.is_empty() {
        return Err(UpdateAttackError::EmptyOwn);
    }
    if let Some((coordinate, &value)) = own.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(UpdateAttackError::NonFiniteOwn { coordinate, value });
    }
    Ok(own.len())
}

/// Check the benign updates: each of length `dim`, every value finite.
fn check_benign(benign: &[Vec<f32>], dim: usize) -> Result<(), UpdateAttackError> {
    for (index, update) in benign.iter().enumerate() {
        if update.len() != dim {
            return Err(UpdateAttackError::LengthMismatch {
                index,
                len: update.len(),
                expected: dim,
            });
        }
        if let Some((coordinate, &value)) = update.iter().enumerate().find(|(_, v)| !v.is_finite())
        {
            return Err(UpdateAttackError::NonFiniteBenign {
                index,
                coordinate,
                value,
            });
        }
    }
    Ok(())
}

/// Check the round's client counts: at least one client selected, no more
/// malicious than selected.
fn check_counts(n_selected: usize, n_malicious: usize) -> Result<(), UpdateAttackError> {
    if n_selected == 0 || n_malicious > n_selected {
        return Err(UpdateAttackError::ClientCounts {
            n_selected,
            n_malicious,
        });
    }
    Ok(())
}

/// Check the client's own update and the benign ones, and return what the
/// attacker estimates the benign statistics from: the benign updates, or,
/// when no benign client was selected this round, its own honest update
/// alone (the estimate the papers' non-omniscient attackers make).
fn benign_or_own<'a>(input: &UpdateAttackInput<'a>) -> Result<Vec<&'a [f32]>, UpdateAttackError> {
    let dim = check_own(input.own)?;
    check_benign(input.benign, dim)?;
    Ok(if input.benign.is_empty() {
        vec![input.own]
    } else {
        input.benign.iter().map(Vec::as_slice).collect()
    })
}

/// The coordinate-wise mean of `updates` (checked: at least one, all of one
/// length), accumulated in f64.
fn coordinate_mean(updates: &[&[f32]]) -> Vec<f64> {
    let dim = updates.first().map_or(0, |u| u.len());
    let mut mean = vec![0.0f64; dim];
    for update in updates {
        for (m, &x) in mean.iter_mut().zip(*update) {
            *m += f64::from(x);
        }
    }
    let n = updates.len() as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

/// The coordinate-wise population standard deviation of `updates` around
/// their coordinate-wise `mean` (divided by the count, not the count − 1),
/// in f64.
fn coordinate_std(updates: &[&[f32]], mean: &[f64]) -> Vec<f64> {
    let mut sum_sq = vec![0.0f64; mean.len()];
    for update in updates {
        for ((s, &x), m) in sum_sq.iter_mut().zip(*update).zip(mean) {
            let d = f64::from(x) - m;
            *s += d * d;
        }
    }
    let n = updates.len() as f64;
    sum_sq.into_iter().map(|s| (s / n).sqrt()).collect()
}

/// Round the crafted values (computed in f64) to the `f32` update sent,
/// failing on the first one beyond the `f32` range.
fn to_update(values: impl IntoIterator<Item = f64>) -> Result<Vec<f32>, UpdateAttackError> {
    values
        .into_iter()
        .enumerate()
        .map(|(coordinate, value)| {
            let rounded = value as f32;
            if rounded.is_finite() {
                Ok(rounded)
            } else {
                Err(UpdateAttackError::Overflow { coordinate, value })
            }
        })
        .collect()
}

// ---------------------------------------------------------------- sign flip

/// The sign-flipping attack, as evaluated in Li et al. 2019, "RSA:
/// Byzantine-Robust Stochastic Aggregation Methods for Distributed Learning
/// from Heterogeneous Datasets" (AAAI): the client sends its honest update
/// reversed and scaled, −s · own.
///
/// Knows only its own update. Deterministic; the `rng` is unused.
#[derive(Debug, Clone)]
pub struct SignFlip {
    params: SignFlipParams,
}

impl SignFlip {
    /// The attack for `params`, or every problem [`SignFlipParams::check`]
    /// finds with them.
    pub fn new(params: SignFlipParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }
}

impl Kind for SignFlip {
    type Params = SignFlipParams;

    fn build(params: SignFlipParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &SignFlipParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!("sign-flip, sends −{} × its own update", self.params.scale)
    }
}

impl UpdateAttack for SignFlip {
    type Error = UpdateAttackError;

    fn craft(&self, input: UpdateAttackInput<'_>, _rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        check_own(input.own)?;
        let s = self.params.scale;
        to_update(input.own.iter().map(|&x| -s * f64::from(x)))
    }
}

// ---------------------------------------------------------------- gaussian

/// The Gaussian attack of Blanchard et al. 2017, "Machine Learning with
/// Adversaries: Byzantine Tolerant Gradient Descent" (NeurIPS): the client
/// sends i.i.d. N(mean, std²) noise, one value per coordinate of the update.
///
/// Knows nothing (it reads only the length of its own update). The noise is
/// drawn from the `rng` by the Box–Muller transform: each pair of
/// coordinates takes two uniforms u₁, u₂ (in that order) and gets
/// √(−2 ln u₁) · (cos 2πu₂, sin 2πu₂); an odd last coordinate takes the
/// cosine and drops the sine. One stream always gives one update.
#[derive(Debug, Clone)]
pub struct Gaussian {
    params: GaussianParams,
}

impl Gaussian {
    /// The attack for `params`, or every problem [`GaussianParams::check`]
    /// finds with them.
    pub fn new(params: GaussianParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }
}

/// Two independent standard normal values from two uniforms of `rng`
/// (Box–Muller).
fn standard_normal_pair(rng: &mut Rng) -> (f64, f64) {
    // `random::<f64>()` lies in [0, 1); 1 − it lies in (0, 1], where ln is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let radius = (-2.0 * u1.ln()).sqrt();
    let angle = std::f64::consts::TAU * u2;
    (radius * angle.cos(), radius * angle.sin())
}

impl Kind for Gaussian {
    type Params = GaussianParams;

    fn build(params: GaussianParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &GaussianParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!(
            "gaussian, sends N({}, {}²) noise per coordinate",
            self.params.mean, self.params.std
        )
    }
}

impl UpdateAttack for Gaussian {
    type Error = UpdateAttackError;

    fn craft(&self, input: UpdateAttackInput<'_>, rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        let dim = check_own(input.own)?;
        let GaussianParams { std, mean } = self.params;
        let mut noise = Vec::with_capacity(dim + 1);
        while noise.len() < dim {
            let (a, b) = standard_normal_pair(rng);
            noise.push(a);
            noise.push(b);
        }
        noise.truncate(dim);
        to_update(noise.into_iter().map(|z| mean + std * z))
    }
}

// ---------------------------------------------------------------- alie

/// "A little is enough" (ALIE) of Baruch, Baruch and Goldberg 2019, "A
/// Little Is Enough: Circumventing Defenses For Distributed Learning"
/// (NeurIPS): the client sends μ − z·σ, every coordinate z standard
/// deviations away from the benign updates' mean, a shift small enough that
/// median- and distance-based aggregators keep it.
///
/// μ and σ are the coordinate-wise mean and population standard deviation
/// (f64) of the round's benign updates. The client knows them: the paper's
/// strongest, omniscient setting (the paper also lets colluders estimate
/// them from their own honest updates). When no benign client was selected
/// this round it estimates them from its own update alone (σ = 0) and so
/// sends its own update.
///
/// With `z` unset, z comes from the round's client counts as in the paper
/// ([`Alie::z_from_counts`]). Deterministic; the `rng` is unused.
#[derive(Debug, Clone)]
pub struct Alie {
    params: AlieParams,
}

impl Alie {
    /// The attack for `params`, or every problem [`AlieParams::check`]
    /// finds with them.
    pub fn new(params: AlieParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The paper's z for a round of `n_selected` clients, `n_malicious` of
    /// them malicious: with n = `n_selected` and m = `n_malicious`, the
    /// attackers need s = ⌊n/2 + 1⌋ − m benign supporters for a majority,
    /// and z = Φ⁻¹((n − s)/n), the largest shift for which enough benign
    /// values lie farther from the mean than the crafted one (Φ the standard
    /// normal CDF). So that z stays finite and ≥ 0:
    ///
    /// - when the attackers alone are a majority (s ≤ 0, they need no
    ///   supporter) s is taken as 1, which gives the largest z the formula
    ///   gives for that n (Φ⁻¹(0.98) ≈ 2.05 for n = 50);
    /// - when (n − s)/n ≤ 0.5 (too few attackers to shift anything,
    ///   for example m ≤ 1 with n = 10) z is 0 and the client sends μ.
    ///
    /// Fails when no client is selected or more are malicious than selected.
    pub fn z_from_counts(n_selected: usize, n_malicious: usize) -> Result<f64, UpdateAttackError> {
        check_counts(n_selected, n_malicious)?;
        let n = n_selected;
        // ⌊n/2 + 1⌋ − m, at least 1; n ≥ 1 and s ≤ n/2 + 1 ≤ n, so n − s ≥ 0.
        let supporters = (n / 2 + 1).saturating_sub(n_malicious).max(1);
        let p = n.saturating_sub(supporters) as f64 / n as f64;
        // Φ⁻¹ is ≤ 0 at p ≤ 0.5; p < 1 because s ≥ 1.
        if p <= 0.5 {
            return Ok(0.0);
        }
        Ok(Normal::standard().inverse_cdf(p).max(0.0))
    }

    /// The z this attack uses in a round of `n_selected` clients,
    /// `n_malicious` of them malicious: the `z` parameter when set, else
    /// [`Alie::z_from_counts`].
    pub fn z(&self, n_selected: usize, n_malicious: usize) -> Result<f64, UpdateAttackError> {
        match self.params.z {
            Some(z) => Ok(z),
            None => Self::z_from_counts(n_selected, n_malicious),
        }
    }
}

impl Kind for Alie {
    type Params = AlieParams;

    fn build(params: AlieParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &AlieParams {
        &self.params
    }

    fn describe(&self) -> String {
        match self.params.z {
            Some(z) => format!("alie, sends μ − {z}σ of the benign updates"),
            None => "alie, sends μ − zσ of the benign updates, z from the client counts".into(),
        }
    }
}

impl UpdateAttack for Alie {
    type Error = UpdateAttackError;

    fn craft(&self, input: UpdateAttackInput<'_>, _rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        let reference = benign_or_own(&input)?;
        let z = self.z(input.n_selected, input.n_malicious)?;
        let mean = coordinate_mean(&reference);
        let std = coordinate_std(&reference, &mean);
        to_update(mean.iter().zip(&std).map(|(m, s)| m - z * s))
    }
}

// ---------------------------------------------------------------- ipm

/// Inner product manipulation (IPM) of Xie, Koyejo and Gupta 2020, "Fall of
/// Empires: Breaking Byzantine-tolerant SGD by Inner Product Manipulation"
/// (UAI 2019, PMLR 115): the client sends −ε times the mean of the benign
/// updates, so that the aggregate's inner product with the true update turns
/// negative.
///
/// Knows the round's benign updates (omniscient). When no benign client was
/// selected this round it takes its own honest update as their mean and
/// sends −ε · own. Deterministic; the `rng` is unused.
#[derive(Debug, Clone)]
pub struct Ipm {
    params: IpmParams,
}

impl Ipm {
    /// The attack for `params`, or every problem [`IpmParams::check`] finds
    /// with them.
    pub fn new(params: IpmParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }
}

impl Kind for Ipm {
    type Params = IpmParams;

    fn build(params: IpmParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &IpmParams {
        &self.params
    }

    fn describe(&self) -> String {
        format!(
            "ipm, sends −{} × the benign updates' mean",
            self.params.epsilon
        )
    }
}

impl UpdateAttack for Ipm {
    type Error = UpdateAttackError;

    fn craft(&self, input: UpdateAttackInput<'_>, _rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        let reference = benign_or_own(&input)?;
        let epsilon = self.params.epsilon;
        to_update(
            coordinate_mean(&reference)
                .into_iter()
                .map(|m| -epsilon * m),
        )
    }
}

// ---------------------------------------------------------------- scaling

/// Model replacement by scaling, Bagdasaryan et al. 2020, "How To Backdoor
/// Federated Learning" (AISTATS): the client trains on its backdoored local
/// data (the scenario's data attack, applied by the runner) and sends γ ·
/// own. With the server step G ← G + (η/n) Σ updates, γ = n/η makes the
/// attacker's model replace the global one once the benign updates roughly
/// cancel.
///
/// Knows the number n of clients selected this round and the server
/// learning rate η (only when `factor` is unset). Deterministic; the `rng`
/// is unused.
#[derive(Debug, Clone)]
pub struct Scaling {
    params: ScalingParams,
}

impl Scaling {
    /// The attack for `params`, or every problem [`ScalingParams::check`]
    /// finds with them.
    pub fn new(params: ScalingParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self { params })
    }

    /// The factor γ this attack uses in a round of `n_selected` clients
    /// with server learning rate `server_learning_rate`: the `factor`
    /// parameter when set, else n/η. Fails, when it needs them, on no
    /// selected client or a learning rate that is not a finite number > 0.
    pub fn factor(
        &self,
        n_selected: usize,
        server_learning_rate: f64,
    ) -> Result<f64, UpdateAttackError> {
        if let Some(factor) = self.params.factor {
            return Ok(factor);
        }
        if n_selected == 0 {
            return Err(UpdateAttackError::ClientCounts {
                n_selected,
                n_malicious: 0,
            });
        }
        if !(server_learning_rate.is_finite() && server_learning_rate > 0.0) {
            return Err(UpdateAttackError::ServerLearningRate(server_learning_rate));
        }
        Ok(n_selected as f64 / server_learning_rate)
    }
}

impl Kind for Scaling {
    type Params = ScalingParams;

    fn build(params: ScalingParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &ScalingParams {
        &self.params
    }

    fn describe(&self) -> String {
        match self.params.factor {
            Some(factor) => format!("scaling, sends {factor} × its own update"),
            None => "scaling, sends n/η × its own update (model replacement)".into(),
        }
    }
}

impl UpdateAttack for Scaling {
    type Error = UpdateAttackError;

    fn craft(&self, input: UpdateAttackInput<'_>, _rng: &mut Rng) -> Result<Vec<f32>, Self::Error> {
        check_own(input.own)?;
        let gamma = self.factor(input.n_selected, input.server_learning_rate)?;
        to_update(input.own.iter().map(|&x| gamma * f64::from(x)))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use poisonlab_core::{DataFacts, stream};

    fn rng() -> Rng {
        stream(0, 0, "x")
    }

    /// A round of 10 clients, 2 malicious, server learning rate 1.
    fn input<'a>(own: &'a [f32], benign: &'a [Vec<f32>]) -> UpdateAttackInput<'a> {
        UpdateAttackInput {
            round: 1,
            own,
            benign,
            n_selected: 10,
            n_malicious: 2,
            server_learning_rate: 1.0,
        }
    }

    fn all() -> Vec<(
        &'static str,
        Box<dyn UpdateAttack<Error = UpdateAttackError>>,
    )> {
        vec![
            (
                "sign-flip",
                Box::new(SignFlip::new(SignFlipParams::default()).unwrap()),
            ),
            (
                "gaussian",
                Box::new(Gaussian::new(GaussianParams::default()).unwrap()),
            ),
            ("alie", Box::new(Alie::new(AlieParams::default()).unwrap())),
            ("ipm", Box::new(Ipm::new(IpmParams::default()).unwrap())),
            (
                "scaling",
                Box::new(Scaling::new(ScalingParams::default()).unwrap()),
            ),
        ]
    }

    // ------------------------------------------------------------ sign flip

    #[test]
    fn sign_flip_sends_the_own_update_reversed_and_scaled() {
        let own = [1.0, -2.0, 0.5, 0.0];
        let benign = vec![vec![9.0; 4]];
        let flip = SignFlip::new(SignFlipParams::default()).unwrap();
        let got = flip.craft(input(&own, &benign), &mut rng()).unwrap();
        assert_eq!(got, [-1.0, 2.0, -0.5, 0.0]);
        let flip = SignFlip::new(SignFlipParams { scale: 4.0 }).unwrap();
        let got = flip.craft(input(&own, &benign), &mut rng()).unwrap();
        assert_eq!(got, [-4.0, 8.0, -2.0, 0.0]);
    }

    // ------------------------------------------------------------ gaussian

    #[test]
    fn gaussian_is_deterministic_for_a_stream() {
        let own = [0.0f32; 7];
        let attack = Gaussian::new(GaussianParams::default()).unwrap();
        let a = attack.craft(input(&own, &[]), &mut rng()).unwrap();
        let b = attack.craft(input(&own, &[]), &mut rng()).unwrap();
        assert_eq!(a.len(), 7);
        assert_eq!(a, b);
        let c = attack
            .craft(input(&own, &[]), &mut stream(0, 0, "y"))
            .unwrap();
        assert_ne!(a, c);
        // Later draws of one stream differ from the first.
        let mut r = rng();
        let first = attack.craft(input(&own, &[]), &mut r).unwrap();
        let second = attack.craft(input(&own, &[]), &mut r).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn gaussian_noise_has_the_parameters_mean_and_deviation() {
        let n = 100_000;
        let own = vec![0.0f32; n];
        let attack = Gaussian::new(GaussianParams {
            std: 2.0,
            mean: 0.5,
        })
        .unwrap();
        let noise = attack.craft(input(&own, &[]), &mut rng()).unwrap();
        let values: Vec<f64> = noise.iter().map(|&x| f64::from(x)).collect();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // Standard errors: 2/√n ≈ 0.0063 for the mean, about 2/√(2n) ≈ 0.0045
        // for the deviation; allow five of them.
        assert!((mean - 0.5).abs() < 0.032, "mean {mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.023, "std {}", var.sqrt());
        // Symmetric around the mean, and with normal tails: about 68.3 % within one σ.
        let within = values.iter().filter(|x| (*x - 0.5).abs() < 2.0).count();
        let share = within as f64 / n as f64;
        assert!((share - 0.6827).abs() < 0.01, "share within one σ {share}");
    }

    // ------------------------------------------------------------ alie

    #[test]
    fn alie_z_follows_the_paper_for_fifty_clients_ten_malicious() {
        // s = ⌊50/2 + 1⌋ − 10 = 16 supporters; z = Φ⁻¹((50 − 16)/50) = Φ⁻¹(0.68).
        let z = Alie::z_from_counts(50, 10).unwrap();
        assert!((z - 0.4677).abs() < 1e-4, "{z}");
        assert!((z - 0.467_698_799_114_508_35).abs() < 1e-9, "{z}");
        // n = 10, m = 3: s = 6 − 3 = 3, z = Φ⁻¹(0.7).
        let z = Alie::z_from_counts(10, 3).unwrap();
        assert!((z - 0.524_400_512_708_040_7).abs() < 1e-9, "{z}");
        // n = 11 (odd), m = 3: s = ⌊6.5⌋ − 3 = 3, z = Φ⁻¹(8/11).
        let z = Alie::z_from_counts(11, 3).unwrap();
        assert!((z - 0.604_585_346_583_237_1).abs() < 1e-9, "{z}");
    }

    #[test]
    fn alie_z_is_clamped_at_the_edges() {
        // n = 10, m = 1: s = 5, (n − s)/n = 0.5, z = 0; m = 0 would give 0.4 < 0.5.
        assert_eq!(Alie::z_from_counts(10, 1).unwrap(), 0.0);
        assert_eq!(Alie::z_from_counts(10, 0).unwrap(), 0.0);
        // n = 10, m = 6: the attackers are a majority (s = 0), taken as s = 1:
        // z = Φ⁻¹(0.9); all malicious gives the same.
        for m in [6, 10] {
            let z = Alie::z_from_counts(10, m).unwrap();
            assert!((z - 1.281_551_565_544_600_8).abs() < 1e-9, "{z}");
        }
        // One client: (n − s)/n = 0, z = 0.
        assert_eq!(Alie::z_from_counts(1, 1).unwrap(), 0.0);
        for (n, m) in [(0, 0), (5, 6)] {
            assert_eq!(
                Alie::z_from_counts(n, m),
                Err(UpdateAttackError::ClientCounts {
                    n_selected: n,
                    n_malicious: m
                })
            );
        }
    }

    /// Benign updates with coordinate-wise mean (2, 2) and population
    /// deviation (1, 2): the sample deviation would be (√2, 2√2).
    fn two_benign() -> Vec<Vec<f32>> {
        vec![vec![1.0, 0.0], vec![3.0, 4.0]]
    }

    #[test]
    fn alie_sends_the_mean_minus_z_population_deviations() {
        let own = [100.0, -100.0];
        let benign = two_benign();
        let alie = Alie::new(AlieParams { z: Some(1.5) }).unwrap();
        let got = alie.craft(input(&own, &benign), &mut rng()).unwrap();
        // (2 − 1.5 · 1, 2 − 1.5 · 2).
        assert_eq!(got, [0.5, -1.0]);
        // z from the counts: n = 50, m = 10, z = Φ⁻¹(0.68).
        let alie = Alie::new(AlieParams::default()).unwrap();
        let round = UpdateAttackInput {
            n_selected: 50,
            n_malicious: 10,
            ..input(&own, &benign)
        };
        let got = alie.craft(round, &mut rng()).unwrap();
        let z = 0.467_698_799_114_508_35;
        assert!((f64::from(got[0]) - (2.0 - z)).abs() < 1e-6, "{got:?}");
        assert!(
            (f64::from(got[1]) - (2.0 - 2.0 * z)).abs() < 1e-6,
            "{got:?}"
        );
    }

    #[test]
    fn alie_without_benign_updates_sends_its_own() {
        let own = [0.25, -3.0];
        let alie = Alie::new(AlieParams { z: Some(2.0) }).unwrap();
        assert_eq!(alie.craft(input(&own, &[]), &mut rng()).unwrap(), own);
    }

    #[test]
    fn alie_with_bad_counts_fails_only_when_it_needs_them() {
        let own = [1.0];
        let benign = vec![vec![1.0]];
        let round = UpdateAttackInput {
            n_selected: 0,
            n_malicious: 0,
            ..input(&own, &benign)
        };
        let from_counts = Alie::new(AlieParams::default()).unwrap();
        assert!(matches!(
            from_counts.craft(round, &mut rng()),
            Err(UpdateAttackError::ClientCounts { .. })
        ));
        let fixed = Alie::new(AlieParams { z: Some(1.0) }).unwrap();
        assert!(fixed.craft(round, &mut rng()).is_ok());
    }

    // ------------------------------------------------------------ ipm

    #[test]
    fn ipm_sends_minus_epsilon_times_the_benign_mean() {
        let own = [100.0, 100.0];
        let benign = two_benign();
        let ipm = Ipm::new(IpmParams { epsilon: 0.5 }).unwrap();
        let got = ipm.craft(input(&own, &benign), &mut rng()).unwrap();
        // −0.5 · (2, 2).
        assert_eq!(got, [-1.0, -1.0]);
        let benign = vec![vec![1.0, 2.0], vec![3.0, -4.0]];
        let ipm = Ipm::new(IpmParams { epsilon: 100.0 }).unwrap();
        let got = ipm.craft(input(&own, &benign), &mut rng()).unwrap();
        // −100 · (2, −1).
        assert_eq!(got, [-200.0, 100.0]);
    }

    #[test]
    fn ipm_without_benign_updates_reverses_its_own() {
        let own = [0.5, -2.0];
        let ipm = Ipm::new(IpmParams { epsilon: 2.0 }).unwrap();
        assert_eq!(
            ipm.craft(input(&own, &[]), &mut rng()).unwrap(),
            [-1.0, 4.0]
        );
    }

    // ------------------------------------------------------------ scaling

    #[test]
    fn scaling_multiplies_by_clients_over_server_learning_rate() {
        let scaling = Scaling::new(ScalingParams::default()).unwrap();
        assert_eq!(scaling.factor(10, 0.5).unwrap(), 20.0);
        assert_eq!(scaling.factor(30, 1.0).unwrap(), 30.0);
        let own = [0.25, -1.0];
        let round = UpdateAttackInput {
            server_learning_rate: 0.5,
            ..input(&own, &[])
        };
        // γ = 10 / 0.5 = 20.
        assert_eq!(scaling.craft(round, &mut rng()).unwrap(), [5.0, -20.0]);
        let fixed = Scaling::new(ScalingParams { factor: Some(3.0) }).unwrap();
        assert_eq!(fixed.factor(10, 0.5).unwrap(), 3.0);
        assert_eq!(fixed.craft(round, &mut rng()).unwrap(), [0.75, -3.0]);
    }

    #[test]
    fn scaling_needs_a_usable_server_learning_rate_and_clients() {
        let scaling = Scaling::new(ScalingParams::default()).unwrap();
        for eta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let got = scaling.factor(10, eta);
            match got {
                Err(UpdateAttackError::ServerLearningRate(e)) => {
                    assert!(e.to_bits() == eta.to_bits(), "{e} vs {eta}")
                }
                other => panic!("η = {eta}: {other:?}"),
            }
        }
        assert!(matches!(
            scaling.factor(0, 1.0),
            Err(UpdateAttackError::ClientCounts { n_selected: 0, .. })
        ));
        // A fixed factor needs neither.
        let fixed = Scaling::new(ScalingParams { factor: Some(2.0) }).unwrap();
        assert_eq!(fixed.factor(0, f64::NAN).unwrap(), 2.0);
    }

    // ------------------------------------------------------------ all kinds

    #[test]
    fn every_kind_sends_one_value_per_coordinate() {
        for dim in 1..6 {
            let own: Vec<f32> = (0..dim).map(|i| i as f32 * 0.01 - 0.02).collect();
            let benign: Vec<Vec<f32>> = (0..4)
                .map(|c| own.iter().map(|x| x + c as f32 * 0.003).collect())
                .collect();
            for (name, attack) in all() {
                for b in [&benign[..], &[]] {
                    let got = attack.craft(input(&own, b), &mut rng()).unwrap();
                    assert_eq!(got.len(), dim, "{name}");
                    assert!(got.iter().all(|v| v.is_finite()), "{name}");
                }
            }
        }
    }

    #[test]
    fn every_kind_refuses_an_empty_or_non_finite_own_update() {
        for (name, attack) in all() {
            assert_eq!(
                attack.craft(input(&[], &[]), &mut rng()),
                Err(UpdateAttackError::EmptyOwn),
                "{name}"
            );
            let own = [0.0, f32::NAN];
            match attack.craft(input(&own, &[]), &mut rng()) {
                Err(UpdateAttackError::NonFiniteOwn {
                    coordinate: 1,
                    value,
                }) => assert!(value.is_nan(), "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn kinds_that_read_benign_updates_check_them() {
        let own = [1.0, 2.0];
        let short = vec![vec![1.0, 2.0], vec![1.0]];
        let infinite = vec![vec![1.0, f32::INFINITY]];
        let alie = Alie::new(AlieParams::default()).unwrap();
        let ipm = Ipm::new(IpmParams::default()).unwrap();
        let readers: [&dyn UpdateAttack<Error = UpdateAttackError>; 2] = [&alie, &ipm];
        for attack in readers {
            assert_eq!(
                attack.craft(input(&own, &short), &mut rng()),
                Err(UpdateAttackError::LengthMismatch {
                    index: 1,
                    len: 1,
                    expected: 2
                })
            );
            assert_eq!(
                attack.craft(input(&own, &infinite), &mut rng()),
                Err(UpdateAttackError::NonFiniteBenign {
                    index: 0,
                    coordinate: 1,
                    value: f32::INFINITY
                })
            );
        }
    }

    #[test]
    fn a_crafted_value_beyond_f32_is_an_error() {
        let own = [1.0, 1e30];
        let scaling = Scaling::new(ScalingParams { factor: Some(1e10) }).unwrap();
        match scaling.craft(input(&own, &[]), &mut rng()) {
            Err(UpdateAttackError::Overflow {
                coordinate: 1,
                value,
            }) => assert!((value / 1e40 - 1.0).abs() < 1e-6, "{value}"),
            other => panic!("{other:?}"),
        }
        let gaussian = Gaussian::new(GaussianParams {
            std: 1.0,
            mean: 1e300,
        })
        .unwrap();
        assert!(matches!(
            gaussian.craft(input(&own, &[]), &mut rng()),
            Err(UpdateAttackError::Overflow { coordinate: 0, .. })
        ));
    }

    #[test]
    fn build_checks_the_parameters_and_names_the_key() {
        let facts = DataFacts::default();
        let ctx = BuildContext::new(Path::new("."), &facts);
        let keys = |e: Vec<ParamError>| e.into_iter().map(|e| e.key).collect::<Vec<_>>();
        assert_eq!(
            keys(SignFlip::build(SignFlipParams { scale: 0.0 }, &ctx).unwrap_err()),
            ["scale"]
        );
        assert_eq!(
            keys(
                Gaussian::build(
                    GaussianParams {
                        std: -1.0,
                        mean: 0.0
                    },
                    &ctx
                )
                .unwrap_err()
            ),
            ["std"]
        );
        assert_eq!(
            keys(Alie::build(AlieParams { z: Some(-1.0) }, &ctx).unwrap_err()),
            ["z"]
        );
        assert_eq!(
            keys(Ipm::build(IpmParams { epsilon: 0.0 }, &ctx).unwrap_err()),
            ["epsilon"]
        );
        assert_eq!(
            keys(Scaling::build(ScalingParams { factor: Some(0.0) }, &ctx).unwrap_err()),
            ["factor"]
        );
        let built = Ipm::build(IpmParams { epsilon: 0.5 }, &ctx).unwrap();
        assert_eq!(built.params(), &IpmParams { epsilon: 0.5 });
    }

    #[test]
    fn descriptions_start_with_the_kind_name() {
        let descriptions = [
            SignFlip::new(SignFlipParams::default()).unwrap().describe(),
            Gaussian::new(GaussianParams::default()).unwrap().describe(),
            Alie::new(AlieParams::default()).unwrap().describe(),
            Alie::new(AlieParams { z: Some(1.5) }).unwrap().describe(),
            Ipm::new(IpmParams::default()).unwrap().describe(),
            Scaling::new(ScalingParams::default()).unwrap().describe(),
            Scaling::new(ScalingParams { factor: Some(5.0) })
                .unwrap()
                .describe(),
        ];
        let names = [
            "sign-flip, ",
            "gaussian, ",
            "alie, ",
            "alie, ",
            "ipm, ",
            "scaling, ",
            "scaling, ",
        ];
        for (d, name) in descriptions.iter().zip(names) {
            assert!(d.starts_with(name), "{d}");
        }
        assert_eq!(descriptions[0], "sign-flip, sends −1 × its own update");
        assert_eq!(
            descriptions[3],
            "alie, sends μ − 1.5σ of the benign updates"
        );
        assert_eq!(
            descriptions[4],
            "ipm, sends −0.1 × the benign updates' mean"
        );
    }
}
