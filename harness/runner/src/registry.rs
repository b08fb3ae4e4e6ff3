//! The attacks and defenses a scenario can name: one place that maps `kind` to
//! parameters, checks, the resolved TOML and the algorithm itself. Adding an
//! attack or a defense is one variant and one arm in each function here.

use poisonlab_activation_clustering::{ActivationClustering, ActivationClusteringParams};
use poisonlab_anomaly::{Anomaly, AnomalyParams, label_shift_test};
use poisonlab_badnets::{BadNets, BadNetsParams};
use poisonlab_blend::{Blend, BlendParams};
use poisonlab_core::{Attack, AttackInput, Poisoned, Rng};
use poisonlab_core::{Dataset, Defense, DefenseInput, Verdict};
use poisonlab_drift::{Drift, DriftParams};
use poisonlab_feature_collision::{FeatureCollision, FeatureCollisionParams};
use poisonlab_knn_label::{KnnLabel, KnnLabelParams};
use poisonlab_label_flip::{LabelFlip, LabelFlipParams};
use poisonlab_loss_filter::{LossFilter, LossFilterParams};
use poisonlab_monitor::{Canary, CanaryParams, Cusum, CusumParams, Monitor};
use poisonlab_provenance::ProvenanceParams;
use poisonlab_spectral_signatures::{SpectralSignatures, SpectralSignaturesParams};
use poisonlab_strip::{Strip, StripParams};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::RunError;
use crate::record::LabelTest;
use crate::spec::Reader;

/// Where in the custody chain the attacker acts (`[attack] at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Custody {
    /// At the data's source, before it is signed (the default): provenance cannot see it.
    #[default]
    Source,
    /// In transit, after the data was signed: a manifest check catches it.
    Transit,
}

/// The checked `[attack]` table.
#[derive(Debug, Clone, PartialEq)]
pub enum AttackSpec {
    /// No attack (`kind = "none"`).
    None,
    /// Label flipping (`kind = "label-flip"`).
    LabelFlip(LabelFlipParams),
    /// BadNets trigger backdoor (`kind = "badnets"`), its trigger image loaded.
    BadNets(BadNets),
    /// Blended trigger backdoor (`kind = "blend"`), its pattern image loaded.
    Blend(Blend),
    /// Clean-label feature collision (`kind = "feature-collision"`).
    FeatureCollision(FeatureCollisionParams),
    /// Gradual drift injection over training rounds (`kind = "drift"`).
    Drift(Drift),
}

/// Attack kinds, for messages.
const KINDS: &str = "none, label-flip, badnets, blend, feature-collision or drift";

/// What shape and classes the data has, as far as known before loading.
#[derive(Debug, Clone, Default)]
pub struct DataFacts {
    /// Class count.
    pub n_classes: Option<usize>,
    /// Shape of one sample.
    pub shape: Option<Vec<usize>>,
}

