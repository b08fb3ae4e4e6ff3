use poisonlab_core::{
    BuildContext, Dataset, Kind, Matrix, ParamError, RoundCheck, RoundMonitor, RoundView,
};

use crate::stats::{
    ClassMoments, homogeneity_chi_square, means_score, permuted_means_score, wilson_hilferty,
};
use crate::{CusumParams, MonitorError, Statistics};

/// CUSUM drift detection: each round's batch against a fixed early batch,
/// accumulated over rounds (Page 1954, "Continuous Inspection Schemes",
/// Biometrika), with a guard against the reference's sampling error (Jones,
/// Champ and Rigdon 2004, "The Run Length Distribution of the CUSUM with
/// Estimated Parameters", Journal of Quality Technology).
///
/// Each score compares the arriving batch with a **reference batch** fixed
/// for the run, never with the previous round; the first observed round
/// never alarms.
/// Up to two standard-normal drift scores are computed per round (which
/// ones: `statistics`):
/// - **shares**: Pearson's chi-square test of homogeneity of the batch's
///   class counts and the reference batch's (a two-sample test, so that the
///   reference's own sampling error is allowed for), turned into a score by
///   Wilson and Hilferty's cube root of `χ²_dof`, `dof` = classes in either
///   − 1. The reference batch is the first non-empty one (normally round
///   1's). No score when fewer than two classes occur.
/// - **means**: batches are embedded with [`RoundView::reference`], the
///   round-1 model, so the space does not move with the model being
///   audited. Per class, the squared distance between the batch's class mean
///   and the reference batch's, over its expectation when nothing changed,
///   `tr Σ_c · (1/n_r + 1/n₁)` (`Σ_c` the reference class covariance, `n_r`
///   and `n₁` the class's sample counts); these ratios, each of mean 1, are
///   summed over the classes in both batches and the sum matched to a scaled
///   chi-square by its mean and variance (Satterthwaite), then scored like
///   the shares. The approximation assumes near-Gaussian class means (many
///   samples per class). Classes with fewer than 2 reference samples, or
///   whose reference samples are all equal, are skipped; no score when no
///   class is left. The reference batch is the first non-empty one from
///   **round 2** on: the round-1 model has trained on round 1's batch and
///   embeds it differently from samples it has not seen, so a round-1
///   reference scores every later clean batch as drifted (on synthetic digits with the default
///   MLP, clean scores averaged +1.2 instead of 0, and the CUSUM alarmed on
///   clean runs).
///
/// With `permutations` > 0 (the default) the class-means score is
/// calibrated on the data instead: each class's rows of the batch and of
/// the reference batch are pooled and split at random into groups of the
/// two sizes `permutations` times (the permutation null of the statistic,
/// exact whenever the rounds are exchangeable, whatever the embeddings'
/// distribution), a scaled chi-square is matched to the mean and variance
/// of the statistic over those splits, and the score is the Wilson–Hilferty
/// normal score of the observed statistic under it. The analytic score's
/// assumptions (near-Gaussian class means, reference moments taken as
/// exact) fail with few samples per class: on synthetic digits with 20 per
/// class a round, its clean CUSUM (guard 0) alarmed in 8 of 20 clean runs,
/// the calibrated one in 1 (docs/reproductions.md). The permutations draw
/// from the run's stream `cusum:round{r}`
/// ([`RoundView::streams`](poisonlab_core::RoundView::streams)).
///
/// Each score `z_r` feeds its own one-sided upper CUSUM,
/// `S_r = max(0, S_{r−1} + z_r − k − guard · √ρ_r)`, with `S = 0` until its
/// reference is set and `ρ_r = (n_r / (n_r + n₁))²` from the batch sizes
/// (see [`CusumParams::guard`]); a round without a score leaves its sum
/// unchanged. The round **alarms** while either sum exceeds `h`; sums are
/// not reset after an alarm, so a lasting drift alarms every round.
///
/// [`RoundCheck::statistic`] is the larger of the two sums (0 for a score
/// not computed), [`RoundCheck::threshold`] is `h`. A round that measures
/// nothing (an empty batch, the reference rounds, no class to compare)
/// leaves the sums as they are and does not alarm.
///
/// Cost per round: one embedding of the batch from round 2 on (none with
/// `statistics = "shares"`), plus for the means reference one
/// `min(n_c, d)² · max(n_c, d)` Gram product per class, plus
/// `permutations × n_r × d` additions for the calibration.
#[derive(Debug, Clone)]
pub struct Cusum {
    params: CusumParams,
    /// Class count of the first non-empty batch.
    n_classes: Option<usize>,
    shares_reference: Option<SharesReference>,
    means_reference: Option<MeansReference>,
    last_round: usize,
    /// CUSUMs of the shares and the means scores.
    sums: (f64, f64),
    /// The last round's shares and means scores.
    scores: (Option<f64>, Option<f64>),
}

