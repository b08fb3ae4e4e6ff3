//! The ranked recommendation at the top of report.md and report.html: for
//! each attack setting, the filters whose retrained model comes within
//! [`TOLERANCE`] of the perfect filter's (ASR, or CA when the attack has no
//! ASR) at the lowest cost in clean accuracy, and those that do no better
//! than the random filter. Each claim is read from the 95 % CI of the
//! per-repeat difference (every repeat scores a defense and both references
//! on the same data, so differences are paired); with a single repeat
//! nothing is claimed.

use poisonlab_core::metrics::Summary;
use serde::Serialize;

use crate::matrix::matrices;
use crate::record::{DefenseRecord, ModelEval, RunRecord};
use crate::summary::PointSummary;
use crate::view::names_of;

/// How close to the perfect filter a defense must come, and how far above
/// the random one it must be, in ASR (or CA).
pub const TOLERANCE: f64 = 0.05;

/// How to read the section, one paragraph.
pub const INTRO: &str = "For each attack: the defenses whose retrained model comes within 0.05 \
    of the perfect filter's (in ASR, or in CA for an attack without one) at the lowest cost in \
    clean accuracy, and those that do no better than the random filter. A claim is made only \
    where the 95 % interval of the per-repeat difference allows it (repeats ≥ 2); differences \
    are paired, the defense and both references scored on the same data in each repeat.";

/// The verdicts at one attack setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// The attack setting (a matrix row's label, or the point's label).
    pub attack: String,
    /// The other swept keys' values, when a matrix splits by them.
    pub group: String,
    /// `ASR` (lower is better) or `CA` (higher is better, attacks without an ASR).
    pub measure: &'static str,
    /// Fewest repeats any verdict rests on.
    pub repeats: usize,
    /// Mean of the measure on the poisoned model, after the perfect filter
    /// and after the random one.
    pub poisoned: Option<f64>,
    /// See `poisoned`.
    pub perfect: Option<f64>,
    /// See `poisoned`.
    pub random: Option<f64>,
    /// Within [`TOLERANCE`] of perfect at the 95 % level, lowest CA cost first.
    pub recommended: Vec<Verdict>,
    /// Not more than [`TOLERANCE`] better than random at the 95 % level.
    pub no_better: Vec<Verdict>,
    /// More than [`TOLERANCE`] better than random and more than it short
    /// of perfect, both at the 95 % level.
    pub between: Vec<Verdict>,
    /// The rest: the intervals cannot tell.
    pub undecided: Vec<Verdict>,
}

/// One defense at one attack setting: paired differences over the repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The defense.
    pub name: String,
    /// How much worse than the perfect filter (ASR_d − ASR_perfect, or
    /// CA_perfect − CA_d).
    pub gap: Summary,
    /// How much better than the random filter (ASR_random − ASR_d, or
    /// CA_d − CA_random).
    pub gain: Summary,
    /// CA_clean − CA_d: the accuracy the defense costs.
    pub ca_cost: Option<Summary>,
}

/// Upper end of a difference's 95 % interval; none for one repeat.
fn upper(s: &Summary) -> Option<f64> {
    if s.n < 2 {
        return None;
    }
    s.ci95.map(|ci| s.mean + ci)
}

/// Lower end of a difference's 95 % interval; none for one repeat.
fn lower(s: &Summary) -> Option<f64> {
    if s.n < 2 {
        return None;
    }
    s.ci95.map(|ci| s.mean - ci)
}

