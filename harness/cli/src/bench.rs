//! `poisonlab bench`.

use std::time::Duration;

use anyhow::Context as _;
use indicatif::ProgressBar;
use poisonlab_runner::{BenchOptions, ModelKind, RunError};

use crate::out::out;
use crate::{BenchArgs, InputError, Status};

/// `poisonlab bench`: measure, print the Markdown table, write the JSON
/// (first, so that a closed stdout does not lose it).
pub fn cmd_bench(args: BenchArgs) -> anyhow::Result<Status> {
    let models = args
        .model
        .iter()
        .map(|m| match m.as_str() {
            "mlp" => Ok(ModelKind::Mlp),
            "cnn" => Ok(ModelKind::Cnn),
            other => Err(InputError::plain(format!(
                "--model: unknown model {other:?}; expected mlp or cnn"
            ))),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let opts = BenchOptions {
        samples: args.samples,
        defense_samples: args.defense_samples,
        batches: args.batch,
        models,
        reps: args.reps,
        no_defenses: args.no_defenses,
    };
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    let report = poisonlab_runner::bench(&opts, &|what| {
        spinner.set_message(format!("measuring {what}"))
    });
    spinner.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(RunError::Bench(message)) => return Err(InputError::plain(message)),
        Err(e) => return Err(e.into()),
    };
    if let Some(path) = args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    out!("{}", report.markdown())?;
    Ok(Status::Done)
}
