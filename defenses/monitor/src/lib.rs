//! Round monitors: audit the model after every round of a round-based run
//! (data arrives in rounds, the model is warm-started on each) and raise an
//! alarm when it, or the data it learns from, moves away from round 1.
//!
//! Both monitors compare each round with a reference **fixed** early in the
//! run (round 1; round 2 for the class means, see [`Cusum`]), never with the
//! previous round: gradual-drift ("boiling frog") poisoning (Kloft and
//! Laskov 2010, "Online Anomaly Detection under Adversarial Impact",
//! AISTATS) moves the model a little per round precisely so that
//! consecutive rounds look alike.
//!
//! - [`Canary`], regular auditing of the model on a fixed trusted audit set
//!   (holdout or "canary" monitoring; the provenance-based defense of
//!   Baracaldo et al. 2017, "Mitigating Poisoning Attacks on Machine
//!   Learning Models: A Data Provenance Based Approach", AISec, likewise
//!   judges harm by performance on trusted data). Alarms when one class's
//!   audit accuracy falls more than `threshold` below its round-1 value and
//!   the fall is significant for that class's audit sample count.
//! - [`Cusum`], Page's (1954, "Continuous Inspection Schemes", Biometrika)
//!   one-sided CUSUM over two per-round drift scores of the arriving batch
//!   against an early batch: its class shares (a chi-square test of
//!   homogeneity) and its class means in the fixed embedding space of the
//!   round-1 model, the latter calibrated by default on permutations of
//!   each round's batch against the reference batch. A guard term keeps the
//!   shared sampling error of the
//!   reference from accumulating into false alarms (Jones, Champ and Rigdon
//!   2004, "The Run Length Distribution of the CUSUM with Estimated
//!   Parameters", Journal of Quality Technology).
//!
//! Both implement [`poisonlab_core::RoundMonitor`] (re-exported here with
//! [`RoundView`] and [`RoundCheck`]) and [`poisonlab_core::Kind`]. Each call
//! to [`RoundMonitor::observe`] returns a [`RoundCheck`];
//! [`summarize`] turns a run's checks into the numbers the runner reports
//! (first alarm round, alarmed rounds).
//!
//! Monitors are deterministic and keep their state between calls; a call
//! that fails leaves the state as it was.

mod canary;
mod cusum;
mod error;
mod params;
mod stats;

pub use canary::Canary;
pub use cusum::Cusum;
pub use error::MonitorError;
pub use params::{CanaryParams, CusumParams, Statistics};

pub use poisonlab_core::{RoundCheck, RoundMonitor, RoundView};

/// Summary used by the runner: the round of the first alarm (1-based, as in
/// [`RoundCheck::round`]; `None` when no round alarmed) and the number of
/// alarmed rounds.
pub fn summarize(checks: &[RoundCheck]) -> (Option<usize>, usize) {
    RoundCheck::summarize(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(round: usize, alarm: bool) -> RoundCheck {
        RoundCheck {
            round,
            statistic: 0.0,
            threshold: 1.0,
            alarm,
        }
    }

    #[test]
    fn summarize_reports_the_first_alarm_round_and_the_alarm_count() {
        let checks = [
            check(1, false),
            check(2, false),
            check(3, true),
            check(4, false),
            check(5, true),
        ];
        assert_eq!(summarize(&checks), (Some(3), 2));
    }

    #[test]
    fn summarize_uses_round_numbers_not_positions() {
        assert_eq!(summarize(&[check(4, false), check(7, true)]), (Some(7), 1));
    }

    #[test]
    fn summarize_without_alarms() {
        assert_eq!(summarize(&[]), (None, 0));
        assert_eq!(summarize(&[check(1, false), check(2, false)]), (None, 0));
    }
}
