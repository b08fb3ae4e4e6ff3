//! The federated regime: the training set is split among clients; each
//! round the server samples some, each starts from the global weights,
//! trains on its own data and sends its update (weights − global); an
//! aggregator combines the updates and the server adds them, times its
//! learning rate, to the global weights.
//!
//! One run plays several federations over the same clients, the same
//! selections and the same local streams, differing only in who attacks and
//! how the server aggregates: `clean` (every client honest, FedAvg: the
//! reference), `poisoned` (malicious clients attack, FedAvg: the undefended
//! server) and one per aggregator defense (malicious clients attack, that
//! aggregator). Every random choice comes from a named stream of the run
//! (the split, the malicious clients, the selections, each client's local
//! training in each round, each malicious client's data poisoning and
//! crafting, each aggregation), so results do not depend on `--threads`.

mod split;

use std::time::Instant;

use poisonlab_core::metrics::{self, Confusion};
use poisonlab_core::{
    AttackInput, AttackTest, Model, ModelTrainer, OutputLayer, Poisoned, Streams,
    UpdateAttackInput, UpdateRound,
};
use poisonlab_model::{BurnTrainer, ModelError, Optimizer};
use poisonlab_results::{
    AGGREGATOR, AggregatorRound, DefenseRecord, Detection, FederationRecord, ModelEval,
    RejectedUpdate, RoundRecord,
};
use poisonlab_scenario::kinds::{AnyAggregator, AnyAggregatorMaker, AnyUpdateAttack};
use poisonlab_scenario::{ClientOptimizer, DefenseKind, Family, FederatedParams, Point};
use rand::Rng as _;
use rand::seq::SliceRandom;

use super::common::{RunContext, evaluate};
use super::defend::{ParallelJob, in_parallel};
use crate::RunError;

/// What a federated run measured: the parts of its record.
pub(super) struct FederatedOutcome {
    pub clean: ModelEval,
    pub poisoned: ModelEval,
    pub n_poison: usize,
    pub rounds: Vec<RoundRecord>,
    pub defenses: Vec<DefenseRecord>,
    pub federation: FederationRecord,
    /// The undefended global model at the end, for the run's fingerprint.
    pub poisoned_model: Box<dyn Model>,
}