/// The recommendation at every attack setting: the rows of the attack ×
/// defense matrices when the sweep varies the attack, else every point.
pub fn recommendations(
    summary: &[PointSummary],
    records: &[RunRecord],
    defenses: &[(String, String)],
) -> Vec<Recommendation> {
    let settings: Vec<(String, String, &serde_json::Map<String, serde_json::Value>)> = {
        let ms = matrices(summary, defenses);
        if ms.is_empty() {
            summary
                .iter()
                .map(|p| (p.label(), String::new(), &p.point))
                .collect()
        } else {
            // Rows point into `ms`; take the points from the summary instead.
            let mut out = Vec::new();
            for m in &ms {
                for row in &m.rows {
                    if let Some(p) = summary.iter().find(|p| p.point == row.point) {
                        out.push((row.label.clone(), m.group.clone(), &p.point));
                    }
                }
            }
            out
        }
    };
    let filters: Vec<&String> = names_of(defenses, "filter")
        .chain(names_of(defenses, "provenance"))
        .collect();
    settings
        .into_iter()
        .filter_map(|(attack, group, point)| {
            let runs: Vec<&RunRecord> = records.iter().filter(|r| r.point == *point).collect();
            at_setting(attack, group, &runs, &filters)
        })
        .collect()
}

/// The verdicts at one setting; none when it has no references.
fn at_setting(
    attack: String,
    group: String,
    runs: &[&RunRecord],
    filters: &[&String],
) -> Option<Recommendation> {
    let asr = runs.iter().any(|r| r.poisoned.asr.is_some());
    let value = |e: &ModelEval| if asr { e.asr } else { e.ca };
    // Lower is better for ASR: orient every difference so that positive is "worse".
    let worse = |a: f64, b: f64| if asr { a - b } else { b - a };
    let find = |r: &'_ RunRecord, name: &str| -> Option<f64> {
        let d: &DefenseRecord = r.defenses.iter().find(|d| d.name == name)?;
        value(d.retrained.as_ref()?)
    };
    let mean = |xs: Vec<f64>| Summary::of(&xs).map(|s| s.mean);
    let perfect = mean(runs.iter().filter_map(|r| find(r, "perfect")).collect());
    let random = mean(runs.iter().filter_map(|r| find(r, "random")).collect());
    perfect.or(random)?;
    let poisoned = mean(runs.iter().filter_map(|r| value(&r.poisoned)).collect());
    let mut rec = Recommendation {
        attack,
        group,
        measure: if asr { "ASR" } else { "CA" },
        repeats: usize::MAX,
        poisoned,
        perfect,
        random,
        recommended: Vec::new(),
        no_better: Vec::new(),
        between: Vec::new(),
        undecided: Vec::new(),
    };
    for name in filters {
        let mut gaps = Vec::new();
        let mut gains = Vec::new();
        let mut costs = Vec::new();
        for r in runs {
            let Some(d) = find(r, name) else { continue };
            if let (Some(p), Some(q)) = (find(r, "perfect"), find(r, "random")) {
                gaps.push(worse(d, p));
                gains.push(worse(q, d));
            }
            let ca = r
                .defenses
                .iter()
                .find(|x| x.name == **name)
                .and_then(|x| x.retrained.as_ref()?.ca);
            if let (Some(clean), Some(ca)) = (r.clean.ca, ca) {
                costs.push(clean - ca);
            }
        }
        let (Some(gap), Some(gain)) = (Summary::of(&gaps), Summary::of(&gains)) else {
            continue;
        };
        rec.repeats = rec.repeats.min(gap.n);
        let v = Verdict {
            name: (*name).clone(),
            gap,
            gain,
            ca_cost: Summary::of(&costs),
        };
        if upper(&v.gap).is_some_and(|u| u <= TOLERANCE) {
            rec.recommended.push(v);
        } else if upper(&v.gain).is_some_and(|u| u <= TOLERANCE) {
            rec.no_better.push(v);
        } else if lower(&v.gap).is_some_and(|l| l > TOLERANCE)
            && lower(&v.gain).is_some_and(|l| l > TOLERANCE)
        {
            rec.between.push(v);
        } else {
            rec.undecided.push(v);
        }
    }
    if rec.repeats == usize::MAX {
        rec.repeats = 0;
    }
    rec.recommended.sort_by(|a, b| {
        let cost = |v: &Verdict| v.ca_cost.map_or(f64::INFINITY, |c| c.mean);
        cost(a)
            .total_cmp(&cost(b))
            .then(a.gap.mean.total_cmp(&b.gap.mean))
    });
    Some(rec)
}

