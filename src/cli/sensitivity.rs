//! `circuitcheck sensitivity FILE`: the circuit's faithfulness measured every way the grid
//! varies (ablation scheme, level, positions, reference-set size), and per family and
//! template of the task; `--html` also writes it as a page with the grid as heat maps.
//! Exit 0, or 2 on bad input.

use crate::cli::Outcome;
use crate::cli::check::{Args, Bar, load_circuit, progress_bar, warn};
use crate::cli::output::{HtmlOutput, Renderers};
use crate::dsl::Level;
use crate::eval::sensitivity::{Baseline, Grid, Settings, sensitivity};
use crate::report::html;
use crate::report::text::sensitivity as render;
use crate::report::text::warnings;

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let Some(circuit) = load_circuit(&args.file) else {
        return Ok(Outcome::Error);
    };
    let html_output = args.html.as_deref().map(HtmlOutput::open).transpose()?;
    let session = args.eval.session(&circuit, &args.file, true)?;
    session.fits(&circuit)?;
    // The grid's small sizes are small on purpose; the baseline's are worth a warning.
    let mut warnings: Vec<String> = warn(warnings::small_groups(
        &session.with_reference(session.reference_size)?,
    ))
    .into_iter()
    .collect();
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
    let mut grid = Grid::for_reference(session.task.reference_limit(&session.dataset));
    if !session.loaded.model.config().has_edge_level() {
        grid.levels.retain(|level| *level != Level::Edge);
    }
    let report = sensitivity(&session, &circuit, &grid, &settings, &mut progress)?;
    bar.finish_and_clear();
    warnings.extend(warn(warnings::model_fails_task(
        &report.model_score,
        report.confidence,
    )));
    let page = || html::sensitivity_page(&report, &circuit, &session.model_files, &warnings);
    let renderers = Renderers {
        terminal: render::render_terminal,
        json: render::render_json,
        markdown: render::render_markdown,
    };
    args.format.publish(&report, renderers, html_output, page)?;
    Ok(Outcome::Success)
}