/// Run every federation of one (point, repeat).
pub(super) fn run(
    ctx: &RunContext<'_>,
    point: &Point,
    repeat: u64,
    step: &(dyn Fn(&str) + Sync),
) -> Result<FederatedOutcome, RunError> {
    let Some(p) = point.training.federated() else {
        unreachable!("a federated run has a federation")
    };
    step("splitting the data among the clients");
    let setup = Setup::new(ctx, point, p, repeat)?;
    let fedavg = DefenseKind::with_defaults("fedavg").map_err(RunError::Federation)?;
    let Family::Aggregator(fedavg) = fedavg.family() else {
        unreachable!("fedavg is an aggregator")
    };
    // With no client ever attacking, FedAvg under attack is the clean
    // federation: played once.
    let attacked = p.n_malicious() > 0
        && p.attack_from_round <= p.rounds
        && (!point.attack.is_none() || point.attack.update_attack().is_some());
    let mut plays: Vec<Play<'_>> = vec![Play {
        name: "clean".into(),
        attacked: false,
        aggregator: fedavg,
        oracle: None,
    }];
    if attacked {
        plays.push(Play {
            name: "poisoned".into(),
            attacked: true,
            aggregator: fedavg,
            oracle: None,
        });
    }
    let n_base = plays.len();
    for d in &point.defenses {
        if let Family::Aggregator(a) = d.kind.family() {
            plays.push(Play {
                name: d.name.clone(),
                attacked: true,
                aggregator: a,
                oracle: None,
            });
        }
    }
    // The references (played only when someone attacks: otherwise they
    // are the clean federation).
    if attacked {
        for (name, oracle) in [("perfect", Oracle::Perfect), ("random", Oracle::Random)] {
            plays.push(Play {
                name: name.into(),
                attacked: true,
                aggregator: fedavg,
                oracle: Some(oracle),
            });
        }
    }
    step(&format!(
        "{} federations of {} rounds",
        plays.len(),
        p.rounds
    ));
    // Federations run side by side; each gives its clients the threads left.
    let threads = ctx.inner_threads.max(1);
    let per_play = (threads / plays.len()).max(1);
    let setup = &setup;
    let jobs: Vec<ParallelJob<'_, Played>> = plays
        .iter()
        .map(|play| Box::new(move || setup.play(play, per_play)) as ParallelJob<'_, Played>)
        .collect();
    let mut played = in_parallel(threads, jobs).into_iter();
    let Some(clean) = played.next() else {
        unreachable!("the clean federation is played")
    };
    let clean = clean.finished("clean")?;
    let poisoned = match attacked {
        true => match played.next() {
            Some(p) => Some(p.finished("poisoned")?),
            None => unreachable!("the poisoned federation is played"),
        },
        false => None,
    };
    let poisoned = poisoned.as_ref().unwrap_or(&clean);
    let mut rejected: Vec<RejectedUpdate> = clean.rejected.clone();
    if attacked {
        rejected.extend(poisoned.rejected.iter().cloned());
    }
    let (Some((_, clean_eval)), Some((_, poisoned_eval))) =
        (clean.evals.last(), poisoned.evals.last())
    else {
        unreachable!("at least one round")
    };
    let n_test = ctx.data.test.len();
    let mut defenses: Vec<DefenseRecord> = plays[n_base..]
        .iter()
        .zip(played)
        .map(|(play, outcome)| {
            rejected.extend(outcome.rejected.iter().cloned());
            setup.defense_record(play, outcome, clean_eval, poisoned_eval, n_test)
        })
        .collect();
    if !attacked {
        // Nobody attacks: both references are the clean federation.
        for name in ["perfect", "random"] {
            let mut d = DefenseRecord::new(name, AGGREGATOR);
            d.retrained = Some(clean_eval.clone());
            d.rounds = Some(
                clean
                    .evals
                    .iter()
                    .map(|(r, e)| AggregatorRound {
                        round: *r,
                        ca: e.ca,
                        asr: e.asr,
                        source_recall: e.source_recall,
                        flagged_malicious: None,
                        flagged_benign: None,
                    })
                    .collect(),
            );
            defenses.push(d);
        }
    }
    let rounds = setup.round_records(&clean, poisoned);
    Ok(FederatedOutcome {
        clean: clean_eval.clone(),
        poisoned: poisoned_eval.clone(),
        n_poison: setup
            .poisoned
            .iter()
            .flatten()
            .map(Poisoned::n_poison)
            .sum(),
        rounds,
        defenses,
        federation: FederationRecord {
            clients: p.clients,
            malicious: (0..p.clients).filter(|&c| setup.malicious[c]).collect(),
            sizes: setup.clients.iter().map(Vec::len).collect(),
            empty: (0..p.clients)
                .filter(|&c| setup.clients[c].is_empty())
                .collect(),
            poisoned: (0..p.clients)
                .filter(|&c| setup.malicious[c])
                .map(|c| setup.poisoned[c].as_ref().map_or(0, Poisoned::n_poison))
                .collect(),
            rejected,
        },
        poisoned_model: poisoned
            .model
            .as_ref()
            .map(|m| m.clone_box())
            .ok_or_else(|| RunError::Federation("the poisoned federation has no model".into()))?,
    })
}

/// One federation to play: who attacks and how the server aggregates.
struct Play<'a> {
    name: String,
    attacked: bool,
    aggregator: &'a dyn AnyAggregatorMaker,
    /// A reference that leaves updates out before the aggregator (FedAvg) sees them.
    oracle: Option<Oracle>,
}

/// The federated references: FedAvg after leaving out exactly the attacking
/// clients' updates (`perfect`), or as many updates drawn at random (`random`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Oracle {
    Perfect,
    Random,
}

/// What one federation produced.
struct Played {
    /// The global model's evaluation after each measured round (round, eval).
    evals: Vec<(usize, ModelEval)>,
    /// Per round: selected attacking clients the aggregator flagged, and
    /// selected benign ones (when it flags).
    flags_per_round: Vec<Option<(usize, usize)>>,
    /// Over all rounds, per aggregated update: malicious (attacking) or not,
    /// the aggregator's flag and suspicion (when it gives them).
    truth: Vec<bool>,
    flagged: Vec<bool>,
    suspicion: Vec<f64>,
    rejected: Vec<RejectedUpdate>,
    /// Wall time of the aggregations (the defense's own work).
    seconds: f64,
    /// Rounds the aggregator refused.
    refused_rounds: usize,
    /// The global model at the end (absent when the federation could not start).
    model: Option<Box<dyn Model>>,
    /// Why the federation stopped, when it did.
    error: Option<String>,
}