/// `mean ± ci` of a difference, signed, three decimals.
fn signed(s: &Summary) -> String {
    match s.ci95 {
        Some(ci) => format!("{:+.3} ± {ci:.3}", s.mean),
        None => format!("{:+.3}", s.mean),
    }
}

impl Recommendation {
    /// The setting's verdicts as sentences (plain text; the caller marks
    /// up the attack's name).
    pub fn sentences(&self) -> Vec<String> {
        let mut out = Vec::new();
        let m = self.measure;
        let f = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
        out.push(format!(
            "{m}: no defense {}, perfect filter {}, random filter {}.",
            f(self.poisoned),
            f(self.perfect),
            f(self.random)
        ));
        if self.repeats < 2 {
            out.push(
                "One repeat: nothing is claimed (the 95 % intervals need repeats ≥ 2).".into(),
            );
            return out;
        }
        let worse = if m == "ASR" { "above" } else { "below" };
        if self.recommended.is_empty() {
            out.push(format!(
                "No defense is shown within {TOLERANCE} {m} of the perfect filter."
            ));
        } else {
            let list: Vec<String> = self
                .recommended
                .iter()
                .map(|v| {
                    let cost = v
                        .ca_cost
                        .as_ref()
                        .map_or(String::new(), |c| format!(", CA cost {}", signed(c)));
                    format!("{} ({m} {} {worse} perfect{cost})", v.name, signed(&v.gap))
                })
                .collect();
            out.push(format!(
                "Within {TOLERANCE} {m} of the perfect filter, lowest CA cost first: {}.",
                list.join("; ")
            ));
        }
        if !self.no_better.is_empty() {
            let list: Vec<String> = self
                .no_better
                .iter()
                .map(|v| format!("{} (gain {})", v.name, signed(&v.gain)))
                .collect();
            out.push(format!(
                "No better than the random filter (gain in {m} at most {TOLERANCE}): {}.",
                list.join("; ")
            ));
        }
        if !self.between.is_empty() {
            let list: Vec<String> = self
                .between
                .iter()
                .map(|v| format!("{} ({m} {} {worse} perfect)", v.name, signed(&v.gap)))
                .collect();
            out.push(format!(
                "Better than random, short of perfect (each by more than {TOLERANCE}): {}.",
                list.join("; ")
            ));
        }
        if !self.undecided.is_empty() {
            let list: Vec<&str> = self.undecided.iter().map(|v| v.name.as_str()).collect();
            out.push(format!(
                "The intervals of {} repeats cannot tell: {}.",
                self.repeats,
                list.join(", ")
            ));
        }
        out
    }
}

/// Settings a tally names, at most, per defense.
const SHOWN: usize = 6;

