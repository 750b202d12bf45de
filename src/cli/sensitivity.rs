//! `circuitcheck sensitivity FILE`: the circuit's faithfulness measured every way the grid
//! varies (ablation scheme, level, positions, reference-set size), and per family and
//! template of the task; `--html` also writes it as a page with the grid as heat maps.
//! Exit 0, or 2 on bad input.

use crate::cli::Outcome;
use crate::cli::check::{
    Args, Bar, HtmlOutput, Session, load_circuit, progress_bar, warn_about_small_groups,
    warn_if_the_model_fails_the_task,
};
use crate::dsl::Ablation;
use crate::eval::reference::ReferenceActivations;
use crate::eval::sensitivity::{Baseline, Grid, Settings, Sources, sensitivity};
use crate::report::html;
use crate::report::text::sensitivity as render;
use crate::task::{Dataset, ReferenceSize};

/// The grid's datasets and replacement values, made as the cells ask for them (one reference
/// set per size, one set of replacement values per size and scheme, from the cache when it
/// has them).
impl Sources for Session {
    fn dataset(&self, size: ReferenceSize) -> miette::Result<Dataset> {
        let dataset = self.with_reference(size)?;
        // The grid's small sizes are small on purpose; the baseline's are worth a warning.
        if size == self.reference_size {
            warn_about_small_groups(&dataset);
        }
        Ok(dataset)
    }

    fn activations(
        &self,
        dataset: &Dataset,
        ablation: Ablation,
    ) -> miette::Result<ReferenceActivations> {
        Session::activations(self, dataset, ablation)
    }
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let Some(circuit) = load_circuit(&args.file) else {
        return Ok(Outcome::Error);
    };
    let html_output = args.html.as_deref().map(HtmlOutput::open).transpose()?;
    let session = Session::open(&circuit, &args.file, &args.eval, true)?;
    session.fits(&circuit)?;
    let settings = Settings {
        baseline: Baseline {
            ablation: session.options.ablation,
            level: session.options.level,
            reference: session.reference_size,
        },
        seed: session.options.seed,
        bootstrap_resamples: session.options.bootstrap_resamples,
        confidence: session.options.confidence,
    };
    let bar = progress_bar(args.quiet);
    let mut progress = Bar(bar.clone());
    let report = sensitivity(
        &session.loaded.model,
        &circuit,
        &Grid::default(),
        &settings,
        &session,
        &mut progress,
    )?;
    bar.finish_and_clear();
    warn_if_the_model_fails_the_task(&report.model_score, report.confidence);
    args.format.print(
        &report,
        render::render_terminal,
        render::render_json,
        render::render_markdown,
    );
    // Written after printing: a page that cannot be written loses nothing of the run.
    if let Some(output) = html_output {
        output.write(&html::sensitivity_page(
            &report,
            &circuit,
            &session.model_files,
        ))?;
    }
    Ok(Outcome::Success)
}