impl AttackSpec {
    /// Read `[attack]` (without `kind` and `at`, already taken) for `kind`.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        kind: &str,
        table: &Table,
        facts: &DataFacts,
    ) -> Option<AttackSpec> {
        let path = ["attack"];
        let spec = match kind {
            "none" => {
                for key in table.keys() {
                    r.problem(
                        &["attack", key],
                        "unknown key; kind = \"none\" takes no keys",
                    );
                }
                AttackSpec::None
            }
            "label-flip" => AttackSpec::LabelFlip(r.read(&path, table)?),
            "badnets" => {
                let p: BadNetsParams = r.read(&path, table)?;
                // Parameter rules first; the trigger image only loads when they hold.
                if let Err(e) = p.check(facts.shape.as_deref(), facts.n_classes) {
                    r.param_errors(&path, e);
                    return None;
                }
                match BadNets::new(p, &r.base_dir) {
                    Ok(a) => AttackSpec::BadNets(a),
                    Err(e) => {
                        r.problem(&["attack", "trigger", "path"], e.to_string());
                        return None;
                    }
                }
            }
            "blend" => {
                let p: BlendParams = r.read(&path, table)?;
                if let Err(e) = p.check(facts.shape.as_deref(), facts.n_classes) {
                    r.param_errors(&path, e);
                    return None;
                }
                match Blend::new(p, &r.base_dir) {
                    Ok(a) => AttackSpec::Blend(a),
                    Err(e) => {
                        r.problem(&["attack", "path"], e.to_string());
                        return None;
                    }
                }
            }
            "feature-collision" => AttackSpec::FeatureCollision(r.read(&path, table)?),
            "drift" => AttackSpec::Drift(Drift::new(r.read::<DriftParams>(&path, table)?)),
            other => {
                r.problem(
                    &["attack", "kind"],
                    format!("unknown attack {other:?}; expected {KINDS}"),
                );
                return None;
            }
        };
        let checked = spec.check(facts);
        if let Err(e) = checked {
            r.param_errors(&path, e);
            return None;
        }
        Some(spec)
    }

    /// Check the parameters against what is known of the data.
    pub fn check(&self, facts: &DataFacts) -> Result<(), Vec<poisonlab_core::ParamError>> {
        match self {
            AttackSpec::None => Ok(()),
            AttackSpec::LabelFlip(p) => p.check(facts.n_classes),
            AttackSpec::BadNets(a) => a.check(facts.shape.as_deref(), facts.n_classes),
            AttackSpec::Blend(a) => a.check(facts.shape.as_deref(), facts.n_classes),
            AttackSpec::FeatureCollision(p) => p.check(facts.n_classes),
            AttackSpec::Drift(d) => d.params().check(facts.n_classes),
        }
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            AttackSpec::None => "none",
            AttackSpec::LabelFlip(_) => "label-flip",
            AttackSpec::BadNets(_) => "badnets",
            AttackSpec::Blend(_) => "blend",
            AttackSpec::FeatureCollision(_) => "feature-collision",
            AttackSpec::Drift(_) => "drift",
        }
    }

    /// True when the attack needs a surrogate model trained on clean data.
    pub fn needs_surrogate(&self) -> bool {
        matches!(self, AttackSpec::FeatureCollision(_))
    }

    /// The parameters as a TOML table (for the resolved scenario).
    pub(crate) fn params_table(&self) -> Table {
        let value = match self {
            AttackSpec::None => return Table::new(),
            AttackSpec::LabelFlip(p) => Value::try_from(p),
            AttackSpec::BadNets(a) => Value::try_from(a.params()),
            AttackSpec::Blend(a) => Value::try_from(a.params()),
            AttackSpec::FeatureCollision(p) => Value::try_from(p),
            AttackSpec::Drift(d) => Value::try_from(d.params()),
        };
        match value {
            Ok(Value::Table(t)) => t,
            _ => Table::new(),
        }
    }

    /// The drift attack, when the run trains in rounds.
    pub fn rounds(&self) -> Option<&Drift> {
        match self {
            AttackSpec::Drift(d) => Some(d),
            _ => None,
        }
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        match self {
            AttackSpec::None => "none".into(),
            AttackSpec::LabelFlip(p) => match (p.source, p.target) {
                (Some(s), Some(t)) => format!("label-flip, targeted {s} → {t}, rate {}", p.rate),
                _ => format!("label-flip, random, rate {}", p.rate),
            },
            AttackSpec::BadNets(a) => {
                let p = a.params();
                let t = &p.trigger;
                let goal = if p.all_to_all {
                    "all-to-all (y → y+1)".to_string()
                } else {
                    format!("all-to-one → {}", p.target)
                };
                format!(
                    "badnets, {goal}, rate {}, {:?} trigger {}×{} px at {}, {:?} mode",
                    p.rate,
                    t.shape,
                    a.trigger_extent().0,
                    a.trigger_extent().1,
                    t.position
                        .map_or(format!("{:?}", t.corner), |[r, c]| format!("({r}, {c})")),
                    p.mode
                )
            }
            AttackSpec::Blend(a) => {
                let p = a.params();
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
            AttackSpec::Drift(d) => {
                let p = d.params();
                format!(
                    "drift {} → {} over {} rounds, {:?} schedule to {} of each round's class-{} samples, {:?}, {} epoch(s) per round",
                    p.source,
                    p.target,
                    p.rounds,
                    p.schedule,
                    p.max_rate,
                    p.source,
                    p.method,
                    p.epochs_per_round
                )
            }
            AttackSpec::FeatureCollision(p) => format!(
                "feature-collision (clean-label), {} targets of class {} → {}, {} poisons each, opacity {}",
                p.targets, p.target_class, p.base_class, p.poisons_per_target, p.opacity
            ),
        }
    }

    /// Poison the training set.
    pub(crate) fn poison(
        &self,
        input: AttackInput<'_>,
        rng: &mut Rng,
    ) -> Result<Poisoned, RunError> {
        let err = |e: &dyn std::fmt::Display| RunError::Attack {
            kind: self.kind(),
            message: e.to_string(),
        };
        match self {
            AttackSpec::None => Ok(Poisoned {
                data: input.train.clone(),
                is_poison: vec![false; input.train.len()],
                attack_test: None,
            }),
            AttackSpec::LabelFlip(p) => LabelFlip::new(p.clone())
                .poison(input, rng)
                .map_err(|e| err(&e)),
            AttackSpec::BadNets(a) => a.poison(input, rng).map_err(|e| err(&e)),
            AttackSpec::Blend(a) => a.poison(input, rng).map_err(|e| err(&e)),
            AttackSpec::FeatureCollision(p) => FeatureCollision::new(p.clone())
                .poison(input, rng)
                .map_err(|e| err(&e)),
            // The runner's round loop poisons drift runs round by round.
            AttackSpec::Drift(_) => Err(err(
                &"drift poisons round by round, in the runner's round loop",
            )),
        }
    }
}

