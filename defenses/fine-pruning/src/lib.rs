//! Fine-pruning (Liu, Dolan-Gavitt and Garg 2018, "Fine-Pruning: Defending
//! Against Backdooring Attacks on Deep Neural Networks", RAID): a backdoor
//! often lives in neurons that clean inputs leave dormant, so the neurons
//! of the last hidden layer are pruned in increasing order of their mean
//! activation on trusted clean data, as long as the accuracy on that data
//! stays within a tolerance, and the pruned model is then fine-tuned on it.
//! A member of the model-repair family ([`poisonlab_core::ModelRepair`]).

mod algorithm;
mod error;
mod params;

pub use algorithm::FinePruning;
pub use error::FinePruningError;
pub use params::FinePruningParams;