/// Many settings in a few lines: per defense, at how many settings it is
/// recommended, no better than random, or undecided.
pub fn tally(recs: &[Recommendation], defenses: &[(String, String)]) -> Vec<String> {
    let judged = recs.iter().filter(|r| r.repeats >= 2).count();
    let mut out = vec![format!(
        "{} attack settings, {judged} with repeats enough to judge (the table per setting is in report.md).",
        recs.len()
    )];
    for name in names_of(defenses, "filter").chain(names_of(defenses, "provenance")) {
        let count = |pick: fn(&Recommendation) -> &Vec<Verdict>| {
            recs.iter()
                .filter(|r| r.repeats >= 2 && pick(r).iter().any(|v| v.name == *name))
                .count()
        };
        // Where it is recommended: the settings, the first few by name.
        let at: Vec<String> = recs
            .iter()
            .filter(|r| r.repeats >= 2 && r.recommended.iter().any(|v| v.name == *name))
            .map(|r| {
                if r.group.is_empty() {
                    r.attack.clone()
                } else {
                    format!("{} at {}", r.attack, r.group)
                }
            })
            .collect();
        let listed = match at.len() {
            0 => String::new(),
            n if n <= SHOWN => format!(" ({})", at.join("; ")),
            n => format!(" ({}; and {} more)", at[..SHOWN].join("; "), n - SHOWN),
        };
        out.push(format!(
            "{name}: within {TOLERANCE} of the perfect filter at {}{listed}, no better than random \
             at {}, between the two at {}, cannot tell at {}.",
            count(|r| &r.recommended),
            count(|r| &r.no_better),
            count(|r| &r.between),
            count(|r| &r.undecided)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::fixture;
    use crate::summary::summarize;
    use crate::view::defenses_of;

    fn recs() -> Vec<Recommendation> {
        let (_, records) = fixture::grid();
        recommendations(&summarize(&records), &records, &defenses_of(records.iter()))
    }

    #[test]
    fn one_per_matrix_row() {
        let r = recs();
        let settings: Vec<(&str, &str)> = r
            .iter()
            .map(|r| (r.attack.as_str(), r.group.as_str()))
            .collect();
        assert_eq!(
            settings,
            [
                ("badnets", "model.kind=\"mlp\""),
                ("blend", "model.kind=\"mlp\""),
                ("badnets", "model.kind=\"cnn\""),
                ("blend", "model.kind=\"cnn\""),
            ]
        );
    }

    #[test]
    fn perfect_like_filters_are_recommended_and_random_like_ones_are_not() {
        let r = recs();
        // badnets: knn's ASR is perfect's ASR in every repeat (gap 0 ± 0).
        let badnets = &r[0];
        assert_eq!(badnets.measure, "ASR");
        assert_eq!(badnets.repeats, 3);
        let names = |v: &[Verdict]| v.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&badnets.recommended), ["knn-label"]);
        assert_eq!(badnets.recommended[0].gap.mean, 0.0);
        // CA cost: clean 0.95 + 0.01 r... here 0.95 − (0.94 − 0.01 r) = 0.01 + 0.01 r.
        let cost = badnets.recommended[0].ca_cost.unwrap();
        assert!((cost.mean - 0.02).abs() < 1e-12, "{cost:?}");
        // The long-named filter's ASR equals random's in every repeat.
        assert_eq!(
            names(&badnets.no_better),
            ["a-defense-with-a-rather-long-name"]
        );
        // blend: knn stays at 0.28 above perfect: not recommended, far above random.
        let blend = &r[1];
        assert!(blend.recommended.is_empty());
        assert_eq!(names(&blend.between), ["knn-label"]);
        let text = blend.sentences().join(" ");
        assert!(
            text.contains("No defense is shown within 0.05 ASR"),
            "{text}"
        );
    }

    #[test]
    fn a_single_repeat_claims_nothing() {
        let (_, mut records) = fixture::grid();
        records.retain(|r| r.repeat == 0);
        let r = recommendations(&summarize(&records), &records, &defenses_of(records.iter()));
        for rec in &r {
            assert_eq!(rec.repeats, 1);
            assert!(rec.recommended.is_empty() && rec.no_better.is_empty());
            let text = rec.sentences().join(" ");
            assert!(text.contains("One repeat: nothing is claimed"), "{text}");
            assert!(!text.contains("Within"), "{text}");
        }
    }

    #[test]
    fn wide_intervals_leave_a_defense_undecided() {
        let (_, mut records) = fixture::grid();
        // knn's ASR scatters widely on badnets/mlp: 0.02, 0.5, 0.02.
        for r in &mut records {
            if r.point["attack.kind"] == "badnets" && r.repeat == 1 {
                let d = r
                    .defenses
                    .iter_mut()
                    .find(|d| d.name == "knn-label")
                    .unwrap();
                d.retrained.as_mut().unwrap().asr = Some(0.5);
            }
        }
        let r = recommendations(&summarize(&records), &records, &defenses_of(records.iter()));
        assert!(r[0].recommended.is_empty());
        assert!(r[0].undecided.iter().any(|v| v.name == "knn-label"));
    }
}