impl Played {
    /// The federation, or the error that stopped it (`clean` and `poisoned`
    /// must finish for the run to have a record).
    fn finished(self, name: &str) -> Result<Played, RunError> {
        match &self.error {
            None => Ok(self),
            Some(e) => Err(RunError::Federation(format!("the {name} federation: {e}"))),
        }
    }
}

/// Everything the federations of one run share.
struct Setup<'a> {
    ctx: &'a RunContext<'a>,
    p: &'a FederatedParams,
    streams: Streams,
    trainer: BurnTrainer,
    /// Training rows of each client.
    clients: Vec<Vec<usize>>,
    malicious: Vec<bool>,
    /// The poisoned local data of each malicious client.
    poisoned: Vec<Option<Poisoned>>,
    /// The clients selected in each round (ascending ids).
    selections: Vec<Vec<usize>>,
    /// The global model before round 1 (every federation starts from a copy).
    start: Box<dyn Model>,
    output_layer: OutputLayer,
    update_attack: Option<&'a dyn AnyUpdateAttack>,
    attack_test: Option<AttackTest>,
}

impl<'a> Setup<'a> {
    fn new(
        ctx: &'a RunContext<'a>,
        point: &'a Point,
        p: &'a FederatedParams,
        repeat: u64,
    ) -> Result<Self, RunError> {
        let streams = Streams {
            seed: ctx.seed,
            repeat,
        };
        let train = &ctx.data.train;
        let clients = split::split(
            train.labels(),
            train.n_classes(),
            p,
            &mut streams.named("federated:split"),
        );
        let mut ids: Vec<usize> = (0..p.clients).collect();
        ids.shuffle(&mut streams.named("federated:malicious"));
        let mut malicious = vec![false; p.clients];
        for &c in &ids[..p.n_malicious()] {
            malicious[c] = true;
        }
        // Each malicious client poisons its own data with its own stream.
        let attack = point.attack.attack();
        let poison = |c: usize| -> Result<Poisoned, RunError> {
            let local = train.subset(&clients[c]);
            attack
                .poison(
                    AttackInput::new(&local, &ctx.data.test),
                    &mut streams.named(&format!("attack:client{c}")),
                )
                .map_err(|message| RunError::Attack {
                    kind: point.attack.kind(),
                    message: format!("on client {c}: {message}"),
                })
        };
        let mut poisoned = Vec::with_capacity(p.clients);
        for c in 0..p.clients {
            poisoned.push(match malicious[c] && !clients[c].is_empty() {
                true => Some(poison(c)?),
                false => None,
            });
        }
        // The attack's test inputs: from the first malicious client's
        // poisoning, or (no malicious client) from poisoning the first
        // non-empty client's data as one would.
        let attack_test = match poisoned.iter().flatten().next() {
            Some(first) => first.attack_test.clone(),
            None => match (0..p.clients).find(|&c| !clients[c].is_empty()) {
                Some(c) => poison(c)?.attack_test,
                None => None,
            },
        };
        let selections = select(&clients, p, &streams);
        let model = point.model.clone();
        let trainer = BurnTrainer::new(poisonlab_core::ModelParams {
            epochs: p.local_epochs,
            batch_size: p.local_batch_size,
            learning_rate: p.learning_rate,
            ..model
        })
        .with_optimizer(match p.optimizer {
            ClientOptimizer::Sgd => Optimizer::Sgd,
            ClientOptimizer::Adam => Optimizer::Adam,
        });
        let start = trainer
            .initial(train, &mut streams.named("model"))
            .map_err(|source| RunError::Train {
                what: "initial global".into(),
                source,
            })?;
        let probe = ctx.data.test.subset(&[0]);
        let n_in = start.embed(&probe).cols;
        let output_layer = OutputLayer::last(start.n_parameters(), n_in, train.n_classes());
        Ok(Self {
            ctx,
            p,
            streams,
            trainer,
            clients,
            malicious,
            poisoned,
            selections,
            start,
            output_layer,
            update_attack: point.attack.update_attack(),
            attack_test,
        })
    }

    /// Whether client `c` attacks in round `r` of an attacked federation.
    fn attacks(&self, c: usize, r: usize) -> bool {
        self.malicious[c] && r >= self.p.attack_from_round
    }