/// What the shares score compares with.
#[derive(Debug, Clone)]
struct SharesReference {
    /// Samples in the reference batch.
    n: usize,
    /// Its class counts.
    counts: Vec<usize>,
}

/// What the means score compares with.
#[derive(Debug, Clone)]
struct MeansReference {
    /// Samples in the reference batch.
    n: usize,
    /// Per class, its moments in the reference embedding.
    classes: Vec<Option<ClassMoments>>,
    /// Per class, its embedded rows (row-major), for the permutations.
    rows: Vec<Vec<f64>>,
    /// The embedding width.
    width: usize,
}

impl Cusum {
    /// A detector for `params`, with no round seen yet, or every problem
    /// [`CusumParams::check`] finds with them.
    pub fn new(params: CusumParams) -> Result<Self, Vec<ParamError>> {
        params.check()?;
        Ok(Self {
            params,
            n_classes: None,
            shares_reference: None,
            means_reference: None,
            last_round: 0,
            sums: (0.0, 0.0),
            scores: (None, None),
        })
    }

    /// The parameters this detector runs with.
    pub fn params(&self) -> &CusumParams {
        &self.params
    }

    /// The current cumulative sums `(shares, means)`; 0 for a score that is
    /// not computed.
    pub fn sums(&self) -> (f64, f64) {
        self.sums
    }

    /// The last observed round's standard-normal scores `(shares, means)`;
    /// `None` where a score was not computed that round (its reference
    /// round, an empty batch, a score that is off or had nothing to compare).
    pub fn scores(&self) -> (Option<f64>, Option<f64>) {
        self.scores
    }

    /// The slack of a round of `n` samples against a reference of `n1`.
    fn slack(&self, n: usize, n1: usize) -> f64 {
        let (n, n1) = (n as f64, n1 as f64);
        self.params.k + self.params.guard * n / (n + n1)
    }
}

impl Kind for Cusum {
    type Params = CusumParams;

    fn build(params: CusumParams, _ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>> {
        Self::new(params)
    }

    fn params(&self) -> &CusumParams {
        &self.params
    }

    fn describe(&self) -> String {
        let p = &self.params;
        let which = match p.statistics {
            Statistics::Shares => "class shares",
            Statistics::Means => "class means",
            Statistics::Both => "class shares and class means",
        };
        let calibration = match p.permutations {
            b if b > 0 && p.statistics.means() => format!(", means calibrated on {b} permutations"),
            _ => String::new(),
        };
        format!(
            "cusum of the batches' {which} against an early batch, k {}, h {}, guard {}{calibration}",
            p.k, p.h, p.guard
        )
    }
}

impl RoundMonitor for Cusum {
    type Error = MonitorError;

