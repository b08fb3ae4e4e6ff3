//! Update aggregators: how a federated-learning server combines the updates
//! its clients send (each a flat parameter vector, the client's weights minus
//! the global weights, in the model's documented order) into the one update
//! it applies.
//!
//! - [`Mean`], the coordinate-wise mean of FedAvg (McMahan et al. 2017,
//!   "Communication-Efficient Learning of Deep Networks from Decentralized
//!   Data"): not robust, one client can move it anywhere.
//! - [`Median`] and [`TrimmedMean`], coordinate-wise (Yin et al. 2018,
//!   "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
//!   Rates").
//! - [`Krum`], with Multi-Krum when it selects more than one update
//!   (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine
//!   Tolerant Gradient Descent").
//!
//! Each implements [`poisonlab_core::UpdateAggregator`] and
//! [`poisonlab_core::Kind`]. All are deterministic: none uses the `rng` it is
//! given, and ties are broken by update order. Sums, means and distances are
//! accumulated in `f64` and rounded to `f32` once. Every aggregator fails,
//! with an [`AggregationError`], on no updates, on updates of different
//! lengths and on a value that is not finite.

mod algorithm;
mod error;
mod params;

pub use algorithm::{Krum, Mean, Median, TrimmedMean};
pub use error::AggregationError;
pub use params::{KrumParams, MeanParams, MedianParams, TrimmedMeanParams};