    /// Client `c`'s local update in round `r` from `global`: trained on its
    /// poisoned data when it attacks, else on its own rows in place.
    fn local_update(
        &self,
        global: &[f32],
        c: usize,
        r: usize,
        attacking: bool,
    ) -> Result<Vec<f32>, ModelError> {
        let mut rng = self.streams.named(&format!("federated:round{r}:client{c}"));
        let epochs = self.p.local_epochs;
        let model = match (&self.poisoned[c], attacking) {
            (Some(local), true) => {
                self.trainer
                    .fit_from(Some(global), &local.data, None, epochs, &mut rng)?
            }
            _ => self.trainer.fit_from(
                Some(global),
                &self.ctx.data.train,
                Some(&self.clients[c]),
                epochs,
                &mut rng,
            )?,
        };
        Ok(difference(&model.parameters(), global))
    }

    /// Play one federation, training each round's clients on `threads` threads.
    fn play(&self, play: &Play<'_>, threads: usize) -> Played {
        let mut f = Federation {
            setup: self,
            play,
            aggregator: play.aggregator.fresh(),
            global: self.start.parameters(),
            model: self.start.clone_box(),
            out: Played::new(),
        };
        for (i, selected) in self.selections.iter().enumerate() {
            if let Err(e) = f.round(i + 1, selected, threads) {
                f.out.error = Some(e);
                return f.out;
            }
        }
        f.out.model = Some(f.model);
        f.out
    }

    /// A reference's flags and suspicion scores for the round's updates
    /// (`truth`: which come from attacking clients): `perfect` flags exactly
    /// those; `random` flags as many, drawn from the round's `random` stream.
    fn oracle(&self, oracle: Oracle, truth: &[bool], r: usize) -> (Vec<bool>, Vec<f64>) {
        match oracle {
            Oracle::Perfect => (
                truth.to_vec(),
                truth.iter().map(|&t| f64::from(u8::from(t))).collect(),
            ),
            Oracle::Random => {
                let mut rng = self.streams.named(&format!("federated:round{r}:random"));
                let suspicion: Vec<f64> = truth.iter().map(|_| rng.random::<f64>()).collect();
                let m = truth.iter().filter(|&&t| t).count();
                let mut order: Vec<usize> = (0..truth.len()).collect();
                order.sort_by(|&a, &b| suspicion[b].total_cmp(&suspicion[a]));
                let mut flags = vec![false; truth.len()];
                for &i in &order[..m] {
                    flags[i] = true;
                }
                (flags, suspicion)
            }
        }
    }

    /// The server's own update in round `r`: trained from `global` on the
    /// trusted root set (FLTrust), with the round's `root` stream.
    fn root_update(&self, global: &[f32], r: usize) -> Result<Vec<f32>, String> {
        let Some(root) = &self.ctx.data.trusted else {
            return Err("no trusted root set ([data] trusted)".into());
        };
        let mut rng = self.streams.named(&format!("federated:round{r}:root"));
        let model = self
            .trainer
            .fit_from(Some(global), root, None, self.p.local_epochs, &mut rng)
            .map_err(|e| e.to_string())?;
        Ok(difference(&model.parameters(), global))
    }

    /// The per-round series of the clean and the undefended federation.
    fn round_records(&self, clean: &Played, poisoned: &Played) -> Vec<RoundRecord> {
        clean
            .evals
            .iter()
            .zip(&poisoned.evals)
            .map(|((r, c), (_, p))| {
                let r = *r;
                let selected = &self.selections[r - 1];
                // Attacking clients train on their poisoned data (which an
                // `add` attack makes larger).
                let n: usize = selected
                    .iter()
                    .map(|&c| match (&self.poisoned[c], self.attacks(c, r)) {
                        (Some(local), true) => local.data.len(),
                        _ => self.clients[c].len(),
                    })
                    .sum();
                let attacking: Vec<usize> = selected
                    .iter()
                    .copied()
                    .filter(|&c| self.attacks(c, r))
                    .collect();
                let n_poison: usize = attacking
                    .iter()
                    .filter_map(|&c| self.poisoned[c].as_ref())
                    .map(Poisoned::n_poison)
                    .sum();
                RoundRecord {
                    round: r,
                    n,
                    n_poison,
                    poison_share: n_poison as f64 / n.max(1) as f64,
                    clean_ca: c.ca,
                    clean_ca_other: None,
                    ca: p.ca,
                    asr: p.asr,
                    ca_other: None,
                    malicious: Some(attacking.len()),
                    source_recall: p.source_recall,
                    clean_source_recall: c.source_recall,
                }
            })
            .collect()
    }

