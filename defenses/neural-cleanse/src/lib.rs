//! Neural Cleanse (Wang, Yao, Shan, Li, Viswanath, Zheng and Zhao 2019,
//! "Neural Cleanse: Identifying and Mitigating Backdoor Attacks in Neural
//! Networks", IEEE S&P): for every class, the smallest trigger (a mask and
//! a pattern) that sends clean inputs to that class is reverse-engineered;
//! a backdoor's target needs a much smaller one than the other classes, so
//! a class whose mask norm is an outlier below the median (MAD anomaly
//! index above 2) flags the model and names the target. Mitigation
//! unlearns the reversed trigger: the model is fine-tuned on trusted
//! samples, some stamped with it under their true labels.
//! A member of the model-repair family ([`poisonlab_core::ModelRepair`]).

mod algorithm;
mod error;
mod params;

pub use algorithm::{NeuralCleanse, Reversed, anomaly_index};
pub use error::NeuralCleanseError;
pub use params::NeuralCleanseParams;