/// The checked parameters of one `[[defense]]` table.
#[derive(Debug, Clone, PartialEq)]
pub enum DefenseKind {
    /// Deep k-NN label consistency (`knn-label`).
    KnnLabel(KnnLabelParams),
    /// Highest-loss filter (`loss-filter`).
    LossFilter(LossFilterParams),
    /// Spectral signatures (`spectral-signatures`).
    SpectralSignatures(SpectralSignaturesParams),
    /// Activation clustering (`activation-clustering`).
    ActivationClustering(ActivationClusteringParams),
    /// STRIP input-time detection (`strip`).
    Strip(StripParams),
    /// Per-class statistical outlier scores (`anomaly`).
    Anomaly(AnomalyParams),
    /// Round monitor: per-class accuracy on the trusted audit set (`canary`).
    Canary(CanaryParams),
    /// Round monitor: CUSUM of class shares and class means (`cusum`).
    Cusum(CusumParams),
    /// Verify the training set against the manifest signed at `[integrity]
    /// sign-at` (`provenance`).
    Provenance(ProvenanceParams),
}

/// Defense kinds, for messages.
const DEFENSES: &str = "knn-label, loss-filter, spectral-signatures, activation-clustering, \
                        anomaly, provenance, strip, canary or cusum";

impl DefenseKind {
    /// Read a `[[defense]]` table (without `kind` and `name`) for `kind`.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        kind: &str,
        table: &Table,
        path: &[&str],
    ) -> Option<DefenseKind> {
        fn checked<P>(
            r: &mut Reader<'_>,
            path: &[&str],
            p: P,
            check: impl Fn(&P) -> Result<(), Vec<poisonlab_core::ParamError>>,
        ) -> Option<P> {
            match check(&p) {
                Ok(()) => Some(p),
                Err(e) => {
                    r.param_errors(path, e);
                    None
                }
            }
        }
        match kind {
            "knn-label" => {
                let p = r.read(path, table)?;
                checked(r, path, p, KnnLabelParams::check).map(DefenseKind::KnnLabel)
            }
            "loss-filter" => {
                let p = r.read(path, table)?;
                checked(r, path, p, LossFilterParams::check).map(DefenseKind::LossFilter)
            }
            "spectral-signatures" => {
                let p = r.read(path, table)?;
                checked(r, path, p, SpectralSignaturesParams::check)
                    .map(DefenseKind::SpectralSignatures)
            }
            "activation-clustering" => {
                let p = r.read(path, table)?;
                checked(r, path, p, ActivationClusteringParams::check)
                    .map(DefenseKind::ActivationClustering)
            }
            "strip" => {
                let p = r.read(path, table)?;
                checked(r, path, p, StripParams::check).map(DefenseKind::Strip)
            }
            "anomaly" => {
                let p = r.read(path, table)?;
                checked(r, path, p, AnomalyParams::check).map(DefenseKind::Anomaly)
            }
            "canary" => {
                let p = r.read(path, table)?;
                checked(r, path, p, CanaryParams::check).map(DefenseKind::Canary)
            }
            "cusum" => {
                let p = r.read(path, table)?;
                checked(r, path, p, CusumParams::check).map(DefenseKind::Cusum)
            }
            "provenance" => r.read(path, table).map(DefenseKind::Provenance),
            other => {
                let mut key = path.to_vec();
                key.push("kind");
                r.problem(
                    &key,
                    format!("unknown defense {other:?}; expected {DEFENSES}"),
                );
                None
            }
        }
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            DefenseKind::KnnLabel(_) => "knn-label",
            DefenseKind::LossFilter(_) => "loss-filter",
            DefenseKind::SpectralSignatures(_) => "spectral-signatures",
            DefenseKind::ActivationClustering(_) => "activation-clustering",
            DefenseKind::Strip(_) => "strip",
            DefenseKind::Anomaly(_) => "anomaly",
            DefenseKind::Canary(_) => "canary",
            DefenseKind::Cusum(_) => "cusum",
            DefenseKind::Provenance(_) => "provenance",
        }
    }

    /// The parameters as a TOML table (for the resolved scenario).
    pub(crate) fn params_table(&self) -> Table {
        let value = match self {
            DefenseKind::KnnLabel(p) => Value::try_from(p),
            DefenseKind::LossFilter(p) => Value::try_from(p),
            DefenseKind::SpectralSignatures(p) => Value::try_from(p),
            DefenseKind::ActivationClustering(p) => Value::try_from(p),
            DefenseKind::Strip(p) => Value::try_from(p),
            DefenseKind::Anomaly(p) => Value::try_from(p),
            DefenseKind::Canary(p) => Value::try_from(p),
            DefenseKind::Cusum(p) => Value::try_from(p),
            DefenseKind::Provenance(p) => Value::try_from(p),
        };
        match value {
            Ok(Value::Table(t)) => t,
            _ => Table::new(),
        }
    }

    /// Run the defense.
    pub(crate) fn inspect(
        &self,
        input: DefenseInput<'_>,
        rng: &mut Rng,
    ) -> Result<Verdict, String> {
        match self {
            DefenseKind::KnnLabel(p) => KnnLabel::new(p.clone())
                .inspect(input, rng)
                .map_err(|e| e.to_string()),
            DefenseKind::LossFilter(p) => LossFilter::new(p.clone())
                .inspect(input, rng)
                .map_err(|e| e.to_string()),
            DefenseKind::SpectralSignatures(p) => SpectralSignatures::new(p.clone())
                .inspect(input, rng)
                .map_err(|e| e.to_string()),
            DefenseKind::ActivationClustering(p) => ActivationClustering::new(p.clone())
                .inspect(input, rng)
                .map_err(|e| e.to_string()),
            DefenseKind::Anomaly(p) => Anomaly::new(p.clone())
                .inspect(input, rng)
                .map_err(|e| e.to_string()),
            DefenseKind::Strip(_) => {
                Err("strip detects at input time, not in the training set".into())
            }
            DefenseKind::Canary(_) | DefenseKind::Cusum(_) => {
                Err("round monitors watch a round-based run, not the training set".into())
            }
            DefenseKind::Provenance(_) => {
                Err("provenance verifies the signed manifest the runner holds".into())
            }
        }
    }

    /// Whether this filters the training set (a verdict per sample, scored
    /// and retrained on): everything but provenance, monitors and STRIP.
    pub fn is_filter(&self) -> bool {
        !(matches!(self, DefenseKind::Provenance(_)) || self.is_monitor())
            && self.input_detector().is_none()
    }

    /// Whether this is a round monitor (`canary`, `cusum`).
    pub fn is_monitor(&self) -> bool {
        matches!(self, DefenseKind::Canary(_) | DefenseKind::Cusum(_))
    }

    /// A fresh round monitor, for `canary` and `cusum`.
    pub(crate) fn monitor(&self) -> Option<Box<dyn Monitor>> {
        match self {
            DefenseKind::Canary(p) => Some(Box::new(Canary::new(p.clone()))),
            DefenseKind::Cusum(p) => Some(Box::new(Cusum::new(p.clone()))),
            _ => None,
        }
    }

    /// The anomaly defense's label-distribution test of the training labels
    /// against the trusted labels; `None` for other defenses or without a
    /// trusted set.
    pub(crate) fn label_test(
        &self,
        train: &Dataset,
        trusted: Option<&Dataset>,
    ) -> Option<LabelTest> {
        let DefenseKind::Anomaly(p) = self else {
            return None;
        };
        let trusted = trusted?;
        let t = label_shift_test(train.labels(), trusted.labels(), train.n_classes())?;
        Some(LabelTest {
            statistic: t.statistic.is_finite().then_some(t.statistic),
            dof: t.dof,
            p_value: t.p_value,
            rejects: t.rejects(p.alpha),
        })
    }

    /// Input-time detectors (STRIP) screen test inputs instead of filtering training data.
    pub fn input_detector(&self) -> Option<Strip> {
        match self {
            DefenseKind::Strip(p) => Some(Strip::new(p.clone())),
            _ => None,
        }
    }
}