    /// An aggregator defense's record: its federation's final model against
    /// the clean and the undefended one, and how it told clients apart.
    fn defense_record(
        &self,
        play: &Play<'_>,
        outcome: Played,
        clean: &ModelEval,
        poisoned: &ModelEval,
        n_test: usize,
    ) -> DefenseRecord {
        let mut d = DefenseRecord::new(&play.name, AGGREGATOR);
        d.seconds = outcome.seconds;
        if let Some(e) = &outcome.error {
            d.error = Some(e.clone());
            return d;
        }
        let Some((_, last)) = outcome.evals.last() else {
            return d;
        };
        d.recovery = match (last.ca, poisoned.ca, clean.ca) {
            (Some(x), Some(p), Some(c)) => metrics::recovery(x, p, c, n_test),
            _ => None,
        };
        d.der = match (poisoned.asr, last.asr, poisoned.ca, last.ca) {
            (Some(ap), Some(ad), Some(cp), Some(cd)) => Some(metrics::der(ap, ad, cp, cd)),
            _ => None,
        };
        d.detection = outcome.detection();
        d.rounds = Some(
            outcome
                .evals
                .iter()
                .map(|(r, e)| (*r, e, outcome.flags_per_round.get(r - 1).copied().flatten()))
                .map(|(r, e, flags)| AggregatorRound {
                    round: r,
                    ca: e.ca,
                    asr: e.asr,
                    source_recall: e.source_recall,
                    flagged_malicious: flags.map(|f| f.0),
                    flagged_benign: flags.map(|f| f.1),
                })
                .collect(),
        );
        d.retrained = Some(last.clone());
        d
    }
}

/// One federation being played: its aggregator, the global weights, the
/// model they are measured with, and what it records.
struct Federation<'s, 'p> {
    setup: &'s Setup<'s>,
    play: &'p Play<'p>,
    aggregator: Box<dyn AnyAggregator>,
    global: Vec<f32>,
    model: Box<dyn Model>,
    out: Played,
}

impl Federation<'_, '_> {
    /// Round `r` with the clients `selected`: local updates, what the server
    /// keeps of them, the server step, the measurement. An error stops the
    /// federation.
    fn round(&mut self, r: usize, selected: &[usize], threads: usize) -> Result<(), String> {
        let attacking: Vec<bool> = selected
            .iter()
            .map(|&c| self.play.attacked && self.setup.attacks(c, r))
            .collect();
        let mut updates = self.updates(r, selected, &attacking, threads);
        let mut kept: Vec<usize> = (0..selected.len())
            .filter(|&k| updates[k].is_some())
            .collect();
        // A reference leaves updates out first and is scored on that.
        if let Some(oracle) = self.play.oracle {
            let truth: Vec<bool> = kept.iter().map(|&k| attacking[k]).collect();
            let (flags, suspicion) = self.setup.oracle(oracle, &truth, r);
            self.out.score(&truth, Some(&flags), Some(&suspicion));
            kept = kept
                .iter()
                .zip(&flags)
                .filter(|(_, f)| !**f)
                .map(|(k, _)| *k)
                .collect();
        }
        if !kept.is_empty() {
            let list: Vec<Vec<f32>> = kept.iter().filter_map(|&k| updates[k].take()).collect();
            self.server_step(r, selected, &attacking, &kept, &list)?;
        } else if self.play.oracle.is_none() {
            self.out.flags_per_round.push(None);
        }
        self.measure(r)
    }

