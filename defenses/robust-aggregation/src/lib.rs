//! Update aggregators: how a federated-learning server combines the updates
//! its clients send (each a flat parameter vector, the client's weights minus
//! the global weights, in the model's documented order) into the one update
//! it applies. Each is a kind of the aggregator family, named in a
//! scenario's `[[defense]]` table by the name in front:
//!
//! - `fedavg`, [`FedAvg`]: the sample-weighted mean (McMahan et al. 2017,
//!   "Communication-Efficient Learning of Deep Networks from Decentralized
//!   Data"). Not robust; the baseline.
//! - `median`, [`Median`], and `trimmed-mean`, [`TrimmedMean`]:
//!   coordinate-wise statistics (Yin et al. 2018, "Byzantine-Robust
//!   Distributed Learning: Towards Optimal Statistical Rates").
//! - `krum`, [`Krum`], and `multi-krum`, [`MultiKrum`]: the update(s) with
//!   the closest neighbours (Blanchard et al. 2017, "Machine Learning with
//!   Adversaries: Byzantine Tolerant Gradient Descent").
//! - `bulyan`, [`Bulyan`]: repeated Krum, then a coordinate-wise trimmed
//!   mean around the median (El Mhamdi et al. 2018, "The Hidden
//!   Vulnerability of Distributed Learning in Byzantium").
//! - `norm-clipping`, [`NormClipping`]: updates scaled to a norm bound,
//!   optional Gaussian noise (Sun et al. 2019, "Can You Really Backdoor
//!   Federated Learning?").
//! - `fltrust`, [`FlTrust`]: trust from the cosine with the server's own
//!   update on a clean root set (Cao et al. 2021, "FLTrust: Byzantine-robust
//!   Federated Learning via Trust Bootstrapping").
//! - `foolsgold`, [`FoolsGold`]: down-weights clients whose update histories
//!   are alike, i.e. sybils (Fung et al. 2020, "The Limitations of Federated
//!   Learning in Sybil Settings").
//! - `tolpegin-pca`, [`TolpeginPca`]: PCA of the attacked class's
//!   output-layer parameters and 2-means; the smaller cluster is left out
//!   (Tolpegin et al. 2020, "Data Poisoning Attacks Against Federated
//!   Learning Systems").
//!
//! Each implements [`poisonlab_core::UpdateAggregator`] and
//! [`poisonlab_core::Kind`]; building checks the parameters (Krum's,
//! Multi-Krum's and Bulyan's f against the federated regime's clients per
//! round). Aggregators that score clients fill in
//! [`poisonlab_core::Aggregated`]'s suspicion and flags, as each documents.
//! All but norm clipping with noise are deterministic (ties broken by update
//! order). Sums, means, norms and distances are accumulated in `f64` and
//! rounded to `f32` once. Every aggregator fails, with an
//! [`AggregationError`], on no updates, on updates of different lengths, on
//! a value that is not finite and on client-id or sample-count columns
//! without one entry per update; none panics on a round it is given.

mod common;
mod coordinate;
mod error;
mod fltrust;
mod foolsgold;
mod krum;
mod norm_clipping;
mod pairwise;
mod params;
mod tolpegin;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use coordinate::{FedAvg, Median, TrimmedMean};
pub use error::AggregationError;
pub use fltrust::FlTrust;
pub use foolsgold::FoolsGold;
pub use krum::{Bulyan, Krum, MultiKrum};
pub use norm_clipping::NormClipping;
pub use params::{
    BulyanParams, FedAvgParams, FlTrustParams, FoolsGoldParams, KrumParams, MedianParams,
    MultiKrumParams, NormClippingParams, TolpeginPcaParams, TrimmedMeanParams,
};
pub use tolpegin::{PcaSplit, TolpeginPca};
