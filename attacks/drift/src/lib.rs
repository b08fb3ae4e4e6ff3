//! Gradual concept-drift injection: the training data arrives in rounds, and
//! each round the attacker slips in a little more poison that moves one
//! concept (class `source`) toward another (`target`), small enough per round
//! that no single round looks abnormal, while the model, trained continually
//! round by round, drifts.
//!
//! The slow-poisoning idea follows the "boiling frog" attacks on continually
//! retrained detectors (Kloft and Laskov 2010, "Online Anomaly Detection under
//! Adversarial Impact", AISTATS; Rubinstein et al. 2009, "ANTIDOTE: Understanding and
//! Defending against Poisoning of Anomaly Detectors"), applied here to a
//! classifier: round r poisons a share `rate(r)` of that round's source-class
//! samples, either relabelling them as the target (`method = "relabel"`) or
//! moving their features a fraction `rate(r)` of the way to the target class
//! mean and relabelling them (`method = "shift"`).
//!
//! The rounds are the run's: a scenario sets `[training] regime = "rounds"`
//! (with its round count and epochs per round there), and the runner hands
//! the rounds to [`Drift`]'s [`poisonlab_core::Attack::poison`] as a
//! [`poisonlab_core::RoundPlan`]. The schedule spreads over however many
//! rounds the plan has; round r's choices come from the run's stream
//! `attack:round{r}`. The runner still owns the training loop.

mod algorithm;
mod error;
mod params;

pub use algorithm::{Drift, class_mean};
pub use error::DriftError;
pub use params::{DriftParams, Method, Schedule};