    /// The selected clients' updates from the global weights, trained in
    /// parallel; attacking clients with a model-poisoning kind replace theirs
    /// knowing this round's benign updates. `None` where the server refuses
    /// one (local training or crafting failed, or a value is not finite),
    /// recorded with the round and client.
    fn updates(
        &mut self,
        r: usize,
        selected: &[usize],
        attacking: &[bool],
        threads: usize,
    ) -> Vec<Option<Vec<f32>>> {
        let setup = self.setup;
        let global = &self.global;
        let jobs: Vec<ParallelJob<'_, Result<Vec<f32>, ModelError>>> = selected
            .iter()
            .zip(attacking)
            .map(|(&c, &a)| {
                Box::new(move || setup.local_update(global, c, r, a))
                    as ParallelJob<'_, Result<Vec<f32>, ModelError>>
            })
            .collect();
        let trained = in_parallel(threads, jobs);
        let benign: Vec<Vec<f32>> = trained
            .iter()
            .zip(attacking)
            .filter(|(_, a)| !**a)
            .filter_map(|(u, _)| u.as_ref().ok().filter(|u| all_finite(u)).cloned())
            .collect();
        let n_attacking = attacking.iter().filter(|&&a| a).count();
        let mut updates = Vec::with_capacity(selected.len());
        for ((&c, &a), u) in selected.iter().zip(attacking).zip(trained) {
            let u = match (u, setup.update_attack) {
                (Err(e), _) => Err(format!("local training failed: {e}")),
                (Ok(own), Some(attack)) if a => attack
                    .craft(
                        UpdateAttackInput {
                            round: r,
                            own: &own,
                            benign: &benign,
                            n_selected: selected.len(),
                            n_malicious: n_attacking,
                            server_learning_rate: setup.p.server_learning_rate,
                        },
                        &mut setup
                            .streams
                            .named(&format!("federated:round{r}:client{c}:craft")),
                    )
                    .map_err(|e| format!("crafting failed: {e}")),
                (Ok(own), _) => Ok(own),
            };
            let u = u.and_then(|u| match first_non_finite(&u) {
                None => Ok(u),
                Some((j, v)) => Err(format!("value {j} of the update is {v}")),
            });
            match u {
                Ok(u) => updates.push(Some(u)),
                Err(reason) => {
                    self.refuse(r, Some(c), reason);
                    updates.push(None);
                }
            }
        }
        updates
    }

    /// Aggregate the kept updates `list` (of the selected clients at `kept`)
    /// and add the result, times the server's rate, to the global weights.
    /// A round the aggregator cannot take (too few updates left for its
    /// bound after refusals) leaves the weights as they were, on the
    /// record; so does an aggregate that would make them non-finite.
    fn server_step(
        &mut self,
        r: usize,
        selected: &[usize],
        attacking: &[bool],
        kept: &[usize],
        list: &[Vec<f32>],
    ) -> Result<(), String> {
        let setup = self.setup;
        let clients: Vec<usize> = kept.iter().map(|&k| selected[k]).collect();
        let samples: Vec<usize> = kept
            .iter()
            .map(|&k| match (&setup.poisoned[selected[k]], attacking[k]) {
                (Some(local), true) => local.data.len(),
                _ => setup.clients[selected[k]].len(),
            })
            .collect();
        let root = match self.play.aggregator.needs_root() {
            true => Some(
                setup
                    .root_update(&self.global, r)
                    .map_err(|e| format!("round {r}: the server's root update: {e}"))?,
            ),
            false => None,
        };
        let round = UpdateRound {
            round: r,
            clients: &clients,
            updates: list,
            samples: &samples,
            root: root.as_deref(),
            output_layer: setup.output_layer,
        };
        let t = Instant::now();
        let aggregated = self.aggregator.aggregate(
            round,
            &mut setup
                .streams
                .named(&format!("federated:round{r}:aggregate")),
        );
        self.out.seconds += t.elapsed().as_secs_f64();
        let aggregated = match aggregated {
            Ok(a) => a,
            Err(e) => {
                self.refuse(
                    r,
                    None,
                    format!(
                        "the aggregator refused the round ({e}); the server kept the old weights"
                    ),
                );
                self.out.flags_per_round.push(None);
                self.out.refused_rounds += 1;
                return match self.out.refused_rounds == setup.p.rounds {
                    true => Err(format!("the aggregator refused every round: {e}")),
                    false => Ok(()),
                };
            }
        };
        if self.play.oracle.is_none() {
            let truth: Vec<bool> = kept.iter().map(|&k| attacking[k]).collect();
            self.out.score(
                &truth,
                aggregated.flagged.as_deref(),
                aggregated.suspicion.as_deref(),
            );
        }
        let rate = setup.p.server_learning_rate;
        let next: Vec<f32> = self
            .global
            .iter()
            .zip(&aggregated.update)
            .map(|(g, u)| g + (rate * f64::from(*u)) as f32)
            .collect();
        match first_non_finite(&next) {
            None if aggregated.update.len() == self.global.len() => self.global = next,
            Some((j, v)) => self.refuse(
                r,
                None,
                format!("value {j} of the new global weights is {v}; the server kept the old ones"),
            ),
            None => self.refuse(
                r,
                None,
                format!(
                    "the aggregate has {} values, the model {}",
                    aggregated.update.len(),
                    self.global.len()
                ),
            ),
        }
        Ok(())
    }