    fn observe(&mut self, view: RoundView<'_>) -> Result<RoundCheck, MonitorError> {
        if view.round <= self.last_round {
            return Err(MonitorError::RoundOrder {
                previous: self.last_round,
                got: view.round,
            });
        }
        let batch = view.batch;
        let which = self.params.statistics;
        let mut sums = self.sums;
        let mut scores = (None, None);
        let mut shares_reference = None;
        let mut means_reference = None;

        if !batch.is_empty() {
            if let Some(k) = self.n_classes
                && batch.n_classes() != k
            {
                return Err(MonitorError::ClassCount {
                    expected: k,
                    got: batch.n_classes(),
                });
            }
            if which.shares() {
                let counts = batch.class_counts();
                match &self.shares_reference {
                    None => {
                        shares_reference = Some(SharesReference {
                            n: batch.len(),
                            counts,
                        });
                    }
                    Some(r) => {
                        scores.0 = homogeneity_chi_square(&r.counts, &counts)
                            .map(|(x, dof)| wilson_hilferty(x, dof as f64));
                        if let Some(z) = scores.0 {
                            sums.0 = (sums.0 + z - self.slack(batch.len(), r.n)).max(0.0);
                        }
                    }
                }
            }
            if which.means() && view.round > 1 {
                let e = embed(&view)?;
                match &self.means_reference {
                    None => {
                        let rows = class_rows(batch, &e);
                        means_reference = Some(MeansReference {
                            n: batch.len(),
                            classes: rows.iter().map(|r| ClassMoments::fit(r, e.cols)).collect(),
                            rows,
                            width: e.cols,
                        });
                    }
                    Some(r) => {
                        if e.cols != r.width {
                            return Err(MonitorError::EmbeddingWidth {
                                expected: r.width,
                                got: e.cols,
                            });
                        }
                        scores.1 = match self.params.permutations {
                            0 => means_score(&r.classes, &class_sums(batch, &e)),
                            b => {
                                let rows = class_rows(batch, &e);
                                let classes: Vec<(&[f64], &[f64], f64)> = rows
                                    .iter()
                                    .zip(&r.rows)
                                    .zip(&r.classes)
                                    .filter_map(|((now, before), m)| {
                                        let m = m.as_ref()?;
                                        (!now.is_empty()).then_some((
                                            now.as_slice(),
                                            before.as_slice(),
                                            m.trace,
                                        ))
                                    })
                                    .collect();
                                let rng =
                                    &mut view.streams.named(&format!("cusum:round{}", view.round));
                                permuted_means_score(&classes, e.cols, b, rng)
                            }
                        };
                        if let Some(z) = scores.1 {
                            sums.1 = (sums.1 + z - self.slack(batch.len(), r.n)).max(0.0);
                        }
                    }
                }
            }
            self.n_classes = Some(batch.n_classes());
        }

        // Nothing failed: commit.
        if shares_reference.is_some() {
            self.shares_reference = shares_reference;
        }
        if means_reference.is_some() {
            self.means_reference = means_reference;
        }
        let measured = scores.0.is_some() || scores.1.is_some();
        self.sums = sums;
        self.scores = scores;
        self.last_round = view.round;
        let h = self.params.h;
        Ok(RoundCheck {
            round: view.round,
            statistic: sums.0.max(sums.1),
            threshold: h,
            alarm: measured && (sums.0 > h || sums.1 > h),
        })
    }
}

/// The batch embedded by the reference model, checked for shape and finite
/// values.
fn embed(view: &RoundView<'_>) -> Result<Matrix, MonitorError> {
    let n = view.batch.len();
    let e = view.reference.embed(view.batch);
    if e.rows != n || e.data.len() != n * e.cols {
        return Err(MonitorError::EmbeddingShape {
            rows: e.rows,
            cols: e.cols,
            values: e.data.len(),
            expected: n,
        });
    }
    if let Some(at) = e.data.iter().position(|x| !x.is_finite()) {
        return Err(MonitorError::NonFinite {
            round: view.round,
            index: at / e.cols.max(1),
        });
    }
    Ok(e)
}

/// Per class of `batch`, its rows of `e` (row-major).
fn class_rows(batch: &Dataset, e: &Matrix) -> Vec<Vec<f64>> {
    let mut rows = vec![Vec::new(); batch.n_classes()];
    for (i, &y) in batch.labels().iter().enumerate() {
        rows[y].extend(e.row(i).iter().map(|&x| f64::from(x)));
    }
    rows
}

/// Per class of `batch`, its sample count and the sum of its rows of `e`.
fn class_sums(batch: &Dataset, e: &Matrix) -> Vec<(usize, Vec<f64>)> {
    let mut sums = vec![(0, vec![0.0; e.cols]); batch.n_classes()];
    for (i, &y) in batch.labels().iter().enumerate() {
        let (n, sum) = &mut sums[y];
        *n += 1;
        sum.iter_mut()
            .zip(e.row(i))
            .for_each(|(s, &x)| *s += f64::from(x));
    }
    sums
}

#[cfg(test)]
mod tests;
