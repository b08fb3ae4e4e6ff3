//! One run: poison, train, defend, retrain, measure.

use std::collections::BTreeMap;
use std::time::Instant;

use poisonlab_core::metrics::{self, Confusion};
use poisonlab_core::seed::{run_seed, stream};
use poisonlab_core::{
    AttackInput, AttackTest, Classifier, Dataset, Defense, DefenseInput, FilterVerdict, Poisoned,
    Verdict,
};
use poisonlab_data::{limit, stratified_holdout};
use poisonlab_knn_label::KnnLabel;
use poisonlab_loss_filter::LossFilter;
use poisonlab_model::BurnTrainer;
use rand::Rng as _;

use crate::RunError;
use crate::record::{DefenseRecord, Detection, ModelEval, RunRecord};
use crate::registry::DataFacts;
use crate::scenario::{DataSpec, DefenseKind, Normalize, Point, Source};

/// The scenario's data, loaded once and shared by every run.
#[derive(Debug, Clone)]
pub struct LoadedData {
    /// Training samples (trusted ones removed).
    pub train: Dataset,
    /// Test samples.
    pub test: Dataset,
    /// Clean held-out samples for defenses that need them.
    pub trusted: Option<Dataset>,
    /// Names of the classes when a CSV file labelled them with strings.
    pub class_names: Option<Vec<String>>,
    /// Seconds it took.
    pub seconds: f64,
}

