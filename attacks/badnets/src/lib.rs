//! BadNets: backdoor poisoning with a visible pixel trigger.
//!
//! Gu, Dolan-Gavitt and Garg 2017, "BadNets: Identifying Vulnerabilities in the
//! Machine Learning Model Supply Chain" (arXiv:1708.06733). A small trigger (a
//! pixel, a checkerboard pattern, a solid square, or a user-supplied PNG mask)
//! is stamped into a share of the training images, which are relabelled as the
//! attacker's target class (all-to-one) or as the next class, `(y + 1) mod k`
//! (all-to-all). A model trained on them learns to obey the trigger while
//! staying accurate on clean inputs.
//!
//! Attack success is measured on triggered test inputs: every test input not
//! already of the target class (all-to-one) or every test input (all-to-all),
//! each with the class the attacker wants it to get.
//!
//! Use: deserialize [`BadNetsParams`] from the `[attack]` table and build
//! it with [`poisonlab_core::Kind::build`], which checks every parameter
//! against what is known of the data, reads an image trigger's PNG relative
//! to the scenario's folder and checks that it fits; once the data is
//! loaded, [`poisonlab_core::Kind::check_data`] checks again. Then
//! [`poisonlab_core::Attack::poison`]. [`BadNets::new`] builds without data
//! facts.

mod algorithm;
mod error;
mod params;
mod trigger;

pub use algorithm::BadNets;
pub use error::BadNetsError;
pub use params::{Apply, BadNetsParams, Corner, Mode, TriggerParams, TriggerShape};
