//! Kinds: the named members of a family (an attack, a defense, …) as a
//! scenario names them, built from their checked parameters.

use std::fmt::Debug;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ParamError;

/// What is known of the data a kind will work on: before loading, from the
/// `[data]` table alone (generated sources); after loading, from the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataFacts {
    /// Class count.
    pub n_classes: Option<usize>,
    /// Shape of one sample.
    pub shape: Option<Vec<usize>>,
}

/// What building a kind may need besides its parameters.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// The scenario file's folder: relative paths in parameters resolve against it.
    pub base_dir: &'a Path,
    /// What is known of the data.
    pub facts: &'a DataFacts,
    /// The training regime's round count, when the run trains in rounds.
    pub rounds: Option<usize>,
    /// The federated regime's clients aggregated per round (robust
    /// aggregators check their bounds on it, e.g. Krum's n > 2f + 2).
    pub per_round: Option<usize>,
}

impl<'a> BuildContext<'a> {
    /// A context resolving paths against `base_dir`, with `facts` about the data.
    pub fn new(base_dir: &'a Path, facts: &'a DataFacts) -> Self {
        Self {
            base_dir,
            facts,
            rounds: None,
            per_round: None,
        }
    }
}

impl BuildContext<'_> {
    /// The same context for a run that trains in `rounds` rounds.
    pub fn with_rounds(self, rounds: Option<usize>) -> Self {
        Self { rounds, ..self }
    }

    /// The same context for a federated run aggregating `per_round` clients a round.
    pub fn with_per_round(self, per_round: Option<usize>) -> Self {
        Self { per_round, ..self }
    }
}

/// One kind of a family, as a scenario table names it: its parameters (the
/// serde struct users write in TOML, every field with its default) and the
/// algorithm built from them. Building checks every parameter and returns all
/// problems at once, so a built kind never fails later on a bad value.
pub trait Kind: Sized + Clone + Debug + Send + Sync + 'static {
    /// The parameters a scenario table holds.
    type Params: Serialize + DeserializeOwned + Debug + Clone + PartialEq;

    /// Build from `params`, checking every value (and anything they name,
    /// such as a trigger image file) against what `ctx` knows of the data.
    fn build(params: Self::Params, ctx: &BuildContext<'_>) -> Result<Self, Vec<ParamError>>;

    /// The parameters it was built from.
    fn params(&self) -> &Self::Params;

    /// Check again once the data is loaded (file sources are only known then).
    /// Default: nothing to check.
    fn check_data(&self, facts: &DataFacts) -> Result<(), Vec<ParamError>> {
        let _ = facts;
        Ok(())
    }

    /// One line for reports: what this instance does, with its key values.
    fn describe(&self) -> String;
}