impl LoadedData {
    /// Generate or read the data: stream `data` of (seed, 0) for generation,
    /// stream `trusted` for the held-out split; limits apply before the split.
    pub fn load(spec: &DataSpec, seed: u64) -> Result<Self, RunError> {
        let start = Instant::now();
        let mut rng = stream(seed, 0, "data");
        let mut class_names = None;
        let splits = match &spec.source {
            Source::SyntheticDigits(p) => p.generate(&mut rng),
            Source::Blobs(p) => p.generate(&mut rng),
            Source::Idx(paths) => poisonlab_data::load_idx(paths)?,
            Source::Cifar10(dir) => poisonlab_data::load_cifar10(dir)?,
            Source::Csv(paths) => {
                let csv = poisonlab_data::load_csv(paths)?;
                class_names = csv.class_names;
                csv.splits
            }
        };
        // Move, don't copy: a 60 000-image set is held once.
        let mut train = first(splits.train, spec.common.limit_train);
        let mut test = first(splits.test, spec.common.limit_test);
        if spec.common.normalize == Normalize::Standardize {
            poisonlab_data::standardize(&mut train, &mut [&mut test]);
        }
        let (train, trusted) = if spec.common.trusted > 0 {
            let (rest, held) =
                stratified_holdout(&train, spec.common.trusted, &mut stream(seed, 0, "trusted"))?;
            (rest, Some(held))
        } else {
            (train, None)
        };
        Ok(Self {
            train,
            test,
            trusted,
            class_names,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// What the data turned out to be, for checks that need it.
    pub fn facts(&self) -> DataFacts {
        DataFacts {
            n_classes: Some(self.train.n_classes()),
            shape: Some(self.train.shape().to_vec()),
        }
    }
}

/// The first `n` samples (all when `n` is `None` or beyond the data), moving the data.
fn first(data: Dataset, n: Option<usize>) -> Dataset {
    match n {
        Some(n) if n < data.len() => limit(&data, Some(n)),
        _ => data,
    }
}

/// Measure `model` on the clean test set and the attack's test inputs.
fn evaluate(model: &dyn Classifier, test: &Dataset, attack: Option<&AttackTest>) -> ModelEval {
    let predicted = model.predict(test);
    let (asr, ra) = match attack {
        Some(a) => {
            let p = model.predict(&a.inputs);
            (
                metrics::agreement(&p, &a.targets),
                metrics::agreement(&p, a.inputs.labels()),
            )
        }
        None => (None, None),
    };
    ModelEval {
        ca: metrics::agreement(&predicted, test.labels()),
        asr,
        ra,
        per_class_recall: metrics::per_class_recall(&predicted, test.labels(), test.n_classes()),
    }
}

fn inspect(
    kind: &DefenseKind,
    input: DefenseInput<'_>,
    rng: &mut poisonlab_core::Rng,
) -> Result<Verdict, String> {
    match kind {
        DefenseKind::KnnLabel(p) => KnnLabel::new(p.clone())
            .inspect(input, rng)
            .map_err(|e| e.to_string()),
        DefenseKind::LossFilter(p) => LossFilter::new(p.clone())
            .inspect(input, rng)
            .map_err(|e| e.to_string()),
    }
}

/// Everything a run needs besides the point.
pub(crate) struct RunContext<'a> {
    pub seed: u64,
    pub data: &'a LoadedData,
}

/// Trains every model of one run.
struct Trainer {
    params: BurnTrainer,
    seed: u64,
    repeat: u64,
}

impl Trainer {
    /// Every training run starts from the same `model` stream (same initial
    /// weights), so clean, poisoned and retrained models differ only by their data.
    fn train(&self, data: &Dataset, what: &str) -> Result<Box<dyn Classifier>, RunError> {
        let model = self
            .params
            .fit(data, &mut stream(self.seed, self.repeat, "model"))
            .map_err(|source| RunError::Train {
                what: what.to_string(),
                source,
            })?;
        Ok(Box::new(model))
    }
}

/// The models and data a run shares between its defenses.
struct Baseline<'a> {
    ctx: &'a RunContext<'a>,
    trainer: Trainer,
    poisoned: Poisoned,
    poisoned_model: Box<dyn Classifier>,
    clean_eval: ModelEval,
    poisoned_eval: ModelEval,
}

impl Baseline<'_> {
    /// Score a filter's verdict, retrain on what it keeps and measure.
    fn score(
        &self,
        name: &str,
        kind: &str,
        verdict: &FilterVerdict,
    ) -> Result<DefenseRecord, RunError> {
        let start = Instant::now();
        let mask = &self.poisoned.is_poison;
        let c = Confusion::count(&verdict.flags, mask);
        let detection = Detection {
            tp: c.tp,
            fp: c.fp,
            tn: c.tn,
            fn_: c.fn_,
            tpr: c.tpr(),
            fpr: c.fpr(),
            precision: c.precision(),
            f1: c.f1(),
            auroc: metrics::auroc(&verdict.scores, mask),
        };
        let kept: Vec<usize> = (0..mask.len()).filter(|&i| !verdict.flags[i]).collect();
        let test = &self.ctx.data.test;
        let attack_test = self.poisoned.attack_test.as_ref();
        let retrained = if kept.len() == mask.len() {
            // Same data, same stream: the retrained model is the poisoned model.
            self.poisoned_eval.clone()
        } else if kept.is_empty() {
            return Ok(DefenseRecord {
                name: name.to_string(),
                kind: kind.to_string(),
                detection: Some(detection),
                retrained: None,
                recovery: None,
                der: None,
                error: Some(
                    "the filter removed every training sample; nothing to retrain on".into(),
                ),
                seconds: start.elapsed().as_secs_f64(),
            });
        } else {
            let model = self.trainer.train(
                &self.poisoned.data.subset(&kept),
                &format!("{name}-retrained"),
            )?;
            evaluate(model.as_ref(), test, attack_test)
        };
        let (clean, poisoned) = (&self.clean_eval, &self.poisoned_eval);
        let recovery = match (retrained.ca, poisoned.ca, clean.ca) {
            (Some(d), Some(p), Some(c)) => metrics::recovery(d, p, c, test.len()),
            _ => None,
        };
        let der = match (poisoned.asr, retrained.asr, poisoned.ca, retrained.ca) {
            (Some(ap), Some(ad), Some(cp), Some(cd)) => Some(metrics::der(ap, ad, cp, cd)),
            _ => None,
        };
        Ok(DefenseRecord {
            name: name.to_string(),
            kind: kind.to_string(),
            detection: Some(detection),
            retrained: Some(retrained),
            recovery,
            der,
            error: None,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// The poisoned training set of one (point, repeat), exactly as its run sees it.
pub(crate) fn poisoned_set(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
) -> Result<Poisoned, RunError> {
    let data = ctx.data;
    let input = AttackInput::new(&data.train, &data.test);
    let rng = &mut stream(ctx.seed, repeat, "attack");
    if point.attack.needs_surrogate() {
        let trainer = Trainer {
            params: BurnTrainer::new(point.model.clone()),
            seed: ctx.seed,
            repeat,
        };
        let clean = trainer.train(&data.train, "clean")?;
        point
            .attack
            .poison(input.with_surrogate(clean.as_ref()), rng)
    } else {
        point.attack.poison(input, rng)
    }
}

/// Run one (point, repeat) and return its record. `step` hears what is happening.
pub(crate) fn run_one(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    step: &dyn Fn(&str),
) -> Result<RunRecord, RunError> {
    let data = ctx.data;
    let mut seconds = BTreeMap::new();
    seconds.insert("load".to_string(), data.seconds);
    let mut timed = |name: &str, start: Instant| {
        seconds.insert(name.to_string(), start.elapsed().as_secs_f64());
    };

    let trainer = Trainer {
        params: BurnTrainer::new(point.model.clone()),
        seed: ctx.seed,
        repeat,
    };
    step("training the clean model");
    let t = Instant::now();
    let clean_model = trainer.train(&data.train, "clean")?;
    timed("train-clean", t);

    // The clean model doubles as the surrogate of attacks that need gradients.
    step("poisoning");
    let t = Instant::now();
    let mut input = AttackInput::new(&data.train, &data.test);
    if point.attack.needs_surrogate() {
        input = input.with_surrogate(clean_model.as_ref());
    }
    let poisoned = point
        .attack
        .poison(input, &mut stream(ctx.seed, repeat, "attack"))?;
    timed("poison", t);
    let clean_eval = evaluate(
        clean_model.as_ref(),
        &data.test,
        poisoned.attack_test.as_ref(),
    );

    step("training the poisoned model");
    let t = Instant::now();
    let poisoned_model = if poisoned.data == data.train {
        // Nothing changed: the same data and stream give the same model.
        clean_model
    } else {
        trainer.train(&poisoned.data, "poisoned")?
    };
    let poisoned_eval = evaluate(
        poisoned_model.as_ref(),
        &data.test,
        poisoned.attack_test.as_ref(),
    );
    timed("train-poisoned", t);
    let base = Baseline {
        ctx,
        trainer,
        poisoned,
        poisoned_model,
        clean_eval,
        poisoned_eval,
    };

    let mut defenses = Vec::new();
    for d in &point.defenses {
        step(&format!("defense {}", d.name));
        let t = Instant::now();
        let input = DefenseInput::new(
            &base.poisoned.data,
            base.poisoned_model.as_ref(),
            data.trusted.as_ref(),
        );
        let verdict = inspect(
            &d.kind,
            input,
            &mut stream(ctx.seed, repeat, &format!("defense:{}", d.name)),
        );
        let record = match verdict {
            Ok(v) => match v.as_filter() {
                Some(f) => {
                    let mut r = base.score(&d.name, "filter", f)?;
                    r.seconds = t.elapsed().as_secs_f64();
                    r
                }
                None => failed(
                    &d.name,
                    "filter",
                    "the defense returned no filter verdict".into(),
                    t,
                ),
            },
            Err(message) => failed(&d.name, "filter", message, t),
        };
        defenses.push(record);
    }

    // References: the ceiling (exactly the poison) and the floor (as many at random).
    step("reference filters");
    let mask = base.poisoned.is_poison.clone();
    let perfect = FilterVerdict {
        scores: mask.iter().map(|&p| if p { 1.0 } else { 0.0 }).collect(),
        flags: mask.clone(),
    };
    defenses.push(base.score("perfect", "reference", &perfect)?);
    let mut rng = stream(ctx.seed, repeat, "defense:random");
    let scores: Vec<f64> = (0..mask.len()).map(|_| rng.random::<f64>()).collect();
    defenses.push(base.score(
        "random",
        "reference",
        &top_k(scores, base.poisoned.n_poison()),
    )?);

    Ok(RunRecord {
        point: point
            .assignments
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect(),
        repeat,
        seed: run_seed(ctx.seed, repeat),
        n_train: data.train.len(),
        n_poison: base.poisoned.n_poison(),
        n_test: data.test.len(),
        clean: base.clean_eval,
        poisoned: base.poisoned_eval,
        defenses,
        seconds,
    })
}

/// Flag the `k` highest scores (ties to the lower index).
fn top_k(scores: Vec<f64>, k: usize) -> FilterVerdict {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut flags = vec![false; scores.len()];
    for &i in order.iter().take(k) {
        flags[i] = true;
    }
    FilterVerdict { scores, flags }
}

fn failed(name: &str, kind: &str, message: String, start: Instant) -> DefenseRecord {
    DefenseRecord {
        name: name.to_string(),
        kind: kind.to_string(),
        detection: None,
        retrained: None,
        recovery: None,
        der: None,
        error: Some(message),
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// A TOML scalar as JSON.
pub(crate) fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        other => serde_json::Value::String(other.to_string()),
    }
}