    /// Measure the global weights after round `r`, when the round is measured.
    fn measure(&mut self, r: usize) -> Result<(), String> {
        if !self.setup.p.evaluates(r) {
            return Ok(());
        }
        self.model
            .set_parameters(&self.global)
            .map_err(|e| format!("round {r}: {e}"))?;
        let eval = evaluate(
            self.model.as_ref(),
            &self.setup.ctx.data.test,
            self.setup.attack_test.as_ref(),
        );
        self.out.evals.push((r, eval));
        Ok(())
    }

    /// Record what the server refused in round `r` (`client`: whose update;
    /// `None`: the round's aggregate).
    fn refuse(&mut self, r: usize, client: Option<usize>, reason: String) {
        self.out.rejected.push(RejectedUpdate {
            federation: self.play.name.clone(),
            round: r,
            client,
            reason,
        });
    }
}

impl Played {
    fn new() -> Self {
        Self {
            evals: Vec::new(),
            flags_per_round: Vec::new(),
            truth: Vec::new(),
            flagged: Vec::new(),
            suspicion: Vec::new(),
            rejected: Vec::new(),
            seconds: 0.0,
            refused_rounds: 0,
            model: None,
            error: None,
        }
    }

    /// Keep one round's flags and suspicions against the truth.
    fn score(&mut self, truth: &[bool], flagged: Option<&[bool]>, suspicion: Option<&[f64]>) {
        match flagged {
            Some(f) if f.len() == truth.len() => {
                let malicious = f.iter().zip(truth).filter(|(f, t)| **f && **t).count();
                let benign = f.iter().zip(truth).filter(|(f, t)| **f && !**t).count();
                self.flags_per_round.push(Some((malicious, benign)));
                self.flagged.extend_from_slice(f);
            }
            _ => self.flags_per_round.push(None),
        }
        if let Some(s) = suspicion.filter(|s| s.len() == truth.len()) {
            self.suspicion.extend_from_slice(s);
        }
        self.truth.extend_from_slice(truth);
    }

    /// Client-level detection over the rounds, when the aggregator flagged
    /// in every round (TPR / FPR of "malicious") and scored (AUROC).
    fn detection(&self) -> Option<Detection> {
        let n = self.truth.len();
        if n == 0 || self.flagged.len() != n {
            return None;
        }
        let c = Confusion::count(&self.flagged, &self.truth);
        let auroc = (self.suspicion.len() == n)
            .then(|| metrics::auroc(&self.suspicion, &self.truth))
            .flatten();
        let roc_tpr = match self.suspicion.len() == n {
            true => metrics::roc_tpr(&self.suspicion, &self.truth, &metrics::ROC_FPRS)
                .unwrap_or_default(),
            false => Vec::new(),
        };
        Some(Detection {
            tp: c.tp,
            fp: c.fp,
            tn: c.tn,
            fn_: c.fn_,
            tpr: c.tpr(),
            fpr: c.fpr(),
            precision: c.precision(),
            f1: c.f1(),
            auroc,
            roc_tpr,
            auroc_class: None,
        })
    }
}

/// The clients each round selects: `per-round` of the clients with data,
/// without replacement, from the run's `federated:select` stream (all of
/// them when fewer have data).
fn select(clients: &[Vec<usize>], p: &FederatedParams, streams: &Streams) -> Vec<Vec<usize>> {
    let with_data: Vec<usize> = (0..clients.len())
        .filter(|&c| !clients[c].is_empty())
        .collect();
    let mut rng = streams.named("federated:select");
    (0..p.rounds)
        .map(|_| {
            let mut ids = with_data.clone();
            let k = p.per_round.min(ids.len());
            let (chosen, _) = ids.partial_shuffle(&mut rng, k);
            let mut chosen = chosen.to_vec();
            chosen.sort_unstable();
            chosen
        })
        .collect()
}

fn difference(weights: &[f32], global: &[f32]) -> Vec<f32> {
    weights.iter().zip(global).map(|(w, g)| w - g).collect()
}

fn all_finite(values: &[f32]) -> bool {
    values.iter().all(|v| v.is_finite())
}

fn first_non_finite(values: &[f32]) -> Option<(usize, f32)> {
    values
        .iter()
        .position(|v| !v.is_finite())
        .map(|j| (j, values[j]))
}
